"""The anomaly detector file (`detector.pt`, format ``ganforge-anomaly``): the config, both
networks' live weights, the input shape, column names and standardisation, the held-out scores
and the map scale; loaded with weights_only=True, every entry checked before use."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
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


# A detector folder's non-weight state (config.json "state"), as plain JSON, and its types.
_FOLDER_STATE = {
    "method": str,
    "kind": str,
    "input_shape": list,
    "resolution": (int, type(None)),
    "columns": (list, type(None)),
    "holdout_scores": list,
    "map_scale": (float, int, type(None)),
    "fpr": (float, int),
    "holdout": (float, int),
    "seed": int,
}


def save_detector_folder(detector: AnomalyDetector, folder: str | Path) -> Path:
    """The fitted detector as a pretrained folder (config.json + model.safetensors, no pickle)."""
    from ganforge.pretrained import prefixed, save_folder

    tensors = prefixed("generator", detector.generator_.state_dict())
    tensors.update(prefixed("discriminator", detector.discriminator_.state_dict()))
    for name in ("mean", "std"):
        if getattr(detector, f"{name}_") is not None:
            tensors[f"state.{name}"] = getattr(detector, f"{name}_")
    state = {
        "method": detector.method,
        "kind": detector.kind_,
        "input_shape": list(detector.input_shape_),
        "resolution": getattr(detector, "resolution_", None),
        "columns": detector.columns_,
        "holdout_scores": [float(s) for s in detector.holdout_scores_],
        "map_scale": detector.map_scale_,
        "fpr": detector.fpr,
        "holdout": detector.holdout,
        "seed": detector.seed,
    }
    config = detector.config_
    meta = {
        "family": detector.method,
        "config": config.to_dict(),
        "sample_shape": list(config.model.sample_shape),
        "value_range": [-1.0, 1.0] if detector.kind_ == "image" else None,
        "state": state,
    }
    return save_folder(folder, "anomaly-detector", meta, tensors)


def _detector(
    cls: type,
    state: dict,
    device: str,
    standardise: tuple[torch.Tensor | None, torch.Tensor | None],
    holdout_scores: np.ndarray,
    run_dir: Path,
) -> AnomalyDetector:
    """A detector with the settings ``state`` records and its fitted statistics (the mean and
    std of a table's columns, the holdout scores); its networks come after."""
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
    detector.mean_, detector.std_ = standardise
    detector.holdout_scores_ = holdout_scores
    detector.map_scale_ = state["map_scale"]
    detector.run_dir_ = run_dir
    return detector


def load_detector_folder(cls: type, folder: Path, device: str = "cpu") -> AnomalyDetector:
    """A detector from a pretrained folder: kind, state entries and every tensor checked."""
    from ganforge.pretrained import CONFIG_FILE, check_fits, load_folder, part
    from ganforge.training.checkpoint import rebuild

    meta, tensors = load_folder(folder, ("anomaly-detector",))
    state = meta.get("state") or {}
    fix = "the folder was altered: copy it again or save it again"
    for key, kind in _FOLDER_STATE.items():
        if not isinstance(state.get(key), kind) or (kind is int and isinstance(state[key], bool)):
            raise GanforgeError(f"damaged {CONFIG_FILE}: state entry {key!r}", str(folder), fix)
    if state["kind"] not in ("image", "table") or state["method"] not in METHODS:
        raise GanforgeError(f"damaged {CONFIG_FILE}: kind or method", str(folder), fix)
    scores = state["holdout_scores"]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scores):
        raise GanforgeError(f"damaged {CONFIG_FILE}: holdout_scores", str(folder), fix)
    standardise = part(tensors, "state")
    if state["kind"] == "table":
        n = len(state["columns"] or [])
        want = {
            "mean": torch.zeros(n, dtype=torch.float64),
            "std": torch.zeros(n, dtype=torch.float64),
        }
        check_fits(standardise, want, folder, "the standardisation", fix, exact_dtype=False)
    elif standardise:
        raise GanforgeError(
            f"unexpected tensor 'state.{next(iter(standardise))}'", str(folder), fix
        )
    unknown = [k for k in tensors if not k.startswith(("generator.", "discriminator.", "state."))]
    if unknown:
        raise GanforgeError(f"unexpected tensor {unknown[0]!r}", str(folder), fix)
    detector = _detector(
        cls,
        state,
        device,
        (standardise.get("mean"), standardise.get("std")),
        np.asarray(scores, dtype=np.float64),
        folder,
    )
    config = Config.from_dict(meta["config"], str(folder / CONFIG_FILE))
    from ganforge.families import make_family

    family = rebuild(lambda: make_family(config), folder, "a ganforge anomaly detector")
    G, D = rebuild(family.build, folder, "a ganforge anomaly detector")
    networks = (part(tensors, "generator"), part(tensors, "discriminator"))
    check_fits(networks[0], G.state_dict(), folder, "the generator", fix)
    check_fits(networks[1], D.state_dict(), folder, "the discriminator", fix)
    rebuild(
        lambda: detector._use_networks(config, *networks), folder, "a ganforge anomaly detector"
    )
    return detector


def load_detector(cls: type, run_or_file: str | Path, device: str = "cpu") -> AnomalyDetector:
    """A detector saved by `fit(run_dir=...)`, `save` or `save_pretrained`: a run directory, a
    detector file or a pretrained folder."""
    from ganforge.pretrained import is_pretrained_folder
    from ganforge.training.checkpoint import load_file, rebuild

    path = Path(run_or_file)
    if is_pretrained_folder(path):
        return load_detector_folder(cls, path, device)
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
    detector = _detector(
        cls,
        state,
        device,
        (state["mean"], state["std"]),
        state["holdout_scores"].numpy(),
        path.parent,
    )
    config = Config.from_dict(state["config"], str(path))
    networks = (state["generator"], state["discriminator"])
    # Rebuilt from the file's own config: a damaged one (or weights that do not fit it)
    # is one line naming the file.
    rebuild(lambda: detector._use_networks(config, *networks), path, "a ganforge anomaly detector")
    return detector
