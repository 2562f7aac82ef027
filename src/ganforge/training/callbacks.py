"""Callbacks of the one loop: console progress, metrics.jsonl + TensorBoard, sample grids, checkpoints.

Each runs on rank 0 only where it writes files; each reads device values only at its own interval.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ganforge.images import save_grid, save_scatter


class Callback:
    """Hooks the Trainer calls; override what you need."""

    def on_train_start(self, trainer) -> None:
        """Before the first step of this fit() call."""

    def on_log(self, trainer, scalars: dict[str, float]) -> None:
        """At each logging interval, with the interval's mean losses and statistics."""

    def on_step_end(self, trainer) -> None:
        """After every step (keep it cheap: no host sync)."""

    def on_train_end(self, trainer) -> None:
        """After the last step, or when training stops on an error (trainer.failed is then True)."""


def _fmt(scalars: dict[str, float], keys=("d_loss", "g_loss")) -> str:
    return " ".join(f"{k}={scalars[k]:.4f}" for k in keys if k in scalars)


class ConsoleProgress(Callback):
    """A tqdm bar (step, it/s, D and G loss, ETA) on a terminal; plain lines otherwise or when quiet."""

    def __init__(self, quiet: bool = False, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.bar = None
        self._t0, self._done = time.perf_counter(), 0

    def on_train_start(self, trainer) -> None:
        if not trainer.dist.is_main:
            return
        self._t0, self._done = time.perf_counter(), 0  # steps run (a rollback rewinds the step)
        if trainer.run_dir is not None:  # where to look while it trains (and after a crash)
            print(f"ganforge: run directory {trainer.run_dir}", file=self.stream, flush=True)
        print(f"ganforge: speed: {trainer.speed_notes}", file=self.stream, flush=True)
        if not self.quiet and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=trainer.config.train.steps,
                initial=trainer.step,
                unit="step",
                file=self.stream,
                dynamic_ncols=True,
            )

    def on_step_end(self, trainer) -> None:
        self._done += 1
        if self.bar is not None:
            self.bar.update(1)

    def on_log(self, trainer, scalars: dict[str, float]) -> None:
        if not trainer.dist.is_main:
            return
        if self.bar is not None:
            self.bar.set_postfix_str(_fmt(scalars), refresh=False)
            return
        total = trainer.config.train.steps
        rate = self._done / max(time.perf_counter() - self._t0, 1e-9)
        eta = (total - trainer.step) / rate if rate > 0 else 0.0
        print(
            f"step {trainer.step}/{total}  {rate:.1f} it/s  {_fmt(scalars)}  eta {eta:.0f}s",
            file=self.stream,
            flush=True,
        )

    def on_train_end(self, trainer) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class MetricsLogger(Callback):
    """Appends each log to run_dir/metrics.jsonl and to TensorBoard (losses, norms, accuracies)."""

    def __init__(self, run_dir: str | Path, tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        self.tensorboard = tensorboard
        self.writer = None

    def on_train_start(self, trainer) -> None:
        if not trainer.dist.is_main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # The checkpoint's history is authoritative: after a resume, drop logs past its step.
        with open(self.run_dir / "metrics.jsonl", "w") as f:
            for entry in trainer.history:
                f.write(json.dumps(entry) + "\n")
        if self.tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(
                str(self.run_dir / "tensorboard"), purge_step=trainer.step or None
            )

    def log(self, trainer, entry: dict[str, Any], prefix: str = "train") -> None:
        """Write one entry (used by other callbacks too, e.g. evaluation and health events)."""
        if not trainer.dist.is_main:
            return
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(entry) + "\n")
        if self.writer is not None:
            for key, value in entry.items():
                if key not in ("step", "seconds") and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"{prefix}/{key}", value, trainer.step)

    def on_log(self, trainer, scalars: dict[str, float]) -> None:
        self.log(trainer, scalars)

    def add_image(self, tag: str, image, step: int) -> None:
        """An (H, W, C) uint8 image to TensorBoard."""
        if self.writer is not None:
            self.writer.add_image(tag, image, step, dataformats="HWC")

    def on_train_end(self, trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class SampleGrid(Callback):
    """Every `every` steps, samples from one fixed noise batch -> samples/step_XXXXXXX.png."""

    def __init__(
        self,
        run_dir: str | Path,
        every: int,
        n: int = 64,
        seed: int = 1234,
        logger: MetricsLogger | None = None,
    ):
        self.folder = Path(run_dir) / "samples"
        self.every, self.n, self.seed, self.logger = every, n, seed, logger

    def write(self, trainer) -> Path | None:
        """Draw the fixed batch now and save it."""
        if not trainer.dist.is_main:
            return None
        g = torch.Generator(trainer.device).manual_seed(self.seed)  # never the global RNG
        labels = None
        if trainer.family.conditional and trainer.config.model.num_classes:
            k = trainer.config.model.num_classes
            labels = torch.arange(self.n, device=trainer.device) % k
        samples = trainer.generate(self.n, g, labels)
        path = self.folder / f"step_{trainer.step:07d}.png"
        if samples.dim() == 2:
            reference = trainer.dataset.to_model_range(trainer.dataset.data[:2000])
            big = trainer.generate(2000, g, None if labels is None else labels.repeat(32)[:2000])
            save_scatter(big, path, reference)
        else:
            nrow = trainer.config.model.num_classes if labels is not None else None
            save_grid(samples, path, nrow)
            if self.logger is not None:
                from ganforge.images import make_grid

                self.logger.add_image("samples", make_grid(samples, nrow), trainer.step)
        return path

    def on_step_end(self, trainer) -> None:
        if self.every > 0 and trainer.step % self.every == 0:
            self.write(trainer)

    def on_train_end(self, trainer) -> None:
        if not trainer.failed and self.every > 0 and trainer.step % self.every != 0:
            self.write(trainer)


class Checkpointer(Callback):
    """last.pt + step_XXXXXXX.pt every `every` steps (keep K), generator.pt export at the end."""

    def __init__(self, every: int):
        self.every = every

    def on_step_end(self, trainer) -> None:
        if self.every > 0 and trainer.step % self.every == 0:
            trainer.check_finite()  # never write a checkpoint after a NaN step
            trainer.save_checkpoint(periodic=True)

    def on_train_end(self, trainer) -> None:
        if trainer.failed:
            return
        trainer.check_finite()
        if trainer.save_checkpoint(periodic=False) is not None:
            trainer.export_generator()
