"""Runs on disk: pick and prepare the run directory, wire the callbacks, train or resume."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ganforge.config import Config
from ganforge.errors import GanforgeError
from ganforge.training import distributed
from ganforge.training.callbacks import Checkpointer, ConsoleProgress, MetricsLogger, SampleGrid
from ganforge.training.checkpoint import latest_checkpoint, load_file
from ganforge.training.evaluation import EvalCallback
from ganforge.training.loop import Trainer, resolve_device


def default_run_name(config: Config) -> str:
    """`<preset or family-arch>-<YYYYmmdd-HHMMSS>`."""
    stem = config.preset or f"{config.model.family}-{config.model.arch}"
    return f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def prepare_run_dir(config: Config, resuming: bool) -> Path:
    """Create runs/<name>/ (checking it is writable) and refuse to train over an existing run."""
    if not config.name:
        config.name = default_run_name(config)
    run_dir = Path(config.out) / config.name
    if not resuming and (run_dir / "checkpoints" / "last.pt").exists():
        raise GanforgeError(
            "run directory already holds a trained run",
            str(run_dir),
            "pass --resume to continue it, or choose another --name",
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise GanforgeError(
            f"cannot write the run directory ({e.strerror})", str(run_dir), "choose another --out"
        ) from None
    return run_dir


def config_from_checkpoint(path: str | Path) -> Config:
    """The config a checkpoint (or run directory) was trained with."""
    file = latest_checkpoint(path)
    return Config.from_dict(load_file(file)["config"], str(file))


def standard_callbacks(config: Config, run_dir: Path, quiet: bool) -> list:
    """Console progress, metrics.jsonl/TensorBoard, sample grids and checkpoints."""
    t = config.train
    logger = MetricsLogger(run_dir, t.tensorboard)
    callbacks = [ConsoleProgress(quiet), logger, SampleGrid(run_dir, t.sample_every, logger=logger)]
    if config.eval.every > 0:
        callbacks.append(EvalCallback(config, logger))
    return callbacks + [Checkpointer(t.checkpoint_every)]


def train(
    config: Config,
    resume: str | Path | None = None,
    quiet: bool = False,
    callbacks: list | None = None,
    dataset=None,
) -> tuple[Path, dict[str, Any]]:
    """Train (or resume) a run on disk; returns (run directory, summary)."""
    info = distributed.setup(resolve_device(config.train.device).type)
    if info.is_main:
        run_dir = prepare_run_dir(config, resuming=resume is not None)
    # Every rank must write into the one directory rank 0 chose (its name holds a timestamp).
    config.name = distributed.broadcast_object(config.name)
    run_dir = Path(config.out) / config.name
    distributed.barrier()
    trainer = Trainer(config, run_dir, dataset=dataset)
    if resume is not None:
        trainer.resume(latest_checkpoint(resume))
        if trainer.step >= config.train.steps:
            raise GanforgeError(
                f"the run already has {trainer.step} steps",
                str(run_dir),
                "pass a larger --steps to train further",
            )
    if trainer.dist.is_main:
        config.save(run_dir / "config.toml")
    trainer.callbacks = standard_callbacks(config, run_dir, quiet) + list(callbacks or [])
    summary = trainer.fit()
    summary["run_dir"] = str(run_dir)
    return run_dir, summary
