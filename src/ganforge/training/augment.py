"""DiffAugment (Zhao et al. 2020) and the adaptive strength of ADA (Karras et al. 2020).

Every image the discriminator sees, real or fake, in the D step and in the G step, passes through
the same differentiable augmentation, so D never learns the augmentations as a feature of "real"
and gradients reach G through them. All ops are batched and run on the images' device.

Sizes: translation shifts by up to `shift` of the image side (DiffAugment: 1/8), cutout blanks a
square of `cutout` of the side (1/2). Both are settings (`augment_shift`, `augment_cutout`)
because the paper's sizes suit 32x32 photos, not every image: on 28x28 MNIST, whose digits sit
in a 20x20 box with a 4-pixel margin, a 2-pixel shift (1/16) helps where the 4-pixel one
hurts (README, data efficiency).

Strength p: each op is applied to each sample independently with probability p (ADA's scheme;
DiffAugment's own setting is p = 1, every op on every sample). At p = 0 the images come back
unchanged. With `ada_target` > 0, p starts at 0 and follows ADA's heuristic instead.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError

Strength = float | torch.Tensor
Discriminator = Callable[..., torch.Tensor]

# DiffAugment's sizes: translate by up to 1/8 of the image, cut out a square of half its side.
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def _apply(x: torch.Tensor, augmented: torch.Tensor, p: Strength) -> torch.Tensor:
    """Per sample, the augmented image with probability p, else the input (exactly)."""
    if isinstance(p, (int, float)) and p >= 1:
        return augmented
    chosen = torch.rand(x.shape[0], device=x.device) < p
    return torch.where(chosen.view(-1, *([1] * (x.dim() - 1))), augmented, x)


def _uniform(x: torch.Tensor) -> torch.Tensor:
    """One U[0, 1) number per sample, shaped to broadcast over (C, H, W)."""
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)


def brightness(x: torch.Tensor, p: Strength = 1.0) -> torch.Tensor:
    """Add U[-0.5, 0.5) to every pixel of a sample (DiffAugment's rand_brightness)."""
    return _apply(x, x + (_uniform(x) - 0.5), p)


def saturation(x: torch.Tensor, p: Strength = 1.0) -> torch.Tensor:
    """Scale each pixel's distance to its channel mean by U[0, 2) (identity for grey images)."""
    mean = x.mean(dim=1, keepdim=True)
    return _apply(x, (x - mean) * (_uniform(x) * 2) + mean, p)


def contrast(x: torch.Tensor, p: Strength = 1.0) -> torch.Tensor:
    """Scale each sample's distance to its mean by U[0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return _apply(x, (x - mean) * (_uniform(x) + 0.5) + mean, p)


def translation(
    x: torch.Tensor, p: Strength = 1.0, ratio: float = TRANSLATION_RATIO
) -> torch.Tensor:
    """Shift each sample by up to ratio * size pixels in each direction, filling with zeros."""
    n, _, h, w = x.shape
    max_h, max_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    shift_h = torch.randint(-max_h, max_h + 1, (n, 1, 1), device=x.device)
    shift_w = torch.randint(-max_w, max_w + 1, (n, 1, 1), device=x.device)
    batch, rows, cols = torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(h, device=x.device),
        torch.arange(w, device=x.device),
        indexing="ij",
    )
    # Index into a copy padded by one zero pixel: out-of-range reads clamp onto the padding.
    rows = (rows + shift_h + 1).clamp(0, h + 1)
    cols = (cols + shift_w + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)
    return _apply(x, padded[batch, rows, cols].permute(0, 3, 1, 2), p)


def cutout(x: torch.Tensor, p: Strength = 1.0, ratio: float = CUTOUT_RATIO) -> torch.Tensor:
    """Zero a square of ratio * size pixels at a random centre (clipped at the borders)."""
    n, _, h, w = x.shape
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # Centres as in DiffAugment: offsets in [0, size + (1 - size % 2)), box starts at offset - size//2.
    top = torch.randint(0, h + (1 - size_h % 2), (n, 1), device=x.device) - size_h // 2
    left = torch.randint(0, w + (1 - size_w % 2), (n, 1), device=x.device) - size_w // 2
    rows, cols = torch.arange(h, device=x.device), torch.arange(w, device=x.device)
    inside_h = (rows >= top) & (rows < top + size_h)  # (n, h)
    inside_w = (cols >= left) & (cols < left + size_w)  # (n, w)
    keep = ~(inside_h[:, :, None] & inside_w[:, None, :])
    return _apply(x, x * keep[:, None].to(x.dtype), p)


POLICIES: dict[str, tuple[Callable[..., torch.Tensor], ...]] = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}
DEFAULT_POLICY = "color,translation,cutout"


def parse_policy(policy: str, where: str = "--diffaugment") -> tuple[str, ...]:
    """The policy names of a comma list, checked against POLICIES."""
    names = tuple(name.strip() for name in policy.split(",") if name.strip())
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise GanforgeError(
            f"unknown augmentation policy {unknown[0]!r}",
            where,
            f"use a comma list of: {', '.join(POLICIES)}",
        )
    return names


def diff_augment(
    x: torch.Tensor,
    policy: str = DEFAULT_POLICY,
    p: Strength = 1.0,
    shift: float = TRANSLATION_RATIO,
    cutout_size: float = CUTOUT_RATIO,
) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020) of images (N, C, H, W): each op of the policy, in order.

    `shift` and `cutout_size` are the translation and cutout sizes as fractions of the side.
    Differentiable with respect to x; draws from torch's global RNG (the trainer's own stream).
    """
    sized = {
        "translation": (partial(translation, ratio=shift),),
        "cutout": (partial(cutout, ratio=cutout_size),),
    }
    for name in parse_policy(policy):
        for op in sized.get(name, POLICIES[name]):
            x = op(x, p)
    return x


class AdaptiveStrength:
    """ADA's controller (Karras et al. 2020, section 3): p follows the overfitting heuristic.

    r_t = E[sign(D(real))] over the last `interval` discriminator steps; then
    p <- clip(p + sign(r_t - target) * images / (kimg * 1000), 0, 1), where `images` is the
    number of real images in those steps, so p can move from 0 to 1 in `kimg` thousand images.
    Everything stays on the device (no host sync); p is read only when logged.
    """

    def __init__(self, target: float, batch_size: int, interval: int = 4, kimg: float = 100.0):
        self.target, self.batch_size = target, batch_size
        self.interval, self.kimg = interval, kimg
        self.p = torch.zeros(())
        self._sign_sum = torch.zeros(())
        self._count = torch.zeros(())
        self._steps = 0

    def observe(self, real_logits: torch.Tensor) -> None:
        """Accumulate sign(D(real)) of one D step; adjust p every `interval` steps."""
        logits = real_logits.detach().float()
        if self.p.device != logits.device:
            self.p, self._sign_sum, self._count = (
                t.to(logits.device) for t in (self.p, self._sign_sum, self._count)
            )
        self._sign_sum = self._sign_sum + logits.sign().sum()
        self._count = self._count + logits.numel()
        self._steps += 1
        if self._steps % self.interval == 0:
            r_t = self._sign_sum / self._count.clamp(min=1)
            step = self.batch_size * self.interval / (self.kimg * 1000)
            self.p = (self.p + torch.sign(r_t - self.target) * step).clamp(0.0, 1.0)
            self._sign_sum = torch.zeros_like(self._sign_sum)
            self._count = torch.zeros_like(self._count)

    def state_dict(self) -> dict[str, Any]:
        """p and the partial interval's sums (a resume continues the same p trajectory)."""
        return {
            "p": self.p.detach().cpu().clone(),
            "sign_sum": self._sign_sum.detach().cpu().clone(),
            "count": self._count.detach().cpu().clone(),
            "steps": self._steps,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict saved (tensors move to the device on the next observe)."""
        device = self.p.device
        self.p = state["p"].clone().to(device)
        self._sign_sum = state["sign_sum"].clone().to(device)
        self._count = state["count"].clone().to(device)
        self._steps = int(state["steps"])


class Augment:
    """The one augmentation in front of D: a DiffAugment policy at a fixed or adaptive strength."""

    def __init__(
        self,
        policy: str = DEFAULT_POLICY,
        p: float = 1.0,
        ada: AdaptiveStrength | None = None,
        shift: float = TRANSLATION_RATIO,
        cutout_size: float = CUTOUT_RATIO,
    ):
        self.policy = ",".join(parse_policy(policy))
        self.fixed_p, self.ada = p, ada
        self.shift, self.cutout_size = shift, cutout_size

    @property
    def p(self) -> Strength:
        """The current strength (a device tensor under ADA)."""
        return self.ada.p if self.ada is not None else self.fixed_p

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise GanforgeError(
                "--diffaugment / --ada-target need image data", fix="drop them for vector data"
            )
        p = self.p
        if isinstance(p, torch.Tensor):
            p = p.to(x.device)
        return diff_augment(x, self.policy, p, self.shift, self.cutout_size)

    def wrap(self, discriminator: Discriminator) -> Discriminator:
        """D with this augmentation in front: what every D call of a family should go through."""

        def augmented(x: torch.Tensor, *conditioning: Any) -> torch.Tensor:
            return discriminator(self(x), *conditioning)

        return augmented

    def observe_real(self, real_logits: torch.Tensor) -> None:
        """Feed D's logits on (augmented) real data to the ADA controller, if any."""
        if self.ada is not None:
            self.ada.observe(real_logits)

    def logs(self) -> dict[str, torch.Tensor]:
        """Values to log (device tensors): ADA's p."""
        return {"ada_p": self.ada.p.detach().clone()} if self.ada is not None else {}

    def state_dict(self) -> dict[str, Any]:
        """ADA's state (empty for a fixed strength)."""
        return {"ada": self.ada.state_dict()} if self.ada is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict saved."""
        if self.ada is not None and state.get("ada"):
            self.ada.load_state_dict(state["ada"])


def make_augment(train_config, sample_shape: list[int] | tuple[int, ...] = ()) -> Augment | None:
    """The Augment a TrainConfig asks for (diffaugment, ada_*), or None when both are off."""
    t = train_config
    if not t.diffaugment and t.ada_target <= 0:
        return None
    if sample_shape and len(sample_shape) != 3:
        raise GanforgeError(
            "--diffaugment / --ada-target need image data",
            f"samples have shape {list(sample_shape)}",
            "drop them for vector data",
        )
    policy = t.diffaugment or DEFAULT_POLICY
    sizes = {"shift": t.augment_shift, "cutout_size": t.augment_cutout}
    if t.ada_target <= 0:
        return Augment(policy, 1.0, **sizes)
    ada = AdaptiveStrength(t.ada_target, t.batch_size, t.ada_interval, t.ada_kimg)
    return Augment(policy, 0.0, ada, **sizes)
