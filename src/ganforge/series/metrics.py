"""How faithful is a synthetic multivariate series? The TimeGAN protocol and the usual pictures.

Everything here works on arrays of windows, shape (N, T, F), scaled to [0, 1] (the TimeGAN
protocol: min-max per column, windows of T steps). The data helpers build the two benchmark sets
as the TimeGAN reference code (jsyoon0823/TimeGAN, data_loading.py) does:

- ``sines``: per window and per feature a frequency and a phase drawn from U(0, 0.1),
  x_j = sin(freq * j + phase), then (x + 1) / 2;
- ``stock_windows``: the GOOG table reversed to chronological order, min-max scaled per column
  (denominator + 1e-7), every window of T steps starting at 0 .. len - T - 1 (the reference's
  ``range(0, len(x) - seq_len)``: the last possible window is left out), shuffled with a seed.

The two post-hoc scores follow the reference's metrics/*.py:

- discriminative: a GRU (hidden = max(1, F // 2)) whose last state feeds a linear logit, trained
  with Adam (lr 1e-3) on batches of 128 real and 128 synthetic windows drawn from 80% of each set
  (2000 iterations); score = |accuracy - 0.5| on the other 20% of both, threshold 0.5;
- predictive: a GRU (hidden = max(1, F // 2)) reading steps 0..T-2 of the first F-1 features and
  predicting, through a linear layer and a sigmoid, the last feature at steps 1..T-1; trained on
  synthetic windows (L1 loss, Adam lr 1e-3, batch 128, 5000 iterations), score = MAE on real windows.

(The stocks README says "2-layer GRU": the reference's network is one GRU layer plus the linear
output layer; this follows the code.) Each score is averaged over k fits with different seeds
(``repeated``: mean and std). Torch on CPU, seeded: the same inputs and seed give the same figure.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from ganforge.errors import GanforgeError

DISCRIMINATIVE_ITERATIONS = 2000  # the reference's (metrics/discriminative_metrics.py)
PREDICTIVE_ITERATIONS = 5000  # the reference's (metrics/predictive_metrics.py)
BATCH_SIZE = 128
FITS = 5  # post-hoc fits per score in the benchmark (mean +- std)


# ---- data ------------------------------------------------------------------------------------


def sines(n: int, seq_len: int = 24, dim: int = 5, seed: int = 0) -> np.ndarray:
    """TimeGAN's sines: (n, seq_len, dim) in [0, 1], frequency and phase ~ U(0, 0.1) each."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0, 0.1, size=(n, 1, dim))
    phase = rng.uniform(0, 0.1, size=(n, 1, dim))
    steps = np.arange(seq_len, dtype=np.float64).reshape(1, seq_len, 1)
    return ((np.sin(freq * steps + phase) + 1) * 0.5).astype(np.float32)


def minmax(values: np.ndarray) -> np.ndarray:
    """Min-max scaling per column as the reference does it (denominator + 1e-7)."""
    low, high = values.min(0), values.max(0)
    return (values - low) / (high - low + 1e-7)


def windows(values: np.ndarray, seq_len: int) -> np.ndarray:
    """Stride-1 windows of a (steps, F) series, starts 0 .. steps - seq_len - 1 (the reference)."""
    count = len(values) - seq_len
    if seq_len < 1 or count < 1:
        raise ValueError(f"{len(values)} steps make no window of {seq_len} (needs more steps)")
    index = np.arange(seq_len)[None, :] + np.arange(count)[:, None]
    return values[index]


def stock_windows(path: str | Path, seq_len: int = 24, seed: int = 0) -> np.ndarray:
    """The TimeGAN stocks protocol on a CSV of numeric columns shipped newest first."""
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    out = windows(minmax(table[::-1]), seq_len)
    return out[np.random.default_rng(seed).permutation(len(out))].astype(np.float32)


# ---- the post-hoc scores ---------------------------------------------------------------------


def _check(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3 or min(x.shape) < 1:
        raise ValueError(f"{name}: windows are (N, T, F), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: windows hold NaN or inf")
    return x


def _gru_head(features: int, hidden: int, out: int = 1):
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(features, hidden, batch_first=True)
            self.head = torch.nn.Linear(hidden, out)

    return Net()


def discriminative_score(
    real: np.ndarray,
    synth: np.ndarray,
    iterations: int = DISCRIMINATIVE_ITERATIONS,
    batch_size: int = BATCH_SIZE,
    seed: int = 0,
) -> float:
    """|accuracy - 0.5| of a post-hoc GRU classifier of real vs synthetic windows (lower is better)."""
    import torch

    real, synth = _check("real", real), _check("synthetic", synth)
    if real.shape[1:] != synth.shape[1:]:
        raise ValueError(f"real windows {real.shape[1:]} vs synthetic {synth.shape[1:]}")
    rng = np.random.default_rng(seed)
    splits = []
    for x in (real, synth):
        order = rng.permutation(len(x))
        cut = max(1, int(len(x) * 0.8))
        splits.append((torch.from_numpy(x[order[:cut]]), torch.from_numpy(x[order[cut:]])))
    (real_train, real_test), (synth_train, synth_test) = splits
    if len(real_test) == 0 or len(synth_test) == 0:
        raise ValueError("too few windows to hold out 20% of each set (needs >= 2 each)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _gru_head(real.shape[2], max(1, real.shape[2] // 2))
        optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
        loss_fn = torch.nn.BCEWithLogitsLoss()

        def logits(x):
            _, last = net.gru(x)
            return net.head(last[-1]).squeeze(1)

        for _ in range(iterations):
            xr = real_train[rng.integers(0, len(real_train), min(batch_size, len(real_train)))]
            xs = synth_train[rng.integers(0, len(synth_train), min(batch_size, len(synth_train)))]
            loss = loss_fn(logits(xr), torch.ones(len(xr))) + loss_fn(
                logits(xs), torch.zeros(len(xs))
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            right = (logits(real_test) > 0).sum() + (logits(synth_test) <= 0).sum()
    accuracy = float(right) / (len(real_test) + len(synth_test))
    return abs(accuracy - 0.5)


def predictive_score(
    train: np.ndarray,
    test: np.ndarray,
    iterations: int = PREDICTIVE_ITERATIONS,
    batch_size: int = BATCH_SIZE,
    seed: int = 0,
) -> float:
    """MAE on `test` (real) windows of a GRU trained on `train` (synthetic) windows to predict the
    last feature one step ahead from the other features (lower is better)."""
    import torch

    train, test = _check("synthetic", train), _check("real", test)
    if train.shape[1:] != test.shape[1:]:
        raise ValueError(f"synthetic windows {train.shape[1:]} vs real {test.shape[1:]}")
    if train.shape[1] < 2 or train.shape[2] < 2:
        raise ValueError("the predictive score needs >= 2 steps and >= 2 features")
    dim = train.shape[2]
    rng = np.random.default_rng(seed)
    train_t, test_t = torch.from_numpy(train), torch.from_numpy(test)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _gru_head(dim - 1, max(1, dim // 2))
        optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)

        def predict(x):
            out, _ = net.gru(x[:, :-1, : dim - 1])
            return torch.sigmoid(net.head(out)).squeeze(2)

        for _ in range(iterations):
            x = train_t[rng.permutation(len(train_t))[:batch_size]]
            loss = (predict(x) - x[:, 1:, dim - 1]).abs().mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        with torch.no_grad():
            return float((predict(test_t) - test_t[:, 1:, dim - 1]).abs().mean())


def repeated(score: Callable[..., float], *arrays, fits: int = FITS, seed: int = 0, **kw) -> dict:
    """`score(*arrays, seed=s)` for k seeds: {"mean", "std", "values"} (std over the fits, ddof 0)."""
    if fits < 1:
        raise ValueError("fits must be >= 1")
    values = [score(*arrays, seed=seed + i, **kw) for i in range(fits)]
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "values": values}


# ---- shapes, correlations, privacy -------------------------------------------------------------


def marginal_ks(real: np.ndarray, synth: np.ndarray) -> list[float]:
    """Two-sample KS statistic per feature over every step's value (0: same marginal)."""
    from scipy.stats import ks_2samp

    real, synth = _check("real", real), _check("synthetic", synth)
    return [
        float(ks_2samp(real[:, :, f].ravel(), synth[:, :, f].ravel()).statistic)
        for f in range(real.shape[2])
    ]


def autocorrelation(x: np.ndarray, max_lag: int | None = None) -> np.ndarray:
    """(F, max_lag) autocorrelation at lags 1..max_lag (default T // 2), each window centred on its
    own mean, pooled over windows; a feature constant within every window gives 0."""
    x = _check("windows", x).astype(np.float64)
    steps = x.shape[1]
    max_lag = max(1, steps // 2) if max_lag is None else max_lag
    if not 1 <= max_lag < steps:
        raise ValueError(f"max_lag must be in 1..{steps - 1}")
    centred = x - x.mean(1, keepdims=True)
    power = (centred**2).sum((0, 1))
    out = np.zeros((x.shape[2], max_lag))
    for lag in range(1, max_lag + 1):
        cross = (centred[:, lag:] * centred[:, :-lag]).sum((0, 1))
        out[:, lag - 1] = np.divide(cross, power, out=np.zeros_like(cross), where=power > 0)
    return out


def cross_correlation(x: np.ndarray) -> np.ndarray:
    """(F, F) Pearson correlation of the features over every step of every window (0 where a
    feature is constant)."""
    flat = _check("windows", x).reshape(-1, x.shape[2]).astype(np.float64)
    centred = flat - flat.mean(0)
    scale = np.sqrt((centred**2).sum(0))
    outer = np.outer(scale, scale)
    corr = np.divide(centred.T @ centred, outer, out=np.zeros((len(scale),) * 2), where=outer > 0)
    return corr


def privacy(synth: np.ndarray, train: np.ndarray, holdout: np.ndarray) -> dict[str, float]:
    """Nearest-neighbour distances of flattened windows: median synthetic-to-train over median
    holdout-to-train ("dcr_ratio": near 1 or above when nothing is copied; near 0 for copies), and
    ganforge.metrics.memorization's per-sample d_train / d_holdout median and share of copies."""
    import torch

    from ganforge.metrics.memorization import memorization, nearest_distances

    flat = [
        torch.from_numpy(_check(n, a).reshape(len(a), -1)).double()
        for n, a in (("synthetic", synth), ("train", train), ("holdout", holdout))
    ]
    s, t, h = flat
    d_synth, d_holdout = nearest_distances(s, t), nearest_distances(h, t)
    out = {
        "synthetic_to_train_median": float(d_synth.quantile(0.5)),
        "holdout_to_train_median": float(d_holdout.quantile(0.5)),
    }
    out["dcr_ratio"] = out["synthetic_to_train_median"] / max(out["holdout_to_train_median"], 1e-12)
    out.update(memorization(s, t, h))
    return out


def evaluate(
    real: np.ndarray,
    synth: np.ndarray,
    holdout: np.ndarray | None = None,
    fits: int = FITS,
    discriminative_iterations: int = DISCRIMINATIVE_ITERATIONS,
    predictive_iterations: int = PREDICTIVE_ITERATIONS,
    seed: int = 0,
) -> dict:
    """Every figure of the report for real vs synthetic windows (JSON-ready)."""
    real, synth = _check("real", real), _check("synthetic", synth)
    if real.shape[1:] != synth.shape[1:]:
        raise ValueError(f"real windows {real.shape[1:]} vs synthetic {synth.shape[1:]}")
    acf_real, acf_synth = autocorrelation(real), autocorrelation(synth)
    corr_real, corr_synth = cross_correlation(real), cross_correlation(synth)
    result = {
        "windows": {"real": len(real), "synthetic": len(synth)},
        "seq_len": real.shape[1],
        "features": real.shape[2],
        "discriminative": repeated(
            discriminative_score,
            real,
            synth,
            fits=fits,
            seed=seed,
            iterations=discriminative_iterations,
        ),
        "marginal_ks": marginal_ks(real, synth),
        "autocorrelation": {"real": acf_real.tolist(), "synthetic": acf_synth.tolist()},
        "autocorrelation_mean_abs_diff": float(np.abs(acf_real - acf_synth).mean()),
        "cross_correlation_mean_abs_diff": float(np.abs(corr_real - corr_synth).mean()),
        "privacy": None if holdout is None else privacy(synth, real, holdout),
    }
    if real.shape[1] >= 2 and real.shape[2] >= 2:
        result["predictive"] = repeated(
            predictive_score, synth, real, fits=fits, seed=seed, iterations=predictive_iterations
        )
        result["predictive_real"] = repeated(
            predictive_score, real, real, fits=fits, seed=seed, iterations=predictive_iterations
        )
    return result


def read_table(path: str | Path, what: str):
    """A CSV as a DataFrame; a missing or unreadable file is one clear line."""
    import pandas as pd

    path = Path(path)
    try:
        return pd.read_csv(path)
    except FileNotFoundError:
        raise GanforgeError(f"no {what} CSV here", str(path), "pass an existing CSV file") from None
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        IsADirectoryError,
    ) as e:
        raise GanforgeError(
            f"the {what} file is not a readable CSV ({type(e).__name__})",
            str(path),
            "pass a comma-separated table with a header row",
        ) from None


def _is_dates(values) -> bool:
    from ganforge.tabular.transformer import datetime_format_of

    return values.dtype == object and datetime_format_of(values) is not None


def table_encoding(data) -> dict:
    """How the real table's columns become window channels: numeric ones min-max scaled by the
    real ranges (a missing value: 0 and a 1 in a "(missing)" channel, when the real table has
    gaps in that column), text and booleans one-hot over the real levels (a level the real
    table lacks: all zeros). Date-like text columns (a time column) are left out."""
    numeric, discrete, dates = {}, {}, []
    for name in data.columns:
        values = data[name]
        if _is_dates(values):
            dates.append(str(name))
        elif values.dtype.kind in "iuf":
            known = values.dropna().to_numpy(np.float64)
            low, high = (float(known.min()), float(known.max())) if len(known) else (0.0, 0.0)
            numeric[str(name)] = [low, high, bool(values.isna().any())]
        else:
            levels = sorted({str(v) for v in values.dropna()})
            discrete[str(name)] = levels + (["(missing)"] if values.isna().any() else [])
    return {"numeric": numeric, "discrete": discrete, "dates": dates}


def encode_table(data, encoding: dict) -> tuple[np.ndarray, list[str]]:
    """(rows, channels) float64 and the channel names, by `table_encoding`'s rules."""
    channels, names = [], []
    for name in [c for c in data.columns if str(c) not in encoding["dates"]]:
        values = data[name]
        if str(name) in encoding["numeric"]:
            low, high, gaps = encoding["numeric"][str(name)]
            x = values.to_numpy(np.float64)
            missing = np.isnan(x)
            scaled = (x - low) / (high - low if high > low else 1.0)
            channels.append(np.where(missing, 0.0, scaled))
            names.append(str(name))
            if gaps:
                channels.append(missing.astype(np.float64))
                names.append(f"{name} (missing)")
        else:
            text = values.map(lambda v: "(missing)" if v != v or v is None else str(v))
            for level in encoding["discrete"][str(name)]:
                channels.append((text == level).to_numpy(np.float64))
                names.append(f"{name}={level}")
    return np.stack(channels, 1), names


def read_windows(path: str | Path, seq_len: int, what: str, scale=None, columns=None):
    """Windows from a CSV: long format (`sequence_id`, `step` columns: windows within each
    sequence, ordered by step) or one long series (row order). Returns (windows, channel names,
    encoding): numeric columns scaled by the real table's ranges, text columns one-hot (see
    `table_encoding`; `scale`: the real table's encoding, None for the real table itself);
    the encoding also holds the columns (which another table must have, in that order) and this
    table (`table`); `columns` is unused (the encoding's are checked)."""
    path = Path(path)
    table = read_table(path, what)
    keyed = "sequence_id" in table.columns
    data = table.drop(columns=[c for c in ("sequence_id", "step") if c in table.columns])
    if data.shape[1] == 0:
        raise GanforgeError(
            f"the {what} CSV has no column to compare", str(path), "pass the sequences' columns"
        )
    if scale is not None and [str(c) for c in data.columns] != scale["columns"]:
        raise GanforgeError(
            f"the {what} CSV's columns {[str(c) for c in data.columns]} differ from the real "
            f"{scale['columns']}",
            str(path),
            "pass a CSV with the real table's columns",
        )
    if scale is None:
        scale = table_encoding(data)
        if not scale["numeric"] and not scale["discrete"]:
            raise GanforgeError(
                f"the {what} CSV has no numeric or text column besides dates", str(path),
                "pass the sequences' columns",
            )  # fmt: skip
    values, _ = encode_table(data, scale)
    if seq_len < 1:
        raise GanforgeError(f"--seq-len must be >= 1 (got {seq_len})", "--seq-len", "e.g. 24")
    width = values.shape[1]
    if keyed:
        order = table.sort_values(
            ["sequence_id", "step"] if "step" in table else ["sequence_id"], kind="stable"
        ).index.to_numpy()
        ids = table["sequence_id"].to_numpy()[order]
        parts, start = [], 0
        for end in [*np.flatnonzero(ids[1:] != ids[:-1]) + 1, len(ids)]:
            segment = values[order[start:end]]
            if len(segment) >= seq_len:
                index = np.arange(seq_len)[None, :] + np.arange(len(segment) - seq_len + 1)[:, None]
                parts.append(segment[index])
            start = end
        found = np.concatenate(parts) if parts else np.zeros((0, seq_len, width))
    else:
        found = np.zeros((0, seq_len, width))
        if len(values) >= seq_len:
            index = np.arange(seq_len)[None, :] + np.arange(len(values) - seq_len + 1)[:, None]
            found = values[index]
    if len(found) < 2:
        raise GanforgeError(
            f"--seq-len {seq_len} is longer than the {what} data allows: {len(found)} window(s) "
            f"of {seq_len} steps, the report needs at least 2",
            str(path),
            "pass a smaller --seq-len or more rows",
        )
    scale = dict(scale, columns=[str(c) for c in data.columns], table=data)
    del columns
    return found.astype(np.float32), encode_table(data.iloc[:1], scale)[1], scale


def column_marginals(real, synth, encoding: dict) -> dict:
    """Per column of the real table: continuous: KS statistic and missing rates; discrete:
    total variation distance of the level shares (0: the same shares) and the shares."""
    from scipy.stats import ks_2samp

    out = {}
    for name in real.columns:
        name = str(name)
        if name in encoding["dates"]:
            continue
        r, s = real[name], synth[name]
        entry = {
            "missing_real": float(r.isna().mean()),
            "missing_synthetic": float(s.isna().mean()),
        }
        if name in encoding["numeric"]:
            a, b = r.dropna().to_numpy(np.float64), s.dropna().to_numpy(np.float64)
            ks = float(ks_2samp(a, b).statistic) if len(a) and len(b) else 1.0
            entry.update(kind="continuous", ks=ks)
        else:
            text_r = r.map(lambda v: "(missing)" if v != v else str(v)).value_counts(normalize=True)
            text_s = s.map(lambda v: "(missing)" if v != v else str(v)).value_counts(normalize=True)
            levels = sorted(set(text_r.index) | set(text_s.index))
            shares = {lv: [float(text_r.get(lv, 0.0)), float(text_s.get(lv, 0.0))] for lv in levels}
            tvd = 0.5 * sum(abs(a - b) for a, b in shares.values())
            entry.update(kind="discrete", tvd=float(tvd), shares=shares)
        out[name] = entry
    return out
