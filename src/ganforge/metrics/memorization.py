"""Does a generator copy its training set? Nearest-neighbour distances to train vs held-out data.

For each generated sample, d_train = distance to its nearest training sample and d_holdout =
distance to its nearest held-out sample (same distribution, never trained on; use a held-out
set of the training set's size, so that neither side is favoured by having more points). A
generator that learns the distribution gives ratios d_train / d_holdout near those of real
unseen data (just under 1); one that copies gives ratios near 0. This is the image analogue of
the tables' distance to closest record (DCR, tabular/report.py); written here because the
torchmetrics and sdmetrics versions are for tables or need an extra feature network.
"""

from __future__ import annotations

import torch

from ganforge.metrics._arrays import ArrayLike, as_tensor, check_same_dim
from ganforge.metrics.prdc import block_rows

COPY_RATIO = 0.5  # a sample at most half as far from a training sample as from any held-out one


def nearest_distances(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Distance from each row of x to its nearest row of `reference`, a block at a time."""
    step = block_rows(reference.shape[0])
    return torch.cat(
        [torch.cdist(x[i : i + step], reference).min(1).values for i in range(0, len(x), step)]
    )


def memorization(
    samples: ArrayLike, train: ArrayLike, holdout: ArrayLike, copy_ratio: float = COPY_RATIO
) -> dict[str, float]:
    """Median d_train / d_holdout over the samples, and the share below `copy_ratio` ("copies").

    Inputs are (N, D) arrays in one space: flattened pixels or extractor features.
    """
    samples = as_tensor(samples, "samples")
    train, holdout = as_tensor(train, "train"), as_tensor(holdout, "holdout")
    check_same_dim(samples, train)
    check_same_dim(samples, holdout)
    dtype = torch.promote_types(samples.dtype, torch.promote_types(train.dtype, holdout.dtype))
    samples, train, holdout = samples.to(dtype), train.to(dtype), holdout.to(dtype)
    ratio = nearest_distances(samples, train) / nearest_distances(samples, holdout).clamp_min(1e-12)
    return {
        "median_ratio": float(ratio.quantile(0.5)),  # numpy's median (mean of the middle two)
        "copies": float((ratio < copy_ratio).double().mean()),
    }
