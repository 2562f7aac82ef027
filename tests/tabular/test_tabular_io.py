"""CSV in and out: every malformed file is one clear line that says where; writes are atomic."""

import numpy as np
import pandas as pd
import pytest

from ganforge.errors import GanforgeError
from ganforge.tabular.io import read_csv, write_csv


def _write(tmp_path, content, name="t.csv"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_reads_types_and_missing_values(tmp_path):
    path = _write(tmp_path, "a,b,c,d\n1,2.5,x,True\n2,,y,False\n3,4.0,,True\n")
    frame = read_csv(path)
    assert list(frame.columns) == ["a", "b", "c", "d"]
    assert frame["a"].dtype == np.int64 and frame["b"].dtype == np.float64
    assert frame["d"].dtype == bool
    assert np.isnan(frame["b"][1]) and pd.isna(frame["c"][2])


def test_bom_and_blank_lines_are_fine(tmp_path):
    frame = read_csv(_write(tmp_path, b"\xef\xbb\xbfa,b\n1,2\n\n3,4\n"))
    assert list(frame.columns) == ["a", "b"] and len(frame) == 2


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("a,b\n1,2\n3,4,5\n4,5\n", r"line 3 has 3 fields, the header has 2"),
        ("a,b\n1,2\n3\n", r"line 3 has 1 fields"),
        ('a,b\n1,"2\n', r"ends inside a quoted field \(the quote opens in the record on line 2\)"),
        ('a,b\n1,"2"x\n', r"malformed CSV on line 2"),
        ("", r"the file is empty"),
        ("  \n\n", r"the file is empty"),
        ("a,b,c\n", r"header but no data rows"),
        ("a,a\n1,2\n", r"duplicate column name"),
        ("a,,c\n1,2,3\n", r"column 2 of the header has no name"),
    ],
)
def test_malformed_files_are_one_line_errors(tmp_path, content, pattern):
    with pytest.raises(GanforgeError, match=pattern) as info:
        read_csv(_write(tmp_path, content))
    assert "\n" not in str(info.value)


def test_non_utf8_says_the_line(tmp_path):
    path = _write(tmp_path, b"name,city\nann,Paris\nbob,K\xf6ln\n")  # latin-1 o-umlaut
    with pytest.raises(GanforgeError, match=r"not UTF-8 text \(byte 0xf6 on line 3\).*iconv"):
        read_csv(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(GanforgeError, match="no such file"):
        read_csv(tmp_path / "nope.csv")
    with pytest.raises(GanforgeError, match="directory"):
        read_csv(tmp_path)


def test_write_csv_round_trip_and_atomic_failure(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    path = write_csv(frame, tmp_path / "out" / "s.csv")
    assert read_csv(path)["a"].tolist() == [1, 2]
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(GanforgeError, match="cannot write"):
        write_csv(frame, blocker / "s.csv")  # parent is a file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "out"]
