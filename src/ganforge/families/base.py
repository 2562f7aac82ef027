"""The seam that keeps ONE training loop for every model: a family builds its networks and
turns a batch into discriminator and generator losses (as stylegan2-ada's loss object does)."""

from __future__ import annotations

import torch
from torch import nn

from ganforge.config import Config

Logs = dict[str, torch.Tensor]


class Family:
    """Base class: subclasses implement build, discriminator_loss and generator_loss.

    Losses and logs stay on the device (no .item()): the trainer reads them at log intervals.
    """

    name = "base"
    conditional = False  # True when sampling needs labels
    g_step_batch = True  # False: the G step uses no real batch (the trainer draws none)

    def __init__(self, config: Config):
        self.config = config

    def build(self) -> tuple[nn.Module, nn.Module]:
        """(generator, discriminator) for this family's config."""
        raise NotImplementedError

    @classmethod
    def load_dataset(cls, config: Config):
        """The training data for this family (default: load_dataset on config.data)."""
        from ganforge.data import load_dataset

        d = config.data
        return load_dataset(d.source, d.resolution, d.channels, d.limit)

    def train_discriminator(self, step: int) -> bool:
        """Whether the discriminator is updated at this generator step (False: G-only phase)."""
        return True

    def state_dict(self) -> dict:
        """Training state the family keeps itself (e.g. CycleGAN's image pool); checkpointed."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what state_dict returned."""

    def sample_latent(
        self, n: int, device: torch.device, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Standard normal noise (n, latent_dim)."""
        return torch.randn(n, self.config.model.latent_dim, device=device, generator=generator)

    def discriminator_loss(
        self, G: nn.Module, D: nn.Module, real: torch.Tensor, y: torch.Tensor | None, d_step: int
    ) -> tuple[torch.Tensor, Logs]:
        """Loss of one discriminator update and its logs; `d_step` counts D updates (lazy regs)."""
        raise NotImplementedError

    def generator_loss(
        self, G: nn.Module, D: nn.Module, real: torch.Tensor, y: torch.Tensor | None, step: int
    ) -> tuple[torch.Tensor, Logs]:
        """Loss of one generator update and its logs."""
        raise NotImplementedError

    def generate(
        self,
        G: nn.Module,
        n: int,
        device: torch.device,
        generator: torch.Generator | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """n samples from G (the caller chooses train/eval mode and no_grad)."""
        return G(self.sample_latent(n, device, generator))
