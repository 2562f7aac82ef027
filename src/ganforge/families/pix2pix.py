"""pix2pix (Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks").

G translates a source image A into the target domain B: a U-Net (nets/unet.py; or the ResNet
translator with arch = resnet). D is a PatchGAN (nets/patchgan.py) that judges the pair
(source, image), so it learns what a B *for this A* looks like. The generator minimises

    adversarial(D(G(A), A)) + lambda * |G(A) - B|_1,    lambda = [pix2pix] l1_weight (100)

and D the objective of train.loss (the paper: the original GAN loss, non-saturating for G), halved
"to slow down the rate at which D learns relative to G" (section 3.3). With
[pix2pix] adv_weight = 0 the adversarial term is dropped and D is never trained: the
L1-only baseline that shows what the adversarial term adds.

Batches come from a TranslationDataset (data/paired.py): ``real`` = the targets B, ``y`` = the
sources A. This module also holds what both translation families share (TranslationFamily).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from ganforge import objectives
from ganforge.config import setting
from ganforge.errors import GanforgeError
from ganforge.families.base import Family, Logs, adversarial_d_terms, fake_diversity
from ganforge.nets.layers import TRANSLATION_NORMS, pack_discriminator
from ganforge.nets.patchgan import PatchDiscriminator, check_patch_layers
from ganforge.nets.resnet_translator import ResNetTranslator
from ganforge.nets.unet import UNetGenerator, auto_depth

if TYPE_CHECKING:  # built by the Trainer (training/augment.py); families never import training
    from ganforge.training.augment import Augment

TRANSLATORS = ("unet", "resnet")
DIRECTIONS = ("AtoB", "BtoA")
PREVIEW_SIZE = 64  # sources kept for the sample grids


@dataclass
class TranslationSettings:
    """What the `[pix2pix]` and `[cyclegan]` tables share: the translator and PatchGAN sizes,
    their normalisation, and the weight of the adversarial term."""

    adv_weight: float = setting(
        1.0, "weight of the adversarial term (0: L1/cycle only, D never trained)"
    )
    norm: str = setting(
        "",
        'G and D normalisation: batch | instance | none ("": pix2pix batch, CycleGAN instance)',
        flag="--translation-norm",
    )
    unet_depth: int = setting(0, "U-Net levels (0: halve down to 1x1, the paper's 8 at 256)")
    resnet_blocks: int = setting(6, "ResNet translator blocks (CycleGAN: 6 at 128, 9 at 256)")
    patch_layers: int = setting(3, "PatchGAN stride-2 layers (3: 70x70 patches, the papers')")


@dataclass
class Pix2PixSettings(TranslationSettings):
    """The `[pix2pix]` table."""

    l1_weight: float = setting(100.0, "lambda of pix2pix's L1 term")


# Data sources whose training split is unpaired (pix2pix needs pairs).
_UNPAIRED_SOURCES = ("unpaired", "mnist2thick")


class TranslationFamily(Family):
    """What pix2pix and CycleGAN share: the translator nets, batch checks, previews, translate()."""

    default_arch = "unet"
    default_norm = "batch"
    directions: tuple[str, ...] = ("AtoB",)

    def __init__(self, config):
        super().__init__(config)
        self._preview: torch.Tensor | None = None

    # ---- building -------------------------------------------------------------------------
    @property
    def norm(self) -> str:
        """The normalisation of G and D: the config's, else the paper's."""
        norm = self.settings.norm or self.default_norm
        if norm not in TRANSLATION_NORMS:
            raise GanforgeError(
                f"unknown translation_norm {norm!r} ([{self.name}] norm, --translation-norm)",
                fix=f"use one of {', '.join(TRANSLATION_NORMS)}",
            )
        return norm

    @property
    def arch(self) -> str:
        """unet or resnet; the global default (dcgan) means the paper's choice."""
        arch = self.config.model.arch
        if arch in TRANSLATORS:
            return arch
        if arch == "dcgan":
            return self.default_arch
        raise GanforgeError(
            f"--arch {arch} cannot translate images", fix=f"use --arch {' or '.join(TRANSLATORS)}"
        )

    def check_spec(self) -> tuple[int, int]:
        """(channels, resolution) of the images, with one-line errors for unusable settings."""
        spec, s = self.config.model, self.settings
        shape = spec.sample_shape
        if len(shape) != 3:
            raise GanforgeError(
                f"{self.name} translates images, but the data has samples of shape {list(shape)}",
                self.config.data.source,
                "use --data paired:A_DIR,B_DIR, unpaired:A_DIR,B_DIR or a built-in task "
                "(edges2digits, mnist2thick, grey2colour)",
            )
        if spec.minibatch_std or spec.minibatch_disc:
            raise GanforgeError(
                f"{self.name}'s PatchGAN has no minibatch-std/discrimination option",
                fix="drop --minibatch-std/--minibatch-disc",
            )
        for f in dataclasses.fields(s):  # weights, sizes and counts: never negative
            value = getattr(s, f.name)
            if not isinstance(value, (bool, str)) and value < 0:
                raise GanforgeError(f"[{self.name}] {f.name} must be >= 0, got {value!r}")
        check_patch_layers(min(shape[1:]), s.patch_layers)
        return shape[0], shape[1]

    def translator(self, channels: int, resolution: int) -> nn.Module:
        """One generator A -> B (or B -> A): a U-Net or a ResNet translator."""
        spec, s = self.config.model, self.settings
        if self.arch == "unet":
            depth = s.unet_depth or auto_depth(resolution)
            return UNetGenerator(channels, channels, spec.g_width, depth, self.norm)
        return ResNetTranslator(channels, channels, spec.g_width, s.resnet_blocks, self.norm)

    def patch_discriminator(self, in_channels: int) -> nn.Module:
        """A PatchGAN reading `in_channels` channels (times the PacGAN pack)."""
        spec = self.config.model
        d = PatchDiscriminator(
            in_channels * spec.pack,
            spec.d_width,
            self.settings.patch_layers,
            self.norm,
            spec.spectral_norm,
        )
        return pack_discriminator(d, spec.pack)

    # ---- batches --------------------------------------------------------------------------
    def sources(self, real: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The batch's source images, checked: a translation family needs image pairs."""
        if y is None or not y.is_floating_point() or y.shape[1:] != real.shape[1:]:
            raise GanforgeError(
                f"{self.name} needs source images with each target, but the data gives "
                + ("no conditioning" if y is None else f"y of shape {list(y.shape)}"),
                self.config.data.source,
                "use --data paired:A_DIR,B_DIR (pix2pix), unpaired:A_DIR,B_DIR (CycleGAN) or "
                "a built-in task (edges2digits, mnist2thick, grey2colour)",
            )
        if self._preview is None:  # the first sources seen: what the sample grids translate
            self._preview = y[:PREVIEW_SIZE].detach().clone()
        return y

    def train_discriminator(self, step: int) -> bool:
        """False for the non-adversarial baselines (adv_weight = 0)."""
        return self.settings.adv_weight > 0

    # ---- using G --------------------------------------------------------------------------
    def sample_latent(self, n, device, generator=None):
        """Translation runs take images, not noise."""
        raise GanforgeError(
            f"this is a {self.name} run: it translates images instead of sampling noise",
            fix="use `ganforge translate RUN INPUT -o OUTPUT` or ganforge.apps.translate",
        )

    def check_direction(self, direction: str) -> str:
        """The direction if this family's G can translate that way, else a one-line error."""
        if direction not in DIRECTIONS:
            raise GanforgeError(
                f"unknown direction {direction!r}", fix=f"use {' or '.join(DIRECTIONS)}"
            )
        if direction not in self.directions:
            raise GanforgeError(
                f"a {self.name} run translates {' and '.join(self.directions)} only, "
                f"not {direction}",
                fix="train a cyclegan run to translate both ways",
            )
        return direction

    def translate(self, G: nn.Module, sources: torch.Tensor, direction: str = "AtoB"):
        """G's translation of a batch of source images (the caller picks mode and no_grad)."""
        self.check_direction(direction)
        return G(sources)

    def generate(self, G, n, device, generator=None, labels=None):
        """Translations of `labels` (source images) or, for the sample grids, of the first
        sources seen in training, repeated to n."""
        sources = labels if labels is not None and labels.is_floating_point() else self._preview
        if sources is None:
            raise GanforgeError(
                f"a {self.name} run needs source images to translate",
                fix="use `ganforge translate RUN INPUT -o OUTPUT` or ganforge.apps.translate",
            )
        sources = sources.to(device)
        index = torch.arange(n, device=device) % len(sources)
        return self.translate(G, sources[index], "AtoB")


class _PairAugment:
    """DiffAugment/ADA on the (source, image) pair as one image, so the pair stays aligned.

    Geometric ops move both alike; colour ops see the pair's channels together. Real and fake
    pairs get the same distribution of augmentations, which is what DiffAugment needs.
    """

    def __init__(self, augment: Augment):
        self.augment = augment

    def wrap(self, discriminator):
        """D(x, y) with the pair augmented jointly in front."""

        def augmented(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            both = self.augment(torch.cat([y, x], 1))
            return discriminator(both[:, y.shape[1] :], both[:, : y.shape[1]])

        return augmented

    def observe_real(self, real_logits: torch.Tensor) -> None:
        """Feed ADA's controller."""
        self.augment.observe_real(real_logits)

    def logs(self) -> dict[str, torch.Tensor]:
        """ADA's p."""
        return self.augment.logs()


class Pix2PixFamily(TranslationFamily):
    """Paired translation A -> B: U-Net G, conditional PatchGAN D, adversarial + lambda * L1."""

    name = "pix2pix"

    def build(self) -> tuple[nn.Module, nn.Module]:
        channels, resolution = self.check_spec()
        kind = self.config.data.source.partition(":")[0]
        source = self.config.data.source
        if kind in _UNPAIRED_SOURCES and not (kind == "mnist2thick" and source.endswith(":test")):
            raise GanforgeError(
                "pix2pix needs paired data but this source is unpaired",
                source,
                "train --family cyclegan on it, or use --data paired:A_DIR,B_DIR",
            )
        # D reads the source and the image side by side: twice the channels.
        return self.translator(channels, resolution), self.patch_discriminator(2 * channels)

    def _pair_augment(self) -> _PairAugment | None:
        return _PairAugment(self.augment) if self.augment is not None else None

    def discriminator_loss(self, G, D, real, y, d_step):
        sources = self.sources(real, y)
        with torch.no_grad():
            fake = G(sources)
        loss, logs = adversarial_d_terms(
            self.config, D, real, fake, sources, d_step, self._pair_augment()
        )
        loss = 0.5 * loss  # the paper halves D's objective so D learns slower than G
        logs["d_loss"] = loss.detach()
        return loss, logs

    def generator_loss(self, G, D, real, y, step):
        sources = self.sources(real, y)
        t, s = self.config.train, self.settings
        fake = G(sources)
        l1 = (fake.float() - real.float()).abs().mean()
        loss = s.l1_weight * l1
        logs: Logs = {"l1": l1.detach(), "fake_diversity": fake_diversity(real, fake)}
        if s.adv_weight > 0:
            augment = self._pair_augment()
            judge = augment.wrap(D) if augment is not None else D
            adversarial = objectives.g_loss(t.loss, judge(fake, sources))
            loss = loss + s.adv_weight * adversarial
            logs["g_loss"] = adversarial.detach()
        logs["g_total"] = loss.detach()
        logs.setdefault("g_loss", logs["g_total"])  # the baseline: its whole (L1) loss
        return loss, logs
