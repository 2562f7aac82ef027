"""Reference image sets for evaluation: mnist:train, mnist:test, arrays, folders of images."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ganforge.data.dataset import InMemoryDataset
from ganforge.data.mnist import load_mnist
from ganforge.errors import GanforgeError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
Reference = str | Path | torch.Tensor | np.ndarray | InMemoryDataset


@dataclass
class ReferenceSet:
    """Images (uint8 or float in [-1, 1]) plus what names them in the cache and the protocol."""

    images: torch.Tensor
    dataset: str
    split: str
    description: str

    @property
    def resolution(self) -> int:
        """Height of the stored images."""
        return int(self.images.shape[-2])


def _digest(tensor: torch.Tensor) -> str:
    array = tensor.detach().cpu().contiguous().numpy()
    digest = hashlib.sha256(str((array.shape, array.dtype.str)).encode())
    digest.update(array.tobytes())
    return digest.hexdigest()[:12]


def _image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise GanforgeError(
            "no images found", str(folder), f"put {'/'.join(IMAGE_SUFFIXES)} files in it"
        )
    return files


def load_folder(folder: Path, n: int | None = None) -> tuple[torch.Tensor, str]:
    """The first ``n`` images (sorted paths) of a folder as uint8 (N, C, H, W), and a content key.

    All images must share one size; grey when every file is grey, else RGB.
    """
    from PIL import Image

    files = _image_files(folder)[:n] if n else _image_files(folder)
    digest = hashlib.sha256()
    pictures = []
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        try:
            with Image.open(path) as image:
                image.load()
                pictures.append(image.copy())
        except OSError as e:
            raise GanforgeError(f"cannot read image ({e})", str(path)) from None
    grey = all(p.mode in ("L", "LA", "1", "I;16", "I") for p in pictures)
    mode = "L" if grey else "RGB"
    arrays = [np.asarray(p.convert(mode)) for p in pictures]
    sizes = {a.shape[:2] for a in arrays}
    if len(sizes) > 1:
        raise GanforgeError(
            f"images have {len(sizes)} different sizes, e.g. {sorted(sizes)[:2]}",
            str(folder),
            "resize them to one size first",
        )
    stacked = np.stack(arrays)
    stacked = stacked[:, None] if grey else stacked.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(stacked)), digest.hexdigest()[:12]


def resolve_reference(reference: Reference, n: int | None = None) -> ReferenceSet:
    """Turn a spec (``mnist:test``, a folder, an array, a dataset) into images and a cache name.

    For folders only the first ``n`` files are read; for other sources all images are kept
    (the caller takes the first n).
    """
    if isinstance(reference, InMemoryDataset):
        if not reference.is_image:
            raise GanforgeError("the reference dataset holds vectors, not images", reference.name)
        return ReferenceSet(reference.data, reference.name, _digest(reference.data), reference.name)
    if isinstance(reference, (torch.Tensor, np.ndarray)):
        images = torch.as_tensor(reference)
        return ReferenceSet(images, "array", _digest(images), f"array {tuple(images.shape)}")
    spec = str(reference)
    if spec == "mnist" or spec.startswith("mnist:"):
        split = spec.split(":", 1)[1] if ":" in spec else "train"
        dataset = load_mnist(split=split)
        return ReferenceSet(dataset.data, "mnist", split, f"mnist:{split}")
    folder = Path(spec).expanduser()
    if folder.is_dir():
        images, key = load_folder(folder, n)
        return ReferenceSet(images, folder.name or "folder", key, f"folder {folder}")
    raise GanforgeError(
        f"unknown reference {spec!r}",
        fix="use mnist:train, mnist:test, a folder of images or an array",
    )
