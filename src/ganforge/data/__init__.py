"""Datasets by spec string: `ring`, `grid`, `digits`, `mnist[:PATH]`, `stacked-mnist[:PATH]`,
`folder:PATH`."""

from __future__ import annotations

import torch

from ganforge.data.dataset import BatchSampler, InMemoryDataset
from ganforge.errors import GanforgeError
from ganforge.images import convert_channels, resize_images

__all__ = ["BatchSampler", "InMemoryDataset", "load_dataset", "DATA_SOURCES"]

DATA_SOURCES = {
    "ring": "8 Gaussians on a circle (2-D vectors, 8 labelled modes)",
    "grid": "25 Gaussians on a 5x5 grid (2-D vectors, 25 labelled modes)",
    "digits": "scikit-learn's 1,797 8x8 digits, upscaled (embedded; labels 0-9)",
    "mnist[:PATH]": "MNIST's gzipped IDX files from PATH, $GANFORGE_DATA or the cache "
    "(`ganforge data get mnist`; labels 0-9)",
    "stacked-mnist[:PATH]": "StackedMNIST: 60,000 seeded triples of MNIST train digits as R, G, B "
    "(28x28x3; labels = the 1,000 modes 0-999)",
    "folder:PATH": "any folder of images, recursive; class subfolders become labels",
    # Image-to-image translation (data/paired.py): batches are (target B, source A).
    "paired:A_DIR,B_DIR": "image pairs matched by file name (or paired:AB_DIR, side by side)",
    "unpaired:A_DIR,B_DIR": "two image domains of any sizes (CycleGAN)",
    "edges2digits[:test]": "MNIST edge maps -> digits (paired, built in)",
    "mnist2thick[:test]": "MNIST -> thickened digits (unpaired train, paired test; built in)",
    "grey2colour[:test]": "grey -> colour crops of the built-in photos (paired)",
    # Clips for the video family (families/video.py loads them: data/moving_mnist.py, frames.py).
    "moving-mnist[:PATH]": "two MNIST digits bouncing in 64x64, 20 frames, drawn on the fly "
    "(MNIST from PATH or the usual search; moving-mnist:test = the fixed 10,000)",
    "frames:DIR": "a user's clips: GIF/video files or folders of numbered frames",
}
_TRANSLATION_KINDS = ("paired", "unpaired", "edges2digits", "mnist2thick", "grey2colour")


def load_dataset(
    source: str, resolution: int = 32, channels: int = 0, limit: int = 0, warn=print
) -> InMemoryDataset:
    """Load a dataset by spec; images come out uint8 (N, C, resolution, resolution)."""
    kind, _, arg = source.partition(":")
    if kind in _TRANSLATION_KINDS:  # two domains per sample: their own dataset class
        from ganforge.data.paired import load_translation_data

        return load_translation_data(source, resolution, channels, limit, warn)
    if kind in ("moving-mnist", "frames"):
        raise GanforgeError(
            f"{kind} holds clips, which the video family trains on",
            source,
            "train with --family video (or --preset moving-mnist)",
        )
    if kind == "ring":
        from ganforge.data.toys import load_ring

        dataset = load_ring()
    elif kind == "grid":
        from ganforge.data.toys import load_grid

        dataset = load_grid()
    elif kind == "digits":
        from ganforge.data.digits import load_digits_dataset

        dataset = load_digits_dataset(resolution)
    elif kind == "mnist":
        from ganforge.data.mnist import load_mnist

        split = "train"
        if arg in ("train", "test"):
            split, arg = arg, ""
        dataset = load_mnist(arg or None, split)
    elif kind == "stacked-mnist":
        from ganforge.data.stacked_mnist import load_stacked_mnist

        dataset = load_stacked_mnist(arg or None, limit)  # built only up to the limit
    elif kind == "folder":
        if not arg:
            raise GanforgeError("folder: needs a path", fix="use --data folder:PATH")
        from ganforge.data.folder import load_image_folder

        dataset = load_image_folder(arg, resolution, channels or None, warn=warn)
    else:
        raise GanforgeError(
            f"unknown data source {source!r}", fix=f"use one of: {', '.join(DATA_SOURCES)}"
        )
    if limit:
        dataset = dataset.subset(torch.arange(min(limit, len(dataset))))
    if dataset.is_image:
        dataset = _conform(dataset, resolution, channels)
    return dataset


def _conform(dataset: InMemoryDataset, resolution: int, channels: int) -> InMemoryDataset:
    """Resize (bilinear, antialiased) and convert channels so images match the run's settings."""
    data = resize_images(dataset.data, resolution)
    if channels not in (0, 1, 3):
        raise GanforgeError(f"--channels must be 1 or 3, got {channels}")
    if channels:
        data = convert_channels(data, channels)
    if data is dataset.data:
        return dataset
    return InMemoryDataset(data, dataset.labels, dataset.class_names, dataset.name, dataset.meta)
