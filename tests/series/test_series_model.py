"""TimeSeriesGAN: learns sines (moments and lag-1 autocorrelation close to the real windows,
which an untrained generator misses), windows and scaling invert exactly, save/load reproduces
samples, and `series fit` / `series sample` take a CSV to a CSV in the input's column order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.series import TimeSeriesGAN
from ganforge.series.data import SeriesEncoder

SMALL = dict(batch_size=64, latent_dim=8, hidden=24, lr_g=3e-3, lr_d=3e-3, verbose=False)


def sines(n: int, steps: int = 24, features: int = 5, seed: int = 0) -> pd.DataFrame:
    """TimeGAN's sines: per sequence and feature a random frequency and phase in [0, 0.1]."""
    rng = np.random.default_rng(seed)
    freq, phase = rng.uniform(0, 0.1, (2, n, 1, features))
    x = np.sin(freq * np.arange(steps)[None, :, None] + phase).reshape(n * steps, features)
    frame = pd.DataFrame(x, columns=[f"f{j}" for j in range(features)])
    frame.insert(0, "id", np.repeat(np.arange(n), steps))
    return frame


def gaps(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    """Mean |real - fake| over features of the mean, the std and the lag-1 autocorrelation."""

    def stats(w):
        a, b = w[:, 1:] - w[:, 1:].mean((0, 1)), w[:, :-1] - w[:, :-1].mean((0, 1))
        lag1 = (a * b).mean((0, 1)) / (a.std((0, 1)) * b.std((0, 1)) + 1e-9)
        return {"mean": w.mean((0, 1)), "std": w.std((0, 1)), "lag1": lag1}

    r, f = stats(real), stats(fake)
    return {k: float(np.abs(r[k] - f[k]).mean()) for k in r}


# What a fit must reach, per architecture (an untrained G: std gap ~0.30, lag-1 gap ~0.97 for
# the mlp, ~0.03 for the gru). The mlp writes each window at once, so its steps start
# uncorrelated and their smoothness is what it learns slowest (800 steps: lag-1 gap ~0.06;
# measured 0.006 / 0.036 / 0.060); the gru's 60 steps reach ~0.01 / ~0.0005.
FITS = {
    "mlp": (dict(SMALL, latent_dim=16, hidden=128, lr_g=2e-3, lr_d=2e-3), 800),
    "gru": (dict(SMALL, arch="gru"), 60),
}
LIMITS = {
    "mlp": {"mean": 0.05, "std": 0.07, "lag1": 0.12},
    "gru": {"mean": 0.05, "std": 0.06, "lag1": 0.012},
}


@pytest.fixture(scope="module")
def data():
    return sines(400)


def _fit(data, arch: str, steps: int | None = None) -> TimeSeriesGAN:
    torch.manual_seed(0)
    settings, default_steps = FITS[arch]
    model = TimeSeriesGAN(max_steps=steps or default_steps, **settings)
    return model.fit(data, seq_len=24, sequence_key="id")


@pytest.fixture(scope="module")
def fitted(data):
    return _fit(data, "mlp")


def _passes(g: dict[str, float], arch: str) -> bool:
    return all(g[k] < LIMITS[arch][k] for k in LIMITS[arch])


@pytest.mark.parametrize("arch", ["mlp", "gru"])
def test_fit_on_sines_reaches_the_real_statistics(data, fitted, arch):
    real = SeriesEncoder().fit(data, 24, "id")[0][..., :5]  # (the 5 features; then the mask)
    model = fitted if arch == "mlp" else _fit(data, arch)
    trained = gaps(real, model.sample_windows(1000, seed=1)[..., :5])
    assert _passes(trained, arch), trained
    before = gaps(real, _fit(data, arch, steps=1).sample_windows(1000, seed=1)[..., :5])
    assert not _passes(before, arch), before  # the thresholds do measure training


def test_save_load_gives_identical_samples(fitted, tmp_path):
    path = fitted.save(tmp_path / "m.gfs")
    loaded = TimeSeriesGAN.load(path)
    a, b = fitted.sample(20, seed=3), loaded.sample(20, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(loaded.sample(20, seed=4))
    assert list(a.columns) == ["sequence_id", "step", "f0", "f1", "f2", "f3", "f4"]
    assert len(a) == 20 * 24 and a["step"].max() == 23 and a["sequence_id"].nunique() == 20


def test_one_long_series_windows_invert_exactly():
    frame = pd.DataFrame({"x": np.arange(30.0) ** 2, "k": np.arange(30) % 4 - 1})
    encoder = SeriesEncoder()
    windows, notes = encoder.fit(frame, 5)
    assert windows.shape == (26, 5, 3) and not notes  # x, k, the mask
    assert windows.min() >= 0 and windows.max() <= 1 and (windows[..., 2] == 1).all()
    back = encoder.decode(windows[:1])
    pd.testing.assert_frame_equal(back[["x", "k"]], frame.iloc[:5].reset_index(drop=True))
    assert back["k"].dtype == frame["k"].dtype
    again = SeriesEncoder.from_dict(encoder.to_dict()).decode(windows[3:4])
    pd.testing.assert_frame_equal(again[["x", "k"]], frame.iloc[3:8].reset_index(drop=True))


def test_short_entities_are_sequences_of_their_own_length_and_gaps_are_kept():
    frame = pd.DataFrame({"id": [0] * 6 + [1] * 3, "x": [1.0, np.nan, 3, 4, 5, 6, 7, 8, 9]})
    encoder = SeriesEncoder()
    windows, _ = encoder.fit(frame, 4, "id")
    assert windows.shape[:2] == (4, 4)  # 3 windows of entity 0, entity 1 (3 rows) padded
    mask = windows[..., encoder.meta["layout"]["features"]]
    assert mask.sum(1).tolist() == [4, 4, 4, 3]
    back = encoder.decode(windows)
    assert back.groupby("sequence_id").size().tolist() == [4, 4, 4, 3]
    assert back["x"].isna().tolist()[:5] == [False, True, False, False, True]  # the gap, twice


def test_sequences_all_shorter_than_seq_len_set_the_window():
    frame = pd.DataFrame({"id": np.repeat(np.arange(4), 5), "x": np.arange(20.0)})
    encoder = SeriesEncoder()
    windows, notes = encoder.fit(frame, 12, "id")
    assert windows.shape[:2] == (4, 5) and (windows[..., 1] == 1).all()  # no padding left
    assert encoder.meta["seq_len"] == 5 and any("at most 5 steps" in n for n in notes)


def test_cli_csv_in_csv_out(tmp_path, capsys):
    frame = sines(30, steps=12, features=2)
    frame["count"] = (frame["f0"] * 10).round().astype("int64") + 10
    frame.to_csv(tmp_path / "in.csv", index=False)
    model, out = tmp_path / "m.gfs", tmp_path / "synth.csv"
    flags = ["--seq-len", "12", "--sequence-key", "id", "--epochs", "2", "--hidden", "8"]
    assert (
        main(["series", "fit", str(tmp_path / "in.csv"), "-o", str(model), *flags, "--quiet"]) == 0
    )
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(model)
    assert main(["series", "sample", str(model), "-n", "7", "-o", str(out)]) == 0
    synth = pd.read_csv(out)
    assert list(synth.columns) == ["sequence_id", "step", "f0", "f1", "count"]
    assert len(synth) == 7 * 12 and synth["count"].dtype == np.int64
    assert synth["count"].between(frame["count"].min(), frame["count"].max()).all()
    again = tmp_path / "again.csv"
    assert main(["series", "sample", str(model), "-n", "7", "-o", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()  # --seed 0 by default: the same sequences


def test_fit_keeps_a_run_that_resumes(data, tmp_path):
    run = tmp_path / "run"
    TimeSeriesGAN(max_steps=4, **SMALL).fit(data, 24, "id", run_dir=run)
    assert (run / "checkpoints" / "last.pt").is_file()
    with pytest.raises(GanforgeError, match="already holds a fit"):
        TimeSeriesGAN(max_steps=4, **SMALL).fit(data, 24, "id", run_dir=run)
    more = TimeSeriesGAN(max_steps=6, **SMALL).fit(data, 24, "id", run_dir=run, resume=True)
    assert more.summary["steps"] == 6


def test_the_default_length_follows_the_number_of_windows():
    from ganforge.series.model import DEFAULT_EPOCHS, STEP_BOUNDS, default_steps

    assert (DEFAULT_EPOCHS, STEP_BOUNDS) == (325, (6_000, 20_000))
    assert default_steps(3661, 128) == 325 * 29  # stocks: 29 batches a pass
    assert default_steps(100, 128) == 6_000  # a small set still gets thousands of steps
    assert default_steps(4_000, 128) == 10_400 and default_steps(10_000, 128) == 20_000
    assert TimeSeriesGAN(verbose=False)._config(300).train.steps == 6_000  # the model uses it
    assert TimeSeriesGAN(epochs=3, batch_size=100)._config(300).train.steps == 9


def test_the_ema_recipe_is_not_stopped_by_the_live_discriminator_winning():
    # the EMA's samples do not follow the live D's accuracy (see TimeSeriesGAN._config)
    train = TimeSeriesGAN(verbose=False)._config(300).train
    assert train.divergence_window == 0 and train.collapse_ratio == 0.0
    assert TimeSeriesGAN(arch="gru", verbose=False)._config(300).train.divergence_window == 1000
