"""CycleGAN (Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks").

Two generators, G: A -> B and F: B -> A (ResNet translators, nets/resnet_translator.py; or U-Nets
with arch = unet), and two PatchGAN discriminators, D_B judging B images and D_A judging A images.
For the one loop they are two composite modules: ``CycleGenerators`` (one optimiser for both
generators) and ``CycleDiscriminators`` (one for both discriminators), as in the authors' code.

Generator loss (section 3 and 7.1; lambda = [cyclegan] cycle_weight = 10,
identity share = [cyclegan] identity_weight = 0.5):

    adversarial(D_B(G(a))) + adversarial(D_A(F(b)))
    + lambda * (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)                        cycle consistency
    + lambda * share * (|G(b) - b|_1 + |F(a) - a|_1)                      identity

with the least-squares objective (train.loss = lsgan in the presets). Each discriminator's loss is
halved, as in the paper, and sees generated images drawn from a history of the last
[cyclegan] pool_size fakes (Shrivastava et al. 2017): ``ImagePool``. The pools are family state
(checkpointed), and their random choices come from torch's global RNG, which the trainer
checkpoints: a resumed run continues bit for bit. (Under torchrun each rank keeps its own pools
and the checkpoint holds rank 0's, so a multi-process resume gives every rank rank 0's pools.)

Batches come from a TranslationDataset: ``real`` = domain B, ``y`` = domain A (paired or not).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganforge import objectives
from ganforge.config import setting
from ganforge.families.base import Logs, adversarial_d_terms, fake_diversity
from ganforge.families.pix2pix import DIRECTIONS, TranslationFamily, TranslationSettings


@dataclass
class CycleGANSettings(TranslationSettings):
    """The `[cyclegan]` table: the translation settings and the cycle, identity and pool terms."""

    cycle_weight: float = setting(10.0, "lambda of CycleGAN's cycle-consistency terms")
    identity_weight: float = setting(0.5, "CycleGAN identity terms, as a share of cycle_weight")
    pool_size: int = setting(50, "CycleGAN history of generated images shown to D (0: off)")


class CycleGenerators(nn.Module):
    """G (a_to_b) and F (b_to_a); calling the module translates A -> B."""

    def __init__(self, a_to_b: nn.Module, b_to_a: nn.Module):
        super().__init__()
        self.a_to_b, self.b_to_a = a_to_b, b_to_a

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.a_to_b(x)


class CycleDiscriminators(nn.Module):
    """D_A (judges domain A) and D_B (judges domain B); calling the module runs D_B."""

    def __init__(self, d_a: nn.Module, d_b: nn.Module):
        super().__init__()
        self.d_a, self.d_b = d_a, d_b

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.d_b(x)


class ImagePool:
    """A history of generated images (Shrivastava et al. 2017; CycleGAN's buffer of 50).

    Until the pool is full every image is stored and returned as is. Then each image, with
    probability 1/2, is swapped with a uniformly chosen stored one (the stored one is returned,
    the new one takes its place), else returned as is. Images are handled one after another,
    as in the authors' code; the draws come from torch's global (CPU) RNG.
    """

    def __init__(self, size: int):
        self.size = size
        self.images: torch.Tensor | None = None  # (size, C, H, W) once the first batch came
        self.count = 0

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """The batch D should see in place of `images` (detached)."""
        images = images.detach()
        if self.size == 0:
            return images
        if self.images is None:
            self.images = images.new_empty((self.size, *images.shape[1:]))
        elif self.images.device != images.device:
            self.images = self.images.to(images.device)
        n = images.shape[0]
        # One draw each per image, used or not, so the RNG advances the same way every step.
        coins = torch.rand(n).tolist()
        slots = torch.randint(self.size, (n,)).tolist()
        out = images.clone()
        for i in range(n):
            if self.count < self.size:
                self.images[self.count] = images[i]
                self.count += 1
            elif coins[i] > 0.5:
                out[i] = self.images[slots[i]]
                self.images[slots[i]] = images[i]
        return out

    def state_dict(self) -> dict:
        """The stored images (count of them) as a CPU tensor."""
        stored = None if self.images is None else self.images[: self.count].detach().cpu().clone()
        return {"images": stored, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        """Restore what state_dict saved (the buffer moves to the device at the next query)."""
        stored, self.count = state.get("images"), int(state.get("count", 0))
        self.images = None
        if stored is not None:
            self.images = stored.new_empty((self.size, *stored.shape[1:]))
            self.images[: self.count] = stored


class CycleGANFamily(TranslationFamily):
    """Unpaired translation both ways: two ResNet generators, two PatchGANs, cycle + identity."""

    name = "cyclegan"
    default_arch = "resnet"
    default_norm = "instance"
    directions = DIRECTIONS

    def __init__(self, config):
        super().__init__(config)
        size = self.settings.pool_size
        self.pool_a, self.pool_b = ImagePool(size), ImagePool(size)

    def build(self) -> tuple[nn.Module, nn.Module]:
        channels, resolution = self.check_spec()
        G = CycleGenerators(
            self.translator(channels, resolution), self.translator(channels, resolution)
        )
        D = CycleDiscriminators(
            self.patch_discriminator(channels), self.patch_discriminator(channels)
        )
        return G, D

    def translate(self, G: nn.Module, sources: torch.Tensor, direction: str = "AtoB"):
        """A -> B with G, B -> A with F."""
        self.check_direction(direction)
        return G.a_to_b(sources) if direction == "AtoB" else G.b_to_a(sources)

    def discriminator_loss(self, G, D, real, y, d_step):
        real_b, real_a = real, self.sources(real, y)
        with torch.no_grad():
            fake_b, fake_a = G.a_to_b(real_a), G.b_to_a(real_b)
        fake_b, fake_a = self.pool_b.query(fake_b), self.pool_a.query(fake_a)
        loss_b, logs_b = adversarial_d_terms(
            self.config, D.d_b, real_b, fake_b, None, d_step, self.augment
        )
        loss_a, logs_a = adversarial_d_terms(
            self.config, D.d_a, real_a, fake_a, None, d_step, self.augment
        )
        loss = 0.5 * (loss_a + loss_b)  # each D's objective halved, as in the paper
        # The monitor reads one value per signal: the mean over the two discriminators.
        logs: Logs = {k: (v + logs_b[k]) / 2 for k, v in logs_a.items() if k in logs_b}
        logs.update(d_loss=loss.detach(), d_loss_a=loss_a.detach(), d_loss_b=loss_b.detach())
        return loss, logs

    def generator_loss(self, G, D, real, y, step):
        t, s = self.config.train, self.settings
        real_b, real_a = real, self.sources(real, y)
        fake_b, fake_a = G.a_to_b(real_a), G.b_to_a(real_b)
        cycle = _l1(G.b_to_a(fake_b), real_a) + _l1(G.a_to_b(fake_a), real_b)
        loss = s.cycle_weight * cycle
        logs: Logs = {"cycle": cycle.detach(), "fake_diversity": fake_diversity(real_b, fake_b)}
        if s.identity_weight > 0:
            identity = _l1(G.a_to_b(real_b), real_b) + _l1(G.b_to_a(real_a), real_a)
            loss = loss + s.cycle_weight * s.identity_weight * identity
            logs["identity"] = identity.detach()
        if s.adv_weight > 0:
            d_a, d_b = D.d_a, D.d_b
            if self.augment is not None:  # D only ever sees augmented images, in both steps
                d_a, d_b = self.augment.wrap(d_a), self.augment.wrap(d_b)
            adversarial = objectives.g_loss(t.loss, d_b(fake_b)) + objectives.g_loss(
                t.loss, d_a(fake_a)
            )
            loss = loss + s.adv_weight * adversarial
            logs["g_loss"] = adversarial.detach()
        logs["g_total"] = loss.detach()
        logs.setdefault("g_loss", logs["g_total"])  # no adversarial term: the whole loss
        return loss, logs

    def state_dict(self) -> dict:
        """Both image pools."""
        return {"pool_a": self.pool_a.state_dict(), "pool_b": self.pool_b.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore both image pools."""
        if "pool_a" in state:
            self.pool_a.load_state_dict(state["pool_a"])
            self.pool_b.load_state_dict(state["pool_b"])


def _l1(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error in at least float32 (autocast may hand in bfloat16)."""
    return (x.float() - target.float()).abs().mean()
