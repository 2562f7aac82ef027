"""benchmarks/series.py's own pieces, without the peers: the data sets it scores, the windows'
round trip through the long tables the models take, the balanced real subset, the result line
and the line of a peer that is missing (no torch, no training: well under a second)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_series", ROOT / "benchmarks/series.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sines_are_timegans(bench):
    x = bench.real_windows("sines", seq_len=24, n=300, seed=1)
    assert x.shape == (300, 24, 5) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1
    # each window and feature is one sine: frequency and phase in [0, 0.1], so it starts near
    # (sin(phase) + 1) / 2 in [0.5, 0.55] and its steps differ by at most ~0.05
    assert np.all(np.abs(x[:, 0] - 0.525) <= 0.026)
    assert np.abs(np.diff(x, axis=1)).max() <= 0.051
    assert np.std(x[:, -1]) > 0.1  # random frequencies: the windows differ
    assert not np.allclose(x, bench.real_windows("sines", seq_len=24, n=300, seed=2))
    np.testing.assert_array_equal(x, bench.real_windows("sines", seq_len=24, n=300, seed=1))


@pytest.mark.skipif(
    not (ROOT.parent / "shared" / "datasets" / "stocks" / "stock_data.csv").exists(),
    reason="the TimeGAN stock series is not beside the clone (../shared/datasets/stocks)",
)
def test_stocks_follow_the_protocol(bench):
    x = bench.real_windows("stocks", seq_len=24)
    assert x.shape == (3685 - 24, 24, 6)
    assert x.min() >= 0 and x.max() <= 1 and x.max() > 0.99
    with pytest.raises(ValueError, match="unknown data set"):
        bench.real_windows("weather")


def test_windows_round_trip_through_a_long_table(bench):
    x = np.random.default_rng(0).random((7, 24, 3)).astype(np.float32)
    frame = bench.long_frame(x)
    assert list(frame.columns) == ["id", "f0", "f1", "f2"] and len(frame) == 7 * 24
    shuffled = frame.iloc[np.random.default_rng(1).permutation(len(frame))]
    ordered = shuffled.sort_index()  # what a sampler returns: rows of a sequence in step order
    np.testing.assert_array_equal(bench.frame_windows(ordered, "id", ["f0", "f1", "f2"], 24), x)
    with pytest.raises(ValueError, match="lengths"):
        bench.frame_windows(frame.iloc[:-1], "id", ["f0", "f1", "f2"], 24)


def test_balanced_subsets_real_only_when_fewer_were_sampled(bench):
    real = np.arange(100, dtype=np.float32).reshape(100, 1, 1)
    assert bench.balanced(real, real[:100], seed=0) is real
    part = bench.balanced(real, real[:30], seed=0)
    assert len(part) == 30 and len(np.unique(part)) == 30


def test_lines_keep_their_columns(bench):
    result = {
        "disc": {"mean": 0.0812, "std": 0.0101},
        "pred": {"mean": 0.03951, "std": 0.00023},
        "fit_s": 123.45,
        "sample_s": 0.61,
        "peak_mb": 512.4,
        "sampled": 3661,
    }
    a = bench.line("stocks", "ganforge", result)
    b = bench.line("sines", "par", dict(result, fit_s=3.0, peak_mb=90.0, sampled=1000))
    assert a == (
        "stocks  ganforge  disc 0.081 +- 0.010  pred 0.0395 +- 0.0002  fit  123.5 s  "
        "sample    0.6 s  peak   512 MB  (3661 windows)"
    )
    assert [i for i, c in enumerate(a) if c == "|" or a[i : i + 4] in ("disc", "pred", "fit ")] == [
        i for i, c in enumerate(b) if c == "|" or b[i : i + 4] in ("disc", "pred", "fit ")
    ]
    real = bench.line("stocks", "real", {"pred": result["pred"], "windows": 3661})
    assert real.index("pred") == a.index("pred") and "disc -" in real


def test_a_missing_peer_gives_its_reason(bench, tmp_path):
    args = type("Args", (), {"budget_s": 1, "sample_budget_s": 1, "threads": 1, "seed": 0})()
    none = bench.run_worker(None, "dgan", tmp_path / "x.npy", tmp_path / "y.npy", args)
    assert none == {"error": none["error"]} and "--peers-python" in none["error"]
    gone = bench.run_worker(
        str(tmp_path / "nope/python"), "par", tmp_path / "x.npy", tmp_path / "y", args
    )
    assert "does not exist" in gone["error"] and "nope/python" in gone["error"]
    assert bench.line("sines", "dgan", none).startswith(
        "sines   dgan      not run: no --peers-python"
    )


@pytest.fixture(scope="module")
def bach():
    spec = importlib.util.spec_from_file_location("bach", ROOT / "benchmarks/bach_chorales.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_notes_become_playable(bach):
    """Generated rows -> MIDI-ready notes: integer pitch in 0..127, durations snapped to the
    chorales' own values, onsets laid end to end."""
    import pandas as pd

    seq = pd.DataFrame(
        {"pitch": [60.4, 61.6, 130.0, -3.0], "duration": [0.9, 0.3, 1.7, 0.01], "offset": 0.0}
    )
    notes = bach.as_notes(seq, np.array([0.5, 1.0, 2.0]))
    assert notes["pitch"].tolist() == [60, 62, 127, 0]
    assert notes["duration"].tolist() == [1.0, 0.5, 2.0, 0.5]
    assert notes["onset"].tolist() == [0.0, 1.0, 1.5, 3.5]
