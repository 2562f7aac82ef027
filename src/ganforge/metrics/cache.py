"""On-disk cache of reference-set features, so a training run extracts its reference only once.

Files live under ``$GANFORGE_CACHE/features`` (default ``~/.cache/ganforge/features``), one
``.npz`` per (dataset, split, resolution, extractor, weights hash, N); writes are atomic
(temporary file + ``os.replace``), so a crash or two concurrent runs never leave a torn file.
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganforge.io_checks import atomic_write

CACHE_ENV = "GANFORGE_CACHE"
Features = tuple[torch.Tensor, torch.Tensor | None]


def cache_root() -> Path:
    """$GANFORGE_CACHE, else ~/.cache/ganforge."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ganforge"


def features_dir() -> Path:
    """Folder holding cached reference features."""
    return cache_root() / "features"


@dataclass(frozen=True)
class FeatureKey:
    """Everything the cached features depend on."""

    dataset: str
    split: str
    resolution: int
    extractor: str
    weights: str
    n: int

    def filename(self) -> str:
        """A readable, filesystem-safe file name."""
        parts = [self.dataset, self.split, f"{self.resolution}px", self.extractor, self.weights]
        safe = [re.sub(r"[^A-Za-z0-9_.+-]", "_", p) for p in parts]
        return "-".join(safe) + f"-n{self.n}.npz"

    def path(self) -> Path:
        """Where the features for this key live."""
        return features_dir() / self.filename()


def load_features(key: FeatureKey) -> Features | None:
    """Cached (features, logits) for ``key``, or None when absent or unreadable."""
    path = key.path()
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            features = torch.from_numpy(data["features"].copy())
            logits = torch.from_numpy(data["logits"].copy()) if "logits" in data else None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        warnings.warn(f"ignoring unreadable feature cache {path} ({e})", stacklevel=2)
        return None
    if features.shape[0] != key.n:
        return None
    return features, logits


def save_features(key: FeatureKey, features: torch.Tensor, logits: torch.Tensor | None) -> Path:
    """Write features atomically; returns the file path."""
    path = key.path()
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"features": features.cpu().numpy()}
    if logits is not None:
        arrays["logits"] = logits.cpu().numpy()
    with atomic_write(path, "wb") as f:  # readable by all: a cache may be shared
        np.savez(f, **arrays)
    return path


def cached_features(
    key: FeatureKey, compute: Callable[[], Features], use_cache: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None, bool]:
    """(features, logits, cache_hit): read from the cache, else compute and store."""
    if use_cache:
        hit = load_features(key)
        if hit is not None:
            return hit[0], hit[1], True
    features, logits = compute()
    if use_cache:
        try:
            save_features(key, features, logits)
        except OSError as e:  # a read-only home must not break evaluation
            warnings.warn(f"cannot write feature cache {key.path()} ({e})", stacklevel=2)
    return features, logits, False
