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
        "text-column",
        "x,t\n" + "1,a\n" * 30,
        ["--seq-len", "4"],
        [r"'t'", "not yet supported", "data.csv"],
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


@pytest.mark.parametrize(
    "make,says",
    [(_other_kind, [r"tabular model", r"not a ganforge series model"]), (_text, ["series model"])],
    ids=["tabular-model", "text-file"],
)
def test_sample_refuses_another_kind_of_file(cli, tmp_path, make, says):
    model, out = tmp_path / "m.gfs", tmp_path / "synth.csv"
    make(model)
    assert_user_error(cli("series", "sample", model, "-o", out), "m.gfs", *says)
    assert not out.exists()


def test_sample_refuses_zero_sequences(cli, tmp_path):
    ran = cli("series", "sample", tmp_path / "m.gfs", "-n", "0", "-o", tmp_path / "s.csv")
    assert_user_error(ran, r"-n 0")
