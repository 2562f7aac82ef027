"""MNIST from its gzipped IDX files (the format of the original distribution).

Where the four files are looked for: the folder given as ``mnist:PATH``; else, when
``$GANFORGE_DATA`` is set, that folder or its ``mnist/`` subfolder and nowhere else; else the cache
``~/.cache/ganforge/mnist`` (where ``ganforge data get mnist`` puts them), then a
``shared/datasets/mnist`` folder beside the checkout. A folder holding a ``SHA256SUMS`` file
(``sha256sum`` format, as the test subset in tests/fixtures/mnist-mini has) has every file it
lists checked against it when read.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np
import torch

from ganforge.data.dataset import InMemoryDataset
from ganforge.errors import GanforgeError

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FILE_NAMES = tuple(stem + ".gz" for pair in _FILES.values() for stem in pair)
CHECKSUMS_FILE = "SHA256SUMS"


def _replace(path: Path) -> str:
    """What to do about a damaged file: get the original again, checked."""
    return f"replace it with the original (`ganforge data get mnist --dir {path.parent}` gets it)"


def cache_dir() -> Path:
    """Where `ganforge data get mnist` puts the files by default: ~/.cache/ganforge/mnist."""
    # Not under $GANFORGE_CACHE (the feature cache, which tests redirect): $GANFORGE_DATA is
    # the one setting that moves the data.
    return Path.home() / ".cache" / "ganforge" / "mnist"


def search_path() -> list[tuple[str, Path]]:
    """Every folder MNIST is looked for in, in order, each with how it was found."""
    env = os.environ.get("GANFORGE_DATA")
    if env:  # set: the only place, so that a run never picks up another copy by surprise
        root = Path(env).expanduser()
        return [("$GANFORGE_DATA", root), ("$GANFORGE_DATA", root / "mnist")]
    here = Path(__file__).resolve()
    shared = [p / "shared" / "datasets" / "mnist" for p in here.parents]
    shared.append(Path.cwd().parent / "shared" / "datasets" / "mnist")
    return [("cache", cache_dir())] + [("beside the checkout", p) for p in dict.fromkeys(shared)]


def has_mnist(folder: Path) -> bool:
    """Whether `folder` holds MNIST's training images (gzipped or not)."""
    stem = _FILES["train"][0]
    return any((folder / name).is_file() for name in _names(stem))


def default_mnist_dir() -> Path | None:
    """The first folder of the search path that holds MNIST, else None."""
    return next((p for _, p in search_path() if has_mnist(p)), None)


def not_found_error() -> GanforgeError:
    """The one-line error when no MNIST is found anywhere: where it looked and how to get it."""
    env = os.environ.get("GANFORGE_DATA")
    if env:
        looked = f"looked in $GANFORGE_DATA={env} and its mnist/ subfolder"
        place = env
    else:  # no flag named: train, eval and anomaly all reach MNIST through this search
        looked = f"looked in {cache_dir()} and shared/datasets/mnist beside the checkout"
        place = f"{cache_dir()} (or set GANFORGE_DATA to their folder)"
    return GanforgeError(
        "MNIST not found",
        looked,
        "download it with `ganforge data get mnist`, or put the four files "
        f"({', '.join(FILE_NAMES)}) in {place}",
    )


def _names(stem: str) -> tuple[str, ...]:
    return (stem + ".gz", stem, stem.replace("-idx", ".idx"))


def _find(root: Path, stem: str) -> Path:
    for name in _names(stem):
        if (root / name).is_file():
            return root / name
    raise GanforgeError(
        f"MNIST file {stem}.gz not found",
        str(root),
        f"put the four files ({', '.join(FILE_NAMES)}) there, "
        f"or run `ganforge data get mnist --dir {root}`",
    )


def _listed_sha256(root: Path) -> dict[str, str]:
    """File name -> SHA-256 from the folder's SHA256SUMS, if it has one."""
    sums = root / CHECKSUMS_FILE
    if not sums.is_file():
        return {}
    listed = {}
    for line in sums.read_text(errors="replace").splitlines():
        digest, _, name = line.strip().partition("  ")
        if len(digest) == 64 and name:
            listed[name.lstrip("*")] = digest.lower()
    return listed


def _read_bytes(path: Path, sha256: str | None) -> bytes:
    """The file's IDX bytes: read, checked against its recorded SHA-256, decompressed if .gz."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise GanforgeError(f"cannot read MNIST file ({e.strerror or e})", str(path)) from None
    if sha256 and hashlib.sha256(raw).hexdigest() != sha256:
        raise GanforgeError(
            f"MNIST file does not match its SHA-256 in {CHECKSUMS_FILE}",
            str(path),
            f"restore the file (or update {CHECKSUMS_FILE} if it was changed on purpose)",
        )
    if not raw:
        raise GanforgeError("MNIST file is empty", str(path), _replace(path))
    if path.suffix != ".gz":
        if raw[:2] == b"\x1f\x8b":
            raise GanforgeError(
                "MNIST file holds gzip data although its name does not end in .gz",
                str(path),
                f"rename it to {path.name}.gz",
            )
        return raw
    if raw[:3] == b"\x00\x00\x08":
        raise GanforgeError(
            "MNIST file holds uncompressed IDX data although its name ends in .gz",
            str(path),
            f"rename it to {path.stem} (or gzip it)",
        )
    if raw[:2] != b"\x1f\x8b":
        raise GanforgeError(
            "MNIST file is not gzip data although its name ends in .gz", str(path), _replace(path)
        )
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise GanforgeError(
            "MNIST file's gzip data is cut short (an interrupted download or copy?)",
            str(path),
            _replace(path),
        ) from None
    except (OSError, zlib.error) as e:
        raise GanforgeError(
            f"MNIST file's gzip data is corrupt ({e})", str(path), _replace(path)
        ) from None


def _read_idx(path: Path, ndim: int, sha256: str | None = None) -> np.ndarray:
    """Parse one unsigned-byte IDX file of `ndim` dimensions: magic, big-endian dims, the data."""
    raw = _read_bytes(path, sha256)
    kind = "image" if ndim == 3 else "label"
    magic = f"0x0000080{ndim}"
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        seen = f"starts with 0x{raw[:4].hex()}" if raw else "is empty"
        raise GanforgeError(
            f"not an MNIST IDX file (it {seen}; an MNIST {kind} file starts with {magic})",
            str(path),
            _replace(path),
        )
    if raw[3] != ndim:
        expected = "count, rows, columns" if ndim == 3 else "count"
        raise GanforgeError(
            f"MNIST {kind} file with {raw[3]} dimension{'s' * (raw[3] != 1)}, expected {ndim} "
            f"({expected})",
            str(path),
            _replace(path),
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise GanforgeError(
            f"MNIST file's IDX header is cut short ({len(raw)} of {header} bytes)",
            str(path),
            _replace(path),
        )
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    size, body = int(np.prod(dims)), len(raw) - header
    if body != size:
        shape = " x ".join(map(str, dims))
        state = "is truncated" if body < size else "has extra bytes"
        raise GanforgeError(
            f"MNIST file {state}: its header promises {shape} = {size} bytes, it holds {body}",
            str(path),
            _replace(path),
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def load_mnist_arrays(
    root: str | Path | None = None, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of one split ('train' or 'test')."""
    if split not in _FILES:
        raise GanforgeError(f"unknown MNIST split {split!r}", fix="use 'train' or 'test'")
    if root:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise GanforgeError(
                "MNIST folder not found",
                str(root),
                "give the folder that holds the four files as mnist:PATH, "
                f"or download them there with `ganforge data get mnist --dir {root}`",
            )
    else:
        root = default_mnist_dir()
        if root is None:
            raise not_found_error()
    sums = _listed_sha256(root)
    image_path, label_path = (_find(root, stem) for stem in _FILES[split])
    images = _read_idx(image_path, 3, sums.get(image_path.name))
    labels = _read_idx(label_path, 1, sums.get(label_path.name))
    if labels.shape[0] != images.shape[0]:
        raise GanforgeError(
            f"MNIST images and labels do not match ({images.shape[0]} images, "
            f"{labels.shape[0]} labels)",
            f"{image_path} and {label_path}",
            f"use the images and labels of one split as distributed (`ganforge data get mnist "
            f"--dir {root}` gets them)",
        )
    if labels.size and labels.max() > 9:
        raise GanforgeError(
            f"MNIST labels must be digits 0-9, found {int(labels.max())}",
            str(label_path),
            _replace(label_path),
        )
    return images, labels.astype(np.int64)


def load_mnist(root: str | Path | None = None, split: str = "train") -> InMemoryDataset:
    """MNIST as an InMemoryDataset of uint8 (N, 1, 28, 28) images with digit labels."""
    images, labels = load_mnist_arrays(root, split)
    return InMemoryDataset(
        torch.from_numpy(images.copy()).unsqueeze(1),
        torch.from_numpy(labels),
        [str(i) for i in range(10)],
        name=f"mnist:{split}",
    )
