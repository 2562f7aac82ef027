"""StackedMNIST: three MNIST training digits stacked as the R, G and B channels of one image.

The protocol of Metz et al. 2017 (Unrolled GANs), Srivastava et al. 2017 (VEEGAN) and Lin et al.
2018 (PacGAN): each image takes three digits drawn uniformly, independently, with replacement
from MNIST train, so the data has 10^3 = 1,000 modes (the digit triple), each holding 1/1,000.
The set is fixed: 60,000 images drawn with seed 0 (NumPy's PCG64), the same on every machine;
``--limit N`` keeps its first N. Labels are the modes, 100 * red digit + 10 * green + blue
(0..999), so conditional families and the class diagnostics can use them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganforge.data.dataset import InMemoryDataset
from ganforge.errors import GanforgeError

SIZE = 60_000  # images in the fixed set
SEED = 0
NUM_MODES = 1000


def mode_names() -> list[str]:
    """'000' .. '999': the digit triple (red, green, blue) each label stands for."""
    return [f"{m:03d}" for m in range(NUM_MODES)]


def stack_indices(n_source: int, size: int = SIZE, seed: int = SEED) -> np.ndarray:
    """(size, 3) indices into MNIST train: the digits of each stacked image's R, G, B."""
    if n_source < 1:
        raise GanforgeError("MNIST train holds no images", fix="use the full MNIST train split")
    return np.random.default_rng(seed).integers(0, n_source, size=(size, 3))


def stack_digits(
    images: np.ndarray, labels: np.ndarray, limit: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The fixed set built from MNIST train arrays ((N, 28, 28) uint8, (N,) digits): images
    (n, 3, 28, 28) uint8 and mode labels (n,) int64, n = limit or 60,000 (first n of the set)."""
    index = stack_indices(len(images))
    if limit:
        index = index[:limit]
    stacked = images[index]  # (n, 3, 28, 28): channel c is the digit index[:, c]
    digits = labels[index].astype(np.int64)
    modes = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
    return np.ascontiguousarray(stacked), modes


def load_stacked_mnist(root: str | Path | None = None, limit: int = 0) -> InMemoryDataset:
    """StackedMNIST from MNIST train found at `root` (else where `mnist` looks): uint8
    (n, 3, 28, 28) images labelled with their mode 0..999."""
    from ganforge.data.mnist import load_mnist_arrays

    if root:
        folder = Path(root).expanduser()
        if not folder.is_dir():
            raise GanforgeError(
                "MNIST folder not found",
                f"stacked-mnist:{root}",
                "give the folder that holds MNIST's four files as stacked-mnist:PATH "
                f"(`ganforge data get mnist --dir {root}` downloads them there)",
            )
    if limit < 0:
        raise GanforgeError(f"--limit must be >= 0, got {limit}")
    images, labels = load_mnist_arrays(root or None, "train")
    stacked, modes = stack_digits(images, labels, limit)
    return InMemoryDataset(
        torch.from_numpy(stacked),
        torch.from_numpy(modes),
        mode_names(),
        name="stacked-mnist",
        meta={"stacked_mnist": {"size": SIZE, "seed": SEED, "source_images": len(images)}},
    )
