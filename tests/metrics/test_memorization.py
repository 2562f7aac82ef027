"""Memorization: nearest-neighbour distance ratios against scipy, and the two extremes."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from ganforge.errors import GanforgeError
from ganforge.metrics import memorization


def _sets(seed=0, n=300, d=8):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d))


def test_matches_a_scipy_reference():
    train, holdout, samples = _sets()
    ratio = cdist(samples, train).min(1) / cdist(samples, holdout).min(1)
    result = memorization(samples, train, holdout)
    assert result["median_ratio"] == pytest.approx(np.median(ratio), rel=1e-9)
    assert result["copies"] == pytest.approx(np.mean(ratio < 0.5), abs=1e-12)


def test_copies_are_found_and_fresh_samples_are_not():
    train, holdout, fresh = _sets(seed=1)
    copied = train[:200] + 1e-3 * np.random.default_rng(2).normal(size=(200, train.shape[1]))
    copying = memorization(copied, train, holdout)
    assert copying["copies"] == 1.0 and copying["median_ratio"] < 0.01
    learning = memorization(fresh, train, holdout)
    assert 0.8 < learning["median_ratio"] < 1.25 and learning["copies"] < 0.1


def test_mismatched_dimensions_are_a_user_error():
    train, holdout, samples = _sets()
    with pytest.raises(GanforgeError, match="feature dimensions differ"):
        memorization(samples[:, :4], train, holdout)
