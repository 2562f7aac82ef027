"""Direct comparisons (--real/--fake): the extractor follows the images' normalised shape."""

import importlib
import json

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.metrics import evaluate
from ganforge.metrics.compare import prepare_comparison
from ganforge.metrics.features import choose_extractor
from ganforge.metrics.features.inception import WEIGHTS_ENV


@pytest.fixture(autouse=True)
def no_inception_weights(tmp_path, monkeypatch):
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))


def grey(n, side, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, side, side), dtype=np.uint8)


def test_n_28_28_uint8_arrays_get_the_mnist_space(tmp_path, capsys):
    """(N, 28, 28) used to read as 28 channels and silently get randconv."""
    np.save(tmp_path / "a.npy", grey(30, 28, 0))
    np.save(tmp_path / "b.npy", grey(30, 28, 1))
    argv = ["eval", "--real", tmp_path / "a.npy", "--fake", tmp_path / "b.npy"]
    code = main([str(a) for a in [*argv, "--metrics", "fid", "--json", tmp_path / "r.json"]])
    out = capsys.readouterr().out
    assert code == 0
    protocol_line = next(line for line in out.splitlines() if line.startswith("protocol"))
    assert "extractor=mnist (chosen: grey 28x28 images: the shipped digit classifier)" in (
        protocol_line
    )
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["protocol"]["extractor"] == "mnist"
    assert "grey 28x28" in result["protocol"]["extractor_choice"]
    # The same numbers as evaluate() in the mnist space with the arrays as (N, 1, 28, 28).
    a = torch.from_numpy(grey(30, 28, 0)).unsqueeze(1)
    b = torch.from_numpy(grey(30, 28, 1)).unsqueeze(1)
    direct = evaluate(b, a, metrics="fid", n=None, extractor="mnist", use_cache=False)
    assert result["fid"] == pytest.approx(direct["fid"], rel=1e-9)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((1, 28, 28), "mnist"),
        ((1, 32, 32), "mnist"),  # padded digits
        ((1, 24, 24), "mnist"),
        ((1, 8, 8), "randconv"),  # too small for the digit classifier to mean much
        ((1, 64, 64), "randconv"),
        ((3, 28, 28), "randconv"),
        ((1, 28, 32), "randconv"),
    ],
)
def test_choice_without_inception_weights(shape, expected):
    name, why = choose_extractor(shape)
    assert name == expected
    if expected == "randconv":
        assert "no Inception weights found" in why and "relative comparisons only" in why


def test_inception_is_chosen_when_its_weights_are_found(tmp_path, monkeypatch):
    weights = tmp_path / "pt_inception.pth"
    weights.write_bytes(b"only its presence is looked at here")
    monkeypatch.setenv(WEIGHTS_ENV, str(weights))
    assert choose_extractor((3, 64, 64))[0] == "inception"
    assert choose_extractor((1, 28, 28))[0] == "mnist"  # digits stay in the digit space


def test_explicit_missing_weights_are_an_error_not_a_fallback(tmp_path):
    with pytest.raises(GanforgeError, match="nowhere.pth"):
        choose_extractor((3, 64, 64), tmp_path / "nowhere.pth")


def test_grey_stored_as_rgb_counts_as_grey_and_explicit_extractor_wins():
    rgb = torch.from_numpy(grey(12, 28, 2)).unsqueeze(1).expand(-1, 3, -1, -1).contiguous()
    plan = prepare_comparison(torch.from_numpy(grey(12, 28, 3)), rgb)
    assert plan.extractor == "mnist" and plan.fake.shape == (12, 3, 28, 28)
    plan = prepare_comparison(rgb, rgb, extractor="randconv:16")
    assert (plan.extractor, plan.why) == ("randconv:16", "--extractor")


def test_metric_needs_are_checked_before_any_feature_pass(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("features were computed before the check")

    monkeypatch.setattr(importlib.import_module("ganforge.metrics.evaluate"), "extract", refuse)
    images = torch.zeros(20, 1, 28, 28)
    with pytest.raises(GanforgeError, match="no class logits"):
        evaluate(images, images, metrics=("fid", "is"), n=20, extractor="randconv")
    with pytest.raises(GanforgeError, match="unknown metrics 'lpips'.*fid, kid, is, pr, dc"):
        evaluate(images, images, metrics="fid,lpips", n=20)
    with pytest.raises(GanforgeError, match="at least 10 generated images, got 8"):
        evaluate(images[:8], images, metrics="is", n=None)
    with pytest.raises(GanforgeError, match="n must be >= 1"):
        evaluate(images, images, metrics="fid", n=0)
    with pytest.raises(GanforgeError, match="KID subset size 50"):
        evaluate(images, images, metrics="kid", n=20, kid_subset_size=50)
    with pytest.raises(GanforgeError, match="pr with k=3 needs at least 4"):
        evaluate(images[:3], images, metrics="pr", n=None)
    nan = images.clone()
    nan[5, 0, 3, 3] = float("nan")
    with pytest.raises(GanforgeError, match="NaN"):
        evaluate(nan, images, metrics="fid", n=20)


def test_default_metrics_follow_the_extractor():
    real = torch.rand(20, 1, 16, 16) * 2 - 1
    fake = torch.rand(20, 1, 16, 16) * 2 - 1
    result = evaluate(fake, real, n=20, extractor="randconv", use_cache=False)
    assert result["protocol"]["metrics"] == ["fid", "kid", "pr", "dc"]
    assert "no class logits" in result["protocol"]["skipped"]["is"]
    assert "is_mean" not in result
