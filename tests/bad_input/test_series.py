"""Bad input for `ganforge series fit | sample`: one line naming the file, flag or column and what
to do; no model file written."""

from __future__ import annotations

import pytest
import torch

from tests.bad_input.conftest import assert_user_error

TINY = ["--epochs", "1", "--hidden", "8", "--quiet"]

LONG = "x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(30))

# (id, CSV content, flags, what the one error line must say: the data file, except for a bad flag)
FIT_CASES = [
    (
        "shorter-than-seq-len",
        "x\n1\n2\n3\n",
        ["--seq-len", "24"],
        [r"3 rows", r"--seq-len 24", "data.csv"],
    ),
    (
        "one-row-sequence",
        "id,x\na,1\na,2\nb,3\n",
        ["--seq-len", "2", "--sequence-key", "id"],
        [r"sequence key 'id'", r"1 row", r"id=b", "data.csv"],
    ),
    ("seq-len-0", LONG, ["--seq-len", "0"], [r"--seq-len 0"]),
    (
        "all-missing-column",
        "x,gone\n" + "1,\n" * 30,
        ["--seq-len", "4"],
        [r"'gone'", "all missing", "data.csv"],
    ),
    (
        "text-column-of-thousands-of-values",
        "x,t\n" + "".join(f"{i},name{i}\n" for i in range(2000)),
        ["--seq-len", "4"],
        [r"'t'", "2000 distinct values", "--discrete t", "data.csv"],
    ),
    (
        "duplicated-time-within-an-entity",
        "id,day,x\n" + "".join(f"a,{i},{i}\n" for i in range(6)) + "b,1,1\nb,2,2\nb,2,3\n",
        ["--seq-len", "3", "--sequence-key", "id", "--time-column", "day"],
        [r"'day' repeats 2", r"id=b", "data.csv"],
    ),
    (
        "duplicated-time-in-one-series",
        "day,x\n" + "".join(f"{i // 2},{i}\n" for i in range(10)),
        ["--seq-len", "3", "--time-column", "day"],
        [r"'day' repeats 0", "data.csv"],
    ),
    (
        "time-column-not-time",
        "day,x\n" + "".join(f"x{i},{i}\n" for i in range(10)),
        ["--seq-len", "3", "--time-column", "day"],
        [r"time column 'day'", "dates", "data.csv"],
    ),
    ("unknown-time-column", LONG, ["--seq-len", "4", "--time-column", "when"], [r"'when'"]),
    ("unknown-discrete-column", LONG, ["--seq-len", "4", "--discrete", "z"], [r"--discrete 'z'"]),
    (
        "nothing-changes-over-time",
        "id,x\n" + "".join(f"{i // 5},{i // 5}\n" for i in range(20)),
        ["--seq-len", "3", "--sequence-key", "id"],
        [r"constant within each sequence", "data.csv"],
    ),
    ("unknown-key", LONG, ["--seq-len", "4", "--sequence-key", "nope"], [r"'nope'", "data.csv"]),
]


@pytest.mark.parametrize(
    "content,flags,says", [c[1:] for c in FIT_CASES], ids=[c[0] for c in FIT_CASES]
)
def test_fit_refuses(cli, tmp_path, content, flags, says):
    data, model = tmp_path / "data.csv", tmp_path / "m.gfs"
    data.write_text(content)
    ran = cli("series", "fit", data, "-o", model, *flags, *TINY)
    assert_user_error(ran, *says)
    assert not model.exists()


def _other_kind(path):
    torch.save({"format": "ganforge-tabular", "format_version": 2}, path)


def _text(path):
    path.write_text("not a model\n")


def _old_version(path):
    torch.save({"format": "ganforge-series", "format_version": 1}, path)


@pytest.mark.parametrize(
    "make,says",
    [
        (_other_kind, [r"tabular model", r"not a ganforge series model"]),
        (_text, ["series model"]),
        (_old_version, [r"format version 1", r"refit"]),
    ],
    ids=["tabular-model", "text-file", "older-series-model"],
)
def test_sample_refuses_another_kind_of_file(cli, tmp_path, make, says):
    model, out = tmp_path / "m.gfs", tmp_path / "synth.csv"
    make(model)
    assert_user_error(cli("series", "sample", model, "-o", out), "m.gfs", *says)
    assert not out.exists()


WHERE_CASES = {
    "unknown-column": (["--where", "colour=red"], [r"'colour'", "no such column"]),
    "per-step-column": (["--where", "x=1"], [r"'x'", "changes within sequences"]),
    "unknown-level": (["--where", "g=zz"], [r"g=zz", "no such value", "values are"]),
    "not-col-eq-value": (["--where", "g"], [r"--where 'g'", "COLUMN=VALUE"]),
}


@pytest.fixture(scope="module")
def static_model(tmp_path_factory):
    import pandas as pd

    from ganforge.series import TimeSeriesGAN

    rows = [{"id": i // 4, "g": "ab"[(i // 4) % 2], "x": float(i % 4)} for i in range(40)]
    path = tmp_path_factory.mktemp("series") / "m.gfs"
    model = TimeSeriesGAN(max_steps=1, hidden=8, verbose=False, quiet=True)
    return model.fit(pd.DataFrame(rows), seq_len=4, sequence_key="id").save(path)


@pytest.mark.parametrize("case", WHERE_CASES, ids=list(WHERE_CASES))
def test_sample_refuses_a_bad_where(cli, tmp_path, static_model, case):
    flags, says = WHERE_CASES[case]
    out = tmp_path / "s.csv"
    assert_user_error(cli("series", "sample", static_model, "-o", out, *flags), *says)
    assert not out.exists()


def test_sample_refuses_zero_sequences(cli, tmp_path):
    ran = cli("series", "sample", tmp_path / "m.gfs", "-n", "0", "-o", tmp_path / "s.csv")
    assert_user_error(ran, r"-n 0")
