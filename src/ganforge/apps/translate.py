"""`ganforge translate`: run a trained pix2pix or CycleGAN generator on images, files or folders,
and score translations against ground truth (L1, PSNR, class preservation, FID, sharpness).

Files are read like training data (``folder:`` rules): the shorter side scaled to the run's
resolution, the centre square kept, converted to the run's channel count; outputs are PNGs of
that size. The Python API takes tensors and translates them at whatever size they have (the
translators are fully convolutional).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.families.pix2pix import TranslationFamily
from ganforge.sampling import TrainedGenerator, load_generator

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif")


def load_translator(run: str | Path, device: str = "cpu") -> TrainedGenerator:
    """The generator(s) of a pix2pix/CycleGAN run; other runs are a one-line error."""
    model = load_generator(run, device)
    if not isinstance(model.family, TranslationFamily):
        raise GanforgeError(
            f"this is a {model.config.model.family} run, not an image-translation run",
            str(model.source),
            "translate with a run trained with --family pix2pix or --family cyclegan",
        )
    return model


def _model(run: str | Path | TrainedGenerator, device: str) -> TrainedGenerator:
    if isinstance(run, TrainedGenerator):
        if not isinstance(run.family, TranslationFamily):
            return load_translator(run.source, device)  # raises the one-line error
        return run
    return load_translator(run, device)


def _as_input(images: torch.Tensor | np.ndarray, channels: int) -> torch.Tensor:
    """(N, C, H, W) or (C, H, W) images, uint8 0..255 or float in [-1, 1] -> float (N, C, H, W)."""
    x = torch.as_tensor(images)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise GanforgeError(
            f"expected images of shape (N, C, H, W) or (C, H, W), got {tuple(x.shape)}"
        )
    x = x.float() / 127.5 - 1.0 if x.dtype == torch.uint8 else x.float()
    if x.shape[1] == channels:
        return x
    if x.shape[1] == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1)
    if x.shape[1] == 3 and channels == 1:  # BT.601 luma, as the data loaders
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (x * weights).sum(1, keepdim=True)
    raise GanforgeError(f"images have {x.shape[1]} channels; this run needs {channels}")


@torch.no_grad()
def translate(
    run: str | Path | TrainedGenerator,
    images: torch.Tensor | np.ndarray,
    direction: str = "AtoB",
    device: str = "cpu",
    batch_size: int = 64,
) -> torch.Tensor:
    """Translate images with a pix2pix/CycleGAN run: (N, C, H, W) floats in [-1, 1] on the CPU.

    ``images``: (N, C, H, W) or (C, H, W), uint8 on 0..255 or floats in [-1, 1]; grey and
    colour are converted to the run's channels. ``direction``: AtoB, or BtoA (CycleGAN only).
    """
    model = _model(run, device)
    model.family.check_direction(direction)
    x = _as_input(images, model.config.model.sample_shape[0])
    target = next(model.module.parameters()).device
    out = [
        model.family.translate(model.module, x[i : i + batch_size].to(target), direction)
        for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out).float().cpu() if out else x.new_empty((0, *x.shape[1:]))


# ---- files -------------------------------------------------------------------------------


@dataclass
class TranslateReport:
    """What translate_files did: the files written and where."""

    run: str
    direction: str
    step: int
    written: list[Path] = field(default_factory=list)
    output: Path | None = None

    def lines(self) -> list[str]:
        """Printable summary."""
        return [
            f"ganforge: translated {len(self.written)} image(s) {self.direction} with "
            f"{self.run} (step {self.step}) -> {self.output}"
        ]


def _read_file(path: Path, resolution: int, channels: int) -> torch.Tensor:
    """One image file as uint8 (C, H, W) at the run's resolution (folder: rules)."""
    from ganforge.data.folder import _decode, _to_channels

    decoded = _decode(path, resolution)
    if isinstance(decoded, str):
        raise GanforgeError(f"cannot read the image ({decoded})", str(path))
    pixels = _to_channels(decoded[0], channels)
    return pixels.expand(channels, -1, -1) if pixels.dim() == 2 else pixels


def _write_png(image: torch.Tensor, path: Path) -> None:
    from ganforge.images import array_to_image, to_uint8

    path.parent.mkdir(parents=True, exist_ok=True)
    array_to_image(to_uint8(image[None])[0]).save(path)


def translate_files(
    run: str | Path,
    input: str | Path,
    output: str | Path,
    direction: str = "AtoB",
    device: str = "cpu",
    batch_size: int = 64,
) -> TranslateReport:
    """Translate an image file (output: a file, or a folder to put it in) or a whole folder
    (output: a folder; sub-paths kept, every output a .png)."""
    model = load_translator(run, device)
    model.family.check_direction(direction)
    source, out = Path(input).expanduser(), Path(output).expanduser()
    channels, resolution = model.config.model.sample_shape[0], model.config.model.sample_shape[1]
    if not source.exists():
        raise GanforgeError("input not found", str(source), "pass an image file or a folder")
    report = TranslateReport(str(model.source), direction, model.step)
    try:
        if source.is_file():
            if out.suffix.lower() not in IMAGE_SUFFIXES:
                out = out / f"{source.stem}.png"
            x = _read_file(source, resolution, channels)
            _write_png(translate(model, x, direction, device)[0], out)
            report.written, report.output = [out], out
            return report
        from ganforge.data.folder import load_image_folder

        if out.exists() and not out.is_dir():
            raise GanforgeError(
                "a folder of inputs needs an output folder, but the output is a file",
                str(out),
                "pass -o a folder path",
            )
        images = load_image_folder(source, resolution, channels)
        results = translate(model, images.data, direction, device, batch_size)
        for rel, image in zip(images.meta["paths"], results, strict=True):
            target = out / Path(rel).with_suffix(".png")
            _write_png(image, target)
            report.written.append(target)
        report.output = out
        return report
    except OSError as e:
        raise GanforgeError(f"cannot write output ({e.strerror})", str(out)) from None


# ---- scores against ground truth ---------------------------------------------------------


def sharpness(images: torch.Tensor) -> torch.Tensor:
    """Mean Sobel gradient magnitude per image ((N, C, H, W) in [-1, 1], scaled to [0, 1])."""
    x = (images.float() + 1) / 2
    gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernels = torch.stack([gx, gx.t()]).unsqueeze(1)
    grads = F.conv2d(x.flatten(0, 1).unsqueeze(1), kernels)  # valid part only: no border
    return grads.pow(2).sum(1).sqrt().view(x.shape[0], -1).mean(1)


@torch.no_grad()
def score_translations(
    run: str | Path | TrainedGenerator,
    dataset,
    direction: str = "AtoB",
    n: int | None = None,
    device: str = "cpu",
    batch_size: int = 256,
) -> dict[str, float]:
    """Scores of a run on a paired TranslationDataset (held-out split) against its ground truth.

    - ``l1``: mean absolute error, pixels on [0, 1]; ``psnr``: mean over images of
      10 log10(255^2 / MSE) on 0..255, all channels (metrics.image_quality.psnr, no Y, no crop).
    - ``sharpness``: mean Sobel gradient magnitude of the outputs / that of the ground truth
      (1 = as sharp as the truth; blur gives less).
    - Grey digit tasks (``meta["source_classes"]``): ``class_accuracy`` = share of outputs the
      shipped MNIST classifier assigns to the source digit's class, ``fid`` = FID of outputs vs
      ground truth in that classifier's feature space (``mnist`` extractor), and the same two
      for the ground truth itself (``truth_class_accuracy``, the ceiling).
    - CycleGAN: ``cycle_l1`` = L1 of the round trip back to the source.
    """
    from ganforge.metrics.image_quality import psnr

    model = _model(run, device)
    model.family.check_direction(direction)
    if not getattr(dataset, "paired", False):
        raise GanforgeError(
            "scores need paired ground truth", fix="use a held-out split such as mnist2thick:test"
        )
    sources, truth = dataset.source, dataset.data
    if direction == "BtoA":
        sources, truth = truth, sources
    if n is not None:
        sources, truth = sources[:n], truth[:n]
    outputs = translate(model, sources, direction, device, batch_size)
    truth_f = truth.float() / 127.5 - 1.0
    out_u8 = ((outputs.clamp(-1, 1) + 1) * 127.5).round()
    scores: dict[str, float] = {
        "n": len(outputs),
        "l1": float((outputs.clamp(-1, 1) - truth_f).abs().mean() / 2),
        "psnr": float(
            np.mean(
                [
                    min(psnr(o.permute(1, 2, 0), t.permute(1, 2, 0), y_channel=False), 100.0)
                    for o, t in zip(out_u8, truth.float(), strict=True)
                ]
            )
        ),
        "sharpness": float(sharpness(outputs.clamp(-1, 1)).mean() / sharpness(truth_f).mean()),
    }
    if model.config.model.family == "cyclegan":
        back = "BtoA" if direction == "AtoB" else "AtoB"
        round_trip = translate(model, outputs, back, device, batch_size)
        src = sources.float() / 127.5 - 1.0
        scores["cycle_l1"] = float((round_trip.clamp(-1, 1) - src).abs().mean() / 2)
    classes = dataset.meta.get("source_classes")
    if classes is not None and truth.shape[1] == 1:
        scores.update(_digit_scores(outputs, truth_f, classes[: len(outputs)], device))
    return scores


def _digit_scores(
    outputs: torch.Tensor, truth: torch.Tensor, classes: torch.Tensor, device: str
) -> dict[str, float]:
    """Class preservation and FID in the shipped MNIST classifier's feature space."""
    from ganforge.metrics.features import get_extractor
    from ganforge.metrics.fid import fid

    extractor = get_extractor("mnist", device)
    feats, hits = {}, {}
    for name, images in (("out", outputs), ("truth", truth)):
        chunks = [extractor(images[i : i + 500].to(device)) for i in range(0, len(images), 500)]
        feats[name] = torch.cat([f for f, _ in chunks]).cpu()
        logits = torch.cat([lg for _, lg in chunks]).cpu()
        hits[name] = float((logits.argmax(1) == torch.as_tensor(classes)).float().mean())
    scores = {"class_accuracy": hits["out"], "truth_class_accuracy": hits["truth"]}
    if len(outputs) >= 2:
        scores["fid"] = fid(feats["out"].numpy(), feats["truth"].numpy())
    return scores
