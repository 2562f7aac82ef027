"""Metrics during training: every N steps, evaluate the sampling generator, log, keep best.pt."""

from __future__ import annotations

import math
import sys
from typing import Any

import torch

from ganforge.config import Config
from ganforge.metrics.reference import default_extractor, default_reference
from ganforge.training.callbacks import Callback, MetricsLogger

# Direction of each logged value: True when higher is better.
HIGHER_IS_BETTER = {
    "fid": False,
    "kid_mean": False,
    "is_mean": True,
    "precision": True,
    "recall": True,
    "density": True,
    "coverage": True,
    "modes": True,
    "high_quality": True,
    "mode_kl": False,
    "modes_under_half": False,
}
_FIRST_VALUE = {
    "fid": "fid",
    "kid": "kid_mean",
    "is": "is_mean",
    "pr": "precision",
    "dc": "coverage",
    "stacked-modes": "mode_kl",
}


def evaluate_trainer(trainer, config: Config, extractor=None) -> dict[str, Any]:
    """Evaluate the trainer's sampling generator now; toy 2-D data gets mode coverage."""
    n = config.eval.n
    g = torch.Generator(trainer.device).manual_seed(config.train.seed + 7)
    meta = trainer.dataset.meta
    if not trainer.dataset.is_image and "centers" in meta:
        from ganforge.metrics.modes import mode_coverage

        result = mode_coverage(
            trainer.generate(n, g).cpu(), torch.tensor(meta["centers"]), meta["std"]
        )
        keys = ("modes", "high_quality", "mode_kl", "modes_under_half")
        return {key: result[key] for key in keys}
    from ganforge.metrics import evaluate

    k = config.model.num_classes if trainer.family.conditional else 0

    def sample(batch_size: int) -> torch.Tensor:
        labels = torch.randint(k, (batch_size,), device=trainer.device, generator=g) if k else None
        return trainer.generate(batch_size, g, labels)

    reference = default_reference(config) or trainer.dataset
    result = evaluate(
        sample,
        reference,
        config.eval.metrics,
        n=n,
        extractor=extractor or default_extractor(config),
        device=str(trainer.device),
        weights=config.eval.weights or None,
    )
    return {k: v for k, v in result.items() if isinstance(v, (int, float)) and k != "seconds"}


def eval_key(metrics: str) -> str:
    """The logged value that ranks evaluations (and picks best.pt): the first metric's."""
    first = metrics.split(",")[0].strip()
    return _FIRST_VALUE.get(first, first)


def best_eval(evals: list[dict[str, Any]], metrics: str) -> dict[str, Any] | None:
    """The best of a run's eval entries by its first metric (mode coverage for toy data)."""
    key = eval_key(metrics)
    if evals and all(key not in e for e in evals):
        key = "high_quality"
    scored = [e for e in evals if isinstance(e.get(key), (int, float)) and not math.isnan(e[key])]
    if not scored:
        return None
    pick = max if HIGHER_IS_BETTER.get(key, False) else min
    return pick(scored, key=lambda e: e[key])


# The values an eval line shows, in this order (the rest stay in metrics.jsonl).
_SHOWN = ("fid", "kid_mean", "is_mean", "precision", "recall", "density", "coverage")
_SHOWN += ("class_entropy_bits", "classes_under_half", "modes", "high_quality", "mode_kl")
_SHOWN += ("modes_under_half",)


def eval_line(entry: dict[str, Any]) -> str:
    """`step 1000: fid=12.34  precision=0.71 ...` for the console and `ganforge info`."""
    values = "  ".join(
        f"{k}={entry[k]:.4g}" for k in _SHOWN if isinstance(entry.get(k), (int, float))
    )
    return f"step {entry.get('step')}: {values}"


class EvalCallback(Callback):
    """Every `every` steps: metrics into metrics.jsonl/TensorBoard/history; best.pt by the first."""

    def __init__(self, config: Config, logger: MetricsLogger | None = None):
        self.config, self.logger = config, logger
        self.every = config.eval.every
        self.key = eval_key(config.eval.metrics)
        self.best: float | None = None
        self.extractor = None

    def on_train_start(self, trainer) -> None:
        # The best value so far survives a resume: it is in the checkpointed history.
        for entry in trainer.history:
            if entry.get("kind") == "eval" and self.key in entry:
                self._is_better(entry[self.key])
        if self.extractor is None and trainer.dataset.is_image:
            from ganforge.metrics.features import get_extractor

            self.extractor = get_extractor(
                default_extractor(self.config),
                str(trainer.device),
                self.config.eval.weights or None,
            )

    def _is_better(self, value: float) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        higher = HIGHER_IS_BETTER.get(self.key, False)
        if self.best is None or (value > self.best if higher else value < self.best):
            self.best = value
            return True
        return False

    def on_step_end(self, trainer) -> None:
        if self.every <= 0 or trainer.step % self.every != 0 or not trainer.dist.is_main:
            return
        values = evaluate_trainer(trainer, self.config, self.extractor)
        if self.key not in values:  # toy data: mode coverage instead of image metrics
            self.key = "high_quality"
        entry = {"kind": "eval", "step": trainer.step, **values}
        trainer.history.append(entry)
        if self.logger is not None:
            self.logger.log(trainer, entry, prefix="eval")
        better = self._is_better(values.get(self.key))
        _console(
            f"ganforge: eval {eval_line(entry)}" + ("  (best so far: best.pt)" if better else "")
        )
        if better:
            trainer.check_finite()
            trainer.save_checkpoint(name="best.pt")


def _console(line: str) -> None:
    """A line on stderr that does not break a running tqdm bar."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)
