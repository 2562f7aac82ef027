"""`ganforge translate`: run a trained pix2pix or CycleGAN generator on images, files or folders,
and score translations against ground truth (L1, PSNR, class preservation, FID, sharpness).

Files are translated at their own size (the translators are fully convolutional): each is read
at full size (``folder:`` decoding rules: 16-bit scaled, palette expanded, transparency on
white), converted to the run's channel count, reflect-padded to a multiple of the network's
stride, run tile by tile with overlap (``ganforge.tiling``, as ``upscale``), cropped back, and
written in the format of its name: a JPEG stays a JPEG (an output file's own suffix wins). With
the default context (the network's receptive radius) tiles give the whole-image result; instance
normalisation (CycleGAN's default) is the exception: it normalises each tile on its own, which
the overlap blending hides. A model sees images at the scale it was trained on best: resize
inputs first when they are much larger or smaller than the training images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.data.folder import check_folder_pass, mirror_folder
from ganforge.data.sr import decoded_images, to_channels
from ganforge.errors import GanforgeError
from ganforge.families.pix2pix import TranslationFamily
from ganforge.images import (
    IMAGE_SUFFIXES,
    check_image_suffix,
    save_image,
    to_model_range,
    to_pixels,
    to_uint8,
)
from ganforge.io_checks import check_writable
from ganforge.nets.layers import crop_box, pad_to_multiple
from ganforge.sampling import TrainedGenerator, load_family_generator
from ganforge.tiling import run_tiled


def load_translator(run: str | Path | TrainedGenerator, device: str = "cpu") -> TrainedGenerator:
    """The generator(s) of a pix2pix/CycleGAN run; other runs are a one-line error."""
    return load_family_generator(
        run,
        device,
        TranslationFamily,
        "an image-translation run",
        "translate with a run trained with --family pix2pix or --family cyclegan",
    )


def _translator(
    run: str | Path | TrainedGenerator, direction: str, device: str
) -> TrainedGenerator:
    """load_translator, with ``direction`` checked against the run (BtoA: CycleGAN only)."""
    model = load_translator(run, device)
    model.family.check_direction(direction)
    return model


def _as_input(images: torch.Tensor | np.ndarray, channels: int) -> torch.Tensor:
    """(N, C, H, W) or (C, H, W) images, uint8 0..255 or float in [-1, 1] -> float (N, C, H, W)."""
    x = torch.as_tensor(images)
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise GanforgeError(
            f"expected images of shape (N, C, H, W) or (C, H, W), got {tuple(x.shape)}"
        )
    x = to_model_range(x) if x.dtype == torch.uint8 else x.float()
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
    model = _translator(run, direction, device)
    x = _as_input(images, model.config.model.sample_shape[0])
    target = next(model.module.parameters()).device
    out = [
        model.family.translate(model.module, x[i : i + batch_size].to(target), direction)
        for i in range(0, len(x), batch_size)
    ]
    return torch.cat(out).float().cpu() if out else x.new_empty((0, *x.shape[1:]))


# ---- files -------------------------------------------------------------------------------

DEFAULT_TILE = 512  # pixels: images up to 512x512 run whole; larger ones in bounded memory


def translator_geometry(module: torch.nn.Module) -> tuple[int, int | None]:
    """(stride, receptive radius) of a translator: tiled windows snap to multiples of the
    stride, and a context of the radius makes tiles give the whole-image result (None: unknown,
    so images run whole by default). Radii measured by gradient probes: U-Net 3 * 2^depth - 3,
    ResNet 12 + 8 per residual block (kept with a margin)."""
    from ganforge.nets.resnet_translator import ResidualBlock, ResNetTranslator
    from ganforge.nets.unet import UNetGenerator

    net = getattr(module, "a_to_b", module)  # CycleGAN: both directions share one shape
    if isinstance(net, UNetGenerator):
        return 2**net.depth, 3 * 2**net.depth
    if isinstance(net, ResNetTranslator):
        blocks = sum(isinstance(m, ResidualBlock) for m in net.modules())
        return 4, 16 + 8 * blocks
    return int(getattr(net, "stride", 1)), getattr(net, "receptive_radius", None)


@torch.no_grad()
def translate_image(
    run: str | Path | TrainedGenerator,
    image: torch.Tensor | np.ndarray,
    direction: str = "AtoB",
    device: str = "cpu",
    *,
    tile: int | None = None,
    overlap: int = 16,
    context: int | None = None,
) -> torch.Tensor:
    """One image of any size, (C, H, W) or (1, C, H, W), uint8 or in [-1, 1] -> its translation
    (1, C, H, W) in [-1, 1] on the CPU, run tile by tile (see the module docstring).

    ``tile``: tile side in pixels (None: DEFAULT_TILE; 0: the whole image at once); ``overlap``:
    pixels neighbouring tiles share and blend; ``context``: extra pixels each tile sees (None:
    the receptive radius, exact).
    """
    model = _translator(run, direction, device)
    x = _as_input(image, model.config.model.sample_shape[0])
    if len(x) != 1:
        raise GanforgeError(f"translate_image takes one image, got {len(x)}", fix="use translate")
    stride, radius = translator_geometry(model.module)
    tile = DEFAULT_TILE if tile is None else int(tile)
    if context is None:
        context = radius if radius is not None else 0
        tile = tile if radius is not None else 0
    target = next(model.module.parameters()).device
    padded, box = pad_to_multiple(x.to(target), stride)
    out = run_tiled(
        lambda piece: model.family.translate(model.module, piece, direction),
        padded,
        tile=tile,
        overlap=overlap,
        context=context,
        align=stride,
    )
    return crop_box(out, box).float().cpu()


@dataclass
class TranslateReport:
    """What translate_files did: the files written, the ones it could not read, and where."""

    run: str
    direction: str
    step: int
    written: list[Path] = field(default_factory=list)
    output: Path | None = None
    skipped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Printable summary."""
        skipped = f" ({len(self.skipped)} unreadable skipped)" if self.skipped else ""
        return [
            f"ganforge: translated {len(self.written)} image(s) {self.direction} with "
            f"{self.run} (step {self.step}) -> {self.output}{skipped}"
        ]


def _plan(source: Path, out: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs, checked before any work: outputs keep their input's name and
    format; a file given an image-named -o goes there."""
    if not source.exists():
        raise GanforgeError("input not found", str(source), "pass an image file or a folder")
    if source.is_file():
        named = out.suffix.lower() in IMAGE_SUFFIXES and not out.is_dir()
        target = out if named else out / source.name
        check_image_suffix(target)
        check_writable(target, what="output image", fix="choose a writable -o")
        return [(source, target)]
    return mirror_folder(source, out)


def translate_files(
    run: str | Path,
    input: str | Path,
    output: str | Path,
    direction: str = "AtoB",
    device: str = "cpu",
    *,
    tile: int | None = None,
    overlap: int = 16,
    context: int | None = None,
    warn: Callable[[str], None] = print,
) -> TranslateReport:
    """Translate an image file (output: a file, or a folder to put it in) or a whole folder
    (output: a folder; sub-paths, names and formats kept). Unreadable files in a folder are
    skipped with one warning; an unreadable single file is an error."""
    source, out = Path(input).expanduser(), Path(output).expanduser()
    pairs = _plan(source, out)
    model = _translator(run, direction, device)
    channels = model.config.model.sample_shape[0]
    report = TranslateReport(str(model.source), direction, model.step)
    report.output = pairs[0][1] if source.is_file() else out
    for _, target, decoded in decoded_images(pairs, source, report.skipped):
        pixels = torch.from_numpy(np.array(to_channels(decoded, channels))).permute(2, 0, 1)
        image = translate_image(
            model, pixels, direction, device, tile=tile, overlap=overlap, context=context
        )
        report.written.append(save_image(to_uint8(image)[0], target))
    check_folder_pass(report.skipped, len(report.written), len(pairs), source, warn)
    return report


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

    model = _translator(run, direction, device)
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
    truth_f = to_model_range(truth)
    out_u8 = to_pixels(outputs).float()
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
        src = to_model_range(sources)
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
