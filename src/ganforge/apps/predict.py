"""`ganforge predict`: continue clips with a trained video run (families/video.py).

INPUT is one clip (a GIF, a video file, a folder of numbered frames; data/frames.py reads them)
or a folder of clips (GIF/video files, sub-folders of frames). Each clip is brought to the run's
frame size (centre square, bilinear) and channels; its last `given_frames` frames are given to
the predictor, which continues them by `--frames` frames (more than it was trained for roll
forward on its own output, with a warning).

OUT for one clip: a GIF holding the given frames, then the predicted ones inside a coloured
border, or a folder of frames (`0000.png`, ... numbered on from the given frames: the predicted
ones; `--with-given` adds the given ones before them). OUT for a folder of clips: a folder with
one GIF per clip, of the clip's name, holding the predicted frames only (`--with-given`: the
given ones before them, the predicted ones bordered).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.data.frames import clip_paths, conform_clip, frame_files, is_clip_file, read_clip
from ganforge.errors import GanforgeError
from ganforge.families.video import RolloutWarning, VideoFamily
from ganforge.images import to_model_range, to_pixels
from ganforge.io_checks import check_writable
from ganforge.sampling import TrainedGenerator, load_family_generator

BORDER = (255, 64, 0)  # the colour that marks predicted frames in a GIF
BORDER_WIDTH = 2
FRAME_MS = 100  # GIF frame duration


def load_predictor(run: str | Path | TrainedGenerator, device: str = "cpu") -> TrainedGenerator:
    """The predictor of a video run; other runs are a one-line error."""
    return load_family_generator(
        run,
        device,
        VideoFamily,
        "a video run",
        "predict with a run trained with --family video (e.g. --preset moving-mnist)",
    )


def check_frames(frames: int | None, model: TrainedGenerator) -> int:
    """--frames: a positive count (None: what the run was trained to predict)."""
    trained = model.family.settings.predicted_frames
    if frames is None:
        return trained
    if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
        raise GanforgeError(f"--frames must be a positive number of frames, got {frames!r}")
    return frames


@torch.no_grad()
def predict(
    run: str | Path | TrainedGenerator,
    clip: torch.Tensor,
    frames: int | None = None,
    device: str = "cpu",
    warn: Callable[[str], None] | None = None,
) -> torch.Tensor:
    """The next `frames` frames of a clip: uint8 (T, C, H, W) at any size -> uint8
    (frames, C, R, R) at the run's resolution R (the clip's last given_frames are given).

    Asking more frames than the run was trained to predict rolls forward on its own output;
    `warn` gets the one-line notice (None: a Python RolloutWarning)."""
    model = load_predictor(run, device)
    frames = check_frames(frames, model)
    given = prepare_clip(model, clip)
    target = next(model.module.parameters()).device
    with warnings.catch_warnings(record=warn is not None) as caught:
        if warn is None:
            warnings.simplefilter("always", RolloutWarning)
        out = model.family.predict(model.module, to_model_range(given)[None].to(target), frames)
    for w in caught or []:
        if issubclass(w.category, RolloutWarning):
            warn(f"ganforge: warning: {w.message}")
    return to_pixels(out[0]).cpu()


def prepare_clip(model: TrainedGenerator, clip: torch.Tensor, where: str = "clip") -> torch.Tensor:
    """The clip's last given_frames at the run's resolution and channels (uint8)."""
    need = model.family.settings.given_frames
    if clip.dim() != 4 or clip.dtype != torch.uint8:
        raise GanforgeError(
            f"a clip is uint8 frames (T, C, H, W), got {clip.dtype} {tuple(clip.shape)}", where
        )
    if len(clip) < need:
        raise GanforgeError(
            f"the clip has {len(clip)} frame{'s' * (len(clip) != 1)}, the run needs {need} "
            "given frames",
            where,
            f"give a clip of at least {need} frames",
        )
    _, channels, resolution, _ = model.config.model.sample_shape
    return conform_clip(clip[-need:], resolution, channels)


# ---- files ----------------------------------------------------------------------------------


def _rgb(frame: torch.Tensor) -> np.ndarray:
    """uint8 (C, H, W) -> (H, W, 3)."""
    pixels = frame.permute(1, 2, 0).numpy()
    return np.repeat(pixels, 3, 2) if pixels.shape[2] == 1 else pixels


def _bordered(frame: torch.Tensor) -> np.ndarray:
    pixels = _rgb(frame).copy()
    b = BORDER_WIDTH
    pixels[:b], pixels[-b:], pixels[:, :b], pixels[:, -b:] = BORDER, BORDER, BORDER, BORDER
    return pixels


def write_gif(path: Path, given: torch.Tensor | None, predicted: torch.Tensor) -> Path:
    """A looping GIF: the given frames (if any) as they are, then the predicted ones, bordered
    when given frames come first (a GIF of predicted frames alone keeps them plain)."""
    if given is None:
        images = [_as_image(f) for f in predicted]
    else:
        images = [Image.fromarray(_rgb(f)) for f in given]
        images += [Image.fromarray(_bordered(f)) for f in predicted]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    images[0].save(
        tmp, format="GIF", save_all=True, append_images=images[1:], duration=FRAME_MS, loop=0
    )
    tmp.replace(path)
    return path


def _as_image(frame: torch.Tensor) -> Image.Image:
    pixels = frame.permute(1, 2, 0).numpy()
    return Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)


def write_frames(folder: Path, given: torch.Tensor | None, predicted: torch.Tensor, start: int):
    """PNG frames NNNN.png: the given ones from 0 (if any), the predicted ones from `start`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for offset, frames in ((0, given), (start, predicted)):
        for i, frame in enumerate(frames if frames is not None else []):
            path = folder / f"{offset + i:04d}.png"
            _as_image(frame).save(path)
            written.append(path)
    return written


@dataclass
class PredictReport:
    """What predict_files did: clips continued, outputs written, clips skipped."""

    run: str
    step: int
    frames: int
    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    output: Path | None = None

    def lines(self) -> list[str]:
        """Printable summary."""
        skipped = f" ({len(self.skipped)} skipped)" if self.skipped else ""
        return [
            f"ganforge: predicted {self.frames} frame(s) for {len(self.written)} clip(s) with "
            f"{self.run} (step {self.step}) -> {self.output}{skipped}"
        ]


def _is_clips_folder(source: Path) -> bool:
    return source.is_dir() and not frame_files(source)


def _plan(source: Path, out: Path) -> list[tuple[Path, Path]]:
    """(clip, output) pairs, outputs checked before any work."""
    if not source.exists():
        raise GanforgeError(
            "input not found", str(source), "pass a GIF, a video, a frames folder or clips"
        )
    if source.is_file() and not is_clip_file(source):
        read_clip(source)  # the one-line "not a clip format" error
    if not _is_clips_folder(source):
        if out.suffix.lower() == ".gif":
            check_writable(out, what="output GIF", fix="choose a writable -o")
        else:
            check_writable(out, folder=True, what="output frames folder", fix="choose -o")
        return [(source, out)]
    clips = clip_paths(source)
    if not clips:
        raise GanforgeError(
            "no clips in the folder",
            str(source),
            "put GIF or video files, or folders of numbered frames, there",
        )
    if out.suffix.lower() == ".gif" or (out.exists() and not out.is_dir()):
        raise GanforgeError(
            "a folder of clips gives a folder of GIFs, not one file",
            str(out),
            "pass a folder as -o",
        )
    check_writable(out, folder=True, what="output folder", fix="choose a writable -o")
    return [(clip, out / f"{clip.stem if clip.is_file() else clip.name}.gif") for clip in clips]


def predict_files(
    run: str | Path,
    input: str | Path,
    output: str | Path,
    frames: int | None = None,
    *,
    with_given: bool = False,
    device: str = "cpu",
    warn: Callable[[str], None] = print,
) -> PredictReport:
    """Continue one clip (OUT: a GIF, or a frames folder) or a folder of clips (OUT: a folder
    of GIFs, one per clip); see the module docstring. In a folder, clips that cannot be read or
    are too short are skipped with one warning; a single such clip is an error."""
    source, out = Path(input).expanduser(), Path(output).expanduser()
    pairs = _plan(source, out)
    model = load_predictor(run, device)
    frames = check_frames(frames, model)
    given_n = model.family.settings.given_frames
    report = PredictReport(str(model.source), model.step, frames, output=out)
    many = _is_clips_folder(source)
    warned: list[str] = []

    def warn_once(line: str) -> None:
        if line not in warned:
            warned.append(line)
            warn(line)

    for clip_path, target in pairs:
        try:
            clip = read_clip(clip_path)
            given = prepare_clip(model, clip, str(clip_path))
        except GanforgeError as e:
            if not many:
                raise
            report.skipped.append(f"{clip_path.name} ({str(e).split(', ')[0]})")
            continue
        predicted = predict(model, given, frames, device, warn_once)
        if target.suffix.lower() == ".gif":
            keep = given if (with_given or not many) else None
            report.written.append(write_gif(target, keep, predicted))
        else:
            keep = given if with_given else None
            write_frames(target, keep, predicted, given_n)
            report.written.append(target)
    if report.skipped:
        more = f" and {len(report.skipped) - 3} more" if len(report.skipped) > 3 else ""
        if not report.written:
            raise GanforgeError(
                f"none of the {len(pairs)} clips could be continued "
                f"({'; '.join(report.skipped[:3])}{more})",
                str(source),
                f"give readable clips of at least {given_n} frames",
            )
        warn(
            f"ganforge: warning: skipped {len(report.skipped)} clip(s): "
            f"{'; '.join(report.skipped[:3])}{more}"
        )
    return report
