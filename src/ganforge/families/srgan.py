"""Super-resolution GANs: SRResNet / SRGAN (Ledig et al. 2017) and the relativistic loss of
ESRGAN (Wang et al. 2018), on the one trainer.

Batches are (HR crop, LR crop) pairs (``data/sr.py``); G maps LR to HR, D judges HR crops.

Two phases, as in the paper, in one run:

Settings: the ``[srgan]`` table (``SRGANSettings``; flags ``--scale``, ``--adv-weight``, ...).

1. Steps ``0 .. pretrain_steps - 1``: the PSNR-oriented model. D is not updated
   (``train_discriminator`` is False) and the generator's loss is the pixel loss alone
   (``pixel_loss``: L1, or MSE as SRResNet-MSE).
2. Later steps: adversarial fine-tuning. D learns with ``train.loss`` (any objective, GP/R1/
   DiffAugment apply) or, with ``relativistic``, the relativistic average loss of ESRGAN;
   G minimises ``pixel_weight * pixel + perceptual_weight * perceptual +
   adv_weight * adversarial``.

A run with ``pretrain_steps >= steps`` is the PSNR model only (presets ``photos-srresnet-*``).

Perceptual term (``perceptual``):

- ``vgg``: L1 distance of VGG19 conv5_4 features (before activation, ESRGAN) of SR and HR, with
  weights the user supplies as a local file (``vgg_weights``: torchvision's vgg19 state dict);
  nothing is downloaded.
- ``dfeat`` (the offline default): L1 distance, per sample, of the discriminator's activations
  after each of its four stride-2 stages on SR and on HR (the feature-matching loss of
  pix2pixHD, Wang et al. 2018, used by SRFeat, Park et al. 2018, for SR). The features are those
  of a network trained on exactly this data, which is the point of VGG's features, without an
  ImageNet download; they are no ImageNet-semantic features, so textures differ from VGG's.
- ``none``: pixel + adversarial only.
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
from ganforge.images import bicubic_resize
from ganforge.nets import srresnet

_PREVIEW = 4  # LR/HR pairs kept for the training sample grids


@dataclass
class SRGANSettings:
    """The `[srgan]` table: the upscaler's size, its two phases and its loss terms."""

    scale: int = setting(4, "upscaling factor: 2, 3, 4 or 8 (--resolution is the HR crop)")
    blocks: int = setting(
        16, "SRResNet residual blocks (--g-width: their channels)", flag="--sr-blocks"
    )
    pretrain_steps: int = setting(0, "first N steps: pixel loss only, D idle (the PSNR model)")
    pixel_loss: str = setting("l1", "pixel loss: l1 | mse")
    pixel_weight: float = setting(1.0, "weight of the pixel loss after pretraining")
    perceptual: str = setting(
        "dfeat", "perceptual term: dfeat (D features, offline) | vgg (needs --vgg-weights) | none"
    )
    perceptual_weight: float = setting(1.0, "weight of the perceptual term")
    vgg_weights: str = setting("", "local torchvision vgg19 weights file for --perceptual vgg")
    adv_weight: float = setting(
        5e-3,
        "weight of the adversarial term (ESRGAN 5e-3, SRGAN 1e-3; pix2pix, cyclegan: 0 = no D)",
    )
    relativistic: bool = setting(False, "relativistic average D and G losses (ESRGAN)")


def pixel_loss(name: str, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """Mean absolute (l1) or squared (mse) error of SR against HR."""
    return F.l1_loss(sr, hr) if name == "l1" else F.mse_loss(sr, hr)


def feature_distance(
    sr_features: list[torch.Tensor], hr_features: list[torch.Tensor]
) -> torch.Tensor:
    """Per-sample L1 distance of feature maps (HR ones are targets), averaged over layers."""
    return torch.stack(
        [
            F.l1_loss(s.float(), h.detach().float())
            for s, h in zip(sr_features, hr_features, strict=True)
        ]
    ).mean()


class SRGANFamily(Family):
    """G(LR) -> SR; D(HR) -> logit. Pixel pretraining, then adversarial fine-tuning."""

    name = "srgan"

    def __init__(self, config):
        super().__init__(config)
        self._vgg: nn.Module | None = None
        self._preview: dict[str, torch.Tensor] = {}
        _validate(config)

    def build(self) -> tuple[nn.Module, nn.Module]:
        s = self.settings
        return srresnet.build(self.config.model, s.scale, s.blocks)

    def train_discriminator(self, step: int) -> bool:
        return step >= self.settings.pretrain_steps

    # ---- losses ------------------------------------------------------------------------------
    def discriminator_loss(self, G, D, real, y, d_step):
        lr = _checked_lr(y)
        with torch.no_grad():
            sr = G(lr)
        if not self.settings.relativistic:
            return adversarial_d_terms(self.config, D, real, sr, None, d_step, self.augment)
        judge = self.augment.wrap(D) if self.augment is not None else D
        real_logits, fake_logits = judge(real), judge(sr)
        if self.augment is not None:
            self.augment.observe_real(real_logits)
        loss = objectives.relativistic_d_loss(real_logits, fake_logits)
        real_d, fake_d = real_logits.detach().float(), fake_logits.detach().float()
        logs: Logs = {
            "d_loss": loss.detach(),
            "d_real": real_d.mean(),
            "d_fake": fake_d.mean(),
            # Relativistic "accuracy": is a real judged more real than the average fake?
            "d_acc_real": (real_d > fake_d.mean()).float().mean(),
            "d_acc_fake": (fake_d < real_d.mean()).float().mean(),
        }
        return loss, logs

    def generator_loss(self, G, D, real, y, step):
        lr = _checked_lr(y)
        t, s = self.config.train, self.settings
        if not self._preview:  # the first batch of the run: fixed pairs for the sample grids
            self._preview = {"hr": real[:_PREVIEW].detach().cpu(), "lr": lr[:_PREVIEW].cpu()}
        if s.perceptual == "vgg" and self._vgg is None:
            # Loaded at step 0 so a bad weights file fails at once, not after pretraining.
            self._vgg = srresnet.VGG19Features(s.vgg_weights).to(real.device)
        sr = G(lr)
        pixel = pixel_loss(s.pixel_loss, sr, real)
        logs: Logs = {"pixel": pixel.detach(), "psnr_rgb": _psnr(sr.detach(), real)}
        if step < s.pretrain_steps:
            logs["g_loss"] = pixel.detach()
            return pixel, logs
        fake_logits, perceptual = self._judge_and_compare(D, sr, real)
        if s.relativistic:
            with torch.no_grad():
                real_logits = (self.augment.wrap(D) if self.augment is not None else D)(real)
            adversarial = objectives.relativistic_g_loss(real_logits, fake_logits)
        else:
            adversarial = objectives.g_loss(t.loss, fake_logits)
        loss = s.pixel_weight * pixel + s.adv_weight * adversarial
        if perceptual is not None:
            loss = loss + s.perceptual_weight * perceptual
            logs["perceptual"] = perceptual.detach()
        logs.update({"g_adv": adversarial.detach(), "g_loss": loss.detach()})
        return loss, logs

    def _judge_and_compare(
        self, D: nn.Module, sr: torch.Tensor, hr: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's logits on SR (augmented when DiffAugment is on) and the perceptual distance."""
        kind = self.settings.perceptual
        perceptual = None
        if kind == "dfeat":
            # The features must come from the plain D (one module, one call for both uses).
            inner = getattr(D, "_orig_mod", D)  # torch.compile wraps the module
            fake_logits, sr_features = inner.features(sr)
            with torch.no_grad():
                _, hr_features = inner.features(hr)
            perceptual = feature_distance(sr_features, hr_features)
            if self.augment is None:
                return fake_logits, perceptual
        elif kind == "vgg":
            with torch.no_grad():
                target = self._vgg(hr)
            perceptual = F.l1_loss(self._vgg(sr), target)
        judge = self.augment.wrap(D) if self.augment is not None else D
        return judge(sr), perceptual

    # ---- samples -----------------------------------------------------------------------------
    def sample_latent(self, n, device, generator=None):
        raise GanforgeError(
            "a super-resolution run upscales images; it does not sample from noise",
            fix="use `ganforge upscale RUN input.png -o output.png`",
        )

    def generate(self, G, n, device, generator=None, labels=None):
        """Training previews: rows of (LR nearest-upscaled, bicubic, model, HR) for fixed pairs."""
        if not self._preview:
            self.sample_latent(n, device)  # raises the one-line explanation
        lr = self._preview["lr"].to(device)
        hr = self._preview["hr"].to(device)
        size = hr.shape[-2:]
        rows = torch.stack(
            [
                F.interpolate(lr, size=size, mode="nearest"),
                bicubic_resize(lr, tuple(size)),
                G(lr).clamp(-1, 1),
                hr,
            ],
            dim=1,
        )
        return rows.flatten(0, 1)[:n]

    @classmethod
    def load_dataset(cls, config):
        """SR trains on full-size images cut into random (HR, LR) crops, not resized squares."""
        from ganforge.data.sr import sr_dataset_for

        return sr_dataset_for(config)

    def state_dict(self) -> dict:
        return dict(self._preview)

    def load_state_dict(self, state: dict) -> None:
        self._preview = {k: v.clone() for k, v in state.items()}


def _checked_lr(y: torch.Tensor | None) -> torch.Tensor:
    if y is None or not torch.is_tensor(y) or y.dim() != 4:
        raise GanforgeError(
            "the srgan family trains on (HR, LR) image pairs, not on a plain image dataset",
            fix="pass dataset=ganforge.data.sr.sr_dataset_for(config) (or no dataset at all)",
        )
    return y


def _psnr(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of [-1, 1] images over all channels (a cheap training signal, not the metric)."""
    mse = (sr.float().clamp(-1, 1) - hr.float()).pow(2).mean().clamp(min=1e-10)
    return 10 * torch.log10(4.0 / mse)


def _validate(config) -> None:
    """Reject impossible SR settings with one clear line each."""
    m, t = config.family_settings("srgan"), config.train
    if m.scale not in srresnet.SCALES:
        raise GanforgeError(
            f"unsupported --scale {m.scale}",
            fix=f"use one of {', '.join(map(str, srresnet.SCALES))}",
        )
    if config.data.resolution % m.scale:
        raise GanforgeError(
            f"the HR crop (--resolution {config.data.resolution}) must be a multiple of "
            f"--scale {m.scale}",
            fix=f"use --resolution {max(m.scale, config.data.resolution // m.scale * m.scale)}",
        )
    if m.blocks < 1:
        raise GanforgeError(f"--sr-blocks must be positive, got {m.blocks}")
    if m.pixel_loss not in ("l1", "mse"):
        raise GanforgeError(f"unknown --pixel-loss {m.pixel_loss!r}", fix="use l1 or mse")
    if m.perceptual not in ("dfeat", "vgg", "none"):
        raise GanforgeError(f"unknown --perceptual {m.perceptual!r}", fix="use dfeat, vgg or none")
    if m.perceptual == "vgg" and not m.vgg_weights:
        raise GanforgeError(
            "--perceptual vgg needs the VGG19 weights as a local file",
            fix="pass --vgg-weights PATH (torchvision's vgg19 .pth), or use --perceptual dfeat",
        )
    if m.relativistic and (t.gp_weight > 0 or t.r1_weight > 0):
        raise GanforgeError(
            "--relativistic is not combined with --gp/--r1 here", fix="drop --gp and --r1"
        )
    if config.eval.every > 0:
        raise GanforgeError(
            "--eval-every (FID during training) does not apply to super-resolution",
            fix="measure with `ganforge eval-sr RUN --data ...` after training",
        )
