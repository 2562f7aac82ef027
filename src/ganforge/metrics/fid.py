"""Frechet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule").

FID = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)), with covariances over N - 1
(``np.cov(rowvar=False)``, as pytorch-fid and clean-fid). The linear algebra runs in torch
float64, so ``torch.set_num_threads`` governs all of it (numpy's BLAS pool is a second one that
oversubscribes a busy machine).
"""

from __future__ import annotations

import numpy as np
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics._arrays import ArrayLike, as_float64, check_same_dim


def feature_stats(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of (N, D) features, in float64, covariance over N - 1."""
    x = as_float64(features, "features")
    if x.shape[0] < 2:
        raise GanforgeError(
            f"FID needs at least 2 samples, got {x.shape[0]}", fix="use more samples (>= 10000)"
        )
    t = torch.from_numpy(x)
    mu = t.mean(dim=0)
    centred = t - mu
    sigma = centred.T @ centred / (x.shape[0] - 1)
    return mu.numpy(), sigma.numpy()


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a symmetric PSD matrix; tiny negative eigenvalues clipped to 0."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0.0).sqrt()) @ vectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr((S1 S2)^(1/2)) for symmetric PSD S1, S2.

    S1 S2 is similar to the symmetric PSD matrix M = S1^(1/2) S2 S1^(1/2) (conjugate by S1^(1/2)),
    so both have the same non-negative eigenvalues and tr((S1 S2)^(1/2)) = sum sqrt(eig(M)).
    Using two symmetric eigendecompositions (eigh) instead of scipy.linalg.sqrtm on the
    non-symmetric S1 S2 keeps everything real, needs no "add eps*I and retry" fallback when a
    covariance is singular (fewer samples than dimensions, dead ReLU units), and is faster.
    """
    s1 = torch.as_tensor(np.asarray(sigma1, dtype=np.float64))
    s2 = torch.as_tensor(np.asarray(sigma2, dtype=np.float64))
    root1 = _psd_sqrt(s1)
    middle = root1 @ s2 @ root1
    middle = (middle + middle.T) / 2  # remove rounding asymmetry before eigvalsh
    eigenvalues = torch.linalg.eigvalsh(middle)
    return float(eigenvalues.clamp(min=0.0).sqrt().sum())


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Frechet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    d = mu1.shape[0]
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise GanforgeError(
            f"FID statistics do not match: mu {mu1.shape}/{mu2.shape}, "
            f"sigma {sigma1.shape}/{sigma2.shape}",
            fix="compute both with the same extractor",
        )
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2)
    value -= 2.0 * trace_sqrt_product(sigma1, sigma2)
    # Rounding can leave a value like -1e-13 for identical statistics; FID is never negative.
    return float(max(value, 0.0))


def fid(features_a: ArrayLike, features_b: ArrayLike) -> float:
    """FID between two (N, D) feature sets (order does not matter)."""
    a, b = as_float64(features_a, "features_a"), as_float64(features_b, "features_b")
    check_same_dim(a, b)
    return frechet_distance(*feature_stats(a), *feature_stats(b))
