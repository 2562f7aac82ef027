"""Mode coverage on 2-D mixtures (Srivastava 2017, VEEGAN protocol): modes recovered, high-quality share."""

from __future__ import annotations

import torch


def mode_coverage(
    samples: torch.Tensor,
    centers: torch.Tensor,
    std: float,
    n_sigma: float = 3.0,
    min_count: int | None = None,
) -> dict:
    """Assign each sample to its nearest centre; a sample is high quality within n_sigma*std of it.

    A mode is recovered when it holds at least `min_count` high-quality samples (default: 1% of
    the samples a perfect generator would put there, at least 1). Returns
    {"modes": int, "num_modes": int, "high_quality": float, "counts": list[int]}.
    """
    samples = torch.as_tensor(samples, dtype=torch.float32).reshape(-1, 2)
    centers = torch.as_tensor(centers, dtype=torch.float32)
    dist = torch.cdist(samples, centers)
    nearest_dist, nearest = dist.min(1)
    good = nearest_dist <= n_sigma * std
    counts = torch.bincount(nearest[good], minlength=len(centers))
    if min_count is None:
        min_count = max(1, int(0.01 * len(samples) / len(centers)))
    return {
        "modes": int((counts >= min_count).sum()),
        "num_modes": len(centers),
        "high_quality": float(good.float().mean()) if len(samples) else 0.0,
        "counts": counts.tolist(),
    }
