"""The normalisation-free ResNet G and D of R3GAN (Huang et al. 2024, "The GAN is dead; long live
the GAN!", section 4 and its code, brownvc/R3GAN): the modern baseline with relativistic-pair.

Each stage works at one resolution: G goes base -> 2x -> ... -> resolution, D back down. A stage
is a transition (G: 1x1 conv if the width changes, then bilinear x2 upsampling; D: [1, 3, 3, 1]
low-pass and stride 2, then the 1x1 conv) and `blocks` residual blocks. A block is an inverted
bottleneck without any normalisation: 1x1 conv (width -> expansion x width), leaky ReLU, grouped
3x3 conv (groups of `group_channels` channels, ResNeXt's cardinality), leaky ReLU, 1x1 conv back,
added to its input. Fix-up initialisation (Zhang et al. 2019, as R3GAN does): He-normal weights,
the first two convs of each branch scaled by L^(-1/4) (L = the network's number of blocks; 2m - 2
= 4 for m = 3 layers), the branch's last conv zero: every block starts as the identity, so the
depth does not change the variance of the signal at initialisation.

G starts from a learnt base x base basis modulated per channel by a linear map of z; D ends in a
depthwise base x base conv and a linear layer to the logit. Sides 4 * 2^k (32, 64, ..., 256) or
7 * 2^k (28, MNIST). Width: `width` channels at the full resolution, doubling at each halving up
to MAX_WIDTH (as the paper's FFHQ-256 widths 96 ... 768). G ends in tanh (ganforge's samples lie
in [-1, 1]; the paper's G is linear there).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.nets.layers import base_size, flatten_logits, num_upsamplings, pack_discriminator

MAX_WIDTH = 512
SLOPE = 0.2
# He gain of leaky ReLU(0.2): keeps the variance of a conv + activation pair at 1.
LEAKY_GAIN = math.sqrt(2.0 / (1.0 + SLOPE**2))
LAYERS_PER_BRANCH = 3


def he_init(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """Weights N(0, gain^2 / fan_in) (He et al. 2015), bias zero; gain 0 zeroes the layer."""
    fan_in = layer.weight[0].numel()
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def stage_width(width: int, level: int) -> int:
    """Channels of the stage `level` halvings below the full resolution."""
    return min(width * 2**level, MAX_WIDTH)


def group_count(channels: int, group_channels: int) -> int:
    """Groups of the grouped conv: about `group_channels` channels each, dividing `channels`."""
    groups = max(1, channels // max(1, group_channels))
    while channels % groups:
        groups -= 1
    return groups


class BiasedLeakyReLU(nn.Module):
    """x + b, then leaky ReLU(0.2): the convs carry no bias of their own (as R3GAN's)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1).to(x.dtype), SLOPE)


def conv(in_channels: int, out_channels: int, kernel: int = 1, groups: int = 1, gain: float = 1.0):
    """A same-padding conv without bias, He-initialised with `gain`."""
    layer = nn.Conv2d(in_channels, out_channels, kernel, 1, kernel // 2, groups=groups, bias=False)
    return he_init(layer, gain)


class ResidualBlock(nn.Module):
    """x + conv1x1(act(grouped conv3x3(act(conv1x1(x))))): inverted bottleneck, no norm."""

    def __init__(self, channels: int, expansion: int, group_channels: int, total_blocks: int):
        super().__init__()
        hidden = channels * expansion
        # Fix-up: the branch's variance shrinks with the depth, and its last layer starts at zero.
        gain = LEAKY_GAIN * total_blocks ** (-1.0 / (2 * LAYERS_PER_BRANCH - 2))
        self.expand = conv(channels, hidden, 1, gain=gain)
        self.act1 = BiasedLeakyReLU(hidden)
        self.spatial = conv(hidden, hidden, 3, group_count(hidden, group_channels), gain=gain)
        self.act2 = BiasedLeakyReLU(hidden)
        self.project = conv(hidden, channels, 1, gain=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.act2(self.spatial(self.act1(self.expand(x)))))


class Upsample(nn.Module):
    """1x1 conv when the width changes, then bilinear x2 (the [1, 3, 3, 1] filter)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = conv(in_channels, out_channels) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv is not None:
            x = self.conv(x)
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class Downsample(nn.Module):
    """Low-pass [1, 3, 3, 1] (bilinear) and stride 2, then a 1x1 conv when the width changes.

    A fixed depthwise conv rather than antialiased interpolation: R1/R2 need D's second
    derivative, which every conv has.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
        kernel = torch.outer(taps, taps) / 64.0
        self.register_buffer("kernel", kernel.expand(in_channels, 1, 4, 4).clone())
        self.conv = conv(in_channels, out_channels) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (1, 1, 1, 1), mode="replicate")
        x = F.conv2d(x, self.kernel.to(x.dtype), stride=2, groups=x.shape[1])
        return self.conv(x) if self.conv is not None else x


class GenerativeBasis(nn.Module):
    """z -> a learnt (C, base, base) basis scaled per channel by a linear map of z."""

    def __init__(self, latent_dim: int, channels: int, base: int):
        super().__init__()
        self.basis = nn.Parameter(torch.randn(channels, base, base))
        self.linear = he_init(nn.Linear(latent_dim, channels, bias=False))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.basis.unsqueeze(0) * self.linear(z).view(z.shape[0], -1, 1, 1)


class DiscriminativeBasis(nn.Module):
    """(C, base, base) -> a depthwise base x base conv -> linear -> `out_features`."""

    def __init__(self, channels: int, base: int, out_features: int = 1):
        super().__init__()
        self.basis = he_init(nn.Conv2d(channels, channels, base, 1, 0, groups=channels, bias=False))
        self.linear = he_init(nn.Linear(channels, out_features, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.basis(x).flatten(1))


def _widths(resolution: int, width: int) -> list[int]:
    """Channels of each stage, from base x base up to the full resolution."""
    n_up = num_upsamplings(resolution)
    return [stage_width(width, n_up - i) for i in range(n_up + 1)]


class ResNetGenerator(nn.Module):
    """z (N, latent) -> basis at base x base -> [upsample, blocks] per stage -> 1x1 conv -> tanh."""

    def __init__(
        self,
        latent_dim: int,
        channels: int,
        resolution: int,
        width: int,
        blocks: int = 2,
        expansion: int = 2,
        group_channels: int = 16,
    ):
        super().__init__()
        self.latent_dim = latent_dim
        widths = _widths(resolution, width)
        total = blocks * len(widths)
        stages: list[nn.Module] = []
        for i, w in enumerate(widths):
            transition = (
                GenerativeBasis(latent_dim, w, base_size(resolution))
                if i == 0
                else Upsample(widths[i - 1], w)
            )
            body = [ResidualBlock(w, expansion, group_channels, total) for _ in range(blocks)]
            stages.append(nn.Sequential(transition, *body))
        self.stages = nn.Sequential(*stages)
        self.to_image = conv(widths[-1], channels)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.tanh(self.to_image(self.stages(z.flatten(1))))


class ConditionalResNetGenerator(ResNetGenerator):
    """G(z, y): the class embedding (size latent_dim, as R3GAN's) joins the noise."""

    def __init__(self, latent_dim: int, num_classes: int, *args, **kwargs):
        super().__init__(2 * latent_dim, *args, **kwargs)
        self.latent_dim = latent_dim
        self.embed = nn.Embedding(num_classes, latent_dim)
        nn.init.normal_(self.embed.weight)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return super().forward(torch.cat([z.flatten(1), self.embed(y)], dim=1))


class ResNetDiscriminator(nn.Module):
    """Image -> 1x1 conv -> [blocks, downsample] per stage -> [blocks, basis] at base -> logit."""

    def __init__(
        self,
        channels: int,
        resolution: int,
        width: int,
        blocks: int = 2,
        expansion: int = 2,
        group_channels: int = 16,
    ):
        super().__init__()
        widths = _widths(resolution, width)[::-1]  # full resolution first
        total = blocks * len(widths)
        self.from_image = conv(channels, widths[0])
        stages: list[nn.Module] = []
        for i, w in enumerate(widths):
            body = [ResidualBlock(w, expansion, group_channels, total) for _ in range(blocks)]
            last = i == len(widths) - 1
            transition = (
                DiscriminativeBasis(w, base_size(resolution))
                if last
                else Downsample(w, widths[i + 1])
            )
            stages.append(nn.Sequential(*body, transition))
        self.stages = nn.Sequential(*stages)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return flatten_logits(self.stages(self.from_image(x)))


class ConditionalResNetDiscriminator(ResNetDiscriminator):
    """D(x, y) by projection (Miyato & Koyama 2018, as R3GAN's): the last layer gives a vector
    of the base stage's width, scored against the class's embedding."""

    def __init__(self, channels: int, resolution: int, width: int, num_classes: int, **kwargs):
        super().__init__(channels, resolution, width, **kwargs)
        features = self.stages[-1][-1].basis.out_channels
        self.stages[-1][-1] = DiscriminativeBasis(features, base_size(resolution), features)
        self.embed = nn.Embedding(num_classes, features)
        nn.init.normal_(self.embed.weight, 0.0, 1.0 / math.sqrt(features))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return (self.stages(self.from_image(x)) * self.embed(y)).sum(1)


def build(spec) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for a ModelConfig with sample_shape = (C, H, W)."""
    if len(spec.sample_shape) != 3 or spec.sample_shape[1] != spec.sample_shape[2]:
        raise ValueError(f"the resnet nets need square images, got shape {spec.sample_shape}")
    channels, resolution = spec.sample_shape[0], spec.sample_shape[1]
    sizes = (spec.blocks_per_stage, spec.expansion, spec.group_channels)
    g = ResNetGenerator(spec.latent_dim, channels, resolution, spec.g_width, *sizes)
    d = ResNetDiscriminator(channels * spec.pack, resolution, spec.d_width, *sizes)
    return g, pack_discriminator(d, spec.pack)


def build_conditional(spec) -> tuple[nn.Module, nn.Module]:
    """(G(z, y), D(x, y)) for the conditional family: embedded labels in G, projection in D."""
    channels, resolution = spec.sample_shape[0], spec.sample_shape[1]
    sizes = {
        "blocks": spec.blocks_per_stage,
        "expansion": spec.expansion,
        "group_channels": spec.group_channels,
    }
    k = spec.num_classes
    g = ConditionalResNetGenerator(spec.latent_dim, k, channels, resolution, spec.g_width, **sizes)
    d = ConditionalResNetDiscriminator(channels, resolution, spec.d_width, k, **sizes)
    return g, d
