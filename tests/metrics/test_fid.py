"""FID against closed forms and scipy.linalg.sqrtm."""

import numpy as np
import pytest
import scipy.linalg
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.fid import feature_stats, fid, frechet_distance, trace_sqrt_product


def random_spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def sqrtm_fid(a, b):
    """pytorch-fid's route, written out: scipy.linalg.sqrtm of S1 S2, real part."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


def test_feature_stats_match_numpy_cov_with_n_minus_1():
    x = np.random.default_rng(0).normal(size=(50, 4))
    mu, sigma = feature_stats(x)
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), rtol=1e-12)


def test_identical_sets_give_zero():
    x = np.random.default_rng(1).normal(size=(500, 16)) * 3
    # tr(S) ~ 144 here; two eigendecompositions leave ~1e-13 relative error, so 1e-8 absolute
    # is generous yet far below any meaningful FID.
    assert fid(x, x) == pytest.approx(0.0, abs=1e-8)


def test_diagonal_closed_form():
    rng = np.random.default_rng(2)
    d = 10
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    v1, v2 = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    got = frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2))
    assert got == pytest.approx(expected, rel=1e-10)  # float64 eigh on 10x10: ~1e-14 relative


def test_scaled_covariance_closed_form():
    rng = np.random.default_rng(3)
    d, c = 12, 0.6
    s1 = random_spd(rng, d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    expected = ((mu1 - mu2) ** 2).sum() + (1 - c) ** 2 * np.trace(s1)
    got = frechet_distance(mu1, s1, mu2, c**2 * s1)
    # S1 has condition number ~1e3; eigh's error ~1e-16 * cond stays far below 1e-9 relative.
    assert got == pytest.approx(expected, rel=1e-9)


def test_matches_scipy_sqrtm_on_random_data():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(300, 8))
    b = rng.normal(size=(250, 8)) @ rng.normal(size=(8, 8)) * 0.5 + 0.3
    # Both routes are exact in exact arithmetic; sqrtm's Schur iteration agrees to ~1e-10.
    assert fid(a, b) == pytest.approx(sqrtm_fid(a, b), rel=1e-8)


def test_trace_sqrt_product_matches_sqrtm():
    rng = np.random.default_rng(5)
    s1, s2 = random_spd(rng, 6), random_spd(rng, 6)
    expected = np.trace(scipy.linalg.sqrtm(s1 @ s2).real)
    assert trace_sqrt_product(s1, s2) == pytest.approx(expected, rel=1e-9)


def test_singular_covariances_stay_finite_and_symmetric():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(20, 64)), rng.normal(size=(25, 64)) + 0.1  # N < D: rank deficient
    ab, ba = fid(a, b), fid(b, a)
    assert np.isfinite(ab) and ab > 0
    # tr sqrt(S1 S2) = tr sqrt(S2 S1); eigenvalue clipping near 0 may differ by ~1e-7.
    assert ab == pytest.approx(ba, rel=1e-6)


def test_order_of_magnitude_and_shift():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(2000, 4))
    b = rng.normal(size=(2000, 4)) + np.array([2.0, 0, 0, 0])
    # ||dmu||^2 = 4; covariance terms are sampling noise of order d^2/N ~ 0.01.
    assert fid(a, b) == pytest.approx(4.0, abs=0.3)


def test_accepts_torch_tensors():
    x = torch.randn(100, 5, generator=torch.Generator().manual_seed(0))
    y = x + 1.0
    assert fid(x, y) == pytest.approx(fid(x.numpy(), y.numpy()), rel=1e-12)
    assert fid(x, y) == pytest.approx(5.0, rel=1e-6)  # pure shift: ||dmu||^2 = 5


@pytest.mark.parametrize(
    "a, b, message",
    [
        (np.zeros(10), np.zeros((10, 2)), "2-D"),
        (np.zeros((10, 3)), np.zeros((10, 2)), "dimensions differ"),
        (np.zeros((1, 3)), np.zeros((10, 3)), "at least 2"),
        (np.full((10, 3), np.nan), np.zeros((10, 3)), "NaN"),
    ],
)
def test_bad_inputs(a, b, message):
    with pytest.raises(GanforgeError, match=message):
        fid(a, b)


def test_mismatched_stats():
    with pytest.raises(GanforgeError, match="do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
