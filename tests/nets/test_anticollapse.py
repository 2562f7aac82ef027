"""Anti-collapse discriminator options: minibatch std, minibatch discrimination, PacGAN packing."""

import math

import numpy as np
import pytest
import torch

from ganforge.config import ModelConfig
from ganforge.errors import GanforgeError
from ganforge.nets import ARCHITECTURES
from ganforge.nets.layers import (
    MinibatchDiscrimination,
    MinibatchStdDev,
    PackedDiscriminator,
    fold_pack,
)
from ganforge.training.loop import Trainer


def _mbstd_reference(x: np.ndarray, group: int, eps: float = 1e-8) -> np.ndarray:
    """ProGAN's statistic written out: sample i is in group i mod (N / group)."""
    n = x.shape[0]
    m = n // group
    out = np.empty(n)
    for i in range(n):
        members = x[[i % m + k * m for k in range(group)]].reshape(group, -1)
        out[i] = np.sqrt(members.var(axis=0) + eps).mean()  # np.var: biased, as ProGAN
    return out


@pytest.mark.parametrize("shape,group", [((8, 3, 4, 4), 4), ((6, 5), 4), ((5, 2, 3, 3), 4)])
def test_minibatch_std_matches_the_formula(shape, group):
    x = torch.randn(*shape, dtype=torch.float64)
    out = MinibatchStdDev(group)(x)
    assert out.shape == (shape[0], shape[1] + 1, *shape[2:])
    assert torch.equal(out[:, : shape[1]], x)  # the input passes through unchanged
    # batch 6 with group 4 uses groups of 3; batch 5 (prime) uses groups of 1
    used = max(g for g in range(1, group + 1) if shape[0] % g == 0)
    expected = _mbstd_reference(x.numpy(), used)
    stat = out[:, shape[1]]
    for i in range(shape[0]):  # one constant value per sample
        assert torch.all(stat[i] == stat[i].flatten()[0])
    np.testing.assert_allclose(stat.reshape(shape[0], -1)[:, 0].numpy(), expected, rtol=1e-12)


def test_minibatch_std_sees_a_collapsed_batch():
    diverse = torch.randn(8, 2, 4, 4)
    collapsed = diverse[:1].expand(8, -1, -1, -1)
    layer = MinibatchStdDev()
    assert layer(collapsed)[:, 2].max() < 1e-3 < layer(diverse)[:, 2].min()


def _mbdisc_reference(f: np.ndarray, T: np.ndarray, kernels: int, dim: int) -> np.ndarray:
    n = f.shape[0]
    M = (f @ T).reshape(n, kernels, dim)
    o = np.zeros((n, kernels))
    for i in range(n):
        for j in range(n):
            if i != j:
                o[i] += np.exp(-np.abs(M[i] - M[j]).sum(axis=1))
    return o / (n - 1)


@pytest.mark.parametrize("shape", [(6, 10), (4, 3, 2, 2)])
def test_minibatch_discrimination_matches_the_formula(shape):
    torch.manual_seed(0)
    x = torch.randn(*shape, dtype=torch.float64)
    features = math.prod(shape[1:])
    layer = MinibatchDiscrimination(features, num_kernels=5, kernel_dim=3).double()
    with torch.no_grad():
        layer.T.normal_(0, 0.3)  # distances of order 1, so the exponentials are not all 0 or 1
    out = layer(x)
    assert out.shape == (shape[0], shape[1] + 5, *shape[2:])
    assert torch.equal(out[:, : shape[1]], x)
    expected = _mbdisc_reference(x.reshape(shape[0], -1).numpy(), layer.T.detach().numpy(), 5, 3)
    got = out[:, shape[1] :].reshape(shape[0], 5, -1)
    for k in range(got.shape[2]):  # broadcast over H, W
        np.testing.assert_allclose(got[:, :, k].detach().numpy(), expected, rtol=1e-10)
    assert 0 < expected.min() and expected.max() < 1


def test_minibatch_discrimination_is_one_for_identical_samples_and_learns():
    layer = MinibatchDiscrimination(4, num_kernels=3, kernel_dim=2)
    same = torch.ones(5, 4)
    assert torch.allclose(layer(same)[:, 4:], torch.ones(5, 3))
    layer(torch.randn(5, 4)).sum().backward()
    assert layer.T.grad is not None and layer.T.grad.abs().sum() > 0


def test_fold_pack_puts_consecutive_samples_side_by_side():
    x = torch.arange(6 * 2 * 3 * 3, dtype=torch.float32).view(6, 2, 3, 3)
    folded = fold_pack(x, 3)
    assert folded.shape == (2, 6, 3, 3)
    assert torch.equal(folded[1], torch.cat([x[3], x[4], x[5]], 0))
    v = torch.arange(8.0).view(4, 2)
    assert torch.equal(fold_pack(v, 2), torch.tensor([[0.0, 1, 2, 3], [4, 5, 6, 7]]))
    with pytest.raises(ValueError, match="not a multiple of pack=4"):
        fold_pack(x, 4)


def test_packed_discriminator_refuses_labels_and_folds_images():
    seen = []

    class Spy(torch.nn.Module):
        def forward(self, x, y=None):
            seen.append((x.shape, None if y is None else y.shape))
            return x.flatten(1).sum(1)

    d = PackedDiscriminator(Spy(), 2)
    assert d(torch.ones(4, 1, 2, 2)).shape == (2,)
    d(torch.ones(4, 1, 2, 2), torch.ones(4, 3, 2, 2))
    assert seen == [((2, 2, 2, 2), None), ((2, 2, 2, 2), (2, 6, 2, 2))]
    with pytest.raises(ValueError, match="not class labels"):
        d(torch.ones(4, 1, 2, 2), torch.zeros(4, dtype=torch.long))


def _spec(arch, **options):
    shape = [1, 16, 16] if arch == "dcgan" else [2]
    return ModelConfig(arch=arch, sample_shape=shape, latent_dim=4, g_width=8, d_width=8, **options)


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_architectures_take_every_option(arch):
    plain = ARCHITECTURES[arch](_spec(arch))[1]
    x = torch.randn(8, *_spec(arch).sample_shape)
    for options, logits in [
        ({"minibatch_std": True}, 8),
        ({"minibatch_disc": True}, 8),
        ({"pack": 2}, 4),
        ({"pack": 4, "minibatch_std": True, "minibatch_disc": True}, 2),
    ]:
        d = ARCHITECTURES[arch](_spec(arch, **options))[1]
        out = d(x)
        assert out.shape == (logits,), options
        out.sum().backward()
        assert all(p.grad is not None for p in d.parameters() if p.requires_grad)
        assert sum(p.numel() for p in d.parameters()) > sum(p.numel() for p in plain.parameters())


@pytest.mark.parametrize("arch", ["dcgan", "mlp"])
def test_options_off_keep_the_plain_networks(arch):
    """Default settings build exactly the networks (and checkpoint keys) of before."""
    d = ARCHITECTURES[arch](_spec(arch))[1]
    assert not isinstance(d, PackedDiscriminator)
    assert not any(isinstance(m, (MinibatchStdDev, MinibatchDiscrimination)) for m in d.modules())
    if arch == "dcgan":  # 16x16: two strided convs, 8 then 16 channels, into the 4x4 head
        assert d.head.in_channels == 16 and len(d.features) == 5
    else:
        assert d.net[-1].in_features == 8 and len(d.net) == 7


def test_minibatch_std_changes_what_d_sees_of_a_collapsed_batch():
    """With the option, D's logit on a sample depends on the rest of its batch; without, not."""
    x = torch.randn(8, 1, 16, 16)
    for option, depends in [(False, False), (True, True)]:
        torch.manual_seed(0)
        d = ARCHITECTURES["dcgan"](_spec("dcgan", d_norm="none", minibatch_std=option))[1]
        a = d(x)[0]
        b = d(torch.cat([x[:1], x[:1].expand(7, -1, -1, -1)]))[0]
        assert (not torch.allclose(a, b)) == depends


@pytest.mark.parametrize(
    "model,train,pattern",
    [
        ({"pack": 0}, {}, "--pack must be a positive integer"),
        ({"pack": 3}, {"batch_size": 16}, "--batch-size 16 is not a multiple of --pack 3"),
    ],
)
def test_bad_pack_settings(tiny, model, train, pattern):
    with pytest.raises(GanforgeError, match=pattern):
        Trainer(tiny(model=model, train=train))


@pytest.mark.parametrize(
    "model",
    [{"minibatch_std": True}, {"minibatch_disc": True}, {"pack": 2}, {"arch": "mlp", "pack": 4}],
)
def test_training_with_each_option(tiny, model):
    trainer = Trainer(tiny(model=model))
    summary = trainer.fit()
    assert summary["steps"] == 6 and math.isfinite(summary["last"]["d_loss"])
