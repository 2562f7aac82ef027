"""The one pixel conversion (uint8 <-> [-1, 1]) and the one image resize every module uses."""

import pytest
import torch
import torch.nn.functional as F

from ganforge.images import (
    convert_channels,
    resize_images,
    to_model_range,
    to_pixels,
    to_uint8,
)


def test_uint8_to_model_range_and_back_is_exact():
    pixels = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    x = to_model_range(pixels)
    assert x.dtype == torch.float32
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0
    assert torch.equal(x, pixels.float() / 127.5 - 1.0)
    assert torch.equal(to_pixels(x), pixels)
    assert pixels.dtype == torch.uint8  # the input is never changed in place


def test_to_model_range_refuses_floats():
    with pytest.raises(TypeError, match="uint8"):
        to_model_range(torch.zeros(1, 1, 2, 2))


def test_to_pixels_clamps_out_of_range_values():
    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 7.0])
    assert to_pixels(x).tolist() == [0, 0, 128, 255, 255]  # 127.5 rounds half to even: 128


def test_to_uint8_is_channels_last():
    x = torch.linspace(-1, 1, 2 * 3 * 4 * 5).view(2, 3, 4, 5)
    out = to_uint8(x)
    assert out.shape == (2, 4, 5, 3)
    assert (out == to_pixels(x).permute(0, 2, 3, 1).numpy()).all()


def test_resize_uint8_stays_uint8_and_float_stays_in_range():
    g = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (2, 3, 12, 12), generator=g, dtype=torch.uint8)
    same = resize_images(pixels, 12)
    assert same is pixels  # already there: untouched
    small = resize_images(pixels, 5)
    ref = F.interpolate(pixels.float(), size=(5, 5), mode="bilinear", antialias=True)
    assert small.dtype == torch.uint8
    assert torch.equal(small, ref.round().clamp(0, 255).to(torch.uint8))
    floats = resize_images(torch.rand(1, 1, 4, 4, generator=g) * 4 - 2, 9)
    assert floats.dtype == torch.float32 and floats.shape == (1, 1, 9, 9)
    assert float(floats.abs().max()) <= 1.0


def test_convert_channels():
    grey = torch.tensor([[[[10, 200]]]], dtype=torch.uint8)
    rgb = convert_channels(grey, 3)
    assert rgb.shape == (1, 3, 1, 2) and torch.equal(rgb[:, 2], grey[:, 0])
    assert torch.equal(convert_channels(rgb, 1), grey)  # luma of a grey is that grey
    assert convert_channels(grey, 1) is grey
