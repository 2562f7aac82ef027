"""Class-conditional GANs (Mirza & Osindero 2014) for the MLP and DCGAN architectures.

G(z, y) makes a sample of class y. The discriminator conditions by projection (Miyato & Koyama
2018: D(x, y) scores the pair) or by an auxiliary classifier (AC-GAN, Odena et al. 2017: D(x)
scores realism and a second head predicts the class), chosen by ``[conditional] conditioning``.

Labels come with each batch (the dataset's ``y``). Both the discriminator's fakes and the
generator's fakes are drawn for the labels of the batch in hand rather than uniformly, so the
model trains on the class frequencies of the data and every real/fake pair a projection
discriminator compares shares its labels.

AC-GAN terms: the discriminator adds ``ac_weight`` x cross-entropy of its classifier on *real*
images only; the generator adds ``ac_weight`` x cross-entropy of that classifier on its fakes
for their intended labels. Training the classifier on fakes too (Odena's original) rewards the
generator for any easily classified image, realistic or not; StudioGAN's AC-GAN also classifies
real images only in the discriminator step.

Mode seeking (``[conditional] mode_seeking`` > 0, MSGAN, Mao et al. 2019): the generator step draws its
batch as two halves with the same labels and adds the weight x ``mode_seeking_loss``. Without it
the MNIST presets learned one image per digit and ignored the noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganforge import objectives
from ganforge.config import setting
from ganforge.errors import GanforgeError
from ganforge.families.base import Family, Logs, adversarial_d_terms
from ganforge.nets import conditional as conditional_nets


@dataclass
class ConditionalSettings:
    """The `[conditional]` table: how the labels enter G and D."""

    conditioning: str = setting(
        "projection", "D conditioning: projection (Miyato & Koyama 2018) | acgan (Odena 2017)"
    )
    g_conditioning: str = setting(
        "embed", "G conditioning: embed (label embedding + noise) | cbn (conditional BatchNorm)"
    )
    embed_dim: int = setting(32, "size of G's label embedding (g_conditioning embed)")
    ac_weight: float = setting(1.0, "AC-GAN: weight of the auxiliary classifier's cross-entropy")
    mode_seeking: float = setting(0.0, "weight of MSGAN's diversity term (Mao 2019); 0: off")


class _ClassLogitRecorder:
    """Calls an AC-GAN discriminator like a plain one and keeps the class logits of each call.

    This lets the shared ``adversarial_d_terms`` (losses, GP, R1) run unchanged while the
    auxiliary classifier reuses the same forward pass on the real batch (call 0).
    """

    def __init__(self, discriminator: nn.Module):
        self.discriminator = discriminator
        self.class_logits: list[torch.Tensor] = []

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        logits, class_logits = self.discriminator.forward_with_classes(x)
        self.class_logits.append(class_logits)
        return logits


def mode_seeking_loss(fake: torch.Tensor, z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """MSGAN's term (Mao et al. 2019, eq. 3, as in their code): 1 / (d_I / d_z + eps), where
    d_I = mean |G(z1, y) - G(z2, y)| and d_z = mean |z1 - z2| over the two halves of the batch.

    A conditional generator can satisfy D with one image per label and ignore its noise; this
    term grows as two noises with the same labels give the same images. Both halves of the batch
    must carry the same labels.
    """
    half = fake.shape[0] // 2
    image_distance = (fake[:half] - fake[half : 2 * half]).abs().float().mean()
    noise_distance = (z[:half] - z[half : 2 * half]).abs().float().mean()
    return 1.0 / (image_distance / noise_distance + eps)


class ConditionalFamily(Family):
    """G(z, y) -> x; D(x, y) -> logit (projection) or D(x) -> (logit, class logits) (AC-GAN)."""

    name = "conditional"
    conditional = True

    @property
    def num_classes(self) -> int:
        """How many classes the data has (filled in from the dataset)."""
        return self.config.model.num_classes

    @property
    def acgan(self) -> bool:
        """True when the discriminator conditions through an auxiliary classifier."""
        return self.settings.conditioning == "acgan"

    def build(self) -> tuple[nn.Module, nn.Module]:
        if self.num_classes < 2:
            raise GanforgeError(
                "the conditional family needs labelled data with at least 2 classes",
                self.config.data.source,
                "use mnist, digits, ring, grid, or folder:PATH with one subfolder per class",
            )
        s = self.settings
        return conditional_nets.build(
            self.config.model, s.conditioning, s.g_conditioning, s.embed_dim
        )

    def discriminator_loss(self, G, D, real, y, d_step):
        z = self.sample_latent(real.shape[0], real.device)
        with torch.no_grad():
            fake = G(z, y)
        if not self.acgan:
            return adversarial_d_terms(self.config, D, real, fake, y, d_step, self.augment)
        recorder = _ClassLogitRecorder(D)
        loss, logs = adversarial_d_terms(
            self.config, recorder, real, fake, None, d_step, self.augment
        )
        class_logits = recorder.class_logits[0].float()  # call 0 is the real batch
        ac_loss = F.cross_entropy(class_logits, y)
        logs["d_ac_loss"] = ac_loss.detach()
        logs["d_ac_acc_real"] = (class_logits.detach().argmax(1) == y).float().mean()
        return loss + self.settings.ac_weight * ac_loss, logs

    def generator_loss(self, G, D, real, y, step):
        weight = self.settings.mode_seeking
        real_y = y
        if weight > 0:  # two fakes per label, to compare (see mode_seeking_loss)
            half = real.shape[0] // 2
            y = torch.cat([y[:half], y[:half]])
        z = self.sample_latent(y.shape[0], real.device)
        fake = G(z, y)
        logs: Logs = {}
        extra = torch.zeros((), device=real.device)
        if weight > 0:
            ms = mode_seeking_loss(fake, z)
            extra, logs["g_ms_loss"] = weight * ms, ms.detach()
        loss_name = self.config.train.loss
        if self.augment is not None:  # D only ever sees augmented images, in both steps
            fake = self.augment(fake)
        real_logits = None
        if loss_name in objectives.PAIRED_LOSSES:  # relativistic-pair: fake i against real i
            n = fake.shape[0]
            with torch.no_grad():
                seen = self.augment(real[:n]) if self.augment is not None else real[:n]
                real_logits = D.forward_with_classes(seen)[0] if self.acgan else D(seen, real_y[:n])
        if not self.acgan:
            loss = objectives.g_loss(loss_name, D(fake, y), real_logits)
            logs["g_loss"] = loss.detach()
            return loss + extra, logs
        logits, class_logits = D.forward_with_classes(fake)
        adversarial = objectives.g_loss(loss_name, logits, real_logits)
        ac_loss = F.cross_entropy(class_logits.float(), y)
        logs.update({"g_loss": adversarial.detach(), "g_ac_loss": ac_loss.detach()})
        return adversarial + self.settings.ac_weight * ac_loss + extra, logs

    def generate(self, G, n, device, generator=None, labels=None):
        """n samples of the given labels, or of uniformly drawn labels when labels is None."""
        z = self.sample_latent(n, device, generator)
        if labels is None:
            labels = torch.randint(self.num_classes, (n,), device=device, generator=generator)
        return G(z, labels.to(device))
