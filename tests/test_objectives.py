"""Tests for ganforge.objectives: every loss against its formula written out independently."""

import math

import numpy as np
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.objectives import (
    LOSSES,
    PAIRED_LOSSES,
    check_loss_name,
    d_loss,
    g_loss,
    gradient_penalty,
    r1_penalty,
    relativistic_d_loss,
    relativistic_g_loss,
)

torch.set_num_threads(1)

# The losses of one batch of logits each (the paired ones: tests/test_relativistic_pair.py).
UNPAIRED = tuple(name for name in LOSSES if name not in PAIRED_LOSSES)

REAL = np.array([-2.0, -0.5, 0.0, 0.3, 1.7, 3.0])
FAKE = np.array([-3.0, -1.2, 0.4, 0.9, 2.5])  # a different batch size on purpose


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def reference_d(name: str, r: np.ndarray, f: np.ndarray) -> float:
    """The discriminator losses as the papers write them, naively, in float64."""
    if name in ("minimax", "nonsaturating"):
        return -np.mean(np.log(sigmoid(r))) - np.mean(np.log(1.0 - sigmoid(f)))
    if name == "wasserstein":
        return np.mean(f) - np.mean(r)
    if name == "hinge":
        return np.mean(np.maximum(0.0, 1.0 - r)) + np.mean(np.maximum(0.0, 1.0 + f))
    if name == "lsgan":
        return 0.5 * np.mean((r - 1.0) ** 2) + 0.5 * np.mean(f**2)
    raise AssertionError(name)


def reference_g(name: str, f: np.ndarray) -> float:
    if name == "minimax":
        return np.mean(np.log(1.0 - sigmoid(f)))
    if name == "nonsaturating":
        return -np.mean(np.log(sigmoid(f)))
    if name in ("wasserstein", "hinge"):
        return -np.mean(f)
    if name == "lsgan":
        return 0.5 * np.mean((f - 1.0) ** 2)
    raise AssertionError(name)


def t(values, dtype=torch.float32, grad=False) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, requires_grad=grad)


def test_loss_names():
    assert UNPAIRED == ("minimax", "nonsaturating", "wasserstein", "hinge", "lsgan")
    assert PAIRED_LOSSES == ("relativistic-pair",)


@pytest.mark.parametrize("name", UNPAIRED)
def test_d_loss_matches_formula(name):
    got = d_loss(name, t(REAL, torch.float64), t(FAKE, torch.float64))
    assert got.shape == ()
    assert got.item() == pytest.approx(reference_d(name, REAL, FAKE), rel=1e-12, abs=1e-12)
    got32 = d_loss(name, t(REAL), t(FAKE))
    assert got32.dtype == torch.float32
    assert got32.item() == pytest.approx(reference_d(name, REAL, FAKE), rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("name", UNPAIRED)
def test_g_loss_matches_formula(name):
    got = g_loss(name, t(FAKE, torch.float64))
    assert got.shape == ()
    assert got.item() == pytest.approx(reference_g(name, FAKE), rel=1e-12, abs=1e-12)


def test_hand_computed_values():
    """A few values worked out by hand, so the references above are not the only witness."""
    zero = torch.zeros(4)
    assert d_loss("minimax", zero, zero).item() == pytest.approx(2 * math.log(2))
    assert g_loss("minimax", zero).item() == pytest.approx(-math.log(2))
    assert g_loss("nonsaturating", zero).item() == pytest.approx(math.log(2))
    assert d_loss("hinge", t([2.0, 0.0]), t([-2.0, 0.5])).item() == pytest.approx(0.5 + 0.75)
    assert d_loss("wasserstein", t([1.0, 3.0]), t([5.0])).item() == pytest.approx(3.0)
    assert d_loss("lsgan", t([1.0, 3.0]), t([2.0])).item() == pytest.approx(0.5 * 2 + 0.5 * 4)
    assert g_loss("lsgan", t([3.0])).item() == pytest.approx(2.0)


def test_patch_logits_average_over_every_element():
    """PatchGAN logits (N, 1, H, W) give the same loss as the same values flattened."""
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(3, 1, 4, 4, generator=gen)
    fake = torch.randn(3, 1, 4, 4, generator=gen)
    for name in UNPAIRED:
        assert d_loss(name, real, fake).item() == pytest.approx(
            d_loss(name, real.flatten(), fake.flatten()).item(), rel=1e-6
        )


def test_half_precision_logits_are_evaluated_in_float32():
    logits = t([30.0, -30.0]).to(torch.bfloat16)
    loss = d_loss("minimax", logits, logits)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(30.0, rel=1e-3)  # softplus(30)/2 + softplus(30)/2


def naive_minimax_d(r, f):
    return -torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean()


def test_stable_at_extreme_logits_where_the_naive_formula_fails():
    r, f = t([-100.0]), t([100.0])  # D completely wrong both ways
    assert not torch.isfinite(naive_minimax_d(r, f))
    assert d_loss("minimax", r, f).item() == pytest.approx(200.0, rel=1e-6)

    fooled = t([100.0])  # D fully fooled: minimax G loss tends to -f
    assert not torch.isfinite(torch.log(1 - torch.sigmoid(fooled)).mean())
    assert g_loss("minimax", fooled).item() == pytest.approx(-100.0, rel=1e-6)

    rejected = t([-100.0])  # D fully rejects fakes: non-saturating G loss tends to -f
    assert not torch.isfinite(-torch.log(torch.sigmoid(rejected)).mean())
    assert g_loss("nonsaturating", rejected).item() == pytest.approx(100.0, rel=1e-6)

    # D perfectly right: every loss tends to 0 and stays finite
    assert d_loss("minimax", t([100.0]), t([-100.0])).item() == pytest.approx(0.0, abs=1e-30)
    assert g_loss("nonsaturating", t([100.0])).item() == pytest.approx(0.0, abs=1e-30)


@pytest.mark.parametrize("name", UNPAIRED)
@pytest.mark.parametrize("value", [-100.0, 100.0])
def test_gradients_finite_at_extreme_logits(name, value):
    real, fake = t([value, -value], grad=True), t([value, -value], grad=True)
    (d_loss(name, real, fake) + g_loss(name, fake)).backward()
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


@pytest.mark.parametrize("name", UNPAIRED)
def test_gradient_directions(name):
    """D pushes real logits up and fake logits down; G pushes fake logits up.

    Logits in (0, 1), where every loss is active (LSGAN's targets are 1 for real and 0 for fake).
    """
    real, fake = t([0.1, 0.4], grad=True), t([0.2, 0.6], grad=True)
    d_loss(name, real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()
    fake_g = t([0.2, 0.6], grad=True)
    g_loss(name, fake_g).backward()
    assert (fake_g.grad < 0).all()


def test_nonsaturating_gradient_is_larger_when_d_rejects_fakes():
    """The reason the non-saturating loss exists (Goodfellow et al. 2014, section 3)."""
    grads = {}
    for name in ("minimax", "nonsaturating"):
        fake = t([-6.0], grad=True)  # D(G(z)) = sigmoid(-6) ~ 0.0025: confidently rejected
        g_loss(name, fake).backward()
        grads[name] = fake.grad.item()
    # d/df log(1 - s(f)) = -s(f); d/df -log s(f) = -(1 - s(f))
    assert grads["minimax"] == pytest.approx(-sigmoid(-6.0), rel=1e-5)
    assert grads["nonsaturating"] == pytest.approx(-(1 - sigmoid(-6.0)), rel=1e-5)
    assert abs(grads["nonsaturating"]) > 100 * abs(grads["minimax"])


def reference_relativistic(r: np.ndarray, f: np.ndarray) -> tuple[float, float]:
    """RaGAN as written in Jolicoeur-Martineau (2018) / ESRGAN, halved as ESRGAN's code does."""
    d_real = sigmoid(r - f.mean())  # D_Ra(x_r, x_f)
    d_fake = sigmoid(f - r.mean())  # D_Ra(x_f, x_r)
    loss_d = -np.mean(np.log(d_real)) - np.mean(np.log(1.0 - d_fake))
    loss_g = -np.mean(np.log(1.0 - d_real)) - np.mean(np.log(d_fake))
    return 0.5 * loss_d, 0.5 * loss_g


def test_relativistic_losses_match_formula():
    expected_d, expected_g = reference_relativistic(REAL, FAKE)
    real, fake = t(REAL, torch.float64), t(FAKE, torch.float64)
    assert relativistic_d_loss(real, fake).item() == pytest.approx(expected_d, rel=1e-12)
    assert relativistic_g_loss(real, fake).item() == pytest.approx(expected_g, rel=1e-12)
    # G's loss is D's loss with the roles swapped
    assert relativistic_g_loss(real, fake).item() == pytest.approx(
        relativistic_d_loss(fake, real).item(), rel=1e-12
    )
    zero = torch.zeros(3)
    assert relativistic_d_loss(zero, zero).item() == pytest.approx(math.log(2))


def test_relativistic_stable_and_directed():
    real, fake = t([-100.0, -100.0]), t([100.0, 100.0])
    assert relativistic_d_loss(real, fake).item() == pytest.approx(200.0, rel=1e-6)
    assert relativistic_g_loss(real, fake).item() == pytest.approx(0.0, abs=1e-30)
    real, fake = t([0.5, 1.0], grad=True), t([0.0, -0.5], grad=True)
    relativistic_d_loss(real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()
    fake_g = t([0.0, -0.5], grad=True)
    relativistic_g_loss(real.detach(), fake_g).backward()
    assert (fake_g.grad < 0).all()


class LinearD(torch.nn.Module):
    """D(x) = w . flatten(x): its input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x):
        return x.flatten(1) @ self.w


@pytest.mark.parametrize("shape", [(5, 7), (4, 3, 4, 4)])
def test_gradient_penalty_linear_discriminator_is_exact(shape):
    gen = torch.Generator().manual_seed(1)
    n_features = int(np.prod(shape[1:]))
    w = torch.randn(n_features, generator=gen, dtype=torch.float64)
    discriminator = LinearD(w.clone())
    real = torch.randn(shape, generator=gen, dtype=torch.float64)
    fake = torch.randn(shape, generator=gen, dtype=torch.float64)
    gp = gradient_penalty(discriminator, real, fake)
    norm = torch.linalg.vector_norm(w).item()
    assert gp.item() == pytest.approx((norm - 1.0) ** 2, rel=1e-10)
    # create_graph: the penalty reaches D's parameters; d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    gp.backward()
    expected = 2 * (norm - 1.0) * w / norm
    torch.testing.assert_close(discriminator.w.grad, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", [(6, 3), (6, 2, 3, 3)])
def test_gradient_penalty_interpolates_per_sample(shape):
    seen = []

    def quadratic(x):  # D(x) = ||x||^2, input gradient 2x
        seen.append(x)
        return x.flatten(1).pow(2).sum(1)

    torch.manual_seed(3)
    real = torch.randn(shape, dtype=torch.float64)
    fake = torch.randn(shape, dtype=torch.float64)
    gp = gradient_penalty(quadratic, real, fake)
    (x_hat,) = seen
    # x_hat - fake = a_i (real - fake) with one a_i in [0, 1] per sample, shared by all elements
    ratio = ((x_hat - fake) / (real - fake)).detach().flatten(1)
    alpha = ratio[:, 0]
    torch.testing.assert_close(ratio, alpha[:, None].expand_as(ratio))
    assert ((alpha >= 0) & (alpha <= 1)).all() and alpha.unique().numel() == shape[0]
    expected = ((2 * x_hat.detach().flatten(1)).norm(dim=1) - 1).pow(2).mean()
    assert gp.item() == pytest.approx(expected.item(), rel=1e-10)


def test_gradient_penalty_passes_y():
    gen = torch.Generator().manual_seed(4)
    y = torch.randn(5, 3, generator=gen)

    def conditional(x, y):  # input gradient is y: a different norm for each sample
        return (x * y).sum(1)

    real, fake = torch.randn(5, 3, generator=gen), torch.randn(5, 3, generator=gen)
    gp = gradient_penalty(conditional, real, fake, y)
    expected = (y.norm(dim=1) - 1).pow(2).mean()
    assert gp.item() == pytest.approx(expected.item(), rel=1e-6)


def test_penalties_do_not_reach_the_inputs_graph():
    """The penalties regularise D only: no gradient may flow back into G through real/fake."""
    source = torch.randn(4, 3, requires_grad=True)
    fake = source * 2  # part of a graph, as a generator's output would be
    real = source + 1

    def quadratic(x):  # input gradient 2x depends on x, so a leak would show
        return x.pow(2).sum(1)

    penalty = gradient_penalty(quadratic, real, fake) + r1_penalty(quadratic, real)
    penalty.backward()
    assert source.grad is None


def test_gradient_penalty_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="differ in shape"):
        gradient_penalty(LinearD(torch.ones(3)), torch.zeros(4, 3), torch.zeros(5, 3))


def test_penalties_under_autocast_are_float32():
    torch.manual_seed(5)
    discriminator = torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1)
    )

    def d(x):
        return discriminator(x).squeeze(1)

    real, fake = torch.randn(4, 8), torch.randn(4, 8)
    torch.manual_seed(6)
    gp_reference = gradient_penalty(d, real, fake).item()
    r1_reference = r1_penalty(d, real).item()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.manual_seed(6)
        gp = gradient_penalty(d, real, fake)
        r1 = r1_penalty(d, real)
    assert gp.dtype == torch.float32 and r1.dtype == torch.float32
    assert gp.item() == pytest.approx(gp_reference, rel=5e-2)
    assert r1.item() == pytest.approx(r1_reference, rel=5e-2)
    (gp + r1).backward()
    first_weight = discriminator[0].weight.grad
    assert first_weight is not None and torch.isfinite(first_weight).all()
    assert first_weight.abs().sum() > 0


def test_penalties_of_half_precision_inputs_are_float32():
    """bfloat16 inputs give bfloat16 input gradients: their norm is still taken in float32."""
    w = torch.full((64,), 0.5)
    real = torch.randn(3, 64).to(torch.bfloat16)

    def d(x):
        return x.flatten(1) @ w.to(x.dtype)

    gp = gradient_penalty(d, real, torch.zeros_like(real))
    r1 = r1_penalty(d, real)
    assert gp.dtype == torch.float32 and r1.dtype == torch.float32
    assert gp.item() == pytest.approx((4.0 - 1.0) ** 2, rel=1e-6)
    assert r1.item() == pytest.approx(16.0, rel=1e-6)


class ScaledQuadraticD(torch.nn.Module):
    """D(x) = a ||x||^2: input gradient 2 a x."""

    def __init__(self, a: float):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(a, dtype=torch.float64))

    def forward(self, x):
        return self.a * x.flatten(1).pow(2).sum(1)


@pytest.mark.parametrize("shape", [(6, 5), (3, 2, 4, 4)])
def test_r1_penalty_quadratic_discriminator(shape):
    rng = np.random.default_rng(7)
    x = rng.normal(size=shape)
    a = 1.5
    discriminator = ScaledQuadraticD(a)
    r1 = r1_penalty(discriminator, torch.tensor(x))
    squared_norms = ((2 * a * x.reshape(shape[0], -1)) ** 2).sum(axis=1)
    assert r1.item() == pytest.approx(squared_norms.mean(), rel=1e-12)
    # create_graph: R1 = 4 a^2 E||x||^2, so dR1/da = 8 a E||x||^2
    r1.backward()
    expected = 8 * a * (x.reshape(shape[0], -1) ** 2).sum(axis=1).mean()
    assert discriminator.a.grad.item() == pytest.approx(expected, rel=1e-12)


def test_r1_penalty_passes_y():
    y = torch.tensor([[1.0, 2.0], [0.0, 3.0]])
    r1 = r1_penalty(lambda x, y: (x * y).sum(1), torch.ones(2, 2), y)
    assert r1.item() == pytest.approx((5.0 + 9.0) / 2)


def test_check_loss_name():
    for name in LOSSES:
        assert check_loss_name(name) == name
    with pytest.raises(GanforgeError) as info:
        check_loss_name("non-saturating", where="config key train.loss")
    message = str(info.value)
    assert "unknown adversarial loss 'non-saturating'" in message
    assert "config key train.loss" in message
    assert all(name in message for name in LOSSES)
    assert "did you mean 'nonsaturating'?" in message
    assert "\n" not in message
    with pytest.raises(GanforgeError, match="unknown adversarial loss None"):
        check_loss_name(None)


@pytest.mark.parametrize("call", [d_loss, g_loss])
def test_unknown_name_in_losses(call):
    logits = torch.zeros(2)
    args = ("Hinge", logits, logits) if call is d_loss else ("Hinge", logits)
    with pytest.raises(GanforgeError, match="unknown adversarial loss 'Hinge'.*hinge"):
        call(*args)
