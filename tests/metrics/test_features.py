"""Input checks, conversions, batched extraction and the shipped MNIST classifier."""

import numpy as np
import pytest
import torch

from ganforge.data.mnist import load_mnist
from ganforge.errors import GanforgeError
from ganforge.metrics.features import (
    RandomConvExtractor,
    check_images,
    extract,
    get_extractor,
)
from ganforge.metrics.features.base import resize, to_channels
from ganforge.metrics.features.mnist import MnistExtractor, shipped_weights
from ganforge.metrics.features.mnist_net import MnistNet


@pytest.fixture(scope="module")
def mnist_extractor():
    return get_extractor("mnist")


def images(n, c=1, size=28, seed=0):
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


# ---- input checks ----------------------------------------------------------------------------


def test_uint8_is_read_as_0_255():
    x = torch.tensor([0, 255, 51], dtype=torch.uint8).view(1, 1, 1, 3)
    np.testing.assert_allclose(check_images(x).flatten(), [-1.0, 1.0, 51 / 127.5 - 1], atol=1e-6)


def test_three_d_array_is_single_channel():
    assert check_images(np.zeros((4, 28, 28), np.float32)).shape == (4, 1, 28, 28)


def test_range_tolerance_and_hints():
    check_images(torch.full((2, 1, 8, 8), 1.0 + 5e-4))  # inside the 1e-3 tolerance
    with pytest.raises(GanforgeError, match=r"outside \[-1, 1\].*look like \[0, 255\]"):
        check_images(torch.full((2, 1, 8, 8), 200.0))
    with pytest.raises(GanforgeError, match="tanh"):
        check_images(torch.full((2, 1, 8, 8), -3.0))


def test_zero_one_images_warn():
    with pytest.warns(UserWarning, match=r"\[0, 1\]"):
        check_images(torch.rand(16, 1, 8, 8))


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.zeros(2, 1, 1, 8, 8), r"\(N, C, H, W\)"),
        (torch.zeros(2, 1, 8, 8, dtype=torch.int32), "float or uint8"),
        (torch.full((2, 1, 8, 8), float("nan")), "NaN"),
    ],
)
def test_bad_image_arrays(x, message):
    with pytest.raises(GanforgeError, match=message):
        check_images(x)


def test_rgb_to_grey_uses_bt601_luma():
    x = torch.tensor([0.5, -0.2, 0.9]).view(1, 3, 1, 1)
    grey = to_channels(x, 1)
    assert float(grey) == pytest.approx(0.299 * 0.5 - 0.587 * 0.2 + 0.114 * 0.9, abs=1e-7)
    assert to_channels(torch.zeros(2, 1, 4, 4), 3).shape == (2, 3, 4, 4)


@pytest.mark.parametrize("channels", [2, 4])
def test_unsupported_channels(channels):
    with pytest.raises(GanforgeError, match=f"{channels} channels"):
        to_channels(torch.zeros(1, channels, 8, 8), 1)


def test_resize_checks_and_bilinear():
    with pytest.raises(GanforgeError, match="non-square"):
        resize(torch.zeros(1, 1, 28, 32), 28)
    with pytest.raises(GanforgeError, match="smaller than 8x8"):
        resize(torch.zeros(1, 1, 4, 4), 28)
    x = images(2, size=28)
    assert resize(x, 28) is x  # already the right size: untouched
    # A constant image stays constant under bilinear resizing (weights sum to 1).
    assert torch.allclose(resize(torch.full((1, 1, 14, 14), 0.3), 28), torch.tensor(0.3))


# ---- the shipped classifier ------------------------------------------------------------------


def test_shipped_weights_small_and_plain_state_dict():
    path = shipped_weights()
    assert path.stat().st_size < 1_000_000
    state = torch.load(path, weights_only=True)
    MnistNet().load_state_dict(state)  # strict: every key present, no extras


def test_mnist_shapes_and_protocol(mnist_extractor):
    features, logits = mnist_extractor(images(3))
    assert features.shape == (3, 128) and logits.shape == (3, 10)
    protocol = mnist_extractor.protocol()
    assert protocol["extractor"] == "mnist" and "28x28" in protocol["resize"]
    assert len(protocol["weights"]) == 12


def test_mnist_accepts_rgb_and_other_sizes(mnist_extractor):
    features, _ = mnist_extractor(images(2, c=3, size=64))
    assert features.shape == (2, 128)


def test_mnist_classifier_is_accurate(mnist_extractor, mnist_mini):
    test = load_mnist(split="test")  # the 200 test digits shipped in tests/fixtures/mnist-mini
    _, logits = extract(mnist_extractor, test.data)
    accuracy = float((logits.argmax(1) == test.labels).float().mean())
    # The full test set gives 99.56%; these 200 are all right (binomial std ~0.5%: 98.5% is safe).
    assert len(test) == 200 and accuracy > 0.985


def test_bad_weights_file(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"nope": torch.zeros(1)}, path)
    with pytest.raises(GanforgeError, match="not MnistNet weights"):
        MnistExtractor(path)
    with pytest.raises(GanforgeError, match="not found"):
        MnistExtractor(tmp_path / "missing.pt")


# ---- batched extraction ----------------------------------------------------------------------


def test_extract_tensor_batches_match_one_pass(mnist_extractor):
    x = images(70)
    f_batched, l_batched = extract(mnist_extractor, x, batch_size=32)
    f_once, l_once = mnist_extractor(x)
    assert f_batched.shape == (70, 128)
    assert torch.allclose(f_batched, f_once, atol=1e-5) and torch.allclose(
        l_batched, l_once, atol=1e-5
    )
    assert extract(mnist_extractor, x.numpy(), n=10)[0].shape == (10, 128)


def test_extract_from_sampler(mnist_extractor):
    pool = images(100, seed=1)
    calls = []

    def sample(batch_size):
        calls.append(batch_size)
        start = sum(calls[:-1])
        return pool[start : start + batch_size]

    features, _ = extract(mnist_extractor, sample, n=70, batch_size=32)
    assert calls == [32, 32, 6]
    assert torch.allclose(features, extract(mnist_extractor, pool[:70])[0], atol=1e-5)


def test_extract_sampler_returning_tuples_and_extra_rows(mnist_extractor):
    features, _ = extract(mnist_extractor, lambda b: (images(b + 5), None), n=12, batch_size=5)
    assert features.shape == (12, 128)


def test_extract_no_grad_and_extractors_stay_in_eval(mnist_extractor):
    mnist_extractor.train()
    assert not any(m.training for m in mnist_extractor.modules())
    x = images(4).requires_grad_(True)
    features, _ = extract(mnist_extractor, x)
    assert not features.requires_grad
    # BatchNorm in eval mode: a sample's features do not depend on its batch-mates.
    alone = extract(mnist_extractor, x[:1].detach())[0]
    assert torch.allclose(alone, features[:1], atol=1e-5)


def test_extract_errors(mnist_extractor):
    with pytest.raises(GanforgeError, match="20 images requested, 10 given"):
        extract(mnist_extractor, images(10), n=20)
    with pytest.raises(GanforgeError, match="needs n >= 1"):
        extract(mnist_extractor, lambda b: images(b))
    with pytest.raises(GanforgeError, match="sampler returned shape"):
        extract(mnist_extractor, lambda b: torch.zeros(0, 1, 28, 28), n=4)
    with pytest.raises(GanforgeError, match="outside"):
        extract(mnist_extractor, images(4) * 255)


# ---- random conv extractor -------------------------------------------------------------------


def test_randconv_seeded_and_documented():
    a, b, c = RandomConvExtractor(32, 0), RandomConvExtractor(32, 0), RandomConvExtractor(32, 1)
    x = images(3, c=3, size=32)
    fa, logits = a(x)
    assert fa.shape == (3, 512) and logits is None
    assert torch.equal(fa, b(x)[0])
    assert not torch.allclose(fa, c(x)[0])
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert "relative comparisons only" in a.protocol()["note"]


def test_get_extractor_specs():
    ext = get_extractor("randconv:16:3")
    assert ext.name == "randconv16-s3" and ext(images(2, size=40))[0].shape == (2, 512)
    assert get_extractor(ext) is ext
    with pytest.raises(GanforgeError, match="unknown feature extractor"):
        get_extractor("vgg")
    with pytest.raises(GanforgeError, match="bad extractor spec"):
        get_extractor("randconv:x")
