"""evaluate(): one feature pass, every metric, the protocol recorded, every kind of source."""

import importlib

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganforge.data.mnist import default_mnist_dir, load_mnist
from ganforge.errors import GanforgeError
from ganforge.metrics import evaluate, fid, kid, prdc
from ganforge.metrics.features import extract, get_extractor

needs_mnist = pytest.mark.skipif(
    default_mnist_dir() is None,
    reason="needs the full MNIST (500+ test images; tests/fixtures/mnist-mini has 200): "
    "ganforge data get mnist",
)


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def blobs(n, seed, shift=0.0, size=16):
    """Smooth random grey images in [-1, 1]: a cheap stand-in data set."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 1, 4, 4, generator=g)
    x = nn.functional.interpolate(low, size=(size, size), mode="bilinear") * 1.6 - 0.8 + shift
    return x.clamp(-1, 1)


class TinyGenerator(nn.Module):
    latent_dim = 8

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 16 * 16)
        self.dropout = nn.Dropout(0.5)  # makes train vs eval mode visible

    def forward(self, z):
        return torch.tanh(self.dropout(self.fc(z))).view(-1, 1, 16, 16)


def test_array_reference_all_metrics_and_protocol(cache):
    real, fake = blobs(120, 0), blobs(100, 1, shift=0.3)
    result = evaluate(fake, real, n=100, extractor="mnist", batch_size=64)
    for name in ("fid", "kid_mean", "kid_std", "is_mean", "is_std", "precision", "recall"):
        assert np.isfinite(result[name]), name
    assert {"density", "coverage", "class_counts", "classes_under_half"} <= set(result)
    protocol = result["protocol"]
    assert protocol["extractor"] == "mnist" and protocol["n_fake"] == 100
    assert protocol["n_ref"] == 100  # min(n, reference size)
    assert protocol["kid_subset_size"] == 100 and protocol["kid_subsets"] == 100
    assert protocol["pr_k"] == 3 and protocol["dc_k"] == 5 and protocol["is_splits"] == 10
    assert "no sample dropped" in protocol["is_split_bounds"]
    assert "10 digit logits" in protocol["is_logits"]
    assert "bilinear to 28x28" in protocol["resize"] and result["seconds"] > 0
    assert protocol["reference_cache_hit"] is False
    again = evaluate(fake, real, n=100, batch_size=64)
    assert again["protocol"]["reference_cache_hit"] is True
    assert again["fid"] == pytest.approx(result["fid"], rel=1e-9)


def test_values_equal_the_metric_functions_on_one_feature_pass():
    real, fake = blobs(80, 2), blobs(80, 3, shift=-0.2)
    result = evaluate(fake, real, n=80, metrics=("fid", "kid", "pr", "dc"), use_cache=False)
    net = get_extractor("mnist")
    f_real, _ = extract(net, real)
    f_fake, _ = extract(net, fake)
    assert result["fid"] == pytest.approx(fid(f_fake, f_real), rel=1e-9)
    assert result["kid_mean"] == pytest.approx(kid(f_fake, f_real)[0], rel=1e-9)
    expected = prdc(f_real, f_fake)
    for name in expected:
        assert result[name] == pytest.approx(expected[name], abs=1e-12)
    assert "is_mean" not in result and "is_splits" not in result["protocol"]


def test_generator_module_is_seeded_and_mode_restored():
    torch.manual_seed(123)
    gen = TinyGenerator()
    real = blobs(60, 4)
    state = torch.get_rng_state()
    a = evaluate(gen, real, n=60, metrics="fid", extractor="randconv", seed=5)
    b = evaluate(gen, real, n=60, metrics="fid", extractor="randconv", seed=5)
    c = evaluate(gen, real, n=60, metrics="fid", extractor="randconv", seed=6)
    assert a["fid"] == b["fid"] != c["fid"]
    assert gen.training  # put back in train mode after sampling in eval mode
    assert torch.equal(torch.get_rng_state(), state)  # global RNG untouched


def test_callable_sampler_runs_in_eval_with_seeded_global_rng():
    real = blobs(50, 5)

    def sample(batch_size):
        return torch.rand(batch_size, 1, 16, 16) * 2 - 1

    a = evaluate(sample, real, n=50, metrics=("fid",), extractor="randconv", seed=1)
    b = evaluate(sample, real, n=50, metrics=("fid",), extractor="randconv", seed=1)
    assert a["fid"] == b["fid"]


def test_folder_reference(tmp_path, monkeypatch):
    folder = tmp_path / "imgs"
    folder.mkdir()
    pictures = ((blobs(30, 6)[:, 0] + 1) * 127.5).round().byte().numpy()
    for i, array in enumerate(pictures):
        Image.fromarray(array).convert("RGB").save(folder / f"{i:03d}.png")
    result = evaluate(blobs(30, 7), str(folder), n=30, metrics=("fid", "pr"), extractor="randconv")
    assert result["protocol"]["reference"] == f"folder {folder}" and np.isfinite(result["fid"])

    def no_decoding(*args):
        raise AssertionError("a cache hit must not decode the folder")

    monkeypatch.setattr(
        importlib.import_module("ganforge.metrics.reference"), "read_images", no_decoding
    )
    hit = evaluate(blobs(30, 7), str(folder), n=30, metrics=("fid",), extractor="randconv")
    assert hit["protocol"]["reference_cache_hit"] and hit["fid"] == result["fid"]
    # The same images as an array give the same features (PNG round trip is lossless).
    rgb = torch.from_numpy(pictures).unsqueeze(1).expand(-1, 3, -1, -1).contiguous()
    same = evaluate(blobs(30, 7), rgb, n=30, metrics=("fid",), extractor="randconv")
    assert same["fid"] == pytest.approx(result["fid"], rel=1e-6)


def test_folder_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GanforgeError, match="no images found"):
        evaluate(blobs(10, 0), str(empty), n=10)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.new("L", (16, 16)).save(mixed / "a.png")
    Image.new("L", (20, 20)).save(mixed / "b.png")
    with pytest.raises(GanforgeError, match="different sizes"):
        evaluate(blobs(10, 0), str(mixed), n=2, metrics="fid")  # IS would refuse n=2 first


def test_bad_arguments():
    real = blobs(20, 0)
    with pytest.raises(GanforgeError, match="unknown metrics"):
        evaluate(real, real, n=20, metrics=("fid", "lpips"))
    with pytest.raises(GanforgeError, match="no class logits"):
        evaluate(real, real, n=20, metrics=("is",), extractor="randconv")
    with pytest.raises(GanforgeError, match="30 images requested, 20 given"):
        evaluate(real, real, n=30, metrics=("fid",))
    with pytest.raises(GanforgeError, match="n_ref=50"):
        evaluate(real, real, n=20, n_ref=50, metrics=("fid",))
    with pytest.raises(GanforgeError, match="unknown reference"):
        evaluate(real, "cifar10:test", n=20)
    with pytest.raises(GanforgeError, match="cannot evaluate"):
        evaluate("not images", real, n=20)


@needs_mnist
def test_mnist_real_data_beats_noise():
    train = load_mnist(split="train")
    real = evaluate(train.data[:500], "mnist:test", n=500)
    noise = evaluate(torch.rand(500, 1, 28, 28) * 2 - 1, "mnist:test", n=500)
    assert real["protocol"]["reference"] == "mnist:test"
    # Train vs test digits: near the floor (FID ~5 at N=500, IS ~9.8); noise is far away.
    assert real["fid"] < 0.1 * noise["fid"]
    assert real["is_mean"] > 9 and real["precision"] > 0.7 and real["recall"] > 0.7
    assert noise["precision"] < 0.05 and real["classes_under_half"] == 0


@pytest.mark.slow
@needs_mnist
def test_mnist_train_vs_test_floors_at_10k():
    train = load_mnist(split="train")
    result = evaluate(train.data[:10_000], "mnist:test", n=10_000)
    # Measured: FID 1.26, KID -0.012 +- 0.37, P 0.867, R 0.868, D 0.927, C 0.935, IS 9.81.
    assert result["fid"] < 3 and abs(result["kid_mean"]) < 0.2
    assert min(result["precision"], result["recall"], result["coverage"]) > 0.8
    assert result["is_mean"] > 9.5


def test_result_lines_explain_every_figure():
    from ganforge.metrics.evaluate import FIGURES, result_lines

    result = {key: 0.5 for key in FIGURES}
    result.update(class_entropy_max_bits=np.log2(10), classes_under_half_names=["3", "8"])
    lines = result_lines(result)
    assert len(lines) == len(FIGURES)
    entropy = next(line for line in lines if line.startswith("class_entropy_bits"))
    assert "3.32 bits" in entropy and "every class equally often" in entropy
    under = next(line for line in lines if line.startswith("classes_under_half"))
    assert under.endswith(": 3, 8") and "half as often as 1/classes" in under
    result["protocol"] = {"class_expected_share": "reference histogram under the same classifier"}
    under = next(line for line in result_lines(result) if line.startswith("classes_under_half"))
    assert "half as often as in the reference (same classifier)" in under
    assert result_lines({"fid": 1.0, "seconds": 2.0})[0].split()[:2] == ["fid", "1.0000"]
