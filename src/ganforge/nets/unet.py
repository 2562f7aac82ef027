"""U-Net generator of pix2pix (Isola et al. 2017, "Image-to-Image Translation with Conditional
Adversarial Networks", appendix 6.1.1), layer for layer as the authors' released code.

Encoder C64-C128-C256-C512-C512-...: 4x4 convolutions with stride 2, LeakyReLU(0.2) before each
but the first, normalisation after each but the first and the innermost (whose output is 1x1).
Decoder mirrored with ReLU, 4x4 transposed convolutions, normalisation, and a skip connection that
concatenates encoder level i to decoder level i; dropout(0.5) on the decoder levels past the
fourth, which the authors keep as pix2pix's only noise. Output tanh in [-1, 1].

Any input size: the image is reflect-padded to a multiple of 2^depth and the output cropped back.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganforge.nets.layers import crop_box, dcgan_init, pad_to_multiple, translation_norm


def auto_depth(resolution: int) -> int:
    """Levels that halve a `resolution` image down to 1x1 (after padding to a power of two)."""
    return max(1, math.ceil(math.log2(max(resolution, 2))))


class UNetGenerator(nn.Module):
    """Source image (N, in, H, W) -> translated image (N, out, H, W) through a `depth`-level U-Net."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 64,
        depth: int = 8,
        norm: str = "batch",
        dropout: bool = True,
    ):
        super().__init__()
        if depth < 1:
            raise ValueError(f"U-Net depth must be >= 1, got {depth}")
        self.depth = depth
        widths = [width * min(2**i, 8) for i in range(depth)]
        bias = norm != "batch"  # BatchNorm's shift makes a conv bias redundant
        self.down = nn.ModuleList()
        for i in range(depth):
            if i == 0:
                self.down.append(nn.Conv2d(in_channels, widths[0], 4, 2, 1, bias=bias))
                continue
            layers = [nn.LeakyReLU(0.2), nn.Conv2d(widths[i - 1], widths[i], 4, 2, 1, bias=bias)]
            if i < depth - 1:  # the innermost feature map is 1x1: nothing to normalise over
                layers.append(translation_norm(norm, widths[i]))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for i in range(depth - 1, -1, -1):
            # Decoder level i reads encoder level i's output, concatenated below it except at
            # the innermost level, and produces level i-1's width (or the image).
            c_in = widths[i] if i == depth - 1 else 2 * widths[i]
            if i == 0:
                layers = [nn.ReLU(), nn.ConvTranspose2d(c_in, out_channels, 4, 2, 1), nn.Tanh()]
            else:
                layers = [
                    nn.ReLU(),
                    nn.ConvTranspose2d(c_in, widths[i - 1], 4, 2, 1, bias=bias),
                    translation_norm(norm, widths[i - 1]),
                ]
                if dropout and 4 <= i < depth - 1:
                    layers.append(nn.Dropout(0.5))
            self.up.append(nn.Sequential(*layers))
        dcgan_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x, box = pad_to_multiple(x, 2**self.depth)
        skips = []
        for block in self.down:
            x = block(skips[-1] if skips else x)
            skips.append(x)
        h = self.up[0](skips.pop())
        for block in self.up[1:]:
            h = block(torch.cat([skips.pop(), h], 1))
        return crop_box(h, box)
