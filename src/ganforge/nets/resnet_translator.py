"""ResNet generator of CycleGAN (Zhu et al. 2017, appendix 7.2, after Johnson et al. 2016).

c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3: a 7x7 reflection-padded convolution,
two stride-2 3x3 convolutions down, residual blocks (two reflection-padded 3x3 convolutions each),
two stride-2 transposed convolutions up, a 7x7 convolution to the image and tanh. The paper uses
6 blocks at 128x128 and 9 at 256x256; `width` is the 64 of the first layer.

Any input size: reflect-padded to a multiple of 4 and the output cropped back.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.nets.layers import crop_box, dcgan_init, pad_to_multiple, translation_norm


class ResidualBlock(nn.Module):
    """x + (pad, conv3x3, norm, ReLU, pad, conv3x3, norm)(x), at constant width."""

    def __init__(self, channels: int, norm: str):
        super().__init__()
        bias = norm != "batch"
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            translation_norm(norm, channels),
            nn.ReLU(),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            translation_norm(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetTranslator(nn.Module):
    """Image (N, in, H, W) -> image (N, out, H, W): down x2, residual blocks, up x2."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        width: int = 64,
        blocks: int = 9,
        norm: str = "instance",
    ):
        super().__init__()
        bias = norm != "batch"
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, width, 7, bias=bias),
            translation_norm(norm, width),
            nn.ReLU(),
        ]
        for m in (1, 2):  # d128, d256
            layers += [
                nn.Conv2d(width * m, width * 2 * m, 3, 2, 1, bias=bias),
                translation_norm(norm, width * 2 * m),
                nn.ReLU(),
            ]
        layers += [ResidualBlock(width * 4, norm) for _ in range(blocks)]
        for m in (4, 2):  # u128, u64
            layers += [
                nn.ConvTranspose2d(width * m, width * m // 2, 3, 2, 1, output_padding=1, bias=bias),
                translation_norm(norm, width * m // 2),
                nn.ReLU(),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x, box = pad_to_multiple(x, 4)
        return crop_box(self.net(x), box)
