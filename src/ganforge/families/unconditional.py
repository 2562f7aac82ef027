"""Unconditional GANs (Vanilla MLP, DCGAN): noise in, sample out, any objective and regulariser."""

from __future__ import annotations

from torch import nn

from ganforge.families.base import Family, generator_adversarial_loss, unconditional_d_loss
from ganforge.nets import get_architecture


class UnconditionalFamily(Family):
    """G(z) -> x, D(x) -> logit; the objective and regularisers come from the config."""

    name = "unconditional"

    def build(self) -> tuple[nn.Module, nn.Module]:
        return get_architecture(self.config.model.arch)(self.config.model)

    def discriminator_loss(self, G, D, real, y, d_step):
        return unconditional_d_loss(self, G, D, real, d_step)

    def generator_loss(self, G, D, real, y, step):
        fake = G(self.sample_latent(real.shape[0], real.device))
        if self.augment is not None:
            D = self.augment.wrap(D)
        loss = generator_adversarial_loss(self.config, D, fake, real)
        return loss, {"g_loss": loss.detach()}
