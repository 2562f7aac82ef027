"""Any folder of image files, decoded once into one uint8 tensor (N, C, H, W).

Rules (the same for every caller, so a dataset is reproducible from its folder alone):

- Files: ``.png .jpg .jpeg .webp .bmp .tif .tiff .gif`` (any case), searched recursively and taken
  in sorted relative-path order. Hidden files and folders (name starting with ``.``) and
  ``__MACOSX`` folders are ignored; other files (``.txt``, ``.csv`` ...) are ignored silently.
  A GIF or multi-page TIFF contributes its first frame.
- Geometry: the shorter side is scaled to ``resolution`` with PIL bicubic (antialiased when
  shrinking), then the centre square is kept; small images are scaled up the same way.
- Modes: transparency (RGBA, LA, palette with a transparent index) is composited on WHITE, the
  usual background of logos and web images (dropping alpha would expose whatever colour hides
  under transparent pixels). Palette images are expanded through their palette; CMYK and YCbCr
  converted to RGB; 16-bit images (``I;16*``) scaled as v * 255 / 65535, resized in float so no
  precision is lost; 32-bit ``I`` is taken as 16-bit data; float ``F`` as [0, 1] when its maximum
  is <= 1, else as [0, 255].
- Channels: ``channels=None`` gives 1 when every image is greyscale (modes 1, L, LA, I, F, or a
  palette of greys), else 3 (grey images repeated into RGB); ``channels=1`` converts colour with
  ITU-R 601 luma, ``channels=3`` repeats grey.
- Labels: when no image lies directly in ``path`` and ``path`` has two or more (non-hidden)
  subfolders, each subfolder is a class (label = index of its name in sorted order, images
  anywhere beneath it count, as in torchvision's ImageFolder); every such subfolder must hold at
  least one readable image. Otherwise the dataset is unlabelled: a single subfolder carries no
  class information, and images directly in ``path`` beside subfolders make the layout
  ambiguous, so all images are simply pooled.
- Unreadable files (empty, truncated, not an image: a text, HTML or archive file with an image
  extension) are skipped with one warning that counts them and names the first few with the
  reason; a folder where no file can be read is an error naming the folder and those files.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ganforge.data.dataset import InMemoryDataset
from ganforge.errors import GanforgeError
from ganforge.images import IMAGE_SUFFIXES
from ganforge.io_checks import check_writable

IMAGE_EXTENSIONS = IMAGE_SUFFIXES
_GREY_MODES = {"1", "L", "LA", "La", "I", "F"}
DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
)
_NAMES_IN_WARNING = 3


def load_image_folder(
    path: str | os.PathLike,
    resolution: int,
    channels: int | None = None,
    *,
    warn: Callable[[str], None] = print,
    workers: int | None = None,
) -> InMemoryDataset:
    """Decode every image under ``path`` into a square uint8 dataset (see the module docstring)."""
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution <= 0:
        raise GanforgeError(
            f"image resolution must be a positive integer, got {resolution!r}",
            fix="pass e.g. resolution=64",
        )
    if channels not in (None, 1, 3):
        raise GanforgeError(
            f"channels must be 1, 3 or None (automatic), got {channels!r}", fix="use 1 or 3"
        )
    root = Path(path).expanduser()
    files, class_dirs = scan_images(root)

    n_workers = workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        # map keeps input order, so the dataset does not depend on thread timing.
        results = list(pool.map(lambda f: _decode(f, resolution), files))

    good = [(f, r) for f, r in zip(files, results, strict=True) if not isinstance(r, str)]
    bad = [(f, r) for f, r in zip(files, results, strict=True) if isinstance(r, str)]
    if not good:
        first = "; ".join(f"{relative_name(f, root)} ({why})" for f, why in bad[:_NAMES_IN_WARNING])
        raise GanforgeError(
            f"none of the {len(files)} image files could be read",
            str(root),
            f"replace or remove the broken files (first: {first})",
        )
    if bad:
        names = ", ".join(f"{relative_name(f, root)} ({why})" for f, why in bad[:_NAMES_IN_WARNING])
        more = f" and {len(bad) - _NAMES_IN_WARNING} more" if len(bad) > _NAMES_IN_WARNING else ""
        warn(
            f"ganforge: warning: skipped {len(bad)} unreadable image file(s)"
            f" in {root}: {names}{more}; replace or remove them to use them"
        )

    labels = class_names = None
    if class_dirs:
        class_names = [d.name for d in class_dirs]
        labels = _labels(root, [f for f, _ in good], class_names, bad)

    if channels is None:
        channels = 1 if all(grey for _, (_, grey) in good) else 3
    data = torch.empty((len(good), channels, resolution, resolution), dtype=torch.uint8)
    for i, (_, (pixels, _)) in enumerate(good):
        data[i] = _to_channels(pixels, channels)  # a grey (H, W) broadcasts over the channels
    paths = [relative_name(f, root) for f, _ in good]
    return InMemoryDataset(
        data,
        labels,
        class_names,
        name=root.resolve().name or str(root),
        meta={
            "paths": paths,
            "root": str(root),
            "skipped": [relative_name(f, root) for f, _ in bad],
        },
    )


def scan_images(root: Path) -> tuple[list[Path], list[Path]]:
    """Image files in sorted relative-path order, and the class folders (empty when unlabelled)."""
    if not root.exists():
        raise GanforgeError("image folder not found", str(root), "check the path")
    if not root.is_dir():
        raise GanforgeError(
            "expected a folder of images but got a file",
            str(root),
            "pass the folder that contains the images",
        )
    files: list[Path] = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        # Following links lets users symlink datasets together; realpaths stop link cycles.
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = [d for d in dirnames if not _hidden(d)]
        files += [
            Path(dirpath, f)
            for f in filenames
            if not _hidden(f) and f.lower().endswith(IMAGE_EXTENSIONS)
        ]
    if not files:
        raise GanforgeError(
            "no image files found",
            str(root),
            f"add images ({' '.join(IMAGE_EXTENSIONS)}; subfolders are searched too)",
        )
    files.sort(key=lambda f: relative_name(f, root))

    subdirs = sorted(
        (d for d in root.iterdir() if d.is_dir() and not _hidden(d.name)), key=lambda d: d.name
    )
    at_top = any(f.parent == root for f in files)
    class_dirs = subdirs if not at_top and len(subdirs) >= 2 else []
    for d in class_dirs:
        if not any(relative_name(f, root).startswith(d.name + "/") for f in files):
            raise GanforgeError(
                f"class folder {d.name!r} has no image files",
                str(d),
                "add images to it or remove it (every subfolder of a labelled dataset is a class)",
            )
    return files, class_dirs


def _labels(
    root: Path, files: list[Path], class_names: list[str], bad: list[tuple[Path, str]]
) -> torch.Tensor:
    """Label of each readable file: the index of its top-level folder among the classes."""
    index = {name: i for i, name in enumerate(class_names)}
    labels = torch.tensor(
        [index[relative_name(f, root).split("/")[0]] for f in files], dtype=torch.int64
    )
    counts = torch.bincount(labels, minlength=len(class_names))
    for name, count in zip(class_names, counts.tolist(), strict=True):
        if count == 0:
            broken = sum(relative_name(f, root).startswith(name + "/") for f, _ in bad)
            raise GanforgeError(
                f"class folder {name!r} has no readable images ({broken} unreadable)",
                str(root / name),
                "replace the broken files or remove the folder",
            )
    return labels


def _decode(file: Path, resolution: int) -> tuple[np.ndarray, bool] | str:
    """(pixels, is_grey) at resolution x resolution, or the reason the file cannot be read.

    Pixels are (H, W) for grey and (H, W, 3) for colour; only one full-size image per worker is
    ever in memory because each is resized straight after decoding.
    """
    try:
        with Image.open(file) as im:
            im.seek(0)
            if im.format == "JPEG":
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale while staying >= 2x the target,
                # so big photos decode fast and still shrink through a proper bicubic filter.
                side = min(im.size)
                target = (
                    -(-2 * resolution * im.size[0] // side),
                    -(-2 * resolution * im.size[1] // side),
                )
                im.draft(im.mode, target)
            im.load()
            return resize_square(normalise_mode(im), resolution)
    except DECODE_ERRORS as e:
        return unreadable_reason(file, e)


def normalise_mode(im: Image.Image) -> tuple[Image.Image, bool]:
    """Bring any mode to L, RGB (both uint8) or F (float, already on the 0..255 scale)."""
    mode = im.mode
    grey = mode in _GREY_MODES or mode.startswith("I;16")
    if mode == "P" or mode == "PA":
        grey = _grey_palette(im)
        im = im.convert("RGBA" if mode == "PA" or "transparency" in im.info else "RGB")
        mode = im.mode
    if mode.startswith("I"):
        values = np.asarray(im).astype(np.float32)
        # 16-bit data: full scale 65535 maps to 255 (scaling, not clipping, keeps the contrast).
        return Image.fromarray(np.clip(values, 0, 65535) * (255.0 / 65535.0), mode="F"), True
    if mode == "F":
        values = np.asarray(im, dtype=np.float32)
        scale = 255.0 if np.nanmax(values, initial=0.0) <= 1.0 else 1.0
        return Image.fromarray(np.clip(np.nan_to_num(values) * scale, 0, 255), mode="F"), True
    if mode in ("RGBA", "RGBa", "LA", "La"):
        im = im.convert("RGBA")
        im = Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), im)
        return im.convert("L" if grey else "RGB"), grey
    if mode in ("1", "L"):
        return im.convert("L"), True
    rgb = im.convert("RGB")
    return (rgb.convert("L") if grey else rgb), grey


def _grey_palette(im: Image.Image) -> bool:
    """True when every colour the palette image actually uses is a grey."""
    palette = np.asarray(im.getpalette() or [], dtype=np.uint8).reshape(-1, 3)
    indices = np.asarray(im)
    if indices.ndim == 3:  # PA: the first band holds the palette indices
        indices = indices[..., 0]
    used = np.flatnonzero(np.bincount(indices.ravel(), minlength=256))
    used = used[used < len(palette)]
    colours = palette[used]
    return bool(np.all(colours[:, 0] == colours[:, 1]) and np.all(colours[:, 1] == colours[:, 2]))


def resize_square(normalised: tuple[Image.Image, bool], resolution: int) -> tuple[np.ndarray, bool]:
    """Scale the shorter side to ``resolution`` and keep the centre square, in one resample."""
    im, grey = normalised
    w, h = im.size
    side = min(w, h)
    left, top = (w - side) / 2, (h - side) / 2
    # The box argument crops in source coordinates, so the crop is exact even when the scaled
    # size would be fractional.
    out = im.resize(
        (resolution, resolution), Image.BICUBIC, box=(left, top, left + side, top + side)
    )
    pixels = np.array(out)  # a writable copy, which torch.from_numpy wants
    if out.mode == "F":
        pixels = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return pixels, grey


def _to_channels(pixels: np.ndarray, channels: int) -> torch.Tensor:
    """(C, H, W) uint8 for colour, (H, W) for grey (the caller broadcasts it over channels)."""
    if pixels.ndim == 2:
        return torch.from_numpy(pixels)
    if channels == 1:
        return torch.from_numpy(np.array(Image.fromarray(pixels, "RGB").convert("L")))
    return torch.from_numpy(pixels).permute(2, 0, 1)


def unreadable_reason(file: str | os.PathLike, e: BaseException) -> str:
    """Why an image file cannot be decoded, in a few words a user can act on."""
    try:
        size = os.path.getsize(file)
    except OSError:
        size = None
    if isinstance(e, FileNotFoundError):
        return "missing (a broken link?)"
    if isinstance(e, PermissionError):
        return "permission denied"
    if size == 0:
        return "empty file (0 bytes)"
    if isinstance(e, UnidentifiedImageError):
        return f"not an image: {_content_kind(file)}"
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if isinstance(e, EOFError) or "truncated" in text.lower() or "broken data" in text.lower():
        return f"truncated: the image data stops early ({size} bytes; an incomplete copy?)"
    if isinstance(e, Image.DecompressionBombError):
        return "too many pixels (a decompression bomb?)"
    return text[:80]


def _content_kind(file: str | os.PathLike) -> str:
    """A guess at what a file that PIL cannot identify holds, from its first bytes."""
    try:
        with open(file, "rb") as f:
            head = f.read(512)
    except OSError:
        return "its content is no image format PIL reads"
    kinds = {
        b"\x1f\x8b": "a gzip archive",
        b"PK\x03\x04": "a zip archive",
        b"%PDF": "a PDF document",
        b"\x80": "a Python pickle",
    }
    for magic, kind in kinds.items():
        if head.startswith(magic):
            return kind
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html")):
        return "an HTML page (a failed download?)"
    if stripped.startswith((b"<?xml", b"<svg")):
        return "XML/SVG text (vector images are not read)"
    try:
        head.decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "its content is no image format PIL reads"


def unreadable_image_error(file: str | os.PathLike, reason: str) -> GanforgeError:
    """The one-line error for an image file that cannot be read (for one-file inputs)."""
    return GanforgeError(
        f"cannot read the image ({reason})",
        str(file),
        "replace it with a readable image file (PNG, JPEG, ...) or check the path",
    )


def open_image(file: str | os.PathLike) -> tuple[Image.Image, bool]:
    """The first frame of an image file, decoded and brought to L, RGB or F (normalise_mode):
    (image, is_grey). Raises one of DECODE_ERRORS when the file cannot be read."""
    with Image.open(file) as im:
        im.seek(0)
        im.load()
        return normalise_mode(im)


def check_folder_pass(
    skipped: list[str], written: int, total: int, source: Path, warn: Callable[[str], None]
) -> None:
    """After a command's pass over a folder of images: one warning naming the first unreadable
    files (``skipped``: "name (reason)"), an error when none of the ``total`` could be read."""
    if skipped:
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        warn(
            f"ganforge: warning: skipped {len(skipped)} unreadable image file(s) in "
            f"{source}: {', '.join(skipped[:3])}{more}; replace or remove them"
        )
    if not written:
        raise GanforgeError(
            f"none of the {total} image files could be read",
            str(source),
            f"replace or remove the broken files (first: {'; '.join(skipped[:3])})",
        )


def mirror_folder(source: Path, output: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs for a command that writes one image per image file of folder
    ``source`` into folder ``output`` (sub-paths and names kept), checked before any work."""
    if output.exists() and not output.is_dir():
        raise GanforgeError(
            "a folder of inputs needs an output folder, but the output is a file",
            str(output),
            "pass -o a folder path",
        )
    if output.resolve() == source.resolve():
        raise GanforgeError(
            "the output folder is the input folder (the originals would be overwritten)",
            str(output),
            "pass another -o folder",
        )
    check_writable(output, folder=True, what="output folder", fix="choose a writable -o")
    files, _ = scan_images(source)
    return [(f, output / relative_name(f, source)) for f in files]


def relative_name(file: Path, root: Path) -> str:
    """``file``'s path below ``root`` with forward slashes (how files are named and sorted)."""
    return file.relative_to(root).as_posix()


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"
