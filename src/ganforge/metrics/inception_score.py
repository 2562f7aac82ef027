"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs").

IS = exp(E_x KL(p(y|x) || p(y))), computed on each of ``splits`` consecutive parts of the samples
(10 by default); mean and std (ddof=0) over parts. Part k is samples [k*N//splits, (k+1)*N//splits),
as the original code (openai/improved-gan ``inception_score/model.py``): no sample is dropped, and
when N is not a multiple of ``splits`` the parts differ in size by one. No shuffling, as the original;
torch-fidelity uses the same boundaries but shuffles the samples first (seed 2020) by default.
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics._arrays import ArrayLike, as_float64

DEFAULT_SPLITS = 10


def _log_probabilities(scores: np.ndarray, probabilities: bool) -> np.ndarray:
    if not probabilities:
        # log_softmax in float64: exact for large logits where softmax then log would underflow.
        return torch.from_numpy(scores).log_softmax(dim=1).numpy()
    if (scores < -1e-6).any() or np.abs(scores.sum(axis=1) - 1.0).max() > 1e-3:
        raise GanforgeError(
            "probabilities must be non-negative rows summing to 1",
            fix="pass logits with probabilities=False",
        )
    # 0 * log 0 = 0 in the KL sum; clipping at a tiny value keeps that limit finite.
    return np.log(np.clip(scores, 1e-30, None))


def inception_score(
    scores: ArrayLike, splits: int = DEFAULT_SPLITS, probabilities: bool = False
) -> tuple[float, float]:
    """(mean, std) of the Inception Score from (N, C) class logits (or probabilities)."""
    values = as_float64(scores, "class scores")
    if splits < 1 or values.shape[0] < splits:
        raise GanforgeError(
            f"Inception Score with {splits} splits needs at least {splits} samples, "
            f"got {values.shape[0]}",
            fix="use more samples (>= 10000 for the standard protocol)",
        )
    log_p = _log_probabilities(values, probabilities)
    p = np.exp(log_p)
    n = values.shape[0]
    split_scores = []
    for i in range(splits):
        # The original's boundaries (i * N // splits): every sample is in exactly one part.
        start, stop = i * n // splits, (i + 1) * n // splits
        log_p_part, p_part = log_p[start:stop], p[start:stop]
        log_marginal = np.log(np.clip(p_part.mean(axis=0), 1e-30, None))
        kl = (p_part * (log_p_part - log_marginal)).sum(axis=1)
        split_scores.append(np.exp(kl.mean()))
    # ddof=0 std over splits, as the original code (np.std).
    return float(np.mean(split_scores)), float(np.std(split_scores))
