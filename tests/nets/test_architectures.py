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
