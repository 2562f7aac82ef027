"""Output paths: checks made before any work, so a long job never fails at its last step, and
the one atomic writer (temporary file + rename), so no reader ever sees a half-written file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ganforge.errors import GanforgeError


def check_writable(
    path: str | os.PathLike, *, folder: bool = False, what: str = "output", fix: str | None = None
) -> Path:
    """``path`` as a Path once it is known that it can be written; a one-line error otherwise.

    ``folder=False``: ``path`` is a file to (over)write: it must not be a folder, an existing
    file must be writable, and its folder must be creatable and writable. ``folder=True``:
    ``path`` is a folder to write into (made if missing): it must not be a file. Nothing is
    created: a probe file is written and removed in the nearest folder that exists, so a
    check that passes leaves no trace and a job that fails later leaves no empty folders.
    """
    path = Path(path).expanduser()
    fix = fix or "choose a writable place for it"
    if folder and path.exists() and not path.is_dir():
        raise GanforgeError(f"the {what} must be a folder but is a file", str(path), fix)
    if not folder and path.is_dir():
        raise GanforgeError(
            f"the {what} must be a file but is a folder", str(path), "give a file name"
        )
    try:
        if not folder and path.exists():
            with open(path, "ab"):  # opens for writing without changing a byte
                pass
        _probe(_nearest_existing(path if folder else path.parent, what))
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise GanforgeError(f"cannot write the {what} ({reason})", str(path), fix) from None
    return path


def _nearest_existing(folder: Path, what: str) -> Path:
    """The folder itself or its closest existing ancestor (which must be a folder)."""
    current = folder if str(folder) else Path(".")
    while not current.exists():
        if current.parent == current:
            break
        current = current.parent
    if not current.is_dir():
        raise GanforgeError(
            f"cannot create the {what}: {current} is a file, not a folder",
            str(folder),
            "choose another path",
        )
    return current


def _probe(folder: Path) -> None:
    """Write and remove a small file in ``folder`` (raises OSError when it cannot)."""
    handle, name = tempfile.mkstemp(prefix=".ganforge-write-test-", dir=folder)
    os.close(handle)
    os.unlink(name)


@contextmanager
def atomic_write(
    path: str | os.PathLike,
    mode: str = "w",
    *,
    durable: bool = False,
    encoding: str | None = None,
    newline: str | None = None,
) -> Iterator[IO]:
    """A file opened on a temporary file beside ``path``, renamed over ``path`` when the block
    ends; an error (or an interrupt) in the block removes it and leaves ``path`` as it was.

    ``durable=True`` also fsyncs the file and then its folder, so the new file survives a power
    cut (checkpoints, downloads). The folder must exist; OSError is raised as it comes.
    """
    path = Path(path)
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, encoding=encoding, newline=newline) as f:
            yield f
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; what ganforge writes is meant to be read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        try:  # persist the rename itself
            folder = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError:
            pass
