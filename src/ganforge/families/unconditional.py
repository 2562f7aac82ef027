"""Unconditional GANs (Vanilla MLP, DCGAN): noise in, sample out, any objective and regulariser."""

from __future__ import annotations

import torch
from torch import nn

from ganforge import objectives
from ganforge.families.base import Family, Logs
from ganforge.nets import get_architecture


def adversarial_d_terms(
    config,
    D: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    y: torch.Tensor | None,
    d_step: int,
) -> tuple[torch.Tensor, Logs]:
    """The objective's D loss plus the configured regularisers; shared by the image families."""
    t = config.train
    real_logits = D(real) if y is None else D(real, y)
    fake_logits = D(fake) if y is None else D(fake, y)
    loss = objectives.d_loss(t.loss, real_logits, fake_logits)
    logs: Logs = {
        "d_loss": loss.detach(),
        "d_real": real_logits.detach().float().mean(),
        "d_fake": fake_logits.detach().float().mean(),
        "d_acc_real": (real_logits.detach() > 0).float().mean(),
        "d_acc_fake": (fake_logits.detach() < 0).float().mean(),
    }
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


class UnconditionalFamily(Family):
    """G(z) -> x, D(x) -> logit; the objective and regularisers come from the config."""

    name = "unconditional"

    def build(self) -> tuple[nn.Module, nn.Module]:
        return get_architecture(self.config.model.arch)(self.config.model)

    def discriminator_loss(self, G, D, real, y, d_step):
        z = self.sample_latent(real.shape[0], real.device)
        with torch.no_grad():
            fake = G(z)
        return adversarial_d_terms(self.config, D, real, fake, None, d_step)

    def generator_loss(self, G, D, real, y, step):
        fake = G(self.sample_latent(real.shape[0], real.device))
        loss = objectives.g_loss(self.config.train.loss, D(fake))
        return loss, {"g_loss": loss.detach()}
