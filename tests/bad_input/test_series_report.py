"""`ganforge series report`: bad CSVs and flags are one line each, and nothing is written."""

from __future__ import annotations

import pytest

from tests.bad_input.conftest import assert_user_error

GOOD = "a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(40))

# id -> (content of the bad file (None: no file), which argument it is, flags, names in the line)
CASES = {
    "missing-file": (None, "real", [], [r"no real CSV", r"bad\.csv"]),
    "not-a-csv": ("\x00\x01\x02\xff\xfe", "real", [], [r"real", r"bad\.csv"]),
    "no-column": ("sequence_id,step\n0,0\n0,1\n", "real", [], [r"no column", r"bad\.csv"]),
    "only-dates": ("day\n2024-01-01\n2024-01-02\n", "real", [], [r"besides dates", r"bad\.csv"]),
    "other-columns": ("x,y\n" + GOOD[4:], "synth", [], [r"columns", r"bad\.csv"]),
    "seq-len-longer-than-data": (GOOD, "real", ["--seq-len", "40"], [r"--seq-len 40", r"bad"]),
    "seq-len-zero": (GOOD, "real", ["--seq-len", "0"], [r"--seq-len", r"0"]),
    "fits-zero": (GOOD, "real", ["--fits", "0"], [r"--fits"]),
    "holdout-missing": (None, "holdout", [], [r"no holdout CSV", r"bad\.csv"]),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_report_input_is_one_line(case, cli, tmp_path):
    content, which, flags, names = CASES[case]
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD)
    if content is not None:
        bad.write_bytes(content.encode("latin-1"))
    real, synth = (bad, good) if which == "real" else (good, bad if which == "synth" else good)
    if which == "holdout":
        flags = ["--holdout", bad]
    out = tmp_path / "r.html"
    ran = cli("series", "report", real, synth, "-o", out, *flags)
    assert_user_error(ran, *names)
    assert not out.exists()
