"""Table metadata: what each column is, its role, its bounds, and the rules rows obey (JSON).

    {"format": "ganforge-table-metadata", "version": 1,
     "columns": {
        "id":       {"type": "id", "role": "primary_key"},
        "age":      {"type": "numerical", "subtype": "integer", "min": 17, "max": 90},
        "fnlwgt":   {"type": "numerical", "subtype": "float", "rounding": 2},
        "sex":      {"type": "categorical"},
        "member":   {"type": "boolean"},
        "checkin":  {"type": "datetime", "format": "%Y-%m-%d"},
        "notes":    {"type": "text", "handling": "drop"},         (or "categorical")
        "firm":     {"type": "id", "role": "foreign_key", "references": "firms.firm"},
        "year":     {"type": "numerical", "subtype": "integer", "role": "sequence_key"}},
     "constraints": [{"type": "inequality", "low": "checkin", "high": "checkout"}, ...]}

Several related tables: {"format": ..., "tables": {"firms": {"columns": ...}, "years": {...}}}
(the foreign keys' "references" link them; see ganforge.tabular.multi).

`detect(frame)` writes the metadata of a table (the decisions `describe` prints); a `Plan` applies
one to a fit: it types the columns (dates parsed with their format, booleans, text dropped), lists
the discrete and id columns for the transformer, applies the constraints' transforms, and after
sampling reverses them, rounds, folds values into their bounds and writes dates back in their
format. Ids (a primary key) are never learned: fresh unique ids of the same format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganforge.errors import GanforgeError
from ganforge.tabular import constraints as rules

FORMAT = "ganforge-table-metadata"
VERSION = 1
TYPES = ("numerical", "categorical", "boolean", "datetime", "id", "text")
ROLES = ("primary_key", "foreign_key", "sequence_key")
TEXT_LENGTH = 30  # text with values this long on average and mostly unique: free text


# ---- detection ---------------------------------------------------------------------------------
def detect_column(name: str, series: pd.Series, discrete_threshold: int = 10) -> dict:
    """The metadata entry of one column, from its values."""
    from ganforge.tabular.transformer import (
        TableTransformer,
        _decimals,
        _looks_like_ids,
        datetime_format_of,
        is_bool_like,
    )

    values = series.dropna()
    if values.empty:
        return {"type": "categorical"}
    if is_bool_like(series):
        return {"type": "boolean"}
    dtype, numbers = TableTransformer._logical_type(series, values)
    if dtype == "datetime":
        fmt = "" if pd.api.types.is_datetime64_any_dtype(series) else datetime_format_of(series)
        entry = {"type": "datetime", "format": fmt or "%Y-%m-%d %H:%M:%S"}
        parsed = pd.to_datetime(values, format=fmt or None)
        entry["min"], entry["max"] = (
            v.strftime(entry["format"]) for v in (parsed.min(), parsed.max())
        )
        return entry
    if numbers is None and _free_text(values):
        return {"type": "text", "handling": "drop"}
    if _looks_like_ids(name, series, dtype, numbers):
        return {"type": "id", "role": "primary_key"}
    if numbers is not None:
        if dtype == "int" and values.nunique() <= discrete_threshold:
            return {"type": "categorical"}
        entry = {"type": "numerical", "subtype": "integer" if dtype == "int" else "float"}
        if dtype != "int":
            d = _decimals(numbers)
            if d >= 0:
                entry["rounding"] = d
        lo, hi = float(numbers.min()), float(numbers.max())
        entry["min"], entry["max"] = (int(lo), int(hi)) if dtype == "int" else (lo, hi)
        return entry
    return {"type": "categorical"}


def _free_text(values: pd.Series) -> bool:
    """Long, mostly unique values with spaces: sentences, not codes or levels."""
    text = values.astype(str)
    return bool(
        text.str.len().mean() >= TEXT_LENGTH
        and values.nunique() > 0.5 * len(values)
        and text.str.contains(" ").mean() > 0.5
    )


def detect(frame: pd.DataFrame) -> dict:
    """The metadata of a table (one primary key at most: the first id-like column)."""
    columns: dict[str, dict] = {}
    keyed = False
    for name in frame.columns:
        entry = detect_column(str(name), frame[name])
        if entry.get("role") == "primary_key":
            if keyed:
                entry.pop("role")
            keyed = True
        columns[str(name)] = entry
    return {"format": FORMAT, "version": VERSION, "columns": columns, "constraints": []}


def describe(meta: dict) -> list[str]:
    """One line per column: the type, role and bounds decided."""
    lines = []
    for name, entry in meta["columns"].items():
        kind = entry["type"]
        extra = []
        if kind == "numerical":
            extra.append(entry.get("subtype", "float"))
            if "rounding" in entry:
                extra.append(f"rounded to {entry['rounding']} decimals")
        if kind == "datetime":
            extra.append(f"format {entry.get('format') or 'ISO'}")
        if kind == "text":
            extra.append("dropped" if entry.get("handling", "drop") == "drop" else "as categories")
        if "min" in entry or "max" in entry:
            extra.append(f"{entry.get('min', '')}..{entry.get('max', '')}")
        if entry.get("role"):
            role = entry["role"].replace("_", " ")
            extra.append(role + (f" -> {entry['references']}" if entry.get("references") else ""))
        if kind == "id":
            extra.append("fresh ids, never learned")
        lines.append(f"{name}: {kind}" + (f" ({', '.join(extra)})" if extra else ""))
    for spec in meta.get("constraints", []):
        lines.append(f"constraint: {rules.build(spec).describe()}")
    return lines


# ---- files -------------------------------------------------------------------------------------
def save(meta: dict, path: str | Path) -> Path:
    from ganforge.tabular.io import atomic_write_text

    return atomic_write_text(json.dumps(meta, indent=2) + "\n", path)


def load(path: str | Path) -> dict:
    """Read and check a metadata file (malformed: one line naming the file and the entry)."""
    where = str(path)
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GanforgeError("no such metadata file", where) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise GanforgeError(f"metadata is not valid JSON ({e})", where, "fix the JSON") from None
    check(meta, where)
    return meta


def check(meta: Any, where: str = "metadata") -> None:
    """The structure of a metadata dict (one table or several)."""
    if not isinstance(meta, dict):
        raise GanforgeError("metadata must be a JSON object", where, 'give {"columns": {...}}')
    if "tables" in meta:
        tables = meta["tables"]
        if not isinstance(tables, dict) or not tables:
            raise GanforgeError("metadata 'tables' must map table names to tables", where)
        for name, table in tables.items():
            check_table(table, f"{where}: table {name!r}")
        return
    check_table(meta, where)


def check_table(meta: Any, where: str) -> None:
    if not isinstance(meta, dict) or not isinstance(meta.get("columns"), dict):
        raise GanforgeError(
            "metadata needs 'columns' mapping each column to {\"type\": ...}",
            where,
            "write one with `ganforge tabular metadata data.csv -o meta.json`",
        )
    for name, entry in meta["columns"].items():
        if not isinstance(entry, dict) or entry.get("type") not in TYPES:
            raise GanforgeError(f"column {name!r}: type must be one of {', '.join(TYPES)}", where)
        role = entry.get("role")
        if role is not None and role not in ROLES:
            raise GanforgeError(f"column {name!r}: role must be one of {', '.join(ROLES)}", where)
        if role == "foreign_key" and not isinstance(entry.get("references"), str):
            raise GanforgeError(
                f'column {name!r}: a foreign key needs "references": "TABLE.COLUMN"', where
            )
        if entry["type"] == "text" and entry.get("handling", "drop") not in ("drop", "categorical"):
            raise GanforgeError(f"column {name!r}: text handling is drop or categorical", where)
        if entry.get("subtype", "float") not in ("integer", "float"):
            raise GanforgeError(f"column {name!r}: subtype is integer or float", where)
        for key in ("min", "max"):
            v = entry.get(key)
            if v is not None and not isinstance(v, (int, float, str)):
                raise GanforgeError(f"column {name!r}: {key} must be a number or a date", where)
    specs = meta.get("constraints", [])
    if not isinstance(specs, list):
        raise GanforgeError("metadata 'constraints' must be a list", where)
    for i, spec in enumerate(specs):
        c = rules.build(spec, f"{where}: constraint {i + 1}")
        unknown = [n for n in c.columns if n not in meta["columns"]]
        if unknown:
            raise GanforgeError(
                f"constraint {i + 1} ({c.describe()}) names column(s) not in the metadata: "
                f"{', '.join(unknown)}",
                where,
            )


# ---- applying it to a fit ----------------------------------------------------------------------
class Plan:
    """One table's metadata applied to a fit (see the module docstring); plain-type state."""

    def __init__(self, meta: dict, where: str = "metadata"):
        check_table(meta, where)
        self.meta, self.where = meta, where
        self.constraints = [rules.build(s) for s in meta.get("constraints", [])]
        self.columns: list[str] = list(meta["columns"])  # output order (dropped text left out)
        self.notes: list[str] = []
        self.dropped_rows = 0

    def entry(self, name: str) -> dict:
        return self.meta["columns"][name]

    def output_columns(self) -> list[str]:
        return [c for c in self.columns if not self._dropped(c)]

    def _dropped(self, name: str) -> bool:
        e = self.entry(name)
        return e["type"] == "text" and e.get("handling", "drop") == "drop"

    def check_frame(self, frame: pd.DataFrame, where: str) -> None:
        """Every column named exists; keys are unique and present."""
        names = [str(c) for c in frame.columns]
        missing = [c for c in self.columns if c not in names]
        if missing:
            raise GanforgeError(
                f"metadata names column(s) not in the table: {', '.join(missing)}",
                where,
                f"columns are: {', '.join(names[:20])}",
            )
        for name in self.columns:
            if self.entry(name).get("role") == "primary_key":
                series = frame[name]
                if series.isna().any() or series.duplicated().any():
                    from ganforge.tabular.transformer import plain_value

                    repeats = series[series.duplicated()]
                    dup = plain_value(repeats.iloc[0]) if len(repeats) else None
                    raise GanforgeError(
                        f"primary key {name!r} is not unique"
                        + (f" ({dup!r} repeats)" if dup is not None else " (it has gaps)"),
                        where,
                        "fix the keys or drop the role",
                    )

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The table's columns in their declared types (dates as datetime64, booleans)."""
        out = frame[[c for c in self.columns if c in frame.columns]].copy()
        for name in out.columns:
            e = self.entry(name)
            if e["type"] == "datetime" and not pd.api.types.is_datetime64_any_dtype(out[name]):
                fmt = e.get("format") or None
                parsed = pd.to_datetime(out[name], format=fmt, errors="coerce")
                bad = parsed.isna() & out[name].notna()
                if bad.any():
                    raise GanforgeError(
                        f"column {name!r}: {int(bad.sum())} value(s) do not read as dates with "
                        f"format {fmt!r} (e.g. {out[name][bad].iloc[0]!r})",
                        self.where,
                        "fix the format in the metadata",
                    )
                out[name] = parsed
            elif e["type"] == "boolean" and out[name].dtype == object:
                lower = out[name].map(lambda v: str(v).strip().lower() if v == v else v)
                out[name] = lower.map({"true": True, "false": False, "1": True, "0": False})
        return out

    def prepare(self, frame: pd.DataFrame, where: str = "the table"):
        """(the frame the transformer learns, discrete columns, id columns); constraints fit,
        the real rows breaking one reported in `notes` and left out of training."""
        self.check_frame(frame, where)
        typed = self.typed(frame)
        keep = np.ones(len(typed), dtype=bool)
        for c in self.constraints:
            c.fit(typed)
            ok = c.valid(typed)
            if not ok.any():
                raise GanforgeError(
                    f"constraint {c.describe()!r} holds on no row of the table",
                    where,
                    "fix the constraint in the metadata",
                )
            if not ok.all():
                self.notes.append(
                    f"constraint {c.describe()!r}: {100 * (1 - ok.mean()):.2f}% of the real rows "
                    f"({int((~ok).sum())}) break it; left out of training"
                )
            keep &= ok
        if not keep.any():
            raise GanforgeError("no row of the table satisfies every constraint", where)
        self.dropped_rows = int((~keep).sum())
        model = typed[keep].reset_index(drop=True)
        for c in self.constraints:
            c.fit(model)  # (state from the rows learned: combinations, gaps, decimals)
        for c in self.constraints:
            model = c.transform(model)
        model = model.drop(columns=[c for c in self.columns if self._dropped(c) and c in model])
        discrete, ids = [], []
        for name in model.columns:
            e = self.meta["columns"].get(name)
            if e is None:  # made by a constraint: a merged combination or a selector
                if model[name].dtype == object:
                    discrete.append(name)
                continue
            if e["type"] == "id":
                (discrete if e.get("role") == "foreign_key" else ids).append(name)
            elif e["type"] in ("categorical", "boolean", "text"):
                discrete.append(name)
        self.state_dtypes = {c: str(typed[c].dtype) for c in typed.columns}
        return model, discrete, ids

    def finish(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Generated model rows back to the table: constraints reversed, rounding, bounds."""
        out = frame
        for c in reversed(self.constraints):
            out = c.reverse(out)
        for name in out.columns:
            e = self.meta["columns"].get(name)
            if e is None or e["type"] != "numerical":
                continue
            x = rules.numbers_of(out[name])
            lo, hi = e.get("min"), e.get("max")
            if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and hi > lo:
                from ganforge.tabular.transformer import reflect

                x = np.where(np.isnan(x), x, reflect(x, float(lo), float(hi)))
            d = 0 if e.get("subtype") == "integer" else e.get("rounding")
            if isinstance(d, int) and d >= 0:
                x = np.round(x, d)
            series = pd.Series(x, index=out.index)
            if e.get("subtype") == "integer":
                series = series.astype("Int64") if series.isna().any() else series.astype("int64")
            out[name] = series
        return out[[c for c in self.output_columns() if c in out.columns]]

    def valid(self, frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, int]]:
        """(rows that hold every constraint, rows broken per constraint) of finished rows."""
        ok = np.ones(len(frame), dtype=bool)
        broken = {}
        for c in self.constraints:
            v = c.valid(frame)
            broken[c.describe()] = int((~v).sum())
            ok &= v
        return ok, broken

    def formatted(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Dates written back in their declared format (the output CSV's text)."""
        out = frame.copy()
        for name in out.columns:
            e = self.meta["columns"].get(name, {})
            if e.get("type") == "datetime" and e.get("format"):
                if pd.api.types.is_datetime64_any_dtype(out[name]):
                    stamps = out[name]
                    out[name] = (
                        stamps.dt.strftime(e["format"]).astype(object).where(stamps.notna(), None)
                    )
        return out

    def to_dict(self) -> dict:
        return {
            "meta": self.meta,
            "constraints": [c.to_dict() for c in self.constraints],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, state: dict) -> Plan:
        plan = cls(state["meta"])
        plan.constraints = [rules.from_dict(c) for c in state["constraints"]]
        plan.notes = list(state.get("notes") or [])
        return plan
