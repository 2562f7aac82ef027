"""What each tab of `ganforge serve` does, as plain functions (no gradio here): checked uploads
in, arrays / tables / files out. Every model call is a library call (`TrainedGenerator.sample`
and `.walk`, `apps.sr.upscale`, `apps.translate.translate_image`, `AnomalyDetector`,
`TabularGAN.sample`, `TimeSeriesGAN.sample`, `run.run_info`); the page only arranges them.

Uploads are checked before they are decoded: bytes first, then the pixel count from the file's
header (PIL's decompression-bomb guard refuses the worst before that), so a 20000 x 20000 PNG
is a message, never a 1.2 GB allocation.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image

from ganforge.data.folder import DECODE_ERRORS, resize_square, unreadable_reason
from ganforge.data.sr import decode_image, to_channels
from ganforge.errors import GanforgeError
from ganforge.images import bicubic_resize, make_grid, to_model_range, to_uint8

ALL_CLASSES = "all classes (cycling)"
MAX_IMAGES = 64  # per generate click
MAX_WALK = 16
MAX_ROWS = 100_000  # table rows per request
MAX_SEQUENCES = 1000
PREVIEW_ROWS = 50
KEEP_FILES_S = 600  # downloads (CSV, GIF) older than this are removed at the next request


@dataclass
class Limits:
    """What the page accepts from an upload."""

    max_bytes: int = 20 * 2**20
    max_pixels: int = 16_000_000
    max_files: int = 16


# ---- uploads ---------------------------------------------------------------------------------


def read_upload(path: str | None, limits: Limits, channels: int | None = None) -> np.ndarray:
    """An uploaded image as uint8 (H, W, C) (C = `channels`, else 1 or 3), after the byte and
    pixel limits; a one-line GanforgeError for anything else."""
    if not path:
        raise GanforgeError("no image uploaded", fix="drop an image on the upload box first")
    name = Path(path).name
    size = os.path.getsize(path)
    if size > limits.max_bytes:
        raise GanforgeError(
            f"the upload is {size / 2**20:.1f} MB, over this page's limit of "
            f"{limits.max_bytes / 2**20:g} MB",
            name,
            "upload a smaller file (or restart `ganforge serve` with a larger --max-upload-mb)",
        )
    try:
        with Image.open(path) as im:  # the header only: nothing is decoded yet
            width, height = im.size
    except Image.DecompressionBombError as e:
        found = re.search(r"\((\d+) pixels\)", str(e))
        width, height = (int(found.group(1)) if found else limits.max_pixels + 1), 1
    except DECODE_ERRORS as e:
        raise _unreadable(path, unreadable_reason(path, e)) from None
    check_pixels(width * height, limits, name, f"{width}x{height} = " if height > 1 else "")
    decoded = decode_image(path)
    if isinstance(decoded, str):
        raise _unreadable(path, decoded)
    return decoded[0] if channels is None else to_channels(decoded[0], channels)


def check_pixels(pixels: int, limits: Limits, where: str, shown: str = "", what="image") -> None:
    """Refuse more than limits.max_pixels pixels (an upload, or an upscaled result)."""
    if pixels > limits.max_pixels:
        raise GanforgeError(
            f"the {what} has {shown}{pixels / 1e6:.1f} megapixels, over this page's limit of "
            f"{limits.max_pixels / 1e6:g}",
            where,
            "downscale it first (or restart `ganforge serve` with a larger --max-pixels)",
        )


def _unreadable(path: str, reason: str) -> GanforgeError:
    return GanforgeError(
        f"cannot read the upload as an image ({reason})",
        Path(path).name,
        "upload a PNG, JPEG, WebP, BMP, TIFF or GIF file",
    )


def output_file(folder: Path, stem: str, suffix: str) -> Path:
    """A new file for a download, after removing downloads older than KEEP_FILES_S."""
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.iterdir():
        if old.is_file() and now - old.stat().st_mtime > KEEP_FILES_S:
            old.unlink(missing_ok=True)
    return folder / f"{stem}-{time.strftime('%H%M%S')}-{os.urandom(3).hex()}{suffix}"


def _count(value: Any, most: int, what: str) -> int:
    if value is None or not float(value).is_integer() or not 1 <= int(value) <= most:
        raise GanforgeError(f"the number of {what} must be a whole number from 1 to {most}")
    return int(value)


# ---- image generators ------------------------------------------------------------------------


def _label(model, choice: str | None) -> int | None:
    if not model.family.conditional or not choice or choice == ALL_CLASSES:
        return None
    return model.class_index(choice)


def generate_grid(model, seed, count, truncation=0.0, choice=None, out_dir=None) -> np.ndarray:
    """A grid of `count` samples (ceil(sqrt(count)) per row, 2 px gaps) as uint8 (H, W, C);
    2-D points become a scatter plot. truncation 0: none."""
    n = _count(count, MAX_IMAGES, "images")
    label = _label(model, choice)
    labels = None if label is None else torch.full((n,), label)
    samples = model.sample(n, int(seed or 0), labels, float(truncation) or None)
    if samples.dim() == 2:  # a toy's 2-D points
        from ganforge.images import save_scatter

        path = save_scatter(samples, output_file(Path(out_dir), "points", ".png"))
        return np.asarray(Image.open(path).convert("RGB"))
    return _squeeze(make_grid(samples, math.ceil(math.sqrt(n))))


def latent_walk(model, seed_a, seed_b, steps, truncation=0.0, choice=None, out_dir=None):
    """(strip uint8 (H, W, C), animated GIF path) of a walk from seed_a's latent to seed_b's."""
    steps = _count(steps, MAX_WALK, "walk steps")
    if steps < 2:
        raise GanforgeError("a walk needs at least 2 steps")
    frames = model.walk(int(seed_a or 0), int(seed_b or 0), steps, _label(model, choice),
                        float(truncation) or None)  # fmt: skip
    if frames.dim() == 2:
        raise GanforgeError("a latent walk draws images; this run samples 2-D points")
    strip = _squeeze(make_grid(frames, steps))
    pixels = to_uint8(frames)
    zoom = max(1, math.ceil(128 / pixels.shape[1]))  # small samples: big pixels, not a blur
    images = [
        Image.fromarray(p[..., 0] if p.shape[-1] == 1 else p).resize(
            (p.shape[1] * zoom, p.shape[0] * zoom), Image.NEAREST
        )
        for p in pixels
    ]
    images += images[-2:0:-1]  # there and back: a loop without a jump
    gif = output_file(Path(out_dir), "walk", ".gif")
    images[0].save(gif, save_all=True, append_images=images[1:], duration=120, loop=0)
    return strip, str(gif)


# ---- super-resolution and translation --------------------------------------------------------


def upscale_upload(model, path, limits: Limits):
    """(SR result, bicubic, caption) for an uploaded image; both outputs at the model's scale."""
    from ganforge.apps.sr import upscale

    scale = int(model.config.family_settings("srgan").scale)
    pixels = read_upload(path, limits)
    h, w = pixels.shape[:2]
    check_pixels(h * w * scale * scale, limits, Path(path).name, what=f"x{scale} result")
    result = upscale(model, pixels)
    result = result[..., None] if result.ndim == 2 else result
    lr = to_model_range(torch.from_numpy(np.array(pixels)).permute(2, 0, 1)[None])
    bicubic = to_uint8(bicubic_resize(lr, (h * scale, w * scale)).clamp_(-1, 1))[0]
    out_h, out_w = result.shape[:2]
    caption = f"input {w}x{h} -> x{scale}: {out_w}x{out_h} (left: the model, right: bicubic)"
    return _squeeze(result), _squeeze(bicubic), caption


def translate_upload(model, path, direction: str, limits: Limits):
    """(input as the model sees it, translation, caption) for an uploaded image."""
    from ganforge.apps.translate import translate_image

    channels = int(model.config.model.sample_shape[0])
    pixels = read_upload(path, limits, channels)
    image = torch.from_numpy(np.array(pixels)).permute(2, 0, 1)
    out = to_uint8(translate_image(model, image, direction or "AtoB"))[0]
    h, w = pixels.shape[:2]
    return _squeeze(pixels), _squeeze(out), f"{direction or 'AtoB'}: {w}x{h}"


def _squeeze(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., 0] if pixels.ndim == 3 and pixels.shape[-1] == 1 else pixels


# ---- anomaly detectors -----------------------------------------------------------------------


def score_images(detector, paths, limits: Limits):
    """(table of name, score, verdict; [(heat-map panel, caption)]) for uploaded images."""
    from ganforge.images import heatmap_panel

    paths = [p for p in (paths or []) if p]
    if not paths:
        raise GanforgeError("no image uploaded", fix="drop one or more images on the upload box")
    if len(paths) > limits.max_files:
        raise GanforgeError(
            f"{len(paths)} files at once; this page scores up to {limits.max_files}"
        )
    channels, res = detector.config_.model.sample_shape[0], detector.config_.model.sample_shape[-1]
    arrays = []
    for path in paths:
        pixels = read_upload(path, limits)
        grey = pixels.shape[-1] == 1
        im = Image.fromarray(pixels[..., 0] if grey else pixels)
        square, _ = resize_square((im, grey), res)
        square = square[..., None] if square.ndim == 2 else square
        arrays.append(to_channels(square, channels).transpose(2, 0, 1))
    scores, images, residuals = detector.score_and_maps(np.stack(arrays))
    names = [Path(p).name for p in paths]
    table = _verdicts(detector, names, scores, "image")
    maps = [
        (heatmap_panel(image, residual, detector.map_scale_), f"{name}: {score:.4g}")
        for name, image, residual, score in zip(names, images, residuals, scores, strict=True)
    ]
    return table, maps


def score_rows(detector, text: str | None, csv_path: str | None = None, limits=None):
    """A table of row, score, verdict for CSV rows (pasted text, header optional, or a file)."""
    columns = list(detector.columns_ or [])
    if csv_path:
        size = os.path.getsize(csv_path)
        if limits is not None and size > limits.max_bytes:
            raise GanforgeError(f"the CSV is {size / 2**20:.1f} MB, over this page's limit")
        text = Path(csv_path).read_text(errors="replace")
    if not text or not text.strip():
        raise GanforgeError("no rows given", fix=f"paste CSV rows with columns {','.join(columns)}")
    first = [c.strip() for c in text.strip().splitlines()[0].split(",")]
    header = 0 if sorted(first) == sorted(columns) else None  # any order: by name
    try:
        frame = pd.read_csv(io.StringIO(text.strip()), header=header, nrows=MAX_ROWS,
                            names=None if header == 0 else columns)  # fmt: skip
    except (ValueError, pd.errors.ParserError) as e:
        raise GanforgeError(
            f"cannot read the rows as CSV ({str(e).splitlines()[0][:80]})"
        ) from None
    bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad or frame.isna().any().any():
        raise GanforgeError(
            f"every value must be a number (column {bad[0] if bad else 'with a blank'!s})",
            fix=f"give {len(columns)} numbers per row: {','.join(columns)}",
        )
    scores = detector.score(frame)
    return _verdicts(detector, [str(i) for i in range(len(frame))], scores, "row")


def _verdicts(detector, names, scores, key: str) -> pd.DataFrame:
    threshold = detector.threshold()
    return pd.DataFrame(
        {
            key: names,
            "score": [float(f"{s:.6g}") for s in scores],
            "verdict": ["ANOMALY" if s > threshold else "normal" for s in scores],
            "threshold": [float(f"{threshold:.6g}")] * len(names),
        }
    )


# ---- tables and sequences --------------------------------------------------------------------


def parse_conditions(text: str | None) -> dict[str, str]:
    """`col=value` conditions, one a line or separated by commas."""
    conditions: dict[str, str] = {}
    for item in re.split(r"[\n,]", text or ""):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise GanforgeError(
                f"condition {item.strip()!r} is not column=value", fix="e.g. sex=Female"
            )
        conditions[name.strip()] = value.strip()
    return conditions


def condition_hint(model) -> str:
    """The discrete columns and their values, for the conditions box."""
    parts = []
    for column in model.transformer.columns:
        if column.kind == "discrete":
            levels = [str(v) for v in column.categories[:6]]
            more = ", ..." if len(column.categories) > 6 else ""
            parts.append(f"{column.name} ({', '.join(levels)}{more})")
    return "conditions on: " + "; ".join(parts) if parts else "this table has no discrete columns"


def sample_table(model, rows, conditions_text, seed, out_dir):
    """(preview of the first rows, CSV path, caption)."""
    n = _count(rows, MAX_ROWS, "rows")
    conditions = parse_conditions(conditions_text)
    frame = model.sample(n, conditions or None, seed=int(seed or 0))
    path = output_file(Path(out_dir), "table", ".csv")
    frame.to_csv(path, index=False)
    shown = f" where {', '.join(f'{k}={v}' for k, v in conditions.items())}" if conditions else ""
    return (
        frame.head(PREVIEW_ROWS),
        str(path),
        f"{len(frame)} rows{shown} (first {PREVIEW_ROWS} shown)",
    )


def series_columns(model) -> list[str]:
    """The numeric columns a sequence model samples (what the plot can show), read off one
    sampled sequence (the model's metadata layout is its own business)."""
    frame = model.sample(1, seed=0)
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    return [c for c in numeric if c not in ("sequence_id", "step")]


def sample_sequences(model, count, seed, column, out_dir, shown: int = 8):
    """(long table of the first `shown` sequences for the plot, CSV path of all, caption)."""
    n = _count(count, MAX_SEQUENCES, "sequences")
    frame = model.sample(n, seed=int(seed or 0))
    path = output_file(Path(out_dir), "sequences", ".csv")
    frame.to_csv(path, index=False)
    column = column or series_columns(model)[0]
    plot = frame[frame["sequence_id"] < shown][["sequence_id", "step", column]].copy()
    plot["sequence_id"] = plot["sequence_id"].astype(str)
    plot = plot.rename(columns={column: "value"})
    steps = int(frame["step"].max()) + 1
    return plot, str(path), f"{n} sequences x {steps} steps ({column} of the first {shown} plotted)"


# ---- runs ------------------------------------------------------------------------------------


def run_view(run_dir: Path):
    """(info text, newest sample grid as an array or None, loss curves as a long table)."""
    from ganforge.run import info_lines, run_info

    run_dir = Path(run_dir)
    try:
        info = "\n".join(info_lines(run_info(run_dir)))
    except GanforgeError as e:  # e.g. a run whose first checkpoint is still to come
        info = f"{run_dir}: {e}"
    samples = sorted((run_dir / "samples").glob("*.png"))
    grid = None
    if samples:
        with Image.open(samples[-1]) as im:
            grid = np.asarray(im.convert("RGB"))
    return info, grid, loss_curves(run_dir / "metrics.jsonl")


def loss_curves(log: Path, keys=("d_loss", "g_loss")) -> pd.DataFrame:
    """step, loss, value rows from a run's metrics.jsonl (training logs only)."""
    rows = []
    if log.is_file():
        for line in log.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:  # a line cut short while the run writes it
                continue
            if isinstance(entry, dict) and "kind" not in entry and "step" in entry:
                rows += [(entry["step"], k, float(entry[k])) for k in keys if k in entry]
    return pd.DataFrame(rows, columns=["step", "loss", "value"])
