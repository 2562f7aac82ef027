"""scikit-learn's 8x8 handwritten digits (1,797 images, shipped with the package), upscaled."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganforge.data.dataset import InMemoryDataset


def load_digits_dataset(resolution: int = 32) -> InMemoryDataset:
    """The digits as uint8 (N, 1, R, R) images with labels 0-9, upscaled bilinearly."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images).float().unsqueeze(1) / 16.0  # values 0..16
    if resolution != 8:
        images = F.interpolate(
            images,
            size=(resolution, resolution),
            mode="bilinear",
            align_corners=False,
            antialias=resolution < 8,
        )
    data = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    return InMemoryDataset(
        data, torch.from_numpy(bunch.target).long(), [str(i) for i in range(10)], name="digits"
    )
