"""GANomaly (Akcay, Atapour-Abarghouei & Breckon 2018): anomaly detection by adversarial training.

G is an encoder-decoder-encoder: z = G_E(x), x' = G_D(z), z' = E(x') (nets/encoders.py). It is
trained on normal data only with

    L_G = w_adv * L_adv + w_con * L_con + w_enc * L_enc
    L_adv = mean (f(x) - f(x'))^2   f = D's penultimate features, x and x' paired (as in the
                                    authors' code; the paper writes the batch expectation)
    L_con = mean |x - x'|           (L1 reconstruction, "contextual" loss)
    L_enc = mean (z - z')^2         (latent loss)

with the paper's weights 1, 50, 1 (the ``[ganomaly]`` table: adv_weight, reconstruction_weight,
latent_weight); D learns to tell x from x' with the configured objective
(default non-saturating = binary cross-entropy, as in the paper).

Anomaly score (what `ganforge anomaly score` reports): A(x) = mean_k |z_k - z'_k|, the L1
distance between the two codes divided by latent_dim, computed with every network in eval mode
(BatchNorm uses its running statistics, never the test batch's). The paper's Eq. 7 uses the
unnormalised L1 norm; dividing by latent_dim changes no ranking. The authors' code additionally
min-max rescales the scores of each test set, which makes a score depend on the other inputs
scored with it: ganforge does not, so one input always gets the same score.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganforge.config import setting
from ganforge.families.base import Family, Logs, adversarial_d_terms
from ganforge.nets.encoders import build_ganomaly, discriminator_features


@dataclass
class GANomalySettings:
    """The `[ganomaly]` table: the weights of the generator's three terms (paper: 1, 50, 1)."""

    adv_weight: float = setting(1.0, "weight of the adversarial (D-feature) term w_adv")
    reconstruction_weight: float = setting(50.0, "weight of the L1 reconstruction term w_con")
    latent_weight: float = setting(1.0, "weight of the L2 latent (encoder) term w_enc")


class GANomalyFamily(Family):
    """Encoder-decoder-encoder G, discriminator D; scores by the latent distance |z - z'|."""

    name = "ganomaly"

    def build(self) -> tuple[nn.Module, nn.Module]:
        return build_ganomaly(self.config.model)

    def discriminator_loss(self, G, D, real, y, d_step):
        with torch.no_grad():
            fake = G.reconstruct(real)[0]
        return adversarial_d_terms(self.config, D, real, fake, None, d_step, self.augment)

    def generator_loss(self, G, D, real, y, step):
        s = self.settings
        fake, z, z_rec = G.reconstruct(real)
        adv = (discriminator_features(D, fake) - discriminator_features(D, real).detach()).pow(2)
        adv = adv.mean()
        con = (real - fake).abs().mean()
        enc = (z - z_rec).pow(2).mean()
        loss = s.adv_weight * adv + s.reconstruction_weight * con + s.latent_weight * enc
        logs: Logs = {
            "g_loss": loss.detach(),
            "g_adv": adv.detach(),
            "g_con": con.detach(),
            "g_enc": enc.detach(),
        }
        return loss, logs

    def anomaly_score(
        self, G: nn.Module, D: nn.Module, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(scores (N,), reconstructions like x): mean |G_E(x) - E(G(x))| over the latent."""
        fake, z, z_rec = G.reconstruct(x)
        return (z - z_rec).abs().flatten(1).mean(1), fake
