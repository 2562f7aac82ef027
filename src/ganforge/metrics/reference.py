"""Reference image sets for evaluation: mnist:train, mnist:test, arrays, folders of images."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
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
    """A reference set: what names it in the cache and the protocol, and how to get its images.

    Images (uint8, or float in [-1, 1]) are loaded on first use, so a cache hit on a folder
    never decodes its files.
    """

    dataset: str
    split: str
    description: str
    count: int
    resolution: int
    loader: Callable[[], torch.Tensor]
    _images: torch.Tensor | None = field(default=None, repr=False)

    def images(self) -> torch.Tensor:
        """The images (N, C, H, W), loaded once."""
        if self._images is None:
            self._images = self.loader()
        return self._images

    @classmethod
    def of_tensor(cls, images: torch.Tensor, dataset: str, split: str, description: str):
        """A set whose images are already in memory."""
        if images.dim() not in (3, 4):
            raise GanforgeError(
                f"reference images must be (N, C, H, W), got shape {tuple(images.shape)}",
                description,
            )
        count, resolution = int(images.shape[0]), int(images.shape[-2])
        return cls(dataset, split, description, count, resolution, lambda: images, images)


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


def read_images(files: list[Path], where: str) -> torch.Tensor:
    """Decode image files of one size into uint8 (N, C, H, W): grey when all are grey, else RGB."""
    from PIL import Image

    pictures = []
    for path in files:
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
            where,
            "resize them to one size first",
        )
    stacked = np.stack(arrays)
    stacked = stacked[:, None] if grey else stacked.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(stacked))


def folder_reference(folder: Path, n: int | None = None) -> ReferenceSet:
    """The first ``n`` images (sorted paths) of a folder, keyed by names, sizes and mtimes."""
    from PIL import Image

    files = _image_files(folder)
    files = files[:n] if n else files
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    try:
        with Image.open(files[0]) as first:  # header only: the resolution for the cache key
            resolution = first.size[1]
    except OSError as e:
        raise GanforgeError(f"cannot read image ({e})", str(files[0])) from None
    return ReferenceSet(
        folder.name or "folder",
        digest.hexdigest()[:12],
        f"folder {folder}",
        len(files),
        resolution,
        lambda: read_images(files, str(folder)),
    )


def resolve_reference(reference: Reference, n: int | None = None) -> ReferenceSet:
    """Turn a spec (``mnist:test``, a folder, an array, a dataset) into a ReferenceSet.

    For folders only the first ``n`` files are considered; other sources keep every image (the
    caller takes the first n).
    """
    if isinstance(reference, InMemoryDataset):
        if not reference.is_image:
            raise GanforgeError("the reference dataset holds vectors, not images", reference.name)
        data = reference.data
        return ReferenceSet.of_tensor(data, reference.name, _digest(data), reference.name)
    if isinstance(reference, (torch.Tensor, np.ndarray)):
        images = torch.as_tensor(reference)
        description = f"array {tuple(images.shape)}"
        return ReferenceSet.of_tensor(images, "array", _digest(images), description)
    spec = str(reference)
    if spec == "mnist" or spec.startswith("mnist:"):
        split = spec.split(":", 1)[1] if ":" in spec else "train"
        data = load_mnist(split=split).data
        return ReferenceSet.of_tensor(data, "mnist", split, f"mnist:{split}")
    folder = Path(spec).expanduser()
    if folder.is_dir():
        return folder_reference(folder, n)
    if folder.suffix == ".npy" and folder.is_file():
        try:
            images = torch.from_numpy(np.load(folder, allow_pickle=False))
        except (OSError, ValueError) as e:
            raise GanforgeError(f"cannot read array ({e})", str(folder)) from None
        return ReferenceSet.of_tensor(images, folder.stem, _digest(images), f"array {folder}")
    raise GanforgeError(
        f"unknown reference {spec!r}",
        fix="use mnist:train, mnist:test, a folder of images or a .npy array",
    )
