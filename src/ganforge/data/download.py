"""`ganforge data get mnist`: download MNIST's four files, check them, write them atomically.

The mirrors are the ones torchvision uses (PyTorch's ossci-datasets S3 copy first, then the
original site). The check is the SHA-256 of each file's uncompressed IDX data: the gzip bytes
differ between copies that were compressed again (the repository's shared copy is one), the
MNIST data inside do not. Only the standard library (urllib) is used; nothing here runs at
import time, and nothing in ganforge downloads unless this is called.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path

from ganforge.data.mnist import FILE_NAMES, cache_dir, has_mnist, search_path
from ganforge.errors import GanforgeError
from ganforge.io_checks import atomic_write

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
# SHA-256 of the uncompressed IDX data (60,000 / 10,000 images and labels), computed from the
# real files; the same for every faithful copy however it was compressed.
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
TIMEOUT_S = 30


def mnist_target(directory: str | Path | None = None) -> Path:
    """Where `data get mnist` writes: `directory`, else $GANFORGE_DATA (its mnist/ subfolder
    unless it is itself named mnist: either is where the loader looks), else the cache
    ~/.cache/ganforge/mnist."""
    if directory:
        return Path(directory).expanduser()
    env = os.environ.get("GANFORGE_DATA")
    if env:
        root = Path(env).expanduser()
        return root if root.name == "mnist" else root / "mnist"
    return cache_dir()


def content_sha256(gz_bytes: bytes) -> str | None:
    """SHA-256 of the uncompressed data of a gzip file, or None when it is not valid gzip."""
    try:
        return hashlib.sha256(gzip.decompress(gz_bytes)).hexdigest()
    except (OSError, EOFError, zlib.error):
        return None


def is_verified(path: Path) -> bool:
    """Whether `path` holds the real MNIST file of its name (checked by content)."""
    try:
        return content_sha256(path.read_bytes()) == MNIST_SHA256[path.name]
    except OSError:
        return False


def _fetch(url: str) -> bytes:
    """The body of `url` (a function of its own so that tests can replace the network)."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
        return response.read()


def _where_to_put(target: Path) -> str:
    return (
        f"put the four files ({', '.join(FILE_NAMES)}) in {target} (or point GANFORGE_DATA at them)"
    )


def download_mnist(
    directory: str | Path | None = None,
    mirrors: tuple[str, ...] = MIRRORS,
    log: Callable[[str], None] = print,
) -> Path:
    """Download the four MNIST files into `directory` (see `mnist_target`), each checked by
    SHA-256 before it is written; files already there and correct are kept. Returns the folder."""
    target = mnist_target(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
        probe = tempfile.TemporaryFile(dir=target)
        probe.close()
    except OSError as e:
        raise GanforgeError(
            f"cannot write the MNIST folder ({e.strerror or e})",
            str(target),
            "choose a writable folder with --dir",
        ) from None
    for name in FILE_NAMES:
        path = target / name
        if is_verified(path):
            log(f"{name}: already there, checksum ok")
            continue
        data = _download_one(name, mirrors, target, log)
        with atomic_write(path, "wb", durable=True) as f:  # no half-written file is ever seen
            f.write(data)
    log(f"MNIST is in {target}")
    return target


def _download_one(name: str, mirrors: tuple[str, ...], target: Path, log) -> bytes:
    """The checked bytes of one file from the first mirror that serves it intact."""
    unreachable, wrong = [], []
    for mirror in mirrors:
        url = mirror + name
        try:
            data = _fetch(url)
        except (OSError, http.client.HTTPException, ValueError) as e:  # URLError is an OSError
            reason = getattr(e, "reason", None) or e
            unreachable.append(f"{url} ({reason})")
            continue
        if content_sha256(data) == MNIST_SHA256[name]:
            log(f"{name}: {len(data) / 1e6:.1f} MB from {mirror}, checksum ok")
            return data
        wrong.append(url)
        log(f"{name}: {url} sent a file whose SHA-256 does not match; trying the next mirror")
    if wrong:
        raise GanforgeError(
            f"downloaded {name} does not match its SHA-256 (nothing was written)",
            ", ".join(wrong),
            "try again later, or " + _where_to_put(target),
        )
    raise GanforgeError(
        f"cannot download MNIST (no network? {unreachable[0] if unreachable else 'no mirror'})",
        f"tried {len(mirrors)} mirror{'s' if len(mirrors) != 1 else ''}",
        _where_to_put(target),
    )


def describe_sources() -> list[str]:
    """Lines for `ganforge data list`: each place MNIST is looked for, whether it is there, which
    one is used; then the built-in sources."""
    lines, used = [], None
    for how, folder in search_path():
        if not has_mnist(folder):
            if how != "beside the checkout" or folder.exists():
                lines.append(f"  {folder}  ({how}): no MNIST here")
            continue
        present = [n for n in FILE_NAMES if (folder / n).is_file() or (folder / n[:-3]).is_file()]
        mark = "" if used else "  <- used"
        used = used or folder
        lines.append(f"  {folder}  ({how}): {len(present)} of 4 files{mark}")
    head = "mnist: found" if used else "mnist: not found (get it with `ganforge data get mnist`)"
    return [
        head,
        *lines,
        "built in: ring, grid, digits, grey2colour (edges2digits, mnist2thick use MNIST)",
    ]
