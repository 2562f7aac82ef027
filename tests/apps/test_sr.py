"""Using SR runs: tiled upscaling (equal to the whole-image pass), image modes in and out, files
and folders, eval-sr's figures and comparison image, and the CLI's one-line errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.apps.sr import (
    evaluate_sr,
    load_sr_model,
    upscale,
    upscale_path,
    upscale_tensor,
)
from ganforge.cli import main
from ganforge.data.sr import downscale
from ganforge.errors import GanforgeError
from ganforge.images import bicubic_resize
from ganforge.metrics.image_quality import psnr, ssim
from ganforge.nets.srresnet import SRResNet
from ganforge.tiling import blend_ramp as _ramp
from ganforge.tiling import tile_starts as _starts
from tests.cli_helpers import assert_one_line_error, run_cli


def _smooth(h, w, seed=0, channels=3):
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (max(2, h // 6), max(2, w // 6), 3), dtype=np.uint8)
    big = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BICUBIC))
    return big if channels == 3 else big[..., 0]


@pytest.fixture(scope="module")
def hr_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hr")
    for i in range(3):
        Image.fromarray(_smooth(44, 52, seed=i)).save(folder / f"im{i}.png")
    return folder


@pytest.fixture(scope="module")
def sr_run(hr_folder, tmp_path_factory):
    """A tiny x2 run trained for 4 steps through the CLI (pixel phase, then adversarial)."""
    out = tmp_path_factory.mktemp("runs")
    code = main(
        [
            "train",
            "--family",
            "srgan",
            "--data",
            f"folder:{hr_folder}",
            "--scale",
            "2",
            "--resolution",
            "16",
            "--g-width",
            "8",
            "--d-width",
            "4",
            "--sr-blocks",
            "1",
            "--batch-size",
            "4",
            "--steps",
            "4",
            "--pretrain-steps",
            "2",
            "--log-every",
            "2",
            "--sample-every",
            "2",
            "--checkpoint-every",
            "2",
            "--no-tensorboard",
            "--quiet",
            "--out",
            str(out),
            "--name",
            "sr",
        ]
    )
    assert code == 0
    return out / "sr"


def _rough_generator(scale=2, blocks=2, seed=0):
    """An SRResNet whose residual is far from zero, so any tiling error would show."""
    torch.manual_seed(seed)
    G = SRResNet(3, 8, blocks, scale).eval()
    with torch.no_grad():
        for p in G.parameters():
            p.mul_(3.0)
    return G


# ---- tiling ----------------------------------------------------------------------------------
@pytest.mark.parametrize("size, tile, overlap", [((37, 53), 16, 4), ((40, 24), 12, 0)])
def test_tiled_upscale_equals_the_whole_image(size, tile, overlap):
    G = _rough_generator()
    lr = torch.rand(1, 3, *size) * 2 - 1
    with torch.no_grad():
        whole = G(lr).clamp(-1, 1)
    tiled = upscale_tensor(G, lr, 2, tile=tile, overlap=overlap)  # context: receptive radius
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().max() < 1e-5
    # Without context the tiles' borders differ: the test can tell tiled from whole.
    rough = upscale_tensor(G, lr, 2, tile=tile, overlap=overlap, context=0)
    assert (rough - whole).abs().max() > 1e-2


def test_tile_layout_and_blending_weights():
    assert _starts(10, 16, 4) == [0]
    assert _starts(40, 16, 4) == [0, 12, 24]
    assert _starts(41, 16, 4) == [0, 12, 24, 25]
    w = _ramp(8, 4, rise=True, fall=False)
    assert torch.allclose(w, torch.tensor([0.125, 0.375, 0.625, 0.875, 1, 1, 1, 1]))
    # Two tiles overlapping by the ramp length: the weights of each pixel sum to 1.
    a, b = _ramp(8, 4, False, True), _ramp(8, 4, True, False)
    assert torch.allclose(a[4:] + b[:4], torch.ones(4))


# ---- the Python API --------------------------------------------------------------------------
def test_upscale_api_modes(sr_run):
    model = load_sr_model(sr_run)
    rgb = Image.fromarray(_smooth(20, 30))
    out = upscale(model, rgb)
    assert isinstance(out, Image.Image) and out.size == (60, 40) and out.mode == "RGB"
    grey = upscale(model, rgb.convert("L"))
    assert grey.mode == "L" and grey.size == (60, 40)  # grey in, grey out
    rgba = rgb.convert("RGBA")
    assert upscale(model, rgba).mode == "RGB"
    palette = rgb.convert("P", palette=Image.ADAPTIVE)
    assert upscale(model, palette).size == (60, 40)
    array16 = (_smooth(20, 30, channels=1).astype(np.uint16) * 257).astype(np.uint16)
    out16 = upscale(model, array16)
    assert out16.dtype == np.uint8 and out16.shape == (40, 60)
    expected = upscale(model, _smooth(20, 30, channels=1))
    assert np.array_equal(out16, expected)  # 16-bit scaled to the same 8-bit image
    tiny = upscale(model, _smooth(3, 2))  # far smaller than the training crop: still works
    assert tiny.shape == (6, 4, 3)


def test_upscale_refuses_wrong_scale_and_non_sr_runs(sr_run, tmp_path, tiny):
    with pytest.raises(GanforgeError, match="upscales x2, not x4"):
        upscale(sr_run, _smooth(8, 8), scale=4)
    with pytest.raises(GanforgeError, match="float32"):
        upscale(sr_run, np.zeros((8, 8, 3), np.float32))
    from ganforge.run import train

    run_dir, _ = train(tiny(train={"steps": 2}), quiet=True)
    with pytest.raises(GanforgeError, match="not a super-resolution run"):
        upscale(run_dir, _smooth(8, 8))


def test_upscale_path_folder_to_folder(sr_run, tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(_smooth(12, 10)).save(src / "a.png")
    Image.fromarray(_smooth(12, 10, channels=1)).save(src / "sub" / "b.png")
    (src / "bad.png").write_bytes(b"nope")
    warnings = []
    report = upscale_path(sr_run, src, tmp_path / "out", warn=warnings.append)
    assert len(report.written) == 2 and len(warnings) == 1 and "bad.png" in warnings[0]
    assert Image.open(tmp_path / "out" / "a.png").size == (20, 24)
    assert Image.open(tmp_path / "out" / "sub" / "b.png").mode == "L"
    with pytest.raises(GanforgeError, match="is the input folder"):
        upscale_path(sr_run, src, src)


# ---- eval-sr -------------------------------------------------------------------------------
def test_eval_sr_figures_follow_the_protocol(sr_run, hr_folder, tmp_path):
    result = evaluate_sr(sr_run, f"folder:{hr_folder}", comparison=tmp_path / "cmp.png", crop=24)
    assert result.names == ["im0.png", "im1.png", "im2.png"]
    # The bicubic figures recomputed by hand with the metric functions.
    hr = _smooth(44, 52, seed=1)
    lr = downscale(torch.from_numpy(hr.transpose(2, 0, 1).copy())[None], 2)
    bic = bicubic_resize(lr.float() / 127.5 - 1, (44, 52)).clamp(-1, 1)
    bic = ((bic[0] + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert result.scores["bicubic"][1].psnr == pytest.approx(psnr(bic, hr, crop_border=2))
    assert result.scores["bicubic"][1].ssim == pytest.approx(ssim(bic, hr, crop_border=2))
    mean = result.mean("sr")
    assert mean.psnr == pytest.approx(np.mean([s.psnr for s in result.scores["sr"]]))
    image = Image.open(tmp_path / "cmp.png")
    # columns: LR | bicubic | model | HR, rows: 3 images; 24 px crops with 4 px gaps + titles
    assert image.size == (4 * 24 + 5 * 4, 14 + 3 * (24 + 4) + 4)


def test_eval_sr_model_equal_to_bicubic_scores_equal(sr_run, hr_folder):
    model = load_sr_model(sr_run)
    with torch.no_grad():
        model.module.conv_last.weight.zero_()
        model.module.conv_last.bias.zero_()
    result = evaluate_sr(model, f"folder:{hr_folder}", labels=["zero"])
    for a, b in zip(result.scores["bicubic"], result.scores["zero"], strict=True):
        assert a.psnr == pytest.approx(b.psnr, abs=1e-6) and a.ssim == pytest.approx(b.ssim)


def test_eval_sr_skips_images_too_small(sr_run, tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    Image.fromarray(_smooth(44, 44)).save(folder / "ok.png")
    Image.fromarray(_smooth(12, 12)).save(folder / "small.png")
    warnings = []
    result = evaluate_sr(sr_run, f"folder:{folder}", warn=warnings.append)
    assert result.names == ["ok.png"] and "small.png" in warnings[0]
    (folder / "ok.png").unlink()
    with pytest.raises(GanforgeError, match="no image is large enough"):
        evaluate_sr(sr_run, f"folder:{folder}", warn=warnings.append)


# ---- CLI -----------------------------------------------------------------------------------
def test_cli_upscale_and_eval_sr(sr_run, hr_folder, tmp_path, capsys):
    Image.fromarray(_smooth(10, 14)).save(tmp_path / "in.png")
    code, out, _ = run_cli(capsys, "upscale", sr_run, tmp_path / "in.png", "-o", tmp_path / "o.png")
    assert code == 0 and "x2" in out
    assert Image.open(tmp_path / "o.png").size == (28, 20)
    code, out, _ = run_cli(
        capsys, "eval-sr", sr_run, "--data", f"folder:{hr_folder}", "--json", tmp_path / "r.json"
    )
    assert code == 0, out
    assert "bicubic" in out and "mean" in out
    assert (sr_run / "eval" / "sr_comparison.png").exists()
    assert set(json.loads((tmp_path / "r.json").read_text())["mean"]) == {"bicubic", "sr"}


def test_cli_one_line_errors(sr_run, tmp_path, capsys):
    (tmp_path / "bad.png").write_bytes(b"nope")
    Image.fromarray(_smooth(10, 14)).save(tmp_path / "in.png")
    cases = [
        (["upscale", sr_run, tmp_path / "bad.png", "-o", tmp_path / "o.png"], "cannot read"),
        (["upscale", sr_run, tmp_path / "none.png", "-o", tmp_path / "o.png"], "no such image"),
        (
            ["upscale", sr_run, tmp_path / "in.png", "-o", tmp_path / "o.png", "--scale", "3"],
            "upscales x2, not x3",
        ),
        (["eval-sr", sr_run, "--data", "mnist"], "unknown super-resolution data source"),
        (["sample", sr_run, "-o", tmp_path / "g.png"], "ganforge upscale"),
        (
            [
                "train",
                "--family",
                "srgan",
                "--data",
                "photos",
                "--scale",
                "4",
                "--resolution",
                "30",
            ],
            "multiple of --scale",
        ),
    ]
    for argv, pattern in cases:
        code, _, err = run_cli(capsys, *argv)
        assert_one_line_error(code, err, pattern)
