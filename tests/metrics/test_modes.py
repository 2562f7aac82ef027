"""Mode coverage and balance (metrics/modes.py): toy mixtures and StackedMNIST's 1,000 modes,
checked against scipy's KL and constructed sample sets of known shares."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from ganforge.data.toys import GRID_STD, RING_STD, grid_centers, ring_centers
from ganforge.metrics.modes import balance, mode_coverage, stacked_modes_of_digits


def test_balance_matches_scipy_kl_and_the_half_share_rule():
    counts = np.array([50, 30, 10, 5, 5, 0, 0, 0])
    got = balance(counts)
    p = counts / counts.sum()
    assert got["shares"] == pytest.approx(p.tolist())
    assert got["mode_kl"] == pytest.approx(entropy(p, np.full(8, 1 / 8)))
    assert got["modes_under_half"] == int((p < 0.5 / 8).sum()) == 5
    assert balance(np.full(25, 7))["mode_kl"] == pytest.approx(0.0, abs=1e-12)
    assert balance([0, 0, 9])["mode_kl"] == pytest.approx(math.log(3))


@pytest.mark.parametrize("toy", ["ring", "grid"])
def test_toy_shares_of_a_constructed_sample_set(toy):
    centers, std = (ring_centers(), RING_STD) if toy == "ring" else (grid_centers(), GRID_STD)
    k = len(centers)
    g = torch.Generator().manual_seed(0)
    counts = torch.randint(5, 200, (k,), generator=g)
    counts[1] = 2  # one starved mode, as the ring run of the issue
    points = torch.cat(
        [centers[i] + std * 0.5 * torch.randn(int(c), 2, generator=g) for i, c in enumerate(counts)]
    )
    far = centers[0] + torch.tensor([[0.0, 0.5]]).repeat(40, 1)  # off every mode: not counted
    got = mode_coverage(torch.cat([points, far]), centers, std)
    p = counts.double() / counts.sum()
    assert got["counts"] == counts.tolist()
    assert got["shares"] == pytest.approx(p.tolist())
    assert got["mode_kl"] == pytest.approx(float(entropy(p.numpy(), np.full(k, 1 / k))))
    assert got["modes_under_half"] == int((p < 0.5 / k).sum()) >= 1
    assert got["high_quality"] == pytest.approx(len(points) / (len(points) + 40))


def test_stacked_modes_of_known_digit_triples():
    every = torch.tensor([[m // 100, m // 10 % 10, m % 10] for m in range(1000)])
    got = stacked_modes_of_digits(every.repeat(3, 1))
    assert (got["modes"], got["modes_under_half"]) == (1000, 0)
    assert got["mode_kl"] == pytest.approx(0.0, abs=1e-12)
    one = stacked_modes_of_digits(torch.tensor([[3, 1, 4]]).repeat(50, 1))
    assert one["modes"] == 1 and one["mode_kl"] == pytest.approx(math.log(1000))
    assert one["counts"][314] == 50
    half = stacked_modes_of_digits(every[::2])  # even modes only, once each
    assert half["modes"] == 500 and half["mode_kl"] == pytest.approx(math.log(2))
    assert half["modes_under_half"] == 500


def test_stacked_kl_splits_into_channel_kls_and_dependence():
    g = torch.Generator().manual_seed(0)
    n = 20000
    # R unbalanced (digit 0 twice as likely), G and B uniform and independent of it
    red = torch.multinomial(torch.tensor([2.0] + [1.0] * 9), n, replacement=True, generator=g)
    free = torch.stack([red, *torch.randint(0, 10, (2, n), generator=g)], 1)
    got = stacked_modes_of_digits(free)
    shares = np.bincount(red.numpy(), minlength=10) / n
    assert got["channel_kl"][0] == pytest.approx(float(entropy(shares, np.full(10, 0.1))))
    assert got["channel_kl"][0] > 0.02 > max(got["channel_kl"][1:])
    assert sum(got["channel_kl"]) + got["dependence_kl"] == pytest.approx(got["mode_kl"])
    # G a copy of R: every channel balanced alone, the triples far from uniform
    tied = torch.stack([free[:, 1], free[:, 1], free[:, 2]], 1)
    got = stacked_modes_of_digits(tied)
    assert max(got["channel_kl"]) < 0.005
    assert got["dependence_kl"] == pytest.approx(math.log(10), abs=0.03)


def test_real_stacked_digits_cover_their_modes_and_one_triple_covers_one(mnist_mini, monkeypatch):
    from ganforge.data import load_dataset
    from ganforge.metrics import evaluate, modes

    data = load_dataset("stacked-mnist", resolution=28, limit=300)
    result = evaluate(data.data, metrics="stacked-modes", n=300)
    true = torch.unique(data.labels).numel()
    # The classifier reads each channel alone: its few errors move a triple, rarely a count.
    assert abs(result["modes"] - true) <= 6, (result["modes"], true)
    counts = np.bincount(data.labels.numpy(), minlength=1000)
    assert result["mode_kl"] == pytest.approx(entropy(counts / 300, np.full(1000, 1e-3)), rel=0.05)
    assert result["protocol"]["stacked_samples"] == 300
    assert "reference" not in result["protocol"]  # no reference features were computed

    def one_triple(batch_size: int) -> torch.Tensor:  # a generator collapsed to one image
        return data.to_model_range(data.data[:1]).repeat(batch_size, 1, 1, 1)

    assert modes.STACKED_SAMPLES == 26_000  # the protocol's; a generator is drawn that often
    monkeypatch.setattr(modes, "STACKED_SAMPLES", 120)  # (26,000 take ~30 s here)
    collapsed = evaluate(one_triple, metrics="stacked-modes", n=10)
    assert collapsed["modes"] == 1 and collapsed["modes_under_half"] == 999
    # one triple: all of log(1,000) is the channels' own imbalance, none their dependence
    assert collapsed["digit_kl"] == pytest.approx(3 * math.log(10))
    assert collapsed["dependence_kl"] == pytest.approx(0.0, abs=1e-9)
    assert collapsed["protocol"]["stacked_samples"] == 120


def test_eval_every_and_eval_report_stacked_modes(mnist_mini, tmp_path, capsys, monkeypatch):
    import json

    from ganforge.metrics import modes
    from tests.cli_helpers import run_cli, train_tiny

    monkeypatch.setattr(modes, "STACKED_SAMPLES", 100)
    stacked = ["--data", "stacked-mnist", "--limit", 64, "--resolution", 16]
    code, _, err = train_tiny(
        capsys,
        tmp_path,
        *stacked,
        "--eval-every",
        2,
        "--eval-metrics",
        "stacked-modes,fid",
        "--eval-n",
        40,
        "--name",
        "s",
    )
    assert code == 0, err
    entries = [json.loads(x) for x in (tmp_path / "s" / "metrics.jsonl").read_text().splitlines()]
    evals = [e for e in entries if e.get("kind") == "eval"]
    assert [e["step"] for e in evals] == [2, 4]
    assert all(1 <= e["modes"] <= 100 and e["mode_kl"] > 0 and "fid" in e for e in evals)
    assert "mode_kl=" in err and "modes=" in err
    code, out, err = run_cli(
        capsys, "eval", tmp_path / "s", "-n", 40, "--json", tmp_path / "r.json"
    )
    assert code == 0, err
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["protocol"]["stacked_samples"] == 100 and "fid" in result  # modes + defaults
    assert f"{result['modes']:>10.4f}" in out + err and "of 1,000" in out + err


def test_eval_of_a_toy_run_reports_each_mode_share(tmp_path, capsys):
    import json

    from tests.cli_helpers import run_cli

    toy = ["--data", "ring", "--arch", "mlp", "--latent-dim", 4, "--g-width", 16, "--d-width", 16]
    code, _, err = run_cli(
        capsys,
        "train",
        *toy,
        "--steps",
        4,
        "--log-every",
        2,
        "--no-tensorboard",
        "--quiet",
        "--out",
        tmp_path,
        "--name",
        "ring",
    )
    assert code == 0, err
    code, out, err = run_cli(
        capsys, "eval", tmp_path / "ring", "-n", 500, "--json", tmp_path / "r.json"
    )
    assert code == 0, err
    result = json.loads((tmp_path / "r.json").read_text())
    expected = balance(result["counts"])
    assert result["shares"] == pytest.approx(expected["shares"])
    assert result["mode_kl"] == pytest.approx(expected["mode_kl"])
    assert result["modes_under_half"] == expected["modes_under_half"]
    assert f"modes_under_half {result['modes_under_half']}" in out + err
    assert "shares" in out + err and result["protocol"]["n_fake"] == 500
