"""load_image_folder on real files written with PIL: modes, geometry, labels, broken input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data.folder import load_image_folder
from ganforge.errors import GanforgeError

torch.set_num_threads(1)


def solid(mode: str, size: tuple[int, int], colour) -> Image.Image:
    return Image.new(mode, size, colour)


def save(im: Image.Image, path: Path, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, **kw)
    return path


def load(path, resolution=8, channels=None, **kw):
    warnings: list[str] = []
    ds = load_image_folder(path, resolution, channels, warn=warnings.append, **kw)
    return ds, warnings


def pixel_set(t: torch.Tensor) -> set[tuple[int, ...]]:
    """Distinct pixel values of one (C, H, W) image."""
    return {tuple(p) for p in t.reshape(t.shape[0], -1).T.tolist()}


# ---- modes and values ---------------------------------------------------------------------


def test_solid_rgb_and_grey_keep_their_colour_and_grey_is_repeated(tmp_path):
    save(solid("RGB", (40, 30), (200, 30, 90)), tmp_path / "a.png")
    save(solid("L", (17, 50), 77), tmp_path / "b.png")
    ds, warnings = load(tmp_path, 16)
    assert ds.data.dtype == torch.uint8 and ds.data.shape == (2, 3, 16, 16)
    assert pixel_set(ds.data[0]) == {(200, 30, 90)}
    assert pixel_set(ds.data[1]) == {(77, 77, 77)}
    assert ds.labels is None and ds.class_names is None and warnings == []
    assert ds.meta["paths"] == ["a.png", "b.png"]


def test_all_grey_folder_gives_one_channel(tmp_path):
    save(solid("L", (20, 20), 10), tmp_path / "a.png")
    save(solid("1", (20, 20), 1), tmp_path / "b.bmp")
    save(solid("LA", (20, 20), (50, 255)), tmp_path / "c.png")
    ds, _ = load(tmp_path, 8)
    assert ds.data.shape == (3, 1, 8, 8)
    assert [int(ds.data[i].unique()) for i in range(3)] == [10, 255, 50]


def test_channels_argument_converts(tmp_path):
    save(solid("RGB", (12, 12), (255, 0, 0)), tmp_path / "red.png")
    save(solid("L", (12, 12), 40), tmp_path / "zgrey.png")
    grey, _ = load(tmp_path, 8, channels=1)
    assert grey.data.shape == (2, 1, 8, 8)
    # ITU-R 601 luma: 0.299 * 255 = 76.2
    assert int(grey.data[0].unique()) == 76 and int(grey.data[1].unique()) == 40
    save(solid("L", (12, 12), 40), tmp_path / "only_grey" / "g.png")
    rgb, _ = load(tmp_path / "only_grey", 8, channels=3)
    assert rgb.data.shape == (1, 3, 8, 8) and pixel_set(rgb.data[0]) == {(40, 40, 40)}


def test_alpha_is_composited_on_white(tmp_path):
    im = solid("RGBA", (10, 10), (0, 0, 0, 0))  # fully transparent black -> white
    save(im, tmp_path / "a_clear.png")
    save(solid("RGBA", (10, 10), (255, 0, 0, 128)), tmp_path / "b_half_red.png")
    save(solid("LA", (10, 10), (0, 64)), tmp_path / "c_grey_alpha.png")
    ds, _ = load(tmp_path, 4)
    assert ds.data.shape == (3, 3, 4, 4)
    assert pixel_set(ds.data[0]) == {(255, 255, 255)}
    # over white: c' = c * a + 255 * (1 - a) with a = 128 / 255 -> 255 and 127 (+-1 for rounding)
    ((r, g, b),) = pixel_set(ds.data[1])
    assert r == 255 and abs(g - 127) <= 1 and g == b
    # LA black at alpha 64: 255 * (1 - 64 / 255) = 191
    ((v, v2, v3),) = pixel_set(ds.data[2])
    assert abs(v - 191) <= 1 and v == v2 == v3


def test_palette_images_use_their_palette_and_grey_palettes_count_as_grey(tmp_path):
    colour = solid("RGB", (16, 16), (10, 200, 30)).quantize(colors=4)
    assert colour.mode == "P"
    save(colour, tmp_path / "colour" / "p.png")
    ds, _ = load(tmp_path / "colour", 4)
    assert ds.data.shape == (1, 3, 4, 4) and pixel_set(ds.data[0]) == {(10, 200, 30)}

    grey = solid("L", (16, 16), 90).convert("P")
    assert grey.mode == "P"
    save(grey, tmp_path / "grey" / "p.png")
    ds, _ = load(tmp_path / "grey", 4)
    assert ds.data.shape == (1, 1, 4, 4) and int(ds.data.unique()) == 90

    clear = solid("RGB", (16, 16), (200, 0, 0)).quantize(colors=2)
    save(clear, tmp_path / "clear" / "p.png", transparency=0)
    save(solid("RGB", (16, 16), (0, 0, 9)), tmp_path / "clear" / "q.png")
    ds, _ = load(tmp_path / "clear", 4)
    assert pixel_set(ds.data[0]) == {(255, 255, 255)}  # the transparent index shows white


def test_16_bit_is_scaled_not_clipped(tmp_path):
    for name, value in (("a", 65535), ("b", 32768), ("c", 1000), ("d", 0)):
        im = Image.fromarray(np.full((9, 13), value, dtype=np.uint16))
        assert im.mode.startswith("I;16")
        save(im, tmp_path / f"{name}.png")
    reread = Image.open(tmp_path / "a.png")
    assert reread.mode.startswith("I")  # the file really is 16-bit
    ds, _ = load(tmp_path, 5)
    assert ds.data.shape == (4, 1, 5, 5)
    # v * 255 / 65535, rounded: 255, 127.50 -> 128, 3.89 -> 4, 0
    assert [int(ds.data[i].unique()) for i in range(4)] == [255, 128, 4, 0]


def test_16_bit_gradient_keeps_its_ramp(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (64, 1))
    save(Image.fromarray(ramp), tmp_path / "ramp.png")
    ds, _ = load(tmp_path, 64)
    expected = np.rint(ramp[0].astype(np.float64) * 255 / 65535)
    assert np.abs(ds.data[0, 0, 0].numpy() - expected).max() <= 1


def test_cmyk_and_other_formats(tmp_path):
    save(solid("CMYK", (10, 10), (0, 255, 255, 0)), tmp_path / "a_cmyk.tif")
    save(solid("RGB", (10, 10), (0, 0, 255)), tmp_path / "b.webp", lossless=True)
    save(solid("RGB", (10, 10), (9, 99, 199)), tmp_path / "c.BMP")
    frames = [solid("RGB", (10, 10), c).convert("P") for c in ((255, 255, 0), (0, 255, 0))]
    frames[0].save(tmp_path / "d.gif", save_all=True, append_images=frames[1:])
    save(solid("RGB", (30, 30), (120, 60, 30)), tmp_path / "e.jpeg", quality=95)
    ds, _ = load(tmp_path, 6)
    assert ds.meta["paths"] == ["a_cmyk.tif", "b.webp", "c.BMP", "d.gif", "e.jpeg"]
    assert pixel_set(ds.data[0]) == {(255, 0, 0)}
    assert pixel_set(ds.data[1]) == {(0, 0, 255)}
    assert pixel_set(ds.data[2]) == {(9, 99, 199)}
    assert pixel_set(ds.data[3]) == {(255, 255, 0)}  # first frame only
    jpeg = ds.data[4].reshape(3, -1).float().mean(1)
    assert torch.allclose(jpeg, torch.tensor([120.0, 60.0, 30.0]), atol=3)


# ---- geometry -------------------------------------------------------------------------------


def stripes(size: tuple[int, int], vertical: bool) -> Image.Image:
    """Three equal red / green / blue bands across the longer side."""
    w, h = size
    a = np.zeros((h, w, 3), np.uint8)
    n = (w if vertical else h) // 3
    for k in range(3):
        if vertical:
            a[:, k * n : (k + 1) * n, k] = 255
        else:
            a[k * n : (k + 1) * n, :, k] = 255
    return Image.fromarray(a)


@pytest.mark.parametrize("vertical", [True, False])
def test_centre_crop_of_shorter_side(tmp_path, vertical):
    # 60x20 (or 20x60): the centre 20x20 square is the green band alone.
    save(stripes((60, 20) if vertical else (20, 60), vertical), tmp_path / "s.png")
    ds, _ = load(tmp_path, 10)
    # Away from the crop border (where bicubic sees the neighbouring bands) it is pure green.
    inner = ds.data[0, :, 2:-2, 2:-2]
    assert pixel_set(inner) == {(0, 255, 0)}
    assert ds.data[0, 1].float().mean() > 240


def test_resize_matches_pil_reference_and_upscales_small_images(tmp_path):
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)
    save(Image.fromarray(big), tmp_path / "a.png")
    save(Image.fromarray(big[:5, :3]), tmp_path / "b_tiny.png")
    ds, _ = load(tmp_path, 24)
    # Independent reference: scale the shorter side to 24 (80x48 -> 40x24), then crop the centre.
    ref = Image.fromarray(big).resize((40, 24), Image.BICUBIC).crop((8, 0, 32, 24))
    diff = np.abs(ds.data[0].permute(1, 2, 0).numpy().astype(int) - np.asarray(ref).astype(int))
    assert diff.mean() < 2.0
    assert ds.data.shape == (2, 3, 24, 24)


def test_large_jpeg_decodes_reduced_but_matches_full_decode(tmp_path):
    y, x = np.mgrid[0:600, 0:800]
    a = np.stack([x * 255 // 800, y * 255 // 600, (x + y) * 255 // 1400], -1).astype(np.uint8)
    save(Image.fromarray(a), tmp_path / "big.jpg", quality=95)
    ds, _ = load(tmp_path, 32)
    with Image.open(tmp_path / "big.jpg") as im:  # full-size decode, no draft
        ref = im.convert("RGB").resize((32, 32), Image.BICUBIC, box=(100, 0, 700, 600))
    diff = np.abs(ds.data[0].permute(1, 2, 0).numpy().astype(int) - np.asarray(ref).astype(int))
    assert diff.mean() < 2.0


# ---- layout, labels, order ------------------------------------------------------------------


def test_class_subfolders_become_sorted_labels(tmp_path):
    colours = {"dog": (255, 0, 0), "cat": (0, 255, 0), "bird": (0, 0, 255)}
    for name, colour in colours.items():
        for k in range(2):
            save(solid("RGB", (8, 8), colour), tmp_path / name / f"{k}.png")
    save(solid("RGB", (8, 8), colours["cat"]), tmp_path / "cat" / "nested" / "deep.png")
    (tmp_path / "notes.txt").write_text("not an image")
    ds, _ = load(tmp_path, 4)
    assert ds.class_names == ["bird", "cat", "dog"]
    assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == [0, 0, 1, 1, 1, 2, 2]
    assert ds.meta["paths"][4] == "cat/nested/deep.png"
    for img, label in zip(ds.data, ds.labels.tolist(), strict=True):
        assert pixel_set(img) == {colours[ds.class_names[label]]}
    assert ds.num_classes == 3


def test_one_subfolder_or_images_at_top_are_unlabelled(tmp_path):
    save(solid("L", (8, 8), 1), tmp_path / "one" / "only" / "a.png")
    save(solid("L", (8, 8), 2), tmp_path / "one" / "only" / "b.png")
    ds, _ = load(tmp_path / "one")
    assert ds.labels is None and len(ds) == 2

    save(solid("L", (8, 8), 3), tmp_path / "mixed" / "top.png")
    save(solid("L", (8, 8), 4), tmp_path / "mixed" / "x" / "a.png")
    save(solid("L", (8, 8), 5), tmp_path / "mixed" / "y" / "a.png")
    ds, _ = load(tmp_path / "mixed")
    assert ds.labels is None
    assert ds.meta["paths"] == ["top.png", "x/a.png", "y/a.png"]


def test_order_is_sorted_paths_and_independent_of_workers(tmp_path):
    names = ["z.png", "a.png", "m/b.png", "m/a.png", "b.png"]
    for k, name in enumerate(names):
        save(solid("L", (8, 8), 10 * k), tmp_path / name)
    one, _ = load(tmp_path, workers=1)
    four, _ = load(tmp_path, workers=4)
    assert one.meta["paths"] == ["a.png", "b.png", "m/a.png", "m/b.png", "z.png"]
    assert torch.equal(one.data, four.data)
    assert [int(one.data[i].unique()) for i in range(5)] == [10, 40, 30, 20, 0]


def test_hidden_files_and_folders_are_ignored(tmp_path):
    save(solid("L", (8, 8), 1), tmp_path / "a.png")
    (tmp_path / "._a.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    save(solid("L", (8, 8), 2), tmp_path / ".cache" / "x.png")
    ds, warnings = load(tmp_path)
    assert ds.meta["paths"] == ["a.png"] and warnings == []


# ---- broken input ---------------------------------------------------------------------------


def write_broken(folder: Path) -> None:
    save(solid("RGB", (64, 64), (1, 2, 3)), folder / "good.png")
    png = folder / "trunc.png"
    save(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)), png)
    png.write_bytes(png.read_bytes()[: png.stat().st_size // 2])
    jpg = folder / "trunc.jpg"
    save(Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), np.uint8)), jpg)
    jpg.write_bytes(jpg.read_bytes()[: jpg.stat().st_size // 2])
    (folder / "text.png").write_text("hello, I am not a PNG")


def test_corrupt_files_are_skipped_with_one_counting_warning(tmp_path):
    write_broken(tmp_path)
    ds, warnings = load(tmp_path)
    assert len(ds) == 1 and ds.meta["paths"] == ["good.png"]
    assert pixel_set(ds.data[0]) == {(1, 2, 3)}
    assert sorted(ds.meta["skipped"]) == ["text.png", "trunc.jpg", "trunc.png"]
    assert len(warnings) == 1
    message = warnings[0]
    assert "skipped 3 unreadable" in message and "\n" not in message
    for name in ("text.png", "trunc.jpg", "trunc.png"):
        assert name in message


def test_warning_names_only_the_first_few(tmp_path):
    save(solid("L", (8, 8), 0), tmp_path / "good.png")
    for k in range(6):
        (tmp_path / f"bad{k}.png").write_bytes(b"junk")
    _, warnings = load(tmp_path)
    assert len(warnings) == 1 and "skipped 6" in warnings[0] and "and 3 more" in warnings[0]
    assert "bad0.png" in warnings[0] and "bad5.png" not in warnings[0]


def error_of(*args, **kw) -> str:
    with pytest.raises(GanforgeError) as info:
        load_image_folder(*args, warn=lambda m: None, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_all_corrupt_is_an_error(tmp_path):
    (tmp_path / "a.png").write_text("nope")
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8\xff")
    message = error_of(tmp_path, 8)
    assert "none of the 2 image files could be read" in message and str(tmp_path) in message
    assert "a.png" in message


def test_missing_path_file_path_and_empty_folder(tmp_path):
    message = error_of(tmp_path / "nowhere", 8)
    assert "not found" in message and "nowhere" in message

    save(solid("L", (8, 8), 0), tmp_path / "img.png")
    message = error_of(tmp_path / "img.png", 8)
    assert "got a file" in message and "folder that contains" in message

    (tmp_path / "empty").mkdir()
    message = error_of(tmp_path / "empty", 8)
    assert "no image files found" in message and ".png" in message and ".jpg" in message

    (tmp_path / "text_only").mkdir()
    (tmp_path / "text_only" / "readme.txt").write_text("x")
    assert "no image files found" in error_of(tmp_path / "text_only", 8)


def test_empty_class_folder_is_an_error(tmp_path):
    save(solid("L", (8, 8), 0), tmp_path / "cats" / "a.png")
    save(solid("L", (8, 8), 0), tmp_path / "dogs" / "a.png")
    (tmp_path / "hamsters").mkdir()
    message = error_of(tmp_path, 8)
    assert "class folder 'hamsters' has no image files" in message
    assert str(tmp_path / "hamsters") in message


def test_class_folder_with_only_broken_images_is_an_error(tmp_path):
    save(solid("L", (8, 8), 0), tmp_path / "cats" / "a.png")
    (tmp_path / "dogs").mkdir()
    (tmp_path / "dogs" / "a.png").write_text("broken")
    message = error_of(tmp_path, 8)
    assert "class folder 'dogs' has no readable images" in message


@pytest.mark.parametrize("resolution", [0, -4, 2.5, True])
def test_bad_resolution(tmp_path, resolution):
    save(solid("L", (8, 8), 0), tmp_path / "a.png")
    assert "resolution must be a positive integer" in error_of(tmp_path, resolution)


def test_bad_channels(tmp_path):
    save(solid("L", (8, 8), 0), tmp_path / "a.png")
    assert "channels must be 1, 3 or None" in error_of(tmp_path, 8, 2)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file (0 bytes)"),
        (b"plain words, no pixels\n", "not an image: text"),
        (b"<!DOCTYPE html><html></html>", "not an image: an HTML page"),
        (b"PK\x03\x04" + bytes(30), "not an image: a zip archive"),
        (b"\x1f\x8b\x08" + bytes(30), "not an image: a gzip archive"),
        (bytes([0xFE, 0x01]) * 100, "not an image: its content is no image format PIL reads"),
        (b"\x80\x04\x95" + bytes(30), "not an image: a Python pickle"),
    ],
    ids=["empty", "text", "html", "zip", "gzip", "binary", "pickle"],
)
def test_skip_reasons_say_what_the_file_is(tmp_path, content, reason):
    save(solid("L", (8, 8), 0), tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(content)
    ds, warnings = load(tmp_path)
    assert ds.meta["skipped"] == ["bad.png"]
    assert f"bad.png ({reason}" in warnings[0] and "replace or remove them" in warnings[0]


def test_a_cut_png_is_called_truncated_and_a_complete_one_is_read(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (32, 32), np.uint8)
    save(Image.fromarray(pixels), tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "half.png").write_bytes(data[: len(data) // 2])
    ds, warnings = load(tmp_path, resolution=32)
    assert ds.meta["paths"] == ["whole.png"] and torch.equal(
        ds.data[0, 0], torch.from_numpy(pixels)
    )
    assert f"half.png (truncated: the image data stops early ({len(data) // 2} bytes" in warnings[0]
