"""PSNR/SSIM by the SR protocol, checked against scikit-image's independent implementations."""

import math

import numpy as np
import pytest
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ganforge.errors import GanforgeError
from ganforge.metrics.image_quality import psnr, rgb_to_y, ssim


def _pair(shape=(40, 36, 3), seed=0, noise=12.0):
    rng = np.random.default_rng(seed)
    # Smooth content plus noise: realistic enough for SSIM to land away from 0 and 1.
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    base = 128 + 60 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    base = np.repeat(base[..., None], shape[2], axis=2) if len(shape) == 3 else base
    a = np.clip(base + rng.normal(0, 8, shape), 0, 255).astype(np.uint8)
    b = np.clip(a + rng.normal(0, noise, shape), 0, 255).astype(np.uint8)
    return a, b


def test_y_channel_matches_skimage_bt601():
    a, _ = _pair()
    expected = rgb2ycbcr(a)[..., 0]  # skimage: uint8 in, Y on 16..235 out
    np.testing.assert_allclose(rgb_to_y(a).numpy(), expected, atol=1e-9)


@pytest.mark.parametrize("border", [0, 2, 4])
def test_psnr_matches_skimage_on_y(border):
    a, b = _pair()
    ya, yb = rgb2ycbcr(a)[..., 0], rgb2ycbcr(b)[..., 0]
    if border:
        ya, yb = ya[border:-border, border:-border], yb[border:-border, border:-border]
    expected = peak_signal_noise_ratio(ya, yb, data_range=255)
    assert psnr(a, b, crop_border=border) == pytest.approx(expected, abs=1e-9)


def test_psnr_formula_written_out_and_rgb_mode():
    a, b = _pair()
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    assert psnr(a, b, y_channel=False) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-9)
    assert psnr(a, a) == math.inf


@pytest.mark.parametrize("border", [0, 3])
def test_ssim_matches_skimage_gaussian_protocol(border):
    a, b = _pair(seed=1)
    ya, yb = rgb2ycbcr(a)[..., 0], rgb2ycbcr(b)[..., 0]
    if border:
        ya, yb = ya[border:-border, border:-border], yb[border:-border, border:-border]
    expected = structural_similarity(
        ya, yb, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert 0.2 < expected < 0.95  # a non-trivial case
    assert ssim(a, b, crop_border=border) == pytest.approx(expected, abs=1e-9)


def test_ssim_rgb_mode_averages_channels_like_skimage():
    a, b = _pair(seed=2)
    expected = structural_similarity(
        a.astype(float),
        b.astype(float),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=2,
    )
    assert ssim(a, b, y_channel=False) == pytest.approx(expected, abs=1e-9)
    assert ssim(a, a) == pytest.approx(1.0)


def test_grey_images_are_used_as_they_are():
    a, b = _pair(shape=(30, 30))
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255))
    assert psnr(a[..., None], b[..., None]) == pytest.approx(psnr(a, b))


def test_bad_inputs_are_clear():
    a, b = _pair()
    with pytest.raises(GanforgeError, match="differ in shape"):
        psnr(a, b[:-1])
    with pytest.raises(GanforgeError, match="at least 11x11"):
        ssim(a[:14, :14], b[:14, :14], crop_border=2)
    with pytest.raises(GanforgeError, match="nothing left"):
        psnr(a[:4, :4], b[:4, :4], crop_border=2)
