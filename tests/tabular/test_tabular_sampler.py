"""Training-by-sampling: log-frequency levels, matching rows, Poisson batches for DP."""

import numpy as np
import pytest
import torch

from ganforge.tabular.sampler import ConditionSampler, TableDataset


def _matrix(levels_a, levels_b):
    """Two discrete columns one-hot side by side, after one continuous alpha column."""
    a = torch.nn.functional.one_hot(torch.tensor(levels_a), 3).float()
    b = torch.nn.functional.one_hot(torch.tensor(levels_b), 2).float()
    alpha = torch.arange(len(levels_a)).float().unsqueeze(1)  # row id, to trace rows back
    return torch.cat([alpha, a, b], 1), [(1, 3), (4, 2)]


def test_levels_follow_log_frequency_and_rows_match_their_condition():
    counts = [700, 250, 50]
    a = [0] * counts[0] + [1] * counts[1] + [2] * counts[2]
    b = [i % 2 for i in range(1000)]
    matrix, spans = _matrix(a, b)
    sampler = ConditionSampler(matrix, spans)
    torch.manual_seed(0)
    rows, cond = sampler.sample_training(200_000)
    column_a = cond[:, :3].sum(1) == 1
    assert column_a.float().mean().item() == pytest.approx(0.5, abs=0.01)  # uniform column
    observed = cond[column_a, :3].mean(0).numpy()
    expected = np.log1p(counts) / np.log1p(counts).sum()  # CTGAN's log-frequency
    np.testing.assert_allclose(observed, expected, atol=0.006)
    # each drawn row holds the level its conditional vector names
    level_of_row = torch.cat([matrix[rows, 1:4], matrix[rows, 4:6]], 1)
    assert torch.equal((level_of_row * cond).sum(1), torch.ones(len(rows)))


def test_sampling_conditions_use_data_frequencies():
    a = [0] * 600 + [1] * 300 + [2] * 100
    matrix, spans = _matrix(a, [0] * 1000)
    sampler = ConditionSampler(matrix, spans)
    cond = sampler.sample_conditions(100_000, torch.Generator().manual_seed(1))
    observed = cond[cond[:, :3].sum(1) == 1, :3].mean(0).numpy()
    np.testing.assert_allclose(observed, [0.6, 0.3, 0.1], atol=0.01)
    given = ConditionSampler(matrix, spans, frequencies=[[1, 1, 2], [1, 0]])
    cond = given.sample_conditions(50_000, torch.Generator().manual_seed(2))
    np.testing.assert_allclose(
        cond[cond[:, :3].sum(1) == 1, :3].mean(0), [0.25, 0.25, 0.5], atol=0.01
    )
    assert cond[:, 4].sum() == 0  # a level with frequency 0 never comes out


def test_rows_carry_their_own_conditions_and_poisson_batches():
    matrix, spans = _matrix([0, 1, 2] * 100, [0, 1] * 150)
    sampler = ConditionSampler(matrix, spans)
    rows = torch.arange(300)
    cond = sampler.conditions_of_rows(rows)
    own = torch.cat([matrix[:, 1:4], matrix[:, 4:6]], 1)
    assert torch.equal((own * cond).sum(1), torch.ones(300))
    dataset = TableDataset(matrix, sampler, poisson_rate=0.1)
    torch.manual_seed(0)
    sizes = [len(dataset.batch(torch.arange(30))[0]) for _ in range(400)]
    assert np.mean(sizes) == pytest.approx(30, abs=1) and np.std(sizes) > 2  # Binomial(300, 0.1)


def test_batches_repeat_under_the_same_rng_state():
    matrix, spans = _matrix([0, 1, 2] * 50, [0, 1] * 75)
    dataset = TableDataset(matrix, ConditionSampler(matrix, spans))
    torch.manual_seed(5)
    first = dataset.batch(torch.arange(64))
    torch.manual_seed(5)
    second = dataset.batch(torch.arange(64))
    assert all(torch.equal(x, y) for x, y in zip(first, second, strict=True))
    assert dataset.sample_shape == (6,) and len(dataset) == 150 and not dataset.is_image


def test_no_discrete_columns_draws_uniform_rows():
    matrix = torch.randn(50, 3)
    sampler = ConditionSampler(matrix, [])
    rows, cond = sampler.sample_training(10)
    assert cond.shape == (10, 0) and rows.max() < 50
    assert sampler.sample_conditions(4).shape == (4, 0)
