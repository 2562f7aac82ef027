"""Numeric tables from CSV files: a header row naming the columns, then one number per cell.

Rules: comma-separated (a file separated by `;`, tabs or `|` is recognised: `sniff_delimiter`),
UTF-8 (a byte-order mark is allowed; binary files are named as such), the first row names the columns
(unique, non-empty), every later row has one value per column; blank lines are skipped. Every
column must be numeric (anything Python's float() reads, surrounding spaces allowed) and
finite; empty cells, NA/NaN/inf and text are errors that name the offending columns, so nothing
is silently dropped or guessed.
"""

from __future__ import annotations

import csv
import io
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


# Magic numbers of files people hand over as "a CSV" by mistake: (prefix, what it is, what to do).
_BINARY_KINDS = [
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it first (gunzip FILE)"),
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx?)", "unzip it, or export the sheet as CSV"),
    (b"\x89PNG", "a PNG image", "give a CSV table"),
    (b"\xff\xd8\xff", "a JPEG image", "give a CSV table"),
    (b"%PDF", "a PDF document", "give a CSV table"),
    (b"SQLite format 3", "an SQLite database", "export the table as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel/Office file", "export the sheet as CSV"),
    (b"PAR1", "a Parquet file", "convert it to CSV (pandas.read_parquet(...).to_csv(...))"),
    (b"\x80", "a Python pickle", "give a CSV table (pickles are never loaded)"),
]
_DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def check_text(raw: bytes, where: str) -> None:
    """Refuse a binary file (NUL bytes, control characters or a known magic number) in one line."""
    head = raw[:8192]
    for magic, what, fix in _BINARY_KINDS:
        if head.startswith(magic):
            raise GanforgeError(f"not a CSV text file: this is {what}", where, fix)
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    if b"\x00" in head or controls > max(2, len(head) // 100):
        raise GanforgeError(
            "not a CSV text file: it holds binary data", where, "give a CSV table (text)"
        )


def sniff_delimiter(text: str) -> str:
    """The field separator of a CSV text: `,` unless `;`, tab or `|` splits it far better.

    Each candidate is scored on the first ~64 KB: the header's field count (it must split the
    header into 2+ fields) and the share of records with that many fields. A comma that splits
    the header and 90% of the records wins outright (a plain CSV); otherwise the candidate with
    the best share does; a file no candidate splits is a one-column CSV.
    """
    head = text[:65536]
    if len(text) > len(head) and "\n" in head:
        head = head[: head.rindex("\n")]  # whole lines only
    scores = {}
    for delimiter in _DELIMITERS:
        records = []
        reader = csv.reader(io.StringIO(head, newline=""), delimiter=delimiter)
        try:
            records.extend(r for r in reader if any(cell.strip() for cell in r))
        except csv.Error:
            pass  # (a quote left open: score the records read so far)
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        share = sum(len(r) == width for r in records) / len(records)
        scores[delimiter] = share
    if not scores or scores.get(",", 0.0) >= 0.9:
        return ","
    return max(scores, key=lambda d: (scores[d], -_DELIMITERS.index(d)))


def delimiter_name(delimiter: str) -> str:
    """ "semicolon" for ";" (for messages)."""
    return _DELIMITER_NAMES.get(delimiter, repr(delimiter))


def read_numeric_csv(path: str | os.PathLike) -> NumericTable:
    """Read a CSV whose columns are all numeric (see the module docstring for the rules)."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise GanforgeError("expected a CSV file, got a directory", str(path))
    if not path.is_file():
        raise GanforgeError("CSV file not found", str(path), "check the path")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise GanforgeError(f"cannot read the CSV file ({e.strerror})", str(path)) from None
    check_text(raw, str(path))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise GanforgeError("CSV file is not UTF-8 text", str(path)) from None
    try:
        reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=sniff_delimiter(text), strict=True
        )
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as e:
        if "unexpected end of data" in str(e):
            raise GanforgeError(
                "CSV file cannot be parsed: it ends inside a quoted field",
                str(path),
                'close the quote, or remove the stray " (the file may be cut short)',
            ) from None
        raise GanforgeError(
            f"CSV file cannot be parsed ({e} on line {reader.line_num})",
            str(path),
            "check the quoting",
        ) from None
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
