"""Precision/recall (Kynkaanniemi et al. 2019) and density/coverage (Naeem et al. 2020).

Each sample gets a ball whose radius is the distance to its k-th nearest neighbour in its own
set (the (k+1)-th smallest distance, since the smallest is to itself):

- precision: share of fakes inside at least one real ball (k = 3);
- recall: share of reals inside at least one fake ball (k = 3);
- density: (1/k) * mean over fakes of the number of real balls holding it (k = 5);
- coverage: share of reals whose nearest fake lies inside their own ball (k = 5).

Balls are closed (``<=``), as in Kynkaanniemi 2019 and torch-fidelity (the ``prdc`` package uses
``<``; the two differ only on exact ties). Distances are computed a block of rows at a time,
so 10k x 10k never sits in memory at once; float64 inputs are computed in float64, anything
else in float32.
"""

from __future__ import annotations

import torch

from ganforge.errors import GanforgeError
from ganforge.metrics._arrays import ArrayLike, as_tensor, check_same_dim

PR_K = 3
DC_K = 5
_BLOCK_ELEMENTS = 8_000_000  # distances per block: 32 MB in float32


def block_rows(n_columns: int) -> int:
    """Rows per block of a distance matrix with n_columns columns (shared by memorization.py)."""
    return max(1, _BLOCK_ELEMENTS // max(1, n_columns))


def _check_count(x: torch.Tensor, k: int, what: str) -> None:
    if x.shape[0] < k + 1:
        raise GanforgeError(
            f"{what} holds {x.shape[0]} samples, k-NN with k={k} needs at least {k + 1}",
            fix="use more samples (>= 10000 for the standard protocol)",
        )


def knn_radii(x: torch.Tensor, ks: tuple[int, ...]) -> dict[int, torch.Tensor]:
    """For each k in ``ks``: the distance from each row of x to its k-th nearest other row."""
    k_max = max(ks)
    radii = {k: torch.empty(x.shape[0], dtype=x.dtype) for k in ks}
    step = block_rows(x.shape[0])
    for start in range(0, x.shape[0], step):
        distances = torch.cdist(x[start : start + step], x)
        # k+1 smallest include the row itself (distance ~0): index k is the k-th neighbour.
        nearest = distances.topk(k_max + 1, dim=1, largest=False).values
        for k in ks:
            radii[k][start : start + step] = nearest[:, k]
    return radii


def prdc(
    real_features: ArrayLike,
    fake_features: ArrayLike,
    pr_k: int | None = PR_K,
    dc_k: int | None = DC_K,
) -> dict[str, float]:
    """Precision, recall (k=pr_k) and density, coverage (k=dc_k) from one pass over distances.

    Pass ``pr_k=None`` or ``dc_k=None`` to skip that pair. Returns a dict with the keys of the
    pairs computed: precision, recall, density, coverage.
    """
    real = as_tensor(real_features, "real_features")
    fake = as_tensor(fake_features, "fake_features")
    check_same_dim(real, fake)
    dtype = torch.float64 if torch.float64 in (real.dtype, fake.dtype) else torch.float32
    real, fake = real.to(dtype), fake.to(dtype)
    real_ks = tuple(k for k in (pr_k, dc_k) if k is not None)
    if not real_ks:
        return {}
    for k in real_ks:
        if k < 1:
            raise GanforgeError(f"k must be >= 1, got {k}")
        _check_count(real, k, "the real set")
    if pr_k is not None:
        _check_count(fake, pr_k, "the fake set")

    real_radii = knn_radii(real, real_ks)
    fake_radius = knn_radii(fake, (pr_k,))[pr_k] if pr_k is not None else None

    fake_in_some_real_ball = torch.zeros(fake.shape[0], dtype=torch.bool)
    real_in_some_fake_ball = torch.zeros(real.shape[0], dtype=torch.bool)
    real_balls_per_fake = torch.zeros(fake.shape[0], dtype=torch.float64)
    real_covered = torch.zeros(real.shape[0], dtype=torch.bool)
    step = block_rows(fake.shape[0])
    for start in range(0, real.shape[0], step):
        rows = slice(start, start + step)
        distances = torch.cdist(real[rows], fake)  # (block of reals, all fakes)
        if pr_k is not None:
            fake_in_some_real_ball |= (distances <= real_radii[pr_k][rows, None]).any(0)
            real_in_some_fake_ball[rows] = (distances <= fake_radius[None, :]).any(1)
        if dc_k is not None:
            inside = distances <= real_radii[dc_k][rows, None]
            real_balls_per_fake += inside.sum(0, dtype=torch.float64)
            real_covered[rows] = distances.min(1).values <= real_radii[dc_k][rows]

    result = {}
    if pr_k is not None:
        result["precision"] = float(fake_in_some_real_ball.double().mean())
        result["recall"] = float(real_in_some_fake_ball.double().mean())
    if dc_k is not None:
        result["density"] = float(real_balls_per_fake.mean() / dc_k)
        result["coverage"] = float(real_covered.double().mean())
    return result


def precision_recall(
    real_features: ArrayLike, fake_features: ArrayLike, k: int = PR_K
) -> tuple[float, float]:
    """(precision, recall) of Kynkaanniemi et al. 2019 with k-NN radius k (default 3)."""
    result = prdc(real_features, fake_features, pr_k=k, dc_k=None)
    return result["precision"], result["recall"]


def density_coverage(
    real_features: ArrayLike, fake_features: ArrayLike, k: int = DC_K
) -> tuple[float, float]:
    """(density, coverage) of Naeem et al. 2020 with k-NN radius k (default 5)."""
    result = prdc(real_features, fake_features, pr_k=None, dc_k=k)
    return result["density"], result["coverage"]
