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
- Collapse: the fakes' diversity (batch std of fakes over batch std of reals, logged by the
  family), or at eval time the class entropy (MNIST-like data) or the modes recovered (toy
  data), falls below `collapse_ratio` (0.5) of its best value so far. A warning, not a rollback
  (rolling back on it stopped every run of benchmarks/instability.py early: the diversity of
  young generators swings too much); no state is kept as "last good" while collapsed.

Action on NaN/divergence: restore the last good state exactly (an in-memory CPU copy taken at
each checkpoint interval while healthy, or the starting state), multiply both learning rates
by `rollback_lr_factor` (0.5), draw a fresh data order, and continue; after `max_rollbacks` (3)
stop with one clear error. Every event goes to the console, metrics.jsonl (`"kind": "health"`),
TensorBoard (`health/...`) and the checkpointed history (`ganforge info RUN` lists them).
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


class RollbackNeeded(GanforgeError):
    """Raised inside the loop when its state is unhealthy; the monitor catches it and rolls back.

    Its message is the error a run without the monitor stops with, so if it ever escapes the
    loop the user still reads one clear line.
    """

    def __init__(self, reason: str, where: str | None = None, fix: str | None = None):
        super().__init__(reason, where, fix)
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
        # (step, min D accuracy, G loss) of the logs spanning the divergence window
        self._recent: list[tuple[int, float, float]] = []
        self._best: dict[str, float] = {}
        self._collapsed: set[str] = set()

    # ---- hooks (called by the Trainer) -------------------------------------------------------
    def on_train_start(self, trainer) -> None:
        """Find the metrics logger; the starting state is the first rollback target."""
        self.logger = next((c for c in trainer.callbacks if isinstance(c, MetricsLogger)), None)
        healthy = not self._winning and not self._collapsed
        if (self._snapshot is None or healthy) and (
            all_finite(trainer.generator) and all_finite(trainer.discriminator)
        ):
            self._take_snapshot(trainer)

    def on_log(self, trainer, scalars: dict[str, float]) -> None:
        """At each logging interval: collapse warnings, then the divergence check."""
        self._check_collapse(trainer, "fake_diversity", scalars.get("fake_diversity"))
        reason = self._divergence(trainer, scalars)
        if trainer.dist.world_size > 1:  # every rank must roll back together: rank 0 decides
            reason = distributed.broadcast_object(reason)
        if reason is not None:
            raise RollbackNeeded(reason, fix="lower --lr-d, add --r1 or --gp, or try --diffaugment")

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
                    f"training diverged: non-finite weights at step {trainer.step}"
                )
            if not self._winning and not self._collapsed:  # only healthy states are kept
                self._take_snapshot(trainer)

    # ---- detection ---------------------------------------------------------------------------
    def _divergence(self, trainer, scalars: dict[str, float]) -> str | None:
        """The reason to roll back when D has won for a sustained window, else None."""
        t = self.t
        acc_real, acc_fake = scalars.get("d_acc_real"), scalars.get("d_acc_fake")
        g_loss = scalars.get("g_loss")
        if t.divergence_window <= 0 or t.loss == "wasserstein" or None in (acc_real, acc_fake):
            return None
        if g_loss is None:
            return None
        step, recent = trainer.step, self._recent
        recent.append((step, min(acc_real, acc_fake), g_loss))
        # Keep one log at or before the window's start: it anchors the G loss comparison.
        while len(recent) > 1 and recent[1][0] <= step - t.divergence_window:
            recent.pop(0)
        start, _, g_start = recent[0]
        if step - start < t.divergence_window:
            return None
        mean_acc = sum(acc for _, acc, _ in recent[1:]) / (len(recent) - 1)
        if mean_acc >= t.divergence_acc and g_loss > g_start:
            return (
                f"training diverged: D accuracy {mean_acc:.3f} on real and fake over "
                f"{step - start} steps while G loss rose {g_start:.3g} -> {g_loss:.3g}"
            )
        return None

    @property
    def _winning(self) -> bool:
        """D's accuracy at the last log reached the divergence threshold (a suspect state)."""
        return bool(self._recent) and self._recent[-1][1] >= self.t.divergence_acc

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
                f"{problem.reason} ({self.rollbacks} rollback(s) did not help)",
                problem.where,
                problem.fix or "lower --lr-g/--lr-d",
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
        """One line: healthy, or how many rollbacks and collapse warnings there were."""
        rollbacks = [e for e in self.events if e["event"] == "rollback"]
        collapses = [e for e in self.events if e["event"] == "collapse"]
        if not rollbacks and not collapses:
            return "healthy (no NaN/Inf, divergence or collapse detected)"
        parts = []
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
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict saved."""
        self.rollbacks = int(state["rollbacks"])
        self.events = [dict(e) for e in state["events"]]
        self._recent = [tuple(entry) for entry in state.get("recent", [])]
        self._best = dict(state["best"])
        self._collapsed = set(state["collapsed"])
        self._snapshot_events = min(self._snapshot_events, len(self.events))
