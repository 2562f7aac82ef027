"""Tables to matrices and back: mode-specific normalisation (Xu et al. 2019, CTGAN, section 4.2).

A continuous column becomes a scalar alpha in [-1, 1] plus a one-hot mode of a Gaussian mixture
fit to it (a variational Bayesian mixture, as CTGAN's); a discrete column becomes a one-hot of
its levels. Missing values are one more mode (continuous) or one more level (discrete), so the
model learns and reproduces them at their rate. `inverse_transform` restores the original column
order, dtypes, integer-ness, decimals, value ranges and date formats.

Speed (CTGAN spends most of its fit time here): the mixture of a column is fit on a random subsample
of at most `mixture_rows` standardised values, and the mode assignment of every row is one
vectorised posterior computation, not a per-row call.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ganforge.errors import GanforgeError

MISSING = None  # how a missing level is stored in a category list (plain type: weights_only-safe)


@dataclass
class Column:
    """What the transformer knows about one column (plain types only: it is saved in the model)."""

    name: str
    kind: str  # continuous | discrete | constant
    dtype: str  # int | float | bool | datetime | string  (the logical type restored on output)
    pandas_dtype: str  # the input's dtype, restored where possible
    missing_rate: float = 0.0
    # continuous
    lo: float = 0.0
    hi: float = 0.0
    decimals: int = -1  # round outputs to this many decimals (-1: no rounding)
    means: list[float] = field(default_factory=list)
    stds: list[float] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    # values held by >= spike_share of the rows (e.g. capital-gain's 0 on 92% of Adult): modes of
    # their own, reproduced exactly instead of as a narrow Gaussian that rounding smears
    spikes: list[float] = field(default_factory=list)
    datetime_format: str = ""  # strftime format of date strings ("": was a datetime64 column)
    datetime_unit: str = ""  # D (dates) or s: outputs are rounded to it
    # discrete
    categories: list[Any] = field(default_factory=list)  # levels; None is "missing"
    counts: list[int] = field(default_factory=list)  # rows per level (the last: the rare group)
    rare_values: list[Any] = field(default_factory=list)  # levels grouped into the last slot
    rare_counts: list[int] = field(default_factory=list)
    # constant
    value: Any = None

    @property
    def width(self) -> int:
        """Width of this column's block in the matrix."""
        if self.kind == "continuous":
            return 1 + self.n_modes
        if self.kind == "discrete":
            return len(self.categories) + (1 if self.rare_values else 0)
        return 0

    @property
    def n_modes(self) -> int:
        """Mixture modes, then one per spike, then one for missing values if the column has any."""
        return len(self.means) + len(self.spikes) + (1 if self.missing_rate > 0 else 0)

    @property
    def levels(self) -> list[Any]:
        """The one-hot slots of a discrete column (the rare group is the string '(other)')."""
        return list(self.categories) + (["(other)"] if self.rare_values else [])


def _is_bool_like(series: pd.Series) -> bool:
    if series.dtype == bool or str(series.dtype) == "boolean":
        return True
    return series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "boolean"


def _datetime_format(series: pd.Series) -> str | None:
    """The strftime format every value of a text column parses with, or None (not dates)."""
    from pandas.tseries.api import guess_datetime_format

    values = series.dropna()
    if values.empty or pd.api.types.infer_dtype(values, skipna=True) != "string":
        return None
    fmt = guess_datetime_format(str(values.iloc[0]))
    if fmt is None:
        return None
    parsed = pd.to_datetime(values, format=fmt, errors="coerce")
    return fmt if parsed.notna().all() else None


def _integral(values: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def _decimals(values: np.ndarray) -> int:
    """Fewest decimals (0..6) that represent every value; -1 when none do."""
    sample = values[:20000]
    for d in range(7):
        scaled = sample * 10.0**d
        if np.all(np.abs(scaled - np.round(scaled)) < 1e-6 * np.maximum(1.0, np.abs(scaled))):
            return d
    return -1


def _plain(value: Any) -> Any:
    """A numpy/pandas scalar as a plain Python value (None for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return str(value)
    return value


class TableTransformer:
    """Fit on a DataFrame; `transform` -> float32 matrix, `inverse_transform` -> DataFrame."""

    def __init__(
        self,
        max_modes: int = 10,
        weight_threshold: float = 0.005,
        mixture_rows: int = 10000,
        max_categories: int = 100,
        discrete_threshold: int = 10,
        seed: int = 0,
        spike_share: float = 0.1,
    ):
        self.max_modes = max_modes
        self.spike_share = spike_share
        self.weight_threshold = weight_threshold
        self.mixture_rows = mixture_rows
        self.max_categories = max_categories
        self.discrete_threshold = discrete_threshold
        self.seed = seed
        self.columns: list[Column] = []
        self.decisions: list[str] = []
        self.warnings: list[str] = []  # things the user should know (rare levels grouped)

    # ---- fitting -----------------------------------------------------------------------------
    def fit(
        self,
        frame: pd.DataFrame,
        discrete_columns: list[str] | None = None,
        public: dict[str, dict] | None = None,
    ) -> TableTransformer:
        """Learn every column's type and encoding.

        `discrete_columns`: the columns to one-hot (None: decided per column and recorded in
        `decisions`). `public`: per-column public metadata ({"categories": [...]} or
        {"min": a, "max": b}) used instead of the data, so the preprocessing reads nothing private.
        """
        if frame.shape[1] == 0:
            raise GanforgeError("the table has no columns")
        if len(frame) == 0:
            raise GanforgeError("the table has no rows")
        names = [str(c) for c in frame.columns]
        if discrete_columns is not None:
            unknown = [c for c in discrete_columns if c not in names]
            if unknown:
                raise GanforgeError(
                    f"discrete column(s) {', '.join(map(repr, unknown))} not in the table",
                    fix=f"columns are: {', '.join(names)}",
                )
        public = public or {}
        strangers = [c for c in public if c not in names]
        if strangers:
            raise GanforgeError(
                f"public metadata names column(s) not in the table: {', '.join(strangers)}"
            )
        rng = np.random.default_rng(self.seed)
        self.columns, self.decisions, self.warnings = [], [], []
        for name, original in zip(names, frame.columns, strict=True):
            series = frame[original]
            forced = None if discrete_columns is None else name in discrete_columns
            column = self._fit_column(name, series, forced, public.get(name), rng)
            self.columns.append(column)
            self.decisions.append(describe_column(column))
        return self

    def _fit_column(
        self, name: str, series: pd.Series, forced: bool | None, public: dict | None, rng
    ) -> Column:
        missing = series.isna()
        if missing.all():
            raise GanforgeError(
                f"column {name!r} has no values (all {len(series)} missing)",
                fix="drop the column or fill it",
            )
        rate = float(missing.mean())
        values = series[~missing]
        pandas_dtype = str(series.dtype)
        dtype, numeric = self._logical_type(series, values)
        column = Column(name, "discrete", dtype, pandas_dtype, rate)
        if dtype == "datetime" and pandas_dtype.startswith("datetime64"):
            column.datetime_format = ""
        elif dtype == "datetime":
            column.datetime_format = _datetime_format(series) or ""
        if public is None and values.nunique() == 1 and rate == 0 and forced is None:
            column.kind, column.value = "constant", _plain(values.iloc[0])
            return column
        if public is not None and "categories" in public:
            discrete = True
        elif public is not None:
            discrete = False
        elif forced is not None:
            discrete = forced or numeric is None  # unlisted text is still discrete
        else:
            discrete = numeric is None or (
                dtype in ("int", "bool") and values.nunique() <= self.discrete_threshold
            )
        if discrete:
            self._fit_discrete(column, series, public)
        else:
            column.kind = "continuous"
            self._fit_continuous(column, numeric, public, rng)
        return column

    def _logical_type(self, series: pd.Series, values: pd.Series) -> tuple[str, np.ndarray | None]:
        """(dtype name, the non-missing values as float64 or None for text)."""
        if _is_bool_like(series):
            return "bool", None
        if pd.api.types.is_datetime64_any_dtype(series):
            return "datetime", _datetime_numbers(values)
        if pd.api.types.is_numeric_dtype(series):
            numbers = values.to_numpy(dtype=np.float64)
            if pd.api.types.is_integer_dtype(series):
                return "int", numbers
            # pandas reads an integer column with gaps as float: integral + missing -> int
            if series.isna().any() and _integral(numbers):
                return "int", numbers
            return "float", numbers
        fmt = _datetime_format(series)
        if fmt is not None:
            parsed = pd.to_datetime(values, format=fmt)
            return "datetime", _datetime_numbers(parsed)
        return "string", None

    def _fit_discrete(self, column: Column, series: pd.Series, public: dict | None) -> None:
        column.kind = "discrete"
        counts = series.map(_plain).value_counts(dropna=False)
        levels = [_plain(v) for v in counts.index]
        numbers = [int(c) for c in counts.to_numpy()]
        if public is not None and "categories" in public:
            known = [_plain(v) for v in public["categories"]]
            if column.missing_rate > 0 and None not in known:
                known.append(None)  # that a column has gaps is treated as part of its schema
            column.categories, column.counts = known, [1] * len(known)  # counts: no data read
            return
        if len(levels) > self.max_categories:
            keep = self.max_categories - 1
            column.rare_values, column.rare_counts = levels[keep:], numbers[keep:]
            levels, numbers = levels[:keep], numbers[:keep]
            self.warnings.append(
                f"column {column.name!r} has {keep + len(column.rare_values)} levels: the "
                f"{len(column.rare_values)} rarest ({sum(column.rare_counts)} rows) are grouped "
                "into one level, sampled back by their frequencies"
            )
            numbers.append(sum(column.rare_counts))
        column.categories, column.counts = levels, numbers

    def _fit_continuous(self, column: Column, numbers, public: dict | None, rng) -> None:
        if public is not None:
            lo, hi = (_public_number(column, public, key) for key in ("min", "max"))
            if not hi >= lo:
                raise GanforgeError(f"public metadata for {column.name!r}: max is below min")
            column.lo, column.hi = lo, hi
            column.decimals = int(public.get("decimals", 0 if column.dtype == "int" else -1))
            # Data-independent modes: evenly spaced over the public range (reads no private value).
            k = self.max_modes
            width = (hi - lo) / k if hi > lo else 1.0
            column.means = [lo + (i + 0.5) * width for i in range(k)]
            column.stds = [width] * k
            column.weights = [1.0 / k] * k
            return
        if column.dtype == "datetime":
            unit = 86400.0 if np.all(np.mod(numbers, 86400.0) == 0) else 1.0
            column.datetime_unit = "D" if unit == 86400.0 else "s"
        column.lo, column.hi = float(numbers.min()), float(numbers.max())
        column.decimals = 0 if column.dtype == "int" else _decimals(numbers)
        if column.dtype == "datetime":
            column.decimals = -1
        # Point masses get modes of their own (a mixed-type encoding, as in CTAB-GAN, Zhao et
        # al. 2021); the Gaussian mixture then models the rest of the values.
        values, counts = np.unique(numbers, return_counts=True)
        spikes = values[counts >= self.spike_share * len(numbers)]
        rest = numbers[~np.isin(numbers, spikes)]
        if len(rest) < 2:  # (almost) nothing but spikes: keep the mixture over every value
            spikes, rest = spikes[:0], numbers
        column.spikes = [float(v) for v in spikes]
        means, stds, weights = fit_mixture(
            rest,
            self.max_modes,
            self.weight_threshold,
            self.mixture_rows,
            int(rng.integers(2**31 - 1)),
        )
        column.means, column.stds, column.weights = means, stds, weights

    # ---- layout ------------------------------------------------------------------------------
    @property
    def output_dim(self) -> int:
        """Width of the matrix."""
        return sum(c.width for c in self.columns)

    def spans(self) -> list[tuple[str, int, int]]:
        """(activation, start, width) of every block: tanh for alpha, softmax for one-hots."""
        out, start = [], 0
        for c in self.columns:
            if c.kind == "continuous":
                out += [("tanh", start, 1), ("softmax", start + 1, c.n_modes)]
            elif c.kind == "discrete":
                out.append(("softmax", start, c.width))
            start += c.width
        return out

    def discrete_spans(self) -> list[tuple[int, int]]:
        """(start, width) of each discrete column's one-hot: the conditional vector's layout."""
        out, start = [], 0
        for c in self.columns:
            if c.kind == "discrete":
                out.append((start, c.width))
            start += c.width
        return out

    def discrete_columns(self) -> list[Column]:
        """The discrete columns, in conditional-vector order."""
        return [c for c in self.columns if c.kind == "discrete"]

    # ---- transform ---------------------------------------------------------------------------
    def transform(self, frame: pd.DataFrame, seed: int = 0) -> np.ndarray:
        """The (rows, output_dim) float32 matrix; each row's mode is drawn from its posterior."""
        rng = np.random.default_rng(seed)
        out = np.zeros((len(frame), self.output_dim), dtype=np.float32)
        start = 0
        for c in self.columns:
            series = frame[c.name]
            if c.kind == "continuous":
                self._transform_continuous(c, series, out[:, start : start + c.width], rng)
            elif c.kind == "discrete":
                codes = self.codes(c, series)
                out[np.arange(len(frame)), start + codes] = 1.0
            start += c.width
        return out

    def _transform_continuous(self, c: Column, series: pd.Series, block: np.ndarray, rng) -> None:
        missing = series.isna().to_numpy()
        x = np.zeros(len(series))
        if c.dtype == "datetime":
            parsed = (
                series
                if not c.datetime_format
                else pd.to_datetime(series, format=c.datetime_format)
            )
            x[~missing] = _datetime_numbers(parsed[~missing])
        else:
            x[~missing] = series[~missing].to_numpy(dtype=np.float64)
        means, stds = np.asarray(c.means), np.asarray(c.stds)
        spike = np.full(len(x), -1)
        for i, value in enumerate(c.spikes):
            spike[(x == value) & ~missing] = i
        log_post = (
            np.log(np.asarray(c.weights)) - np.log(stds) - 0.5 * ((x[:, None] - means) / stds) ** 2
        )
        post = np.exp(log_post - log_post.max(1, keepdims=True))
        cdf = np.cumsum(post, 1)
        u = rng.random(len(x)) * cdf[:, -1]
        mode = np.minimum((cdf < u[:, None]).sum(1), len(means) - 1)
        alpha = (x - means[mode]) / (4.0 * stds[mode])
        exact = spike >= 0
        mode = np.where(exact, len(means) + spike, mode)
        alpha = np.where(exact, 0.0, alpha)
        block[:, 0] = np.clip(alpha, -0.99, 0.99)
        block[np.arange(len(x)), 1 + mode] = 1.0
        if missing.any():
            block[missing, 0] = 0.0
            block[missing, 1:-1] = 0.0  # every mode but the last (missing) one
            block[missing, -1] = 1.0

    def codes(self, c: Column, series: pd.Series) -> np.ndarray:
        """Slot index of every value of a discrete column (unseen levels: a clear error)."""
        values = series.astype(object)
        missing = series.isna().to_numpy()
        known = [v for v in c.categories if v is not None]
        position = [i for i, v in enumerate(c.categories) if v is not None]
        found = pd.Index(known, dtype=object).get_indexer(values)
        out = np.where(found >= 0, np.asarray(position + [-1], dtype=np.int64)[found], -1)
        if c.rare_values:
            rare = pd.Index(c.rare_values, dtype=object).get_indexer(values) >= 0
            out[rare & (out < 0)] = len(c.categories)
        if missing.any():
            out[missing] = c.categories.index(None) if None in c.categories else -1
        if (out < 0).any():
            bad = series[out < 0].iloc[0]
            raise GanforgeError(
                f"column {c.name!r} has a value {bad!r} the model has not seen",
                fix="fit on data that includes it",
            )
        return out

    # ---- inverse -----------------------------------------------------------------------------
    def inverse_transform(self, matrix: np.ndarray, seed: int = 0) -> pd.DataFrame:
        """Rows of the matrix back to a DataFrame with the input's columns, dtypes and ranges."""
        rng = np.random.default_rng(seed)
        n = matrix.shape[0]
        data: dict[str, Any] = {}
        start = 0
        for c in self.columns:
            block = matrix[:, start : start + c.width]
            start += c.width
            if c.kind == "constant":
                data[c.name] = _restore(c, pd.Series([c.value] * n, dtype=object))
            elif c.kind == "discrete":
                data[c.name] = _restore(c, self._inverse_discrete(c, block, rng))
            else:
                data[c.name] = _restore(c, self._inverse_continuous(c, block))
        return pd.DataFrame(data, columns=[c.name for c in self.columns])

    def _inverse_discrete(self, c: Column, block: np.ndarray, rng) -> pd.Series:
        slot = block.argmax(1)
        levels = np.empty(len(c.categories) + 1, dtype=object)
        levels[: len(c.categories)] = c.categories
        values = levels[slot]
        if c.rare_values:
            rare = slot == len(c.categories)
            p = np.asarray(c.rare_counts, dtype=np.float64)
            picks = rng.choice(len(c.rare_values), size=int(rare.sum()), p=p / p.sum())
            rare_levels = np.empty(len(c.rare_values), dtype=object)
            rare_levels[:] = c.rare_values
            values[rare] = rare_levels[picks]
        return pd.Series(values, dtype=object)

    def _inverse_continuous(self, c: Column, block: np.ndarray) -> pd.Series:
        means, stds = np.asarray(c.means), np.asarray(c.stds)
        mode = block[:, 1:].argmax(1)
        spike = mode - len(means)  # >= 0: a spike (exact value), or past them: missing
        missing = spike >= len(c.spikes)
        mode = np.minimum(mode, len(means) - 1)
        alpha = np.clip(block[:, 0].astype(np.float64), -1.0, 1.0)
        x = means[mode] + alpha * 4.0 * stds[mode]
        exact = (spike >= 0) & ~missing
        x[exact] = np.asarray(c.spikes, dtype=np.float64)[spike[exact]]
        x = np.clip(x, c.lo, c.hi)
        if c.decimals >= 0:
            x = np.round(x, c.decimals)
        if c.datetime_unit == "D":
            x = np.round(x / 86400.0) * 86400.0
        elif c.datetime_unit == "s":
            x = np.round(x)
        x[missing] = np.nan
        return pd.Series(x)

    # ---- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain types only (safe for torch.load(weights_only=True))."""
        return {
            "settings": {
                "max_modes": self.max_modes,
                "weight_threshold": self.weight_threshold,
                "mixture_rows": self.mixture_rows,
                "max_categories": self.max_categories,
                "discrete_threshold": self.discrete_threshold,
                "seed": self.seed,
                "spike_share": self.spike_share,
            },
            "columns": [dataclasses.asdict(c) for c in self.columns],
            "decisions": list(self.decisions),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> TableTransformer:
        """Rebuild what to_dict saved."""
        transformer = cls(**state["settings"])
        transformer.columns = [Column(**c) for c in state["columns"]]
        transformer.decisions = list(state.get("decisions", []))
        return transformer


def _public_number(column: Column, public: dict, key: str) -> float:
    """A public bound as a number (dates may be given as text: seconds since the epoch)."""
    value = public.get(key)
    try:
        if column.dtype == "datetime" and isinstance(value, str):
            return float(_datetime_numbers(pd.Series([value]))[0])
        return float(value)
    except (TypeError, ValueError):
        raise GanforgeError(
            f"public metadata for {column.name!r}: {key} {value!r} is not a number"
            + (" or a date" if column.dtype == "datetime" else "")
        ) from None


def _key(value: Any) -> Any:
    """A lookup key under which 1, 1.0, '1' of one level coincide only when they are equal."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _datetime_numbers(values) -> np.ndarray:
    """Datetimes as float seconds since the epoch."""
    ns = pd.to_datetime(values).to_numpy().astype("datetime64[ns]").astype(np.int64)
    return ns.astype(np.float64) / 1e9


def _restore(c: Column, values: pd.Series) -> pd.Series:
    """A column of generated values in the input's dtype (Int64/boolean when it has gaps)."""
    has_missing = values.isna().any()
    if c.dtype == "datetime":
        if c.kind != "continuous":  # levels are kept as they came (text, or timestamps)
            return values.astype(object) if c.datetime_format else pd.to_datetime(values)
        stamps = pd.to_datetime(pd.to_numeric(values, errors="coerce") * 1e9, unit="ns")
        if not c.datetime_format:
            return stamps.astype(c.pandas_dtype) if not has_missing else stamps
        return stamps.dt.strftime(c.datetime_format).astype(object).where(stamps.notna(), None)
    if c.dtype == "int":
        numbers = pd.to_numeric(values, errors="coerce")
        if has_missing:
            # the input was float (pandas' int-with-gaps); keep float so a CSV round trip matches
            return numbers.round().astype("Int64") if c.pandas_dtype == "Int64" else numbers.round()
        return numbers.round().astype(c.pandas_dtype if "int" in c.pandas_dtype else "int64")
    if c.dtype == "float":
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if c.dtype == "bool":
        if has_missing:
            return values.astype(object)
        return values.astype(bool)
    return values.astype(object)


def fit_mixture(
    values: np.ndarray, max_modes: int, weight_threshold: float, max_rows: int, seed: int
) -> tuple[list[float], list[float], list[float]]:
    """A Dirichlet-process Bayesian Gaussian mixture (as CTGAN's): (means, stds, weights) kept.

    Fit on at most `max_rows` standardised values (a random subsample); components with weight
    below `weight_threshold` are dropped and the rest renormalised.
    """
    from sklearn.mixture import BayesianGaussianMixture

    rng = np.random.default_rng(seed)
    sample = values if len(values) <= max_rows else rng.choice(values, max_rows, replace=False)
    center, scale = float(sample.mean()), float(sample.std())
    scale = scale if scale > 0 else 1.0
    z = ((sample - center) / scale).reshape(-1, 1)
    k = int(min(max_modes, len(np.unique(z))))
    if k <= 1:
        return [center], [max(scale * 1e-3, 1e-12)], [1.0]
    mixture = BayesianGaussianMixture(
        n_components=k,
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=0.001,
        max_iter=100,
        n_init=1,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: the modes are still usable
        mixture.fit(z)
    weights = mixture.weights_
    keep = weights > weight_threshold
    if not keep.any():
        keep = weights == weights.max()
    means = mixture.means_[keep, 0] * scale + center
    stds = np.sqrt(mixture.covariances_[keep, 0, 0]) * scale
    w = weights[keep] / weights[keep].sum()
    return means.tolist(), stds.tolist(), w.tolist()


def describe_column(c: Column) -> str:
    """One line: how a column is modelled (printed by `ganforge tabular fit`)."""
    gaps = f", {100 * c.missing_rate:.1f}% missing" if c.missing_rate > 0 else ""
    if c.kind == "constant":
        return f"{c.name}: constant ({c.value!r})"
    if c.kind == "discrete":
        n = len([v for v in c.categories if v is not None])
        rare = f", {len(c.rare_values)} rare grouped" if c.rare_values else ""
        return f"{c.name}: discrete ({c.dtype}, {n} levels{rare}{gaps})"
    exact = ", exact " + ", ".join(f"{v:g}" for v in c.spikes) if c.spikes else ""
    return f"{c.name}: continuous ({c.dtype}, {len(c.means)} modes{exact}{gaps})"
