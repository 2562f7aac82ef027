"""The tabular family: span activations, conditional loss and packed gradient penalty vs CTGAN."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganforge.config import Config, merge
from ganforge.errors import GanforgeError
from ganforge.families import FAMILIES
from ganforge.families.tabular import SpanActivation, TabularFamily, _buckets

# matrix layout: alpha, 3 modes, a 2-level column, alpha, 4 modes, a 9-level column
SPANS = [("tanh", 0, 1), ("softmax", 1, 3), ("softmax", 4, 2), ("tanh", 6, 1),
         ("softmax", 7, 4), ("softmax", 11, 9)]  # fmt: skip
COND = [(4, 2), (11, 9)]
LAYOUT = {"spans": SPANS, "cond_spans": COND, "cond_dim": 11, "data_dim": 20}


def _config(**train):
    return merge(
        Config(),
        {
            "model": {
                "family": "tabular",
                "latent_dim": 8,
                "g_width": 16,
                "d_width": 16,
                "mlp_layers": 2,
                "pack": 4,
                "d_norm": "none",
            },  # fmt: skip
            "train": {"loss": "wasserstein", "gp_weight": 10.0, "batch_size": 16, **train},
        },
    )


def _matrix() -> torch.Tensor:
    """40 rows of LAYOUT with every level of both discrete columns present."""
    matrix = torch.zeros(40, 20)
    matrix[torch.arange(40), 4 + torch.arange(40) % 2] = 1
    matrix[torch.arange(40), 11 + torch.arange(40) % 9] = 1
    return matrix


def _sampled(gp_fraction: float = 1.0):
    """A family with a sampler over _matrix(), its networks, and a batch of 16 rows + conditions."""
    from ganforge.tabular.sampler import ConditionSampler

    matrix = _matrix()
    family = TabularFamily(_config(), LAYOUT, ConditionSampler(matrix, COND), None, gp_fraction)
    G, D = family.build()
    real = G.activate.to_grouped(matrix[:16])
    return family, G, D, real, family.sampler.conditions_of_rows(torch.arange(16))


def test_grouped_layout_round_trips_and_activations_are_valid():
    act = SpanActivation(SPANS, COND)
    matrix = torch.randn(7, 20)
    grouped = act.to_grouped(matrix)
    assert torch.equal(act.to_matrix(grouped), matrix)
    assert grouped.shape[1] == act.width >= 20
    out = act.to_matrix(act(torch.randn(7, act.width) * 3))
    assert out[:, [0, 6]].abs().max() <= 1  # tanh
    for kind, s, w in SPANS:
        if kind == "softmax":
            torch.testing.assert_close(out[:, s : s + w].sum(1), torch.ones(7))
    padded = act(torch.randn(7, act.width))[:, act.source < 0]
    assert padded.abs().max() == 0  # padding slots are always 0, as in the data


def test_gumbel_softmax_draws_levels_with_softmax_probabilities():
    act = SpanActivation([("softmax", 0, 3)], [])
    logits = torch.tensor([[1.0, 0.0, -1.0]]).repeat(40000, 1)
    picks = act(act.to_grouped(logits), generator=torch.Generator().manual_seed(0)).argmax(1)
    observed = torch.bincount(picks, minlength=3).float() / len(picks)
    torch.testing.assert_close(observed, torch.softmax(logits[0], 0), atol=0.01, rtol=0)


def test_condition_cross_entropy_matches_torch_cross_entropy():
    act = SpanActivation(SPANS, COND)
    matrix_raw = torch.randn(6, 20, requires_grad=True)
    raw = act.to_grouped(matrix_raw)
    target = torch.tensor([0, 1, 0, 1, 1, 0]), torch.tensor([3, 8, 0, 5, 2, 1])
    cond = torch.zeros(6, 11)
    expected = []
    for i in range(5):  # row 5 has no condition: no loss
        column = i % 2
        cond[i, (0 if column == 0 else 2) + target[column][i]] = 1
        s, w = COND[column]
        expected.append(
            F.cross_entropy(matrix_raw[i : i + 1, s : s + w], target[column][i : i + 1])
        )
    nll = act.condition_nll(raw, cond)
    torch.testing.assert_close(nll, torch.stack(expected + [torch.tensor(0.0)]))
    (grad,) = torch.autograd.grad(nll.sum(), matrix_raw)
    (expected_grad,) = torch.autograd.grad(torch.stack(expected).sum(), matrix_raw)
    torch.testing.assert_close(grad, expected_grad)


def test_packed_gradient_penalty_equals_ctgans():
    family = TabularFamily(_config(), LAYOUT)
    G, D = family.build()
    width = G.activate.width + 11
    real, fake = torch.randn(16, width), torch.randn(16, width)
    from ganforge import objectives
    from ganforge.nets.layers import fold_pack

    torch.manual_seed(3)
    ours = objectives.gradient_penalty(D.packed, fold_pack(real, 4), fold_pack(fake, 4))
    # CTGAN's Discriminator.calc_gradient_penalty, written out (lambda applied by the caller)
    torch.manual_seed(3)
    alpha = torch.rand(real.size(0) // 4, 1, 1).repeat(1, 4, real.size(1)).view(-1, real.size(1))
    interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = D(interpolates)
    (gradients,) = torch.autograd.grad(
        scores, interpolates, torch.ones_like(scores), create_graph=True
    )
    theirs = ((gradients.view(-1, 4 * real.size(1)).norm(2, dim=1) - 1) ** 2).mean()
    torch.testing.assert_close(ours, theirs)


def test_losses_and_generation_shapes():
    family, G, D, real, cond = _sampled()
    d_loss, d_logs = family.discriminator_loss(G, D, real, cond, 0)
    g_loss, g_logs = family.generator_loss(G, D, real, cond, 0)
    assert d_loss.shape == () and {"d_loss", "gp"} <= set(d_logs)
    assert g_logs["cond_ce"] > 0 and torch.isfinite(g_loss)
    d_loss.backward()
    assert all(p.grad is not None for p in D.parameters())
    assert family.generate(G.eval(), 5, torch.device("cpu")).shape == (5, 20)


def test_the_family_needs_a_table():
    assert FAMILIES["tabular"] is TabularFamily
    with pytest.raises(GanforgeError, match="ganforge tabular fit"):
        TabularFamily(_config())


def test_padding_buckets_bound_the_waste():
    act = SpanActivation(SPANS, COND)
    assert act.width <= 2 * 20
    assert [g[2] for g in act.groups] == sorted(g[2] for g in act.groups)
    assert np.all(act.where.numpy() >= 0)


def test_buckets_pad_each_block_by_less_than_half():
    widths = [10, 9, 9, 16, 10, 7, 15, 6, 5, 2, 5, 2, 10, 42, 2]  # Adult's blocks
    spans, start = [], 0
    for w in widths:
        spans.append(("softmax", start, w))
        start += w
    act = SpanActivation(spans, [])
    assert act.width == 158  # 5 groups: 2, 7, 10, 16, 42 slots (power-of-two buckets: 188)
    for group in _buckets([(s, w) for _, s, w in spans]):
        assert max(w for _, w in group) <= 1.5 * min(w for _, w in group)
    assert torch.equal(act.to_matrix(act.to_grouped(torch.eye(start))), torch.eye(start))


def test_the_g_step_reuses_the_d_steps_fakes_only_within_a_step():
    family, G, D, real, cond = _sampled()
    calls = []
    G.register_forward_hook(lambda *_: calls.append(1))
    family.discriminator_loss(G, D, real, cond, 3)  # step 3's (only) D step
    assert len(calls) == 1 and all(p.grad is None for p in G.parameters())
    loss, _ = family.generator_loss(G, D, real, cond, 3)
    assert len(calls) == 1  # no second G forward
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())
    family.discriminator_loss(G, D, real, cond, 4)
    # another step's fakes are never used; the trainer passes no real batch to the G step
    assert not family.g_step_batch
    loss, _ = family.generator_loss(G, D, None, None, 5)
    assert len(calls) == 3 and torch.isfinite(loss)


def test_gradient_penalty_fraction_uses_that_share_of_the_packs(monkeypatch):
    from ganforge import objectives

    seen = []
    penalty = objectives.gradient_penalty
    monkeypatch.setattr(
        objectives, "gradient_penalty", lambda D, r, f: seen.append(r.shape) or penalty(D, r, f)
    )
    for fraction, packs in ((1.0, 4), (0.5, 2), (0.01, 1)):
        family, G, D, real, cond = _sampled(fraction)
        _, logs = family.discriminator_loss(G, D, real, cond, 0)
        assert seen[-1][0] == packs and logs["gp"] > 0
