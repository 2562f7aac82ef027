"""Built-in real RGB photos for demos and super-resolution, read offline from installed packages.

The set is fixed, so every run sees the same pixels. Sources and names:

- scikit-learn ``sklearn/datasets/images``: ``china`` (china.jpg, 640x427), ``flower``
  (flower.jpg, 640x427).
- scikit-image ``skimage/data`` (files shipped inside the wheel, read directly with PIL so nothing
  can trigger a pooch download): ``astronaut`` (512x512), ``chelsea`` (451x300), ``coffee``
  (600x400), ``rocket`` (rocket.jpg, 640x427), ``motorcycle`` (motorcycle_left.png, 741x500),
  ``hubble_deep_field`` (1000x872), ``immunohistochemistry`` (ihc.png, 512x512), ``retina``
  (retina.jpg, 1411x1411).

Splits: ``test`` (held out) = ``chelsea`` and ``coffee``; ``train`` = the other eight, in the
order listed above; ``all`` = all ten.

Left out on purpose: ``motorcycle_right.png`` (the stereo twin of motorcycle_left; it would leak
across splits), ``color.png`` and ``chessboard_RGB.png`` (synthetic), ``horse.png`` and
``logo.png`` (RGBA drawings), the greyscale images (camera, coins, moon, ...), and everything
scikit-image only offers through a pooch download (eagle, cat, lily, ...).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image

from ganforge.data.dataset import InMemoryDataset
from ganforge.errors import GanforgeError

# name -> (package, file name inside its image folder); the order is the dataset order.
_SOURCES = {
    "china": ("sklearn", "china.jpg"),
    "flower": ("sklearn", "flower.jpg"),
    "astronaut": ("skimage", "astronaut.png"),
    "chelsea": ("skimage", "chelsea.png"),
    "coffee": ("skimage", "coffee.png"),
    "rocket": ("skimage", "rocket.jpg"),
    "motorcycle": ("skimage", "motorcycle_left.png"),
    "hubble_deep_field": ("skimage", "hubble_deep_field.jpg"),
    "immunohistochemistry": ("skimage", "ihc.png"),
    "retina": ("skimage", "retina.jpg"),
}
TEST_PHOTOS = ("chelsea", "coffee")
TRAIN_PHOTOS = tuple(name for name in _SOURCES if name not in TEST_PHOTOS)
_SPLITS = {"train": TRAIN_PHOTOS, "test": TEST_PHOTOS, "all": tuple(_SOURCES)}


class Photo(NamedTuple):
    """One built-in photo: its name and its pixels, uint8 (H, W, 3)."""

    name: str
    image: np.ndarray


def load_photos(split: str = "train") -> list[Photo]:
    """The built-in photos of one split ('train', 'test' or 'all'), in the documented order."""
    if split not in _SPLITS:
        raise GanforgeError(
            f"unknown photo split {split!r}", fix=f"use one of {', '.join(_SPLITS)}"
        )
    return [Photo(name, _read(name)) for name in _SPLITS[split]]


def load_photos_dataset(
    resolution: int = 64, split: str = "train", crops_per_image: int = 64, seed: int = 0
) -> InMemoryDataset:
    """Random square RGB crops of the built-in photos, uint8 (N, 3, resolution, resolution).

    Crops are taken at the photos' own scale (a photo whose shorter side is below ``resolution``
    is first scaled up with PIL bicubic). The dataset is unlabelled; ``meta["photo"]`` names the
    source of each crop and ``meta["boxes"]`` holds its (top, left) corner in that photo.
    """
    for label, value in (("resolution", resolution), ("crops_per_image", crops_per_image)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise GanforgeError(
                f"{label} must be a positive integer, got {value!r}", fix=f"pass e.g. {label}=64"
            )
    photos = load_photos(split)
    rng = np.random.default_rng(seed)
    n = len(photos) * crops_per_image
    data = torch.empty((n, 3, resolution, resolution), dtype=torch.uint8)
    boxes = np.empty((n, 2), dtype=np.int64)
    names: list[str] = []
    for p, photo in enumerate(photos):
        image = _at_least(photo.image, resolution)
        h, w = image.shape[:2]
        tops = rng.integers(0, h - resolution + 1, size=crops_per_image)
        lefts = rng.integers(0, w - resolution + 1, size=crops_per_image)
        for k, (top, left) in enumerate(zip(tops, lefts, strict=True)):
            i = p * crops_per_image + k
            crop = image[top : top + resolution, left : left + resolution]
            data[i] = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)))
            boxes[i] = (top, left)
        names += [photo.name] * crops_per_image
    meta = {"photo": names, "boxes": boxes, "split": split, "seed": seed}
    return InMemoryDataset(data, None, None, name=f"photos-{split}", meta=meta)


def _read(name: str) -> np.ndarray:
    """Decode one photo to uint8 (H, W, 3) from the package that ships it."""
    package, filename = _SOURCES[name]
    path = _image_dir(package) / filename
    if not path.is_file():
        raise GanforgeError(
            f"built-in photo {name!r} is missing from the installed {package}",
            str(path),
            f"reinstall {package} (pip install --force-reinstall {_PIP[package]})",
        )
    from ganforge.data.folder import DECODE_ERRORS, unreadable_reason

    try:
        with Image.open(path) as im:
            return np.array(im.convert("RGB"))
    except DECODE_ERRORS as e:
        raise GanforgeError(
            f"built-in photo {name!r} cannot be decoded ({unreadable_reason(path, e)})",
            str(path),
            f"reinstall {package} (pip install --force-reinstall {_PIP[package]})",
        ) from None


_PIP = {"sklearn": "scikit-learn", "skimage": "scikit-image"}


def _image_dir(package: str) -> Path:
    """Where the package keeps its bundled images, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise GanforgeError(
            f"the built-in photos need {_PIP[package]}, which is not installed",
            fix=f"pip install {_PIP[package]}",
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / "datasets" / "images" if package == "sklearn" else root / "data"


def _at_least(image: np.ndarray, side: int) -> np.ndarray:
    """The image scaled up (bicubic, aspect kept) so its shorter side is at least ``side``."""
    h, w = image.shape[:2]
    if min(h, w) >= side:
        return image
    scale = side / min(h, w)
    size = (max(side, round(w * scale)), max(side, round(h * scale)))
    return np.array(Image.fromarray(image).resize(size, Image.BICUBIC))
