"""Image pairs for image-to-image translation (pix2pix, CycleGAN), from folders or built in.

A ``TranslationDataset`` is an ``InMemoryDataset`` whose ``data`` is the target domain B and whose
``source`` is the source domain A; ``batch(index)`` returns ``(B, A)``, so the families receive
the source image as ``y``. Both sides always have the same channel count (a grey side is repeated
into RGB when the other is colour), which lets one network translate either way.

Sources (``--data``):

- ``paired:A_DIR,B_DIR``: two folders whose files pair up by relative path without the extension
  (``A/x/1.png`` with ``B/x/1.jpg``). Every file must have a partner and partners must have the
  same size in pixels; both are then scaled like ``folder:`` (shorter side to the resolution,
  centre square).
- ``paired:AB_DIR``: one folder of side-by-side images, A on the left half and B on the right (the
  layout of the public pix2pix datasets); the width must be even.
- ``unpaired:A_DIR,B_DIR``: two folders of any sizes (CycleGAN). Batch i takes A[i % |A|] and
  B[i % |B|]; the two domains' pictures are never matched.
- Built-in tasks with ground truth, each with a held-out ``:test`` split (default ``:train``):

  - ``edges2digits``: A = Sobel edge map of an MNIST digit, B = the digit (paired). The edge map is
    the Sobel gradient magnitude of the digit (pixels in [0, 1], zero outside the image) above
    ``EDGE_THRESHOLD``, drawn white on black. train = MNIST train (60,000), test = MNIST test
    (10,000).
  - ``mnist2thick``: A = MNIST digits, B = the same style thickened by a 3x3 grey dilation (each
    pixel becomes the maximum of its 3x3 neighbourhood). train is unpaired: A = the even-indexed
    MNIST training digits, B = the odd-indexed ones thickened (30,000 each, no digit on both
    sides). test is paired, so translations can be scored: A = MNIST test, B = its dilation.
  - ``grey2colour``: A = BT.601 luma of a photo crop (repeated into 3 channels), B = the colour
    crop, from ``ganforge.data.photos``: train = 256 random crops of each of the 8 training
    photos, test = 64 crops of each of the 2 held-out photos (chelsea, coffee).

  The digit tasks keep each pair's MNIST label in ``meta["source_classes"]`` (class-preservation
  scores) and, for mnist2thick's train split, ``meta["target_classes"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge.data.dataset import InMemoryDataset
from ganforge.errors import GanforgeError
from ganforge.images import convert_channels, resize_images

BUILTIN_TASKS = {
    "edges2digits": "Sobel edge maps of MNIST digits -> the digits (paired; :train, :test)",
    "mnist2thick": "MNIST -> digits thickened by a 3x3 dilation (unpaired train, paired :test)",
    "grey2colour": "grey photo crops -> colour (paired; built-in photos; :train, :test)",
}
EDGE_THRESHOLD = 1.0  # Sobel magnitude of a full 0 -> 1 step is 4: a quarter of a step
TRAIN_CROPS_PER_PHOTO, TEST_CROPS_PER_PHOTO = 256, 64
_NAMES_SHOWN = 3


@dataclass
class TranslationDataset(InMemoryDataset):
    """Target images ``data`` (domain B) with source images ``source`` (domain A), both uint8.

    ``paired``: sample i of A and of B belong together (pix2pix); otherwise the domains may differ
    in size and batches draw from each independently (CycleGAN).
    """

    source: torch.Tensor | None = None
    paired: bool = True

    def __post_init__(self) -> None:
        if self.source is None:
            raise ValueError("a TranslationDataset needs source images")
        if tuple(self.source.shape[1:]) != tuple(self.data.shape[1:]):
            raise ValueError(
                f"source {tuple(self.source.shape[1:])} and target {tuple(self.data.shape[1:])} "
                "images differ in shape"
            )
        if self.paired and len(self.source) != len(self.data):
            raise ValueError(f"{len(self.source)} sources for {len(self.data)} targets")

    def __len__(self) -> int:
        return max(int(self.data.shape[0]), int(self.source.shape[0]))

    @property
    def num_source(self) -> int:
        """Images in domain A."""
        return int(self.source.shape[0])

    @property
    def num_target(self) -> int:
        """Images in domain B."""
        return int(self.data.shape[0])

    def to(self, device: torch.device | str) -> TranslationDataset:
        """Both domains moved to a device once."""
        labels = None if self.labels is None else self.labels.to(device)
        return TranslationDataset(
            self.data.to(device),
            labels,
            self.class_names,
            self.name,
            dict(self.meta),
            self.source.to(device),
            self.paired,
        )

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(targets B, sources A) at ``index``, in [-1, 1]; unpaired domains wrap around."""
        index = index.to(self.data.device)
        a_index, b_index = index, index
        if not self.paired:
            a_index, b_index = index % self.num_source, index % self.num_target
        return self.to_model_range(self.data[b_index]), self.to_model_range(self.source[a_index])

    def subset(self, index: torch.Tensor) -> TranslationDataset:
        """The pairs at ``index`` (unpaired: the images at ``index`` of each domain that has them)."""
        a_index, b_index = index, index
        if not self.paired:
            a_index, b_index = index[index < self.num_source], index[index < self.num_target]
        meta = dict(self.meta)
        for key in ("source_classes", "target_classes"):
            if key in meta:
                meta[key] = meta[key][a_index if key == "source_classes" else b_index]
        labels = None if self.labels is None else self.labels[b_index]
        return TranslationDataset(
            self.data[b_index],
            labels,
            self.class_names,
            self.name,
            meta,
            self.source[a_index],
            self.paired,
        )


def load_translation_data(
    source: str, resolution: int, channels: int = 0, limit: int = 0, warn: Callable = print
) -> TranslationDataset:
    """A TranslationDataset by spec: paired:..., unpaired:..., or a built-in task[:split]."""
    kind, _, arg = source.partition(":")
    if kind in ("paired", "unpaired"):
        folders = [p for p in arg.split(",")] if arg else []
        if kind == "paired" and len(folders) == 1:
            data = load_side_by_side(folders[0], resolution, channels, warn)
        elif len(folders) == 2 and all(folders):
            loader = load_paired_folders if kind == "paired" else load_unpaired_folders
            data = loader(folders[0], folders[1], resolution, channels, warn)
        else:
            usage = "paired:A_DIR,B_DIR or paired:AB_DIR" if kind == "paired" else "unpaired:A,B"
            raise GanforgeError(f"bad data source {source!r}", fix=f"use --data {usage}")
    elif kind in BUILTIN_TASKS:
        data = load_builtin_task(kind, arg or "train", resolution, channels, limit)
        limit = 0  # applied before the (costly) transforms
    else:
        raise GanforgeError(f"unknown translation data source {source!r}")
    if limit:
        data = data.subset(torch.arange(min(limit, len(data))))
    return data


# ---- folders -------------------------------------------------------------------------------


def _stem(relative: str) -> str:
    """The pairing key of a file: its relative path without the extension."""
    return relative.rsplit(".", 1)[0] if "." in relative.rsplit("/", 1)[-1] else relative


def _list_by_stem(root: Path) -> dict[str, Path]:
    """Image files under root keyed by their pairing key; two files with one key is an error."""
    from ganforge.data.folder import relative_name, scan_images

    files, _ = scan_images(root)
    by_stem: dict[str, Path] = {}
    for file in files:
        key = _stem(relative_name(file, root))
        if key in by_stem:
            both = ", ".join(relative_name(f, root) for f in (by_stem[key], file))
            raise GanforgeError(
                f"two images pair as {key!r} ({both})",
                str(root),
                "keep one file per name in each paired folder",
            )
        by_stem[key] = file
    return by_stem


def _first(names: list[str]) -> str:
    shown = ", ".join(names[:_NAMES_SHOWN])
    return shown + (f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else "")


def load_paired_folders(
    a_dir: str | Path,
    b_dir: str | Path,
    resolution: int,
    channels: int = 0,
    warn: Callable = print,
) -> TranslationDataset:
    """Pairs from two folders with matching file names (see the module docstring)."""
    from ganforge.data.folder import load_image_folder

    a_root, b_root = Path(a_dir).expanduser(), Path(b_dir).expanduser()
    a_files, b_files = _list_by_stem(a_root), _list_by_stem(b_root)
    only_a = sorted(set(a_files) - set(b_files))
    only_b = sorted(set(b_files) - set(a_files))
    if only_a or only_b:
        parts = []
        if only_a:
            parts.append(f"{len(only_a)} in A without a partner in B ({_first(only_a)})")
        if only_b:
            parts.append(f"{len(only_b)} in B without a partner in A ({_first(only_b)})")
        raise GanforgeError(
            f"paired folders do not match: {'; '.join(parts)}",
            f"{a_root} vs {b_root}",
            "give both folders the same file names, or use --data unpaired:A,B",
        )
    mismatched = []
    for key in sorted(a_files):
        size_a, size_b = _image_size(a_files[key]), _image_size(b_files[key])
        if size_a and size_b and size_a != size_b:
            mismatched.append(f"{key} {size_a[0]}x{size_a[1]} vs {size_b[0]}x{size_b[1]}")
    if mismatched:
        raise GanforgeError(
            f"{len(mismatched)} pair(s) differ in size ({_first(mismatched)})",
            f"{a_root} vs {b_root}",
            "resize each pair to one size so their pixels line up",
        )
    a = load_image_folder(a_root, resolution, _folder_channels(channels), warn=warn)
    b = load_image_folder(b_root, resolution, _folder_channels(channels), warn=warn)
    # Unreadable files were skipped (with a warning): keep only pairs readable on both sides.
    a_at = {_stem(p): i for i, p in enumerate(a.meta["paths"])}
    b_at = {_stem(p): i for i, p in enumerate(b.meta["paths"])}
    keys = [k for k in sorted(a_at) if k in b_at]
    if not keys:
        raise GanforgeError(
            "no pair is readable on both sides",
            f"{a_root} vs {b_root}",
            "replace or remove the unreadable files the warnings name",
        )
    dropped = sorted((set(a_at) | set(b_at)) - set(keys))
    if dropped:
        warn(
            f"ganforge: warning: left out {len(dropped)} pair(s) whose partner is unreadable "
            f"({_first(dropped)}), {a_root} vs {b_root}"
        )
    a_data = a.data[torch.tensor([a_at[k] for k in keys])]
    b_data = b.data[torch.tensor([b_at[k] for k in keys])]
    a_data, b_data = match_channels(a_data, b_data, channels)
    meta = {"paths": keys, "roots": [str(a_root), str(b_root)]}
    return TranslationDataset(b_data, name=f"{a_root.name}2{b_root.name}", meta=meta, source=a_data)


def _image_size(file: Path) -> tuple[int, int] | None:
    """(width, height) from the header, or None when unreadable (the decoder reports those)."""
    try:
        with Image.open(file) as im:
            return im.size
    except Exception:  # noqa: BLE001 - any decode problem is reported later, with the others
        return None


def _folder_channels(channels: int) -> int | None:
    return channels if channels in (1, 3) else None


def load_side_by_side(
    folder: str | Path, resolution: int, channels: int = 0, warn: Callable = print
) -> TranslationDataset:
    """Pairs from single images holding A on the left half and B on the right half."""
    from ganforge.data.folder import (
        DECODE_ERRORS,
        open_image,
        relative_name,
        resize_square,
        scan_images,
        unreadable_reason,
    )

    root = Path(folder).expanduser()
    files, _ = scan_images(root)
    halves: list[tuple[np.ndarray, np.ndarray, bool]] = []
    names, odd, bad = [], [], []
    for file in files:
        try:
            im, grey = open_image(file)
        except DECODE_ERRORS as e:
            bad.append(f"{relative_name(file, root)} ({unreadable_reason(file, e)})")
            continue
        w, h = im.size
        if w % 2:
            odd.append(f"{relative_name(file, root)} ({w}x{h})")
            continue
        left = im.crop((0, 0, w // 2, h))
        right = im.crop((w // 2, 0, w, h))
        a, _ = resize_square((left, grey), resolution)
        b, _ = resize_square((right, grey), resolution)
        halves.append((a, b, grey))
        names.append(relative_name(file, root))
    if odd:
        raise GanforgeError(
            f"{len(odd)} side-by-side image(s) have an odd width, so their halves differ in size "
            f"({_first(odd)})",
            str(root),
            "each file must be A and B of one size side by side (width = 2 x the size of one)",
        )
    if bad:
        warn(
            f"ganforge: warning: skipped {len(bad)} unreadable image file(s) in {root}: "
            f"{_first(bad)}; replace or remove them to use them"
        )
    if not halves:
        raise GanforgeError(
            f"none of the {len(files)} image files could be read",
            str(root),
            f"replace or remove the broken files (first: {_first(bad)})",
        )
    grey = all(g for _, _, g in halves)
    want = channels if channels in (1, 3) else (1 if grey else 3)
    a_data = torch.stack([_as_chw(a, want) for a, _, _ in halves])
    b_data = torch.stack([_as_chw(b, want) for _, b, _ in halves])
    meta = {"paths": names, "root": str(root)}
    return TranslationDataset(b_data, name=root.name, meta=meta, source=a_data)


def _as_chw(pixels: np.ndarray, channels: int) -> torch.Tensor:
    """(H, W) or (H, W, 3) uint8 -> (channels, H, W)."""
    x = torch.from_numpy(pixels)
    x = x.unsqueeze(0) if x.dim() == 2 else x.permute(2, 0, 1)
    return convert_channels(x.unsqueeze(0), channels)[0]


def load_unpaired_folders(
    a_dir: str | Path,
    b_dir: str | Path,
    resolution: int,
    channels: int = 0,
    warn: Callable = print,
) -> TranslationDataset:
    """Two domains from two folders of any sizes (CycleGAN)."""
    from ganforge.data.folder import load_image_folder

    domains = []
    for label, folder in (("A", a_dir), ("B", b_dir)):
        try:
            domains.append(
                load_image_folder(folder, resolution, _folder_channels(channels), warn=warn)
            )
        except GanforgeError as e:
            raise GanforgeError(f"domain {label}: {e}") from None
    a, b = domains
    a_data, b_data = match_channels(a.data, b.data, channels)
    meta = {"roots": [a.meta["root"], b.meta["root"]]}
    return TranslationDataset(
        b_data, name=f"{a.name}2{b.name}", meta=meta, source=a_data, paired=False
    )


# ---- channels and sizes --------------------------------------------------------------------


def match_channels(
    a: torch.Tensor, b: torch.Tensor, channels: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both sides with `channels` channels (0: the larger of the two, so grey meets colour)."""
    if channels not in (0, 1, 3):
        raise GanforgeError(f"--channels must be 1 or 3, got {channels}")
    want = channels or max(a.shape[1], b.shape[1])
    return convert_channels(a, want), convert_channels(b, want)


# ---- built-in tasks ------------------------------------------------------------------------


def sobel_edges(images: torch.Tensor, threshold: float = EDGE_THRESHOLD) -> torch.Tensor:
    """Binary edge maps (0/255) of uint8 (N, 1, H, W) images: Sobel magnitude > threshold.

    Pixels are scaled to [0, 1] and the image is zero outside its border (MNIST's background).
    """
    x = images.float() / 255.0
    gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernels = torch.stack([gx, gx.t()]).unsqueeze(1)  # d/dx (columns), d/dy (rows)
    grads = F.conv2d(x, kernels, padding=1)
    magnitude = grads.pow(2).sum(1, keepdim=True).sqrt()
    return (magnitude > threshold).to(torch.uint8) * 255


def thicken(images: torch.Tensor) -> torch.Tensor:
    """3x3 grey dilation of uint8 (N, C, H, W) images: each pixel takes its neighbourhood's max."""
    # max_pool pads with -inf, which for images >= 0 is the same as padding with zeros.
    return F.max_pool2d(images.float(), 3, stride=1, padding=1).to(torch.uint8)


def _split(task: str, split: str, allowed=("train", "test")) -> str:
    if split not in allowed:
        raise GanforgeError(
            f"unknown split {split!r} of {task}",
            fix=f"use {task}, " + ", ".join(f"{task}:{s}" for s in allowed),
        )
    return split


def load_builtin_task(
    task: str, split: str = "train", resolution: int = 28, channels: int = 0, limit: int = 0
) -> TranslationDataset:
    """One of BUILTIN_TASKS (see the module docstring), at `resolution`, first `limit` samples."""
    split = _split(task, split)
    if task == "grey2colour":
        return _grey2colour(split, resolution, channels, limit)
    from ganforge.data.mnist import load_mnist_arrays

    images, labels = load_mnist_arrays(None, split)
    digits = torch.from_numpy(images.copy()).unsqueeze(1)  # a writable copy
    classes = torch.from_numpy(labels)
    meta: dict = {"split": split, "task": task}
    paired = True
    if task == "edges2digits":
        if limit:
            digits, classes = digits[:limit], classes[:limit]
        a, b = sobel_edges(digits), digits
    elif split == "test":  # mnist2thick, held out: paired with its ground truth
        if limit:
            digits, classes = digits[:limit], classes[:limit]
        a, b = digits, thicken(digits)
    else:  # mnist2thick train: disjoint halves, so no digit appears in both domains
        keep = slice(0, limit or None)
        a, b = digits[0::2][keep], thicken(digits[1::2][keep])
        classes, meta["target_classes"] = classes[0::2][keep], classes[1::2][keep]
        paired = False
    meta["source_classes"] = classes
    a, b = match_channels(resize_images(a, resolution), resize_images(b, resolution), channels)
    return TranslationDataset(
        b.contiguous(), name=f"{task}:{split}", meta=meta, source=a.contiguous(), paired=paired
    )


def _grey2colour(split: str, resolution: int, channels: int, limit: int) -> TranslationDataset:
    from ganforge.data.photos import load_photos_dataset

    crops = TRAIN_CROPS_PER_PHOTO if split == "train" else TEST_CROPS_PER_PHOTO
    photos = load_photos_dataset(resolution, split, crops, seed=0 if split == "train" else 1)
    colour = photos.data[:limit] if limit else photos.data
    grey = convert_channels(colour, 1)
    if channels == 1:
        raise GanforgeError("grey2colour translates into colour", fix="drop --channels 1")
    a, b = match_channels(grey, colour, 3)
    meta = {"split": split, "task": "grey2colour", "photo": photos.meta["photo"][: len(b)]}
    return TranslationDataset(b, name=f"grey2colour:{split}", meta=meta, source=a)
