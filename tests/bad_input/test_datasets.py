"""Corrupt, truncated or missing dataset files: one line naming the file, what is wrong, what to do.

MNIST (gzipped IDX): each case damages one file of a copy of the subset shipped for tests and
runs `ganforge train --data mnist:DIR` (or `eval --real mnist:test` for the test split).
"""

from __future__ import annotations

import gzip
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.bad_input.conftest import assert_user_error
from tests.fixtures import MNIST_MINI

IMAGES, LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"


def idx(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def put_idx(path: Path, data: bytes) -> None:
    path.write_bytes(gzip.compress(data))


def header(magic: int, *dims: int) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


def bad_magic(d: Path) -> None:
    put_idx(d / IMAGES, b"\x12\x34\x56\x78" + idx(d / IMAGES)[4:])


def labels_where_images_belong(d: Path) -> None:  # a valid IDX file of the wrong kind
    shutil.copy(d / LABELS, d / IMAGES)


def five_dimensions(d: Path) -> None:
    put_idx(d / IMAGES, header(0x0805, 500, 28, 28, 1, 1) + idx(d / IMAGES)[16:])


def huge_dimension_count(d: Path) -> None:  # today: "offset must be non-negative..."
    put_idx(d / IMAGES, header(0x08FF) + b"\x00" * 8)


def header_cut_short(d: Path) -> None:
    put_idx(d / IMAGES, idx(d / IMAGES)[:10])


def short_body(d: Path) -> None:
    put_idx(d / IMAGES, idx(d / IMAGES)[: -784 * 3 - 5])


def extra_bytes(d: Path) -> None:
    put_idx(d / IMAGES, idx(d / IMAGES) + b"\x00" * 100)


def empty_file(d: Path) -> None:
    (d / IMAGES).write_bytes(b"")


def empty_gzip(d: Path) -> None:
    put_idx(d / IMAGES, b"")


def not_gzip(d: Path) -> None:
    (d / IMAGES).write_text("<html>404 Not Found</html>")


def uncompressed_named_gz(d: Path) -> None:
    (d / IMAGES).write_bytes(idx(d / IMAGES))


def gzip_without_gz(d: Path) -> None:
    (d / IMAGES).rename(d / IMAGES[:-3])


def truncated_gzip(d: Path) -> None:
    data = (d / IMAGES).read_bytes()
    (d / IMAGES).write_bytes(data[: len(data) // 2])


def corrupt_gzip(d: Path) -> None:
    data = bytearray((d / IMAGES).read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    (d / IMAGES).write_bytes(bytes(data))


def labels_of_another_count(d: Path) -> None:
    put_idx(d / LABELS, header(0x0801, 400) + idx(d / LABELS)[8:408])


def labels_beyond_nine(d: Path) -> None:
    data = bytearray(idx(d / LABELS))
    data[20] = 17
    put_idx(d / LABELS, bytes(data))


def missing_labels(d: Path) -> None:
    (d / LABELS).unlink()


def a_folder_named_like_the_file(d: Path) -> None:
    (d / IMAGES).unlink()
    (d / IMAGES).mkdir()


CASES: dict[str, tuple[Callable[[Path], None], str, list[str]]] = {
    # id: (damage, file named in the message, what the message says)
    "bad-magic": (bad_magic, IMAGES, ["not an MNIST IDX file", "0x12345678", "0x00000803"]),
    "labels-as-images": (labels_where_images_belong, IMAGES, ["1 dimension, expected 3"]),
    "five-dims": (five_dimensions, IMAGES, ["5 dimensions, expected 3"]),
    "255-dims": (huge_dimension_count, IMAGES, ["255 dimensions, expected 3"]),
    "header-cut": (header_cut_short, IMAGES, [r"header is cut short \(10 of 16 bytes\)"]),
    "short-body": (short_body, IMAGES, ["is truncated", "500 x 28 x 28 = 392000 bytes"]),
    "extra-bytes": (extra_bytes, IMAGES, ["has extra bytes", "holds 392100"]),
    "empty-file": (empty_file, IMAGES, ["MNIST file is empty"]),
    "empty-gzip": (empty_gzip, IMAGES, ["not an MNIST IDX file", "is empty"]),
    "not-gzip": (not_gzip, IMAGES, ["not gzip data although its name ends in .gz"]),
    "raw-idx-named-gz": (
        uncompressed_named_gz,
        IMAGES,
        ["uncompressed IDX data", "rename it to train-images-idx3-ubyte "],
    ),
    "gzip-named-raw": (gzip_without_gz, IMAGES[:-3], ["gzip data", "rename it to .*ubyte.gz"]),
    "truncated-gzip": (truncated_gzip, IMAGES, ["gzip data is cut short"]),
    "corrupt-gzip": (corrupt_gzip, IMAGES, ["gzip data is corrupt"]),
    "count-mismatch": (labels_of_another_count, LABELS, [r"500 images, 400 labels"]),
    "label-17": (labels_beyond_nine, LABELS, ["digits 0-9, found 17"]),
    "missing-labels": (missing_labels, "", ["MNIST file train-labels-idx1-ubyte.gz not found"]),
    "folder-not-file": (a_folder_named_like_the_file, "", ["MNIST file train-images-idx3"]),
}


def damaged_copy(tmp_path: Path, damage: Callable[[Path], None], checksums=False) -> Path:
    folder = tmp_path / "mnist"
    shutil.copytree(MNIST_MINI, folder)
    if not checksums:  # the format checks themselves, not the SHA256SUMS list, must catch it
        (folder / "SHA256SUMS").unlink()
    damage(folder)
    return folder


def train_on(cli, folder: Path, tmp_path: Path):
    return cli("train", "--data", f"mnist:{folder}", "--steps", "1", "--out", tmp_path / "runs")


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_mnist_file_is_one_line_naming_it(cli, tmp_path, case):
    damage, name, messages = CASES[case]
    folder = damaged_copy(tmp_path, damage)
    line = assert_user_error(train_on(cli, folder, tmp_path), *messages)
    assert str(folder / name) in line, line
    assert re.search("ganforge data get mnist|put the four files|rename it", line), line


def cut_test_images(d: Path) -> None:
    data = (d / "t10k-images-idx3-ubyte.gz").read_bytes()
    (d / "t10k-images-idx3-ubyte.gz").write_bytes(data[:1000])


def test_a_damaged_test_split_file_is_named_too(cli, tmp_path, monkeypatch):
    folder = damaged_copy(tmp_path, cut_test_images)
    monkeypatch.setenv("GANFORGE_DATA", str(folder))
    fake = tmp_path / "fake.npy"
    np.save(fake, np.zeros((4, 1, 28, 28), np.float32))
    line = assert_user_error(
        cli("eval", "--real", "mnist:test", "--fake", fake, "-n", "4"), "cut short"
    )
    assert str(folder / "t10k-images-idx3-ubyte.gz") in line


def test_a_file_changed_since_its_checksum_was_listed(cli, tmp_path):
    folder = damaged_copy(tmp_path, short_body, checksums=True)
    line = assert_user_error(train_on(cli, folder, tmp_path), "does not match its SHA-256")
    assert str(folder / IMAGES) in line


NO_MNIST_COMMANDS = {
    "train-preset": ["train", "--preset", "mnist-dcgan", "--steps", "1"],
    "train-edges2digits": [
        "train",
        "--data",
        "edges2digits",
        "--family",
        "pix2pix",
        "--steps",
        "1",
    ],
    "eval-real": ["eval", "--real", "mnist:test", "--fake", "FAKE", "-n", "4"],
}


@pytest.mark.parametrize("command", list(NO_MNIST_COMMANDS))
def test_no_mnist_anywhere_offers_data_get(cli, tmp_path, monkeypatch, command):
    """The first use of MNIST without it says where it looked and how to get it."""
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "empty"))
    fake = tmp_path / "fake.npy"
    np.save(fake, np.zeros((4, 1, 28, 28), np.float32))
    argv = [str(fake) if a == "FAKE" else a for a in NO_MNIST_COMMANDS[command]]
    if argv[0] == "train":
        argv += ["--out", str(tmp_path / "runs")]
    line = assert_user_error(
        cli(*argv),
        "MNIST not found",
        "GANFORGE_DATA=.*empty",
        "ganforge data get mnist",
        "train-images-idx3-ubyte.gz",
    )
    assert "mnist:PATH" not in line  # eval has no such form: the advice fits every command


def test_a_missing_mnist_folder_is_named(cli, tmp_path):
    line = assert_user_error(
        train_on(cli, tmp_path / "nowhere", tmp_path), "MNIST folder not found"
    )
    assert str(tmp_path / "nowhere") in line and "ganforge data get mnist --dir" in line
