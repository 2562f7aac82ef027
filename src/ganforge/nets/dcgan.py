"""DCGAN (Radford et al. 2016): transposed-conv generator, strided-conv discriminator.

Any square resolution 4*2^k (8, 16, 32, 64, ...) or 7*2^k (14, 28) and any channel count.
Depth: `extra_layers` stride-1 3x3 conv blocks after every resolution change (the
`n_extra_layers` of the WGAN reference code, Arjovsky 2017) deepen G or D without changing
the resolutions.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.nets.layers import (
    anti_collapse_layers,
    base_size,
    dcgan_init,
    discriminator_norm,
    flatten_logits,
    maybe_spectral_norm,
    num_upsamplings,
    pack_discriminator,
)

MAX_WIDTH = 512


def _width(base: int, level: int) -> int:
    return min(base * 2**level, MAX_WIDTH)


def _generator_extra(channels: int, count: int) -> list[nn.Module]:
    """`count` stride-1 3x3 conv blocks (BN, ReLU) at constant size and channels."""
    layers: list[nn.Module] = []
    for _ in range(count):
        layers += [
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(True),
        ]
    return layers


class DCGANGenerator(nn.Module):
    """z (N, latent) -> project to base x base -> x2 transposed-conv blocks (BN, ReLU) -> tanh image."""

    def __init__(
        self, latent_dim: int, channels: int, resolution: int, width: int, extra_layers: int = 0
    ):
        super().__init__()
        self.latent_dim = latent_dim
        base, n_up = base_size(resolution), num_upsamplings(resolution)
        top = _width(width, n_up - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, top, base, 1, 0, bias=False),
            nn.BatchNorm2d(top),
            nn.ReLU(True),
            *_generator_extra(top, extra_layers),
        ]
        for level in range(n_up - 1, 0, -1):
            a, b = _width(width, level), _width(width, level - 1)
            layers += [
                nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False),
                nn.BatchNorm2d(b),
                nn.ReLU(True),
                *_generator_extra(b, extra_layers),
            ]
        layers += [nn.ConvTranspose2d(_width(width, 0), channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class DCGANDiscriminator(nn.Module):
    """Image -> strided convs with LeakyReLU(0.2) (no norm on the first) -> base x base conv -> logit."""

    def __init__(
        self,
        channels: int,
        resolution: int,
        width: int,
        norm: str = "batch",
        sn: bool = False,
        minibatch_std: bool = False,
        minibatch_disc: bool = False,
        extra_layers: int = 0,
    ):
        super().__init__()
        base, n_down = base_size(resolution), num_upsamplings(resolution)

        def block(a: int, b: int, kernel: int, stride: int) -> list[nn.Module]:
            conv = nn.Conv2d(a, b, kernel, stride, (kernel - 1) // 2, bias=norm != "batch")
            return [
                maybe_spectral_norm(conv, sn),
                discriminator_norm(norm, b),
                nn.LeakyReLU(0.2, True),
            ]

        def deepen(c: int) -> list[nn.Module]:
            return [m for _ in range(extra_layers) for m in block(c, c, 3, 1)]

        layers: list[nn.Module] = [
            maybe_spectral_norm(nn.Conv2d(channels, width, 4, 2, 1), sn),
            nn.LeakyReLU(0.2, True),
            *deepen(width),
        ]
        for level in range(1, n_down):
            a, b = _width(width, level - 1), _width(width, level)
            layers += [*block(a, b, 4, 2), *deepen(b)]
        # Anti-collapse options append channels to the last feature map, read by the head.
        top = _width(width, n_down - 1)
        collapse_layers, collapse_channels = anti_collapse_layers(
            top * base * base, minibatch_std, minibatch_disc
        )
        self.features = nn.Sequential(*layers, *collapse_layers)
        self.head = maybe_spectral_norm(nn.Conv2d(top + collapse_channels, 1, base, 1, 0), sn)
        dcgan_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return flatten_logits(self.head(self.features(x)))


def build(spec) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for a ModelConfig with sample_shape = (C, H, W)."""
    if len(spec.sample_shape) != 3 or spec.sample_shape[1] != spec.sample_shape[2]:
        raise ValueError(f"DCGAN needs square images, got shape {spec.sample_shape}")
    channels, resolution = spec.sample_shape[0], spec.sample_shape[1]
    g = DCGANGenerator(spec.latent_dim, channels, resolution, spec.g_width, spec.g_extra_layers)
    # PacGAN: D reads `pack` samples stacked along channels.
    d = DCGANDiscriminator(
        channels * spec.pack,
        resolution,
        spec.d_width,
        spec.d_norm,
        spec.spectral_norm,
        spec.minibatch_std,
        spec.minibatch_disc,
        spec.d_extra_layers,
    )
    return g, pack_discriminator(d, spec.pack)
