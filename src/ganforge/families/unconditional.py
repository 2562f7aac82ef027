"""Unconditional GANs (Vanilla MLP, DCGAN): noise in, sample out, any objective and regulariser."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from ganforge import objectives
from ganforge.families.base import Family, Logs
from ganforge.nets import get_architecture

if TYPE_CHECKING:  # built by the Trainer (training/augment.py); families never import training
    from ganforge.training.augment import Augment


def adversarial_d_terms(
    config,
    D: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    y: torch.Tensor | None,
    d_step: int,
    augment: Augment | None = None,
) -> tuple[torch.Tensor, Logs]:
    """The objective's D loss plus the configured regularisers; shared by the image families.

    With `augment` (DiffAugment/ADA), every D input here, real, fake and the regularisers',
    goes through it; ADA's p is fed D's logits on the (augmented) real batch.
    """
    t = config.train
    diversity = fake_diversity(real, fake)
    if augment is not None:
        D = augment.wrap(D)
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
    if t.r1_weight > 0 and d_step % t.r1_every == 0:
        # Lazy R1 (Karras 2020): every k steps, scaled by k, so the expected penalty is unchanged.
        r1 = objectives.r1_penalty(D, real, y)
        loss = loss + (t.r1_weight / 2) * t.r1_every * r1
        logs["r1"] = r1.detach()
    return loss, logs


def unconditional_d_loss(
    family: Family, G: nn.Module, D: nn.Module, real: torch.Tensor, d_step: int
) -> tuple[torch.Tensor, Logs]:
    """D loss of `real` against G(z) fakes made without gradients, through `family.augment`."""
    z = family.sample_latent(real.shape[0], real.device)
    with torch.no_grad():
        fake = G(z)
    return adversarial_d_terms(family.config, D, real, fake, None, d_step, family.augment)


def fake_diversity(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Mean per-feature std of the fakes over the batch, relative to the reals' (~0: collapse)."""
    real_std = real.detach().flatten(1).float().std(0, correction=0).mean()
    fake_std = fake.detach().flatten(1).float().std(0, correction=0).mean()
    return fake_std / real_std.clamp(min=1e-8)


class UnconditionalFamily(Family):
    """G(z) -> x, D(x) -> logit; the objective and regularisers come from the config."""

    name = "unconditional"

    def __init__(self, config):
        super().__init__(config)
        # DiffAugment/ADA in front of every D call: the Trainer sets it from the config (None:
        # off) and checkpoints its state (ADA's p).
        self.augment: Augment | None = None

    def build(self) -> tuple[nn.Module, nn.Module]:
        return get_architecture(self.config.model.arch)(self.config.model)

    def discriminator_loss(self, G, D, real, y, d_step):
        return unconditional_d_loss(self, G, D, real, d_step)

    def generator_loss(self, G, D, real, y, step):
        fake = G(self.sample_latent(real.shape[0], real.device))
        if self.augment is not None:
            D = self.augment.wrap(D)
        loss = objectives.g_loss(self.config.train.loss, D(fake))
        return loss, {"g_loss": loss.detach()}
