"""MNIST from its gzipped IDX files (the format of the original distribution)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

from ganforge.data.dataset import InMemoryDataset
from ganforge.errors import GanforgeError

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def default_mnist_dir() -> Path | None:
    """The MNIST folder from $GANFORGE_DATA (or its mnist/ subfolder), else the repo's shared copy."""
    candidates = []
    env = os.environ.get("GANFORGE_DATA")
    if env:
        candidates += [Path(env), Path(env) / "mnist"]
    here = Path(__file__).resolve()
    candidates += [p / "shared" / "datasets" / "mnist" for p in here.parents]
    candidates += [Path.cwd().parent / "shared" / "datasets" / "mnist"]
    for c in candidates:
        if (c / (_FILES["train"][0] + ".gz")).exists() or (c / _FILES["train"][0]).exists():
            return c
    return None


def _read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (gzipped or not): magic, dims, then big-endian uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise GanforgeError(f"cannot read MNIST file ({e})", str(path)) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise GanforgeError(
            "not an unsigned-byte IDX file", str(path), "use the original MNIST files"
        )
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise GanforgeError("IDX file is truncated", str(path), "re-download or copy it again")
    return body.reshape(dims)


def _find(root: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (root / name).exists():
            return root / name
    raise GanforgeError(
        f"MNIST file {stem}(.gz) not found", str(root), "point --data mnist:PATH at the IDX files"
    )


def load_mnist_arrays(
    root: str | Path | None = None, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of one split ('train' or 'test')."""
    if split not in _FILES:
        raise GanforgeError(f"unknown MNIST split {split!r}", fix="use 'train' or 'test'")
    root = Path(root) if root else default_mnist_dir()
    if root is None or not root.is_dir():
        raise GanforgeError(
            "MNIST folder not found",
            str(root) if root else "GANFORGE_DATA unset",
            "pass --data mnist:PATH or set GANFORGE_DATA",
        )
    images = _read_idx(_find(root, _FILES[split][0]))
    labels = _read_idx(_find(root, _FILES[split][1])).astype(np.int64)
    if images.ndim != 3 or labels.shape[0] != images.shape[0]:
        raise GanforgeError("MNIST images and labels do not match", str(root))
    return images, labels


def load_mnist(root: str | Path | None = None, split: str = "train") -> InMemoryDataset:
    """MNIST as an InMemoryDataset of uint8 (N, 1, 28, 28) images with digit labels."""
    images, labels = load_mnist_arrays(root, split)
    return InMemoryDataset(
        torch.from_numpy(images.copy()).unsqueeze(1),
        torch.from_numpy(labels),
        [str(i) for i in range(10)],
        name=f"mnist:{split}",
    )
