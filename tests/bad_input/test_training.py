"""Bad input for training: signals, a run directory in use, a run that fails, inputs that fail
before the first checkpoint. Each is one line with its exit code, and nothing is lost or left."""

from __future__ import annotations

import os
import re
import signal

import numpy as np
import pytest

from ganforge.run import RunLock
from ganforge.training.checkpoint import load_file
from ganforge.training.loop import Trainer
from tests.bad_input.conftest import assert_user_error
from tests.cli_helpers import TINY_DIGITS
from tests.tabular.conftest import mixed_table

TABULAR = ["--epochs", 2, "--batch-size", 40, "--pack", 4, "--embedding-dim", 8, "--width", 16]
TABULAR += ["--seed", 0, "--quiet"]  # 240 rows: 12 steps


def _signal_after(monkeypatch, step: int | None, signum) -> None:
    """Send `signum` to this process after step `step` of the next fit (before its first step
    when None), exactly as Ctrl-C or `kill PID` would."""
    original_step, original_loop = Trainer.train_step, Trainer._loop
    sent = []

    def train_step(self, log_now=False):
        original_step(self, log_now)
        if self.step == step and not sent:
            sent.append(step)
            os.kill(os.getpid(), signum)

    def loop(self, t0):
        if step is None and not sent:
            sent.append(step)
            os.kill(os.getpid(), signum)
        return original_loop(self, t0)

    monkeypatch.setattr(Trainer, "train_step", train_step)
    monkeypatch.setattr(Trainer, "_loop", loop)


def _files(folder) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ---- signals --------------------------------------------------------------------------------

INTERRUPTS = {
    "sigint-mid-run": (5, signal.SIGINT),
    "sigterm-mid-run": (6, signal.SIGTERM),
    "sigint-before-first-checkpoint": (1, signal.SIGINT),
    "sigterm-before-first-step": (None, signal.SIGTERM),
}


@pytest.mark.parametrize("case", INTERRUPTS)
def test_train_interrupted_saves_says_how_to_resume_and_resumes(cli, tmp_path, monkeypatch, case):
    step, signum = INTERRUPTS[case]
    run = tmp_path / "run"
    argv = ["train", *TINY_DIGITS, "--steps", 8, "--checkpoint-every", 4, "--out", tmp_path]
    _signal_after(monkeypatch, step, signum)
    ran = cli(*argv, "--name", "run")
    at = step or 0
    line = assert_user_error(
        ran,
        rf"interrupted at step {at} \(checkpoint saved\)",
        re.escape(str(run)),
        re.escape(f"continue with: ganforge train --resume {run}"),
        code=130,
    )
    assert "the last checkpoint is intact" not in line
    assert load_file(run / "checkpoints" / "last.pt")["step"] == at
    monkeypatch.undo()
    ran = cli("train", "--resume", run, "--quiet")
    assert ran.code == 0, ran.err
    assert load_file(run / "checkpoints" / "last.pt")["step"] == 8


def test_train_interrupted_while_loading_leaves_nothing(cli, tmp_path, monkeypatch):
    def interrupted(cls, config):
        raise KeyboardInterrupt  # Ctrl-C while the data loads

    monkeypatch.setattr("ganforge.families.base.Family.load_dataset", classmethod(interrupted))
    ran = cli("train", *TINY_DIGITS, "--out", tmp_path / "new", "--name", "run")
    assert_user_error(ran, "interrupted before training started", "nothing was written", code=130)
    assert not (tmp_path / "new").exists()


@pytest.fixture
def table_csv(tmp_path):
    path = tmp_path / "table.csv"
    mixed_table().to_csv(path, index=False)
    return path


def test_tabular_fit_interrupted_with_run_dir_resumes(cli, tmp_path, table_csv, monkeypatch):
    fit = ["tabular", "fit", table_csv, "-o", tmp_path / "m.gft", *TABULAR]
    fit += ["--run-dir", tmp_path / "tab"]
    _signal_after(monkeypatch, 5, signal.SIGINT)
    ran = cli(*fit)
    assert_user_error(
        ran,
        r"interrupted at step 5 \(checkpoint saved\)",
        re.escape(str(tmp_path / "tab")),
        "tabular fit.*--resume",
        code=130,
    )
    assert not (tmp_path / "m.gft").exists()
    monkeypatch.undo()
    ran = cli(*fit, "--resume")
    assert ran.code == 0, ran.err
    assert (tmp_path / "m.gft").exists()
    assert load_file(tmp_path / "tab" / "checkpoints" / "last.pt")["step"] == 12


def test_tabular_fit_interrupted_without_run_dir_says_nothing_was_kept(
    cli, tmp_path, table_csv, monkeypatch
):
    _signal_after(monkeypatch, 3, signal.SIGTERM)
    ran = cli("tabular", "fit", table_csv, "-o", tmp_path / "m.gft", *TABULAR)
    line = assert_user_error(
        ran, "interrupted at step 3", "nothing was kept", "--run-dir", code=130
    )
    assert "resume" not in line.split("nothing was kept")[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_anomaly_fit_interrupted_leaves_nothing_and_reruns(cli, tmp_path, monkeypatch):
    normal = tmp_path / "normal.csv"
    rows = np.random.default_rng(0).normal(size=(120, 4))
    np.savetxt(normal, rows, delimiter=",", header="a,b,c,d", comments="")
    fit = ["anomaly", "fit", "--data", f"csv:{normal}", "--run-dir", tmp_path / "det", "--steps", 6]
    _signal_after(monkeypatch, 2, signal.SIGINT)
    ran = cli(*fit, "--quiet")
    assert_user_error(
        ran, r"interrupted at step 2 \(anomaly fit does not resume\)", "nothing was kept", code=130
    )
    assert not (tmp_path / "det").exists()  # a leftover checkpoint would block the rerun
    monkeypatch.undo()
    ran = cli(*fit, "--quiet")
    assert ran.code == 0, ran.err


# ---- a run directory in use -----------------------------------------------------------------


@pytest.mark.parametrize("resume", [False, True], ids=["new-run", "resume"])
def test_train_into_a_run_directory_in_use_is_refused(cli, tmp_path, resume):
    run = tmp_path / "run"
    argv = ["train", *TINY_DIGITS, "--out", tmp_path, "--name", "run"]
    if resume:
        assert cli(*argv).code == 0
        argv = ["train", "--resume", run, "--steps", 8, "--quiet"]
    run.mkdir(exist_ok=True)
    with RunLock(run):  # another training holds it
        before = _files(run)
        ran = cli(*argv)
        assert _files(run) == before  # no config.toml rewrite, no metrics.jsonl line
    assert_user_error(
        ran, r"in use by another training \(pid \d+ on ", re.escape(str(run)), "wait", code=2
    )
    assert "ganforge: run directory" not in ran.err  # refused before any work


def test_tabular_fit_into_a_run_directory_in_use_is_refused(cli, tmp_path, table_csv):
    (tmp_path / "tab").mkdir()
    with RunLock(tmp_path / "tab"):
        ran = cli("tabular", "fit", table_csv, "-o", tmp_path / "m.gft", *TABULAR, "--run-dir",
                  tmp_path / "tab")  # fmt: skip
    assert_user_error(ran, "in use by another training", re.escape(str(tmp_path / "tab")))
    assert sorted(p.name for p in (tmp_path / "tab").iterdir()) == [".lock"]
    assert not (tmp_path / "m.gft").exists()


# ---- a run that trained but failed ----------------------------------------------------------

# A 16x16 DCGAN at lr 1.0: G's output is constant and D right on everything within 40 steps.
BROKEN = [*TINY_DIGITS, "--resolution", 16, "--g-width", 16, "--d-width", 16, "--latent-dim", 16]
BROKEN += ["--batch-size", 32, "--lr-g", 1.0, "--lr-d", 1.0, "--steps", 40, "--log-every", 10]


@pytest.mark.parametrize(
    "extra",
    [[], ["--steps", 100, "--max-rollbacks", 0]],
    ids=["verdict-at-the-end", "stopped-within-the-window"],
)
def test_train_with_an_unusable_generator_fails_plainly(cli, tmp_path, extra):
    run = tmp_path / "broken"
    ran = cli("train", *BROKEN, *extra, "--out", tmp_path, "--name", "broken")
    assert_user_error(
        ran,
        "the run FAILED: (the generator's output is constant|D wins outright)",
        re.escape(str(run)),
        "lower --lr-g/--lr-d",
        code=1,
    )
    assert "run saved to" not in ran.out
    if not extra:  # trained to the end: what exists is saved, for `ganforge info`
        assert "ganforge: health: FAILED: " in ran.out and (run / "generator.pt").exists()


# ---- failures before the first checkpoint leave no folder ------------------------------------


EARLY_FAILURES = {
    "empty-image-folder": (["--data", "folder:{empty}"], "no image files found"),
    "missing-image-folder": (["--data", "folder:{tmp}/nope"], "image folder not found"),
    "unknown-data-source": (["--data", "nonsense:x"], "unknown data source 'nonsense:x'"),
    # fails after the folder was made (the evaluation callback's start): removed again
    "eval-weights-missing": (["--eval-every", 2, "--eval-extractor", "inception"], "weights"),
}


@pytest.mark.parametrize("case", EARLY_FAILURES)
def test_a_run_failing_before_its_first_checkpoint_leaves_no_folder(cli, tmp_path, case):
    argv, pattern = EARLY_FAILURES[case]
    (tmp_path / "empty").mkdir()
    argv = [str(a).format(empty=tmp_path / "empty", tmp=tmp_path) for a in argv]
    out = tmp_path / "new" / "runs"
    ran = cli("train", *TINY_DIGITS, *argv, "--out", out, "--name", "run")
    assert_user_error(ran, pattern)
    assert not (tmp_path / "new").exists()


def test_a_folder_that_existed_is_never_removed(cli, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    argv = ["--eval-every", 2, "--eval-extractor", "inception", "--out", tmp_path, "--name", "mine"]
    assert_user_error(cli("train", *TINY_DIGITS, *argv), "weights")
    assert (mine / "notes.txt").read_text() == "mine"


def test_the_run_folder_is_printed_first_and_last(cli, tmp_path):
    ran = cli("train", *TINY_DIGITS, "--out", tmp_path, "--name", "run")
    assert ran.code == 0, ran.err
    assert ran.err.splitlines()[0] == f"ganforge: run directory {tmp_path / 'run'}"
    assert f"ganforge: run saved to {tmp_path / 'run'}" in ran.out
