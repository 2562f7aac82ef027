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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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


def label_checker(
    classifier: str | Callable[[torch.Tensor], torch.Tensor],
    class_names: Sequence[str],
    device: str = "cpu",
) -> LabelChecker:
    """A LabelChecker from ``mnist`` (the shipped digit classifier), a torch.export ``.pt2`` file
    or any callable images -> logits (its outputs in the run's class order)."""
    k = len(class_names)
    if callable(classifier) and not isinstance(classifier, str):
        return LabelChecker(classifier, range(k), getattr(classifier, "name", "classifier"))
    if classifier == "mnist":
        unknown = [name for name in class_names if name not in DIGITS]
        if unknown:
            raise GanforgeError(
                f"the mnist classifier knows the digits 0-9, not class {unknown[0]!r}",
                fix="name a classifier for these classes with --classifier FILE.pt2",
            )
        from ganforge.metrics.features import get_extractor

        net = get_extractor("mnist", device=device)
        return LabelChecker(net, [DIGITS.index(name) for name in class_names], "mnist")
    path = Path(classifier)
    if path.suffix != ".pt2":
        raise GanforgeError(
            f"unknown classifier {classifier!r}",
            fix="use mnist or a torch.export file (.pt2) mapping images in [-1, 1] to logits",
        )
    if not path.is_file():
        raise GanforgeError("classifier file not found", str(path))
    try:
        program = torch.export.load(path)
    except Exception as e:  # whatever makes the file unreadable, the user's fix is the same
        raise GanforgeError(
            f"cannot load the classifier ({type(e).__name__})",
            str(path),
            "save it with "
            "torch.export.save(torch.export.export(model, (example,), dynamic_shapes=...), path)",
        ) from None
    return LabelChecker(program.module().to(device), range(k), str(path))


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
    checker = label_checker(classifier, names, device) if filter else None
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
    agrees, _ = label_checker(classifier, names, device).check(images, labels)
    per = {names[c]: float(agrees[labels == c].float().mean()) for c in range(len(names))}
    return {"accuracy": float(agrees.float().mean()), "per_class": per, "n": len(labels)}
