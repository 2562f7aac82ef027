"""Run-placement flags (issue 19's convention): a contradictory or incomplete --out/--name,
--run-dir, --resume, or a missing -o, is one line naming the flags, before any work."""

from __future__ import annotations

import pytest

from tests.bad_input.conftest import assert_user_error

CASES = {
    "train-run-dir-and-name": (["train", "--run-dir", "{t}/r", "--name", "x"], ["--run-dir"]),
    "train-bare-resume-no-run": (["train", "--resume"], ["--resume", "--name"]),
    "anomaly-fit-run-dir-and-name": (
        ["anomaly", "fit", "--data", "digits", "--run-dir", "{t}/r", "--name", "x"],
        ["--run-dir"],
    ),
    "anomaly-score-no-output": (["anomaly", "score", "{t}", "{t}"], ["-o/--output"]),
    "augment-no-output": (["augment", "{t}"], ["-o/--output"]),
    "tabular-fit-out-without-name": (
        ["tabular", "fit", "{t}/t.csv", "-o", "{t}/m.gft", "--out", "{t}/runs"],
        ["--out needs --name"],
    ),
    "tabular-fit-resume-run-and-run-dir": (
        ["tabular", "fit", "{t}/t.csv", "-o", "{t}/m.gft", "--resume", "{t}/a", "--run-dir", "{t}/b"],
        ["--resume RUN"],
    ),
    "tabular-fit-bare-resume-no-run": (
        ["tabular", "fit", "{t}/t.csv", "-o", "{t}/m.gft", "--resume"],
        ["resume needs a run directory", "--run-dir"],
    ),
    "eval-num-zero": (["eval", "--real", "{t}", "--fake", "{t}", "-n", "0"], ["-n", "0"]),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_run_flags_are_checked_first(cli, tmp_path, case):
    argv, names = CASES[case]
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,4\n")
    ran = cli(*[a.replace("{t}", str(tmp_path)) for a in argv])
    assert_user_error(ran, *names)
    assert not (tmp_path / "r").exists() and not (tmp_path / "runs").exists()
