"""Tables to matrices and back: mode-specific normalisation (Xu et al. 2019, CTGAN, section 4.2).

A continuous column becomes a scalar alpha in [-1, 1] plus a one-hot mode of a Gaussian mixture
fit to it (a variational Bayesian mixture, as CTGAN's); a discrete column becomes a one-hot of
its levels. Missing values are one more mode (continuous) or one more level (discrete), so the
model learns and reproduces them at their rate. `inverse_transform` restores the original column
order, dtypes, integer-ness, decimals, value ranges and date formats; a generated value outside
the column's range is reflected back into it (clipping would pile values up on the min and max).

Id-like columns (a value unique to every row: an integer sequence, or codes / names as text) are
not learned: learned as categories, every synthetic id would be a real training id. Rows get fresh
ids of the same format instead, unique and none of them a real one (`id_format`).

Speed (CTGAN spends most of its fit time here): the mixture of a column is fit on a random subsample
of at most `mixture_rows` standardised values, and the mode assignment of every row is one
vectorised posterior computation, not a per-row call.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ganforge.errors import GanforgeError

MISSING = None  # how a missing level is stored in a category list (plain type: weights_only-safe)
ID_MIN_ROWS = 20  # an id column: unique in every one of at least this many rows
ID_MIN_GROUP = 20  # values of one length that make a pattern (fewer: their letters could leak)
WIDE_COLUMNS = 100  # more continuous columns than this: cheaper mixtures (see fit_mixture)


@dataclass
class Column:
    """What the transformer knows about one column (plain types only: it is saved in the model)."""

    name: str
    kind: str  # continuous | discrete | constant | id
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
    # id: fresh values, never learned. int: id_start + k * id_step; counter: id_prefix, the
    # number id_start + k (zero-padded to id_width digits), id_suffix; pattern: per length, one
    # alphabet per character position, counting up (mixed radix) from a start past every real id
    id_format: str = ""  # int | counter | pattern
    id_start: int = 0
    id_step: int = 1
    id_prefix: str = ""
    id_suffix: str = ""
    id_width: int = 0
    id_patterns: list[dict] = field(default_factory=list)  # {alphabets, start (str), weight}

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


def is_bool_like(series: pd.Series) -> bool:
    if series.dtype == bool or str(series.dtype) == "boolean":
        return True
    return series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "boolean"


def datetime_format_of(series: pd.Series) -> str | None:
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


def plain_value(value: Any) -> Any:
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
        id_columns: list[str] | None = None,
        progress=None,
    ) -> TableTransformer:
        """Learn every column's type and encoding.

        `discrete_columns`: the columns to one-hot (None: decided per column and recorded in
        `decisions`). `public`: per-column public metadata ({"categories": [...]} or
        {"min": a, "max": b}) used instead of the data, so the preprocessing reads nothing private.
        `id_columns`: the columns given fresh ids instead of being learned (None: detected, see
        the module docstring; []: none). `progress(done, total)` is called after each column.
        """
        if frame.shape[1] == 0:
            raise GanforgeError("the table has no columns")
        if len(frame) == 0:
            raise GanforgeError("the table has no rows")
        names = [str(c) for c in frame.columns]
        for kind, given in (("discrete", discrete_columns), ("id", id_columns)):
            unknown = [c for c in given or () if c not in names]
            if unknown:
                raise GanforgeError(
                    f"{kind} column(s) {', '.join(map(repr, unknown))} not in the table",
                    fix=f"columns are: {', '.join(names)}",
                )
        if id_columns is not None:
            both = [c for c in id_columns if discrete_columns and c in discrete_columns]
            if both:
                raise GanforgeError(
                    f"column(s) {', '.join(map(repr, both))} given as discrete and as ids"
                )
        public = public or {}
        strangers = [c for c in public if c not in names]
        if strangers:
            raise GanforgeError(
                f"public metadata names column(s) not in the table: {', '.join(strangers)}"
            )
        rng = np.random.default_rng(self.seed)
        self.columns, self.decisions, self.warnings = [], [], []
        numeric = sum(pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns)
        self._wide = numeric > WIDE_COLUMNS
        for i, (name, original) in enumerate(zip(names, frame.columns, strict=True)):
            series = frame[original]
            forced = None if discrete_columns is None else name in discrete_columns
            given_id = None if id_columns is None else name in id_columns
            column = self._fit_column(name, series, forced, public.get(name), rng, given_id)
            self.columns.append(column)
            self.decisions.append(describe_column(column))
            if progress is not None:
                progress(i + 1, len(names))
        return self

    def _fit_column(
        self,
        name: str,
        series: pd.Series,
        forced: bool | None,
        public: dict | None,
        rng,
        given_id: bool | None = None,
    ) -> Column:
        missing = series.isna()
        if missing.all():
            # nothing to learn: the synthetic column is empty too (as the real one is)
            self.warnings.append(
                f"column {name!r} is empty in every row: the synthetic column is empty too"
            )
            return Column(name, "constant", "float", str(series.dtype), 1.0, value=None)
        rate = float(missing.mean())
        values = series[~missing]
        pandas_dtype = str(series.dtype)
        dtype, numeric = self._logical_type(series, values)
        column = Column(name, "discrete", dtype, pandas_dtype, rate)
        if dtype == "datetime" and pandas_dtype.startswith("datetime64"):
            column.datetime_format = ""
        elif dtype == "datetime":
            column.datetime_format = datetime_format_of(series) or ""
        if given_id or (given_id is None and public is None and forced is None):
            if given_id or _looks_like_ids(name, series, dtype, numeric):
                self._fit_ids(column, series, dtype, numeric, rng, given=bool(given_id))
                return column
        elif forced and public is None and _looks_like_ids(name, series, dtype, numeric):
            self.warnings.append(
                f"column {name!r} is unique in every row (an id?) and learned as a category as "
                "asked: its synthetic values are real training values"
            )
        if public is None and values.nunique() == 1 and rate == 0 and forced is None:
            column.kind, column.value = "constant", plain_value(values.iloc[0])
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

    @staticmethod
    def _logical_type(series: pd.Series, values: pd.Series) -> tuple[str, np.ndarray | None]:
        """(dtype name, the non-missing values as float64 or None for text)."""
        if is_bool_like(series):
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
        fmt = datetime_format_of(series)
        if fmt is not None:
            parsed = pd.to_datetime(values, format=fmt)
            return "datetime", _datetime_numbers(parsed)
        return "string", None

    def _fit_discrete(self, column: Column, series: pd.Series, public: dict | None) -> None:
        column.kind = "discrete"
        counts = series.map(plain_value).value_counts(dropna=False)
        levels = [plain_value(v) for v in counts.index]
        numbers = [int(c) for c in counts.to_numpy()]
        if public is not None and "categories" in public:
            known = [plain_value(v) for v in public["categories"]]
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
            fast=getattr(self, "_wide", False),
        )
        column.means, column.stds, column.weights = means, stds, weights

    def _fit_ids(self, column: Column, series: pd.Series, dtype, numbers, rng, given: bool) -> None:
        """Fresh-id format of an id column (never learned; see `Column.id_format`)."""
        column.kind, column.missing_rate = "id", 0.0
        values = series.dropna()
        how = "given as an id column" if given else "unique in every row (an id)"
        if dtype == "int" and numbers is not None:
            ints = np.unique(numbers.astype(np.int64))
            steps = np.diff(ints)
            step = int(steps[0]) if len(steps) and (steps == steps[0]).all() else 1
            column.id_format, column.id_step = "int", max(step, 1)
            column.id_start = int(ints[-1]) + column.id_step
            column.pandas_dtype = "int64" if series.isna().any() else column.pandas_dtype
        else:
            text = [str(v) for v in values]
            counter = _counter_format(text)
            if counter is not None:
                column.id_format = "counter"
                column.id_prefix, column.id_suffix, column.id_width, column.id_start = counter
            else:
                column.id_patterns = _pattern_format(text, rng)
                column.id_format = "pattern" if column.id_patterns else "counter"
                if not column.id_patterns:  # no length shared by enough values to copy a form
                    column.id_prefix, column.id_start = "synthetic-", 1
            column.dtype = "string"
        self.warnings.append(
            f"column {column.name!r} is {how}: not learned; synthetic rows get fresh ids "
            f"({_id_example(column)}), none of them a real one"
            + ("" if given else " (--id-columns none to learn it)")
        )

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
    def inverse_transform(
        self, matrix: np.ndarray, seed: int = 0, row_offset: int = 0
    ) -> pd.DataFrame:
        """Rows of the matrix back to a DataFrame with the input's columns, dtypes and ranges.

        `row_offset`: how many rows earlier calls of one sampling run made (id columns count on
        from there, so ids stay unique across chunks).
        """
        rng = np.random.default_rng(seed)
        n = matrix.shape[0]
        data: dict[str, Any] = {}
        start = 0
        for c in self.columns:
            block = matrix[:, start : start + c.width]
            start += c.width
            if c.kind == "id":
                data[c.name] = fresh_ids(c, row_offset, n)
            elif c.kind == "constant":
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
        x = reflect(x, c.lo, c.hi)
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


def level_key(value: Any) -> Any:
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
    # whether the column CAN be missing, not whether this chunk is: every chunk of one sampling
    # run then has the same dtype
    has_missing = c.missing_rate > 0 or bool(values.isna().any())
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
    values: np.ndarray,
    max_modes: int,
    weight_threshold: float,
    max_rows: int,
    seed: int,
    fast: bool = False,
) -> tuple[list[float], list[float], list[float]]:
    """A Dirichlet-process Bayesian Gaussian mixture (as CTGAN's): (means, stds, weights) kept.

    Fit on at most `max_rows` standardised values (a random subsample); components with weight
    below `weight_threshold` are dropped and the rest renormalised. `fast` (tables with hundreds
    of numeric columns, where these fits took ~0.3 s a column): k-means++ seeding and 20 variational
    iterations instead of k-means and 100.
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
        max_iter=20 if fast else 100,
        n_init=1,
        init_params="k-means++" if fast else "kmeans",
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
        return f"{c.name}: constant ({'empty' if c.value is None else repr(c.value)})"
    if c.kind == "id":
        return f"{c.name}: id, not learned (fresh ids: {_id_example(c)})"
    if c.kind == "discrete":
        n = len([v for v in c.categories if v is not None])
        rare = f", {len(c.rare_values)} rare grouped" if c.rare_values else ""
        return f"{c.name}: discrete ({c.dtype}, {n} levels{rare}{gaps})"
    exact = ", exact " + ", ".join(f"{v:g}" for v in c.spikes) if c.spikes else ""
    return f"{c.name}: continuous ({c.dtype}, {len(c.means)} modes{exact}{gaps})"


# ---- ids ---------------------------------------------------------------------------------------

_COUNTER = re.compile(r"^(.*?)(\d+)(\D*)$", re.S)


def _id_name(name: str) -> bool:
    """Whether a column name says "id": id, user_id, CustomerID, userId, uuid, ID_number."""
    return bool(
        re.search(r"(?:^|[^A-Za-z0-9])(?:id|uuid|guid)$", name, re.I)
        or re.search(r"[a-z](?:Id|ID)$", name)
        or re.match(r"(?:id|uuid|guid)(?:[^A-Za-z]|$)", name, re.I)
    )


def _looks_like_ids(name: str, series: pd.Series, dtype: str, numbers) -> bool:
    """Unique in each of >= ID_MIN_ROWS rows, no gaps, and integers in steps of one size (or any
    integers under an id-like name), or text (codes, names, emails)."""
    n = len(series)
    if n < ID_MIN_ROWS or series.isna().any() or series.nunique() != n:
        return False
    if dtype == "int" and numbers is not None:
        steps = np.diff(np.sort(numbers))
        return bool((steps == steps[0]).all() or _id_name(name))
    return dtype == "string"


def looks_like_ids(name: str, series: pd.Series) -> bool:
    """Whether a column would be taken for ids by `TableTransformer.fit` (used by the report)."""
    values = series.dropna()
    if len(values) != len(series):
        return False
    dtype, numbers = TableTransformer._logical_type(series, values)
    return _looks_like_ids(name, series, dtype, numbers)


def _counter_format(values: list[str]) -> tuple[str, str, int, int] | None:
    """(prefix, suffix, digits width or 0, next number) when every value is one prefix, a number,
    one suffix (C00042, INV-17, 123); None otherwise."""
    parts = [_COUNTER.match(v) for v in values]
    if not all(parts):
        return None
    prefixes = {m.group(1) for m in parts}
    suffixes = {m.group(3) for m in parts}
    if len(prefixes) != 1 or len(suffixes) != 1:
        return None
    digits = [m.group(2) for m in parts]
    widths = {len(d) for d in digits}
    width = widths.pop() if len(widths) == 1 and any(d.startswith("0") for d in digits) else 0
    return prefixes.pop(), suffixes.pop(), width, max(int(d) for d in digits) + 1


_DIGITS = "0123456789"
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_UPPER = _LOWER.upper()


def _alphabet(chars: set[str]) -> str:
    """The characters a position of a pattern may hold, from those the real values hold there:
    digits, hex, lower/upper case letters (whole classes), other characters as seen."""
    if len(chars) == 1 and not chars <= set(_DIGITS):
        return chars.pop()  # a literal shared by every value of the length
    if chars <= set(_DIGITS):
        return _DIGITS
    for hexdigits in ("0123456789abcdef", "0123456789ABCDEF"):
        if chars <= set(hexdigits) and chars & set(_DIGITS):
            return hexdigits
    out = set()
    for whole in (_DIGITS, _LOWER, _UPPER):
        if chars & set(whole):
            out |= set(whole)
    return "".join(sorted(out | chars))


def _pattern_format(values: list[str], rng) -> list[dict]:
    """One pattern per length held by >= ID_MIN_GROUP values: {alphabets, start, weight}; start
    is past the largest real value (mixed radix), plus a random gap when letters vary (so the
    first fresh id does not tell the largest real one)."""
    lengths = pd.Series([len(v) for v in values]).value_counts()
    lengths = lengths[(lengths >= ID_MIN_GROUP) & (lengths.index > 0)]
    patterns = []
    for length, count in lengths.items():
        group = [v for v in values if len(v) == length]
        alphabets = [_alphabet({v[i] for v in group}) for i in range(int(length))]
        radix = [len(a) for a in alphabets]
        index = np.array([[a.index(ch) for a, ch in zip(alphabets, v, strict=True)] for v in group])
        largest = index[np.lexsort(index.T[::-1])[-1]]
        start = 0
        for digit, base in zip(largest, radix, strict=True):
            start = start * base + int(digit)
        start += 1
        space = math.prod(radix)
        if any(len(a) > 1 and set(a) - set(_DIGITS) for a in alphabets) and space - start > 2:
            start += int(rng.integers(0, min(space - start, 10**6) // 2 + 1))
        if start >= space:
            continue  # no fresh value of this length is left
        patterns.append({"alphabets": alphabets, "start": str(start), "weight": int(count)})
    total = sum(p["weight"] for p in patterns)
    for p in patterns:
        p["weight"] = p["weight"] / total
    return patterns


def _pattern_values(pattern: dict, counters: np.ndarray, name: str) -> np.ndarray:
    """The pattern's values number `start + counters` (mixed radix, last position fastest)."""
    alphabets = pattern["alphabets"]
    start = int(pattern["start"])
    base_digits = []
    for a in reversed(alphabets):
        start, digit = divmod(start, len(a))
        base_digits.append(digit)
    codes = np.empty((len(counters), len(alphabets)), dtype=np.int32)
    carry = counters.astype(np.int64)
    for position, (a, digit) in enumerate(zip(reversed(alphabets), base_digits, strict=True)):
        total = carry + digit
        carry, index = np.divmod(total, len(a))
        table = np.array([ord(ch) for ch in a], dtype=np.int32)
        codes[:, len(alphabets) - 1 - position] = table[index]
    if start or (carry > 0).any():
        raise GanforgeError(
            f"column {name!r}: its id format has no room for this many fresh ids",
            fix="sample fewer rows",
        )
    return codes.view(f"<U{len(alphabets)}").ravel().astype(object)


def fresh_ids(c: Column, offset: int, n: int) -> pd.Series:
    """Ids for rows offset .. offset + n - 1 of one sampling run: unique, none a real one."""
    k = np.arange(offset, offset + n, dtype=np.int64)
    if c.id_format == "int":
        return pd.Series(c.id_start + k * c.id_step, dtype="int64")
    if c.id_format == "counter":
        width = c.id_width
        return pd.Series(
            [f"{c.id_prefix}{int(v):0{width}d}{c.id_suffix}" for v in c.id_start + k], dtype=object
        )
    weights = np.array([p["weight"] for p in c.id_patterns], dtype=np.float64)
    # which length each row gets: a fixed function of its number, so chunks agree
    u = (k * 0.6180339887498949) % 1.0  # (golden-ratio steps: the weights in any stretch)
    group = np.minimum(np.searchsorted(np.cumsum(weights), u, side="right"), len(weights) - 1)
    out = np.empty(n, dtype=object)
    for j, pattern in enumerate(c.id_patterns):
        rows = group == j
        if rows.any():
            out[rows] = _pattern_values(pattern, k[rows], c.name)
    return pd.Series(out, dtype=object)


def _id_example(c: Column) -> str:
    """The first fresh ids, for the decision line."""
    shown = fresh_ids(c, 0, 2).tolist()
    return ", ".join(str(v) for v in shown) + ", ..."


def reflect(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values folded into [lo, hi] by reflection at the bounds (no pile-up on them, unlike a
    clip: a value 0.3 past the max lands 0.3 below it)."""
    span = hi - lo
    if not span > 0:
        return np.full_like(x, lo)
    y = np.mod(x - lo, 2.0 * span)
    return lo + np.where(y > span, 2.0 * span - y, y)
