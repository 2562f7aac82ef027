"""The seam that keeps ONE training loop for every model: a family builds its networks and
turns a batch into discriminator and generator losses (as stylegan2-ada's loss object does)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ganforge import objectives
from ganforge.config import Config

if TYPE_CHECKING:  # built by the Trainer (training/augment.py); families never import training
    from ganforge.training.augment import Augment

Logs = dict[str, torch.Tensor]


class Family:
    """Base class: subclasses implement build, discriminator_loss and generator_loss.

    Losses and logs stay on the device (no .item()): the trainer reads them at log intervals.
    """

    name = "base"
    conditional = False  # True when sampling needs labels
    g_step_batch = True  # False: the G step uses no real batch (the trainer draws none)
    # DiffAugment/ADA in front of every D call: the Trainer sets it from the config (None: off)
    # and checkpoints its state (ADA's p); a family applies it to each D input it makes.
    augment: Augment | None = None

    def __init__(self, config: Config):
        self.config = config

    @property
    def settings(self):
        """This family's own settings: the config's `[name]` table (see config.family_settings)."""
        return self.config.family_settings(self.name)

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


def adversarial_d_terms(
    config,
    D: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    y: torch.Tensor | None,
    d_step: int,
    augment: Augment | None = None,
) -> tuple[torch.Tensor, Logs]:
    """The objective's D loss plus the configured regularisers (WGAN-GP, R1, R2); shared by the
    image families.

    With `augment` (DiffAugment/ADA), every D input here, real, fake and the regularisers',
    goes through it; ADA's p is fed D's logits on the (augmented) real batch.
    """
    t = config.train
    diversity = fake_diversity(real, fake)
    if augment is not None:
        D = augment.wrap(D)
    # R1 (real) and R2 (fake) share the loss's pass through D (as R3GAN's trainer does): the
    # inputs require grad and the penalty is the gradient of those same logits. Lazy: every
    # r1_every D steps, scaled by it, so the expected penalty is unchanged (Karras 2020).
    lazy_step = d_step % t.r1_every == 0
    penalise_real, penalise_fake = t.r1_weight > 0 and lazy_step, t.r2_weight > 0 and lazy_step
    if penalise_real:
        real = real.detach().requires_grad_(True)
    if penalise_fake:
        fake = fake.detach().requires_grad_(True)
    real_logits = D(real) if y is None else D(real, y)
    fake_logits = D(fake) if y is None else D(fake, y)
    if augment is not None:
        augment.observe_real(real_logits)
    loss = objectives.d_loss(t.loss, real_logits, fake_logits)
    logs: Logs = {
        "d_loss": loss.detach(),
        "d_real": real_logits.detach().float().mean(),
        "d_fake": fake_logits.detach().float().mean(),
        "d_acc_real": (real_logits.detach() > 0).float().mean(),
        "d_acc_fake": (fake_logits.detach() < 0).float().mean(),
        "fake_diversity": diversity,
    }
    if augment is not None:
        logs.update(augment.logs())
    if t.gp_weight > 0:
        gp = objectives.gradient_penalty(D, real, fake, y)
        loss = loss + t.gp_weight * gp
        logs["gp"] = gp.detach()
    if penalise_real:
        r1 = objectives.zero_centred_penalty(real_logits, real)
        loss = loss + (t.r1_weight / 2) * t.r1_every * r1
        logs["r1"] = r1.detach()
    if penalise_fake:
        r2 = objectives.zero_centred_penalty(fake_logits, fake)
        loss = loss + (t.r2_weight / 2) * t.r1_every * r2
        logs["r2"] = r2.detach()
    return loss, logs


def unconditional_d_loss(
    family: Family, G: nn.Module, D: nn.Module, real: torch.Tensor, d_step: int
) -> tuple[torch.Tensor, Logs]:
    """D loss of `real` against G(z) fakes made without gradients, through `family.augment`."""
    z = family.sample_latent(real.shape[0], real.device)
    with torch.no_grad():
        fake = G(z)
    return adversarial_d_terms(family.config, D, real, fake, None, d_step, family.augment)


def generator_adversarial_loss(
    config, D, fake: torch.Tensor, real: torch.Tensor, y: torch.Tensor | None = None
) -> torch.Tensor:
    """The objective's G loss on D(fake); a paired loss (relativistic-pair) also scores the real
    batch, without gradients (real logits do not depend on G). `D` is already augmented."""
    name = config.train.loss
    fake_logits = D(fake) if y is None else D(fake, y)
    real_logits = None
    if name in objectives.PAIRED_LOSSES:
        with torch.no_grad():
            real_logits = D(real) if y is None else D(real, y)
    return objectives.g_loss(name, fake_logits, real_logits)


def fake_diversity(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Mean per-feature std of the fakes over the batch, relative to the reals' (~0: collapse)."""
    real_std = real.detach().flatten(1).float().std(0, correction=0).mean()
    fake_std = fake.detach().flatten(1).float().std(0, correction=0).mean()
    return fake_std / real_std.clamp(min=1e-8)
