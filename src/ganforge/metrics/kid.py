"""Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs").

KID is the unbiased estimate of MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3,
averaged over random subsets (100 subsets of min(1000, n) samples by default, as torch-fidelity
and stylegan2-ada). It is unbiased, so it can be slightly negative, and KID(X, X') for two
samples of one distribution is ~0 whatever n is (FID is biased upwards at small n).
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics._arrays import ArrayLike, as_float64, check_same_dim

DEFAULT_SUBSETS = 100
DEFAULT_SUBSET_SIZE = 1000
# torch-fidelity's default seed value, but not its subsets: it draws them from the legacy
# np.random.RandomState (MT19937), ganforge from np.random.default_rng (PCG64), so the same seed
# picks other subsets and KID agrees with torch-fidelity's only within its subset std.
DEFAULT_SEED = 2020


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """k(x, y) = (x.y / d + 1)^3 for all pairs of rows; (n, m)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD^2 between samples x (m, d) and y (n, d) under the polynomial kernel."""
    m, n = x.shape[0], y.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    # Unbiased: the within-set sums leave out the diagonal k(x_i, x_i).
    within_x = (k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1))
    within_y = (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * k_xy.sum() / (m * n))


def kid(
    features_a: ArrayLike,
    features_b: ArrayLike,
    num_subsets: int = DEFAULT_SUBSETS,
    subset_size: int | None = None,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """(mean, std) of unbiased MMD^2 over ``num_subsets`` random subsets of each feature set.

    ``subset_size`` defaults to min(1000, n_a, n_b); asking explicitly for more samples than a
    set holds is an error (as torch-fidelity), since KID from different subset sizes is not
    comparable. Subsets are drawn without replacement from ``np.random.default_rng(seed)``
    (not torch-fidelity's RandomState: same seed, other subsets).
    """
    a, b = as_float64(features_a, "features_a"), as_float64(features_b, "features_b")
    check_same_dim(a, b)
    n_min = min(len(a), len(b))
    if subset_size is None:
        subset_size = min(DEFAULT_SUBSET_SIZE, n_min)
    elif subset_size > n_min:
        raise GanforgeError(
            f"KID subset size {subset_size} exceeds the samples available ({len(a)} and {len(b)})",
            fix=f"pass more samples or subset_size <= {n_min}",
        )
    if subset_size < 2:
        raise GanforgeError(f"KID needs at least 2 samples per set, got {n_min}")
    if num_subsets < 1:
        raise GanforgeError(f"KID needs num_subsets >= 1, got {num_subsets}")
    rng = np.random.default_rng(seed)
    # float64 in torch: same precision as the numpy references, and the one torch thread
    # setting also governs these matmuls.
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    values = np.empty(num_subsets)
    for i in range(num_subsets):
        index_a = torch.from_numpy(rng.choice(len(a), subset_size, replace=False))
        index_b = torch.from_numpy(rng.choice(len(b), subset_size, replace=False))
        values[i] = mmd2_unbiased(ta[index_a], tb[index_b])
    # std over subsets with ddof=0, as torch-fidelity reports it.
    return float(values.mean()), float(values.std())
