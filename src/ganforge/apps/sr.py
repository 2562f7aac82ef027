"""Using a super-resolution run: upscale images (tiled, memory bounded) and measure the model
against bicubic by the standard protocol (PSNR/SSIM on Y, border cropped by the scale).

Tiling (``ganforge.tiling``, shared with ``translate``): the LR image is cut into tiles of
``tile`` x ``tile`` LR pixels that overlap by ``overlap``; each tile is run with ``context`` extra
LR pixels on every side (cut off again afterwards), and overlapping outputs are blended with
linear ramps. The default context is the generator's receptive radius, so every output pixel
sees exactly what it would see in one whole-image pass: the tiled result equals the whole-image
result (up to float rounding), while memory stays bounded by the tile size. A smaller context
trades exactness for speed; the blending then hides the seams.

Image modes: 16-bit images are scaled to 8 bits, palette images expanded, transparency
composited on white (the output has no alpha). A grey image given to an RGB model is upscaled
as RGB (grey repeated) and returned grey (BT.601 luma of the result); a colour image given to
a grey model is converted to grey first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ganforge.data.folder import check_folder_pass, mirror_folder
from ganforge.data.sr import (
    decoded_images,
    downscale,
    load_sr_images,
    to_channels,
)
from ganforge.errors import GanforgeError
from ganforge.images import (
    bicubic_resize,
    check_image_suffix,
    save_image,
    to_model_range,
    to_pixels,
)
from ganforge.io_checks import check_writable
from ganforge.metrics.image_quality import psnr, ssim
from ganforge.sampling import TrainedGenerator, load_generator
from ganforge.tiling import run_tiled

_SSIM_WINDOW = 11


# ---- the model -------------------------------------------------------------------------------
def load_sr_model(run: str | Path | TrainedGenerator, device: str = "cpu") -> TrainedGenerator:
    """The generator of a super-resolution run (a run dir, generator.pt or a checkpoint)."""
    model = run if isinstance(run, TrainedGenerator) else load_generator(run, device)
    if model.config.model.family != "srgan":
        raise GanforgeError(
            f"not a super-resolution run (family {model.config.model.family!r})",
            str(model.source),
            "train one with --preset photos-srresnet-x4 or --family srgan",
        )
    return model


def check_scale(model: TrainedGenerator, scale: int | None) -> int:
    """The run's scale; a one-line error when the caller asked for another one."""
    trained = int(model.config.family_settings("srgan").scale)
    if scale is not None and int(scale) != trained:
        raise GanforgeError(
            f"this run upscales x{trained}, not x{scale}",
            str(model.source),
            f"train a run with --scale {scale}, or leave --scale out",
        )
    return trained


def default_tile(scale: int) -> int:
    """LR tile side whose output is about 512x512 pixels (bounded memory, little overhead)."""
    return max(32, 512 // scale)


@torch.no_grad()
def upscale_tensor(
    generator: torch.nn.Module,
    lr: torch.Tensor,
    scale: int,
    tile: int | None = None,
    overlap: int = 8,
    context: int | None = None,
) -> torch.Tensor:
    """(1, C, h, w) LR in [-1, 1] -> (1, C, h*scale, w*scale) in [-1, 1], tile by tile.

    ``tile``: LR tile side (None: ~512 output pixels; 0: the whole image at once);
    ``context``: extra LR pixels each tile sees (None: the generator's receptive radius, exact).
    """
    tile = default_tile(scale) if tile is None else int(tile)
    if context is None:
        context = int(getattr(generator, "receptive_radius", 16))
    return run_tiled(generator, lr, tile=tile, overlap=overlap, context=context, scale=scale)


# ---- images in and out -----------------------------------------------------------------------
def _as_pixels(image: Image.Image | np.ndarray) -> tuple[np.ndarray, bool]:
    """Any PIL image or uint8/uint16 array -> (uint8 (H, W, 1|3), is_grey)."""
    if isinstance(image, Image.Image):
        from ganforge.data.folder import normalise_mode

        im, grey = normalise_mode(image)
        pixels = np.asarray(im)
        if im.mode == "F":
            pixels = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
        pixels = pixels[..., None] if pixels.ndim == 2 else pixels
        return np.ascontiguousarray(pixels), grey
    array = np.asarray(image)
    if array.dtype == np.uint16:  # 16-bit: full scale 65535 -> 255, as the folder loader does
        array = np.rint(array.astype(np.float64) * (255.0 / 65535.0)).astype(np.uint8)
    if array.dtype != np.uint8:
        raise GanforgeError(
            f"expected a uint8 or uint16 image array, got {array.dtype}",
            fix="convert it, e.g. (x * 255).round().astype(np.uint8) for floats in [0, 1]",
        )
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise GanforgeError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got {array.shape}")
    if array.shape[-1] == 4:
        return _as_pixels(Image.fromarray(array, "RGBA"))
    return array, array.shape[-1] == 1


def _upscale_pixels(
    model: TrainedGenerator,
    pixels: np.ndarray,
    tile: int | None,
    overlap: int,
    context: int | None,
) -> np.ndarray:
    """uint8 (H, W, C) in the model's channels -> uint8 (H*s, W*s, C)."""
    device = next(model.module.parameters()).device
    lr = torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].to(device)
    lr = to_model_range(lr)
    scale = model.config.family_settings("srgan").scale
    sr = upscale_tensor(model.module, lr, scale, tile, overlap, context)
    return _to_uint8(sr)


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) in [-1, 1] -> uint8 (H, W, C)."""
    return to_pixels(x[0]).permute(1, 2, 0).cpu().numpy()


def upscale(
    run: str | Path | TrainedGenerator,
    image: Image.Image | np.ndarray,
    *,
    scale: int | None = None,
    tile: int | None = None,
    overlap: int = 8,
    context: int | None = None,
    device: str = "cpu",
) -> Image.Image | np.ndarray:
    """Upscale one image with a run's generator; a PIL image in gives a PIL image out, an array
    (H, W[, C]) gives a uint8 array. Grey in, grey out (see the module docstring)."""
    model = load_sr_model(run, device)
    check_scale(model, scale)
    pixels, grey = _as_pixels(image)
    channels = int(model.config.model.sample_shape[0]) if model.config.model.sample_shape else 3
    out = _upscale_pixels(model, to_channels(pixels, channels), tile, overlap, context)
    if grey and out.shape[-1] == 3:
        out = to_channels(out, 1)
    if isinstance(image, Image.Image):
        return Image.fromarray(out[..., 0] if out.shape[-1] == 1 else out)
    return out[..., 0] if np.asarray(image).ndim == 2 else out


@dataclass
class UpscaleReport:
    """What upscale_path did: (input, output) pairs and the files it could not read."""

    written: list[tuple[Path, Path]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    scale: int = 0


def upscale_path(
    run: str | Path | TrainedGenerator,
    source: str | os.PathLike,
    output: str | os.PathLike,
    *,
    scale: int | None = None,
    tile: int | None = None,
    overlap: int = 8,
    context: int | None = None,
    device: str = "cpu",
    warn: Callable[[str], None] = print,
) -> UpscaleReport:
    """Upscale one file to a file, or every image of a folder into a folder (same names)."""
    model = load_sr_model(run, device)
    report = UpscaleReport(scale=check_scale(model, scale))
    source, output = Path(source), Path(output)
    if not source.exists():
        raise GanforgeError("no such image file or folder", str(source))
    if source.is_file():
        target = output / source.name if output.is_dir() else output
        target = target if target.suffix else target.with_suffix(".png")
        check_image_suffix(target)
        check_writable(target, what="output image", fix="choose a writable -o")
        pairs = [(source, target)]
    else:
        pairs = mirror_folder(source, output)
    for file, target, pixels in decoded_images(pairs, source, report.skipped):
        # A grey file arrives as (H, W, 1) and comes back grey (see upscale).
        _save(upscale(model, pixels, tile=tile, overlap=overlap, context=context), target)
        report.written.append((file, target))
    check_folder_pass(report.skipped, len(report.written), len(pairs), source, warn)
    return report


def _save(pixels: np.ndarray, path: Path) -> None:
    """Write uint8 (H, W[, C]) pixels; the format follows the suffix (PNG when there is none)."""
    save_image(pixels, path if path.suffix else path.with_suffix(".png"))


# ---- measuring against bicubic ---------------------------------------------------------------
@dataclass
class SRScore:
    """PSNR (dB) and SSIM of one method on one image."""

    psnr: float
    ssim: float


@dataclass
class SREvaluation:
    """Per-image and mean PSNR/SSIM of bicubic and of each model, by the standard protocol."""

    scale: int
    names: list[str]  # image names
    sizes: list[tuple[int, int]]  # HR (width, height) after the mod-scale crop
    methods: list[str]  # "bicubic", then one label per model
    scores: dict[str, list[SRScore]]
    skipped: list[str] = field(default_factory=list)
    comparison: Path | None = None

    def mean(self, method: str) -> SRScore:
        """Mean PSNR and SSIM of a method over the images."""
        rows = self.scores[method]
        return SRScore(sum(r.psnr for r in rows) / len(rows), sum(r.ssim for r in rows) / len(rows))

    def lines(self) -> list[str]:
        """The table eval-sr prints: one row per image, then the mean."""
        width = max(12, *(len(n) for n in self.names))
        cols = [f"{m[:22]:>22}" for m in self.methods]
        head = f"{'image':<{width}} {'size':>9}  " + "  ".join(cols)
        out = [
            f"protocol   x{self.scale}, PSNR (dB) / SSIM on Y (BT.601), border {self.scale} px "
            "cropped; LR = antialiased bicubic downscale",
            head,
        ]
        for i, name in enumerate(self.names):
            size = f"{self.sizes[i][0]}x{self.sizes[i][1]}"
            cells = [
                f"{self.scores[m][i].psnr:>13.2f} / {self.scores[m][i].ssim:.4f}"
                for m in self.methods
            ]
            out.append(f"{name:<{width}} {size:>9}  " + "  ".join(cells))
        means = [f"{self.mean(m).psnr:>13.2f} / {self.mean(m).ssim:.4f}" for m in self.methods]
        out.append(f"{'mean':<{width}} {'':>9}  " + "  ".join(means))
        return out

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {
            "scale": self.scale,
            "protocol": "Y channel BT.601, border = scale, LR = antialiased bicubic (a=-0.5)",
            "images": [
                {
                    "name": n,
                    "size": list(self.sizes[i]),
                    **{
                        m: {"psnr": self.scores[m][i].psnr, "ssim": self.scores[m][i].ssim}
                        for m in self.methods
                    },
                }
                for i, n in enumerate(self.names)
            ],
            "mean": {m: vars(self.mean(m)) for m in self.methods},
            "skipped": self.skipped,
            "comparison": str(self.comparison) if self.comparison else None,
        }


def evaluate_sr(
    runs: str | Path | TrainedGenerator | Sequence[str | Path | TrainedGenerator],
    source: str,
    *,
    comparison: str | os.PathLike | None = None,
    labels: Sequence[str] | None = None,
    scale: int | None = None,
    crop: int = 128,
    tile: int | None = None,
    context: int | None = None,
    device: str = "cpu",
    warn: Callable[[str], None] = print,
) -> SREvaluation:
    """PSNR/SSIM of bicubic and of each run on the images of ``source`` (``photos:test``,
    ``folder:PATH``), and optionally a comparison image (LR | bicubic | models | HR crops).

    Each image is cropped to a multiple of the scale, downscaled by the standard degradation,
    and upscaled back; all runs must share one scale and channel count.
    """
    many = runs if isinstance(runs, (list, tuple)) else [runs]
    models = [load_sr_model(r, device) for r in many]
    if not models:
        raise GanforgeError("eval-sr needs at least one run")
    s = check_scale(models[0], scale)
    for m in models[1:]:
        check_scale(m, s)
    shapes = {tuple(m.config.model.sample_shape[:1]) for m in models}
    if len(shapes) > 1:
        raise GanforgeError("the runs differ in channels (grey vs RGB); compare like with like")
    channels = int(models[0].config.model.sample_shape[0])
    names = list(labels) if labels else _labels(models)
    if len(names) != len(models):
        raise GanforgeError(f"{len(names)} labels for {len(models)} runs")
    images, skipped = load_sr_images(source, channels, warn)
    minimum = 2 * s + _SSIM_WINDOW  # the SSIM window must fit after the border crop
    result = SREvaluation(s, [], [], ["bicubic", *names], {m: [] for m in ["bicubic", *names]})
    result.skipped = list(skipped)
    panels: list[list[np.ndarray]] = []
    for image in images:
        h, w = image.pixels.shape[:2]
        if min(h, w) - min(h, w) % s < minimum:
            result.skipped.append(f"{image.name} ({w}x{h}: smaller than {minimum}x{minimum})")
            continue
        hr = image.pixels[: h - h % s, : w - w % s]
        hr_t = torch.from_numpy(np.ascontiguousarray(hr.transpose(2, 0, 1)))[None]
        lr_t = to_model_range(downscale(hr_t, s))
        bicubic = _to_uint8(bicubic_resize(lr_t, hr.shape[:2]).clamp_(-1, 1))
        outputs = [bicubic]
        for model in models:
            dev = next(model.module.parameters()).device
            sr = upscale_tensor(model.module, lr_t.to(dev), s, tile, context=context)
            outputs.append(_to_uint8(sr))
        for method, out in zip(result.methods, outputs, strict=True):
            result.scores[method].append(
                SRScore(psnr(out, hr, crop_border=s), ssim(out, hr, crop_border=s))
            )
        result.names.append(image.name)
        result.sizes.append((hr.shape[1], hr.shape[0]))
        if comparison is not None:
            lr_pixels = _to_uint8(lr_t)
            panels.append(_panel_row(lr_pixels, outputs, hr, s, crop))
    if not result.names:
        raise GanforgeError(
            f"no image is large enough to evaluate (each needs at least {minimum}x{minimum})",
            source,
            "use larger images",
        )
    small = result.skipped[len(skipped) :]
    if small:  # (unreadable files were reported by the loader)
        warn(f"ganforge: warning: skipped {len(small)} image(s) too small: {', '.join(small[:3])}")
    if comparison is not None:
        result.comparison = _save_comparison(panels, ["LR", *result.methods, "HR"], comparison)
    return result


def _labels(models: list[TrainedGenerator]) -> list[str]:
    """A label per run: its run-directory name (made unique)."""
    out = []
    for m in models:
        path = Path(m.source)
        label = path.parent.name if path.name in ("generator.pt",) else path.stem
        if path.parent.name == "checkpoints":
            label = path.parent.parent.name
        while label in out or label == "bicubic":
            label += "'"
        out.append(label)
    return out


def _panel_row(
    lr: np.ndarray, outputs: list[np.ndarray], hr: np.ndarray, scale: int, crop: int
) -> list[np.ndarray]:
    """Crops at the most detailed place (where bicubic errs most): LR, bicubic, models, HR."""
    h, w = hr.shape[:2]
    c = min(crop, h, w) // scale * scale
    error = torch.from_numpy(np.abs(outputs[0].astype(np.float32) - hr.astype(np.float32)))
    error = error.mean(-1)[None, None]
    # Mean error in every crop-sized window on a grid of scale-aligned positions.
    window = torch.nn.functional.avg_pool2d(error, c, stride=scale)[0, 0]
    top, left = divmod(int(window.argmax()), window.shape[1])
    top, left = top * scale, left * scale
    pick = (slice(top, top + c), slice(left, left + c))
    lr_crop = lr[top // scale : (top + c) // scale, left // scale : (left + c) // scale]
    lr_big = np.repeat(np.repeat(lr_crop, scale, axis=0), scale, axis=1)  # nearest: the pixels
    return [lr_big, *(o[pick] for o in outputs), hr[pick]]


def _save_comparison(rows: list[list[np.ndarray]], titles: list[str], path) -> Path:
    """A grid: one row per image, one column per method, titled; 4 px gaps."""
    path = Path(path)
    gap, title_h = 4, 14
    side = max(p.shape[0] for row in rows for p in row)
    cols = len(titles)
    width = cols * side + (cols + 1) * gap
    height = title_h + len(rows) * (side + gap) + gap
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for j, title in enumerate(titles):
        draw.text((gap + j * (side + gap) + 2, 1), title[: max(1, side // 6)], fill=(0, 0, 0))
    for i, row in enumerate(rows):
        for j, panel in enumerate(row):
            pixels = panel if panel.shape[-1] == 3 else np.repeat(panel, 3, axis=2)
            canvas.paste(
                Image.fromarray(np.ascontiguousarray(pixels)),
                (gap + j * (side + gap), title_h + gap + i * (side + gap)),
            )
    _save(np.asarray(canvas), path if path.suffix else path.with_suffix(".png"))
    return path if path.suffix else path.with_suffix(".png")


__all__ = [
    "SREvaluation",
    "SRScore",
    "UpscaleReport",
    "check_scale",
    "evaluate_sr",
    "load_sr_model",
    "upscale",
    "upscale_path",
    "upscale_tensor",
]


def default_comparison_path(run: str | Path) -> Path:
    """Where `eval-sr` puts its comparison image by default: RUN/eval/sr_comparison.png."""
    first = Path(run)
    return (first if first.is_dir() else first.parent) / "eval" / "sr_comparison.png"
