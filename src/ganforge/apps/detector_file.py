"""The anomaly detector file (`detector.pt`, format ``ganforge-anomaly``): the config, both
networks' live weights, the input shape, column names and standardisation, the held-out scores
and the map scale; loaded with weights_only=True, every entry checked before use."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ganforge.config import Config
from ganforge.errors import GanforgeError

if TYPE_CHECKING:
    from ganforge.apps.anomaly import AnomalyDetector

DETECTOR_FORMAT = "ganforge-anomaly"
DETECTOR_FILE = "detector.pt"
METHODS = ("ganomaly", "fanogan")

# What a detector file must hold, and its types (checked on load: never a KeyError later).
_DETECTOR_ENTRIES = {
    "method": str,
    "config": dict,
    "generator": dict,
    "discriminator": dict,
    "kind": str,
    "input_shape": (list, tuple),
    "resolution": (int, type(None)),
    "columns": (list, type(None)),
    "mean": (torch.Tensor, type(None)),
    "std": (torch.Tensor, type(None)),
    "holdout_scores": torch.Tensor,
    "map_scale": (float, int, type(None)),
    "fpr": (float, int),
    "holdout": (float, int),
    "seed": int,
}


def save_detector(detector: AnomalyDetector, path: str | Path) -> Path:
    """Write the fitted detector (weights, config, calibration) to one torch file."""
    from ganforge.training.checkpoint import FORMAT_VERSION, atomic_save

    state = {
        "format": DETECTOR_FORMAT,
        "format_version": FORMAT_VERSION,
        "method": detector.method,
        "config": detector.config_.to_dict(),
        "generator": detector.generator_.state_dict(),
        "discriminator": detector.discriminator_.state_dict(),
        "kind": detector.kind_,
        "input_shape": list(detector.input_shape_),
        "resolution": getattr(detector, "resolution_", None),
        "columns": detector.columns_,
        "mean": detector.mean_,
        "std": detector.std_,
        "holdout_scores": torch.from_numpy(detector.holdout_scores_),
        "map_scale": detector.map_scale_,
        "fpr": detector.fpr,
        "holdout": detector.holdout,
        "seed": detector.seed,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(state, path)
    return path


def load_detector(cls: type, run_or_file: str | Path, device: str = "cpu") -> AnomalyDetector:
    """A detector saved by `fit(run_dir=...)` or `save`: a run directory or detector file."""
    from ganforge.training.checkpoint import load_file, rebuild

    path = Path(run_or_file)
    if not path.exists():
        raise GanforgeError("no such run directory or detector file", str(path))
    if path.is_dir():
        path = path / DETECTOR_FILE
        if not path.is_file():
            raise GanforgeError(
                "no anomaly detector in this run directory",
                str(path.parent),
                "fit one with `ganforge anomaly fit --data ... --run-dir RUN`",
            )
    state = load_file(path, (DETECTOR_FORMAT,), _DETECTOR_ENTRIES)
    known = state["kind"] in ("image", "table") and state["method"] in METHODS
    if not known:
        raise GanforgeError(
            f"damaged ganforge anomaly detector: kind {state['kind']!r}, method "
            f"{state['method']!r}",
            str(path),
            "fit it again with `ganforge anomaly fit`",
        )
    detector = cls(
        state["method"],
        holdout=state["holdout"],
        fpr=state["fpr"],
        seed=state["seed"],
        resolution=state["resolution"],
        device=device,
    )
    detector.kind_, detector.input_shape_ = state["kind"], tuple(state["input_shape"])
    detector.resolution_ = state["resolution"]
    detector.columns_ = state["columns"]
    detector.mean_, detector.std_ = state["mean"], state["std"]
    detector.holdout_scores_ = state["holdout_scores"].numpy()
    detector.map_scale_ = state["map_scale"]
    detector.run_dir_ = path.parent
    config = Config.from_dict(state["config"], str(path))
    networks = (state["generator"], state["discriminator"])
    # Rebuilt from the file's own config: a damaged one (or weights that do not fit it)
    # is one line naming the file.
    rebuild(lambda: detector._use_networks(config, *networks), path, "a ganforge anomaly detector")
    return detector
