"""Mixed per-step columns, missing values, static attributes and --where, a time column's
cadence and variable-length sequences: each learned (or kept) by a short fit, and measured
against what an untrained generator gives where the property is learned."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganforge.series import TimeSeriesGAN

SMALL = dict(batch_size=64, latent_dim=8, hidden=24, lr_g=3e-3, lr_d=3e-3, verbose=False)
SHARES = {"a": 0.7, "b": 0.2, "c": 0.1}
REGIONS = {"north": 0.5, "south": 0.3, "east": 0.2}
MISSING = 0.25


def entities(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """n entities of 3..12 daily steps (half of them 12): a static region and size, a float with gaps, a count,
    a skewed category."""
    rng = np.random.default_rng(seed)
    frames = []
    for e in range(n):
        length = 12 if rng.random() < 0.5 else int(rng.integers(3, 12))
        t = np.arange(length)
        start = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 60)))
        x = np.sin(t / 3 + rng.uniform(0, 6))
        x[rng.random(length) < MISSING] = np.nan
        frames.append(
            pd.DataFrame(
                {
                    "id": f"e{e}",
                    "date": (start + pd.to_timedelta(t, "D")).strftime("%Y-%m-%d"),
                    "region": rng.choice(list(REGIONS), p=list(REGIONS.values())),
                    "x": x,
                    "count": rng.integers(0, 20, length),
                    "state": rng.choice(list(SHARES), length, p=list(SHARES.values())),
                    "size": np.round(rng.uniform(1, 5), 2),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def data():
    return entities()


def _fit(data, steps):
    model = TimeSeriesGAN(max_steps=steps, **SMALL)
    return model.fit(data, seq_len=12, sequence_key="id", time_column="date")


@pytest.fixture(scope="module")
def fitted(data):
    return _fit(data, 60)


def _lengths(frame: pd.DataFrame) -> pd.Series:
    return frame.groupby("sequence_id").size()


def _gaps(real: pd.DataFrame, synth: pd.DataFrame) -> dict[str, float]:
    shares = synth["state"].value_counts(normalize=True)
    regions = synth.groupby("sequence_id")["region"].first().value_counts(normalize=True)
    return {
        "state": max(abs(shares.get(k, 0) - v) for k, v in SHARES.items()),
        "missing": abs(synth["x"].isna().mean() - real["x"].isna().mean()),
        "region": max(abs(regions.get(k, 0) - v) for k, v in REGIONS.items()),
        "length": abs(_lengths(synth).mean() - real.groupby("id").size().mean()),
    }


LIMITS = {"state": 0.06, "missing": 0.04, "region": 0.06, "length": 0.6}


def test_decisions_name_every_kind_of_column(fitted):
    text = "\n".join(fitted.decisions)
    for expected in (
        "per-step x: continuous",
        "per-step count: continuous (int",
        "per-step state: discrete",
        "static region: discrete",
        "static size: continuous",
        "time date: datetime, cadence 1 days",
        "lengths 3..12",
    ):
        assert expected in text, text


def test_level_shares_missing_rate_regions_and_lengths_match_the_data(data, fitted):
    # (the generator starts at the data's marginals; training must keep them: with the
    # supervised loss on one-hots the state shares drifted 0.14 off in 60 steps)
    gaps = _gaps(data, fitted.sample(600, seed=1))
    assert all(gaps[k] < LIMITS[k] for k in LIMITS), gaps
    assert _lengths(fitted.sample(600, seed=1)).std() > 2  # varied, as the data's (3.2)


def test_columns_dtypes_static_attributes_time_and_lengths(data, fitted):
    synth = fitted.sample(200, seed=2)
    assert list(synth.columns) == ["sequence_id", "step", *[c for c in data.columns if c != "id"]]
    assert synth["count"].dtype == data["count"].dtype
    assert synth["count"].between(data["count"].min(), data["count"].max()).all()
    per_sequence = synth.groupby("sequence_id")
    assert (per_sequence["region"].nunique() == 1).all() and (
        per_sequence["size"].nunique() == 1
    ).all()
    assert set(synth["region"]) <= set(REGIONS)
    dates = pd.to_datetime(synth["date"], format="%Y-%m-%d")
    steps = dates.groupby(synth["sequence_id"]).diff().dropna()
    assert (steps == pd.Timedelta(days=1)).all()  # the input's cadence in every sequence
    assert dates.min() >= pd.Timestamp("2023-12-01") and dates.max() <= pd.Timestamp("2024-04-01")
    lengths = _lengths(synth)
    assert lengths.min() >= 2 and lengths.max() <= 12 and lengths.nunique() >= 4
    steps_ok = per_sequence["step"].apply(lambda s: list(s) == list(range(len(s))))
    assert steps_ok.all()


def test_conditions_hold_in_every_sequence(fitted):
    synth = fitted.sample(50, conditions={"region": "east"}, seed=3)
    assert synth["sequence_id"].nunique() == 50 and (synth["region"] == "east").all()
    with pytest.raises(Exception, match="changes within sequences"):
        fitted.sample(5, conditions={"state": "a"})
    with pytest.raises(Exception, match="no such value"):
        fitted.sample(5, conditions={"region": "west"})


def test_unsorted_time_is_sorted_with_a_warning():
    frame = pd.DataFrame({"t": [3, 1, 2, 4, 5, 6], "x": [30.0, 10, 20, 40, 50, 60]})
    model = TimeSeriesGAN(max_steps=1, **SMALL)
    with pytest.warns(UserWarning, match="not in 't' order: sorted"):
        model.fit(frame, seq_len=3, time_column="t")
    first = model.encoder.meta
    assert first["time"]["cadence"] == 1 and first["windows"] == 4
    synth = model.sample(3)
    assert (synth.groupby("sequence_id")["t"].diff().dropna() == 1).all()
    assert synth["t"].dtype == np.int64


def test_cli_prints_decisions_and_samples_where(tmp_path, capsys):
    from ganforge.cli import main

    frame = entities(40, seed=1)
    frame["level"] = frame["count"] % 3  # numbers learned as categories when declared
    frame.to_csv(tmp_path / "in.csv", index=False)
    model, out = tmp_path / "m.gfs", tmp_path / "s.csv"
    flags = ["--seq-len", "12", "--sequence-key", "id", "--time-column", "date"]
    code = main(
        ["series", "fit", str(tmp_path / "in.csv"), "-o", str(model), *flags]
        + ["--discrete", "level", "--epochs", "1", "--hidden", "8", "--quiet"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "ganforge: per-step level: discrete (int, 3 levels)" in printed
    assert "ganforge: static region: discrete" in printed and "cadence 1 days" in printed
    assert (
        main(["series", "sample", str(model), "-n", "9", "-o", str(out), "--where", "region=south"])
        == 0
    )
    synth = pd.read_csv(out)
    assert synth["sequence_id"].nunique() == 9 and (synth["region"] == "south").all()
    assert set(synth["level"]) <= {0, 1, 2} and synth["level"].dtype == np.int64


def test_resume_with_attributes_and_categories_is_bit_exact(tmp_path):
    import torch

    data = entities(40, seed=2)

    def fit(steps, run, resume=False):
        model = TimeSeriesGAN(max_steps=steps, **dict(SMALL, batch_size=16))
        return model.fit(data, 12, "id", run_dir=run, resume=resume, time_column="date")

    straight = fit(6, tmp_path / "a")
    fit(3, tmp_path / "b")
    resumed = fit(6, tmp_path / "b", resume=True)
    a, b = straight.generator.state_dict(), resumed.generator.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    pd.testing.assert_frame_equal(straight.sample(20, seed=5), resumed.sample(20, seed=5))
