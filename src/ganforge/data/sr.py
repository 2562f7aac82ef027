"""Super-resolution data: full-size images kept as they are; batches of random HR crops and
their LR versions, made on the fly by the standard degradation.

- Sources: ``photos`` / ``photos:train`` / ``photos:test`` / ``photos:all`` (the built-in photos,
  ``data/photos.py``: train = china, flower, astronaut, rocket, motorcycle, hubble_deep_field,
  immunohistochemistry, retina; held out = chelsea, coffee), or ``folder:PATH`` (any folder of
  images, recursive, decoded at full size by the rules of ``data/folder.py``: 16-bit scaled to
  8 bits, palette expanded, transparency composited on white, unreadable files skipped with one
  warning).
- Channels: RGB unless ``channels=1`` (grey images are repeated into RGB, colour converted to
  BT.601 luma for grey models).
- Degradation (Ledig 2017; BasicSR's "BI"): LR = antialiased bicubic downscaling (a=-0.5, as
  MATLAB's imresize and PIL) of the HR crop by the scale, rounded to 8 bits, as a real LR file is.
- Augmentation: one of the 8 flips/rotations of the square crop, uniformly.
- Randomness: crop positions and flips come from torch's global RNG, which the trainer owns and
  checkpoints, so a resumed run draws exactly the crops an uninterrupted one would.
- An image smaller than the HR crop is skipped with a warning (it cannot give a crop without
  inventing pixels); if every image is too small, that is an error naming the crop size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.data.folder import (
    DECODE_ERRORS,
    IMAGE_EXTENSIONS,
    open_image,
    relative_name,
    scan_images,
    unreadable_image_error,
    unreadable_reason,
)
from ganforge.errors import GanforgeError
from ganforge.images import bicubic_resize, to_model_range


def downscale(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """The standard degradation: uint8 (N, C, H, W) -> uint8 (N, C, H // scale, W // scale)."""
    h, w = hr.shape[-2] // scale, hr.shape[-1] // scale
    lr = bicubic_resize(hr.float(), (h, w))
    return lr.round_().clamp_(0, 255).to(torch.uint8)


def decoded_images(
    pairs: list[tuple[Path, Path]], source: Path, skipped: list[str]
) -> Iterator[tuple[Path, Path, np.ndarray]]:
    """(file, target, pixels) for each readable file of ``pairs`` (see decode_image): an
    unreadable file is an error when ``source`` is that one file, else noted in ``skipped``
    as "name (reason)" and passed over."""
    for file, target in pairs:
        decoded = decode_image(file)
        if isinstance(decoded, str):
            if source.is_file():
                raise unreadable_image_error(file, decoded)
            skipped.append(f"{relative_name(file, source)} ({decoded})")
            continue
        yield file, target, decoded[0]


def decode_image(path: str | os.PathLike) -> tuple[np.ndarray, bool] | str:
    """(uint8 (H, W, 3) or (H, W, 1) pixels, is_grey) at full size, or why it cannot be read."""
    try:
        image, grey = open_image(path)
    except DECODE_ERRORS as e:
        return unreadable_reason(path, e)
    pixels = np.asarray(image)
    if image.mode == "F":  # 16-bit and float data, already on the 0..255 scale
        pixels = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    return np.ascontiguousarray(pixels), grey


def to_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """uint8 (H, W, 1|3) -> (H, W, channels): grey repeated, colour to BT.601 luma (as PIL)."""
    if pixels.shape[-1] == channels:
        return pixels
    if channels == 3:
        return np.repeat(pixels, 3, axis=2)
    luma = np.asarray(Image.fromarray(pixels, "RGB").convert("L"))
    return luma[..., None]


def read_image(path: str | os.PathLike, channels: int = 3) -> np.ndarray:
    """One image file as uint8 (H, W, channels); a clear one-line error when unreadable."""
    path = Path(path)
    if not path.is_file():
        raise GanforgeError("image file not found", str(path), "check the path")
    result = decode_image(path)
    if isinstance(result, str):
        raise unreadable_image_error(path, result)
    return to_channels(result[0], channels)


@dataclass
class SRImage:
    """One full-size image: its name (relative path or photo name) and uint8 (H, W, C) pixels."""

    name: str
    pixels: np.ndarray


def load_sr_images(
    source: str, channels: int = 3, warn: Callable[[str], None] = print
) -> tuple[list[SRImage], list[str]]:
    """Full-size images of a source (``photos[:split]`` or ``folder:PATH``) and the skipped files."""
    kind, _, arg = source.partition(":")
    if channels not in (1, 3):
        raise GanforgeError(f"--channels must be 1 or 3 for super-resolution, got {channels}")
    if kind == "photos":
        from ganforge.data.photos import load_photos

        photos = load_photos(arg or "train")
        return [SRImage(p.name, to_channels(p.image, channels)) for p in photos], []
    if kind != "folder":
        raise GanforgeError(
            f"unknown super-resolution data source {source!r}",
            fix="use photos, photos:train, photos:test or folder:PATH",
        )
    if not arg:
        raise GanforgeError("folder: needs a path", fix="use --data folder:PATH")
    root = Path(arg).expanduser()
    files, _ = scan_images(root)  # class subfolders mean nothing here: every image is used
    images, bad = [], []
    for file in files:
        result = decode_image(file)
        if isinstance(result, str):
            bad.append(f"{relative_name(file, root)} ({result})")
        else:
            images.append(SRImage(relative_name(file, root), to_channels(result[0], channels)))
    if not images:
        raise GanforgeError(
            f"none of the {len(files)} image files could be read",
            str(root),
            f"replace or remove the broken files (first: {'; '.join(bad[:3])})",
        )
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        warn(
            f"ganforge: warning: skipped {len(bad)} unreadable image file(s) in {root}: "
            f"{', '.join(bad[:3])}{more}; replace or remove them to use them"
        )
    return images, bad


@dataclass
class SRDataset:
    """Full-size images; ``batch(index)`` gives random HR crops and their LR, both in [-1, 1].

    Implements the trainer's dataset interface: ``batch`` returns (HR (N, C, crop, crop),
    LR (N, C, crop / scale, crop / scale)); ``sample_shape`` is the HR crop's shape; ``data``
    holds the centre crop of each image (uint8), for callers that want a fixed set.
    """

    images: list[torch.Tensor]  # uint8 (C, H, W), each at its own size
    crop: int
    scale: int
    names: list[str] = field(default_factory=list)
    name: str = "sr"
    meta: dict = field(default_factory=dict)

    labels = None
    class_names = None
    num_classes = 0
    is_image = True

    def __post_init__(self):
        if self.crop % self.scale or self.crop < self.scale:
            raise GanforgeError(
                f"the HR crop (--resolution {self.crop}) must be a multiple of --scale {self.scale}",
                fix=f"use --resolution {max(self.scale, self.crop - self.crop % self.scale)}",
            )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """Shape of one HR crop: (C, crop, crop)."""
        return (int(self.images[0].shape[0]), self.crop, self.crop)

    @property
    def data(self) -> torch.Tensor:
        """The centre HR crop of every image, uint8 (N, C, crop, crop)."""
        crops = []
        for image in self.images:
            h, w = image.shape[-2:]
            top, left = (h - self.crop) // 2, (w - self.crop) // 2
            crops.append(image[:, top : top + self.crop, left : left + self.crop])
        return torch.stack(crops)

    def to(self, device: torch.device | str) -> SRDataset:
        """The same images on a device (crops are then cut there)."""
        moved = [image.to(device) for image in self.images]
        return SRDataset(moved, self.crop, self.scale, self.names, self.name, dict(self.meta))

    def to_model_range(self, raw: torch.Tensor) -> torch.Tensor:
        """uint8 pixels -> float in [-1, 1]."""
        return to_model_range(raw)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Random HR crops of the images at ``index`` (flipped/rotated) and their LR versions."""
        chosen = index.tolist()
        n = len(chosen)
        # All random numbers at once, from the global CPU RNG (the trainer's checkpointed stream).
        where = torch.rand(n, 2)
        transform = torch.randint(0, 8, (n,)).tolist()
        crops = []
        for i, k, (u, v) in zip(chosen, transform, where.tolist(), strict=True):
            image = self.images[i]
            h, w = image.shape[-2:]
            top, left = int(u * (h - self.crop + 1)), int(v * (w - self.crop + 1))
            crop = image[:, top : top + self.crop, left : left + self.crop]
            if k >= 4:
                crop = crop.flip(-1)
            crops.append(torch.rot90(crop, k % 4, dims=(-2, -1)))
        hr = torch.stack(crops)
        lr = downscale(hr, self.scale)
        return self.to_model_range(hr), self.to_model_range(lr)


def load_sr_dataset(
    source: str,
    crop: int,
    scale: int,
    channels: int = 0,
    limit: int = 0,
    warn: Callable[[str], None] = print,
) -> SRDataset:
    """An SRDataset from a source spec (see the module docstring); ``crop`` is the HR crop side."""
    if isinstance(crop, bool) or not isinstance(crop, int) or crop <= 0:
        raise GanforgeError(f"the HR crop (--resolution) must be a positive integer, got {crop!r}")
    images, skipped = load_sr_images(source, channels or 3, warn)
    if limit:
        images = images[:limit]
    small = [im for im in images if min(im.pixels.shape[:2]) < crop]
    kept = [im for im in images if min(im.pixels.shape[:2]) >= crop]
    if not kept:
        smallest = min(min(im.pixels.shape[:2]) for im in images)
        raise GanforgeError(
            f"every image is smaller than the {crop}x{crop} training crop (smallest side "
            f"{smallest})",
            source,
            f"lower --resolution to at most {smallest - smallest % scale}",
        )
    if small:
        names = ", ".join(
            f"{im.name} ({im.pixels.shape[1]}x{im.pixels.shape[0]})" for im in small[:3]
        )
        warn(
            f"ganforge: warning: skipped {len(small)} image(s) smaller than the {crop}x{crop} "
            f"training crop: {names}"
        )
    tensors = [torch.from_numpy(np.ascontiguousarray(im.pixels.transpose(2, 0, 1))) for im in kept]
    meta = {
        "source": source,
        "skipped": skipped + [im.name for im in small],
        "scale": scale,
        "crop": crop,
    }
    return SRDataset(tensors, crop, scale, [im.name for im in kept], source, meta)


def sr_dataset_for(config, warn: Callable[[str], None] = print) -> SRDataset:
    """The SRDataset a run's config describes (data.source, data.resolution = HR crop, scale)."""
    d, scale = config.data, config.family_settings("srgan").scale
    return load_sr_dataset(d.source, d.resolution, scale, d.channels, d.limit, warn)


__all__ = [
    "IMAGE_EXTENSIONS",
    "SRDataset",
    "SRImage",
    "decode_image",
    "downscale",
    "load_sr_dataset",
    "load_sr_images",
    "read_image",
    "sr_dataset_for",
]
