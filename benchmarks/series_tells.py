"""Which window statistics tell synthetic sequences from real ones: a diagnosis beside the
TimeGAN discriminative score (which says *how* separable two sets are, not *why*).

For every feature j of windows (N, steps, F) in [0, 1], per window: the level (mean), the
spread (std), the mean |step increment|, the increments' std and their lag-1 autocorrelation
(a random walk: ~0; white jitter added to a smooth path: -0.5). Each statistic's real and
synthetic distributions are compared by the two-sample Kolmogorov-Smirnov statistic
(scipy.stats.ks_2samp); the largest come first, one line each:

  tell stat="f1 increment lag-1" ks=0.943 real_median=0.114 synth_median=-0.567

    python benchmarks/series_tells.py synth.npy --data stocks     # real: the benchmark's stocks
    python benchmarks/series_tells.py synth.npy --real real.npy --top 10

Both files are .npy arrays (N, steps, F) (benchmarks/series.py's windows; np.load without
pickles).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import ks_2samp


def lag1(x: np.ndarray) -> np.ndarray:
    """Lag-1 autocorrelation of each row of x (N, T); 0 for a constant row."""
    a, b = x[:, :-1] - x[:, :-1].mean(1, keepdims=True), x[:, 1:] - x[:, 1:].mean(1, keepdims=True)
    den = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    return np.where(den > 0, (a * b).sum(1) / np.where(den > 0, den, 1.0), 0.0)


def window_statistics(x: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """name -> one value per window (see the module docstring)."""
    steps = np.diff(x, axis=1)
    out: dict[str, np.ndarray] = {}
    for j, name in enumerate(names):
        out[f"{name} level"] = x[:, :, j].mean(1)
        out[f"{name} spread"] = x[:, :, j].std(1)
        out[f"{name} |increment|"] = np.abs(steps[:, :, j]).mean(1)
        out[f"{name} increment std"] = steps[:, :, j].std(1)
        if steps.shape[1] > 2:
            out[f"{name} increment lag-1"] = lag1(steps[:, :, j])
    return out


def tells(real: np.ndarray, synth: np.ndarray, names: list[str] | None = None) -> list[dict]:
    """Every statistic's KS distance between the two sets, largest first."""
    if real.ndim != 3 or synth.shape[1:] != real.shape[1:]:
        raise ValueError(f"windows must match: real {real.shape}, synthetic {synth.shape}")
    names = names or [f"f{j}" for j in range(real.shape[2])]
    r, s = window_statistics(real, names), window_statistics(synth, names)
    rows = [
        {
            "stat": k,
            "ks": float(ks_2samp(r[k], s[k]).statistic),
            "real_median": float(np.median(r[k])),
            "synth_median": float(np.median(s[k])),
        }
        for k in r
    ]
    return sorted(rows, key=lambda row: -row["ks"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("synth", help="synthetic windows, .npy (N, steps, F)")
    p.add_argument("--real", default=None, help="real windows, .npy (default: --data)")
    p.add_argument("--data", default="stocks", help="benchmarks/series.py's data set")
    p.add_argument("--names", default=None, help="feature names, comma-separated")
    p.add_argument("--top", type=int, default=12)
    a = p.parse_args(argv)
    synth = np.load(a.synth, allow_pickle=False)
    if a.real:
        real = np.load(a.real, allow_pickle=False)
    else:
        sys.path.insert(0, str(Path(__file__).parent))
        from series import real_windows

        real = real_windows(a.data, seq_len=synth.shape[1])
    names = a.names.split(",") if a.names else None
    for row in tells(real, synth, names)[: a.top]:
        print(
            f'tell stat="{row["stat"]}" ks={row["ks"]:.3f} '
            f"real_median={row['real_median']:.4f} synth_median={row['synth_median']:.4f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
