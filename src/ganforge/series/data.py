"""Sequences from a long-format table, encoded for the series family, and decoded back.

One long series (no key) or many entities (a `sequence_key` column) of any length >= 2. An
entity of `seq_len` steps or more is cut into overlapping windows of `seq_len` (stride 1, the
TimeGAN protocol); a shorter one is one sequence of its own length, zero-padded to `seq_len` and
masked (variable-length sequences: their lengths are learned as an attribute).

Columns (decided at fit, printed as `decisions`):

- static attributes: with a key, the columns constant within every entity (DoppelGANger's
  attributes); generated once per sequence and conditioned on at sampling;
- per-step columns: continuous (float), integer (rounded back, dtype kept), discrete (text with
  at most MAX_TEXT_LEVELS levels, booleans, or the columns named in `discrete`: a one-hot);
  missing values are one more mode / level (learned at their rate);
- a time column (`time_column`): sorted within each entity (a warning when it was not;
  duplicates are an error), its cadence (the most common step) kept: each output sequence's time
  starts at a learned start on the input's grid and advances by the cadence.

Both kinds of columns go through the tabular module's column transformer
(ganforge.tabular.transformer: types, categories, rare levels, missing modes, dtype restoration).
Continuous columns use one min-max mode rather than mode-specific normalisation: a mode switch
between two steps would break the smooth paths the GRU draws (TimeGAN's own scaling is min-max),
and the mixture fits took most of a small fit's time (2.4 of 6.4 s on 300 entities).

The model sees one array (N, seq_len, F + 1 + A): the per-step block (continuous values in
[0, 1], one-hots), the mask (1 on real steps), and the attributes (repeated on every step).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ganforge.errors import GanforgeError
from ganforge.tabular.transformer import (
    TableTransformer,
    _decimals,
    datetime_format_of,
    describe_column,
)

MAX_TEXT_LEVELS = 100  # an undeclared text column with more levels is refused (--discrete)
LENGTH, START, CADENCE = "__length__", "__start__", "__cadence__"  # hidden attributes
HIDDEN = (LENGTH, START, CADENCE)
EDGE = 0.99  # per-step continuous: min -> alpha -EDGE, max -> +EDGE (the transformer's clip)


def check_seq_len(seq_len) -> int:
    """`seq_len` as an int >= 2 (a window needs a step and a next step)."""
    if isinstance(seq_len, bool) or not isinstance(seq_len, (int, np.integer)) or seq_len < 2:
        raise GanforgeError(
            f"--seq-len {seq_len}: a window needs at least 2 steps", fix="pass --seq-len 24"
        )
    return int(seq_len)


def _named(frame: pd.DataFrame, name: str | None, flag: str, where: str | None) -> None:
    if name is not None and name not in frame.columns:
        raise GanforgeError(
            f"{flag} {name!r} is not a column",
            where,
            f"columns are: {', '.join(map(str, frame.columns))}",
        )


def _time_numbers(values: pd.Series, name: str, where: str | None) -> tuple[np.ndarray, dict]:
    """A time column as float numbers (seconds for dates) and how to write them back."""
    if pd.api.types.is_datetime64_any_dtype(values):
        info = {"kind": "datetime", "format": "", "dtype": str(values.dtype)}
        stamps = values
    elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        info = {"kind": "number", "format": "", "dtype": str(values.dtype)}
        if values.isna().any():
            raise GanforgeError(f"time column {name!r} has missing values", where, "fill them")
        return values.to_numpy(np.float64), info
    else:
        fmt = datetime_format_of(values.astype(object)) if values.notna().all() else None
        if fmt is None:
            raise GanforgeError(
                f"time column {name!r} is neither numbers nor dates (e.g. {values.iloc[0]!r})",
                where,
                "give dates such as 2024-01-31 or numbers, or drop --time-column",
            )
        info = {"kind": "datetime", "format": fmt, "dtype": "object"}
        stamps = pd.to_datetime(values, format=fmt)
    if stamps.isna().any():
        raise GanforgeError(f"time column {name!r} has missing values", where, "fill them")
    ns = stamps.to_numpy().astype("datetime64[ns]").astype(np.int64)
    return ns.astype(np.float64) / 1e9, info


def _show_time(value: float, info: dict) -> str:
    if info["kind"] == "number":
        return f"{value:g}"
    return str(pd.Timestamp(int(round(value * 1e9))))


def _cadence(steps: np.ndarray) -> float:
    """The most common positive step of a sorted time series."""
    diffs = np.diff(steps)
    values, counts = np.unique(diffs, return_counts=True)
    return float(values[np.argmax(counts)])


def _fit_minmax(transformer: TableTransformer, frame: pd.DataFrame, discrete: list[str]) -> None:
    """The transformer fit with one min-max mode per continuous column (numeric columns get
    their range as "public" bounds, which skips the mixture fit the mode replaces)."""
    bounds = {}
    for name in frame.columns:
        values = frame[name]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if name in discrete or not numeric:
            continue
        known = values.dropna().to_numpy(np.float64)
        integral = pd.api.types.is_integer_dtype(values) or (
            values.isna().any() and np.all(known == np.round(known))
        )
        bounds[name] = {
            "min": float(known.min()),
            "max": float(known.max()),
            "decimals": 0 if integral else _decimals(known),
        }
    transformer.fit(frame, discrete_columns=discrete, public=bounds, id_columns=[])
    for c in transformer.columns:
        if c.kind == "continuous":
            _minmax_mode(c)
    transformer.decisions = [
        describe_column(c).replace("1 modes", "min-max scaled") for c in transformer.columns
    ]


def _minmax_mode(c) -> None:
    """One mode spanning [lo, hi]: alpha = (x - mid) / (4 std) maps lo..hi to -EDGE..EDGE."""
    span = c.hi - c.lo
    c.means = [0.5 * (c.lo + c.hi)]
    c.stds = [span / (8.0 * EDGE) if span > 0 else 1.0]
    c.weights, c.spikes = [1.0], []


def _output_bias(array: np.ndarray, spans, features: int) -> list[float]:
    """Output-layer biases that start the generator at the data's marginals (a logit of each
    continuous channel's mean, the log share of each level): Adam moves a bias ~lr a step, so
    a level share of 0.7 from a uniform start took hundreds of steps."""
    mask = array[:, :, features : features + 1]
    means = (array * mask).sum((0, 1)) / max(float(mask.sum()), 1.0)
    means[features + 1 :] = array[:, 0, features + 1 :].mean(0)  # attributes: per sequence
    bias = np.zeros(array.shape[2], dtype=np.float64)
    for act, start, width in spans:
        m = np.clip(means[start : start + width].astype(np.float64), 1e-3, 1 - 1e-3)
        bias[start : start + width] = np.log(m / (1 - m)) if act == "sigmoid" else np.log(m)
    return [float(b) for i, b in enumerate(bias) if i != features]  # (the mask has no head)


# A continuous channel whose step changes look white (lag-1 autocorrelation within +-WALK_LAG1:
# a random walk's) is written by the mlp generator as a first value plus changes (a cumulative
# sum over the steps). Prices walk (stocks: -0.07..0.12), and a generator writing each step's
# level drew white jitter around a smooth path instead (changes' lag-1 -0.40..-0.54, 2.5x too
# large). A mean-reverting channel (stocks' Volume: -0.29) keeps per-step levels: written as
# changes it came out 10x too smooth; so does a smooth one (sines: +0.94): written as changes,
# the mlp's per-feature mean was 0.24 off after the tests' short fit (TimeSeriesGAN's docstring).
WALK_LAG1 = 0.2


def increment_lag1(array: np.ndarray, channel: int, features: int) -> float:
    """Lag-1 autocorrelation of one channel's step changes, pooled over all windows (only the
    changes between two real steps, by the mask at `features`); nan when there are none."""
    mask = array[:, :, features]
    both = mask[:, 1:] * mask[:, :-1]
    pairs = both[:, 1:] * both[:, :-1]
    if both.sum() < 2 or pairs.sum() < 1:
        return float("nan")
    change = np.diff(array[:, :, channel].astype(np.float64), axis=1)
    centred = (change - (change * both).sum() / both.sum()) * both
    var = (centred**2).sum() / both.sum()
    if var <= 0:
        return float("nan")
    return float((centred[:, 1:] * centred[:, :-1]).sum() / pairs.sum() / var)


def walking_channels(array: np.ndarray, channels, features: int) -> list[int]:
    """The continuous `channels` that walk (see WALK_LAG1)."""
    return [int(c) for c in channels if abs(increment_lag1(array, c, features)) < WALK_LAG1]


def change_std(array: np.ndarray, channel: int, features: int, logit: bool = False) -> float:
    """The std of one channel's step changes between two real steps (the mask at `features`),
    in data space or, with `logit`, in logit space (values clipped to [1e-3, 1 - 1e-3])."""
    both = array[:, 1:, features] * array[:, :-1, features]
    total = max(float(both.sum()), 1.0)
    values = array[:, :, channel].astype(np.float64)
    if logit:
        p = np.clip(values, 1e-3, 1 - 1e-3)
        values = np.log(p / (1 - p))
    change = np.diff(values, axis=1)
    mean = (change * both).sum() / total
    return float(np.sqrt(((change - mean) ** 2 * both).sum() / total))


def innovation_scales(array: np.ndarray, channels, walk, features: int) -> list[float]:
    """Per continuous channel, where the mlp generator's per-step noise scale starts: half the
    std of the real step changes (of a walking channel: 0.5 of its change unit, change_scales;
    of a level channel: in logit space and over sqrt 2, a white series' change being the
    difference of two draws); 0 for a smooth channel (changes' lag-1 above WALK_LAG1: sines'
    +0.94; per-step noise there only added jitter: the tests' short fit's lag-1 gap 0.14 vs
    0.06) and for the other channels."""
    out = [0.0] * features
    for c in channels:
        if c in walk:  # (its lag-1 is within WALK_LAG1) changes in data space, in their std
            out[c] = 0.5
        elif not increment_lag1(array, c, features) > WALK_LAG1:
            out[c] = float(0.5 * change_std(array, c, features, logit=True) / np.sqrt(2.0))
    return out


def change_scales(array: np.ndarray, walk, features: int) -> list[float]:
    """Per channel, the unit of a walking channel's changes in the mlp generator, which adds
    them in data space: the std of its real changes (1 for the other channels). Walking in
    logit space in unit steps, the logits drifted to |85| within 750 steps on stocks (seed 1):
    the sigmoid saturated, G's gradient vanished and D won for good (discriminative 0.493)."""
    return [
        max(change_std(array, c, features), 1e-4) if c in walk else 1.0 for c in range(features)
    ]


class SeriesEncoder:
    """Fit on a long table: `fit` -> (model array, notes); `decode(array)` -> long table."""

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.meta: dict = {}
        self.steps = TableTransformer(seed=seed)
        self.static: TableTransformer | None = None

    # ---- fit ---------------------------------------------------------------------------------
    def fit(
        self,
        frame: pd.DataFrame,
        seq_len,
        sequence_key: str | None = None,
        time_column: str | None = None,
        discrete: list[str] | None = None,
        where: str | None = None,
    ) -> tuple[np.ndarray, list[str]]:
        """The model array (N, seq_len, F + 1 + A) float32 of a long table and notes to show;
        `where` (e.g. the CSV's path) is named in the errors."""
        seq_len = check_seq_len(seq_len)
        if not isinstance(frame, pd.DataFrame) or len(frame) == 0 or frame.shape[1] == 0:
            raise GanforgeError("the table is empty", where, "give a table with rows and columns")
        frame = frame.rename(columns=str)
        _named(frame, sequence_key, "--sequence-key", where)
        _named(frame, time_column, "--time-column", where)
        if time_column is not None and time_column == sequence_key:
            raise GanforgeError(
                f"--time-column and --sequence-key are both {time_column!r}", where, "pick two"
            )
        discrete = [str(d) for d in discrete or []]
        unknown = [
            d for d in discrete if d not in frame.columns or d in (sequence_key, time_column)
        ]
        if unknown:
            raise GanforgeError(
                f"--discrete {unknown[0]!r} is not a per-step or static column",
                where,
                f"columns are: {', '.join(c for c in frame.columns if c != sequence_key)}",
            )
        hidden = [c for c in frame.columns if c in HIDDEN]
        if hidden:
            raise GanforgeError(f"column name {hidden[0]!r} is reserved", where, "rename it")
        notes: list[str] = []
        decisions: list[str] = []
        data_columns = [c for c in frame.columns if c not in (sequence_key, time_column)]
        if not data_columns:
            raise GanforgeError("the table has no per-step column to learn", where, "add one")
        for name in data_columns:
            self._check_column(frame[name], name, name in discrete, where)

        if sequence_key is None and len(frame) < seq_len:
            raise GanforgeError(
                f"the series has {len(frame)} rows, fewer than --seq-len {seq_len}",
                where,
                f"pass --seq-len {len(frame)} or less"
                + (" (or --sequence-key for many short sequences)" if len(frame) >= 2 else ""),
            )
        self._keys = frame[sequence_key] if sequence_key is not None else None
        groups = self._groups(frame, sequence_key, where)
        times, time_info = None, None
        if time_column is not None:
            numbers, time_info = _time_numbers(frame[time_column], time_column, where)
            times = pd.Series(numbers, index=frame.index)
            groups = self._sorted(groups, times, sequence_key, time_column, time_info, where, notes)

        longest = max(len(g) for g in groups)
        if longest < seq_len:  # (the series itself is never shorter: checked above)
            notes.append(
                f"the longest sequence has {longest} steps: sequences of at most {longest} "
                f"steps instead of --seq-len {seq_len}"
            )
            seq_len = longest
        static_names: list[str] = []
        if sequence_key is not None and len(groups) > 1:
            keys = frame[sequence_key]
            for name in data_columns:
                per_entity = frame[name].astype(object).groupby(keys.to_numpy(), sort=False)
                if (per_entity.nunique(dropna=False) <= 1).all():
                    static_names.append(name)
        step_names = [c for c in data_columns if c not in static_names]
        if not step_names:
            raise GanforgeError(
                "every column is constant within each sequence: nothing changes over time",
                where,
                "give per-step columns, or drop --sequence-key",
            )

        # per-step columns: the tabular transformer, one min-max mode per continuous column
        step_frame = frame[step_names]
        _fit_minmax(self.steps, step_frame, [d for d in discrete if d in step_names])
        notes += self.steps.warnings
        matrix = self.steps.transform(step_frame, seed=self.seed)
        spans = self.steps.spans()
        for act, start, _ in spans:
            if act == "tanh":
                matrix[:, start] = (matrix[:, start] + 1.0) * 0.5
        # a one-wide one-hot (a continuous column's single mode, no gaps) is always 1: not modelled
        keep = [
            i
            for act, start, width in spans
            if not (act == "softmax" and width == 1)
            for i in range(start, start + width)
        ]

        # windows, and per window its attributes
        rows, lengths, starts, cadences, owners = [], [], [], [], []
        position = pd.Series(np.arange(len(frame)), index=frame.index)
        for owner, index in enumerate(groups):
            at = position[index].to_numpy()
            n = len(at)
            t = times[index].to_numpy() if times is not None else np.zeros(n)
            cadence = _cadence(t) if times is not None else 0.0
            if n >= seq_len:
                offsets = range(n - seq_len + 1)
                count = seq_len
            else:
                offsets, count = [0], n
            for o in offsets:
                rows.append(at[o : o + count])
                lengths.append(count)
                owners.append(owner)
                cadences.append(cadence)
                starts.append(float(t[o]))
        lengths_arr = np.asarray(lengths)
        features = len(keep)
        steps_block = np.zeros((len(rows), seq_len, features), dtype=np.float32)
        mask = np.zeros((len(rows), seq_len, 1), dtype=np.float32)
        for i, r in enumerate(rows):
            steps_block[i, : len(r)] = matrix[r][:, keep]
            mask[i, : len(r)] = 1.0

        # static attributes (user columns and the hidden ones), one row per window
        attr_frame = pd.DataFrame(index=np.arange(len(rows)))
        first_rows = frame.index[[r[0] for r in rows]]
        for name in static_names:
            attr_frame[name] = frame.loc[first_rows, name].to_numpy()
        varied = len(np.unique(lengths_arr)) > 1
        if varied:
            attr_frame[LENGTH] = lengths_arr.astype(np.int64)
        if times is not None:
            attr_frame[START] = np.asarray(starts)
            if len(np.unique(cadences)) > 1:
                attr_frame[CADENCE] = np.asarray(cadences)
        attr_columns = list(attr_frame.columns)
        attributes = np.zeros((len(rows), 0), dtype=np.float32)
        static_spans: list = []
        if attr_columns:
            self.static = TableTransformer(seed=self.seed)
            forced = [c for c in attr_columns if c in discrete or c in (LENGTH, CADENCE)]
            _fit_minmax(self.static, attr_frame, forced)
            attributes = self.static.transform(attr_frame, seed=self.seed)
            static_spans = self.static.spans()
            for act, start, _ in static_spans:
                if act == "tanh":
                    attributes[:, start] = (attributes[:, start] + 1.0) * 0.5
            notes += [w for w in self.static.warnings if "__" not in w]
        array = np.concatenate(
            [steps_block, mask, np.repeat(attributes[:, None], seq_len, 1)], 2
        ).astype(np.float32)

        # the layout the family needs (plain types: saved in the model file)
        step_layout = []
        remap = {old: new for new, old in enumerate(keep)}
        for act, start, width in spans:
            if start in remap:
                step_layout.append(("sigmoid" if act == "tanh" else "softmax", remap[start], width))
        attr_layout = [
            ("sigmoid" if act == "tanh" else "softmax", features + 1 + start, width)
            for act, start, width in static_spans
        ]
        length_slot = None
        if varied:
            spans_by_name = self._static_blocks()
            start, width = spans_by_name[LENGTH]
            column = self.static.columns[attr_columns.index(LENGTH)]
            length_slot = {
                "start": features + 1 + start,
                "values": [int(v) for v in column.levels],
            }
        channel_of, offset = {}, 0  # continuous column -> its channel in the step block
        for c in self.steps.columns:
            if c.kind == "continuous" and offset in remap:
                channel_of[c.name] = remap[offset]
            offset += c.width
        walk = walking_channels(array, sorted(channel_of.values()), features)
        walking = [name for name, ch in channel_of.items() if ch in walk]
        layout = {
            "bias": _output_bias(array, step_layout + attr_layout, features),
            "walk": walk,
            "noise": innovation_scales(array, sorted(channel_of.values()), walk, features),
            "walk_scale": change_scales(array, walk, features),
            "features": features,
            "attributes": int(attributes.shape[1]),
            "spans": step_layout + attr_layout,
            "lengths": length_slot,
        }
        cadence = None
        if time_info is not None:
            cadence = float(np.median(cadences)) if cadences else 0.0
            origin = float(min(starts))
            time_info.update({"cadence": cadence, "origin": origin})
        self.meta = {
            "seq_len": seq_len,
            "sequence_key": sequence_key,
            "time_column": time_column,
            "order": [c for c in frame.columns if c != sequence_key],
            "static_columns": static_names,
            "step_keep": keep,
            "step_width": int(matrix.shape[1]),
            "time": time_info,
            "layout": layout,
            "windows": len(rows),
            "entities": len(groups),
            "lengths": {"min": int(lengths_arr.min()), "max": int(lengths_arr.max())},
        }

        # what was decided, in words
        for line in self.steps.decisions:
            decisions.append(f"per-step {line}")
        if self.static is not None:
            for c, line in zip(self.static.columns, self.static.decisions, strict=True):
                if c.name not in HIDDEN:
                    decisions.append(f"static {line} (constant within each {sequence_key})")
        if walking:
            decisions.append(
                "per-step increments: "
                + ", ".join(walking)
                + f" walk (their step changes look white: lag-1 autocorrelation within +-{WALK_LAG1}): the mlp "
                "generator writes a first value, then step changes"
            )
        if time_info is not None:
            decisions.append(
                f"time {time_column}: {time_info['kind']}, cadence "
                f"{self._cadence_text(cadence, time_info)}"
                + (" (per sequence: they differ)" if CADENCE in attr_columns else "")
            )
        where_from = "the series" if sequence_key is None else f"{len(groups)} sequences"
        decisions.append(
            f"sequences: {len(rows)} windows of {where_from}, "
            + (
                f"lengths {lengths_arr.min()}..{lengths_arr.max()} (shorter ones padded, masked)"
                if varied
                else f"{seq_len} steps each"
            )
        )
        self.meta["decisions"] = decisions
        return array, notes

    @staticmethod
    def _cadence_text(cadence: float, info: dict) -> str:
        if info["kind"] == "number":
            return f"{cadence:g}"
        return str(pd.Timedelta(seconds=cadence))

    def _check_column(self, values: pd.Series, name: str, declared: bool, where) -> None:
        if values.isna().all():
            raise GanforgeError(f"column {name!r} is all missing", where, "drop it from the table")
        if declared or pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            return
        if pd.api.types.is_datetime64_any_dtype(values):
            return
        if datetime_format_of(values.astype(object)) is not None:
            return
        levels = values.nunique()
        if levels > MAX_TEXT_LEVELS:
            raise GanforgeError(
                f"column {name!r} is text with {levels} distinct values (more than "
                f"{MAX_TEXT_LEVELS}) and not declared discrete",
                where,
                f"pass --discrete {name} to learn it as categories (rare ones grouped), or drop it",
            )

    def _groups(self, frame, sequence_key, where) -> list[pd.Index]:
        if sequence_key is None:
            return [frame.index]
        keys = frame[sequence_key]
        if keys.isna().any():
            raise GanforgeError(
                f"sequence key {sequence_key!r} has missing values", where, "fill or drop them"
            )
        counts = keys.value_counts(sort=False)
        single = counts[counts == 1]
        if len(single):
            raise GanforgeError(
                f"sequence key {sequence_key!r}: {len(single)} sequence(s) have 1 row "
                f"(e.g. {sequence_key}={single.index[0]})",
                where,
                "a sequence needs at least 2 steps: drop them or choose another key",
            )
        return [
            frame.index[idx] for idx in keys.groupby(keys.to_numpy(), sort=False).indices.values()
        ]

    def _sorted(self, groups, times, key, time_column, info, where, notes) -> list[pd.Index]:
        out, unsorted = [], 0
        for index in groups:
            t = times[index].to_numpy()
            order = np.argsort(t, kind="stable")
            if (np.diff(t[order]) == 0).any():
                dup = t[order][np.flatnonzero(np.diff(t[order]) == 0)[0]]
                entity = "" if key is None else f" within {key}={self._keys.loc[index[0]]}"
                raise GanforgeError(
                    f"time column {time_column!r} repeats {_show_time(dup, info)}{entity}",
                    where,
                    "give one row per time step (aggregate the duplicates)",
                )
            if (np.diff(t) < 0).any():
                unsorted += 1
            out.append(index[order])
        if unsorted:
            what = "the series" if key is None else f"{unsorted} of {len(groups)} sequences"
            message = f"rows of {what} were not in {time_column!r} order: sorted"
            notes.append(message)
            warnings.warn(message, stacklevel=3)
        return out

    def _static_blocks(self) -> dict[str, tuple[int, int]]:
        out, start = {}, 0
        for c in self.static.columns:
            out[c.name] = (start, c.width)
            start += c.width
        return out

    # ---- decode ------------------------------------------------------------------------------
    def decode(self, array: np.ndarray, seed: int = 0) -> pd.DataFrame:
        """Model arrays (n, seq_len, F + 1 + A) -> long table: sequence_id, step, the columns."""
        meta, layout = self.meta, self.meta["layout"]
        n, steps, _ = array.shape
        features = layout["features"]
        attrs = array[:, 0, features + 1 :].astype(np.float64)
        static = None
        if self.static is not None:
            block = attrs.copy()
            for act, start, _ in self.static.spans():
                if act == "tanh":
                    block[:, start] = block[:, start] * 2.0 - 1.0
            static = self.static.inverse_transform(block, seed=seed)
        if static is not None and LENGTH in static.columns:
            lengths = static[LENGTH].to_numpy().astype(np.int64)
        else:
            lengths = np.full(
                n, meta["lengths"]["max"] if meta["lengths"]["max"] <= steps else steps
            )
        lengths = np.clip(lengths, 1, steps)
        seq = np.repeat(np.arange(n, dtype=np.int64), lengths)
        step = np.concatenate([np.arange(k, dtype=np.int64) for k in lengths])
        full = np.ones((n * steps, meta["step_width"]), dtype=np.float64)
        full[:, meta["step_keep"]] = array[:, :, :features].reshape(n * steps, features)
        for act, start, _ in self.steps.spans():
            if act == "tanh":
                full[:, start] = full[:, start] * 2.0 - 1.0
        valid = (np.arange(steps)[None, :] < lengths[:, None]).reshape(-1)
        values = self.steps.inverse_transform(full[valid], seed=seed)
        out = {"sequence_id": seq, "step": step}
        for name in meta["order"]:
            if name == meta["time_column"]:
                out[name] = self._times(static, lengths, n)
            elif name in meta["static_columns"]:
                out[name] = static[name].to_numpy()[seq]
            else:
                out[name] = values[name].array  # (extension dtypes such as Int64 kept)
        frame = pd.DataFrame(out)
        for name in meta["static_columns"]:
            dtype = static[name].dtype
            frame[name] = frame[name].astype(dtype)
        return frame

    def _times(self, static, lengths, n) -> pd.Series | np.ndarray:
        info = self.meta["time"]
        origin = info["origin"]
        if static is not None and CADENCE in static.columns:
            cadence = static[CADENCE].to_numpy(np.float64)
        else:
            cadence = np.full(n, info["cadence"])
        start = static[START].to_numpy(np.float64)
        safe = np.where(cadence > 0, cadence, 1.0)
        start = origin + np.round((start - origin) / safe) * safe  # on the input's grid
        step = np.concatenate([np.arange(k) for k in lengths])
        t = np.repeat(start, lengths) + step * np.repeat(cadence, lengths)
        if info["kind"] == "number":
            if "int" in info["dtype"]:
                return np.round(t).astype(info["dtype"])
            return t.astype(info["dtype"])
        stamps = pd.to_datetime(np.round(t * 1e9).astype(np.int64), unit="ns")
        if info["format"]:
            return stamps.strftime(info["format"]).to_numpy(dtype=object)
        return stamps.to_numpy()

    # ---- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Plain types only (saved in the .gfs file)."""
        return {
            "meta": self.meta,
            "steps": self.steps.to_dict(),
            "static": None if self.static is None else self.static.to_dict(),
        }

    @classmethod
    def from_dict(cls, state: dict) -> SeriesEncoder:
        """Rebuild what to_dict saved."""
        encoder = cls()
        encoder.meta = state["meta"]
        encoder.steps = TableTransformer.from_dict(state["steps"])
        encoder.static = (
            None if state["static"] is None else TableTransformer.from_dict(state["static"])
        )
        return encoder
