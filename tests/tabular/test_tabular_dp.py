"""DP-SGD on the critic: exact per-record clipping, the accountant, noisy counts."""

import numpy as np
import pytest
import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.families.tabular import TabularCritic
from ganforge.tabular.dp import (
    PrivateCritic,
    clipped_sum_of_gradients,
    epsilon_of,
    noise_for,
    noisy_counts,
)


def test_clipped_sum_matches_unit_by_unit_autograd():
    torch.manual_seed(0)
    D = TabularCritic(6, 8, 2, pack=1, dropout=0.0)
    scale = torch.linspace(0.1, 5, 12)[:, None]  # some units clip, some not
    real, fake = torch.randn(12, 6) * scale, torch.randn(12, 6)
    clip = 2.0
    ours = clipped_sum_of_gradients(D, [(real, -1.0), (fake, 1.0)], max_norm=clip)
    expected = [torch.zeros_like(p) for p in D.parameters()]
    norms = []
    for r, f in zip(real, fake, strict=True):
        unit_loss = -D(r[None]).sum() + D(f[None]).sum()
        grads = torch.autograd.grad(unit_loss, list(D.parameters()))
        norm = torch.sqrt(sum(g.pow(2).sum() for g in grads))
        norms.append(norm.item())
        for total, g in zip(expected, grads, strict=True):
            total += g * min(1.0, clip / (norm.item() + 1e-6))
    for a, b in zip(ours["grads"], expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert ours["clipped"].item() == pytest.approx(np.mean([n > clip for n in norms]))
    assert 0 < ours["clipped"].item() < 1
    torch.testing.assert_close(ours["scores"][0], D(real).mean().detach())
    single = clipped_sum_of_gradients(D, [(real, -1.0)], max_norm=100.0)  # no clipping: plain grad
    plain = torch.autograd.grad(-D(real).sum(), list(D.parameters()))
    for a, b in zip(single["grads"], plain, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_clipping_refuses_layers_it_cannot_clip_exactly():
    D = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    with pytest.raises(ValueError, match="only Linear layers"):
        clipped_sum_of_gradients(D, [(torch.randn(5, 3), 1.0)], 1.0)


@pytest.mark.filterwarnings("ignore:Optimal order is the largest alpha")
def test_noise_for_reaches_the_target_and_agrees_with_opacus():
    from opacus.accountants.utils import get_noise_multiplier

    sigma = noise_for(3.0, 1e-5, 0.01, 2000)
    assert epsilon_of([(sigma, 0.01, 2000)], 1e-5) == pytest.approx(3.0, rel=0.01)
    assert epsilon_of([(sigma, 0.01, 2000)], 1e-5) <= 3.0
    theirs = get_noise_multiplier(
        target_epsilon=3.0, target_delta=1e-5, sample_rate=0.01, steps=2000
    )
    assert sigma == pytest.approx(theirs, rel=0.02)
    # composing an extra mechanism in front needs more noise for the same budget
    assert noise_for(3.0, 1e-5, 0.01, 2000, fixed=[(5.0, 1.0, 1)]) > sigma
    assert epsilon_of([], 1e-5) == 0.0


def test_noisy_counts_have_the_stated_noise():
    counts = [[1000] * 2000, [500] * 2000, [10] * 2000, [0] * 2000]
    noisy = noisy_counts(counts, 2.0, torch.Generator().manual_seed(0))
    residual = np.asarray(noisy[0]) - 1000
    assert residual.std() == pytest.approx(2.0 * np.sqrt(4), rel=0.05)  # sigma * sqrt(#columns)
    assert min(noisy[3]) == 0  # clamped at 0


def test_accountant_counts_every_step_and_never_goes_back():
    dp = PrivateCritic(2.0, 1e-5, 0.02, 100, count_noise=10.0)
    assert dp.spent() == pytest.approx(epsilon_of([(10.0, 1.0, 1)], 1e-5))
    dp.steps_done = 100
    assert dp.spent() == pytest.approx(2.0, rel=0.01) and dp.spent() <= 2.0
    dp.load_state_dict({"steps_done": 40})  # a rollback must not forget spent privacy
    assert dp.steps_done == 100
    report = dp.report()
    assert report["steps"] == 100 and report["delta"] == 1e-5
    with pytest.raises(GanforgeError, match="epsilon must be positive"):
        PrivateCritic(0.0, 1e-5, 0.02, 100)
    with pytest.raises(GanforgeError, match="delta must be in"):
        PrivateCritic(1.0, 1.5, 0.02, 100)


def test_dp_fits_take_the_dp_defaults_unless_given():
    from ganforge.tabular import TabularGAN
    from ganforge.tabular.model import DEFAULTS, DP_DEFAULTS

    plain, private = TabularGAN(), TabularGAN(epsilon=3.0)
    assert DP_DEFAULTS and all(private.settings[k] == v for k, v in DP_DEFAULTS.items())
    assert all(plain.settings[k] == v for k, v in DEFAULTS.items())
    changed = [k for k in DP_DEFAULTS if DP_DEFAULTS[k] != DEFAULTS[k]]
    assert changed and all(plain.settings[k] != private.settings[k] for k in changed)
    assert private._config(32_000, 0, True).train.lr_d == private.settings["lr_d"]
    given = TabularGAN(epsilon=3.0, lr_d=2e-4, batch_size=500)
    assert given.settings["lr_d"] == 2e-4 and given.batch_size == 500
