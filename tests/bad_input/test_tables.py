"""Bad tables (CSV) for `ganforge tabular fit | sample | report`: one line naming the file and
what is wrong, nothing written; and the tables that are not mistakes (a `;` CSV, an empty column,
a repeated --where) are read right and said so."""

from __future__ import annotations

import gzip
import io
import pickle
import zipfile

import numpy as np
import pandas as pd
import pytest

from ganforge.errors import GanforgeError
from tests.bad_input.conftest import assert_user_error

TINY = ["--epochs", "1", "--batch-size", "40", "--pack", "4", "--embedding-dim", "8",
        "--width", "16", "--seed", "0", "--quiet"]  # fmt: skip

GOOD = "a,b,c\n" + "".join(f"{i % 7},{'xy'[i % 2]},{i * 0.5}\n" for i in range(60))


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("sheet.xml", "<x/>")
    return buffer.getvalue()


# (id, file content, extra flags, what the one error line must say besides the file's name)
FIT_CASES = [
    ("inf", "a,b\n1,x\n2,y\ninf,z\n", [], [r"column 'a'", r"infinite value \(inf\) on line 4"]),
    ("minus-inf", "a,b\n1,x\n-inf,y\n", [], [r"infinite value \(-inf\) on line 3"]),
    ("overflow", "a,b\n1,x\n1e999,y\n", [], [r"column 'a'", "infinite"]),
    ("mid-quote", 'a,b\n1,x\n2,"y\n3,z\n', [], [r"ends inside a quoted field", "line 3"]),
    ("bad-quote", 'a,b\n1,"x"y\n', [], [r"malformed CSV on line 2"]),
    ("ragged", "a,b\n1,2\n3,4,5\n", [], [r"line 3 has 3 fields, the header has 2"]),
    ("empty", "", [], [r"the file is empty"]),
    ("blank", "  \n\n", [], [r"the file is empty"]),
    ("header-only", "a,b,c\n", [], [r"header but no data rows"]),
    ("latin1", b"a,b\n1,caf\xe9\n", [], [r"not UTF-8 text \(byte 0xe9 on line 2\)"]),
    (
        "binary",
        bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
        [],
        [r"not a CSV text file"],
    ),  # fmt: skip
    ("gzip", gzip.compress(GOOD.encode()), [], [r"gzip-compressed", r"gunzip"]),
    ("png", b"\x89PNG\r\n\x1a\n" + bytes(64), [], [r"PNG image"]),
    ("zip", _zip_bytes(), [], [r"zip archive"]),
    ("pickle", pickle.dumps({"a": [1, 2]}), [], [r"pickle"]),
    ("sqlite", b"SQLite format 3\x00" + bytes(64), [], [r"SQLite"]),
    ("duplicate-names", "a,a\n1,2\n", [], [r"duplicate column name"]),
    ("unnamed-column", "a,,c\n1,2,3\n", [], [r"column 2 of the header has no name"]),
    ("discrete-unknown", GOOD, ["--discrete", "a,nope"], [r"'nope' not in the table"]),
    ("ids-unknown", GOOD, ["--id-columns", "nope"], [r"id column\(s\) 'nope' not in the table"]),
    ("ids-and-discrete", GOOD, ["--discrete", "a", "--id-columns", "a"], [r"discrete and as ids"]),
]


@pytest.mark.parametrize(("content", "extra", "says"), [c[1:] for c in FIT_CASES],
                         ids=[c[0] for c in FIT_CASES])  # fmt: skip
def test_fit_refuses_a_bad_table_in_one_line(cli, tmp_path, content, extra, says):
    data = tmp_path / "data.csv"
    data.write_bytes(content if isinstance(content, bytes) else content.encode())
    ran = cli("tabular", "fit", data, "-o", tmp_path / "m.gft", *TINY, *extra)
    file_named = [] if extra else [r"data\.csv"]  # (flag errors name the flag's value instead)
    assert_user_error(ran, *says, *file_named)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv"]  # nothing written


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_fit_refuses_a_missing_file_or_a_directory(cli, tmp_path, kind):
    data = tmp_path / "nope.csv"
    if kind == "directory":
        data.mkdir()
    ran = cli("tabular", "fit", data, "-o", tmp_path / "m.gft", *TINY)
    assert_user_error(ran, r"nope\.csv", "no such file" if kind == "missing" else "directory")
    assert not (tmp_path / "m.gft").exists()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny model of GOOD (b: discrete x/y; a: 7 integer levels, discrete too)."""
    from ganforge.cli import main

    folder = tmp_path_factory.mktemp("tables")
    (folder / "good.csv").write_text(GOOD)
    assert (
        main(["tabular", "fit", str(folder / "good.csv"), "-o", str(folder / "m.gft"), *TINY]) == 0
    )
    return folder / "m.gft"


SAMPLE_CASES = [
    (
        "where-conflict",
        ["--where", "b=x", "--where", "b=y"],
        [r"--where b=x and --where b=y conflict", r"one value for 'b'"],
    ),  # fmt: skip
    ("where-conflict-numbers", ["--where", "a=1", "--where", "a=2"], [r"a=1 and --where a=2"]),
    ("where-no-equals", ["--where", "b"], [r"--where 'b' is not COLUMN=VALUE"]),
    ("rows-zero", ["-n", "0"], [r"-n 0"]),
    ("rows-negative", ["-n", "-5"], [r"-n -5"]),
    ("where-unknown-value", ["--where", "b=w"], [r"no such value in column 'b'"]),
]


@pytest.mark.parametrize("extra, says", [c[1:] for c in SAMPLE_CASES],
                         ids=[c[0] for c in SAMPLE_CASES])  # fmt: skip
def test_sample_refuses_bad_flags_in_one_line(cli, model, tmp_path, extra, says):
    out = tmp_path / "s.csv"
    ran = cli("tabular", "sample", model, "-o", out, *extra)
    assert_user_error(ran, *says)
    assert not out.exists()


def test_the_same_condition_twice_is_fine(cli, model, tmp_path):
    out = tmp_path / "s.csv"
    ran = cli("tabular", "sample", model, "-o", out, "-n", 30, "--where", "b=x", "--where", "b=x")
    assert ran.code == 0 and "wrote 30 rows where b=x" in ran.out
    assert (pd.read_csv(out)["b"] == "x").all()


REPORT_CASES = [
    ("target-unknown", ["--target", "nope"], [r"target column 'nope' not in the table"]),
    ("target-is-an-id", ["--target", "row"], [r"target column 'row' is an id"]),
    ("synthetic-inf", ["--synthetic-inf"], [r"synth\.csv", r"column 'c'", "infinite"]),
    ("synthetic-binary", ["--synthetic-binary"], [r"synth\.csv", "not a CSV text file"]),
    ("holdout-missing", ["--holdout", "nope.csv"], [r"nope\.csv", "no such file"]),
]


@pytest.mark.parametrize("extra, says", [c[1:] for c in REPORT_CASES],
                         ids=[c[0] for c in REPORT_CASES])  # fmt: skip
def test_report_refuses_bad_tables_in_one_line(cli, tmp_path, extra, says):
    rows = [f"{i},{i % 7},{'xy'[i % 2]},{i * 0.5}" for i in range(40)]
    real = tmp_path / "real.csv"
    real.write_text("row,a,b,c\n" + "\n".join(rows) + "\n")
    synth = tmp_path / "synth.csv"
    synth.write_text(real.read_text())
    if "--synthetic-inf" in extra:
        synth.write_text(real.read_text().replace(",0.5\n", ",inf\n"))
    if "--synthetic-binary" in extra:
        synth.write_bytes(b"\x00\x01\x02" * 100)
    flags = [f for f in extra if not f.startswith("--synthetic")]
    flags = [str(tmp_path / f) if f.endswith(".csv") else f for f in flags]
    ran = cli("tabular", "report", real, synth, "-o", tmp_path / "r.html", *flags)
    assert_user_error(ran, *says)
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "r.json").exists()


# ---- tables that are not mistakes: read right, and said so --------------------------------------


@pytest.mark.parametrize(
    ("separator", "said"), [(";", "semicolon-separated"), ("\t", "tab-separated")]
)
def test_a_semicolon_or_tab_csv_is_read_as_columns(cli, tmp_path, separator, said):
    data = tmp_path / "data.csv"
    data.write_text(GOOD.replace(",", separator))
    ran = cli("tabular", "fit", data, "-o", tmp_path / "m.gft", *TINY)
    assert ran.code == 0, ran.err
    assert f"60 rows x 3 columns from {data} ({said}, detected)" in ran.out


def test_an_all_empty_column_is_kept_empty_with_a_warning(cli, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,b,c,e\n" + "".join(line + ",\n" for line in GOOD.splitlines()[1:]))
    ran = cli("tabular", "fit", data, "-o", tmp_path / "m.gft", *TINY)
    assert ran.code == 0, ran.err
    assert "e: constant (empty)" in ran.out
    assert "warning: column 'e' is empty in every row" in ran.out
    ran = cli("tabular", "sample", tmp_path / "m.gft", "-n", 20, "-o", tmp_path / "s.csv")
    synthetic = pd.read_csv(tmp_path / "s.csv")
    assert list(synthetic.columns) == ["a", "b", "c", "e"] and synthetic["e"].isna().all()


# ---- numeric tables (`anomaly fit --data csv:FILE`: ganforge.data.tables) -----------------------

ANOMALY_CASES = [
    ("binary", b"\x00\x01\x02\x03" * 64, [r"not a CSV text file"]),
    ("gzip", gzip.compress(b"a,b\n1,2\n"), [r"gzip-compressed"]),
    ("mid-quote", b'a,b\n1,2\n3,"4\n', [r"ends inside a quoted field"]),
    ("inf", b"a,b\n1,2\ninf,4\n", [r"empty, NaN or infinite values: a"]),
    ("header-only", b"a,b\n", [r"header but no data rows"]),
]


@pytest.mark.parametrize("content, says", [c[1:] for c in ANOMALY_CASES],
                         ids=[c[0] for c in ANOMALY_CASES])  # fmt: skip
def test_anomaly_refuses_a_bad_numeric_csv_in_one_line(cli, tmp_path, content, says):
    data = tmp_path / "normal.csv"
    data.write_bytes(content)
    ran = cli("anomaly", "fit", "--data", f"csv:{data}", "--run-dir", tmp_path / "run", "--quiet")
    assert_user_error(ran, *says, r"normal\.csv")
    assert not (tmp_path / "run").exists()


def test_anomaly_reads_a_semicolon_numeric_csv_as_columns(tmp_path):
    from ganforge.data.tables import read_numeric_csv

    data = tmp_path / "normal.csv"
    data.write_text("a;b\n1;2.5\n3;4\n")
    table = read_numeric_csv(data)
    assert table.columns == ["a", "b"] and table.values.tolist() == [[1, 2.5], [3, 4]]
    with pytest.raises(GanforgeError, match="directory"):
        read_numeric_csv(tmp_path)
