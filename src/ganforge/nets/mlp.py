"""MLP generator and discriminator: the Vanilla GAN of Goodfellow et al. 2014, for vectors or small images."""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.nets.layers import (
    anti_collapse_layers,
    flatten_logits,
    maybe_spectral_norm,
    pack_discriminator,
)


class MLPGenerator(nn.Module):
    """z -> hidden ReLU layers -> a sample; tanh output for images (range [-1, 1]), linear for vectors."""

    def __init__(self, latent_dim: int, sample_shape: tuple[int, ...], width: int, layers: int):
        super().__init__()
        self.latent_dim, self.sample_shape = latent_dim, tuple(sample_shape)
        dims = [latent_dim] + [width] * layers
        blocks: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            blocks += [nn.Linear(a, b), nn.ReLU()]
        blocks.append(nn.Linear(dims[-1], math.prod(self.sample_shape)))
        if len(self.sample_shape) > 1:
            blocks.append(nn.Tanh())
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z).view(z.shape[0], *self.sample_shape)


class MLPDiscriminator(nn.Module):
    """A sample -> hidden LeakyReLU(0.2) layers -> one logit."""

    def __init__(
        self,
        sample_shape: tuple[int, ...],
        width: int,
        layers: int,
        sn: bool = False,
        minibatch_std: bool = False,
        minibatch_disc: bool = False,
    ):
        super().__init__()
        dims = [math.prod(sample_shape)] + [width] * layers
        blocks: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            blocks += [maybe_spectral_norm(nn.Linear(a, b), sn), nn.LeakyReLU(0.2)]
        # Anti-collapse options append features before the last layer (none by default).
        extra_layers, extra = anti_collapse_layers(dims[-1], minibatch_std, minibatch_disc)
        blocks += extra_layers
        blocks.append(maybe_spectral_norm(nn.Linear(dims[-1] + extra, 1), sn))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return flatten_logits(self.net(x.flatten(1)))


def build(spec) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for a ModelConfig with sample_shape filled in."""
    shape = tuple(spec.sample_shape)
    g = MLPGenerator(spec.latent_dim, shape, spec.g_width, spec.mlp_layers)
    # PacGAN: D reads `pack` samples concatenated (images stacked along channels).
    packed = (shape[0] * spec.pack, *shape[1:])
    d = MLPDiscriminator(
        packed,
        spec.d_width,
        spec.mlp_layers,
        spec.spectral_norm,
        spec.minibatch_std,
        spec.minibatch_disc,
    )
    return g, pack_discriminator(d, spec.pack)
