"""The normalisation-free ResNet (R3GAN, Huang et al. 2024): shapes, no norm layers, fix-up init."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganforge.config import Config, merge
from ganforge.nets import get_architecture
from ganforge.nets.resnet import (
    Downsample,
    ResidualBlock,
    ResNetDiscriminator,
    ResNetGenerator,
    group_count,
)
from ganforge.training.loop import Trainer
from tests.conftest import tiny_config

NORMS = (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm, nn.LayerNorm, nn.InstanceNorm2d)


def model_spec(channels: int, resolution: int, width: int = 4, **extra):
    config = merge(
        Config(),
        {
            "model": {
                "arch": "resnet",
                "latent_dim": 8,
                "g_width": width,
                "d_width": width,
                "group_channels": 4,
                "blocks_per_stage": 1,
                "sample_shape": [channels, resolution, resolution],
                **extra,
            }
        },
    )
    return config.model


@pytest.mark.parametrize(("channels", "resolution"), [(1, 28), (3, 32), (3, 64), (3, 256)])
def test_shapes_for_every_resolution(channels, resolution):
    spec = model_spec(channels, resolution, width=2 if resolution == 256 else 4)
    G, D = get_architecture("resnet")(spec)
    x = G(torch.randn(2, 8))
    assert x.shape == (2, channels, resolution, resolution)
    assert x.abs().max() <= 1.0  # tanh: ganforge's [-1, 1]
    assert D(x).shape == (2,)


def test_no_normalisation_layers_and_grouped_convs():
    G, D = get_architecture("resnet")(model_spec(3, 32, width=8))
    for net in (G, D):
        assert not any(isinstance(m, NORMS) for m in net.modules())
        groups = [
            m.groups for m in net.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)
        ]
        assert groups and all(g > 1 for g in groups)  # every 3x3 conv is grouped


def test_each_block_starts_as_the_identity_and_the_branch_is_scaled_by_depth():
    """Fix-up init: the branch's last conv is zero; the others have std gain * L^-1/4 / sqrt(fan_in)."""
    torch.manual_seed(0)
    shallow, deep = (
        ResidualBlock(32, 2, 8, total_blocks=1),
        ResidualBlock(32, 2, 8, total_blocks=16),
    )
    x = torch.randn(3, 32, 6, 6)
    assert torch.equal(deep(x), x)
    assert deep.project.weight.abs().max() == 0
    ratio = deep.expand.weight.std() / shallow.expand.weight.std()
    assert ratio.item() == pytest.approx(16 ** (-1 / 4), rel=0.1)
    fan_in = 32
    gain = math.sqrt(2 / (1 + 0.2**2))
    assert shallow.expand.weight.std().item() == pytest.approx(gain / math.sqrt(fan_in), rel=0.1)


def test_the_discriminator_is_twice_differentiable():
    """R1/R2 need the gradient of the input gradient: every layer has a second derivative."""
    D = ResNetDiscriminator(1, 28, 4, blocks=1, group_channels=4)
    with torch.no_grad():  # a non-zero branch, else the residuals are linear at init
        for m in D.modules():
            if isinstance(m, ResidualBlock):
                m.project.weight.normal_(0, 0.1)
    x = torch.randn(2, 1, 28, 28, requires_grad=True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    grad.pow(2).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in D.parameters())


def test_downsample_is_the_bilinear_low_pass():
    """A constant image stays constant (taps sum to 1) and the side halves."""
    down = Downsample(2, 2)
    out = down(torch.full((1, 2, 8, 8), 3.0))
    assert out.shape == (1, 2, 4, 4)
    assert torch.allclose(out, torch.full_like(out, 3.0))


def test_group_count_divides_the_channels():
    assert group_count(64, 16) == 4
    assert group_count(96, 16) == 6
    assert group_count(48, 32) == 1
    assert all(c % group_count(c, 16) == 0 for c in range(1, 200))


def test_generator_output_is_not_constant_at_init():
    G = ResNetGenerator(8, 1, 28, 4, blocks=1, group_channels=4)
    x = G(torch.randn(4, 8))
    assert x.std() > 0.05 and (x[0] - x[1]).abs().mean() > 1e-3


def test_a_few_r3gan_steps_stay_finite_and_move_the_weights():
    config = tiny_config(
        model={
            "arch": "resnet",
            "group_channels": 4,
            "blocks_per_stage": 1,
            "g_width": 4,
            "d_width": 4,
        },
        train={
            "loss": "relativistic-pair",
            "r1_weight": 0.1,
            "r2_weight": 0.1,
            "r1_every": 1,
            "beta1": 0.0,
            "steps": 3,
            "log_every": 1,
        },
    )
    trainer = Trainer(config)
    before = [p.detach().clone() for p in trainer.discriminator.parameters()]
    trainer.fit()
    logs = trainer.history[-1]
    assert all(math.isfinite(logs[k]) for k in ("d_loss", "g_loss", "r1", "r2"))
    assert logs["r1"] >= 0 and logs["r2"] >= 0
    assert any(
        not torch.equal(a, b)
        for a, b in zip(before, trainer.discriminator.parameters(), strict=True)
    )


def test_conditional_resnet_learns_labels_through_projection_with_the_pair_loss():
    """The conditional family builds the resnet (embedded labels in G, projection in D); D's
    score depends on the label, and a few R3GAN steps stay finite."""
    model = {"arch": "resnet", "group_channels": 4, "blocks_per_stage": 1, "g_width": 4}
    model["d_width"] = 4
    train = {"loss": "relativistic-pair", "r1_weight": 0.1, "r2_weight": 0.1, "r1_every": 1}
    config = tiny_config(
        model={**model, "family": "conditional"}, train={**train, "steps": 2, "log_every": 1}
    )
    trainer = Trainer(config)
    G, D = trainer.generator, trainer.discriminator
    x = G(torch.randn(2, 8), torch.tensor([0, 0]))
    assert x.shape == (2, 1, 8, 8)
    assert not torch.equal(D(x, torch.tensor([0, 0])), D(x, torch.tensor([1, 1])))
    trainer.fit()
    assert all(math.isfinite(trainer.history[-1][k]) for k in ("d_loss", "g_loss", "r1", "r2"))
