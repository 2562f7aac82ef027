"""KID against a direct O(n^2) formula, and its behaviour on equal distributions."""

import numpy as np
import pytest

from ganforge.errors import GanforgeError
from ganforge.metrics.kid import kid


def direct_mmd2(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written with explicit loops."""
    m, n, d = len(x), len(y), x.shape[1]

    def k(a, b):
        return (a @ b / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_matches_direct_formula():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 5)), rng.normal(size=(30, 5)) + 0.5
    # One subset holding every sample: a permutation, and MMD^2 does not depend on order.
    mean, std = kid(x, y, num_subsets=1, subset_size=30)
    assert mean == pytest.approx(direct_mmd2(x, y), rel=1e-10)  # same sums, float64
    assert std == 0.0


def test_subsets_average_the_direct_formula():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(50, 3)) * 1.5
    mean, std = kid(x, y, num_subsets=3, subset_size=20, seed=7)
    # Replay the subset draws with the same RNG calls the implementation makes.
    draw = np.random.default_rng(7)
    values = []
    for _ in range(3):
        ix, iy = draw.choice(40, 20, replace=False), draw.choice(50, 20, replace=False)
        values.append(direct_mmd2(x[ix], y[iy]))
    assert mean == pytest.approx(np.mean(values), rel=1e-10)
    assert std == pytest.approx(np.std(values), rel=1e-8)


def test_near_zero_for_one_distribution_and_large_when_shifted():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    same_mean, same_std = kid(a, b)
    shifted_mean, _ = kid(a, b + 0.5)
    # Unbiased: the mean over 100 subsets of 1000 is within a few stds/sqrt(100) of 0 (the
    # subsets overlap, so allow 3 stds of one subset), while a 0.5 shift in every dimension
    # gives an MMD^2 that is orders of magnitude larger.
    assert abs(same_mean) < 3 * same_std
    assert shifted_mean > 50 * max(abs(same_mean), same_std / 10)


def test_default_subset_size_is_min_1000_n():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(60, 4)), rng.normal(size=(80, 4))
    # With subset size 60 = n_x every x subset is all of x; the result equals subset_size=60.
    assert kid(x, y, num_subsets=5) == kid(x, y, num_subsets=5, subset_size=60)


def test_seeded_and_reproducible():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(100, 4)), rng.normal(size=(100, 4))
    assert kid(x, y, 10, 50, seed=1) == kid(x, y, 10, 50, seed=1)
    assert kid(x, y, 10, 50, seed=1) != kid(x, y, 10, 50, seed=2)


def test_explicit_subset_larger_than_n_is_an_error():
    x = np.zeros((50, 4))
    with pytest.raises(GanforgeError, match="subset size 60 exceeds"):
        kid(x, x, subset_size=60)


@pytest.mark.parametrize(
    "x, y, message",
    [
        (np.zeros((1, 4)), np.zeros((10, 4)), "at least 2"),
        (np.zeros((10, 4)), np.zeros((10, 3)), "dimensions differ"),
        (np.zeros((10,)), np.zeros((10, 3)), "2-D"),
    ],
)
def test_bad_inputs(x, y, message):
    with pytest.raises(GanforgeError, match=message):
        kid(x, y)
