"""The TimeGAN-protocol scores and the report's figures on cases with known answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ganforge.series import metrics as m

STOCKS = "/work/shared/datasets/stocks/stock_data.csv"


@pytest.fixture(scope="module")
def sines():
    return m.sines(200, seed=0), m.sines(200, seed=1)


def _noise(like, seed=0):
    return np.random.default_rng(seed).uniform(size=like.shape).astype(np.float32)


def test_sines_follow_the_reference_recipe():
    x = m.sines(50, seq_len=24, dim=5, seed=3)
    assert x.shape == (50, 24, 5) and x.min() >= 0 and x.max() <= 1
    # each feature is (sin(f j + p) + 1) / 2 with f, p in [0, 0.1]: recover p and f from the
    # first two steps (still below pi / 2), then the whole window must follow
    phase = np.arcsin(2 * x[:, :1].astype(float) - 1)
    freq = np.arcsin(2 * x[:, 1:2].astype(float) - 1) - phase
    assert (phase > -1e-4).all() and (phase < 0.1 + 1e-4).all()
    assert (freq > -1e-3).all() and (freq < 0.1 + 1e-3).all()
    steps = np.arange(24).reshape(1, 24, 1)
    assert np.allclose(x, (np.sin(freq * steps + phase) + 1) / 2, atol=1e-3)
    assert not np.allclose(m.sines(50, seed=4), x)


def test_stock_windows_keep_the_protocol(tmp_path):
    rows = np.arange(40, dtype=float).reshape(20, 2) * [1, -1]  # newest first
    path = tmp_path / "s.csv"
    np.savetxt(path, rows, delimiter=",", header="a,b", comments="")
    w = m.stock_windows(path, seq_len=5, seed=0)
    assert w.shape == (15, 5, 2)  # starts 0 .. len - T - 1, as the reference cuts them
    assert w.min() >= 0 and w.max() <= 1
    first = w[np.argmin(w[:, 0, 0])]
    assert np.all(np.diff(first[:, 0]) < 0)  # reversed: column a falls in time order
    assert not np.array_equal(w, m.stock_windows(path, seq_len=5, seed=1))  # shuffled by seed


def _short_sines():
    return m.sines(200, seq_len=12, seed=0), m.sines(200, seq_len=12, seed=1)


def test_real_vs_real_is_near_zero():
    real, other = _short_sines()
    assert m.discriminative_score(real, other, iterations=400, batch_size=32, seed=0) < 0.1


def test_real_vs_noise_is_near_half():
    real, _ = _short_sines()
    assert m.discriminative_score(real, _noise(real), iterations=400, batch_size=32, seed=0) > 0.3


def test_predictive_score_of_real_is_below_that_of_noise(sines):
    real, other = sines
    own = m.predictive_score(other, real, iterations=150, batch_size=64, seed=0)
    noise = m.predictive_score(_noise(real), real, iterations=150, batch_size=64, seed=0)
    assert own < noise
    again = m.predictive_score(other, real, iterations=150, batch_size=64, seed=0)
    assert again == own  # seeded


def test_repeated_reports_mean_and_std():
    calls = []

    def score(x, seed):
        calls.append(seed)
        return float(seed)

    out = m.repeated(score, None, fits=3, seed=10)
    assert (
        calls == [10, 11, 12]
        and out["mean"] == 11
        and out["std"] == pytest.approx(np.std([10, 11, 12]))
    )


def test_marginals_correlations_and_privacy(sines):
    real, other = sines
    noise = _noise(real)
    assert max(m.marginal_ks(real, other)) < 0.1 < min(m.marginal_ks(real, noise))
    acf = m.autocorrelation(real)
    assert acf.shape == (5, 12) and (acf[:, 0] > 0.7).all()  # smooth sines
    assert np.abs(m.autocorrelation(noise)[:, 0]).max() < 0.1
    corr = m.cross_correlation(noise)
    assert np.allclose(np.diag(corr), 1) and np.abs(corr - np.eye(5)).max() < 0.05
    copied = m.privacy(real[:100], real[:150], other[:150])
    fresh = m.privacy(other[150:250], real[:150], other[:150])
    assert copied["dcr_ratio"] < 1e-3 and copied["copies"] == 1.0
    assert 0.5 < fresh["dcr_ratio"] < 2 and fresh["copies"] < 0.3


def test_report_cli_writes_html_and_json(tmp_path, capsys):
    from ganforge.cli import main

    rng = np.random.default_rng(0)
    t = np.arange(200)
    for name, shift in (("real", 0.0), ("synth", 0.3)):
        cols = np.stack([np.sin(0.2 * t + shift), np.cos(0.1 * t), rng.normal(size=200)], 1)
        np.savetxt(tmp_path / f"{name}.csv", cols, delimiter=",", header="a,b,c", comments="")
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    code = main(
        [
            "series",
            "report",
            str(tmp_path / "real.csv"),
            str(tmp_path / "synth.csv"),
            "--seq-len",
            "12",
            "-o",
            str(out),
            "--json",
            str(js),
            "--fits",
            "1",
            "--iterations",
            "20",
            "--tsne-windows",
            "20",
        ]
    )
    assert code == 0
    page = out.read_text()
    # marginals, autocorrelation, cross-correlation, PCA, t-SNE
    assert page.count("data:image/png;base64,") == 5 and "discriminative" in page
    result = json.loads(js.read_text())
    assert result["windows"] == {"real": 189, "synthetic": 189} and result["columns"] == [
        "a",
        "b",
        "c",
    ]
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)


def test_report_handles_text_columns_gaps_dates_and_draws_the_privacy_picture(tmp_path, capsys):
    from ganforge.cli import main

    def table(shares, gap, seed):
        r = np.random.default_rng(seed)
        n = 240
        return pd.DataFrame(
            {
                "sequence_id": np.repeat(np.arange(20), 12),
                "step": np.tile(np.arange(12), 20),
                "day": pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"),
                "x": np.where(r.random(n) < gap, np.nan, r.normal(size=n)),
                "state": r.choice(["a", "b"], n, p=shares),
            }
        )

    paths = {}
    for name, shares, gap, seed in (
        ("real", [0.8, 0.2], 0.2, 0),
        ("synth", [0.5, 0.5], 0.0, 1),
        ("hold", [0.8, 0.2], 0.2, 2),
    ):
        paths[name] = tmp_path / f"{name}.csv"
        table(shares, gap, seed).to_csv(paths[name], index=False)
    out, js = tmp_path / "r.html", tmp_path / "r.json"
    argv = ["series", "report", paths["real"], paths["synth"], "--seq-len", "6", "-o", out]
    argv += ["--holdout", paths["hold"], "--json", js, "--fits", "1", "--iterations", "10"]
    assert main([str(a) for a in argv + ["--tsne-windows", "0"]]) == 0
    result = json.loads(js.read_text())
    assert result["columns"] == ["x", "x (missing)", "state=a", "state=b"]  # no date channel
    state, x = result["marginals"]["state"], result["marginals"]["x"]
    assert state["kind"] == "discrete" and abs(state["tvd"] - 0.3) < 0.08
    assert abs(x["missing_real"] - 0.2) < 0.08 and x["missing_synthetic"] == 0
    page = out.read_text()
    assert "Nearest-neighbour distances" in page and page.count("data:image/png;base64,") == 5
    assert "state TVD" in capsys.readouterr().out
