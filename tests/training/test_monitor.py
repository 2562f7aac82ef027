"""The health monitor: NaN and divergence roll back exactly and retry; healthy runs are left alone."""

import contextlib
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.data import BatchSampler
from ganforge.errors import GanforgeError
from ganforge.run import train
from ganforge.training.checkpoint import load_file
from ganforge.training.loop import Trainer
from ganforge.training.monitor import HealthMonitor, RollbackNeeded, cpu_copy, window_for
from tests.state_helpers import assert_same_state


def _poison(monkeypatch, at_step: int, times: int = 1) -> list[int]:
    """Fill D's first weight with NaN before step `at_step` + 1, the first `times` times."""
    original = Trainer.train_step
    fired: list[int] = []

    def poisoned(self, log_now=False):
        if self.step == at_step and len(fired) < times:
            fired.append(self.step)
            with torch.no_grad():
                next(self.discriminator.parameters()).fill_(float("nan"))
        original(self, log_now)

    monkeypatch.setattr(Trainer, "train_step", poisoned)
    return fired


def _health(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e.get("kind") == "health"]


def test_nan_mid_run_rolls_back_and_training_finishes(tiny, monkeypatch):
    config = tiny(train={"steps": 12, "checkpoint_every": 4, "log_every": 2})
    fired = _poison(monkeypatch, at_step=6)
    run_dir, summary = train(config, quiet=True)
    assert fired == [6] and summary["steps"] == 12
    assert summary["health"].startswith("1 rollback(s) (at steps 8; lr now x0.5)")
    state = load_file(run_dir / "checkpoints" / "last.pt")
    assert state["step"] == 12 and state["lr_scale"] == 0.5
    assert all(torch.isfinite(v).all() for v in state["discriminator"].values())
    assert (run_dir / "generator.pt").exists()
    (event,) = _health(run_dir)
    assert event["event"] == "rollback" and event["to_step"] == 4 and event["step"] == 8
    assert event["reason"] == "training diverged: non-finite loss at step 7"
    assert [e for e in state["history"] if e.get("kind") == "health"] == [event]
    # The logs after the rollback continue from step 4: 6, 8, ... (nothing logged at NaN step 8).
    steps = [e["step"] for e in state["history"] if "kind" not in e]
    assert steps == [2, 4, 6, 8, 10, 12]
    # A resume keeps the lowered learning rate and the rollback count.
    resumed = Trainer(tiny(train={"steps": 14, "checkpoint_every": 4, "log_every": 2}))
    resumed.resume(run_dir / "checkpoints" / "last.pt")
    assert resumed.lr_scale == 0.5 and resumed.monitor.rollbacks == 1


def test_rollback_restores_exactly_the_checkpointed_state(tiny):
    trainer = Trainer(tiny(train={"steps": 4, "checkpoint_every": 4}))
    trainer.fit()
    saved = cpu_copy(trainer.state_dict())  # what the monitor snapshots at step 4
    for rollback, scale in ((1, 0.5), (2, 0.25)):  # twice: the snapshot must not be aliased
        trainer.config.train.steps = 7
        trainer.fit()
        assert trainer.step == 7
        trainer.monitor.roll_back(trainer, RollbackNeeded("test problem"))
        now = cpu_copy(trainer.state_dict())
        for key in ("generator", "discriminator", "ema", "opt_g", "opt_d", "scaler", "rng"):
            assert_same_state(now[key], saved[key], key)
        assert now["step"] == 4 and trainer.lr_scale == scale
        assert trainer.monitor.rollbacks == rollback
        assert now["history"][: len(saved["history"])] == saved["history"]
        assert now["history"][-1]["event"] == "rollback" and now["history"][-1]["to_step"] == 4
        # the data order is reshuffled, so the same batches do not come back
        old = BatchSampler(len(trainer.dataset), 16, 0)
        old.load_state_dict(saved["sampler"])
        assert not torch.equal(old.next_index(), trainer.sampler.next_index())
    trainer._apply_lr_schedule()
    assert trainer.opt_g.param_groups[0]["lr"] == pytest.approx(trainer.config.train.lr_g / 4)
    assert trainer.opt_d.param_groups[0]["lr"] == pytest.approx(trainer.config.train.lr_d / 4)


def test_stops_with_a_clear_message_after_max_rollbacks(tiny, monkeypatch):
    config = tiny(train={"steps": 12, "checkpoint_every": 4, "max_rollbacks": 2})
    _poison(monkeypatch, at_step=6, times=100)  # the same NaN each time
    message = r"non-finite loss at step 7 \(2 rollback\(s\) did not help\), .*lower"
    with pytest.raises(GanforgeError, match=message):
        train(config, quiet=True)
    config_dir = Path(config.out) / config.name
    events = _health(config_dir)
    assert [e["event"] for e in events] == ["rollback", "rollback", "stopped"]
    assert [e.get("lr_scale") for e in events[:2]] == [0.5, 0.25]
    assert load_file(config_dir / "checkpoints" / "last.pt")["step"] == 4
    assert not (config_dir / "generator.pt").exists()


def test_monitor_off_stops_at_the_first_nan(tiny, monkeypatch):
    config = tiny(train={"steps": 12, "checkpoint_every": 4, "monitor": False})
    _poison(monkeypatch, at_step=6)
    with pytest.raises(GanforgeError, match="non-finite loss at step 7") as err:
        train(config, quiet=True)
    assert "rollback" not in str(err.value)


def test_healthy_run_is_never_rolled_back_and_monitor_changes_nothing(tiny):
    """False-positive case: a normal run with an aggressive 60-step divergence window."""
    config = tiny(train={"steps": 200, "log_every": 10, "checkpoint_every": 50})
    config.train.divergence_window = 60
    trainer = Trainer(config)
    summary = trainer.fit()
    assert trainer.monitor.events == [] and trainer.lr_scale == 1.0
    assert summary["health"].startswith("healthy")
    # while healthy, the monitor only watches: the same weights as a run without it
    a = Trainer(tiny(train={"steps": 20, "checkpoint_every": 5}))
    b = Trainer(tiny(train={"steps": 20, "checkpoint_every": 5, "monitor": False}))
    a.fit(), b.fit()
    assert_same_state(a.generator.state_dict(), b.generator.state_dict())
    assert b.monitor is None and b.fit()["health"] == "monitor off"


def test_divergence_of_a_real_run_is_rolled_back(tiny):
    """True case: G cannot learn (lr 1e-9), D wins completely and G's loss climbs."""
    config = tiny(
        train={
            "steps": 400,
            "lr_g": 1e-9,
            "log_every": 10,
            "checkpoint_every": 50,
            "divergence_window": 60,
            "max_rollbacks": 1,
        }
    )
    trainer = Trainer(config)
    with pytest.raises(
        GanforgeError, match=r"D accuracy (1.000|0.99\d) on real and fake over \d+ steps"
    ):
        trainer.fit()
    kinds = [e["event"] for e in trainer.monitor.events]
    assert kinds == ["rollback", "stopped"]
    assert "G loss rose" in trainer.monitor.events[0]["reason"]
    # stopping leaves the trainer in its last good state, ready to save or sample
    assert trainer.step % 50 == 0 and trainer.step < trainer.monitor.events[-1]["step"]
    assert [e["event"] for e in trainer.history if e.get("kind") == "health"] == kinds


def _fake_trainer(step=0):
    return SimpleNamespace(
        step=step,
        history=[],
        callbacks=[],
        dist=SimpleNamespace(is_main=True, world_size=1),
        lr_scale=1.0,
        family=SimpleNamespace(name="unconditional"),
        run_dir=None,
    )


def _log(acc, g):
    return {"d_acc_real": acc, "d_acc_fake": acc, "g_loss": g}


@pytest.mark.parametrize(
    "loss,accs,g_losses,diverges",
    [
        ("nonsaturating", [1.0] * 6, [1, 2, 3, 4, 5, 6], True),
        ("nonsaturating", [1.0] * 6, [6, 5, 4, 3, 2, 1], False),  # D wins but G improves
        ("nonsaturating", [1.0, 0.9, 1.0, 0.9, 1.0, 0.9], [1, 2, 3, 4, 5, 6], False),  # 95%
        ("hinge", [0.995] * 6, [1, 2, 3, 4, 5, 6], True),
        ("wasserstein", [1.0] * 6, [1, 2, 3, 4, 5, 6], False),  # logits have no sign there
    ],
)
def test_divergence_rule(loss, accs, g_losses, diverges):
    monitor = HealthMonitor(TrainConfig(loss=loss, divergence_window=100), stream=None)
    trainer = _fake_trainer()
    raised = None
    for i, (acc, g) in enumerate(zip(accs, g_losses, strict=True)):
        trainer.step = 50 * (i + 1)  # logs at 50, 100, ..., 300: window = 2 logs
        try:
            monitor.on_log(trainer, _log(acc, g))
        except RollbackNeeded as e:
            raised = (trainer.step, e)
            break
    if diverges:
        assert raised is not None and raised[0] == 150  # first log >= 100 steps into the streak
    else:
        assert raised is None


def test_one_noisy_log_does_not_hide_divergence():
    monitor = HealthMonitor(TrainConfig(divergence_window=500), stream=None)
    trainer = _fake_trainer()
    accs = [1.0] * 5 + [0.95] + [1.0] * 5  # one dip: 0.995 over the window
    with pytest.raises(RollbackNeeded, match=r"D accuracy 0.995 .* over 500 steps"):
        for i, acc in enumerate(accs):
            trainer.step = 50 * (i + 1)
            monitor.on_log(trainer, _log(acc, float(i)))
    assert trainer.step == 550  # the first log with 500 steps of history behind it


def test_collapse_warnings_once_per_episode(capsys):
    monitor = HealthMonitor(TrainConfig(collapse_ratio=0.5), stream=None)
    trainer = _fake_trainer()
    for step, value in enumerate([0.2, 0.8, 0.9, 0.5, 0.3, 0.35, 0.7, 0.2], start=1):
        trainer.step = step
        monitor.on_log(trainer, {"fake_diversity": value})
    events = monitor.events
    assert [(e["step"], e["value"], e["best"]) for e in events] == [(5, 0.3, 0.9), (8, 0.2, 0.9)]
    assert (
        "possible mode collapse: fake_diversity fell to 0.3 (best 0.9)" in capsys.readouterr().err
    )
    # at eval time: the class entropy of MNIST samples, the modes of toy data
    trainer.step = 10
    trainer.history.append({"kind": "eval", "step": 10, "class_entropy_bits": 3.3})
    monitor.on_step_end(trainer)
    trainer.step = 20
    trainer.history.append({"kind": "eval", "step": 20, "class_entropy_bits": 1.2})
    monitor.on_step_end(trainer)
    assert monitor.events[-1]["signal"] == "class_entropy_bits"
    assert "2 collapse warning(s)" not in monitor.summary()  # three warnings so far
    assert monitor.summary().startswith("3 collapse warning(s)")


def test_events_reach_tensorboard(tiny, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = tiny(train={"steps": 12, "checkpoint_every": 4, "tensorboard": True})
    _poison(monkeypatch, at_step=6)
    run_dir, _ = train(config, quiet=True)
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    assert {"health/rollbacks", "health/lr_scale"} <= set(events.Tags()["scalars"])
    assert events.Scalars("health/lr_scale")[0].value == 0.5


def test_cli_prints_the_health_line_and_info_lists_events(tmp_path, capsys, monkeypatch):
    tiny_args = ["--data", "digits", "--resolution", "8", "--latent-dim", "8", "--g-width", "8"]
    tiny_args += ["--d-width", "8", "--batch-size", "16", "--log-every", "2", "--quiet"]
    tiny_args += ["--checkpoint-every", "4", "--sample-every", "0", "--no-tensorboard"]
    tiny_args += ["--out", str(tmp_path), "--steps", "12"]
    assert main(["train", *tiny_args, "--name", "ok"]) == 0
    out = capsys.readouterr().out
    assert "ganforge: health: healthy" in out
    assert main(["info", str(tmp_path / "ok")]) == 0
    assert "health     no events" in capsys.readouterr().out
    _poison(monkeypatch, at_step=6)
    assert main(["train", *tiny_args, "--name", "nan", "--max-rollbacks", "2"]) == 0
    assert "ganforge: health: 1 rollback(s)" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "nan")]) == 0
    out = capsys.readouterr().out
    assert "health     1 event(s)" in out
    assert "step 8: training diverged: non-finite loss at step 7; rolled back to step 4" in out
    assert main(["info", str(tmp_path / "nan"), "--json", "-"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["health_events"][0]["to_step"] == 4 and "kind" not in info["last_log"]
    assert main(["train", *tiny_args, "--monitor", "maybe"]) == 2
    assert "expected on or off, got 'maybe'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "train,pattern",
    [
        ({"rollback_lr_factor": 0.0}, "--rollback-lr-factor must be in"),
        ({"max_rollbacks": -1}, "--max-rollbacks must be >= 0"),
        ({"collapse_ratio": 1.5}, "collapse_ratio in"),
    ],
)
def test_bad_monitor_settings(tiny, train, pattern):
    with pytest.raises(GanforgeError, match=pattern):
        Trainer(tiny(train=train))


def test_no_snapshot_while_collapsed(tiny):
    """A collapsed state is never kept as the last good one."""
    real = Trainer(tiny(train={"steps": 3, "checkpoint_every": 3}))
    real.fit()
    assert real.monitor._snapshot["step"] == 3
    real.monitor._collapsed.add("modes")  # a signal the logs of this run never clear
    real.config.train.steps = 6
    real.fit()  # neither at the start of fit() nor at the checkpoint step 6
    assert real.monitor._snapshot["step"] == 3
    real.monitor._collapsed.clear()
    real.monitor.on_step_end(real)
    assert real.monitor._snapshot["step"] == 6


# ---- an unusable generator: the run FAILED, said plainly; healthy runs never flagged ----------

# A 16x16 DCGAN at lr 1.0 (the `--lr-g 1.0 --lr-d 1.0` failure, small): from about step 20 D is
# right on every real and fake with loss 0 and G's output is constant (fake diversity ~1e-5).
BROKEN = {
    "data": {"resolution": 16},
    "model": {"g_width": 16, "d_width": 16, "latent_dim": 16},
    "train": {"batch_size": 32, "lr_g": 1.0, "lr_d": 1.0, "log_every": 10, "sample_every": 0},
}


def _broken(tiny, **train):
    sections = {k: dict(v) for k, v in BROKEN.items()}
    sections["train"].update(train)
    return tiny(**sections)


@pytest.mark.parametrize(
    "steps,configured,expected",
    [
        (300, 1000, 50),  # a tenth is 30: at least 50 steps
        (2000, 1000, 200),
        (50_000, 1000, 1000),  # never longer than divergence_window
        (1200, 300, 120),  # benchmarks/instability.py's settings
        (5000, 0, 0),  # 0: the window rules are off
    ],
)
def test_the_unusable_window_scales_with_the_run(steps, configured, expected):
    assert window_for(TrainConfig(steps=steps, divergence_window=configured)) == expected


def _entry(acc=0.7, d=1.2, g=1.0, diversity=0.4):
    return {
        "d_acc_real": acc,
        "d_acc_fake": acc,
        "d_loss": d,
        "g_loss": g,
        "fake_diversity": diversity,
    }


@pytest.mark.parametrize(
    "logs,family,loss,reason",
    [
        ([_entry(diversity=0.0)] * 4, "unconditional", "nonsaturating", "output is constant"),
        ([_entry(diversity=0.004)] * 4, "pix2pix", "nonsaturating", "output is constant"),
        ([_entry(diversity=0.0, d=-3.0)] * 4, "unconditional", "wasserstein", "output is constant"),
        ([_entry(1.0, 0.0, 316.0)] * 4, "unconditional", "nonsaturating", "D wins outright"),
        ([_entry(1.0, 0.0, 316.0)] * 4, "conditional", "hinge", "D wins outright"),
        ([_entry(1.0, 0.0, 316.0)] * 4, "pix2pix", "nonsaturating", None),  # its L1 term
        ([_entry(1.0, 0.0, 316.0)] * 4, "unconditional", "wasserstein", None),  # no sign
        ([_entry()] * 4, "unconditional", "nonsaturating", None),  # healthy
        # D certain at one log only, or a constant output at one log only: not the whole window
        ([_entry(), _entry(1.0, 0.0), _entry(), _entry()], "unconditional", "nonsaturating", None),
        ([_entry(diversity=0.0), _entry()] * 2, "unconditional", "nonsaturating", None),
        # D strong but not certain while G's loss rises: the young healthy 16x16 run
        ([_entry(1.0, 0.19, g) for g in (1.6, 2.0, 2.4, 2.7)], "unconditional", "hinge", None),
    ],
)
def test_unusable_generator_rule(logs, family, loss, reason):
    monitor = HealthMonitor(TrainConfig(loss=loss, steps=1000), stream=None)  # window: 100
    trainer = _fake_trainer()
    trainer.family = SimpleNamespace(name=family)
    raised = None
    with pytest.raises(RollbackNeeded) if reason else contextlib.nullcontext() as caught:
        for i, scalars in enumerate([_entry()] + logs):  # the first log only anchors
            trainer.step = 50 * (i + 1)
            monitor.on_log(trainer, scalars)
    if reason:
        raised = caught.value
        assert reason in str(raised) and "over 100 steps" in str(raised)
        assert trainer.step == 150  # the first log with a full window of failure behind it
        assert raised.exit_code == 1


def test_a_broken_run_stops_failed_within_its_window(tiny):
    trainer = Trainer(_broken(tiny, steps=100, max_rollbacks=0))
    with pytest.raises(GanforgeError, match=r"the run FAILED: (the generator's output is "
                       r"constant|D wins outright).* over 50 steps") as caught:  # fmt: skip
        trainer.fit()
    assert caught.value.exit_code == 1
    assert [e["event"] for e in trainer.monitor.events if e["event"] != "collapse"] == ["stopped"]
    assert trainer.monitor.events[-1]["step"] <= 80


def test_a_run_too_short_for_the_window_ends_failed_and_saved(tiny):
    """No window fits in 40 steps: the end-of-run verdict says FAILED; what exists is saved."""
    config = _broken(tiny, steps=40, checkpoint_every=100)
    run_dir, summary = train(config, quiet=True)
    assert summary["failed"] and re.search("output is constant|D wins outright", summary["failed"])
    assert summary["health"].startswith(f"FAILED: {summary['failed']}; lower --lr-g/--lr-d")
    assert (run_dir / "generator.pt").exists() and (run_dir / "checkpoints" / "last.pt").exists()
    (event,) = [e for e in _health(run_dir) if e["event"] == "failed"]
    assert event["step"] == 40 and event["reason"] == summary["failed"]
    history = load_file(run_dir / "checkpoints" / "last.pt")["history"]
    assert event in history  # `ganforge info RUN` lists it


def test_healthy_runs_are_not_flagged(tiny):
    """The same 16x16 nets at the default lr: D is right on ~100% with G's loss rising for most
    of the run (common early on), but its loss stays ~0.2 and G's output varies."""
    config = _broken(tiny, steps=100, lr_g=2e-4, lr_d=2e-4)
    summary = Trainer(config).fit()
    assert summary["failed"] is None and summary["health"].startswith("healthy")
    # (tiny digits over 200 steps: test_healthy_run_is_never_rolled_back_and_monitor_...)


@pytest.mark.slow  # 300 steps of the 32x32 preset, with its rollbacks: minutes on one core
def test_the_reported_lr_1_run_fails_and_says_so(tmp_path, capsys):
    argv = ["train", "--preset", "digits-dcgan", "--lr-g", "1.0", "--lr-d", "1.0", "--steps", "300"]
    code = main([*argv, "--out", str(tmp_path), "--name", "lr1", "--no-tensorboard"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "run saved to" not in out
    line = err.strip().splitlines()[-1]
    assert line.startswith("ganforge: error: the run FAILED: ") and str(tmp_path / "lr1") in line


@pytest.mark.slow  # the default preset for 300 steps: about a minute on one core
def test_the_default_preset_is_healthy_over_a_few_hundred_steps(tmp_path, capsys):
    code = main(["train", "--steps", "300", "--out", str(tmp_path), "--name", "ok", "--quiet"])
    out, _ = capsys.readouterr()
    assert code == 0 and "ganforge: health: healthy" in out and "run saved to" in out
