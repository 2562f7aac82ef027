"""The relativistic pairing loss (RpGAN) and the zero-centred R1/R2 penalties of R3GAN
(Huang et al. 2024), against their formulas and an autograd reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.config import Config, merge
from ganforge.families.base import adversarial_d_terms
from ganforge.objectives import (
    PAIRED_LOSSES,
    d_loss,
    g_loss,
    r1_penalty,
    r2_penalty,
    zero_centred_penalty,
)

REAL = np.array([-2.0, -0.5, 0.0, 0.3, 1.7])
FAKE = np.array([-3.0, -1.2, 0.4, 0.9, 2.5])


def t(values, grad=False):
    return torch.tensor(values, dtype=torch.float64, requires_grad=grad)


def softplus(x):
    return np.log1p(np.exp(x))


def test_d_and_g_losses_match_the_papers_formula():
    """L_D = E[f(-(D(x_r) - D(x_f)))], L_G = E[f(-(D(x_f) - D(x_r)))] with f = softplus, pairwise."""
    expected_d = np.mean(softplus(-(REAL - FAKE)))
    expected_g = np.mean(softplus(-(FAKE - REAL)))
    assert d_loss("relativistic-pair", t(REAL), t(FAKE)).item() == pytest.approx(expected_d, 1e-12)
    assert g_loss("relativistic-pair", t(FAKE), t(REAL)).item() == pytest.approx(expected_g, 1e-12)
    # The naive form -log sigmoid(r - f), for one pair worked by hand: r = f gives log 2.
    zero = torch.zeros(3)
    assert d_loss("relativistic-pair", zero, zero).item() == pytest.approx(np.log(2))


def test_pairing_is_per_sample_not_on_the_means():
    """Swapping which fake meets which real changes RpGAN's loss (the average RaGAN's does not)."""
    real, fake = t([0.0, 4.0]), t([4.0, 0.0])
    assert d_loss("relativistic-pair", real, fake) != d_loss(
        "relativistic-pair", real, fake.flip(0)
    )


def test_gradient_directions():
    real, fake = t([0.1, 0.4], grad=True), t([0.2, 0.6], grad=True)
    d_loss("relativistic-pair", real, fake).backward()
    assert (real.grad < 0).all() and (fake.grad > 0).all()
    fake_g = t([0.2, 0.6], grad=True)
    g_loss("relativistic-pair", fake_g, t([0.1, 0.4])).backward()
    assert (fake_g.grad < 0).all()


def test_generator_loss_needs_the_real_logits():
    assert "relativistic-pair" in PAIRED_LOSSES
    with pytest.raises(ValueError, match="real logits"):
        g_loss("relativistic-pair", t([0.0]))


def test_stays_finite_at_extreme_logits():
    real, fake = t([100.0, -100.0], grad=True), t([-100.0, 100.0], grad=True)
    loss = d_loss("relativistic-pair", real, fake) + g_loss("relativistic-pair", fake, real)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(real.grad).all()


class Quadratic(nn.Module):
    """D(x) = sum(w * x^2): grad = 2 w x, so ||grad||^2 = 4 sum(w^2 x^2), known in closed form."""

    def __init__(self, dim: int):
        super().__init__()
        self.w = nn.Parameter(torch.linspace(0.5, 1.5, dim, dtype=torch.float64))

    def forward(self, x, y=None):
        return (self.w * x.flatten(1) ** 2).sum(1)


def test_r1_and_r2_match_the_closed_form():
    D = Quadratic(3)
    x = torch.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, 3.0]], dtype=torch.float64)
    expected = (4 * (D.w.detach() ** 2 * x**2).sum(1)).mean().item()
    assert r1_penalty(D, x).item() == pytest.approx(expected, 1e-12)
    assert r2_penalty(D, x).item() == pytest.approx(expected, 1e-12)
    inputs = x.clone().requires_grad_(True)
    assert zero_centred_penalty(D(inputs), inputs).item() == pytest.approx(expected, 1e-12)


def r3gan_config(r1: float, r2: float, every: int = 1) -> Config:
    train = {"loss": "relativistic-pair", "r1_weight": r1, "r2_weight": r2, "r1_every": every}
    return merge(Config(), {"train": train})


def test_d_terms_are_the_loss_plus_gamma_over_2_r1_plus_r2():
    """adversarial_d_terms shares one pass of D between the loss and both penalties; the value
    and its parameter gradients equal the reference computed with separate passes."""
    torch.manual_seed(0)
    D = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    real, fake = torch.randn(4, 1, 2, 3).double(), torch.randn(4, 1, 2, 3).double()
    net = lambda x: D(x).view(-1)  # noqa: E731

    loss, logs = adversarial_d_terms(r3gan_config(0.3, 0.7), net, real, fake, None, d_step=0)
    loss.backward()
    got = [p.grad.clone() for p in D.parameters()]
    D.zero_grad()

    reference = (
        d_loss("relativistic-pair", net(real), net(fake))
        + 0.3 / 2 * r1_penalty(net, real)
        + 0.7 / 2 * r2_penalty(net, fake)
    )
    reference.backward()
    assert loss.item() == pytest.approx(reference.item(), 1e-12)
    assert logs["r1"].item() == pytest.approx(r1_penalty(net, real).item(), 1e-12)
    assert logs["r2"].item() == pytest.approx(r2_penalty(net, fake).item(), 1e-12)
    for a, p in zip(got, D.parameters(), strict=True):
        assert torch.allclose(a, p.grad, rtol=1e-10, atol=1e-12)


def test_lazy_penalties_every_k_steps_scaled_by_k():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Flatten(), nn.Linear(6, 1)).double()
    net = lambda x: D(x).view(-1)  # noqa: E731
    real, fake = torch.randn(4, 6).double(), torch.randn(4, 6).double()
    config = r3gan_config(0.2, 0.4, every=4)
    plain = d_loss("relativistic-pair", net(real), net(fake)).item()
    off, logs_off = adversarial_d_terms(config, net, real, fake, None, d_step=1)
    on, logs_on = adversarial_d_terms(config, net, real, fake, None, d_step=4)
    assert off.item() == pytest.approx(plain) and "r1" not in logs_off and "r2" not in logs_off
    expected = plain + 4 * (0.1 * r1_penalty(net, real) + 0.2 * r2_penalty(net, fake)).item()
    assert on.item() == pytest.approx(expected, 1e-10)
