"""Blocks and helpers shared by every architecture (one home for each, per DESIGN.md)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def maybe_spectral_norm(module: nn.Module, enabled: bool) -> nn.Module:
    """Wrap a conv/linear layer in spectral normalisation (Miyato 2018) when enabled."""
    return spectral_norm(module) if enabled else module


def discriminator_norm(kind: str, channels: int) -> nn.Module:
    """The normalisation used inside a discriminator: batch, layer (per-sample) or none."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        # GroupNorm with one group = LayerNorm over (C, H, W); no cross-sample coupling,
        # which is what gradient penalties need (Gulrajani 2017, section 4).
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def dcgan_init(module: nn.Module) -> None:
    """Weight init of Radford et al. 2016: N(0, 0.02) weights; BatchNorm gamma N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            weight = getattr(m, "parametrizations", None)
            target = weight.weight.original if weight is not None else m.weight
            nn.init.normal_(target, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def base_size(resolution: int) -> int:
    """Smallest feature map of a conv net for a resolution: 4 for powers of two, 7 for 28 (MNIST)."""
    for base in (4, 7):
        size = base
        while size < resolution:
            size *= 2
        if size == resolution:
            return base
    raise ValueError(f"resolution {resolution} is not 4*2^k or 7*2^k")


def num_upsamplings(resolution: int) -> int:
    """How many x2 stages lead from base_size(resolution) to resolution."""
    return (resolution // base_size(resolution)).bit_length() - 1


def flatten_logits(logits: torch.Tensor) -> torch.Tensor:
    """Discriminators return logits of shape (N,)."""
    return logits.reshape(logits.shape[0])


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift are looked up per class (de Vries 2017; Miyato 2018).

    The normalisation has no affine part of its own; gamma starts at 1 and beta at 0 for every
    class, so at initialisation it is exactly a plain BatchNorm.
    """

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gamma = nn.Embedding(num_classes, channels)
        self.beta = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gamma = self.gamma(y).view(-1, x.shape[1], 1, 1)
        beta = self.beta(y).view(-1, x.shape[1], 1, 1)
        return gamma * self.norm(x) + beta


# ---- against mode collapse: layers that let D look at a whole batch (or a pack) at once --------


def _group_size(n: int, wanted: int) -> int:
    """The largest divisor of n that is at most `wanted` (so any batch size works)."""
    for size in range(min(wanted, n), 0, -1):
        if n % size == 0:
            return size
    return 1


class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation (Karras et al. 2018, ProGAN, section 3): one extra channel.

    The batch is split into groups of `group_size` (samples i and i + N/G share a group, as in
    the official code); within a group, the std of every feature over the group members is
    averaged into one number, appended as a constant channel (images) or feature (vectors).
    A collapsed generator gives a visibly smaller value than real data, which D can use.
    """

    extra = 1

    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        self.group_size, self.eps = group_size, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        group = _group_size(n, self.group_size)
        # At least float32: a variance in float16/bfloat16 (autocast) loses the small values.
        dtype = torch.promote_types(x.dtype, torch.float32)
        y = x.reshape(group, n // group, *x.shape[1:]).to(dtype)
        var = (y - y.mean(0, keepdim=True)).pow(2).mean(0)  # biased, as ProGAN/StyleGAN2
        stat = (var + self.eps).sqrt().flatten(1).mean(1)  # (n / group,)
        stat = stat.repeat(group).to(x.dtype)  # sample g * (n / group) + m gets group m's value
        stat = stat.view(n, 1, *([1] * (x.dim() - 2))).expand(n, 1, *x.shape[2:])
        return torch.cat([x, stat], dim=1)


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016, section 3.2): `num_kernels` extra features.

    M_i = f(x_i) T reshaped to (B, C); c_b(i, j) = exp(-||M_i,b - M_j,b||_1); o(x_i)_b is the
    mean of c_b(i, j) over the other samples j != i (the paper sums over j and its released code
    leaves out j = i; the mean, sum / (N - 1), keeps the feature in [0, 1] whatever the batch
    size). Appended to the features (broadcast over H, W for images): D sees how close each
    sample is to the rest of its batch.
    """

    def __init__(self, in_features: int, num_kernels: int = 16, kernel_dim: int = 8):
        super().__init__()
        self.num_kernels, self.kernel_dim = num_kernels, kernel_dim
        # N(0, 0.05) as the original code's initialiser.
        self.T = nn.Parameter(torch.randn(in_features, num_kernels * kernel_dim) * 0.05)

    @property
    def extra(self) -> int:
        """How many channels/features this layer appends."""
        return self.num_kernels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        m = (x.flatten(1) @ self.T).view(n, self.num_kernels, self.kernel_dim)
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(3)  # (n, n, B)
        o = (torch.exp(-l1).sum(1) - 1.0) / max(n - 1, 1)  # drop j = i, whose term is exp(0)
        o = o.view(n, self.num_kernels, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
        return torch.cat([x, o.to(x.dtype)], dim=1)


def anti_collapse_layers(
    in_features: int, minibatch_std: bool, minibatch_disc: bool
) -> tuple[list[nn.Module], int]:
    """The optional layers before a discriminator's last layer, and the channels they add.

    `in_features` is the size of one flattened input (C*H*W for feature maps, D for vectors).
    """
    layers: list[nn.Module] = []
    extra = 0
    if minibatch_disc:
        layers.append(MinibatchDiscrimination(in_features))
        extra += layers[-1].extra
    if minibatch_std:
        layers.append(MinibatchStdDev())
        extra += MinibatchStdDev.extra
    return layers, extra


def fold_pack(x: torch.Tensor, pack: int) -> torch.Tensor:
    """(N, C, ...) -> (N / pack, pack * C, ...): consecutive samples side by side in channels."""
    n = x.shape[0]
    if n % pack:
        raise ValueError(f"batch of {n} is not a multiple of pack={pack}")
    return x.reshape(n // pack, pack * x.shape[1], *x.shape[2:])


class PackedDiscriminator(nn.Module):
    """PacGAN (Lin et al. 2018): D judges `pack` samples jointly; N samples give N/pack logits.

    The inner discriminator is built for pack * C input channels (images) or pack * D features
    (vectors). A conditioning image y (same batch size, e.g. pix2pix's source) is folded the same
    way; class labels cannot be folded into channels and are refused.
    """

    def __init__(self, discriminator: nn.Module, pack: int):
        super().__init__()
        self.inner, self.pack = discriminator, pack

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            return self.inner(fold_pack(x, self.pack))
        if y.dim() < 2 or not y.is_floating_point():
            raise ValueError("PacGAN packing supports conditioning images, not class labels")
        return self.inner(fold_pack(x, self.pack), fold_pack(y, self.pack))


def pack_discriminator(discriminator: nn.Module, pack: int) -> nn.Module:
    """D itself when pack == 1, else D wrapped in PackedDiscriminator."""
    return discriminator if pack <= 1 else PackedDiscriminator(discriminator, pack)


# ---- image-to-image translation (U-Net, ResNet translator, PatchGAN) -----------------------------

TRANSLATION_NORMS = ("batch", "instance", "none")


def translation_norm(kind: str, channels: int) -> nn.Module:
    """Normalisation of the translation nets: batch (pix2pix), instance (CycleGAN) or none.

    Instance norm as in CycleGAN's code: no affine part, no running statistics, so train and eval
    mode compute the same thing.
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown translation norm {kind!r}; use one of {TRANSLATION_NORMS}")


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Reflect-pad H and W evenly on both sides up to a multiple of `multiple`.

    Returns the padded tensor and the box (top, left, H, W) that crop_box cuts back out: this
    lets the translators take any image size (28x28 MNIST into a net that halves 5 times).
    """
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    box = (ph // 2, pw // 2, h, w)
    if ph == 0 and pw == 0:
        return x, box
    # Reflection needs the pad smaller than the side; replicate covers tiny images.
    mode = "reflect" if max(ph - ph // 2, pw - pw // 2) < min(h, w) else "replicate"
    pads = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
    return torch.nn.functional.pad(x, pads, mode=mode), box


def crop_box(x: torch.Tensor, box: tuple[int, ...]) -> torch.Tensor:
    """The (top, left, H, W) box of pad_to_multiple cut out of x."""
    top, left, h, w = box
    return x[..., top : top + h, left : left + w]
