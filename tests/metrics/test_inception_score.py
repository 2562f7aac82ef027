"""Inception Score against the direct formula and its closed-form extremes."""

import numpy as np
import pytest
from scipy.special import softmax
from scipy.stats import entropy

from ganforge.errors import GanforgeError
from ganforge.metrics.inception_score import inception_score


def direct_is(probs, splits):
    """Salimans 2016 as openai/improved-gan's model.py splits it: part k is rows
    [k*N//splits, (k+1)*N//splits), so no row is dropped; mean and std over parts."""
    n = len(probs)
    scores = []
    for s in range(splits):
        p = probs[s * n // splits : (s + 1) * n // splits]
        marginal = p.mean(0)
        kl = [entropy(pi, marginal) for pi in p]  # scipy: sum pi log(pi / marginal)
        scores.append(np.exp(np.mean(kl)))
    return np.mean(scores), np.std(scores)


def test_matches_direct_formula_from_logits():
    # 105 = 10 * 10 + 5: the original's parts hold 10 or 11 rows, none is dropped.
    logits = np.random.default_rng(0).normal(size=(105, 7)) * 3
    mean, std = inception_score(logits, splits=10)
    expected_mean, expected_std = direct_is(softmax(logits, axis=1), 10)
    # Same float64 sums in a different order: ~1e-15 relative.
    assert mean == pytest.approx(expected_mean, rel=1e-10)
    assert std == pytest.approx(expected_std, rel=1e-8)


def test_no_sample_is_dropped_when_n_is_not_a_multiple_of_splits():
    logits = np.random.default_rng(2).normal(size=(23, 4)) * 2
    base = inception_score(logits, splits=10)
    for row in (0, 11, 22):  # the first, a middle and the last sample all count
        changed = logits.copy()
        changed[row] = [9.0, -9.0, 0.0, 0.0]
        assert inception_score(changed, splits=10) != base, row
    # The parts are those of the original code: sizes 2 or 3, every index once.
    expected = direct_is(softmax(logits, axis=1), 10)
    assert base == pytest.approx(expected, rel=1e-10)


def test_probabilities_give_the_same_score():
    logits = np.random.default_rng(1).normal(size=(60, 4))
    from_logits = inception_score(logits, splits=3)
    from_probs = inception_score(softmax(logits, axis=1), splits=3, probabilities=True)
    assert from_probs == pytest.approx(from_logits, rel=1e-10)


def test_closed_form_extremes():
    k = 10
    uniform = np.full((100, k), 1.0 / k)
    assert inception_score(uniform, probabilities=True)[0] == pytest.approx(1.0, abs=1e-12)
    # Confident and balanced: KL = log K for every sample, so IS = K exactly.
    one_hot = np.eye(k)[np.arange(200) % k]
    mean, std = inception_score(one_hot, probabilities=True)
    assert mean == pytest.approx(k, rel=1e-12) and std == pytest.approx(0.0, abs=1e-9)


def test_large_logits_are_stable():
    logits = np.eye(5)[np.arange(50) % 5] * 1000.0
    assert inception_score(logits, splits=5)[0] == pytest.approx(5.0, rel=1e-9)


def test_bad_inputs():
    with pytest.raises(GanforgeError, match="at least 10 samples"):
        inception_score(np.zeros((9, 3)))
    with pytest.raises(GanforgeError, match="summing to 1"):
        inception_score(np.ones((20, 3)), probabilities=True)
    with pytest.raises(GanforgeError, match="2-D"):
        inception_score(np.ones(20))
