"""Business rules that hold on every generated row (declared in the table metadata).

    {"type": "inequality", "low": "checkin", "high": "checkout", "strict": true}
    {"type": "range", "column": "age", "min": 0, "max": 120}
    {"type": "positive", "column": "capital-gain"}          (or "negative"; "strict": true: > 0)
    {"type": "fixed_combinations", "columns": ["city", "country"]}
    {"type": "formula", "column": "total", "expression": "price * qty"}
    {"type": "one_of", "columns": ["phone", "email"], "exactly": true}

Most hold by construction, as SDV's reversible constraints do: `transform` rewrites the real table
before the fit (the later column of an inequality becomes its non-negative distance to the
earlier one; a fixed combination becomes one categorical column of the combinations seen; a
formula column is dropped; exactly-one-of gets a column naming which one is set) and `reverse`
rebuilds the columns after sampling. Every rule also has `valid`, which the model applies to
each generated chunk: rows that still break a rule (rounding, an at-least-one-of rule) are
rejected and drawn again, and the rejection rate is reported.

A formula is parsed with `ast` into arithmetic on column names and numbers only (+ - * / // %
**, unary minus, parentheses); names with other characters are written in backticks
(`` `capital-gain` * 2 ``). Nothing is ever passed to eval.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from ganforge.errors import GanforgeError

KINDS = ("inequality", "range", "positive", "negative", "fixed_combinations", "formula", "one_of")


def numbers_of(series: pd.Series) -> np.ndarray:
    """A column as float64 (datetimes: seconds since the epoch; missing: nan)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        ns = series.to_numpy().astype("datetime64[ns]").astype(np.int64).astype(np.float64)
        ns[series.isna().to_numpy()] = np.nan
        return ns / 1e9
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)


def _like(template: pd.Series, values: np.ndarray, index) -> pd.Series:
    """Float values back in the kind of `template` (datetimes, ints where whole)."""
    if pd.api.types.is_datetime64_any_dtype(template):
        return pd.Series(pd.to_datetime(values * 1e9, unit="ns"), index=index)
    out = pd.Series(values, index=index)
    if pd.api.types.is_integer_dtype(template) or str(template.dtype) == "Int64":
        if out.isna().any():
            return out.round().astype("Int64")
        return out.round().astype("int64")
    return out


def _is_set(series: pd.Series) -> np.ndarray:
    """Set: not missing, and not False for a boolean column."""
    values = series.to_numpy(dtype=object)
    return np.array([not (v is None or v is pd.NA or v is False or v != v) for v in values])


class Constraint:
    """One rule: `fit` on the typed real table, `transform` before the model's fit, `reverse`
    after sampling, `valid` for any typed table (a boolean per row)."""

    kind = ""
    by_construction = True

    def __init__(self, spec: dict):
        self.spec = dict(spec)
        self.state: dict[str, Any] = {}

    @property
    def columns(self) -> list[str]:
        return []

    def describe(self) -> str:
        return self.kind

    def fit(self, frame: pd.DataFrame) -> None:
        pass

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame

    def reverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame

    def valid(self, frame: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def to_dict(self) -> dict:
        return {"spec": self.spec, "state": self.state}


def _name(spec: dict, key: str, where: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value:
        raise GanforgeError(f"{where}: {key!r} must name a column", fix=f'add "{key}": "COL"')
    return value


def _names(spec: dict, key: str, where: str, least: int) -> list[str]:
    value = spec.get(key)
    if (
        not isinstance(value, list)
        or len(value) < least
        or not all(isinstance(v, str) for v in value)
    ):
        raise GanforgeError(
            f"{where}: {key!r} must list at least {least} column names", fix=f'"{key}": ["a", "b"]'
        )
    return list(value)


def _number(spec: dict, key: str, where: str) -> float | str | None:
    value = spec.get(key)
    if value is None or isinstance(value, str):
        return value  # (a string: a date, parsed when the column is known)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise GanforgeError(f"{where}: {key!r} must be a number or a date", fix=f'"{key}": 0')
    return float(value)


SPIKE_SHARE = 0.1  # (the transformer's spike_share: a value this common is reproduced exactly)


class Inequality(Constraint):
    """low <= high (strict: <), numbers or dates; the high column is learned as high - low.

    Except where one value of the high column is held by >= 10% of the rows (a censoring date:
    MASS::Aids2's death = 1991-07-01, the end of observation, on 37% of the patients): as a gap
    that value would be smeared over every low value (its column shape 0.96 -> 0.62 on Aids2), so
    the column is learned as it is, with its spike, and the rule holds by rejection.
    `"handling": "transform"` or `"reject"` chooses either way.
    """

    kind = "inequality"

    def __init__(self, spec: dict, where: str = "constraint"):
        super().__init__(spec)
        self.low, self.high = _name(spec, "low", where), _name(spec, "high", where)
        self.strict = bool(spec.get("strict", False))
        self.handling = spec.get("handling", "auto")
        if self.handling not in ("auto", "transform", "reject"):
            raise GanforgeError(
                f"{where}: inequality handling {self.handling!r} is not auto, transform or reject",
                fix='"handling": "auto"',
            )

    @property
    def by_construction(self) -> bool:
        return not self.state.get("by_rejection", False)

    @property
    def columns(self) -> list[str]:
        return [self.low, self.high]

    def describe(self) -> str:
        return f"{self.high} {'>' if self.strict else '>='} {self.low}"

    def valid(self, frame):
        lo, hi = numbers_of(frame[self.low]), numbers_of(frame[self.high])
        with np.errstate(invalid="ignore"):
            ok = hi > lo if self.strict else hi >= lo
        return ok | np.isnan(lo) | np.isnan(hi)  # a missing side: nothing to compare

    def fit(self, frame):
        diff = numbers_of(frame[self.high]) - numbers_of(frame[self.low])
        diff = diff[np.isfinite(diff)]
        # the smallest real gap: a strict rule never rounds down to equality
        self.state["min_gap"] = float(diff[diff > 0].min()) if (diff > 0).any() else 0.0
        self.state["dtype"] = str(frame[self.high].dtype)
        if self.handling == "auto":
            high = frame[self.high].dropna()
            top = high.value_counts().iloc[0] / len(frame) if len(high) else 0.0
            self.state["by_rejection"] = bool(top >= SPIKE_SHARE)
        else:
            self.state["by_rejection"] = self.handling == "reject"

    def transform(self, frame):
        if self.state.get("by_rejection"):
            return frame
        out = frame.copy()
        out[self.high] = numbers_of(frame[self.high]) - numbers_of(frame[self.low])
        return out

    def reverse(self, frame):
        if self.state.get("by_rejection"):
            return frame
        out = frame.copy()
        gap = np.abs(numbers_of(frame[self.high]))
        if self.strict:
            gap = np.where(gap > 0, gap, self.state.get("min_gap", 0.0))
        values = numbers_of(frame[self.low]) + gap
        dtype = self.state.get("dtype", "float64")
        if dtype.startswith("datetime64"):
            out[self.high] = pd.Series(pd.to_datetime(values * 1e9, unit="ns"), index=frame.index)
        else:
            out[self.high] = _typed_like(pd.Series(values, index=frame.index), dtype)
        return out


class Range(Constraint):
    """min <= column <= max (either side optional); folded back in by reflection."""

    kind = "range"

    def __init__(self, spec: dict, where: str = "constraint"):
        super().__init__(spec)
        self.column = _name(spec, "column", where)
        self.min, self.max = _number(spec, "min", where), _number(spec, "max", where)
        self.strict = bool(spec.get("strict", False))
        if self.min is None and self.max is None:
            raise GanforgeError(f"{where}: a range needs min, max or both", fix='"min": 0')
        if isinstance(self.min, float) and isinstance(self.max, float) and self.min > self.max:
            raise GanforgeError(
                f"{where}: range {self.column} min {self.min:g} > max {self.max:g}: no row can "
                "satisfy it",
                fix="swap min and max",
            )

    @property
    def columns(self) -> list[str]:
        return [self.column]

    def describe(self) -> str:
        op = "<" if self.strict else "<="
        left = f"{self.min} {op} " if self.min is not None else ""
        right = f" {op} {self.max}" if self.max is not None else ""
        return f"{left}{self.column}{right}"

    def _bounds(self, series: pd.Series) -> tuple[float, float]:
        def one(v, default):
            if v is None:
                return default
            if isinstance(v, str):
                return float(numbers_of(pd.Series(pd.to_datetime([v])))[0])
            return float(v)

        return one(self.min, -np.inf), one(self.max, np.inf)

    def valid(self, frame):
        x = numbers_of(frame[self.column])
        lo, hi = self._bounds(frame[self.column])
        with np.errstate(invalid="ignore"):
            ok = ((x > lo) & (x < hi)) if self.strict else ((x >= lo) & (x <= hi))
        return ok | np.isnan(x)

    def reverse(self, frame):
        x = numbers_of(frame[self.column])
        lo, hi = self._bounds(frame[self.column])
        if np.isfinite(lo) and np.isfinite(hi):
            from ganforge.tabular.transformer import reflect

            y = reflect(x, lo, hi)
        elif np.isfinite(lo):
            y = np.where(x < lo, 2 * lo - x, x)
        else:
            y = np.where(x > hi, 2 * hi - x, x)
        out = frame.copy()
        out[self.column] = _like(frame[self.column], y, frame.index)
        return out


class Sign(Range):
    """positive (>= 0; strict: > 0) or negative (<= 0; strict: < 0)."""

    def __init__(self, spec: dict, where: str = "constraint"):
        self.kind = spec["type"]
        zero = {"min": 0} if self.kind == "positive" else {"max": 0}
        super().__init__({**spec, **zero}, where)
        self.spec = dict(spec)

    def describe(self) -> str:
        op = (">" if self.kind == "positive" else "<") + ("" if self.strict else "=")
        return f"{self.column} {op} 0"


def _combo_key(values: tuple) -> tuple:
    from ganforge.tabular.transformer import level_key, plain_value

    return tuple(level_key(plain_value(v)) for v in values)


class FixedCombinations(Constraint):
    """Only the combinations of these columns' values seen in the real table; learned as one
    categorical column of those combinations."""

    kind = "fixed_combinations"

    def __init__(self, spec: dict, where: str = "constraint"):
        super().__init__(spec)
        self.names = _names(spec, "columns", where, 2)
        self.merged = "|".join(self.names)

    @property
    def columns(self) -> list[str]:
        return list(self.names)

    def describe(self) -> str:
        return f"fixed combinations of {', '.join(self.names)}"

    def fit(self, frame):
        from ganforge.tabular.transformer import plain_value

        seen, combos = set(), []
        for row in frame[self.names].itertuples(index=False, name=None):
            key = _combo_key(row)
            if key not in seen:
                seen.add(key)
                combos.append([plain_value(v) for v in row])
        self.state["combos"] = combos
        self.state["dtypes"] = [str(frame[c].dtype) for c in self.names]
        self._keys = None

    def _index(self) -> dict:
        if getattr(self, "_keys", None) is None:
            self._keys = {_combo_key(tuple(c)): i for i, c in enumerate(self.state["combos"])}
        return self._keys

    def valid(self, frame):
        index = self._index()
        rows = frame[self.names].itertuples(index=False, name=None)
        return np.array([_combo_key(r) in index for r in rows], dtype=bool)

    def transform(self, frame):
        index = self._index()
        rows = frame[self.names].itertuples(index=False, name=None)
        codes = [f"combination {index.get(_combo_key(r), -1)}" for r in rows]
        out = frame.drop(columns=self.names)
        out[self.merged] = codes
        return out

    def reverse(self, frame):
        combos = self.state["combos"]
        codes = frame[self.merged].astype(str).str.rsplit(" ", n=1).str[-1].astype(int).to_numpy()
        out = frame.drop(columns=[self.merged])
        for j, (name, dtype) in enumerate(zip(self.names, self.state["dtypes"], strict=True)):
            values = pd.Series([combos[k][j] for k in codes], index=frame.index, dtype=object)
            out[name] = _typed_like(values, dtype)
        return out


def _typed_like(values: pd.Series, dtype: str) -> pd.Series:
    try:
        if dtype.startswith(("int", "Int")):
            if values.isna().any():
                return pd.to_numeric(values).round().astype("Int64")
            return pd.to_numeric(values).round().astype(dtype)
        if dtype.startswith("float"):
            return values.astype("float64")
        if dtype == "bool":
            return values.astype(object) if values.isna().any() else values.astype(bool)
        if dtype.startswith("datetime64"):
            return pd.to_datetime(values)
    except (TypeError, ValueError):
        pass
    return values


_OPS = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: np.power,
}


def parse_formula(text: str, where: str = "formula") -> tuple[ast.AST, list[str]]:
    """(the checked expression tree, the column names it reads): arithmetic on names and
    numbers only; `back-quoted` names may hold any character."""
    if not isinstance(text, str) or not text.strip():
        raise GanforgeError(f"{where}: the expression is empty", fix='e.g. "price * qty"')
    quoted: list[str] = []

    def hold(m: re.Match) -> str:
        quoted.append(m.group(1))
        return f"__q{len(quoted) - 1}__"

    source = re.sub(r"`([^`]+)`", hold, text)
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as e:
        raise GanforgeError(
            f"{where}: {text!r} is not an arithmetic expression ({e.msg})",
            fix="use + - * / // % ** on column names and numbers",
        ) from None
    names: list[str] = []

    def check(node: ast.AST) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            check(node.left), check(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            check(node.operand)
        elif isinstance(node, ast.Name):
            m = re.fullmatch(r"__q(\d+)__", node.id)
            node.id = quoted[int(m.group(1))] if m else node.id
            names.append(node.id)
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            pass
        else:
            raise GanforgeError(
                f"{where}: {ast.unparse(node)!r} in {text!r} is not allowed",
                fix="only + - * / // % ** on column names and numbers",
            )

    check(tree)
    return tree, names


def evaluate(tree: ast.AST, frame: pd.DataFrame) -> np.ndarray:
    """The parsed expression on the frame's columns (float64; missing in, nan out)."""
    if isinstance(tree, ast.BinOp):
        with np.errstate(all="ignore"):
            return _OPS[type(tree.op)](evaluate(tree.left, frame), evaluate(tree.right, frame))
    if isinstance(tree, ast.UnaryOp):
        value = evaluate(tree.operand, frame)
        return -value if isinstance(tree.op, ast.USub) else value
    if isinstance(tree, ast.Name):
        return numbers_of(frame[tree.id])
    return np.full(len(frame), float(tree.value))


class Formula(Constraint):
    """column = expression of other columns; not learned, computed after sampling."""

    kind = "formula"

    def __init__(self, spec: dict, where: str = "constraint"):
        super().__init__(spec)
        self.column = _name(spec, "column", where)
        self.expression = spec.get("expression")
        self.tree, self.inputs = parse_formula(self.expression, where)
        if self.column in self.inputs:
            raise GanforgeError(f"{where}: {self.column!r} cannot be computed from itself")

    @property
    def columns(self) -> list[str]:
        return [self.column, *self.inputs]

    def describe(self) -> str:
        return f"{self.column} = {self.expression}"

    def fit(self, frame):
        from ganforge.tabular.transformer import _decimals

        x = numbers_of(frame[self.column])
        x = x[np.isfinite(x)]
        self.state["decimals"] = _decimals(x) if len(x) else -1
        self.state["dtype"] = str(frame[self.column].dtype)

    def _computed(self, frame) -> np.ndarray:
        y = evaluate(self.tree, frame)
        d = self.state.get("decimals", -1)
        return np.round(y, d) if d >= 0 else y

    def valid(self, frame):
        x, y = numbers_of(frame[self.column]), evaluate(self.tree, frame)
        d = self.state.get("decimals", -1)
        tol = 0.5 * 10.0 ** (-d) + 1e-9 if d >= 0 else 0.0
        with np.errstate(invalid="ignore"):
            ok = np.abs(x - y) <= tol + 1e-9 * np.abs(y)
        return ok | (np.isnan(x) & np.isnan(y))

    def transform(self, frame):
        return frame.drop(columns=[self.column])

    def reverse(self, frame):
        out = frame.copy()
        y = self._computed(frame)
        y = np.where(np.isfinite(y), y, np.nan)
        out[self.column] = _typed_like(pd.Series(y, index=frame.index), self.state["dtype"])
        return out


class OneOf(Constraint):
    """At least one (exactly: exactly one) of these columns is set (not missing, not False)."""

    kind = "one_of"

    def __init__(self, spec: dict, where: str = "constraint"):
        super().__init__(spec)
        self.names = _names(spec, "columns", where, 2)
        self.exactly = bool(spec.get("exactly", True))
        self.by_construction = self.exactly
        self.selector = "__which of " + "|".join(self.names)

    @property
    def columns(self) -> list[str]:
        return list(self.names)

    def describe(self) -> str:
        return f"{'exactly' if self.exactly else 'at least'} one of {', '.join(self.names)} set"

    def valid(self, frame):
        count = sum(_is_set(frame[c]).astype(int) for c in self.names)
        return count == 1 if self.exactly else count >= 1

    def transform(self, frame):
        if not self.exactly:
            return frame
        out = frame.copy()
        which = np.full(len(frame), "(none)", dtype=object)
        for c in reversed(self.names):
            which[_is_set(frame[c])] = c
        out[self.selector] = which
        return out

    def reverse(self, frame):
        if not self.exactly:
            return frame
        out = frame.drop(columns=[self.selector])
        which = frame[self.selector].astype(str).to_numpy()
        for c in self.names:
            other = which != c
            column = out[c]
            if pd.api.types.is_bool_dtype(column):
                out[c] = column & ~other
            else:
                if pd.api.types.is_integer_dtype(column):
                    column = column.astype("Int64")
                out[c] = column.mask(other)
        return out


def build(spec: Any, where: str = "constraint") -> Constraint:
    """A constraint object from its metadata entry (an unknown or malformed one: one line)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise GanforgeError(
            f'{where} must be an object with a "type"', fix=f"types: {', '.join(KINDS)}"
        )
    kind = spec["type"]
    classes = {
        "inequality": Inequality,
        "range": Range,
        "positive": Sign,
        "negative": Sign,
        "fixed_combinations": FixedCombinations,
        "formula": Formula,
        "one_of": OneOf,
    }
    if kind not in classes:
        raise GanforgeError(f"{where}: unknown type {kind!r}", fix=f"types: {', '.join(KINDS)}")
    return classes[kind](spec, where)


def from_dict(state: dict) -> Constraint:
    c = build(state["spec"])
    c.state = dict(state.get("state") or {})
    return c


# ---- conditions (`--where "age>=30,age<40,sex=Female"`) -----------------------------------------

_CONDITION = re.compile(r"^\s*(.+?)\s*(>=|<=|!=|==|=|>|<)\s*(.*?)\s*$", re.S)


def parse_where(items: list[str] | str | None) -> list[tuple[str, str, str]]:
    """--where texts (each one or several comma-separated conditions) as (column, op, value)."""
    if items is None:
        return []
    if isinstance(items, str):
        items = [items]
    out = []
    for item in items:
        for part in _split(item):
            m = _CONDITION.match(part)
            if not m or not m.group(1):
                raise GanforgeError(
                    f"--where {part!r} is not COLUMN=VALUE nor a comparison (!= < <= > >=)",
                    fix='e.g. --where "age>=30,age<40,sex=Female" (ops: = != < <= > >=)',
                )
            op = "=" if m.group(2) == "==" else m.group(2)
            out.append((m.group(1), op, m.group(3)))
    return out


def _split(text: str) -> list[str]:
    """Comma-separated conditions; a comma inside a value stays (the next part has no op)."""
    parts: list[str] = []
    for piece in text.split(","):
        if parts and not _CONDITION.match(piece):
            parts[-1] += "," + piece
        else:
            parts.append(piece)
    return [p for p in parts if p.strip()]


def condition_holds(series: pd.Series, op: str, value: str) -> np.ndarray:
    """Which rows hold `column op value` (numbers and dates compared as such, else text)."""
    from ganforge.tabular.transformer import plain_value

    if op in ("=", "!="):
        from ganforge.tabular.model import _same_level

        eq = np.array([_same_level(plain_value(v), value) for v in series], dtype=bool)
        return eq if op == "=" else ~eq
    x, v = _comparable(series, value)
    if np.isnan(x).all() and series.notna().any():
        raise GanforgeError(
            f"--where {series.name}{op}{value}: {series.name!r} holds text; a comparison needs "
            "a number or a date column",
            fix="compare text columns with = or !=",
        )
    with np.errstate(invalid="ignore"):
        return {">": x > v, ">=": x >= v, "<": x < v, "<=": x <= v}[op]


def _comparable(series: pd.Series, value: str) -> tuple[np.ndarray, float]:
    try:
        v = float(value)
        return numbers_of(series), v
    except ValueError:
        pass
    try:
        stamp = pd.to_datetime([value])
    except (ValueError, TypeError):
        raise GanforgeError(
            f"--where {series.name}{value!r}: a comparison needs a number or a date",
            fix="compare text columns with = or !=",
        ) from None
    parsed = (
        series
        if pd.api.types.is_datetime64_any_dtype(series)
        else pd.to_datetime(series, errors="coerce")
    )
    return numbers_of(parsed), float(numbers_of(pd.Series(stamp))[0])
