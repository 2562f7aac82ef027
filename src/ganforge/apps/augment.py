"""`ganforge augment`: a labelled synthetic dataset from a conditional run, optionally filtered.

Layout (that of a class-folder dataset, which `--data folder:DIR` and most image-classification
pipelines read): ``DIR/<class name>/<index>.png`` plus ``DIR/labels.csv`` with the columns
``path`` (relative to DIR), ``label`` (the run's class index) and ``class`` (its name).

The filter asks a classifier whether each sample shows its intended class: a sample is kept when
the classifier's top class is the intended one and its softmax probability is at least
``threshold``. Rejected samples are replaced by fresh draws until every class has ``per_class``
samples or ``max_draws`` x ``per_class`` draws were spent on it; the report counts both.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ganforge.errors import GanforgeError
from ganforge.images import save_png_dir
from ganforge.sampling import TrainedGenerator, load_generator

DIGITS = [str(i) for i in range(10)]


class LabelChecker:
    """Asks a classifier whether images show their intended class (the run's class indices)."""

    def __init__(
        self,
        net: Callable[[torch.Tensor], torch.Tensor],
        columns: Sequence[int],
        name: str,
        batch_size: int = 500,
    ):
        self.net, self.name, self.batch_size = net, name, batch_size
        self.columns = torch.as_tensor(list(columns), dtype=torch.long)

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Softmax over the classifier's own classes, (N, its classes)."""
        out = []
        for start in range(0, len(images), self.batch_size):
            logits = self.net(images[start : start + self.batch_size])
            if isinstance(logits, (tuple, list)):  # (features, logits) extractors
                logits = logits[-1]
            out.append(logits.float().softmax(1).cpu())
        probs = torch.cat(out)
        if probs.shape[1] <= int(self.columns.max()):
            raise GanforgeError(
                f"the classifier gives {probs.shape[1]} class scores, the run has "
                f"{len(self.columns)} classes",
                self.name,
                "name a classifier over the run's classes, in the run's class order",
            )
        return probs

    def check(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(agrees, confidence): top class == intended class, and the intended class's probability."""
        probs = self.probabilities(images)
        wanted = self.columns[labels.cpu()]
        confidence = probs.gather(1, wanted[:, None])[:, 0]
        return probs.argmax(1) == wanted, confidence


# Formats a classifier file must not come in: loading any of them can run code planted in it
# (torch.export / TorchScript archives and torch pickles unpickle arbitrary objects).
_CODE_FORMATS = {
    ".pt2": "a torch.export archive",
    ".pt": "a torch file",
    ".pth": "a torch file",
    ".ckpt": "a torch checkpoint",
    ".bin": "a torch file",
    ".jit": "a TorchScript archive",
    ".ts": "a TorchScript archive",
    ".torchscript": "a TorchScript archive",
    ".pkl": "a pickle",
    ".pickle": "a pickle",
    ".joblib": "a joblib pickle",
}
ONNX_EXPORT = (
    "torch.onnx.export(model, (torch.zeros(1, C, H, W),), 'clf.onnx', dynamo=False, "
    "input_names=['images'], dynamic_axes={'images': {0: 'batch'}})"
)


def label_checker(
    classifier: str | Callable[[torch.Tensor], torch.Tensor],
    class_names: Sequence[str],
    device: str = "cpu",
    image_shape: Sequence[int] | None = None,
) -> LabelChecker:
    """A LabelChecker from ``mnist`` (the shipped digit classifier), an ONNX file (run with
    onnxruntime: a format that holds no code) or any callable images -> logits (its outputs in
    the run's class order). ``image_shape`` (C, H, W): the run's images, checked against the
    ONNX model's input."""
    k = len(class_names)
    if callable(classifier) and not isinstance(classifier, str):
        return LabelChecker(classifier, range(k), getattr(classifier, "name", "classifier"))
    if classifier == "mnist":
        unknown = [name for name in class_names if name not in DIGITS]
        if unknown:
            raise GanforgeError(
                f"the mnist classifier knows the digits 0-9, not class {unknown[0]!r}",
                fix="name a classifier for these classes with --classifier FILE.onnx",
            )
        from ganforge.metrics.features import get_extractor

        net = get_extractor("mnist", device=device)
        return LabelChecker(net, [DIGITS.index(name) for name in class_names], "mnist")
    path = Path(classifier)
    suffix = path.suffix.lower()
    if suffix in _CODE_FORMATS:
        raise GanforgeError(
            f"{_CODE_FORMATS[suffix]} ({suffix}) can run code planted in it, so ganforge will "
            "not load it as a classifier",
            str(path),
            f"export the classifier to ONNX: {ONNX_EXPORT}, then --classifier clf.onnx",
        )
    if suffix != ".onnx":
        raise GanforgeError(
            f"unknown classifier {classifier!r}",
            fix="use mnist or an ONNX file (.onnx) mapping images in [-1, 1] to logits",
        )
    if not path.is_file():
        raise GanforgeError("classifier file not found", str(path))
    net = OnnxClassifier(path, k, image_shape)
    return LabelChecker(net, range(k), str(path))


class OnnxClassifier:
    """An ONNX classifier run with onnxruntime on the CPU: images (N, C, H, W) -> logits (N, K).

    ONNX is a protobuf graph of standard operators: loading it runs no Python, unlike .pt2,
    TorchScript and pickles. A model exported with a fixed batch size is fed that many images at
    a time (the last batch padded).
    """

    def __init__(self, path: Path, num_classes: int, image_shape: Sequence[int] | None = None):
        try:
            import onnxruntime
        except ImportError:
            raise GanforgeError(
                "an ONNX classifier needs onnxruntime, which is not installed",
                str(path),
                "pip install onnxruntime",
            ) from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, torch.get_num_threads())
        options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # the load boundary: any file onnxruntime cannot read
            # onnxruntime's "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from ..."
            code = re.search(r"\] : \d+ : (\w+)", str(e))
            raise GanforgeError(
                f"not an ONNX classifier (onnxruntime: {code.group(1) if code else type(e).__name__})",
                str(path),
                f"export it with {ONNX_EXPORT}",
            ) from None
        self.name = str(path)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        fix = f"export a classifier of the run's images to its {num_classes} classes"
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].type != "tensor(float)":
            found = ", ".join(f"{i.type} {i.shape}" for i in inputs)
            raise GanforgeError(
                f"the ONNX classifier takes {found}, not one float image batch (N, C, H, W)",
                str(path),
                fix,
            )
        self.input = inputs[0].name
        batch, *chw = inputs[0].shape
        if image_shape is not None and len(image_shape) == 3:
            want = [int(d) for d in image_shape]
            if any(isinstance(d, int) and d != w for d, w in zip(chw, want, strict=True)):
                raise GanforgeError(
                    f"the ONNX classifier takes images of shape {chw}, the run makes {want}",
                    str(path),
                    fix,
                )
        self.batch = batch if isinstance(batch, int) and batch > 0 else None
        out_shape = outputs[-1].shape  # (features, logits) models: the logits come last
        if len(out_shape) != 2:
            raise GanforgeError(
                f"the ONNX classifier's output has shape {out_shape}, not logits (N, classes)",
                str(path),
                fix,
            )
        if isinstance(out_shape[1], int) and out_shape[1] != num_classes:
            raise GanforgeError(
                f"the ONNX classifier gives {out_shape[1]} class scores, the run has "
                f"{num_classes} classes",
                str(path),
                "export a classifier over the run's classes, in the run's class order",
            )

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.detach().float().cpu().contiguous().numpy()
        if self.batch is None:
            return torch.from_numpy(self.session.run(None, {self.input: x})[-1])
        out = []
        for start in range(0, len(x), self.batch):
            chunk = x[start : start + self.batch]
            n = len(chunk)
            if n < self.batch:  # a fixed-batch model: pad the last chunk
                pad = np.zeros((self.batch - n, *chunk.shape[1:]), chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            out.append(self.session.run(None, {self.input: chunk})[-1][:n])
        return torch.from_numpy(np.concatenate(out))


@dataclass
class ClassCount:
    """What the export did for one class."""

    name: str
    label: int
    kept: int = 0
    rejected: int = 0

    @property
    def drawn(self) -> int:
        """Samples generated for this class."""
        return self.kept + self.rejected


@dataclass
class ExportReport:
    """Where the dataset went and how many samples each class kept and lost to the filter."""

    out: Path
    csv: Path
    per_class: int
    classes: list[ClassCount] = field(default_factory=list)
    classifier: str | None = None  # None: not filtered
    threshold: float = 0.0

    @property
    def total(self) -> int:
        """Images written."""
        return sum(c.kept for c in self.classes)

    @property
    def short_classes(self) -> list[ClassCount]:
        """Classes the filter kept fewer than `per_class` images of (it gave up on them)."""
        return [c for c in self.classes if c.kept < self.per_class]

    def failure(self) -> GanforgeError | None:
        """The error a filtered export that fell short ends with (None when every class is
        full): an unbalanced or near-empty dataset must not look like a success."""
        short = self.short_classes
        if not short:
            return None
        names = ", ".join(f"{c.name} ({c.kept})" for c in short[:10])
        more = f" and {len(short) - 10} more" if len(short) > 10 else ""
        return GanforgeError(
            f"the filter kept fewer than {self.per_class} images for {len(short)} of "
            f"{len(self.classes)} classes: {names}{more}; the dataset is incomplete",
            str(self.out),
            "the classifier does not recognise the generator's samples as their class: train "
            "longer, or lower --threshold (the images kept are in the folder, listed in labels.csv)",
            exit_code=1,
        )

    def lines(self) -> list[str]:
        """A human-readable summary, one line per class when filtered."""
        lines = [
            f"ganforge: wrote {self.total} images ({len(self.classes)} classes) to {self.out}, "
            f"labels in {self.csv}"
        ]
        if self.classifier is None:
            return lines
        lines.append(
            f"filter     {self.classifier} classifier, top class = intended and confidence >= "
            f"{self.threshold:g}"
        )
        width = max(len(c.name) for c in self.classes)
        for c in self.classes:
            share = 100 * c.rejected / max(c.drawn, 1)
            short = "" if c.kept >= self.per_class else f" of {self.per_class} (gave up)"
            lines.append(
                f"class {c.name:<{width}}  kept {c.kept}{short}  rejected {c.rejected} "
                f"({share:.1f}%)"
            )
        return lines


def _prepare_output(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GanforgeError(
            "the output folder is not empty", str(out), "choose a new --out or empty it"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GanforgeError(f"cannot create the output folder ({e.strerror})", str(out)) from None


def export_dataset(
    run: str | Path | TrainedGenerator,
    out: str | Path,
    per_class: int = 1000,
    classes: Sequence[str | int] | None = None,
    filter: bool = False,
    classifier: str | Callable[[torch.Tensor], torch.Tensor] = "mnist",
    threshold: float = 0.9,
    seed: int = 0,
    truncation: float | None = None,
    device: str = "cpu",
    batch_size: int = 500,
    max_draws: int = 10,
) -> ExportReport:
    """Write ``per_class`` samples of each class (or of ``classes``) as DIR/<class>/<index>.png
    plus DIR/labels.csv; with ``filter``, only samples ``classifier`` assigns to their class."""
    model = run if isinstance(run, TrainedGenerator) else load_generator(run, device)
    if not model.family.conditional:
        raise GanforgeError(
            "this run is unconditional: augment needs class labels",
            str(model.source),
            "train with --family conditional (e.g. --preset mnist-cgan)",
        )
    if len(model.config.model.sample_shape) != 3:
        raise GanforgeError(
            "augment writes images, but this run makes vectors",
            str(model.source),
            "use ganforge sample --class C --format npy for vector data",
        )
    if per_class <= 0:
        raise GanforgeError(f"--per-class must be positive, got {per_class}")
    if filter and not 0.0 <= threshold <= 1.0:
        raise GanforgeError(f"--threshold must be in [0, 1], got {threshold}")
    indices = (
        [model.class_index(c) for c in classes]
        if classes
        else list(range(model.config.model.num_classes))
    )
    names = model.class_names or [str(i) for i in range(model.config.model.num_classes)]
    shape = model.config.model.sample_shape
    checker = label_checker(classifier, names, device, shape) if filter else None
    out = Path(out)
    _prepare_output(out)

    device_of_model = next(model.module.parameters()).device
    g = torch.Generator(device_of_model).manual_seed(seed)
    report = ExportReport(out, out / "labels.csv", per_class)
    if checker is not None:
        report.classifier, report.threshold = checker.name, threshold
    rows: list[tuple[str, int, str]] = []
    for label in dict.fromkeys(indices):  # each class once, in the order asked
        count = ClassCount(names[label], label)
        folder = out / names[label]
        while count.kept < per_class and count.drawn < max_draws * per_class:
            missing = per_class - count.kept
            # Ask for a little more than is missing when filtering, so one batch usually does.
            want = missing if checker is None else math.ceil(missing * 1.1) + 8
            m = min(batch_size, want, max_draws * per_class - count.drawn)
            labels = torch.full((m,), label, dtype=torch.long)
            images = model.sample(m, labels=labels, truncation=truncation, generator=g)
            keep = torch.ones(m, dtype=torch.bool)
            if checker is not None:
                agrees, confidence = checker.check(images, labels)
                keep = agrees & (confidence >= threshold)
            kept = images[keep][:missing]
            count.rejected += int((~keep).sum())
            paths = save_png_dir(kept, folder, start=count.kept)
            rows += [(p.relative_to(out).as_posix(), label, names[label]) for p in paths]
            count.kept += len(kept)
        report.classes.append(count)
    with open(report.csv, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "class"])
        writer.writerows(rows)
    return report


def conditional_accuracy(
    run: str | Path | TrainedGenerator,
    per_class: int = 1000,
    classifier: str | Callable[[torch.Tensor], torch.Tensor] = "mnist",
    seed: int = 0,
    device: str = "cpu",
) -> dict:
    """Share of class-c samples the classifier assigns to c: overall and per class name."""
    model = run if isinstance(run, TrainedGenerator) else load_generator(run, device)
    names = model.class_names or [str(i) for i in range(model.config.model.num_classes)]
    labels, _ = model.class_labels(per_class=per_class)
    images = model.sample(len(labels), seed, labels)
    checker = label_checker(classifier, names, device, model.config.model.sample_shape)
    agrees, _ = checker.check(images, labels)
    per = {names[c]: float(agrees[labels == c].float().mean()) for c in range(len(names))}
    return {"accuracy": float(agrees.float().mean()), "per_class": per, "n": len(labels)}
