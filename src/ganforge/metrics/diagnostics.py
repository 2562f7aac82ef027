"""Mode-collapse diagnostics for labelled image data: which classes a generator actually produces.

Samples are assigned to the classifier's argmax class; a collapsed generator shows up as a
low-entropy histogram with classes far below their share (e.g. an MNIST GAN that stopped
drawing 8s).
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics._arrays import ArrayLike


def class_histogram(logits: ArrayLike, num_classes: int | None = None) -> np.ndarray:
    """Counts (K,) of argmax classes of (N, K) logits or probabilities."""
    scores = torch.as_tensor(logits)
    if scores.dim() != 2 or scores.shape[0] == 0:
        raise GanforgeError(f"class scores must be (N, K) with N >= 1, got {tuple(scores.shape)}")
    k = num_classes or scores.shape[1]
    return torch.bincount(scores.argmax(1).cpu(), minlength=k).numpy()


def entropy_bits(counts: ArrayLike) -> float:
    """Shannon entropy in bits of the distribution given by ``counts`` (0 log 0 = 0)."""
    p = np.asarray(counts, dtype=np.float64)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0


def class_diagnostics(
    logits: ArrayLike,
    expected_share: ArrayLike | None = None,
    class_names: list[str] | None = None,
) -> dict:
    """Class histogram of samples, its entropy in bits and the classes under half their share.

    ``expected_share`` (K,) is the share each class should have (e.g. the reference set's own
    histogram under the same classifier); uniform when None. Returns class_counts,
    class_entropy_bits, class_entropy_max_bits (log2 K), classes_under_half (how many) and
    classes_under_half_names.
    """
    counts = class_histogram(logits)
    k = counts.shape[0]
    if expected_share is None:
        expected = np.full(k, 1.0 / k)
    else:
        expected = np.asarray(expected_share, dtype=np.float64)
        if expected.shape != (k,) or (expected < 0).any() or expected.sum() <= 0:
            raise GanforgeError(
                f"expected_share must be {k} non-negative numbers, got shape {expected.shape}"
            )
        expected = expected / expected.sum()
    share = counts / counts.sum()
    under = share < 0.5 * expected
    names = class_names or [str(i) for i in range(k)]
    return {
        "class_counts": counts.tolist(),
        "class_entropy_bits": entropy_bits(counts),
        "class_entropy_max_bits": float(np.log2(k)),
        "classes_under_half": int(under.sum()),
        "classes_under_half_names": [names[i] for i in np.flatnonzero(under)],
    }
