"""The ``randconv`` extractor: a fixed, seeded random conv net for small images of any kind.

FOR RELATIVE COMPARISONS ONLY (run A vs run B on the same data, with the same seed): its
features come from untrained random filters, so its FID/KID/PR/DC are not comparable with any
published figure nor with the ``mnist`` or ``inception`` spaces. Random conv features still
react to texture, edges and colour statistics, which makes them a usable monitor for datasets
that have no trained feature network (faces at 32 px, satellite tiles, ...). No logits, hence no
Inception Score and no class diagnostics.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.metrics.features.base import Extractor

_WIDTHS = (32, 64, 128, 256)


class RandomConvExtractor(Extractor):
    """Four 3x3 conv + ReLU + 2x2 average-pool stages with N(0, 2/fan_in) weights from ``seed``.

    Input: RGB (grey repeated) resized bilinearly to ``resolution`` (default 32). Features: the
    global average of the last stage concatenated with its global max (512-d).
    """

    channels = 3
    num_classes = 0
    default_batch_size = 500
    input_note = "grey repeated to 3 channels"

    def __init__(self, resolution: int = 32, seed: int = 0) -> None:
        super().__init__()
        self.resolution, self.seed = resolution, seed
        self.name = f"randconv{resolution}-s{seed}"
        self.feature_dim = 2 * _WIDTHS[-1]
        generator = torch.Generator().manual_seed(seed)
        layers, in_channels = [], 3
        for width in _WIDTHS:
            # skip_init: the default init would draw from the caller's global RNG.
            conv = nn.utils.skip_init(nn.Conv2d, in_channels, width, 3, padding=1)
            fan_in = in_channels * 9
            # He-normal weights keep activations at a stable scale through the ReLUs.
            conv.weight.data = (
                torch.randn(conv.weight.shape, generator=generator) * (2.0 / fan_in) ** 0.5
            )
            conv.bias.data.zero_()
            layers.append(conv)
            in_channels = width
        self.convs = nn.ModuleList(layers)
        self.requires_grad_(False)
        self.eval()

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """(512-d features, None)."""
        for i, conv in enumerate(self.convs):
            x = F.relu(conv(x))
            if i < len(self.convs) - 1:
                x = F.avg_pool2d(x, 2)
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], 1), None

    def protocol(self) -> dict:
        """The base protocol plus the warning that these numbers only compare runs."""
        out = super().protocol()
        out["note"] = "random conv features: relative comparisons only"
        return out
