"""2-D toy distributions for checking that a GAN covers every mode: ring and grid of Gaussians."""

from __future__ import annotations

import math

import torch

from ganforge.data.dataset import InMemoryDataset

# The standard settings (Metz et al. 2017, "Unrolled GANs"; Srivastava 2017, "VEEGAN").
RING_MODES, RING_RADIUS, RING_STD = 8, 2.0, 0.02
GRID_SIDE, GRID_SPACING, GRID_STD = 5, 2.0, 0.05


def ring_centers(modes: int = RING_MODES, radius: float = RING_RADIUS) -> torch.Tensor:
    """(modes, 2) centres evenly spaced on a circle."""
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return (torch.stack([angles.cos(), angles.sin()], 1) * radius).float()


def grid_centers(side: int = GRID_SIDE, spacing: float = GRID_SPACING) -> torch.Tensor:
    """(side^2, 2) centres on a square grid centred at the origin."""
    coords = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(coords, coords, indexing="ij")
    return torch.stack([gx.flatten(), gy.flatten()], 1)


def mixture(centers: torch.Tensor, std: float, n: int, seed: int, name: str) -> InMemoryDataset:
    """n points from an equal-weight Gaussian mixture; labels are the mode indices."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(centers), (n,), generator=g)
    points = centers[labels] + std * torch.randn(n, 2, generator=g)
    return InMemoryDataset(
        points,
        labels,
        [f"mode{i}" for i in range(len(centers))],
        name=name,
        meta={"centers": centers.tolist(), "std": std},
    )


def load_ring(n: int = 50_000, seed: int = 0) -> InMemoryDataset:
    """8 Gaussians (std 0.02) on a circle of radius 2."""
    return mixture(ring_centers(), RING_STD, n, seed, "ring")


def load_grid(n: int = 50_000, seed: int = 0) -> InMemoryDataset:
    """25 Gaussians (std 0.05) on a 5x5 grid with spacing 2."""
    return mixture(grid_centers(), GRID_STD, n, seed, "grid")
