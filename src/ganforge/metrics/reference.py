"""Reference image sets for evaluation: mnist:train, mnist:test, arrays, folders of images."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ganforge.config import Config
from ganforge.data.dataset import InMemoryDataset
from ganforge.data.mnist import load_mnist
from ganforge.errors import GanforgeError
from ganforge.metrics.features.base import image_shape, validate_images

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
_GREY_MODES = ("L", "LA", "1", "I;16", "I")


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
    # (C, H, W); for a folder read from the first file's header (C: 1 grey, 3 otherwise).
    shape: tuple[int, int, int] | None = None

    def images(self) -> torch.Tensor:
        """The images (N, C, H, W), loaded once."""
        if self._images is None:
            self._images = self.loader()
        return self._images

    @classmethod
    def of_tensor(cls, images: torch.Tensor, dataset: str, split: str, description: str):
        """A set whose images are already in memory, checked whole (shape, dtype, NaN, range)."""
        validate_images(images, description)
        if images.shape[0] == 0:
            raise GanforgeError("holds no images", description, "pass at least one image")
        count, resolution = int(images.shape[0]), int(images.shape[-2])
        shape = image_shape(images)
        return cls(dataset, split, description, count, resolution, lambda: images, images, shape)


Reference = str | Path | torch.Tensor | np.ndarray | InMemoryDataset | ReferenceSet


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
    grey = all(p.mode in _GREY_MODES for p in pictures)
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
            width, resolution = first.size
            channels = 1 if first.mode in _GREY_MODES else 3
    except OSError as e:
        raise GanforgeError(f"cannot read image ({e})", str(files[0])) from None
    return ReferenceSet(
        folder.name or "folder",
        digest.hexdigest()[:12],
        f"folder {folder}",
        len(files),
        resolution,
        lambda: read_images(files, str(folder)),
        shape=(channels, resolution, width),
    )


def _read_array(path: Path) -> torch.Tensor:
    """A .npy file as a tensor: no pickles, only uint8 or float images, native byte order."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        if magic != b"\x93NUMPY":
            raise GanforgeError(
                "not a .npy file (no NumPy header)", str(path), "save the images with np.save"
            )
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise GanforgeError(f"cannot read array ({e})", str(path), "save it with np.save") from None
    if not isinstance(array, np.ndarray):
        raise GanforgeError("not a .npy array", str(path), "save one array with np.save")
    if array.dtype != np.uint8 and array.dtype.kind != "f":
        raise GanforgeError(
            f"images must be float or uint8, got {array.dtype}",
            str(path),
            "save them as uint8 (0-255) or as float in [-1, 1]",
        )
    if array.dtype == np.float16 or not array.dtype.isnative:
        array = array.astype(np.float32)  # torch wants native byte order
    return torch.from_numpy(array)


def resolve_reference(reference: Reference, n: int | None = None) -> ReferenceSet:
    """Turn a spec (``mnist:test``, a folder, an array, a dataset) into a ReferenceSet.

    For folders only the first ``n`` files are considered; other sources keep every image (the
    caller takes the first n). A ReferenceSet passes through.
    """
    if isinstance(reference, ReferenceSet):
        return reference
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
        images = _read_array(folder)
        return ReferenceSet.of_tensor(images, folder.stem, _digest(images), f"array {folder}")
    fix = "use mnist:train, mnist:test, a folder of images or a .npy array"
    if folder.is_file():
        raise GanforgeError(f"cannot use a {folder.suffix or 'suffix-less'} file", spec, fix)
    if folder.suffix or "/" in spec or "\\" in spec:
        raise GanforgeError("no such file or folder", spec, fix)
    raise GanforgeError(f"unknown reference {spec!r}", fix=fix)


def default_reference(config: Config) -> str:
    """mnist:test for MNIST runs (a held-out split); '' = the training data otherwise."""
    if config.eval.reference:
        return config.eval.reference
    return "mnist:test" if config.data.source.split(":")[0] == "mnist" else ""


def default_extractor(config: Config) -> str:
    """The shipped MNIST classifier for grey images, a seeded random conv net for colour."""
    if config.eval.extractor:
        return config.eval.extractor
    shape = config.model.sample_shape
    return "mnist" if len(shape) == 3 and shape[0] == 1 else "randconv"
