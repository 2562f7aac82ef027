"""Sequences from a long-format table: windows of `seq_len` steps, scaled to [0, 1] per column.

One long series (no key) or many entities (a `sequence_key` column, rows in time order within
each entity, of any length >= 2) are both cut into overlapping windows of `seq_len` steps,
stride 1 (the TimeGAN protocol); each column is min-max scaled over all rows. Entities shorter
than `seq_len` give no window (said in the notes). Per-step columns must be numeric (integers
and booleans are rounded back on decode); text columns are not yet supported.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganforge.errors import GanforgeError

EPS = 1e-7  # TimeGAN's min-max denominator guard


def check_seq_len(seq_len) -> int:
    """`seq_len` as an int >= 2 (a window needs a step and a next step)."""
    if isinstance(seq_len, bool) or not isinstance(seq_len, (int, np.integer)) or seq_len < 2:
        raise GanforgeError(
            f"--seq-len {seq_len}: a window needs at least 2 steps", fix="pass --seq-len 24"
        )
    return int(seq_len)


def _columns(frame: pd.DataFrame, sequence_key: str | None, where: str | None) -> list[dict]:
    """Per-step column metadata (name, dtype, kind, min, max), checked."""
    if sequence_key is not None and sequence_key not in frame.columns:
        raise GanforgeError(
            f"--sequence-key {sequence_key!r} is not a column",
            where,
            f"columns are: {', '.join(map(str, frame.columns))}",
        )
    meta = []
    for name in frame.columns:
        if name == sequence_key:
            continue
        values = frame[name]
        if values.isna().all():
            raise GanforgeError(f"column {name!r} is all missing", where, "drop it from the table")
        if pd.api.types.is_bool_dtype(values):
            kind = "bool"
        elif pd.api.types.is_integer_dtype(values):
            kind = "integer"
        elif pd.api.types.is_float_dtype(values):
            kind = "float"
        else:
            raise GanforgeError(
                f"column {name!r} is not numeric ({values.dtype}): discrete and text per-step "
                "columns are not yet supported by `series fit`",
                where,
                "drop the column or encode it as numbers",
            )
        numbers = values.astype("float64")
        meta.append(
            {
                "name": str(name),
                "dtype": str(values.dtype),
                "kind": kind,
                "min": float(numbers.min()),
                "max": float(numbers.max()),
            }
        )
    if not meta:
        raise GanforgeError("the table has no per-step column to learn", where, "add one")
    return meta


def windows_of(
    frame: pd.DataFrame, seq_len, sequence_key: str | None = None, where: str | None = None
) -> tuple[np.ndarray, dict, list[str]]:
    """(windows float32 (N, seq_len, features) in [0, 1], metadata, notes) of a long table;
    `where` (e.g. the CSV's path) is named in the errors."""
    seq_len = check_seq_len(seq_len)
    if not isinstance(frame, pd.DataFrame) or len(frame) == 0 or frame.shape[1] == 0:
        raise GanforgeError("the table is empty", where, "give a table with rows and columns")
    columns = _columns(frame, sequence_key, where)
    names = [c["name"] for c in columns]
    notes: list[str] = []
    values = frame[names].astype("float64")
    if values.isna().any().any():
        gaps = int(values.isna().sum().sum())
        notes.append(
            f"{gaps} missing values filled from the previous (else next) step; missing values "
            "are not learned yet"
        )
    if sequence_key is None:
        groups = [values]
    else:
        keys = frame[sequence_key]
        groups = [g for _, g in values.groupby(keys.to_numpy(), sort=False)]
        single = [k for k, n in keys.value_counts(sort=False).items() if n == 1]
        if single:
            raise GanforgeError(
                f"sequence key {sequence_key!r}: {len(single)} sequence(s) have 1 row "
                f"(e.g. {sequence_key}={single[0]})",
                where,
                "a sequence needs at least 2 steps: drop them or choose another key",
            )
    lo = np.array([c["min"] for c in columns])
    span = np.array([c["max"] - c["min"] for c in columns]) + EPS
    windows, short = [], 0
    for group in groups:
        steps = group.ffill().bfill().to_numpy()
        if len(steps) < seq_len:
            short += 1
            continue
        scaled = (steps - lo) / span
        view = np.lib.stride_tricks.sliding_window_view(scaled, seq_len, axis=0)
        windows.append(view.transpose(0, 2, 1))
    if not windows:
        longest = max(len(g) for g in groups)
        what = "the series has" if sequence_key is None else "the longest sequence has"
        raise GanforgeError(
            f"{what} {longest} rows, fewer than --seq-len {seq_len}",
            where,
            f"pass --seq-len {longest} or less",
        )
    if short:
        notes.append(f"{short} of {len(groups)} sequences are shorter than --seq-len: skipped")
    meta = {"columns": columns, "seq_len": seq_len, "sequence_key": sequence_key}
    return np.concatenate(windows).astype(np.float32), meta, notes


def decode(windows: np.ndarray, meta: dict) -> pd.DataFrame:
    """Scaled windows (n, seq_len, features) -> the long table: sequence_id, step, columns."""
    n, steps, _ = windows.shape
    out = {
        "sequence_id": np.repeat(np.arange(n, dtype=np.int64), steps),
        "step": np.tile(np.arange(steps, dtype=np.int64), n),
    }
    flat = windows.reshape(n * steps, -1).astype(np.float64)
    for j, c in enumerate(meta["columns"]):
        column = np.clip(flat[:, j], 0.0, 1.0) * (c["max"] - c["min"] + EPS) + c["min"]
        column = np.clip(column, c["min"], c["max"])
        if c["kind"] == "bool":
            out[c["name"]] = column >= 0.5
        elif c["kind"] == "integer":
            out[c["name"]] = pd.Series(np.round(column)).astype(c["dtype"]).to_numpy()
        else:
            out[c["name"]] = pd.Series(column).astype(c["dtype"]).to_numpy()
    frame = pd.DataFrame(out)
    for c in meta["columns"]:  # nullable dtypes (Int64, Float64) come back as the input's
        frame[c["name"]] = frame[c["name"]].astype(c["dtype"])
    return frame
