"""Turning samples into files: image grids, folders of PNGs, scatter plots of 2-D samples,
single images in the format their suffix names.

Written here because torchvision (make_grid/save_image) cannot be used beside this torch build.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge.errors import GanforgeError

# The formats ganforge reads (data/folder.py) and so writes: an output can always be read back.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")
_JPEG_QUALITY = 95  # PIL's default of 75 visibly blurs fine detail


def check_image_suffix(path: str | Path, flag: str = "-o") -> Path:
    """``path`` when its suffix names an image format ganforge writes; a one-line error else."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        shown = f"'{path.suffix}'" if path.suffix else "no suffix"
        raise GanforgeError(
            f"{flag} {path.name} has {shown}, which names no image format",
            str(path),
            f"end it in one of {' '.join(IMAGE_SUFFIXES)}",
        )
    return path


def save_image(pixels: np.ndarray, path: str | Path) -> Path:
    """Write uint8 (H, W), (H, W, 1) or (H, W, 3) pixels; the format follows the suffix."""
    path = check_image_suffix(path, "the output")
    if pixels.ndim == 3 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    options = {"quality": _JPEG_QUALITY} if path.suffix.lower() in (".jpg", ".jpeg") else {}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(pixels)).save(path, **options)
    except OSError as e:
        raise GanforgeError(
            f"cannot write the image ({e.strerror or e})", str(path), "choose a writable place"
        ) from None
    return path


def to_model_range(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels on 0..255 -> float32 on [-1, 1], what the networks see (a new tensor)."""
    if pixels.dtype != torch.uint8:
        raise TypeError(f"expected uint8 pixels, got {pixels.dtype}")
    return pixels.float().div_(127.5).sub_(1.0)


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """Floats on [-1, 1] -> uint8 pixels on 0..255, the same shape (clamped, then rounded)."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def resize_images(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """(N, C, H, W) images to resolution x resolution: bilinear, antialiased (unchanged when
    already there). uint8 stays uint8 (rounded); floats (in [-1, 1]) stay floats, clamped."""
    if tuple(images.shape[-2:]) == (resolution, resolution):
        return images
    out = F.interpolate(
        images.float(),
        size=(resolution, resolution),
        mode="bilinear",
        align_corners=False,
        antialias=True,
    )
    if images.dtype == torch.uint8:
        return out.round().clamp(0, 255).to(torch.uint8)
    return out.clamp(-1, 1)


def bicubic_resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of (N, C, H, W) floats with a=-0.5 (PIL, MATLAB), antialiased when shrinking."""
    # torch's antialiased path uses the a=-0.5 kernel at every scale (the plain path uses -0.75),
    # and it is separable in float, with no 8-bit rounding between the passes.
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)


def convert_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, C, H, W) to 1 channel (BT.601 luma, as PIL's "L") or 3 (grey repeated)."""
    if x.shape[1] == channels:
        return x
    if channels == 3 and x.shape[1] == 1:
        return x.expand(-1, 3, -1, -1).contiguous()
    if channels == 1 and x.shape[1] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (x.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    raise GanforgeError(f"cannot convert {x.shape[1]}-channel images to {channels} channels")


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [-1, 1] -> (N, H, W, C) uint8."""
    return to_pixels(images).permute(0, 2, 3, 1).cpu().numpy()


def make_grid(
    images: torch.Tensor, nrow: int | None = None, padding: int = 2, pad_value: int = 0
) -> np.ndarray:
    """Tile (N, C, H, W) images in [-1, 1] into one (H', W', C) uint8 array, `nrow` per row."""
    pixels = to_uint8(images)
    n, h, w, c = pixels.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = np.full(
        (rows * (h + padding) + padding, nrow * (w + padding) + padding, c),
        pad_value,
        dtype=np.uint8,
    )
    for i in range(n):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top : top + h, left : left + w] = pixels[i]
    return grid


def array_to_image(array: np.ndarray) -> Image.Image:
    """(H, W, 1|3) uint8 -> a PIL image of mode L or RGB."""
    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


def save_grid(
    images: torch.Tensor,
    path: str | Path,
    nrow: int | None = None,
    row_labels: list[str] | None = None,
) -> Path:
    """Save a grid PNG; optional labels drawn left of each row."""
    grid = array_to_image(make_grid(images, nrow))
    if row_labels:
        grid = _label_rows(grid, row_labels, images.shape[-2] + 2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)
    return path


def _label_rows(grid: Image.Image, labels: list[str], row_height: int) -> Image.Image:
    from PIL import ImageDraw

    margin = 8 + 7 * max(len(s) for s in labels)
    canvas = Image.new(
        grid.mode, (grid.width + margin, grid.height), 255 if grid.mode == "L" else (255,) * 3
    )
    canvas.paste(grid, (margin, 0))
    draw = ImageDraw.Draw(canvas)
    for i, label in enumerate(labels):
        draw.text(
            (4, 2 + i * row_height + row_height // 2 - 6),
            label,
            fill=0 if grid.mode == "L" else (0, 0, 0),
        )
    return canvas


def save_png_dir(images: torch.Tensor, folder: str | Path, start: int = 0) -> list[Path]:
    """One PNG per image, named by index (000000.png, ...)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, array in enumerate(to_uint8(images)):
        path = folder / f"{start + i:06d}.png"
        array_to_image(array).save(path)
        paths.append(path)
    return paths


def save_scatter(
    points: torch.Tensor, path: str | Path, reference: torch.Tensor | None = None
) -> Path:
    """Scatter plot of 2-D samples (over faint reference points) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if reference is not None:
        ref = reference.detach().cpu().numpy()
        ax.scatter(ref[:, 0], ref[:, 1], s=2, c="#bbbbbb", label="data")
    pts = points.detach().float().cpu().numpy()
    ax.scatter(pts[:, 0], pts[:, 1], s=2, c="#d62728", label="generated")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=4)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


# ---- residual heat maps (anomaly score --maps) ----------------------------------------------


def heatmap_panel(image: torch.Tensor, residual: torch.Tensor, scale: float) -> np.ndarray:
    """[input | residual heat map] side by side as (H, 2W + gap, 3) uint8, at least 96 px high."""
    from matplotlib import colormaps

    grey = to_pixels(image)
    grey = grey.expand(3, -1, -1) if grey.shape[0] == 1 else grey[:3]
    left = grey.permute(1, 2, 0).numpy()
    heat = (residual.float() / scale).clamp(0, 1).numpy()
    right = (colormaps["inferno"](heat)[..., :3] * 255).round().astype(np.uint8)
    h, w = left.shape[:2]
    gap = np.full((h, max(1, w // 16), 3), 255, dtype=np.uint8)
    panel = np.concatenate([left, gap, right], axis=1)
    factor = max(1, math.ceil(96 / h))
    return panel.repeat(factor, 0).repeat(factor, 1)


def write_maps(
    folder: str | Path,
    names: list[str],
    images: torch.Tensor,
    residuals: torch.Tensor,
    scale: float,
) -> list[Path]:
    """One PNG per input under `folder`, named after its file (or row index) with .png."""
    folder = Path(folder)
    paths = []
    for name, image, residual in zip(names, images, residuals, strict=True):
        relative = (
            Path(name).with_suffix(".png") if not name.isdigit() else Path(f"{int(name):06d}.png")
        )
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(heatmap_panel(image, residual, scale)).save(target)
        paths.append(target)
    return paths
