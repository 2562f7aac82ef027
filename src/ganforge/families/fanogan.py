"""f-AnoGAN (Schlegl, Seeboeck, Waldstein, Langs & Schmidt-Erfurth 2019): a WGAN, then an encoder.

Two phases on the ONE training loop, switched by the step:

1. steps < `gan_steps` (the ``[fanogan]`` table): a WGAN (the configured objective and penalty; the presets
   use WGAN-GP) of G(z) against the critic D, on normal data only.
2. later steps: G and D frozen (eval mode, no gradients) and D not updated
   (`train_discriminator` returns False); the encoder E learns to invert G with the izi_f loss
   of the paper (Eq. 5): for x real,

       L_izi_f(x) = 1/n ||x - G(E(x))||^2  +  kappa * 1/n_d ||f(x) - f(G(E(x)))||^2

   where n is the number of pixels (values), f is D's penultimate feature layer with n_d values,
   and kappa = `[fanogan] kappa` (paper: 1).

Anomaly score (what `ganforge anomaly score` reports): the same izi_f quantity per input,
A(x) = A_R(x) + kappa * A_D(x) (the paper's Eq. 6-7), every network in eval mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganforge import objectives
from ganforge.config import setting
from ganforge.errors import GanforgeError
from ganforge.families.base import Family, Logs, unconditional_d_loss
from ganforge.nets.encoders import build_fanogan, discriminator_features


@dataclass
class FAnoGANSettings:
    """The `[fanogan]` table: where the WGAN phase ends, and the feature weight of izi_f."""

    gan_steps: int = setting(0, "WGAN steps before the encoder-only phase (0 < gan_steps < steps)")
    kappa: float = setting(1.0, "weight of the D-feature residual in izi_f and the score")


def izi_f(
    G: nn.Module, D: nn.Module, x: torch.Tensor, kappa: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(izi_f per sample, pixel residual per sample, feature residual per sample, G(E(x)))."""
    rec = G.reconstruct(x)
    residual = (x - rec).pow(2).flatten(1).mean(1)
    feature = (discriminator_features(D, x) - discriminator_features(D, rec)).pow(2).mean(1)
    return residual + kappa * feature, residual, feature, rec


class FAnoGANFamily(Family):
    """WGAN phase, then an encoder-only phase; scores by izi_f."""

    name = "fanogan"

    def __init__(self, config):
        super().__init__(config)
        gan_steps, steps = self.settings.gan_steps, config.train.steps
        if not 0 < gan_steps < steps:
            raise GanforgeError(
                f"f-AnoGAN needs 0 < gan_steps < steps ([fanogan] gan_steps, formerly "
                f"fanogan_gan_steps; got {gan_steps} and {steps})",
                fix="set --gan-steps below --steps: the WGAN trains first, then the encoder",
            )

    def build(self) -> tuple[nn.Module, nn.Module]:
        return build_fanogan(self.config.model)

    def encoder_phase(self, step: int) -> bool:
        """True once the WGAN is done and only the encoder trains."""
        return step >= self.settings.gan_steps

    def train_discriminator(self, step: int) -> bool:
        return not self.encoder_phase(step)

    def discriminator_loss(self, G, D, real, y, d_step):
        return unconditional_d_loss(self, G, D, real, d_step)

    def generator_loss(self, G, D, real, y, step):
        if not self.encoder_phase(step):  # the WGAN phase: as an unconditional GAN
            fake = G(self.sample_latent(real.shape[0], real.device))
            if self.augment is not None:  # D sees augmented images in both steps
                D = self.augment.wrap(D)
            loss = objectives.g_loss(self.config.train.loss, D(fake))
            return loss, {"g_loss": loss.detach()}
        # Frozen and in eval mode every step: the trainer's sampling switches G back to train
        # mode, and BatchNorm must use G's running statistics, as at scoring time.
        G.generator.requires_grad_(False).eval()
        D.eval()
        loss, residual, feature, _ = izi_f(G, D, real, self.settings.kappa)
        loss = loss.mean()
        logs: Logs = {
            "g_loss": loss.detach(),
            "enc_residual": residual.detach().mean(),
            "enc_feature": feature.detach().mean(),
        }
        return loss, logs

    def anomaly_score(
        self, G: nn.Module, D: nn.Module, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(izi_f scores (N,), reconstructions G(E(x)))."""
        score, _, _, rec = izi_f(G, D, x, self.settings.kappa)
        return score, rec
