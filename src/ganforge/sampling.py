"""Using a trained generator: load it from a run or file, draw samples, write them out
(`write_samples`: a grid image, a .npy array or a folder of PNGs)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganforge.config import Config
from ganforge.errors import GanforgeError
from ganforge.families import Family, make_family
from ganforge.training.checkpoint import (
    GENERATOR_FORMAT,
    check_weights,
    load_file,
    load_weights,
    model_file,
    rebuild,
)


@dataclass
class TrainedGenerator:
    """A generator rebuilt from its config, in eval mode, with the family that knows its inputs."""

    config: Config
    family: Family
    module: nn.Module
    step: int
    source: Path
    # The discriminator's weights where the source has them (a checkpoint, a pretrained folder
    # saved with them): what fine-tuning (`train --init-from-pretrained`) starts D from.
    discriminator_weights: dict[str, torch.Tensor] | None = None

    @property
    def class_names(self) -> list[str]:
        """Names of the classes a conditional run was trained on (empty otherwise)."""
        return list(self.config.model.class_names)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        seed: int | None = 0,
        labels: torch.Tensor | None = None,
        truncation: float | None = None,
        batch_size: int = 500,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """n samples on the CPU (images in [-1, 1]); same seed, same samples.

        Conditional runs take ``labels`` (class indices; default: cycling through the classes).
        A ``generator`` (on the model's device) replaces ``seed``, for drawing batch after batch.
        """
        if n <= 0:
            raise GanforgeError(f"-n must be positive, got {n}")
        if labels is not None and not self.family.conditional:
            raise GanforgeError(
                "this run is unconditional: it cannot sample by class", str(self.source)
            )
        if self.family.conditional:
            labels = self._checked_labels(n, labels)
        device = next(self.module.parameters()).device
        g = generator
        if g is None:
            g = torch.Generator(device)
            if seed is None:
                g.seed()
            else:
                g.manual_seed(seed)
        out = []
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            z = self.family.sample_latent(m, device, g)
            if truncation is not None:
                z = truncate(z, truncation, g)
            y = None if labels is None else labels[start : start + m].to(device)
            out.append(self.module(z) if y is None else self.module(z, y))
        return torch.cat(out).float().cpu()

    @torch.no_grad()
    def walk(
        self,
        seed_a: int,
        seed_b: int,
        steps: int = 8,
        label: int | None = None,
        truncation: float | None = None,
    ) -> torch.Tensor:
        """A latent walk: ``steps`` samples from seed_a's latent to seed_b's along the sphere
        (slerp: every point keeps a Gaussian latent's norm), one class for a conditional run."""
        if steps < 2:
            raise GanforgeError(f"a walk needs at least 2 steps, got {steps}")
        device = next(self.module.parameters()).device
        ends = []
        for seed in (seed_a, seed_b):
            g = torch.Generator(device).manual_seed(int(seed))
            z = self.family.sample_latent(1, device, g)
            ends.append(z if truncation is None else truncate(z, truncation, g))
        a, b = ends
        omega = torch.acos((a / a.norm() * b / b.norm()).sum().clamp(-1 + 1e-7, 1 - 1e-7))
        t = torch.linspace(0, 1, steps, device=device)[:, None]
        z = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)
        if not self.family.conditional:
            if label is not None:
                self.class_index(label)  # the one-line "unconditional" error
            return self.module(z).float().cpu()
        y = self._checked_labels(steps, torch.full((steps,), int(label or 0)))
        return self.module(z, y.to(device)).float().cpu()

    def _checked_labels(self, n: int, labels: torch.Tensor | None) -> torch.Tensor:
        """Labels for n conditional samples: as given (checked), else cycling through the classes."""
        k = self.config.model.num_classes
        if labels is None:
            return torch.arange(n) % k
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
        if labels.numel() != n:
            raise ValueError(f"{labels.numel()} labels for {n} samples")
        if labels.numel() and (labels.min() < 0 or labels.max() >= k):
            bad = int(labels[(labels < 0) | (labels >= k)][0])
            raise GanforgeError(
                f"class {bad} is out of range ({k} classes)",
                str(self.source),
                f"use an index from 0 to {k - 1} or a class name ({self._names_hint()})",
            )
        return labels

    def _names_hint(self) -> str:
        names = self.class_names
        shown = ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
        return f"classes: {shown}"

    def class_index(self, spec: str | int) -> int:
        """The label of a class named by its name (first) or by its index; a one-line error else."""
        if not self.family.conditional:
            raise GanforgeError(
                "this run is unconditional: it cannot sample by class",
                str(self.source),
                "train with --family conditional (e.g. --preset mnist-cgan)",
            )
        k, names = self.config.model.num_classes, self.class_names
        if isinstance(spec, str) and spec in names:
            return names.index(spec)
        try:
            index = int(spec)
        except (TypeError, ValueError):
            raise GanforgeError(
                f"class {spec!r} is not in this run", str(self.source), self._names_hint()
            ) from None
        if not 0 <= index < k:
            raise GanforgeError(
                f"class {index} is out of range ({k} classes)",
                str(self.source),
                f"use an index from 0 to {k - 1} or a class name ({self._names_hint()})",
            )
        return index

    def class_labels(
        self,
        classes: Sequence[str | int] | None = None,
        per_class: int | None = None,
        n: int = 64,
    ) -> tuple[torch.Tensor | None, list[str] | None]:
        """Labels to sample and the names of the grid's rows.

        ``per_class``: that many of each class (all, or those in ``classes``), grouped by class,
        with one row name per class. Otherwise ``n`` labels cycling through ``classes`` (no row
        names), or (None, None) when neither is given.
        """
        if classes is None and per_class is None:
            return None, None
        if per_class is not None and per_class <= 0:
            raise GanforgeError(f"--per-class must be positive, got {per_class}")
        if not self.family.conditional:
            raise GanforgeError(
                "this run is unconditional: it cannot sample by class",
                str(self.source),
                "train with --family conditional (e.g. --preset mnist-cgan)",
            )
        if classes:
            indices = [self.class_index(c) for c in classes]
        else:
            indices = list(range(self.config.model.num_classes))
        chosen = torch.tensor(indices, dtype=torch.long)
        if per_class is None:
            return chosen[torch.arange(n) % len(indices)], None
        names = self.class_names or [str(i) for i in range(self.config.model.num_classes)]
        return chosen.repeat_interleave(per_class), [names[i] for i in indices]

    def save_pretrained(
        self,
        folder: str | Path,
        *,
        discriminator: bool = True,
        meta: dict | None = None,
        readme: str | None = None,
    ) -> Path:
        """Write the generator (and, when known and ``discriminator``, D) as a pretrained folder:
        config.json + model.safetensors, no pickle (see ganforge.pretrained); ``meta``: more
        config.json entries (description, quality, trained_by)."""
        from ganforge.pretrained import prefixed, save_folder

        tensors = prefixed("generator", self.module.state_dict())
        if discriminator and self.discriminator_weights:
            tensors.update(prefixed("discriminator", self.discriminator_weights))
        model = self.config.model
        info = {
            "family": model.family,
            "config": self.config.to_dict(),
            "class_names": list(model.class_names),
            "num_classes": model.num_classes,
            "sample_shape": list(model.sample_shape),
            "latent_dim": model.latent_dim,
            "value_range": [-1.0, 1.0],
            "step": self.step,
            "state": None,
            **(meta or {}),
        }
        return save_folder(folder, "generator", info, tensors, readme)

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str = "cpu") -> TrainedGenerator:
        """A generator from a pretrained folder (or, as load_generator, a run or file)."""
        return load_generator(folder, device)

    def sampler(self, seed: int = 0):
        """A callable sample(batch_size) -> images, deterministic for a seed (for evaluation).

        Conditional generators get labels cycling through every class.
        """
        device = next(self.module.parameters()).device
        g = torch.Generator(device).manual_seed(seed)
        k = self.config.model.num_classes if self.family.conditional else 0
        drawn = 0

        @torch.no_grad()
        def sample(batch_size: int) -> torch.Tensor:
            nonlocal drawn
            labels = None
            if k:
                labels = torch.arange(drawn, drawn + batch_size, device=device) % k
            drawn += batch_size
            return self.family.generate(self.module, batch_size, device, g, labels)

        return sample


def generate(
    run: str | Path | TrainedGenerator,
    labels: int | str | Sequence[int | str] | torch.Tensor,
    seed: int | None = 0,
    truncation: float | None = None,
    device: str = "cpu",
) -> torch.Tensor:
    """One sample per label from a conditional run: (N, C, H, W) images in [-1, 1] (or vectors).

    ``labels`` are class indices or class names (a single one gives one sample); same seed,
    same samples.
    """
    model = run if isinstance(run, TrainedGenerator) else load_generator(run, device)
    if isinstance(labels, torch.Tensor):
        indices = labels.reshape(-1).long()
    else:
        items = [labels] if isinstance(labels, (int, str)) else list(labels)
        indices = torch.tensor([model.class_index(c) for c in items], dtype=torch.long)
    if not model.family.conditional:
        model.class_index(0)  # raises the one-line "unconditional" error
    return model.sample(len(indices), seed, indices, truncation)


def check_truncation(threshold: float | None) -> float | None:
    """The truncation threshold when it is usable (a finite number > 0, or None for none)."""
    if threshold is None:
        return None
    if not math.isfinite(threshold) or threshold <= 0:
        raise GanforgeError(
            f"--truncation must be a finite number > 0, got {threshold}",
            fix="use e.g. --truncation 0.7, or leave it out for no truncation",
        )
    return float(threshold)


def check_count(n: int, flag: str = "-n") -> int:
    """A sample count when it is a positive integer; a one-line error else."""
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise GanforgeError(
            f"{flag} must be a positive integer, got {n}", fix=f"use e.g. {flag} 64"
        )
    return n


def truncate(z: torch.Tensor, threshold: float, generator: torch.Generator) -> torch.Tensor:
    """The truncation trick (Brock 2019): redraw latent entries with |z| > threshold."""
    check_truncation(threshold)
    z = z.clone()
    for _ in range(100):
        outside = z.abs() > threshold
        if not outside.any():
            break
        z[outside] = torch.randn(int(outside.sum()), device=z.device, generator=generator)
    return z.clamp_(-threshold, threshold)


def load_generator(run_or_file: str | Path, device: str = "cpu") -> TrainedGenerator:
    """Rebuild the (EMA) generator from a run directory, generator.pt, a training checkpoint or
    a pretrained folder (config.json + model.safetensors: see ganforge.pretrained)."""
    from ganforge.pretrained import is_pretrained_folder

    if is_pretrained_folder(run_or_file):
        return _load_pretrained(Path(run_or_file), device)
    path = model_file(run_or_file)
    state = load_file(path)
    config = Config.from_dict(state["config"], str(path))
    family = rebuild(lambda: make_family(config), path, "a ganforge model")
    module, _ = rebuild(family.build, path, "a ganforge model")
    if state["format"] == GENERATOR_FORMAT:
        weights = state["state_dict"]
    elif isinstance(state.get("ema"), dict) and "module" in state["ema"]:
        weights = check_weights(state["ema"]["module"], path, "its EMA generator")
    else:
        weights = state["generator"]
    load_weights(module, weights, path)
    module.to(device).eval().requires_grad_(False)
    critic = state.get("discriminator") if state["format"] != GENERATOR_FORMAT else None
    step = int(state.get("step", 0))
    return TrainedGenerator(config, family, module, step, path, critic)


def load_family_generator(
    run: str | Path | TrainedGenerator, device: str, family: type[Family], kind: str, fix: str
) -> TrainedGenerator:
    """``run``'s generator (loaded by ``load_generator`` unless it is one already) when it is a
    run of ``family``; another family's run is one line: "this is a X run, not ``kind``"."""
    if isinstance(run, TrainedGenerator):
        if isinstance(run.family, family):
            return run
        run = run.source  # reloaded: the one-line error below names its file
    model = load_generator(run, device)
    if not isinstance(model.family, family):
        raise GanforgeError(
            f"this is a {model.config.model.family} run, not {kind}", str(model.source), fix
        )
    return model


def _load_pretrained(folder: Path, device: str) -> TrainedGenerator:
    """A generator from a pretrained folder: config, kind and every tensor checked first."""
    from ganforge.pretrained import CONFIG_FILE, check_fits, load_folder, part

    meta, tensors = load_folder(folder, ("generator",))
    config = Config.from_dict(meta["config"], str(folder / CONFIG_FILE))
    family = rebuild(lambda: make_family(config), folder, "a ganforge model")
    module, critic = rebuild(family.build, folder, "a ganforge model")
    unknown = [k for k in tensors if not k.startswith(("generator.", "discriminator."))]
    if unknown:
        raise GanforgeError(
            f"unexpected tensor {unknown[0]!r} in the model folder (not a generator's)",
            str(folder),
            "the folder was altered: copy it again or save it again",
        )
    weights = part(tensors, "generator")
    check_fits(weights, module.state_dict(), folder, "the generator")
    critic_weights = part(tensors, "discriminator") or None
    if critic_weights is not None:
        check_fits(critic_weights, critic.state_dict(), folder, "the discriminator")
    module.load_state_dict(weights)
    module.to(device).eval().requires_grad_(False)
    step = meta.get("step", 0)
    step = step if isinstance(step, int) and not isinstance(step, bool) else 0
    return TrainedGenerator(config, family, module, step, folder, critic_weights)


# ---- writing samples ---------------------------------------------------------------------------
SAMPLE_FORMATS = ("grid", "npy", "png-dir")
_PLOT_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")  # matplotlib, for 2-D samples
_SAMPLE_FILE = re.compile(r"[0-9]{6}\.png")  # what save_png_dir writes


def sample_format(output: str | Path, fmt: str | None = None) -> str:
    """The format asked for, else the one ``output`` implies: .npy -> npy, another suffix ->
    grid, no suffix -> png-dir."""
    if fmt is not None:
        if fmt not in SAMPLE_FORMATS:
            raise GanforgeError(
                f"unknown sample format {fmt!r}", fix=f"use one of {', '.join(SAMPLE_FORMATS)}"
            )
        return fmt
    suffix = Path(output).suffix.lower()
    return "npy" if suffix == ".npy" else "grid" if suffix else "png-dir"


def check_sample_output(
    output: str | Path, fmt: str | None = None, *, vectors: bool = False, overwrite: bool = False
) -> tuple[Path, str]:
    """(path, format) once ``output`` is known to fit the format and to be writable, before any
    sampling; a one-line error else. ``vectors``: the samples are 2-D points, not images.

    ``npy`` writes exactly ``output``, which must end in .npy; ``grid`` writes an image (a
    scatter plot for points) named by its suffix; ``png-dir`` writes 000000.png, 000001.png ...
    into a new or empty folder, or, with ``overwrite``, into a folder of earlier samples (which
    are replaced; a folder holding any other file is refused, so nothing else is deleted).
    """
    from ganforge.images import IMAGE_SUFFIXES, check_image_suffix
    from ganforge.io_checks import check_writable

    out = Path(output).expanduser()
    fmt = sample_format(out, fmt)
    suffix = out.suffix.lower()
    if fmt == "npy" and suffix != ".npy":
        raise GanforgeError(
            f"--format npy writes a NumPy array, but -o {out.name} does not end in .npy",
            str(out),
            f"use -o {out.with_suffix('.npy').name}, or --format grid for an image",
        )
    if fmt == "grid" and vectors and suffix not in _PLOT_SUFFIXES:
        raise GanforgeError(
            f"these samples are 2-D points, drawn as a scatter plot, but -o {out.name} names "
            "no plot format",
            str(out),
            f"end it in one of {' '.join(_PLOT_SUFFIXES)}, or use .npy for the points",
        )
    if fmt == "grid" and not vectors:
        check_image_suffix(out)
    if fmt == "png-dir":
        if vectors:
            raise GanforgeError(
                "--format png-dir needs image samples; these are 2-D points",
                str(out),
                "use --format npy, or -o plot.png for a scatter plot",
            )
        if suffix in (*IMAGE_SUFFIXES, ".npy"):
            raise GanforgeError(
                f"--format png-dir writes a folder of PNGs, but -o {out.name} names a file",
                str(out),
                f"use -o {out.with_suffix('').name} (a folder), or leave out --format",
            )
        check_writable(out, folder=True, what="sample folder")
        _check_sample_folder(out, overwrite)
    else:
        check_writable(out, what="sample file")
    return out, fmt


def _check_sample_folder(folder: Path, overwrite: bool) -> None:
    """A png-dir target must be new or empty, or hold only earlier samples with --overwrite."""
    if not folder.is_dir():
        return
    entries = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    if not entries:
        return
    if not overwrite:
        raise GanforgeError(
            f"the folder already holds {len(entries)} file(s) ({entries[0]}, ...): new samples "
            "would mix with them",
            str(folder),
            "choose a new or empty folder, or pass --overwrite to replace earlier samples",
        )
    others = [
        name for name in entries if not (_SAMPLE_FILE.fullmatch(name) and (folder / name).is_file())
    ]
    if others:
        raise GanforgeError(
            f"--overwrite replaces only earlier samples (NNNNNN.png), but the folder also holds "
            f"{len(others)} other file(s) ({', '.join(others[:3])})",
            str(folder),
            "choose a new or empty folder",
        )


def write_samples(
    samples: torch.Tensor,
    output: str | Path,
    fmt: str | None = None,
    *,
    nrow: int | None = None,
    row_labels: list[str] | None = None,
    overwrite: bool = False,
) -> tuple[Path, str]:
    """Write samples ((N, C, H, W) images in [-1, 1], or (N, 2) points) as a grid image or
    scatter plot, a .npy array, or a folder of PNGs (see check_sample_output); returns
    (path written, format)."""
    from ganforge.images import save_grid, save_png_dir, save_scatter

    if not bool(torch.isfinite(samples).all()):
        raise GanforgeError(
            "the generator produced NaN or infinite values (its weights are broken)",
            fix="sample from an earlier checkpoint, or retrain",
        )
    vectors = samples.dim() == 2
    out, fmt = check_sample_output(output, fmt, vectors=vectors, overwrite=overwrite)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "npy":
            with open(out, "wb") as f:  # np.save on a path would append .npy to other names
                np.save(f, samples.numpy())
        elif fmt == "png-dir":
            written = {p.name for p in save_png_dir(samples, out)}
            for old in out.iterdir():  # earlier samples beyond the new count (--overwrite)
                if _SAMPLE_FILE.fullmatch(old.name) and old.name not in written:
                    old.unlink()
        elif vectors:
            save_scatter(samples, out)
        else:
            save_grid(samples, out, nrow, row_labels)
    except OSError as e:
        raise GanforgeError(f"cannot write the samples ({e.strerror or e})", str(out)) from None
    return out, fmt


def sample_command(
    run: str | Path,
    output: str | Path,
    n: int = 64,
    *,
    fmt: str | None = None,
    overwrite: bool = False,
    seed: int = 0,
    truncation: float | None = None,
    device: str = "cpu",
    classes: list[str] | None = None,
    per_class: int | None = None,
) -> str:
    """`ganforge sample`: check every flag, draw, write; the line that says what was written."""
    truncation = check_truncation(truncation)
    if per_class is None:
        check_count(n)
    model = load_generator(run, device)
    vectors = len(model.config.model.sample_shape) == 1
    check_sample_output(output, fmt, vectors=vectors, overwrite=overwrite)
    labels, row_names = model.class_labels(classes, per_class, n)
    n = n if labels is None else len(labels)
    samples = model.sample(n, seed=seed, labels=labels, truncation=truncation)
    out, written = write_samples(
        samples, output, fmt, nrow=per_class, row_labels=row_names, overwrite=overwrite
    )
    kind = "scatter plot" if vectors and written == "grid" else written  # 2-D points: no grid
    return f"ganforge: wrote {n} samples to {out} ({kind}, step {model.step})"
