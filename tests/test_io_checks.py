"""The one atomic writer: the old file or the new one, never a torn one, never a leftover."""

import pytest

from ganforge.io_checks import atomic_write


@pytest.mark.parametrize("durable", [False, True], ids=["plain", "durable"])
def test_atomic_write_replaces_the_file_in_one_step(tmp_path, durable):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with atomic_write(path, durable=durable) as f:
        f.write("new ü")
        assert path.read_text() == "old"  # nothing is seen before the block ends
    assert path.read_text(encoding="utf-8") == "new ü"
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_write(path, "wb") as f:
        f.write(b"half")
        raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_missing_folder_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_write(tmp_path / "no" / "f.txt") as f:
        f.write("x")
