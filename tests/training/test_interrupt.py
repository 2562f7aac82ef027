"""SIGINT/SIGTERM during fit(): a checkpoint at a step boundary, exit 130, how to continue; the
resumed run ends bit-identical to an uninterrupted one. One real process gets a real signal."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.run import RunLock, config_from_checkpoint, train
from ganforge.training.callbacks import Callback
from ganforge.training.checkpoint import load_file
from ganforge.training.loop import Trainer, TrainingInterrupted
from tests.cli_helpers import TINY_DIGITS
from tests.state_helpers import assert_same_state


class SignalAt(Callback):
    """Test-only: sends `signum` to this process `times` times after step `step` (at the start
    when `step` is None), exactly as Ctrl-C or `kill` would."""

    def __init__(self, step: int | None, signum=signal.SIGINT, times: int = 1):
        self.step, self.signum, self.times = step, signum, times

    def _fire(self) -> None:
        for _ in range(self.times):
            os.kill(os.getpid(), self.signum)

    def on_train_start(self, trainer) -> None:
        if self.step is None:
            self._fire()

    def on_step_end(self, trainer) -> None:
        if trainer.step == self.step:
            self._fire()


def _config(tiny, name, steps=8, **train):
    config = tiny(train={"steps": steps, "checkpoint_every": 4, "log_every": 2, **train})
    config.name = name
    return config


def _assert_same_state(a: dict, b: dict) -> None:
    """Two checkpoints hold the same trajectory: everything but the run's name and the clock
    (weights, EMA, optimisers, RNG, data order, monitor, and the logged means, also those of
    the interval an interrupt split)."""

    def trajectory(state):
        state = {k: v for k, v in state.items() if k != "config"}
        state["history"] = [
            {k: v for k, v in h.items() if k != "seconds"} for h in state["history"]
        ]
        return state

    assert_same_state(trajectory(a), trajectory(b))


@pytest.fixture
def reference(tiny):
    """The uninterrupted 8-step run's last checkpoint."""
    run_dir, _ = train(_config(tiny, "full"), quiet=True)
    return load_file(run_dir / "checkpoints" / "last.pt")


@pytest.mark.parametrize(
    "step,signum",
    [
        (5, signal.SIGINT),  # between logs (pending log means) and between checkpoints
        (6, signal.SIGTERM),  # a logging step
        (1, signal.SIGINT),  # before the first checkpoint
        (None, signal.SIGTERM),  # before the first step: a step-0 checkpoint
    ],
    ids=["sigint-step5", "sigterm-step6", "sigint-before-first-checkpoint", "sigterm-at-start"],
)
def test_interrupt_saves_and_resume_is_bit_identical(tiny, reference, step, signum):
    config = _config(tiny, "cut")
    with pytest.raises(TrainingInterrupted) as caught:
        train(config, quiet=True, callbacks=[SignalAt(step, signum)])
    run_dir = Path(config.out) / "cut"
    at = step or 0
    error = caught.value
    assert error.exit_code == 130 and error.step == at and error.saved
    assert str(error) == (
        f"interrupted at step {at} (checkpoint saved), {run_dir}, "
        f"continue with: ganforge train --resume {run_dir}"
    )
    assert load_file(run_dir / "checkpoints" / "last.pt")["step"] == at
    assert not (run_dir / "generator.pt").exists()  # an unfinished run exports nothing
    train(_config(tiny, "cut"), resume=run_dir, quiet=True)
    _assert_same_state(reference, load_file(run_dir / "checkpoints" / "last.pt"))
    assert (run_dir / "generator.pt").exists()


def test_signal_handlers_are_restored_after_fit(tiny):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    Trainer(tiny()).fit()
    with pytest.raises(TrainingInterrupted):
        Trainer(tiny(), callbacks=[SignalAt(2, signal.SIGTERM)]).fit()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_interrupt_mid_step_keeps_the_last_checkpoint(tiny, reference, monkeypatch):
    """A KeyboardInterrupt inside a step (a second Ctrl-C) leaves a half-updated state: it is
    not saved; the last checkpoint stays intact and resuming from it is still exact."""
    config = _config(tiny, "cut")
    original = Trainer.train_step

    def interrupted_after_d(self, log_now=False):
        if self.step == 6:
            with torch.no_grad():  # D was updated, G not yet: a state no checkpoint may hold
                next(self.discriminator.parameters()).add_(1.0)
            raise KeyboardInterrupt
        original(self, log_now)

    monkeypatch.setattr(Trainer, "train_step", interrupted_after_d)
    with pytest.raises(TrainingInterrupted, match=r"interrupted at step 6 \(the last checkpoint"):
        train(config, quiet=True)
    monkeypatch.setattr(Trainer, "train_step", original)
    run_dir = Path(config.out) / "cut"
    assert load_file(run_dir / "checkpoints" / "last.pt")["step"] == 4
    train(_config(tiny, "cut"), resume=run_dir, quiet=True)
    _assert_same_state(reference, load_file(run_dir / "checkpoints" / "last.pt"))


def test_second_signal_stops_at_once(tiny):
    """Two signals: the handler raises at once; between steps the state is still whole: saved."""
    config = _config(tiny, "twice")
    with pytest.raises(TrainingInterrupted, match="interrupted at step 3 .checkpoint saved"):
        train(config, quiet=True, callbacks=[SignalAt(3, signal.SIGINT, times=2)])


def test_non_finite_state_is_not_saved(tiny, monkeypatch):
    config = _config(tiny, "nan", monitor=False, log_every=4)
    original = Trainer.train_step

    def poisoned(self, log_now=False):
        if self.step == 1:
            with torch.no_grad():
                next(self.discriminator.parameters()).fill_(float("nan"))
        original(self, log_now)

    monkeypatch.setattr(Trainer, "train_step", poisoned)
    with pytest.raises(TrainingInterrupted) as caught:
        train(config, quiet=True, callbacks=[SignalAt(3)])
    assert "no checkpoint was written" in str(caught.value)
    assert "nothing to continue from" in str(caught.value)
    assert not (Path(config.out) / "nan" / "checkpoints").exists()


def test_in_memory_trainer_says_nothing_was_saved(tiny):
    with pytest.raises(TrainingInterrupted, match=r"no checkpoint was written\), in memory"):
        Trainer(tiny(), callbacks=[SignalAt(2)]).fit()


def test_trainer_with_a_run_dir_names_the_api_to_continue(tiny, tmp_path):
    trainer = Trainer(tiny(), tmp_path / "api", callbacks=[SignalAt(2)])
    with pytest.raises(TrainingInterrupted, match=r"continue with Trainer.resume\('.*last.pt'\)"):
        trainer.fit()


def _wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow  # a fresh interpreter imports torch: 3-10 s on the shared CI machine
def test_real_process_sigterm_lock_and_bit_identical_resume(tiny, tmp_path):
    """`ganforge train` in its own process: while it runs, a second training into its folder is
    refused and touches nothing; SIGTERM ends it with exit 130 and one line; resuming in this
    process ends exactly where an uninterrupted run ends."""
    run_dir = tmp_path / "proc"
    argv = [sys.executable, "-m", "ganforge", "train", *map(str, TINY_DIGITS)]
    argv += ["--steps", "100000", "--log-every", "1", "--checkpoint-every", "1000"]
    argv += ["--sample-every", "0", "--threads", "1", "--divergence-window", "50"]
    argv += ["--out", str(tmp_path), "--name", "proc"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        metrics = run_dir / "metrics.jsonl"
        _wait_for(lambda: metrics.exists() and metrics.read_text().count("\n") >= 3, 60, "logs")
        os.kill(proc.pid, signal.SIGSTOP)  # hold it still while a second training tries
        try:
            before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
            other = tiny(train={"steps": 100000, "threads": 1})
            other.name = "proc"
            for resume in (None, run_dir):
                with pytest.raises(GanforgeError, match=r"in use by another training \(pid "):
                    train(other, resume=resume, quiet=True)
            after = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
            assert after == before
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    step = load_file(run_dir / "checkpoints" / "last.pt")["step"]
    assert last == (
        f"ganforge: error: interrupted at step {step} (checkpoint saved), {run_dir}, "
        f"continue with: ganforge train --resume {run_dir}"
    )
    assert "Traceback" not in err and f"ganforge: run directory {run_dir}" in err
    with RunLock(run_dir):  # released by the process that ended
        pass

    def config(name):  # what `ganforge train --resume RUN` trains with: the saved config
        c = config_from_checkpoint(run_dir)
        c.name, c.train.steps = name, step + 3
        return c

    train(config("proc"), resume=run_dir, quiet=True)
    reference, _ = train(config("ref"), quiet=True)
    a = load_file(reference / "checkpoints" / "last.pt")
    b = load_file(run_dir / "checkpoints" / "last.pt")
    for key in ("generator", "discriminator"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), (key, name)


def test_a_failed_save_on_interrupt_keeps_the_last_checkpoint(tiny, monkeypatch):
    """A full disk at the interrupt: the error still says interrupted, and why nothing new was
    saved; the previous checkpoint is intact and named as what to continue from."""

    class DiskFullThenSignal(SignalAt):
        def on_step_end(self, trainer) -> None:
            if trainer.step == self.step:

                def full(obj, path):
                    raise OSError(errno.ENOSPC, "No space left on device")

                monkeypatch.setattr("ganforge.training.loop.atomic_save", full)
            super().on_step_end(trainer)

    config = _config(tiny, "full")
    pattern = (
        r"interrupted at step 6 \(the last checkpoint is intact\), .*full \(writing the "
        r"checkpoint failed: No space left on device\), continue with: ganforge train --resume"
    )
    with pytest.raises(TrainingInterrupted, match=pattern):
        train(config, quiet=True, callbacks=[DiskFullThenSignal(6)])
    assert load_file(Path(config.out) / "full" / "checkpoints" / "last.pt")["step"] == 4
