"""Translation data: paired/unpaired folders, side-by-side AB files, the built-in tasks, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from ganforge.data import load_dataset
from ganforge.data.mnist import load_mnist_arrays
from ganforge.data.paired import EDGE_THRESHOLD, TranslationDataset, load_translation_data
from ganforge.errors import GanforgeError
from tests.fixtures import MNIST_MINI

torch.set_num_threads(1)


def save(array: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def pattern(seed: int, size=(12, 12), colour=False) -> np.ndarray:
    shape = (*size, 3) if colour else size
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture(scope="module")
def mnist_train():
    return load_mnist_arrays(MNIST_MINI, "train")


# ---- paired folders --------------------------------------------------------------------------


def test_paired_folders_pair_by_name_whatever_the_extension(tmp_path):
    names = ["b", "a", "sub/c"]
    for i, name in enumerate(names):
        save(pattern(i), tmp_path / "A" / f"{name}.png")
        save(pattern(10 + i), tmp_path / "B" / f"{name}{'.bmp' if i == 1 else '.png'}")
    ds = load_dataset(f"paired:{tmp_path / 'A'},{tmp_path / 'B'}", resolution=12)
    assert isinstance(ds, TranslationDataset) and ds.paired and len(ds) == 3
    assert ds.meta["paths"] == ["a", "b", "sub/c"]  # sorted by name
    for row, i in enumerate([1, 0, 2]):  # a = pattern 1, b = pattern 0, sub/c = pattern 2
        assert np.array_equal(ds.source[row, 0].numpy(), pattern(i))
        assert np.array_equal(ds.data[row, 0].numpy(), pattern(10 + i))
    # batches are (target B, source A) in [-1, 1]
    b, a = ds.batch(torch.tensor([2, 0]))
    assert torch.equal(a, ds.source[[2, 0]].float() / 127.5 - 1)
    assert torch.equal(b, ds.data[[2, 0]].float() / 127.5 - 1)


def test_grey_meets_colour_as_colour(tmp_path):
    save(pattern(0), tmp_path / "A" / "x.png")
    save(pattern(1, colour=True), tmp_path / "B" / "x.png")
    ds = load_translation_data(f"paired:{tmp_path / 'A'},{tmp_path / 'B'}", 12)
    assert ds.sample_shape == (3, 12, 12) and ds.source.shape == (1, 3, 12, 12)
    for c in range(3):
        assert np.array_equal(ds.source[0, c].numpy(), pattern(0))
    assert np.array_equal(ds.data[0].permute(1, 2, 0).numpy(), pattern(1, colour=True))
    grey = load_translation_data(f"paired:{tmp_path / 'A'},{tmp_path / 'B'}", 12, channels=1)
    assert grey.sample_shape == (1, 12, 12)


def test_unmatched_names_list_the_first_few(tmp_path):
    for name in ["same", "a1", "a2", "a3", "a4", "a5"]:
        save(pattern(0), tmp_path / "A" / f"{name}.png")
    for name in ["same", "b1"]:
        save(pattern(0), tmp_path / "B" / f"{name}.png")
    with pytest.raises(GanforgeError) as err:
        load_dataset(f"paired:{tmp_path / 'A'},{tmp_path / 'B'}", 12)
    message = str(err.value)
    assert "\n" not in message
    assert "5 in A without a partner in B (a1, a2, a3 and 2 more)" in message
    assert "1 in B without a partner in A (b1)" in message
    assert "unpaired:A,B" in message


def test_a_pair_of_different_sizes_is_refused(tmp_path):
    save(pattern(0, (12, 12)), tmp_path / "A" / "ok.png")
    save(pattern(0, (12, 12)), tmp_path / "B" / "ok.png")
    save(pattern(0, (12, 16)), tmp_path / "A" / "odd.png")  # 16 wide, 12 high
    save(pattern(0, (12, 12)), tmp_path / "B" / "odd.png")
    with pytest.raises(GanforgeError, match=r"1 pair\(s\) differ in size \(odd 16x12 vs 12x12\)"):
        load_dataset(f"paired:{tmp_path / 'A'},{tmp_path / 'B'}", 12)


def test_empty_domain_folders_are_one_line_errors(tmp_path):
    save(pattern(0), tmp_path / "A" / "x.png")
    (tmp_path / "B").mkdir()
    with pytest.raises(GanforgeError, match="no image files found") as err:
        load_dataset(f"paired:{tmp_path / 'A'},{tmp_path / 'B'}", 12)
    assert str(tmp_path / "B") in str(err.value)
    with pytest.raises(GanforgeError, match=r"^domain B: no image files found"):
        load_dataset(f"unpaired:{tmp_path / 'A'},{tmp_path / 'B'}", 12)


@pytest.mark.parametrize("spec", ["paired:", "paired:a,b,c", "unpaired:onlyone", "unpaired:,b"])
def test_malformed_specs(spec):
    with pytest.raises(GanforgeError, match="bad data source"):
        load_dataset(spec, 12)


# ---- side-by-side AB files -------------------------------------------------------------------


def test_side_by_side_files_split_into_left_a_and_right_b(tmp_path):
    left, right = pattern(1), pattern(2)
    save(np.concatenate([left, right], axis=1), tmp_path / "AB" / "0001.png")
    ds = load_dataset(f"paired:{tmp_path / 'AB'}", 12)
    assert ds.paired and ds.sample_shape == (1, 12, 12)
    assert np.array_equal(ds.source[0, 0].numpy(), left)
    assert np.array_equal(ds.data[0, 0].numpy(), right)


def test_side_by_side_with_an_odd_width_is_refused(tmp_path):
    save(np.zeros((12, 25), np.uint8), tmp_path / "AB" / "bad.png")
    with pytest.raises(GanforgeError, match=r"odd width.*bad.png \(25x12\)"):
        load_dataset(f"paired:{tmp_path / 'AB'}", 12)


# ---- unpaired --------------------------------------------------------------------------------


def test_unpaired_domains_of_different_sizes(tmp_path):
    for i in range(3):
        save(pattern(i), tmp_path / "A" / f"{i}.png")
    for i in range(5):
        save(pattern(20 + i), tmp_path / "B" / f"img{i}.png")
    ds = load_dataset(f"unpaired:{tmp_path / 'A'},{tmp_path / 'B'}", 12)
    assert not ds.paired and len(ds) == 5 and ds.num_source == 3 and ds.num_target == 5
    b, a = ds.batch(torch.arange(5))
    for i in range(5):  # batch i: A[i % 3], B[i % 5]
        assert torch.equal(a[i, 0], torch.from_numpy(pattern(i % 3)).float() / 127.5 - 1)
        assert torch.equal(b[i, 0], torch.from_numpy(pattern(20 + i)).float() / 127.5 - 1)
    moved = ds.to("cpu")
    assert isinstance(moved, TranslationDataset) and not moved.paired
    assert torch.equal(moved.source, ds.source)
    small = ds.subset(torch.arange(4))
    assert small.num_source == 3 and small.num_target == 4


# ---- built-in tasks --------------------------------------------------------------------------


def _reference_edges(digit: np.ndarray) -> np.ndarray:
    """Sobel magnitude with scipy (zero outside the image), thresholded: 0/255."""
    x = digit.astype(np.float64) / 255.0
    gx = ndimage.sobel(x, axis=1, mode="constant")
    gy = ndimage.sobel(x, axis=0, mode="constant")
    return np.where(np.hypot(gx, gy) > EDGE_THRESHOLD, 255, 0).astype(np.uint8)


def test_edges2digits_pairs_sobel_edges_with_their_digits(mnist_mini):
    images, labels = load_mnist_arrays(None, "test")
    ds = load_dataset("edges2digits:test", 28, limit=40)
    assert ds.paired and len(ds) == 40 and ds.sample_shape == (1, 28, 28)
    assert np.array_equal(ds.data[:, 0].numpy(), images[:40])
    assert torch.equal(ds.meta["source_classes"], torch.from_numpy(labels[:40]))
    for i in range(40):
        assert np.array_equal(ds.source[i, 0].numpy(), _reference_edges(images[i])), i
    assert set(ds.source.unique().tolist()) == {0, 255}


def test_edges2digits_train_is_mnist_train(mnist_train, mnist_mini):
    ds = load_dataset("edges2digits", 28, limit=5)
    assert np.array_equal(ds.data[:, 0].numpy(), mnist_train[0][:5])


def test_mnist2thick_train_is_unpaired_disjoint_halves(mnist_train, mnist_mini):
    images, labels = mnist_train
    ds = load_dataset("mnist2thick", 28, limit=30)
    assert not ds.paired and ds.num_source == ds.num_target == 30
    assert np.array_equal(ds.source[:, 0].numpy(), images[0::2][:30])
    for i in range(30):
        thick = ndimage.grey_dilation(images[1::2][i], size=(3, 3), mode="constant", cval=0)
        assert np.array_equal(ds.data[i, 0].numpy(), thick), i
    assert torch.equal(ds.meta["source_classes"], torch.from_numpy(labels[0::2][:30]))
    assert torch.equal(ds.meta["target_classes"], torch.from_numpy(labels[1::2][:30]))


def test_mnist2thick_test_is_paired_with_its_ground_truth(mnist_mini):
    images, _ = load_mnist_arrays(None, "test")
    ds = load_dataset("mnist2thick:test", 28, limit=10)
    assert ds.paired and np.array_equal(ds.source[:, 0].numpy(), images[:10])
    for i in range(10):
        thick = ndimage.grey_dilation(images[i], size=(3, 3), mode="constant", cval=0)
        assert np.array_equal(ds.data[i, 0].numpy(), thick)


def test_builtin_tasks_resize_to_the_resolution(mnist_mini):
    ds = load_dataset("edges2digits:test", 16, limit=3)
    assert ds.sample_shape == (1, 16, 16) and ds.source.shape == (3, 1, 16, 16)


def test_grey2colour_sources_are_the_luma_of_the_targets():
    ds = load_dataset("grey2colour:test", 32)
    assert ds.paired and ds.sample_shape == (3, 32, 32) and len(ds) == 128
    assert set(ds.meta["photo"]) == {"chelsea", "coffee"}
    for i in (0, 77):
        rgb = ds.data[i].permute(1, 2, 0).numpy()
        luma = np.array(Image.fromarray(rgb, "RGB").convert("L")).astype(int)
        for c in range(3):  # grey repeated into 3 channels, PIL's luma within rounding
            assert np.abs(ds.source[i, c].numpy().astype(int) - luma).max() <= 1
    train = load_dataset("grey2colour", 32, limit=10)
    assert len(train) == 10 and "chelsea" not in train.meta["photo"]


def test_unknown_split_is_a_one_line_error():
    with pytest.raises(
        GanforgeError, match=r"unknown split 'val' of edges2digits.*edges2digits:test"
    ):
        load_dataset("edges2digits:val", 28)
