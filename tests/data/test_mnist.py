"""MNIST: the subset shipped for tests, where the files are looked for, the SHA256SUMS check."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from ganforge.data import load_dataset
from ganforge.data import mnist as mnist_module
from ganforge.data.mnist import (
    CHECKSUMS_FILE,
    FILE_NAMES,
    default_mnist_dir,
    load_mnist,
    load_mnist_arrays,
)
from ganforge.errors import GanforgeError
from tests.fixtures import MNIST_MINI, MNIST_MINI_COUNTS

ROOT = Path(__file__).resolve().parents[2]
SHARED_MNIST = ROOT.parent / "shared" / "datasets" / "mnist"


def make_script():
    spec = importlib.util.spec_from_file_location(
        "make_mnist_mini", ROOT / "scripts/make_mnist_mini.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def listed_sums(folder: Path) -> dict[str, str]:
    lines = (folder / CHECKSUMS_FILE).read_text().splitlines()
    return {name: digest for digest, name in (line.split("  ") for line in lines)}


def copy_mini(tmp_path: Path) -> Path:
    folder = tmp_path / "mnist"
    shutil.copytree(MNIST_MINI, folder)
    return folder


# ---- the shipped subset ---------------------------------------------------------------------


def test_the_subset_is_small_complete_and_matches_its_checksums():
    files = sorted(p.name for p in MNIST_MINI.iterdir())
    assert files == sorted([*FILE_NAMES, CHECKSUMS_FILE])
    assert sum(p.stat().st_size for p in MNIST_MINI.iterdir()) < 300_000
    sums = listed_sums(MNIST_MINI)
    assert set(sums) == set(FILE_NAMES)
    for name, digest in sums.items():
        assert hashlib.sha256((MNIST_MINI / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("split", ["train", "test"])
def test_the_subset_has_the_real_files_format(split):
    """Gzipped IDX, the real headers (magic 0x0803 / 0x0801, big-endian counts), every digit."""
    images, labels = load_mnist_arrays(MNIST_MINI, split)
    n = MNIST_MINI_COUNTS[split]
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8 and labels.shape == (n,)
    assert set(labels.tolist()) == set(range(10))
    stem = "train" if split == "train" else "t10k"
    with gzip.open(MNIST_MINI / f"{stem}-images-idx3-ubyte.gz") as f:
        assert f.read(16) == bytes.fromhex("00000803") + b"".join(
            d.to_bytes(4, "big") for d in (n, 28, 28)
        )
    with gzip.open(MNIST_MINI / f"{stem}-labels-idx1-ubyte.gz") as f:
        assert f.read(8) == bytes.fromhex("00000801") + n.to_bytes(4, "big")


def test_the_script_writes_these_bytes_again(tmp_path):
    """scripts/make_mnist_mini.py is deterministic: re-encoding the subset gives the same files."""
    script = make_script()
    for split, (image_name, label_name) in script.NAMES.items():
        images, labels = load_mnist_arrays(MNIST_MINI, split)
        for name, array in ((image_name, images), (label_name, labels.astype(np.uint8))):
            script.write_gz(tmp_path / name, script.idx_bytes(array))
            assert (tmp_path / name).read_bytes() == (MNIST_MINI / name).read_bytes(), name


@pytest.mark.skipif(
    not SHARED_MNIST.is_dir(), reason="the real MNIST files are not beside the checkout"
)
@pytest.mark.parametrize("split", ["train", "test"])
def test_the_subset_is_the_first_images_of_the_real_files(split):
    real_images, real_labels = load_mnist_arrays(SHARED_MNIST, split)
    images, labels = load_mnist_arrays(MNIST_MINI, split)
    assert np.array_equal(images, real_images[: len(images)])
    assert np.array_equal(labels, real_labels[: len(labels)])


# ---- where MNIST is found ---------------------------------------------------------------------


def test_the_fixture_finds_the_subset_through_ganforge_data(mnist_mini):
    assert default_mnist_dir() == MNIST_MINI
    dataset = load_dataset("mnist", resolution=28)
    assert len(dataset) == 500 and dataset.sample_shape == (1, 28, 28)
    assert len(load_dataset("mnist:test", resolution=28)) == 200


def test_ganforge_data_may_name_the_parent_of_the_mnist_folder(tmp_path, monkeypatch):
    copy_mini(tmp_path)
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path))
    assert default_mnist_dir() == tmp_path / "mnist"


def test_ganforge_data_is_the_only_place_when_set(tmp_path, monkeypatch):
    """Set to a folder without MNIST, nothing else is searched (not the cache, not ../shared)."""
    home = tmp_path / "home"
    copy_mini(home / ".cache" / "ganforge")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "empty"))
    assert default_mnist_dir() is None
    with pytest.raises(GanforgeError) as e:
        load_dataset("mnist")
    message = str(e.value)
    assert "MNIST not found" in message and f"GANFORGE_DATA={tmp_path / 'empty'}" in message
    assert "ganforge data get mnist" in message and "train-images-idx3-ubyte.gz" in message


def isolated(tmp_path, monkeypatch) -> Path:
    """No $GANFORGE_DATA, HOME in tmp_path, and the package as if installed far from ../shared."""
    monkeypatch.delenv("GANFORGE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(mnist_module, "__file__", str(tmp_path / "site/ganforge/data/mnist.py"))
    (tmp_path / "work" / "clone").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work" / "clone")
    return tmp_path / "home" / ".cache" / "ganforge" / "mnist"


def test_the_cache_then_shared_beside_the_checkout(tmp_path, monkeypatch):
    cache = isolated(tmp_path, monkeypatch)
    assert default_mnist_dir() is None
    shutil.copytree(MNIST_MINI, tmp_path / "work" / "shared" / "datasets" / "mnist")
    assert default_mnist_dir() == tmp_path / "work" / "shared" / "datasets" / "mnist"
    shutil.copytree(MNIST_MINI, cache)  # where `ganforge data get mnist` puts it wins
    assert default_mnist_dir() == cache


def test_nothing_found_says_where_it_looked_and_how_to_get_it(tmp_path, monkeypatch):
    cache = isolated(tmp_path, monkeypatch)
    with pytest.raises(GanforgeError) as e:
        load_mnist_arrays()
    message = str(e.value)
    assert "\n" not in message and "MNIST not found" in message and str(cache) in message
    assert "ganforge data get mnist" in message and "set GANFORGE_DATA" in message


def test_an_explicit_folder_is_used_as_given(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "empty"))
    folder = copy_mini(tmp_path)
    images, _ = load_mnist_arrays(folder, "test")
    assert images.shape == (200, 28, 28)
    assert load_mnist(str(folder)).name == "mnist:train"


def test_uncompressed_files_load_too(tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    for name in FILE_NAMES[2:]:
        (folder / name[:-3]).write_bytes(gzip.decompress((MNIST_MINI / name).read_bytes()))
    images, labels = load_mnist_arrays(folder, "test")
    assert np.array_equal(images, load_mnist_arrays(MNIST_MINI, "test")[0])


# ---- SHA256SUMS -------------------------------------------------------------------------------


def test_a_file_that_no_longer_matches_its_checksum_is_refused(tmp_path):
    folder = copy_mini(tmp_path)
    good = folder / "t10k-labels-idx1-ubyte.gz"
    labels = bytearray(gzip.decompress(good.read_bytes()))
    labels[8] = (labels[8] + 1) % 10  # a valid file, one label changed
    good.write_bytes(gzip.compress(bytes(labels)))
    with pytest.raises(GanforgeError, match="does not match its SHA-256 in SHA256SUMS") as e:
        load_mnist_arrays(folder, "test")
    assert str(good) in str(e.value)
    (folder / CHECKSUMS_FILE).unlink()  # no list, no check: the changed label is read
    assert load_mnist_arrays(folder, "test")[1][0] == labels[8]
