"""Reading and writing tables: CSV in (separator detected) with one-line errors that name the bad
line, CSV out atomically."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from ganforge.data.tables import check_text, delimiter_name, sniff_delimiter
from ganforge.errors import GanforgeError
from ganforge.io_checks import atomic_write


def _decode(raw: bytes, where: str) -> str:
    """UTF-8 text (a BOM is dropped); other encodings are refused with the first bad line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise GanforgeError(
            f"the file is not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line})",
            where,
            "re-save it as UTF-8 (e.g. iconv -f latin1 -t utf-8 IN > OUT)",
        ) from None


def _check_structure(text: str, where: str, delimiter: str = ",") -> tuple[list[str], list[int]]:
    """(header, the line each data record starts on), after checking every record has as many
    fields as the header (ragged rows) and that the quoting is sound (an unclosed quote)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start = 1  # the line the record being read starts on
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            start = reader.line_num + 1
            header = next(reader, None)  # blank lines before the header
        if header is None:
            raise GanforgeError("the file is empty (no header, no rows)", where, "give a CSV table")
        names = [h.strip() for h in header]
        if any(not n for n in names):
            raise GanforgeError(
                f"column {names.index('') + 1} of the header has no name",
                f"{where} line {reader.line_num}",
                "name every column",
            )
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise GanforgeError(
                f"duplicate column name(s) {', '.join(map(repr, duplicates))}",
                f"{where} line {reader.line_num}",
                "give every column a distinct name",
            )
        lines: list[int] = []
        start = reader.line_num + 1
        for record in reader:
            first, start = start, reader.line_num + 1
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank line
            lines.append(first)
            if len(record) != len(names):
                raise GanforgeError(
                    f"line {reader.line_num} has {len(record)} fields, the header has {len(names)}",
                    where,
                    "fix that row (a stray separator or a missing value?) or quote the field",
                )
    except csv.Error as e:
        if "unexpected end of data" in str(e):
            raise GanforgeError(
                f"the file ends inside a quoted field (the quote opens in the record on line "
                f"{start})",
                where,
                'close the quote, or remove the stray " (the file may be cut short)',
            ) from None
        raise GanforgeError(
            f"malformed CSV on line {reader.line_num} ({e})", where, "check the quoting"
        ) from None
    if not lines:
        raise GanforgeError("the file has a header but no data rows", where, "add rows")
    return names, lines


_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")
_DECIMAL_POINT = re.compile(r"^\s*[-+]?\d*\.\d+(?:[eE][-+]?\d+)?\s*$")


def _decimal_mark(text: str, delimiter: str) -> str:
    """ "," when a non-comma CSV writes its numbers with decimal commas (1,5) and never 1.5."""
    if delimiter == ",":
        return "."
    comma = point = 0
    reader = csv.reader(io.StringIO(text[:65536], newline=""), delimiter=delimiter)
    try:
        for record in reader:
            for cell in record:
                comma += bool(_DECIMAL_COMMA.match(cell))
                point += bool(_DECIMAL_POINT.match(cell))
    except csv.Error:
        pass  # (the structure check names the bad quoting)
    return "," if comma and not point else "."


def _all_floats(series: pd.Series) -> pd.Series | None:
    """A text column as floats when every value is a number to Python (None at the first text)."""
    out = []
    for value in series:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            out.append(np.nan)
            continue
        try:
            out.append(float(value))
        except (TypeError, ValueError):
            return None
    return pd.Series(out, index=series.index, dtype=np.float64)


def _check_finite(frame: pd.DataFrame, lines: list[int], where: str) -> None:
    """Refuse inf/-inf (and numbers too large for a float) in a numeric column, naming the cell."""
    for name in frame.columns:
        series = frame[name]
        if series.dtype == object:  # numbers pandas leaves as text (1e999: too large)
            numbers = _all_floats(series)
            if numbers is None:
                continue  # text
        elif pd.api.types.is_float_dtype(series):
            numbers = series
        else:
            continue
        infinite = np.isinf(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
        if infinite.any():
            row = int(np.flatnonzero(infinite)[0])
            line = lines[row] if row < len(lines) else row + 2
            raise GanforgeError(
                f"column {name!r} holds an infinite value ({series.iloc[row]}) on line {line}"
                f" ({int(infinite.sum())} in all)",
                where,
                "replace it with a number, or leave the cell empty for a missing value",
            )


def read_csv(path: str | Path) -> pd.DataFrame:
    """A CSV file (UTF-8, header row) as a DataFrame; bad input is one clear line.

    The separator is detected (comma, or `;`, tab, `|` when they split the file far better;
    with `;` numbers may use decimal commas): what was detected is in `frame.attrs["csv_format"]`
    (empty for a plain comma CSV). Values are typed by pandas (numbers, True/False); empty fields
    and NA/NaN/null are missing; inf is refused (a value no model can learn). Dates stay strings
    here: the transformer recognises and restores them.
    """
    where = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise GanforgeError("no such file", where, "check the path") from None
    except IsADirectoryError:
        raise GanforgeError("expected a CSV file, got a directory", where) from None
    except OSError as e:
        raise GanforgeError(f"cannot read the file ({e.strerror})", where) from None
    if not raw.strip():
        raise GanforgeError("the file is empty (no header, no rows)", where, "give a CSV table")
    check_text(raw, where)
    text = _decode(raw, where)
    delimiter = sniff_delimiter(text)
    names, lines = _check_structure(text, where, delimiter)
    decimal = _decimal_mark(text, delimiter)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            decimal=decimal,
            skipinitialspace=True,
            skip_blank_lines=True,
            low_memory=False,  # one type per column, not one per chunk of rows
        )
    except (pd.errors.ParserError, ValueError) as e:  # the checks above should leave none
        raise GanforgeError(f"malformed CSV ({str(e).splitlines()[0]})", where) from None
    frame.columns = names
    # Trailing/leading blanks inside text fields are formatting, not values.
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].map(lambda v: v.strip() if isinstance(v, str) else v)
    _check_finite(frame, lines, where)
    notes = []
    if delimiter != ",":
        notes.append(f"{delimiter_name(delimiter)}-separated")
    if decimal != ".":
        notes.append("decimal commas")
    frame.attrs["csv_format"] = ", ".join(notes)
    return frame


@contextmanager
def _output(path: Path, newline: str | None = None) -> Iterator[IO[str]]:
    """An atomic text file at ``path`` (folders made); a failure is a one-line error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "w", newline=newline) as f:
            yield f
    except OSError as e:
        raise GanforgeError(f"cannot write the file ({e.strerror})", str(path)) from None


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame as CSV atomically (temp file + rename): a failure leaves nothing behind."""
    path = Path(path)
    with _output(path, newline="") as f:
        frame.to_csv(f, index=False)
    return path


def write_csv_chunks(frames: Iterable[pd.DataFrame], path: str | Path) -> tuple[Path, int]:
    """Write DataFrames one after another as one CSV, atomically: (path, rows written).

    Memory stays at one frame; a failure (or an error raised by `frames`) leaves nothing behind.
    """
    path = Path(path)
    rows = 0
    with _output(path, newline="") as f:
        for frame in frames:
            frame.to_csv(f, index=False, header=rows == 0)
            rows += len(frame)
    return path, rows


def atomic_write_text(text: str, path: str | Path) -> Path:
    """Write a text file atomically (temp file + rename)."""
    path = Path(path)
    with _output(path) as f:
        f.write(text)
    return path
