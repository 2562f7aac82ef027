"""A user's own clips: GIF files, video files, or folders of numbered frames.

A clip is read into uint8 (T, C, H, W), grey (C = 1) when every frame is grey, else RGB:

- a GIF (or an animated PNG/WebP) through Pillow, frame by frame (disposal handled by Pillow);
- a video file (.mp4, .avi, .mov, .mkv, .webm) through imageio, which needs its pyav or ffmpeg
  plugin (`pip install imageio[pyav]`); without one the error says so;
- a folder of frames: its image files in the order of the numbers in their names
  (frame_2.png before frame_10.png).

`frames:DIR` (training data): DIR is itself one clip (a folder of frames), or holds clips (GIF or
video files, sub-folders of frames). Each clip is cut into windows of the run's frame count
(given + predicted), half a window apart, resized to the run's resolution (centre square).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageSequence

from ganforge.data.folder import DECODE_ERRORS, normalise_mode, unreadable_reason
from ganforge.errors import GanforgeError
from ganforge.images import IMAGE_SUFFIXES, convert_channels

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
ANIMATED_SUFFIXES = (".gif", ".png", ".webp", ".apng")
FRAME_SUFFIXES = tuple(s for s in IMAGE_SUFFIXES if s != ".gif")  # a folder's frames


def _number_key(path: Path) -> tuple:
    """Natural order: the numbers in a name compare as numbers."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.name))


def frame_files(folder: Path) -> list[Path]:
    """The frame images of a folder of numbered frames, in order."""
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES and not p.name.startswith(".")
    ]
    return sorted(files, key=_number_key)


def is_clip_file(path: Path) -> bool:
    """A file that holds a whole clip: a GIF or a video."""
    return path.suffix.lower() in (".gif", *VIDEO_SUFFIXES)


def _unreadable(path: Path, reason: str) -> GanforgeError:
    return GanforgeError(
        f"cannot read the clip ({reason})",
        str(path),
        "pass a readable GIF, video file or folder of numbered frames",
    )


def _stack(frames: list[tuple[Image.Image, bool]], where: str) -> torch.Tensor:
    """Decoded frames -> uint8 (T, C, H, W); every frame must have the first one's size."""
    sizes = [im.size for im, _ in frames]
    if len(set(sizes)) > 1:
        first = sizes[0]
        odd = next(i for i, s in enumerate(sizes) if s != first)
        raise GanforgeError(
            f"the clip's frames differ in size (frame 0 is {first[0]}x{first[1]}, frame {odd} "
            f"{sizes[odd][0]}x{sizes[odd][1]})",
            where,
            "give every frame of a clip the same width and height",
        )
    grey = all(g for _, g in frames)
    arrays = []
    for im, _ in frames:
        pixels = np.array(im.convert("L" if grey else "RGB"))
        arrays.append(pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1))
    clip = torch.from_numpy(np.stack(arrays))
    if clip.shape[1] == 3 and torch.equal(clip[:, :1].expand_as(clip), clip):
        clip = clip[:, :1]  # grey frames stored as colour (GIF frames after the first)
    return clip


def _read_animation(path: Path) -> torch.Tensor:
    try:
        with Image.open(path) as im:
            frames = [normalise_mode(frame.copy()) for frame in ImageSequence.Iterator(im)]
    except DECODE_ERRORS as e:
        raise _unreadable(path, unreadable_reason(path, e)) from None
    return _stack(frames, str(path))


def _read_video(path: Path) -> torch.Tensor:
    try:
        import imageio.v3 as iio
    except ImportError:
        raise GanforgeError(
            "reading video files needs imageio", str(path), "pip install imageio[pyav]"
        ) from None
    try:
        pixels = iio.imread(path, index=None)
    except (ImportError, ValueError, RuntimeError, OSError) as e:
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "backend" in text.lower() or "plugin" in text.lower() or isinstance(e, ImportError):
            raise GanforgeError(
                "imageio has no video plugin to decode this file",
                str(path),
                "pip install imageio[pyav] (or imageio-ffmpeg), or convert the clip to a GIF "
                "or a folder of frames",
            ) from None
        raise _unreadable(path, text[:80]) from None
    pixels = np.asarray(pixels)
    if pixels.ndim == 3:
        pixels = pixels[..., None]
    if pixels.ndim != 4 or pixels.dtype != np.uint8:
        raise _unreadable(path, f"decoded to {pixels.dtype} frames of shape {pixels.shape}")
    frames = torch.from_numpy(pixels.copy()).permute(0, 3, 1, 2)
    c = frames.shape[1]
    if c == 3 and torch.equal(frames[:, :1].expand_as(frames), frames):
        frames = frames[:, :1]  # a grey video stored as RGB
    return frames[:, :3] if c == 4 else frames


def _read_frame_folder(folder: Path) -> torch.Tensor:
    files = frame_files(folder)
    if not files:
        raise GanforgeError(
            "no frame images in the folder",
            str(folder),
            f"put numbered frames there ({', '.join(FRAME_SUFFIXES[:3])}, ...) or pass a GIF",
        )
    frames = []
    for file in files:
        try:
            with Image.open(file) as im:
                im.load()
                frames.append(normalise_mode(im))
        except DECODE_ERRORS as e:
            raise GanforgeError(
                f"cannot read frame {file.name} ({unreadable_reason(file, e)})",
                str(folder),
                "replace or remove the broken frame",
            ) from None
    return _stack(frames, str(folder))


def read_clip(path: str | Path) -> torch.Tensor:
    """One clip as uint8 (T, C, H, W): a GIF/animated image, a video file or a folder of frames."""
    path = Path(path).expanduser()
    if not path.exists():
        raise GanforgeError("clip not found", str(path), "pass a GIF, a video or a frames folder")
    if path.is_dir():
        return _read_frame_folder(path)
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return _read_video(path)
    if suffix in ANIMATED_SUFFIXES or suffix in IMAGE_SUFFIXES:
        return _read_animation(path)
    raise GanforgeError(
        f"{path.suffix or 'a file without suffix'} is not a clip format",
        str(path),
        f"pass a GIF, a video ({', '.join(VIDEO_SUFFIXES)}) or a folder of numbered frames",
    )


def clip_paths(folder: Path) -> list[Path]:
    """The clips a folder holds: itself when it holds frames, else its GIF/video files and its
    sub-folders of frames (sorted by name)."""
    if frame_files(folder):
        return [folder]
    clips = [
        p
        for p in sorted(folder.iterdir(), key=_number_key)
        if not p.name.startswith(".") and (is_clip_file(p) or (p.is_dir() and frame_files(p)))
    ]
    return clips


def conform_clip(clip: torch.Tensor, resolution: int, channels: int) -> torch.Tensor:
    """A clip (T, C, H, W) uint8 at resolution x resolution (centre square, bilinear) with
    `channels` channels (0: as it is)."""
    t, c, h, w = clip.shape
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = clip[:, :, top : top + side, left : left + side]
    from ganforge.images import resize_images

    out = resize_images(square, resolution)
    return convert_channels(out, channels) if channels else out


def load_frames_dataset(
    source: str,
    resolution: int,
    channels: int,
    frames: int,
    given: int,
    limit: int = 0,
    warn: Callable[[str], None] = print,
):
    """`frames:DIR` as VideoClips of `frames`-long windows (see the module docstring)."""
    from ganforge.data.moving_mnist import VideoClips

    _, _, folder = source.partition(":")
    if not folder:
        raise GanforgeError("frames: needs a folder", fix="use --data frames:DIR")
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise GanforgeError(
            "frames folder not found", str(root), "give a folder of clips (GIFs, videos, frames)"
        )
    paths = clip_paths(root)
    if not paths:
        raise GanforgeError(
            "no clips in the folder",
            str(root),
            "put GIF or video files, or folders of numbered frames, there",
        )
    clips, short = [], []
    for path in paths:
        clip = read_clip(path)
        if len(clip) < frames:
            short.append(f"{path.name} ({len(clip)} frames)")
            continue
        clips.append(clip)
    if not clips:
        raise GanforgeError(
            f"every clip is shorter than the {frames} frames a window needs "
            f"({', '.join(short[:3])})",
            str(root),
            "use longer clips, or fewer [video] given_frames/predicted_frames",
        )
    if short:
        warn(f"ganforge: warning: skipped {len(short)} clip(s) under {frames} frames: {short[0]}")
    grey = all(c.shape[1] == 1 for c in clips)
    channels = channels or (1 if grey else 3)
    stride = max(1, frames // 2)
    windows = []
    for clip in clips:
        clip = conform_clip(clip, resolution, channels)
        windows += [clip[s : s + frames] for s in range(0, len(clip) - frames + 1, stride)]
    data = torch.stack(windows)
    if limit:
        data = data[:limit]
    return VideoClips(data, given, name=source, meta={"clips": [str(p) for p in paths]})
