"""Reading and writing tables: CSV in with one-line errors that name the bad line, CSV out atomically."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pandas as pd

from ganforge.errors import GanforgeError


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


def _check_structure(text: str, where: str) -> list[str]:
    """The header, after checking every record has as many fields as it (ragged rows, quotes)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
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
        rows = 0
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank line
            rows += 1
            if len(record) != len(names):
                raise GanforgeError(
                    f"line {reader.line_num} has {len(record)} fields, the header has {len(names)}",
                    where,
                    "fix that row (a stray comma or a missing value?) or quote the field",
                )
    except csv.Error as e:
        raise GanforgeError(
            f"malformed CSV on line {reader.line_num} ({e})", where, "check the quoting"
        ) from None
    if rows == 0:
        raise GanforgeError("the file has a header but no data rows", where, "add rows")
    return names


def read_csv(path: str | Path) -> pd.DataFrame:
    """A CSV file (UTF-8, header row, comma-separated) as a DataFrame; bad input is one clear line.

    Values are typed by pandas (numbers, True/False); empty fields and NA/NaN/null are missing.
    Dates stay strings here: the transformer recognises and restores them.
    """
    where = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise GanforgeError("no such file", where) from None
    except IsADirectoryError:
        raise GanforgeError("expected a CSV file, got a directory", where) from None
    except OSError as e:
        raise GanforgeError(f"cannot read the file ({e.strerror})", where) from None
    if not raw.strip():
        raise GanforgeError("the file is empty (no header, no rows)", where, "give a CSV table")
    text = _decode(raw, where)
    names = _check_structure(text, where)
    try:
        frame = pd.read_csv(io.StringIO(text), skipinitialspace=True, skip_blank_lines=True)
    except (pd.errors.ParserError, ValueError) as e:  # the checks above should leave none
        raise GanforgeError(f"malformed CSV ({str(e).splitlines()[0]})", where) from None
    frame.columns = names
    # Trailing/leading blanks inside text fields are formatting, not values.
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].map(lambda v: v.strip() if isinstance(v, str) else v)
    return frame


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame as CSV atomically (temp file + rename): a failure leaves nothing behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except OSError as e:
        raise GanforgeError(f"cannot write the file ({e.strerror})", str(path)) from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_text(text: str, path: str | Path) -> Path:
    """Write a text file atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise GanforgeError(f"cannot write the file ({e.strerror})", str(path)) from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
