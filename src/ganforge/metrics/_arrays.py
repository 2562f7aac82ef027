"""Shared input checks for the metric functions: 2-D float feature arrays, numpy or torch."""

from __future__ import annotations

import numpy as np
import torch

from ganforge.errors import GanforgeError

ArrayLike = np.ndarray | torch.Tensor


def as_float64(features: ArrayLike, what: str) -> np.ndarray:
    """A (N, D) float64 numpy copy-or-view of ``features``; one-line error otherwise."""
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2:
        raise GanforgeError(
            f"{what} must be a 2-D (N, D) array, got shape {tuple(array.shape)}",
            fix="pass extractor features, one row per sample",
        )
    if not np.isfinite(array).all():
        raise GanforgeError(f"{what} contain NaN or inf", fix="check the generator's output")
    return array


def as_tensor(features: ArrayLike, what: str) -> torch.Tensor:
    """A (N, D) float torch tensor; float64 input stays float64, anything else becomes float32."""
    tensor = torch.as_tensor(features).detach()
    if tensor.dim() != 2:
        raise GanforgeError(
            f"{what} must be a 2-D (N, D) array, got shape {tuple(tensor.shape)}",
            fix="pass extractor features, one row per sample",
        )
    if tensor.dtype != torch.float64:
        tensor = tensor.float()
    if not torch.isfinite(tensor).all():
        raise GanforgeError(f"{what} contain NaN or inf", fix="check the generator's output")
    return tensor


def check_same_dim(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> None:
    """Both feature sets must live in the same space."""
    if a.shape[1] != b.shape[1]:
        raise GanforgeError(
            f"feature dimensions differ ({a.shape[1]} vs {b.shape[1]})",
            fix="extract both sets with the same extractor",
        )
