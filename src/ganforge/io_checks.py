"""Checks on output paths made before any work, so a long job never fails at its last step."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
