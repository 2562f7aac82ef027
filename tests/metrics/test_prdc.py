"""Precision/recall and density/coverage against a brute-force numpy implementation."""

import importlib

import numpy as np
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.prdc import density_coverage, prdc, precision_recall

# The package re-exports the function prdc, which shadows the submodule as an attribute.
prdc_module = importlib.import_module("ganforge.metrics.prdc")


def brute_force(real, fake, pr_k=3, dc_k=5):
    """Kynkaanniemi 2019 / Naeem 2020 with full distance matrices and closed balls."""

    def dist(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    d_rr, d_ff, d_rf = dist(real, real), dist(fake, fake), dist(real, fake)
    # Column 0 of each sorted row is the sample itself; column k is its k-th neighbour.
    r_real_pr, r_real_dc = np.sort(d_rr, 1)[:, pr_k], np.sort(d_rr, 1)[:, dc_k]
    r_fake_pr = np.sort(d_ff, 1)[:, pr_k]
    precision = np.mean([any(d_rf[i, j] <= r_real_pr[i] for i in range(len(real)))
                         for j in range(len(fake))])  # fmt: skip
    recall = np.mean([any(d_rf[i, j] <= r_fake_pr[j] for j in range(len(fake)))
                      for i in range(len(real))])  # fmt: skip
    density = np.mean([sum(d_rf[i, j] <= r_real_dc[i] for i in range(len(real)))
                       for j in range(len(fake))]) / dc_k  # fmt: skip
    coverage = np.mean([d_rf[i].min() <= r_real_dc[i] for i in range(len(real))])
    return {"precision": precision, "recall": recall, "density": density, "coverage": coverage}


@pytest.fixture
def sets():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(120, 6))
    fake = rng.normal(size=(90, 6)) * 1.3 + 0.4
    return real, fake


def test_matches_brute_force(sets):
    real, fake = sets
    got, expected = prdc(real, fake), brute_force(real, fake)
    # Shares of integer counts computed in float64: ties have probability 0 for continuous
    # data, so the counts agree exactly; 1e-12 only absorbs the division.
    for name in expected:
        assert got[name] == pytest.approx(expected[name], abs=1e-12), name
    assert 0 < got["precision"] < 1 and 0 < got["recall"] < 1


def test_blocked_distances_give_the_same_answer(sets, monkeypatch):
    real, fake = sets
    whole = prdc(real, fake)
    monkeypatch.setattr(prdc_module, "_BLOCK_ELEMENTS", 500)  # blocks of 4-5 rows
    assert prdc(real, fake) == whole


def test_other_k_values_match_brute_force(sets):
    real, fake = sets
    got, expected = prdc(real, fake, pr_k=1, dc_k=2), brute_force(real, fake, 1, 2)
    for name in expected:
        assert got[name] == pytest.approx(expected[name], abs=1e-12), name


def test_wrappers(sets):
    real, fake = sets
    full = prdc(real, fake)
    assert precision_recall(real, fake) == (full["precision"], full["recall"])
    assert density_coverage(real, fake) == (full["density"], full["coverage"])
    assert set(prdc(real, fake, dc_k=None)) == {"precision", "recall"}


def test_float32_agrees_within_a_sample(sets):
    real, fake = sets
    got32 = prdc(torch.tensor(real, dtype=torch.float32), torch.tensor(fake, dtype=torch.float32))
    expected = prdc(real, fake)
    # float32 distances may flip a sample sitting on a ball's edge: at most ~1 sample in 90.
    for name in expected:
        assert got32[name] == pytest.approx(expected[name], abs=2 / 90), name


def test_identical_sets():
    x = np.random.default_rng(1).normal(size=(200, 5))
    got = prdc(x, x)
    assert got["precision"] == 1.0 and got["recall"] == 1.0 and got["coverage"] == 1.0
    # Each real ball holds its centre and its k neighbours: density = (k + 1) / k exactly.
    assert got["density"] == pytest.approx(6 / 5, abs=1e-12)


def test_disjoint_sets():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + 100
    assert prdc(real, fake) == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_too_few_samples():
    with pytest.raises(GanforgeError, match="needs at least 4"):
        prdc(np.zeros((3, 2)), np.zeros((10, 2)), dc_k=None)
    with pytest.raises(GanforgeError, match="needs at least 6"):
        prdc(np.zeros((5, 2)), np.zeros((10, 2)))
    with pytest.raises(GanforgeError, match="fake set"):
        prdc(np.zeros((10, 2)), np.zeros((3, 2)))


def test_dimension_mismatch():
    with pytest.raises(GanforgeError, match="dimensions differ"):
        prdc(np.zeros((10, 2)), np.zeros((10, 3)))
