"""The health monitor: notices NaN/Inf, divergence and mode collapse; rolls back and retries.

What it watches costs no extra host syncs: the loop already accumulates losses, D accuracy on
real and fake, gradient norms and the fakes' diversity on the device and reads them once per
logging interval; the monitor looks at those means, at the entries the evaluation callback adds
(class entropy, modes recovered), and checks the weights at checkpoint intervals.

Detection (thresholds are TrainConfig fields):
- NaN/Inf: a non-finite D or G loss (the loop's own check) or weight (at checkpoint intervals).
- Divergence ("D wins completely"): over the last `divergence_window` steps (1000), the lower
  of D's accuracies on real and on fake averages >= `divergence_acc` (0.99; one noisy log does
  not break the window) and the G loss rose across it. Not checked for the wasserstein loss,
  whose logits have no meaningful sign.
- An unusable generator, at every log of a window that scales with the run (`window_for`: a
  tenth of it, 50 to `divergence_window` steps): its output is constant (fake diversity
  <= DEAD_DIVERSITY, 1% of the data's: the all-white samples of lr 1.0), or D wins outright (the
  lower accuracy >= `divergence_acc` and D's loss <= SURE_D_LOSS: D is certain of every sample,
  while G's loss stays flat, so the divergence rule never fires). The second only for families
  whose G learns from D alone (unconditional, conditional): SRGAN, pix2pix, CycleGAN and GANomaly
  have a content term that keeps G useful while D wins.
- Collapse: the fakes' diversity (batch std of fakes over batch std of reals, logged by the
  family), or at eval time the class entropy (MNIST-like data) or the modes recovered (toy
  data), falls below `collapse_ratio` (0.5) of its best value so far. A warning, not a rollback
  (rolling back on it stopped every run of benchmarks/instability.py early: the diversity of
  young generators swings too much); no state is kept as "last good" while collapsed.

Action on NaN/divergence/an unusable generator: restore the last good state exactly (an
in-memory CPU copy taken at each checkpoint interval while healthy, or the starting state),
multiply both learning rates by `rollback_lr_factor` (0.5), draw a fresh data order, and
continue; after `max_rollbacks` (3) stop with one clear error (exit code 1: the run failed).
At the end of a run (`verdict`), a generator that is unusable at the last log marks the run
FAILED: the summary says why, and `ganforge train` exits 1 after saving what exists. Every
event goes to the console, metrics.jsonl (`"kind": "health"`), TensorBoard (`health/...`) and
the checkpointed history (`ganforge info RUN` lists them).
"""

from __future__ import annotations

import math
import sys
from typing import Any

import torch

from ganforge.errors import GanforgeError
from ganforge.training import distributed
from ganforge.training.callbacks import MetricsLogger
from ganforge.training.checkpoint import all_finite

# An unusable generator (module docstring): thresholds far from any healthy run's values (a
# healthy DCGAN's fake diversity stays around 0.3-1.5 and its D loss around 0.3-1.4).
DEAD_DIVERSITY = 0.01  # fake diversity at or below this: G's output is constant
SURE_D_LOSS = 1e-3  # D loss at or below this (with D's accuracy >= divergence_acc): D is certain
ADVERSARIAL_ONLY = ("unconditional", "conditional")  # families whose G learns from D alone
ADVICE = "lower --lr-g/--lr-d, add --r1 or --gp, or try --diffaugment"


def window_for(train_config) -> int:
    """The unusable-generator rule's window in steps: a tenth of the run, at least 50 steps and
    at most `divergence_window` (0: the window rules are off).

    Its signals (a constant output, a D loss of ~0 at 100% accuracy) never occur in a healthy
    run, so a short window cannot flag one; it only has to outlast a transient, and a tenth
    catches a run that fails early with time left for the retries (`max_rollbacks`). Below 50
    steps a window's means swing with every batch. The divergence rule keeps the full
    `divergence_window`: D ahead while G's loss rises is common early in healthy runs (a 16x16
    DCGAN at lr 2e-4: 100% accuracy over 150 steps, G loss 0.7 -> 2.7).
    """
    if train_config.divergence_window <= 0:
        return 0
    return min(train_config.divergence_window, max(50, train_config.steps // 10))


class RollbackNeeded(GanforgeError):
    """Raised inside the loop when its state is unhealthy; the monitor catches it and rolls back.

    Its message is the error a run without the monitor stops with, so if it ever escapes the
    loop the user still reads one clear line (exit code 1: the run failed).
    """

    def __init__(self, reason: str, where: str | None = None, fix: str | None = None):
        super().__init__(reason, where, fix, exit_code=1)
        self.reason, self.where, self.fix = reason, where, fix


def cpu_copy(obj: Any) -> Any:
    """A deep copy with every tensor cloned to the CPU (a snapshot live training cannot touch)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(cpu_copy(v) for v in obj)
    return obj


def describe(event: dict[str, Any]) -> str:
    """One line for a health event."""
    kind, step = event.get("event"), event.get("step")
    if kind == "rollback":
        return (
            f"step {step}: {event['reason']}; rolled back to step {event['to_step']}, "
            f"lr x{event['lr_scale']:g}, data reshuffled (rollback {event['rollbacks']})"
        )
    if kind == "stopped":
        return f"step {step}: {event['reason']}; stopped after {event['rollbacks']} rollback(s)"
    if kind == "failed":
        return f"step {step}: the run FAILED: {event['reason']}"
    if kind == "collapse":
        return (
            f"step {step}: possible mode collapse: {event['signal']} fell to "
            f"{event['value']:.4g} (best {event['best']:.4g})"
        )
    return f"step {step}: {event}"


class HealthMonitor:
    """Watches one Trainer (which calls these hooks itself) and rolls it back when it breaks."""

    def __init__(self, train_config, stream=None):
        self.t = train_config
        self.stream = stream or sys.stderr
        self.rollbacks = 0
        self.events: list[dict[str, Any]] = []
        self.logger: MetricsLogger | None = None
        self._snapshot: dict[str, Any] | None = None
        self._snapshot_events = 0  # len(events) when the snapshot was taken
        # (step, min D accuracy, G loss, D loss, fake diversity) of the logs spanning the window;
        # an accuracy of None: not meaningful (wasserstein), any other None: not logged
        self._recent: list[tuple] = []
        self._best: dict[str, float] = {}
        self._collapsed: set[str] = set()
        self._last: tuple | None = None  # the signals of the last log (the end-of-run verdict)
        self.failure: str | None = None  # why this fit()'s final generator is unusable

    # ---- hooks (called by the Trainer) -------------------------------------------------------
    def on_train_start(self, trainer) -> None:
        """Find the metrics logger; the starting state is the first rollback target."""
        self.logger = next((c for c in trainer.callbacks if isinstance(c, MetricsLogger)), None)
        self.failure = None
        healthy = not self._winning and not self._collapsed and not self._dead
        if (self._snapshot is None or healthy) and (
            all_finite(trainer.generator) and all_finite(trainer.discriminator)
        ):
            self._take_snapshot(trainer)

    def on_log(self, trainer, scalars: dict[str, float]) -> None:
        """At each logging interval: collapse warnings, then the divergence and unusable-G checks."""
        self._check_collapse(trainer, "fake_diversity", scalars.get("fake_diversity"))
        self._remember(trainer, scalars)
        reason = self._divergence(trainer) or self._unusable(trainer)
        if trainer.dist.world_size > 1:  # every rank must roll back together: rank 0 decides
            reason = distributed.broadcast_object(reason)
        if reason is not None:
            raise RollbackNeeded(reason, str(trainer.run_dir or "in memory"), ADVICE)

    def on_step_end(self, trainer) -> None:
        """Eval results (collapse); at checkpoint intervals, check and snapshot a healthy state."""
        last = trainer.history[-1] if trainer.history else {}
        if last.get("kind") == "eval" and last.get("step") == trainer.step:
            for signal in ("class_entropy_bits", "modes"):
                self._check_collapse(trainer, signal, last.get(signal))
        every = self.t.checkpoint_every
        if every > 0 and trainer.step % every == 0:
            trainer.check_finite()  # raises RollbackNeeded after a non-finite loss
            if not (all_finite(trainer.generator) and all_finite(trainer.discriminator)):
                raise RollbackNeeded(
                    f"training diverged: non-finite weights at step {trainer.step}",
                    str(trainer.run_dir or "in memory"),
                )
            if not self._winning and not self._collapsed and not self._dead:
                self._take_snapshot(trainer)  # only healthy states are kept

    def verdict(self, trainer) -> str | None:
        """At the end of a run: why its generator is unusable at the last log (an event), or None.

        One log suffices here (it is the mean of its interval): no healthy run ends with a
        constant output or a D that is certain of every sample.
        """
        reason = self._unusable_reason([self._last], trainer) if self._last else None
        if trainer.dist.world_size > 1:
            reason = distributed.broadcast_object(reason)
        self.failure = reason
        if reason is not None:
            self._emit(trainer, {"step": trainer.step, "event": "failed", "reason": reason})
        return reason

    # ---- detection ---------------------------------------------------------------------------
    def _remember(self, trainer, scalars: dict[str, float]) -> None:
        """Keep this log's signals, and the logs spanning the longer window (one at or before its
        start: it anchors the comparisons)."""
        acc_real, acc_fake = scalars.get("d_acc_real"), scalars.get("d_acc_fake")
        acc = None
        if self.t.loss != "wasserstein" and None not in (acc_real, acc_fake):
            acc = min(acc_real, acc_fake)
        step = trainer.step
        entry = (step, acc, scalars.get("g_loss"), scalars.get("d_loss"))
        self._last = (*entry, scalars.get("fake_diversity"))
        window = self.t.divergence_window  # the longer of the two windows
        if window <= 0:  # the window rules are off
            self._recent = []
            return
        recent = self._recent
        recent.append(self._last)
        while len(recent) > 1 and recent[1][0] <= step - window:
            recent.pop(0)

    def _window(self, length: int) -> tuple[int, list[tuple]] | None:
        """(anchor index, the logs after it) of the last `length` steps; None until that full."""
        recent = self._recent
        if not recent:
            return None
        now = recent[-1][0]
        anchors = [i for i, entry in enumerate(recent) if entry[0] <= now - length]
        if not anchors:
            return None
        return anchors[-1], recent[anchors[-1] + 1 :]

    def _divergence(self, trainer) -> str | None:
        """The reason to roll back when D has won for a sustained window, else None."""
        found = self._window(self.t.divergence_window)
        if found is None:
            return None
        anchor, logs = found
        if any(acc is None or g is None for _, acc, g, *_ in self._recent[anchor:]):
            return None
        start, _, g_start, *_ = self._recent[anchor]
        g_loss = logs[-1][2]
        mean_acc = sum(acc for _, acc, *_ in logs) / len(logs)
        if mean_acc >= self.t.divergence_acc and g_loss > g_start:
            return (
                f"training diverged: D accuracy {mean_acc:.3f} on real and fake over "
                f"{trainer.step - start} steps while G loss rose {g_start:.3g} -> {g_loss:.3g}"
            )
        return None

    def _unusable(self, trainer) -> str | None:
        """The reason to roll back when G has been unusable over its (shorter) window, else None."""
        found = self._window(window_for(self.t))
        if found is None:
            return None
        anchor, logs = found
        reason = self._unusable_reason(logs, trainer)
        if reason is None:
            return None
        return f"{reason} over {trainer.step - self._recent[anchor][0]} steps"

    def _unusable_reason(self, logs: list[tuple], trainer) -> str | None:
        """What makes G unusable at every one of `logs`: a constant output, or D winning outright."""
        diversity = [entry[4] for entry in logs]
        if all(d is not None and d <= DEAD_DIVERSITY for d in diversity):
            return (
                f"the generator's output is constant (fake diversity {max(diversity):.2g} "
                "of the data's)"
            )
        if getattr(trainer.family, "name", None) not in ADVERSARIAL_ONLY:
            return None
        sure = [
            acc is not None and acc >= self.t.divergence_acc and d is not None and d <= SURE_D_LOSS
            for _, acc, _, d, _ in logs
        ]
        if all(sure):
            acc, d = min(e[1] for e in logs), max(e[3] for e in logs)
            return f"D wins outright (right on {100 * acc:.1f}% of real and fake, D loss {d:.2g})"
        return None

    @property
    def _winning(self) -> bool:
        """D's accuracy at the last log reached the divergence threshold (a suspect state)."""
        acc = self._recent[-1][1] if self._recent else None
        return acc is not None and acc >= self.t.divergence_acc

    @property
    def _dead(self) -> bool:
        """G's output was constant at the last log (never a state to keep as the last good one)."""
        diversity = self._recent[-1][4] if self._recent else None
        return diversity is not None and diversity <= DEAD_DIVERSITY

    def _check_collapse(self, trainer, signal: str, value: float | None) -> None:
        if value is None or not math.isfinite(value):
            return
        best = self._best.get(signal)
        if best is None or value > best:
            self._best[signal] = best = value
        if value < self.t.collapse_ratio * best:
            if signal not in self._collapsed:  # once per episode, not at every log
                self._collapsed.add(signal)
                event = {"event": "collapse", "signal": signal, "value": value, "best": best}
                self._emit(trainer, {"step": trainer.step, **event})
        else:
            self._collapsed.discard(signal)

    # ---- action ------------------------------------------------------------------------------
    def _take_snapshot(self, trainer) -> None:
        self._snapshot = cpu_copy(trainer.state_dict())
        self._snapshot_events = len(self.events)

    def roll_back(self, trainer, problem: RollbackNeeded) -> None:
        """Restore the last good state, scale the lrs, reshuffle the data; or stop for good.

        After `max_rollbacks` it raises GanforgeError, leaving the trainer in the last good state.
        """
        t, step = self.t, trainer.step
        if self.rollbacks >= t.max_rollbacks or self._snapshot is None:
            if self._snapshot is not None:  # leave the trainer in its last good state
                self._restore(trainer)
            self._emit(
                trainer,
                {
                    "step": step,
                    "event": "stopped",
                    "reason": problem.reason,
                    "rollbacks": self.rollbacks,
                },
            )
            raise GanforgeError(
                f"the run FAILED: {problem.reason} ({self.rollbacks} rollback(s) did not help)",
                problem.where,
                problem.fix or "lower --lr-g/--lr-d",
                exit_code=1,
            )
        lr_scale = trainer.lr_scale
        self._restore(trainer)
        self.rollbacks += 1
        self._recent, self._collapsed = [], set()  # the restored state is a healthy one
        trainer.lr_scale = lr_scale * t.rollback_lr_factor
        trainer.sampler.reseed(t.seed + 1_000_003 * self.rollbacks + trainer.step)
        event = {
            "step": step,
            "event": "rollback",
            "reason": problem.reason,
            "to_step": trainer.step,
            "lr_scale": trainer.lr_scale,
            "rollbacks": self.rollbacks,
        }
        self._emit(trainer, event)

    def _restore(self, trainer) -> None:
        """Load the snapshot into the trainer; the monitor's own state and events carry on."""
        mine, since_snapshot = self.state_dict(), self.events[self._snapshot_events :]
        # A fresh copy each time: loading must not alias the snapshot, which may serve again.
        trainer.load_state_dict(cpu_copy(self._snapshot))
        self.load_state_dict(mine)
        trainer.history.extend(since_snapshot)  # events outlive the steps they interrupted

    def _emit(self, trainer, event: dict[str, Any]) -> None:
        entry = {"kind": "health", **event}
        self.events.append(entry)
        trainer.history.append(entry)
        if self.logger is not None:
            self.logger.log(trainer, entry, prefix="health")
        if trainer.dist.is_main:
            print(f"ganforge: health: {describe(entry)}", file=self.stream, flush=True)

    # ---- reporting and state -----------------------------------------------------------------
    def summary(self) -> str:
        """One line: FAILED and why, healthy, or how many rollbacks and collapse warnings."""
        rollbacks = [e for e in self.events if e["event"] == "rollback"]
        collapses = [e for e in self.events if e["event"] == "collapse"]
        parts = [f"FAILED: {self.failure}; {ADVICE}"] if self.failure else []
        if not rollbacks and not collapses and not parts:
            return "healthy (no NaN/Inf, divergence or collapse detected)"
        if rollbacks:
            steps = ", ".join(str(e["step"]) for e in rollbacks)
            lr = rollbacks[-1]["lr_scale"]
            parts.append(f"{len(rollbacks)} rollback(s) (at steps {steps}; lr now x{lr:g})")
        if collapses:
            steps = ", ".join(str(e["step"]) for e in collapses)
            parts.append(f"{len(collapses)} collapse warning(s) (at steps {steps})")
        return "; ".join(parts) + "; details: ganforge info RUN"

    def state_dict(self) -> dict[str, Any]:
        """Counters, events and detector state (saved in checkpoints: resume stays exact)."""
        return {
            "rollbacks": self.rollbacks,
            "events": [dict(e) for e in self.events],
            "recent": [list(entry) for entry in self._recent],
            "best": dict(self._best),
            "collapsed": sorted(self._collapsed),
            "last": list(self._last) if self._last else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict saved."""
        self.rollbacks = int(state["rollbacks"])
        self.events = [dict(e) for e in state["events"]]
        # checkpoints before the unusable-G rule kept (step, accuracy, G loss) only
        self._recent = [(*e, *[None] * (5 - len(e))) for e in state.get("recent", [])]
        self._best = dict(state["best"])
        self._collapsed = set(state["collapsed"])
        self._last = tuple(state["last"]) if state.get("last") else None
        self._snapshot_events = min(self._snapshot_events, len(self.events))
