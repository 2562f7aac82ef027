"""Numeric tables from CSV files: a header row naming the columns, then one number per cell.

Rules: comma-separated, UTF-8 (a byte-order mark is allowed), the first row names the columns
(unique, non-empty), every later row has one value per column; blank lines are skipped. Every
column must be numeric (anything Python's float() reads, surrounding spaces allowed) and
finite; empty cells, NA/NaN/inf and text are errors that name the offending columns, so nothing
is silently dropped or guessed.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganforge.errors import GanforgeError

_SHOWN = 5  # column names quoted in one error line


@dataclass
class NumericTable:
    """A numeric table: values (rows, columns) as float64 and the column names."""

    values: np.ndarray
    columns: list[str]
    source: str = "table"

    def __len__(self) -> int:
        return int(self.values.shape[0])


def _names(columns: list[str]) -> str:
    shown = ", ".join(columns[:_SHOWN])
    return shown + (f" and {len(columns) - _SHOWN} more" if len(columns) > _SHOWN else "")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read_numeric_csv(path: str | os.PathLike) -> NumericTable:
    """Read a CSV whose columns are all numeric (see the module docstring for the rules)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise GanforgeError("CSV file not found", str(path), "check the path")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    except UnicodeDecodeError:
        raise GanforgeError("CSV file is not UTF-8 text", str(path)) from None
    except csv.Error as e:
        raise GanforgeError(f"CSV file cannot be parsed ({e})", str(path)) from None
    if not rows:
        raise GanforgeError("CSV file is empty", str(path), "add a header row and data rows")
    header = [name.strip() for name in rows[0]]
    if all(_number(name) is not None for name in header):
        raise GanforgeError(
            "the CSV's first row holds numbers, not column names",
            str(path),
            "add a header row naming the columns",
        )
    if any(not name for name in header) or len(set(header)) != len(header):
        raise GanforgeError(
            "CSV column names must be unique and non-empty", str(path), "fix the header row"
        )
    data = rows[1:]
    if not data:
        raise GanforgeError("CSV file has a header but no data rows", str(path))
    for line, row in enumerate(data, start=2):
        if len(row) != len(header):
            raise GanforgeError(
                f"CSV row {line} has {len(row)} values for {len(header)} columns", str(path)
            )
    values = np.empty((len(data), len(header)), dtype=np.float64)
    text: dict[str, str] = {}  # column -> first non-numeric cell
    missing: list[str] = []
    for j, name in enumerate(header):
        for i, row in enumerate(data):
            cell = row[j].strip()
            number = _number(cell) if cell else math.nan
            if number is None:
                text.setdefault(name, cell)
                break
            values[i, j] = number
        else:
            if not np.isfinite(values[:, j]).all():
                missing.append(name)
    if text:
        first = next(iter(text))
        raise GanforgeError(
            f"non-numeric CSV columns: {_names(list(text))} (e.g. {first}={text[first]!r})",
            str(path),
            "drop those columns or encode them as numbers",
        )
    if missing:
        raise GanforgeError(
            f"CSV columns with empty, NaN or infinite values: {_names(missing)}",
            str(path),
            "fill or drop those rows",
        )
    return NumericTable(values, header, str(path))
