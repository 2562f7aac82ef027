"""`ganforge tabular fit | sample | report`: the round trip, and each bad input as one line."""

import json
import re

import pandas as pd
import pytest
import torch

from ganforge.cli import main
from ganforge.tabular.model import FORMAT_VERSION
from tests.cli_helpers import assert_one_line_error, run_cli

TINY = ["--epochs", "2", "--batch-size", "40", "--pack", "4", "--embedding-dim", "8",
        "--width", "16", "--seed", "0", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def model_file(shared_table_csv, tmp_path_factory):
    """One tiny model shared by the module's tests (fitting is the slow part)."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("model")
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["tabular", "fit", shared_table_csv, "-o", str(folder / "m.gft"), *TINY])
    assert code == 0
    return folder / "m.gft"


def test_fit_sample_report_round_trip(model_file, table_csv, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "tabular", "fit", table_csv, "-o", tmp_path / "n.gft", *TINY)
    assert "cat: discrete (string, 3 levels)" in out and "detected discrete" in out
    assert "num: continuous (float" in out and "const: constant (7)" in out
    code, out, _ = run_cli(
        capsys, "tabular", "sample", model_file, "-n", 50, "-o", tmp_path / "s.csv",
        "--where", "cat=y", "--seed", 1,
    )  # fmt: skip
    assert code == 0 and "wrote 50 rows where cat=y" in out
    synthetic = pd.read_csv(tmp_path / "s.csv")
    real = pd.read_csv(table_csv)
    assert list(synthetic.columns) == list(real.columns) and (synthetic["cat"] == "y").all()
    assert synthetic["age"].dtype == real["age"].dtype
    run_cli(capsys, "tabular", "sample", model_file, "-n", 240, "-o", tmp_path / "all.csv")
    code, out, _ = run_cli(
        capsys, "tabular", "report", table_csv, tmp_path / "all.csv", "--holdout", table_csv,
        "--target", "cat", "-o", tmp_path / "r.html", "--privacy-rows", 100,
    )  # fmt: skip
    assert code == 0 and "quality" in out and "membership AUC" in out
    assert json.loads((tmp_path / "r.json").read_text())["ml_efficacy"]["target"] == "cat"
    assert (tmp_path / "r.html").read_text().startswith("<!doctype html>")


def test_dp_fit_prints_the_privacy_spent(table_csv, tmp_path, capsys):
    code, out, _ = run_cli(
        capsys, "tabular", "fit", table_csv, "-o", tmp_path / "dp.gft", *TINY, "--epsilon", 3
    )
    assert code == 0
    spent = re.search(r"privacy: \(([\d.]+), ([\de.-]+)\)-DP spent", out)
    assert spent and float(spent.group(1)) <= 3.0
    assert "NOT covered" in out  # the preprocessing read the data


def _csv(tmp_path, content: bytes | str, name="bad.csv"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


@pytest.mark.parametrize(
    ("content", "extra", "pattern"),
    [
        ("a,b\n1,2\n3,4,5\n", [], r"line 3 has 3 fields, the header has 2"),
        ('a,b\n1,"x\n', [], r"ends inside a quoted field"),
        ("", [], r"the file is empty"),
        ("a,b\n", [], r"header but no data rows"),
        (
            "a,b\n1,x\n2,y\n",
            ["--discrete", "a,nope"],
            r"discrete column\(s\) 'nope' not in the table",
        ),
        (b"a,b\n1,caf\xe9\n", [], r"not UTF-8 text \(byte 0xe9 on line 2\)"),
    ],
)
def test_fit_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, content, extra, pattern):
    path = _csv(tmp_path, content)
    code, _, err = run_cli(capsys, "tabular", "fit", path, "-o", tmp_path / "m.gft", *TINY, *extra)
    assert_one_line_error(code, err, pattern)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_model_from_another_version(model_file, tmp_path, capsys):
    state = torch.load(model_file, weights_only=True)
    state["format_version"] = 99
    torch.save(state, tmp_path / "old.gft")
    code, _, err = run_cli(
        capsys, "tabular", "sample", tmp_path / "old.gft", "-o", tmp_path / "s.csv"
    )
    assert_one_line_error(
        code, err, rf"model file format version 99 .* reads version {FORMAT_VERSION}"
    )
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize(
    ("where", "pattern"),
    [
        ("cat=w", r"condition cat=w: no such value in column 'cat'.*values are: x, y, z"),
        ("nope=1", r"condition on unknown column 'nope'"),
        ("cat", r"--where 'cat' is not COLUMN=VALUE"),
        ("num=1", r"conditions work on discrete columns only"),
    ],
)
def test_where_errors(model_file, tmp_path, capsys, where, pattern):
    out = tmp_path / "s.csv"
    code, _, err = run_cli(capsys, "tabular", "sample", model_file, "-o", out, "--where", where)
    assert_one_line_error(code, err, pattern)
    assert not out.exists()


def test_report_errors(table_csv, tmp_path, capsys):
    other = _csv(tmp_path, "x,y\n1,2\n", "other.csv")
    code, _, err = run_cli(capsys, "tabular", "report", table_csv, other, "-o", tmp_path / "r.html")
    assert_one_line_error(code, err, r"synthetic table's columns differ")
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    ("meta", "pattern"),
    [
        ("{not json", r"public metadata is not valid JSON"),
        ('{"cat": {"levels": [1]}}', r"public metadata for 'cat' needs categories, or min and max"),
        ('{"zzz": {"min": 0, "max": 1}}', r"names column\(s\) not in the table: zzz"),
    ],
)
def test_public_metadata_errors(table_csv, tmp_path, capsys, meta, pattern):
    path = _csv(tmp_path, meta, "meta.json")
    code, _, err = run_cli(
        capsys, "tabular", "fit", table_csv, "-o", tmp_path / "m.gft", *TINY,
        "--epsilon", 1, "--public-metadata", path,
    )  # fmt: skip
    assert_one_line_error(code, err, pattern)
    assert not (tmp_path / "m.gft").exists()


def test_sample_seed_defaults_to_0_and_fit_prints_the_model_last(
    model_file, table_csv, tmp_path, capsys
):
    """The convention: --seed 0 unless given (the same rows twice); the fit's last line is
    the model path on its own; --quiet gives plain lines, not silence."""
    for name in ("a.csv", "b.csv"):
        code, _, err = run_cli(
            capsys, "tabular", "sample", model_file, "-n", 30, "-o", tmp_path / name
        )
        assert code == 0, err
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()
    run_cli(
        capsys, "tabular", "sample", model_file, "--num", 30, "--seed", 4, "-o", tmp_path / "c.csv"
    )
    assert (tmp_path / "c.csv").read_text() != (tmp_path / "a.csv").read_text()
    out_file = tmp_path / "q.gft"
    code, out, err = run_cli(capsys, "tabular", "fit", table_csv, "-o", out_file, *TINY,
                             "--out", tmp_path / "runs", "--name", "t")  # fmt: skip
    assert code == 0, err
    assert out.strip().splitlines()[-1] == str(out_file)
    assert (tmp_path / "runs" / "t" / "checkpoints" / "last.pt").is_file()
    assert "speed:" in err  # --quiet: the plain progress lines are there
