"""Blocks and helpers shared by every architecture (one home for each, per DESIGN.md)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def maybe_spectral_norm(module: nn.Module, enabled: bool) -> nn.Module:
    """Wrap a conv/linear layer in spectral normalisation (Miyato 2018) when enabled."""
    return spectral_norm(module) if enabled else module


def discriminator_norm(kind: str, channels: int) -> nn.Module:
    """The normalisation used inside a discriminator: batch, layer (per-sample) or none."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        # GroupNorm with one group = LayerNorm over (C, H, W); no cross-sample coupling,
        # which is what gradient penalties need (Gulrajani 2017, section 4).
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def dcgan_init(module: nn.Module) -> None:
    """Weight init of Radford et al. 2016: N(0, 0.02) weights; BatchNorm gamma N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            weight = getattr(m, "parametrizations", None)
            target = weight.weight.original if weight is not None else m.weight
            nn.init.normal_(target, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def base_size(resolution: int) -> int:
    """Smallest feature map of a conv net for a resolution: 4 for powers of two, 7 for 28 (MNIST)."""
    for base in (4, 7):
        size = base
        while size < resolution:
            size *= 2
        if size == resolution:
            return base
    raise ValueError(f"resolution {resolution} is not 4*2^k or 7*2^k")


def num_upsamplings(resolution: int) -> int:
    """How many x2 stages lead from base_size(resolution) to resolution."""
    return (resolution // base_size(resolution)).bit_length() - 1


def flatten_logits(logits: torch.Tensor) -> torch.Tensor:
    """Discriminators return logits of shape (N,)."""
    return logits.reshape(logits.shape[0])
