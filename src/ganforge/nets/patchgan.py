"""PatchGAN discriminator (Isola et al. 2017, appendix 6.1.2; used again by CycleGAN).

C64-C128-C256-C512 for n_layers = 3: 4x4 convolutions, stride 2 except the last two, LeakyReLU(0.2),
normalisation after all but the first, then a 4x4 convolution to one logit per patch. Each logit
judges one N x N patch of the input (70x70 for n_layers = 3), so the output is a map of logits
(N, 1, H', W'), which every loss in objectives.py averages over.

Conditional (pix2pix): D(x, y) judges the source y and the image x concatenated along channels.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.nets.layers import dcgan_init, maybe_spectral_norm, translation_norm


def patch_output_size(size: int, n_layers: int) -> int:
    """Side of the logit map for an input side `size` (stride-2 layers halve; the two last take 1)."""
    for _ in range(n_layers):
        size = (size + 2 - 4) // 2 + 1
    return size - 2


def receptive_field(n_layers: int) -> int:
    """Side of the input patch each logit sees (70 for n_layers = 3, as in the paper)."""
    field = 1
    for stride in reversed([2] * n_layers + [1, 1]):
        field = (field - 1) * stride + 4
    return field


class PatchDiscriminator(nn.Module):
    """Image (and optionally a conditioning image) -> a map of real/fake logits, one per patch."""

    def __init__(
        self,
        in_channels: int,
        width: int = 64,
        n_layers: int = 3,
        norm: str = "batch",
        sn: bool = False,
    ):
        super().__init__()
        bias = norm != "batch"
        layers: list[nn.Module] = [
            maybe_spectral_norm(nn.Conv2d(in_channels, width, 4, 2, 1), sn),
            nn.LeakyReLU(0.2),
        ]
        channels = width
        for n in range(1, n_layers + 1):
            out = width * min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                maybe_spectral_norm(nn.Conv2d(channels, out, 4, stride, 1, bias=bias), sn),
                translation_norm(norm, out),
                nn.LeakyReLU(0.2),
            ]
            channels = out
        layers.append(maybe_spectral_norm(nn.Conv2d(channels, 1, 4, 1, 1), sn))
        self.net = nn.Sequential(*layers)
        self.n_layers = n_layers
        dcgan_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is not None:
            x = torch.cat([y, x], 1)
        return self.net(x)


def check_patch_layers(resolution: int, n_layers: int) -> None:
    """One-line error when the images are too small for this many stride-2 layers."""
    if n_layers < 1:
        raise GanforgeError(f"patch_layers must be at least 1, got {n_layers}")
    if patch_output_size(resolution, n_layers) < 1:
        fits = max([n for n in range(1, n_layers) if patch_output_size(resolution, n) >= 1] or [0])
        raise GanforgeError(
            f"a PatchGAN with {n_layers} stride-2 layers needs larger images than "
            f"{resolution}x{resolution}",
            fix=f"set model.patch_layers to {fits} or less, or train at a higher --resolution",
        )
