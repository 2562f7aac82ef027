"""Using a trained generator: load it from a run or file, draw samples, write them out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ganforge.config import Config
from ganforge.errors import GanforgeError
from ganforge.families import Family, make_family
from ganforge.training.checkpoint import GENERATOR_FORMAT, load_file, model_file


@dataclass
class TrainedGenerator:
    """A generator rebuilt from its config, in eval mode, with the family that knows its inputs."""

    config: Config
    family: Family
    module: nn.Module
    step: int
    source: Path

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
    ) -> torch.Tensor:
        """n samples on the CPU (images in [-1, 1]); same seed, same samples."""
        if n <= 0:
            raise GanforgeError(f"-n must be positive, got {n}")
        if labels is not None and not self.family.conditional:
            raise GanforgeError(
                "this run is unconditional: it cannot sample by class", str(self.source)
            )
        device = next(self.module.parameters()).device
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


def truncate(z: torch.Tensor, threshold: float, generator: torch.Generator) -> torch.Tensor:
    """The truncation trick (Brock 2019): redraw latent entries with |z| > threshold."""
    if threshold <= 0:
        raise GanforgeError(f"--truncation must be positive, got {threshold}")
    z = z.clone()
    for _ in range(100):
        outside = z.abs() > threshold
        if not outside.any():
            break
        z[outside] = torch.randn(int(outside.sum()), device=z.device, generator=generator)
    return z.clamp_(-threshold, threshold)


def load_generator(run_or_file: str | Path, device: str = "cpu") -> TrainedGenerator:
    """Rebuild the (EMA) generator from a run directory, generator.pt or a training checkpoint."""
    path = model_file(run_or_file)
    state = load_file(path)
    config = Config.from_dict(state["config"], str(path))
    family = make_family(config)
    module, _ = family.build()
    if state["format"] == GENERATOR_FORMAT:
        weights = state["state_dict"]
    else:
        weights = state["ema"]["module"] if state.get("ema") else state["generator"]
    try:
        module.load_state_dict(weights)
    except RuntimeError as e:
        raise GanforgeError(
            f"weights do not fit the saved config ({str(e).splitlines()[0]})", str(path)
        ) from None
    module.to(device).eval().requires_grad_(False)
    return TrainedGenerator(config, family, module, int(state.get("step", 0)), path)
