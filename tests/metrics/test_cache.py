"""Reference feature cache: location, keys, atomic writes, recovery from bad files."""

import pytest
import torch

from ganforge.metrics.cache import (
    FeatureKey,
    cache_root,
    cached_features,
    features_dir,
    load_features,
    save_features,
)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    return tmp_path


KEY = FeatureKey("mnist", "test", 28, "mnist", "abc123", 5)


def test_location_follows_env(cache, monkeypatch):
    assert cache_root() == cache and features_dir() == cache / "features"
    assert KEY.path() == cache / "features" / "mnist-test-28px-mnist-abc123-n5.npz"
    monkeypatch.delenv("GANFORGE_CACHE")
    assert features_dir().parts[-3:] == (".cache", "ganforge", "features")


def test_filename_is_safe():
    key = FeatureKey("my data/set", "a:b", 32, "randconv32-s0", "x", 10)
    assert "/" not in key.filename() and ":" not in key.filename()


def test_round_trip_without_leftovers():
    features, logits = torch.randn(5, 3), torch.randn(5, 10)
    path = save_features(KEY, features, logits)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    loaded = load_features(KEY)
    assert torch.equal(loaded[0], features) and torch.equal(loaded[1], logits)
    save_features(KEY, features, None)  # overwrite in place
    assert load_features(KEY)[1] is None


def test_wrong_count_or_corrupt_file_is_a_miss():
    save_features(KEY, torch.randn(4, 3), None)  # key says 5 rows
    assert load_features(KEY) is None
    KEY.path().write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable"):
        assert load_features(KEY) is None


def test_cached_features_computes_once():
    calls = []

    def compute():
        calls.append(1)
        return torch.ones(5, 2), None

    first = cached_features(KEY, compute)
    second = cached_features(KEY, compute)
    assert len(calls) == 1 and first[2] is False and second[2] is True
    assert torch.equal(first[0], second[0])
    cached_features(KEY, compute, use_cache=False)
    assert len(calls) == 2
