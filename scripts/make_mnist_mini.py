"""Make the MNIST subset shipped for the tests: tests/fixtures/mnist-mini/.

The first 500 training and the first 200 test images (and their labels) of the real MNIST files,
written in the original format (gzipped IDX, the same four file names) so the loader reads them
exactly as it reads the real set, plus SHA256SUMS (`sha256sum -c` format), which the loader checks.
The gzip streams carry no name or time, so the same command gives the same bytes.

    python scripts/make_mnist_mini.py [--source ../shared/datasets/mnist] [--out DIR]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
from pathlib import Path

import numpy as np

from ganforge.data.mnist import CHECKSUMS_FILE, FILE_NAMES, load_mnist_arrays

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "datasets" / "mnist"
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "mnist-mini"
COUNTS = {"train": 500, "test": 200}
NAMES = {"train": FILE_NAMES[:2], "test": FILE_NAMES[2:]}  # (images, labels) of each split


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte IDX file: magic 0x0000 08 <ndim>, big-endian int32 dims, then the data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_gz(path: Path, data: bytes) -> None:
    """Gzip with no file name and mtime 0: reproducible bytes."""
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as f:
        f.write(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the real MNIST folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    sums = []
    for split, count in COUNTS.items():
        images, labels = load_mnist_arrays(args.source, split)
        for name, array in zip(
            NAMES[split], (images[:count], labels[:count].astype(np.uint8)), strict=True
        ):
            write_gz(args.out / name, idx_bytes(array))
            digest = hashlib.sha256((args.out / name).read_bytes()).hexdigest()
            sums.append(f"{digest}  {name}\n")
        classes = np.bincount(labels[:count], minlength=10)
        print(f"{split}: {count} images, per class {classes.tolist()}")
    (args.out / CHECKSUMS_FILE).write_text("".join(sums))
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
