"""Networks of the video family (families/video.py): a frame predictor and a multi-scale D.

- ``FramePredictor``: a U-Net (nets/unet.py) over the given frames stacked as channels, which
  outputs the next `chunk` frames at once (as SimVP, Gao et al. 2022, does with a plain CNN).
  The U-Net's encoder-decoder pyramid plays the part of Mathieu et al.'s (2016) multi-scale
  generator: coarse levels model the motion of whole digits, the skips keep their strokes.
- ``MultiScaleDiscriminator``: Mathieu et al.'s multi-scale D: one small conv net per scale
  (full size, 1/2, 1/4, ...), each reading the given frames and a continuation stacked as
  channels, average-pooled to its scale; its logits are the mean of its patch scores, one per
  clip and scale.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm as sn

from ganforge.nets.unet import UNetGenerator


def stack_frames(frames: torch.Tensor) -> torch.Tensor:
    """(N, T, C, H, W) -> (N, T * C, H, W)."""
    return frames.flatten(1, 2)


class FramePredictor(nn.Module):
    """The last `given` frames (N, given, C, H, W) -> the next `chunk` (N, chunk, C, H, W)."""

    def __init__(
        self, channels: int, given: int, chunk: int, width: int, depth: int, norm: str = "batch"
    ):
        super().__init__()
        self.channels, self.given, self.chunk = channels, given, chunk
        self.unet = UNetGenerator(given * channels, chunk * channels, width, depth, norm, False)

    @property
    def depth(self) -> int:
        """Levels of the U-Net."""
        return self.unet.depth

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        n, _, c, h, w = frames.shape
        out = self.unet(stack_frames(frames[:, -self.given :]))
        return out.view(n, self.chunk, c, h, w)


def _scale_net(in_channels: int, width: int, size: int, spectral: bool) -> nn.Sequential:
    """Stride-2 4x4 convs down to ~4x4 (at least one), then a 3x3 conv to one score per patch."""
    wrap = sn if spectral else (lambda m: m)
    layers: list[nn.Module] = []
    channels = in_channels
    for i in range(max(1, int(math.log2(max(size, 1))) - 2)):
        out = width * min(2**i, 8)
        layers += [wrap(nn.Conv2d(channels, out, 4, 2, 1)), nn.LeakyReLU(0.2)]
        channels = out
    layers.append(wrap(nn.Conv2d(channels, 1, 3, 1, 1)))
    return nn.Sequential(*layers)


class MultiScaleDiscriminator(nn.Module):
    """D(continuation, given) -> logits (scales * N,): scale 0 first, each N clips."""

    def __init__(
        self,
        channels: int,
        frames: int,
        resolution: int,
        width: int,
        scales: int = 3,
        spectral: bool = False,
    ):
        super().__init__()
        self.scales = scales
        self.nets = nn.ModuleList(
            _scale_net(frames * channels, width, max(1, resolution // 2**s), spectral)
            for s in range(scales)
        )

    def forward(self, continuation: torch.Tensor, given: torch.Tensor) -> torch.Tensor:
        x = torch.cat([stack_frames(given), stack_frames(continuation)], 1)
        logits = []
        for s, net in enumerate(self.nets):
            scaled = F.avg_pool2d(x, 2**s) if s else x
            logits.append(net(scaled).flatten(1).mean(1))
        return torch.cat(logits)


def auto_unet_depth(resolution: int) -> int:
    """U-Net levels down to a 4x4 bottleneck (at least 2): 4 at 64x64, 2 at 16x16."""
    return max(2, int(math.log2(max(resolution, 4))) - 2)
