"""Class histogram, entropy and under-represented classes."""

import numpy as np
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.diagnostics import class_diagnostics, class_histogram, entropy_bits


def one_hot_logits(labels, k=10):
    return torch.eye(k)[torch.as_tensor(labels)] * 5


def test_histogram_counts_argmax():
    counts = class_histogram(one_hot_logits([0, 0, 3, 9]))
    assert counts.tolist() == [2, 0, 0, 1, 0, 0, 0, 0, 0, 1]


def test_entropy_closed_forms():
    assert entropy_bits([5] * 8) == pytest.approx(3.0)
    assert entropy_bits([7, 0, 0]) == 0.0
    assert entropy_bits([1, 1, 2]) == pytest.approx(1.5)  # -(2 * 1/4 log 1/4 + 1/2 log 1/2)


def test_balanced_samples():
    result = class_diagnostics(one_hot_logits(np.arange(100) % 10))
    assert result["class_entropy_bits"] == pytest.approx(np.log2(10))
    assert result["class_entropy_max_bits"] == pytest.approx(np.log2(10))
    assert result["classes_under_half"] == 0


def test_collapse_is_flagged():
    labels = [1] * 90 + [7] * 6 + [3] * 4  # 3 holds 4% < half of 10%
    result = class_diagnostics(one_hot_logits(labels))
    assert result["classes_under_half"] == 8  # every class but 1 and 7
    assert (
        "3" in result["classes_under_half_names"] and "7" not in result["classes_under_half_names"]
    )


def test_expected_share_from_reference():
    labels = [0] * 50 + [1] * 50
    # Reference 90% class 0, 10% class 1: 50% is above half of either share (45%, 5%), and
    # classes the reference never shows (expected 0%) are never flagged.
    expected = np.array([0.9, 0.1] + [0.0] * 8)
    result = class_diagnostics(one_hot_logits(labels), expected, [f"c{i}" for i in range(10)])
    assert result["classes_under_half"] == 0
    skewed = class_diagnostics(one_hot_logits([1] * 100), expected)
    assert skewed["classes_under_half"] == 1  # class 0: 0% < 45%


def test_bad_inputs():
    with pytest.raises(GanforgeError, match=r"\(N, K\)"):
        class_histogram(torch.zeros(5))
    with pytest.raises(GanforgeError, match="expected_share"):
        class_diagnostics(one_hot_logits([0, 1]), np.ones(3))
