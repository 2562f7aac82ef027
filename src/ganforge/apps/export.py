"""`ganforge export`: a trained model as one ONNX (or TorchScript) file plus a JSON sidecar, so
another program runs it with onnxruntime and nothing of ganforge or its training code.

What is exported, by family (every graph has a dynamic batch axis):

- ``unconditional``: ``noise`` (N, latent_dim) standard normal -> ``images`` (N, C, H, W) in
  [-1, 1] (the sampling generator: its EMA where the run keeps one). Truncation is a redraw of
  the noise, done by the caller before the model (see the sidecar).
- ``conditional``: ``noise`` and ``labels`` (N,) int64 class indices -> ``images``.
- ``srgan``: ``image`` (N, C, h, w) in [-1, 1], any h and w -> ``image`` (N, C, h*s, w*s),
  clamped to [-1, 1], the whole image at once (``upscale``'s tiles give the same result).
- ``pix2pix``, ``cyclegan``: ``image`` of any size -> its translation of the same size; the
  graph reflect-pads to the translator's stride and crops back, as ``translate`` does
  (CycleGAN: one direction per file, ``--direction``).
- ``ganomaly``, ``fanogan`` (a fitted ``anomaly`` detector, or a training run): ``image`` (or
  ``row`` for a table detector: raw columns, standardised inside the graph) -> ``score`` (N,)
  and ``reconstruction`` in model space; the detector's threshold goes in the sidecar.
- ``tabular`` and ``series`` have no graph that stands alone (their samples are decoded by
  fitted column transformers): a one-line error.

ONNX: torch 2.13's ``torch.onnx.export`` defaults to the torch.export-based exporter, which
needs onnxscript (not a ganforge dependency, not installed here); the TorchScript-based exporter
(``dynamo=False``) is still shipped, needs only torch, and takes ``dynamic_axes``, which is all
these feed-forward graphs need, so it is the one used. TorchScript: ``torch.jit.trace``, saved
as .pt; ganforge itself never loads TorchScript files (they can run code), it only writes them.

Files appear whole or not at all: the model and its sidecar are written to temporary names
beside the output and renamed at the end.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.io_checks import check_writable

FORMATS = ("onnx", "torchscript")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt"}
DEFAULT_OPSET = 17  # ONNX Runtime >= 1.12, TensorRT 8.6, OpenVINO: the widely supported one
MIN_OPSET, MAX_OPSET = 13, 20  # 13: Range/Pad/Mod as used here; 20: the exporter's newest
NO_GRAPH = ("tabular", "series")
TO_PIXELS = "uint8 = round((clip(x, -1, 1) + 1) * 127.5), channels first (N, C, H, W)"
FROM_PIXELS = "x = uint8 / 127.5 - 1 (float32, channels first: (N, C, H, W), grey C=1, RGB C=3)"
EXAMPLE_BATCH = 2  # the batch traced; every graph takes any batch size


# ---- the graphs -----------------------------------------------------------------------------
class Sampler(nn.Module):
    """noise (, labels) -> samples: the generator, as ``TrainedGenerator.sample`` calls it."""

    def __init__(self, generator: nn.Module, conditional: bool):
        super().__init__()
        self.generator, self.conditional = generator, conditional

    def forward(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(noise, labels) if self.conditional else self.generator(noise)


class Upscaler(nn.Module):
    """LR image in [-1, 1] -> SR image clamped to [-1, 1] (what ``upscale`` turns to pixels)."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.generator(image).clamp(-1, 1)


def _padded_indices(size: torch.Tensor, total: torch.Tensor, replicate: torch.Tensor):
    """Source indices that pad a side of ``size`` by ``total`` (half before), by reflection, or
    by replication where ``replicate``: ``pad_to_multiple``'s rule as tensor ops, so the traced
    graph keeps every size dynamic."""
    raw = torch.arange(size + total) - torch.div(total, 2, rounding_mode="floor")
    last = size - 1
    reflected = raw.abs()
    reflected = torch.where(reflected > last, 2 * last - reflected, reflected)
    replicated = torch.minimum(torch.maximum(raw, torch.zeros_like(raw)), last)
    return torch.where(replicate, replicated, reflected)


class Translator(nn.Module):
    """Image of any size -> its translation: pad to the stride, translate, crop back (as
    ``translate_image`` with one whole tile)."""

    def __init__(self, generator: nn.Module, stride: int):
        super().__init__()
        self.generator, self.stride = generator, stride

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        # Traced, x.shape[i] is a tensor of the graph; eager, an int: as_tensor covers both.
        h, w = torch.as_tensor(image.shape[2]), torch.as_tensor(image.shape[3])
        ph, pw = (-h) % self.stride, (-w) % self.stride
        after = torch.maximum(ph - torch.div(ph, 2, rounding_mode="floor"), pw - pw // 2)
        replicate = after >= torch.minimum(h, w)
        rows = _padded_indices(h, ph, replicate)
        cols = _padded_indices(w, pw, replicate)
        padded = image.index_select(2, rows).index_select(3, cols)
        out = self.generator(padded)
        top = torch.div(ph, 2, rounding_mode="floor")
        left = torch.div(pw, 2, rounding_mode="floor")
        return out.index_select(2, torch.arange(h) + top).index_select(3, torch.arange(w) + left)


class GANomalyScore(nn.Module):
    """x -> (mean_k |G_E(x) - E(G(x))|, G(x)): ``GANomalyFamily.anomaly_score``."""

    def __init__(self, generator: nn.Module, standardise: tuple | None = None):
        super().__init__()
        self.generator = generator
        _standardisation(self, standardise)

    def forward(self, x: torch.Tensor):
        x = _standardised(self, x)
        fake, z, z_rec = self.generator.reconstruct(x)
        return (z - z_rec).abs().flatten(1).mean(1), fake


class FAnoGANScore(nn.Module):
    """x -> (izi_f(x), G(E(x))): ``FAnoGANFamily.anomaly_score``."""

    def __init__(self, generator: nn.Module, critic: nn.Module, kappa: float, standardise=None):
        super().__init__()
        self.generator, self.critic, self.kappa = generator, critic, float(kappa)
        _standardisation(self, standardise)

    def forward(self, x: torch.Tensor):
        from ganforge.families.fanogan import izi_f

        x = _standardised(self, x)
        score, _, _, rec = izi_f(self.generator, self.critic, x, self.kappa)
        return score, rec


def _standardisation(module: nn.Module, standardise: tuple | None) -> None:
    """Table detectors: the fit's column mean and std, applied inside the graph."""
    module.table = standardise is not None
    if module.table:
        mean, std = standardise
        module.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32).reshape(1, -1))
        module.register_buffer("std", torch.as_tensor(std, dtype=torch.float32).reshape(1, -1))


def _standardised(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return (x - module.mean) / module.std if module.table else x


# ---- what to export -------------------------------------------------------------------------
@dataclass
class Exportable:
    """A graph, example inputs, and the sidecar's description of its inputs and outputs."""

    module: nn.Module
    examples: tuple[torch.Tensor, ...]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    dynamic: dict[str, dict[int, str]]
    meta: dict[str, Any] = field(default_factory=dict)


def _io(name, dtype, shape, description, value_range=None) -> dict[str, Any]:
    entry = {"name": name, "dtype": dtype, "shape": shape, "description": description}
    if value_range is not None:
        entry["range"] = value_range
    return entry


def _image_output(name: str, shape: list, what: str) -> dict[str, Any]:
    return _io(name, "float32", shape, f"{what}; to pixels: {TO_PIXELS}", [-1.0, 1.0])


def from_generator(model, direction: str = "AtoB") -> Exportable:
    """The graph of a TrainedGenerator (sampling, upscaling, translation, GANomaly score)."""
    config, family = model.config, model.family
    name = config.model.family
    shape = list(config.model.sample_shape)
    meta = {
        "family": name,
        "step": model.step,
        "weights": "ema" if config.train.ema > 0 else "live",
    }
    if name in NO_GRAPH:
        raise GanforgeError(
            f"a {name} run has no generator graph to export: its samples are decoded by the "
            "data transformers fitted with it",
            str(model.source),
            f"sample with `ganforge {name} sample`; export runs of the image families",
        )
    from ganforge.families.pix2pix import TranslationFamily

    if isinstance(family, TranslationFamily):
        return _translator(model, shape, meta, direction)
    if direction != "AtoB":
        raise GanforgeError(
            f"--direction {direction} is for translation runs (pix2pix, cyclegan); this is a "
            f"{name} run",
            str(model.source),
            "leave out --direction",
        )
    if name == "srgan":
        return _upscaler(model, shape, meta)
    if name in ("ganomaly", "fanogan"):
        critic = _critic(model) if name == "fanogan" else None
        return _scorer(name, model.module, critic, config, shape, None, meta)
    return _sampler(model, shape, meta)


def _sampler(model, shape: list, meta: dict) -> Exportable:
    config, family = model.config, model.family
    latent = int(config.model.latent_dim)
    conditional = bool(family.conditional)
    noise = torch.randn(EXAMPLE_BATCH, latent)
    inputs = [
        _io(
            "noise",
            "float32",
            ["batch", latent],
            "standard normal noise, one row per sample (truncation: redraw entries with "
            "|z| > t, then clip to [-t, t])",
            "N(0, 1)",
        )
    ]
    examples: tuple[torch.Tensor, ...] = (noise,)
    dynamic = {"noise": {0: "batch"}, "samples": {0: "batch"}}
    k = int(config.model.num_classes) if conditional else 0
    if conditional:
        names = list(config.model.class_names) or [str(i) for i in range(k)]
        inputs.append(
            _io(
                "labels",
                "int64",
                ["batch"],
                "class index of each sample (class_names[i] names index i)",
                [0, k - 1],
            )
        )
        examples = (noise, torch.arange(EXAMPLE_BATCH) % k)
        dynamic["labels"] = {0: "batch"}
        meta.update(num_classes=k, class_names=names)
    images = len(shape) == 3
    output = (
        _image_output("samples", ["batch", *shape], "generated images")
        if images
        else _io("samples", "float32", ["batch", *shape], "generated points in the data's units")
    )
    meta.update(task="sample", latent_dim=latent)
    return Exportable(Sampler(model.module, conditional), examples, inputs, [output], dynamic, meta)


def _upscaler(model, shape: list, meta: dict) -> Exportable:
    scale = int(model.config.family_settings("srgan").scale)
    channels = int(shape[0])
    example = torch.rand(EXAMPLE_BATCH, channels, 9, 11) * 2 - 1
    inputs = [
        _io(
            "image",
            "float32",
            ["batch", channels, "height", "width"],
            f"low-resolution images of any size; from pixels: {FROM_PIXELS}",
            [-1.0, 1.0],
        )
    ]
    output = _image_output(
        "image_sr",
        ["batch", channels, f"height*{scale}", f"width*{scale}"],
        f"the images upscaled x{scale}",
    )
    dynamic = {
        "image": {0: "batch", 2: "height", 3: "width"},
        "image_sr": {0: "batch", 2: "height_sr", 3: "width_sr"},
    }
    meta.update(task="upscale", scale=scale, channels=channels)
    return Exportable(Upscaler(model.module), (example,), inputs, [output], dynamic, meta)


def _translator(model, shape: list, meta: dict, direction: str) -> Exportable:
    from ganforge.apps.translate import translator_geometry

    model.family.check_direction(direction)
    module = model.module
    if meta["family"] == "cyclegan":
        module = module.a_to_b if direction == "AtoB" else module.b_to_a
    stride, _ = translator_geometry(model.module)
    channels = int(shape[0])
    example = torch.rand(EXAMPLE_BATCH, channels, shape[1] + 3, shape[2] + 1) * 2 - 1
    inputs = [
        _io(
            "image",
            "float32",
            ["batch", channels, "height", "width"],
            f"source images of any size (padded to a multiple of {stride} inside, cropped "
            f"back); trained at {shape[1]}x{shape[2]}; from pixels: {FROM_PIXELS}",
            [-1.0, 1.0],
        )
    ]
    output = _image_output(
        "translation", ["batch", channels, "height", "width"], f"the images translated {direction}"
    )
    dynamic = {
        "image": {0: "batch", 2: "height", 3: "width"},
        "translation": {0: "batch", 2: "height", 3: "width"},
    }
    meta.update(task="translate", direction=direction, channels=channels, stride=stride)
    meta["trained_size"] = shape[1:]
    return Exportable(Translator(module, stride), (example,), inputs, [output], dynamic, meta)


def _scorer(method, generator, critic, config, shape, standardise, meta) -> Exportable:
    table = standardise is not None
    if method == "ganomaly":
        module: nn.Module = GANomalyScore(generator, standardise)
        formula = "mean_k |G_E(x)_k - E(G(x))_k| (GANomaly)"
    else:
        kappa = config.family_settings("fanogan").kappa
        module = FAnoGANScore(generator, critic, kappa, standardise)
        formula = f"izi_f = mean (x - G(E(x)))^2 + {kappa:g} * mean (f(x) - f(G(E(x))))^2"
    name = "row" if table else "image"
    if table:
        described = "raw table rows, columns in the order of `columns` (standardised inside)"
        in_range = None
    else:
        described = f"images at {shape[1]}x{shape[2]} (resize first); from pixels: {FROM_PIXELS}"
        in_range = [-1.0, 1.0]
    example = torch.randn(EXAMPLE_BATCH, *shape)
    if not table:
        example = example.clamp(-1, 1)
    inputs = [_io(name, "float32", ["batch", *shape], described, in_range)]
    outputs = [
        _io("score", "float32", ["batch"], f"anomaly score {formula}; higher = more anomalous"),
        _io(
            "reconstruction",
            "float32",
            ["batch", *shape],
            "the method's reconstruction of the input"
            + (" (standardised columns)" if table else f"; to pixels: {TO_PIXELS}"),
            None if table else [-1.0, 1.0],
        ),
    ]
    dynamic = {name: {0: "batch"}, "score": {0: "batch"}, "reconstruction": {0: "batch"}}
    meta.update(task="anomaly_score", method=method)
    return Exportable(module, (example,), inputs, outputs, dynamic, meta)


def _critic(model) -> nn.Module:
    """f-AnoGAN's score needs the critic: the weights the loader kept with the generator (a
    checkpoint, a pretrained folder saved with D), else the run's last checkpoint."""
    from ganforge.training.checkpoint import (
        FORMAT,
        latest_checkpoint,
        load_file,
        load_weights,
        rebuild,
    )

    source = path = Path(model.source)
    weights = getattr(model, "discriminator_weights", None)
    if weights is None:
        candidate = source if source.name != "generator.pt" else source.parent
        try:
            path = latest_checkpoint(candidate)
            weights = load_file(path, (FORMAT,))["discriminator"]
        except GanforgeError:
            raise GanforgeError(
                "the f-AnoGAN score needs the critic, which generator.pt does not hold",
                str(source),
                "export the run directory (its checkpoints/last.pt) or a fitted anomaly detector",
            ) from None
    _, critic = rebuild(model.family.build, path, "a ganforge model")
    load_weights(critic, weights, path, "the critic does not fit")
    return critic.eval().requires_grad_(False)


def from_detector(detector) -> Exportable:
    """The score graph of a fitted AnomalyDetector (images, or table rows standardised inside)."""
    config = detector.config_
    table = detector.kind_ == "table"
    shape = [len(detector.columns_)] if table else list(config.model.sample_shape)
    standardise = (detector.mean_, detector.std_) if table else None
    meta = {"family": config.model.family, "weights": "live", "kind": detector.kind_}
    generator = detector.generator_.cpu().eval().requires_grad_(False)
    critic = detector.discriminator_.cpu().eval().requires_grad_(False)
    out = _scorer(detector.method, generator, critic, config, shape, standardise, meta)
    out.meta["threshold"] = detector.threshold()
    out.meta["fpr"] = detector.fpr
    if table:
        out.meta["columns"] = list(detector.columns_)
    return out


def load_exportable(run: str | Path, direction: str = "AtoB") -> tuple[Exportable, Path]:
    """What ``run`` holds, as a graph: a fitted anomaly detector (run directory with
    detector.pt, or the file), else what ``load_generator`` reads; and the file it came from."""
    from ganforge.apps.detector_file import DETECTOR_FILE, DETECTOR_FORMAT
    from ganforge.sampling import load_generator
    from ganforge.training.checkpoint import format_tag

    path = Path(run)
    tag = format_tag(path)
    if (path.is_dir() and (path / DETECTOR_FILE).is_file()) or tag == DETECTOR_FORMAT:
        from ganforge.apps.anomaly import AnomalyDetector

        detector = AnomalyDetector.load(path)
        source = path / DETECTOR_FILE if path.is_dir() else path
        return from_detector(detector), source
    kind = (tag or "").removeprefix("ganforge-")
    if kind in NO_GRAPH:
        raise GanforgeError(
            f"a {kind} model has no generator graph to export: its samples are decoded by the "
            "data transformers fitted with it",
            str(path),
            f"sample with `ganforge {kind} sample`; export runs of the image families",
        )
    model = load_generator(path)
    return from_generator(model, direction), Path(model.source)


# ---- writing ------------------------------------------------------------------------------
def export_format(output: str | Path, fmt: str | None) -> str:
    """The format asked for (else the one -o's suffix names), checked against the suffix."""
    suffix = Path(output).suffix.lower()
    if fmt is not None and fmt not in FORMATS:
        raise GanforgeError(
            f"unknown --format {fmt!r}", fix=f"use one of {', '.join(FORMATS)} or pretrained"
        )
    if fmt is None:
        by_suffix = {v: k for k, v in SUFFIXES.items()}
        if suffix not in by_suffix:
            raise GanforgeError(
                f"-o {Path(output).name} names no export format",
                str(output),
                "end it in .onnx (ONNX) or .pt (TorchScript), or pass --format",
            )
        return by_suffix[suffix]
    if suffix != SUFFIXES[fmt]:
        raise GanforgeError(
            f"--format {fmt} writes a {SUFFIXES[fmt]} file, but -o {Path(output).name} does not "
            f"end in {SUFFIXES[fmt]}",
            str(output),
            f"use -o {Path(output).with_suffix(SUFFIXES[fmt]).name}",
        )
    return fmt


def check_opset(opset: int) -> int:
    """The ONNX opset when this exporter writes it; a one-line error else."""
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise GanforgeError(
            f"--opset must be an integer from {MIN_OPSET} to {MAX_OPSET}, got {opset!r}",
            fix=f"use e.g. --opset {DEFAULT_OPSET} (the default)",
        )
    return opset


def sidecar_path(output: str | Path) -> Path:
    """Where the JSON description of an exported model goes: beside it, suffix .json."""
    return Path(output).with_suffix(".json")


@dataclass
class ExportReport:
    """What export_model wrote."""

    path: Path
    sidecar: Path
    format: str
    description: dict[str, Any]

    def lines(self) -> list[str]:
        """Printable summary."""
        d = self.description
        ins = ", ".join(f"{i['name']} {_shape(i['shape'])}" for i in d["inputs"])
        outs = ", ".join(f"{o['name']} {_shape(o['shape'])}" for o in d["outputs"])
        return [
            f"ganforge: exported the {d['family']} {d['task']} graph (step {d['step']}) as "
            f"{self.format}: {ins} -> {outs}",
            f"ganforge: description in {self.sidecar}",
        ]


def _shape(shape: list) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def export_model(
    run: str | Path,
    output: str | Path,
    fmt: str | None = None,
    *,
    opset: int = DEFAULT_OPSET,
    direction: str = "AtoB",
) -> ExportReport:
    """Export a run's model (see the module docstring) to ``output`` and its JSON description
    beside it; every check comes before any work, and nothing is left half-written."""
    from ganforge import __version__

    if fmt == "pretrained":  # a save_pretrained folder, not a graph (apps/pretrained_export.py)
        from ganforge.apps.pretrained_export import export_pretrained

        return export_pretrained(run, output)
    out = Path(output).expanduser()
    fmt = export_format(out, fmt)
    if fmt == "onnx":
        check_opset(opset)
    check_writable(out, what="exported model")
    side = sidecar_path(out)
    check_writable(side, what="model description")
    graph, source = load_exportable(run, direction)
    graph.module.eval().requires_grad_(False)
    description = {
        "ganforge_version": __version__,
        "format": fmt,
        "file": out.name,
        **({"opset": opset} if fmt == "onnx" else {}),
        "source": str(source),
        **graph.meta,
        "inputs": graph.inputs,
        "outputs": graph.outputs,
        "to_pixels": TO_PIXELS,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    model_tmp = _temporary(out)
    side_tmp = _temporary(side)
    try:
        if fmt == "onnx":
            _write_onnx(graph, model_tmp, opset)
        else:
            _write_torchscript(graph, model_tmp)
        side_tmp.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
        os.chmod(model_tmp, 0o644)
        os.chmod(side_tmp, 0o644)
        os.replace(model_tmp, out)
        os.replace(side_tmp, side)
    except OSError as e:
        raise GanforgeError(f"cannot write the export ({e.strerror or e})", str(out)) from None
    finally:  # an error or an interrupt: the temporary files go, earlier files stay as they were
        model_tmp.unlink(missing_ok=True)
        side_tmp.unlink(missing_ok=True)
    return ExportReport(out, side, fmt, description)


def _temporary(path: Path) -> Path:
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    return Path(name)


_BICUBIC_AA = "aten::_upsample_bicubic2d_aa"


def _bicubic_aa_symbolic(g, image, output_size, align_corners, scale_factors):
    """ONNX Resize for ``bicubic_resize`` upscaling (SRResNet's skip), which the exporter lacks:
    torch's antialiased bicubic uses Keys' a = -0.5 and renormalises the weights at the border,
    which is Resize's cubic with cubic_coeff_a = -0.5 and exclude_outside = 1 (equal when
    enlarging, the only use in a graph here; shrinking would need opset 18's antialias)."""
    from torch.onnx import symbolic_helper

    shape = g.op("Shape", image)
    head = g.op(
        "Slice",
        shape,
        g.op("Constant", value_t=torch.tensor([0])),
        g.op("Constant", value_t=torch.tensor([2])),
        g.op("Constant", value_t=torch.tensor([0])),
    )
    sizes = g.op("Concat", head, g.op("Cast", output_size, to_i=7), axis_i=0)  # 7: INT64
    empty = symbolic_helper._optional_input_placeholder_tensor(g)
    corners = bool(symbolic_helper._maybe_get_const(align_corners, "b"))  # a graph constant
    return g.op(
        "Resize",
        image,
        empty,
        symbolic_helper._optional_input_placeholder_tensor(g),
        sizes,
        mode_s="cubic",
        cubic_coeff_a_f=-0.5,
        exclude_outside_i=1,
        coordinate_transformation_mode_s="align_corners" if corners else "half_pixel",
    )


def _write_onnx(graph: Exportable, path: Path, opset: int) -> None:
    names = [i["name"] for i in graph.inputs]
    outputs = [o["name"] for o in graph.outputs]
    from torch.onnx.errors import OnnxExporterError

    # Registered for good (idempotent; it only adds an op): unregistering leaves torch's table
    # an empty entry on which a later export of that op fails with a bare ValueError.
    torch.onnx.register_custom_op_symbolic(_BICUBIC_AA, _bicubic_aa_symbolic, MIN_OPSET)
    try:
        with warnings.catch_warnings():  # "legacy exporter", tracer notes: the choice is deliberate
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph.module,
                graph.examples,
                str(path),
                dynamo=False,  # see the module docstring: the torch.export path needs onnxscript
                input_names=names,
                output_names=outputs,
                dynamic_axes=graph.dynamic,
                opset_version=opset,
                do_constant_folding=True,
            )
    except OnnxExporterError as e:  # an operation this opset cannot express (UnsupportedOperator)
        raise GanforgeError(
            f"the network cannot be written as ONNX opset {opset} "
            f"({' '.join(str(e).split())[:160]})",
            fix=f"try --opset {MAX_OPSET}, or --format torchscript",
        ) from None


def _write_torchscript(graph: Exportable, path: Path) -> None:
    with warnings.catch_warnings():  # the tracer's notes on shape arithmetic (traced, dynamic)
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(graph.module, graph.examples, check_trace=False)
    traced.save(str(path))
