import pytest
import torch

from ganforge.config import ModelConfig
from ganforge.errors import GanforgeError
from ganforge.nets import ARCHITECTURES, get_architecture
from ganforge.nets.layers import base_size, num_upsamplings


@pytest.mark.parametrize("resolution", [8, 14, 16, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes_and_range(resolution, channels):
    spec = ModelConfig(
        sample_shape=[channels, resolution, resolution], latent_dim=16, g_width=8, d_width=8
    )
    g, d = ARCHITECTURES["dcgan"](spec)
    x = g(torch.randn(5, 16))
    assert x.shape == (5, channels, resolution, resolution)
    assert x.min() >= -1 and x.max() <= 1  # tanh output: the [-1, 1] image contract
    assert d(x).shape == (5,)


@pytest.mark.parametrize("resolution", [16, 28])
def test_dcgan_extra_layers_deepen_without_changing_shapes(resolution):
    def nets(extra: int):
        spec = ModelConfig(
            sample_shape=[1, resolution, resolution],
            latent_dim=16,
            g_width=8,
            d_width=8,
            g_extra_layers=extra,
            d_extra_layers=extra,
        )
        return ARCHITECTURES["dcgan"](spec)

    def convs(net, kind):
        return [m for m in net.modules() if type(m) is kind]

    g0, d0 = nets(0)
    g2, d2 = nets(2)
    levels = num_upsamplings(resolution)
    # two 3x3 stride-1 convs after each resolution change: G's projection and every upsampling
    # except the output layer; D's every downsampling
    assert len(convs(g2, torch.nn.Conv2d)) == 2 * levels
    assert len(convs(d2, torch.nn.Conv2d)) == len(convs(d0, torch.nn.Conv2d)) + 2 * levels
    assert all(m.kernel_size == (3, 3) and m.stride == (1, 1) for m in convs(g2, torch.nn.Conv2d))
    x = g2(torch.randn(4, 16))
    assert x.shape == (4, 1, resolution, resolution) and d2(x).shape == (4,)
    assert sum(p.numel() for p in d2.parameters()) > sum(p.numel() for p in d0.parameters())


def test_dcgan_without_extra_layers_keeps_the_checkpoint_layout():
    # the parameter names generator.pt files written before the option existed rely on
    spec = ModelConfig(sample_shape=[1, 16, 16], latent_dim=16, g_width=8, d_width=8)
    _, d = ARCHITECTURES["dcgan"](spec)
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    expected = ["features.0.weight", "features.0.bias", "features.2.weight"]
    expected += [f"features.3.{k}" for k in bn] + ["head.weight", "head.bias"]
    assert list(d.state_dict()) == expected


def test_negative_extra_layers_is_a_user_error():
    from ganforge.config import Config, merge, validate

    config = merge(Config(), {"model": {"d_extra_layers": -1}})
    with pytest.raises(GanforgeError, match="--d-extra-layers must be a whole number >= 0"):
        validate(config)


def test_dcgan_rejects_unsupported_resolution():
    with pytest.raises(ValueError, match="resolution 20"):
        ARCHITECTURES["dcgan"](ModelConfig(sample_shape=[1, 20, 20]))


def test_resolution_arithmetic():
    assert (base_size(28), num_upsamplings(28)) == (7, 2)
    assert (base_size(64), num_upsamplings(64)) == (4, 4)


def test_dcgan_init_follows_radford():
    spec = ModelConfig(sample_shape=[1, 32, 32], g_width=64, d_width=64)
    g, d = ARCHITECTURES["dcgan"](spec)
    conv = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)][1]
    assert abs(conv.weight.std().item() - 0.02) < 0.002
    bn = [m for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)][0]
    assert abs(bn.weight.mean().item() - 1.0) < 0.01


def test_spectral_norm_bounds_discriminator_layers():
    spec = ModelConfig(sample_shape=[1, 16, 16], d_width=8, d_norm="none", spectral_norm=True)
    _, d = ARCHITECTURES["dcgan"](spec)
    d.train()
    for _ in range(30):  # power iterations converge during forward passes
        d(torch.randn(4, 1, 16, 16))
    conv = d.features[0]
    sigma = torch.linalg.matrix_norm(conv.weight.flatten(1), ord=2)
    assert sigma.item() == pytest.approx(1.0, abs=0.05)


def test_mlp_vectors_are_unbounded_and_images_bounded():
    g, d = ARCHITECTURES["mlp"](ModelConfig(sample_shape=[2], latent_dim=4, g_width=16, d_width=16))
    assert g(torch.randn(3, 4)).shape == (3, 2) and d(torch.randn(3, 2)).shape == (3,)
    assert not any(isinstance(m, torch.nn.Tanh) for m in g.modules())
    g, _ = ARCHITECTURES["mlp"](ModelConfig(sample_shape=[1, 8, 8], latent_dim=4, g_width=16))
    assert any(isinstance(m, torch.nn.Tanh) for m in g.modules())


def test_unknown_architecture_is_a_user_error():
    with pytest.raises(GanforgeError, match="unknown architecture 'resnetx'.*mlp, dcgan"):
        get_architecture("resnetx")


def test_conditional_dcgan_takes_the_extra_layers_too():
    from ganforge.nets.conditional import build

    spec = ModelConfig(
        family="conditional",
        sample_shape=[1, 28, 28],
        num_classes=10,
        latent_dim=16,
        g_width=8,
        d_width=8,
        g_extra_layers=1,
        d_extra_layers=1,
    )
    g, d = build(spec)

    def three_by_three(net):
        return sum(
            1 for m in net.modules() if type(m) is torch.nn.Conv2d and m.kernel_size == (3, 3)
        )

    assert three_by_three(g) == 2 and three_by_three(d) == 2  # one per resolution level each
    labels = torch.arange(4)
    x = g(torch.randn(4, 16), labels)
    assert x.shape == (4, 1, 28, 28) and d(x, labels).shape == (4,)
