"""Built-in photos: fixed splits, pixels identical to the shipping packages, offline crops."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch

from ganforge.data.photos import TEST_PHOTOS, TRAIN_PHOTOS, load_photos, load_photos_dataset
from ganforge.errors import GanforgeError

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def all_photos():
    return load_photos("all")


def test_splits_are_fixed_disjoint_and_cover_all(all_photos):
    train = [p.name for p in load_photos("train")]
    test = [p.name for p in load_photos("test")]
    assert test == ["chelsea", "coffee"] == list(TEST_PHOTOS)
    assert train == [
        "china",
        "flower",
        "astronaut",
        "rocket",
        "motorcycle",
        "hubble_deep_field",
        "immunohistochemistry",
        "retina",
    ]
    assert train == list(TRAIN_PHOTOS) and not set(train) & set(test)
    assert sorted(p.name for p in all_photos) == sorted(train + test)


def test_photos_are_uint8_rgb(all_photos):
    for photo in all_photos:
        image = photo.image
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, photo.name
        assert min(image.shape[:2]) >= 300 and image.std() > 10, photo.name


def test_pixels_match_the_packages_own_loaders(all_photos):
    skdata = pytest.importorskip("skimage.data")
    from sklearn.datasets import load_sample_image

    by_name = dict(all_photos)
    assert np.array_equal(by_name["china"], load_sample_image("china.jpg"))
    assert np.array_equal(by_name["flower"], load_sample_image("flower.jpg"))
    assert np.array_equal(by_name["astronaut"], skdata.astronaut())
    assert np.array_equal(by_name["chelsea"], skdata.chelsea())
    assert np.array_equal(by_name["coffee"], skdata.coffee())
    assert np.array_equal(by_name["rocket"], skdata.rocket())
    left, _, _ = skdata.stereo_motorcycle()
    assert np.array_equal(by_name["motorcycle"], left)


def test_loading_needs_no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load_photos tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    assert len(load_photos("test")) == 2


def test_unknown_split_is_an_error():
    with pytest.raises(GanforgeError, match="unknown photo split 'val'.*train, test, all"):
        load_photos("val")


def test_crops_have_the_right_shape_and_come_from_their_boxes():
    ds = load_photos_dataset(resolution=32, split="test", crops_per_image=5, seed=3)
    assert ds.data.shape == (10, 3, 32, 32) and ds.data.dtype == torch.uint8
    assert ds.labels is None and ds.meta["photo"] == ["chelsea"] * 5 + ["coffee"] * 5
    photos = dict(load_photos("test"))
    for i, (top, left) in enumerate(ds.meta["boxes"]):
        source = photos[ds.meta["photo"][i]][top : top + 32, left : left + 32]
        assert np.array_equal(ds.data[i].permute(1, 2, 0).numpy(), source)


def test_crops_are_deterministic_per_seed():
    a = load_photos_dataset(16, "test", 4, seed=0)
    b = load_photos_dataset(16, "test", 4, seed=0)
    c = load_photos_dataset(16, "test", 4, seed=1)
    assert torch.equal(a.data, b.data)
    assert not torch.equal(a.data, c.data)


def test_resolution_above_a_photo_side_scales_it_up():
    # chelsea is 451x300, so a 320 crop needs it scaled up first.
    ds = load_photos_dataset(320, "test", 1, seed=0)
    assert ds.data.shape == (2, 3, 320, 320)


@pytest.mark.parametrize(
    "kwargs, what",
    [
        ({"resolution": 0}, "resolution must be a positive integer"),
        ({"crops_per_image": -1}, "crops_per_image must be a positive integer"),
        ({"resolution": 8.0}, "resolution must be a positive integer"),
        ({"split": "holdout"}, "unknown photo split"),
    ],
)
def test_bad_dataset_arguments(kwargs, what):
    with pytest.raises(GanforgeError, match=what):
        load_photos_dataset(**kwargs)
