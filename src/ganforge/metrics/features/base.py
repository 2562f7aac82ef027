"""What every feature extractor shares: input checks, channel and size conversion, extraction."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.images import to_model_range

RANGE_TOLERANCE = 1e-3
MIN_SIDE = 8  # smaller images carry too little to resize meaningfully
ImageSource = torch.Tensor | np.ndarray | Callable[[int], torch.Tensor]
# ITU-R BT.601 luma weights: the usual RGB -> grey conversion (PIL's "L" mode uses the same).
_LUMA = (0.299, 0.587, 0.114)


def validate_images(images: torch.Tensor | np.ndarray, where: str = "images") -> torch.Tensor:
    """Check a whole image set without copying it; returns it as a (N, C, H, W) tensor view.

    The one place that says what is wrong with an image array: its shape (a 3-D array is read as
    (N, H, W) grey images), its dtype (float or uint8), no images at all, NaN/inf, or float
    values outside [-1, 1] (beyond a 1e-3 tolerance, with a hint at the range they look like).
    """
    x = torch.as_tensor(images)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4:
        hint = "pass a batch of images"
        if x.dim() == 2:
            hint = "reshape flattened images to (N, C, H, W), e.g. (N, 1, 28, 28)"
        raise GanforgeError(f"images must be (N, C, H, W), got shape {tuple(x.shape)}", where, hint)
    if x.shape[1] not in (1, 3):
        if x.shape[-1] in (1, 3, 4):
            what, fix = "channels last?", "transpose to (N, C, H, W): array.transpose(0, 3, 1, 2)"
        else:
            what, fix = "1 (grey) or 3 (RGB) expected", "drop the alpha channel, or convert"
        raise GanforgeError(
            f"images have {x.shape[1]} channels (shape {tuple(x.shape)}): {what}", where, fix
        )
    if x.dtype != torch.uint8 and not x.is_floating_point():
        raise GanforgeError(
            f"images must be float or uint8, got {x.dtype}",
            where,
            "save them as uint8 (0-255) or as float in [-1, 1]",
        )
    if x.numel() == 0:
        return x
    if x.dtype == torch.uint8:
        return x
    # Two reductions, no copy: a NaN anywhere makes the min NaN, an inf the min or the max.
    low, high = float(x.amin()), float(x.amax())
    if not (np.isfinite(low) and np.isfinite(high)):
        raise GanforgeError("images contain NaN or inf", where, "check the generator's output")
    if low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        if low >= 0 and high <= 255:
            hint = "they look like [0, 255]: pass x / 127.5 - 1 (or the uint8 array itself)"
        else:
            hint = "rescale them to [-1, 1] (a tanh output layer does that)"
        raise GanforgeError(f"images span [{low:.3g}, {high:.3g}], outside [-1, 1]", where, hint)
    return x


def image_shape(images: torch.Tensor | np.ndarray) -> tuple[int, int, int]:
    """(C, H, W) of an image set after normalisation: a 3-D array is (N, H, W) grey images."""
    shape = tuple(int(s) for s in images.shape)
    return (1, *shape[1:]) if len(shape) == 3 else shape[1:]  # type: ignore[return-value]


def check_images(images: torch.Tensor | np.ndarray, where: str = "images") -> torch.Tensor:
    """Images as a float tensor (N, C, H, W) in [-1, 1]; uint8 is read as [0, 255] and converted.

    ``validate_images`` says what is wrong in one line; a set entirely in [0, 1] gets a warning
    (legal, but almost always a [0, 1] mix-up).
    """
    x = validate_images(images, where)
    if x.dtype == torch.uint8:
        return to_model_range(x)
    x = x.float()
    if x.numel() and float(x.min()) >= 0 and x.shape[0] >= 16:
        warnings.warn(
            f"{where}: every value is in [0, 1]; ganforge expects [-1, 1] (use 2 * x - 1)",
            stacklevel=2,
        )
    return x


def to_channels(x: torch.Tensor, channels: int, where: str = "images") -> torch.Tensor:
    """Convert 1 <-> 3 channels: grey is repeated to RGB, RGB becomes BT.601 luma."""
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1)
    if c == 3 and channels == 1:
        weights = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * weights).sum(1, keepdim=True)
    raise GanforgeError(
        f"images have {c} channels, this extractor takes 1 (grey) or 3 (RGB)",
        where,
        "drop the alpha channel or pick a suitable extractor",
    )


def resize(x: torch.Tensor, size: int, where: str = "images") -> torch.Tensor:
    """Bilinear resize to size x size in torch (align_corners=False, no antialias: pytorch-fid)."""
    h, w = x.shape[-2:]
    if h != w:
        raise GanforgeError(
            f"images are {h}x{w}; non-square images would be distorted",
            where,
            "crop or pad them to a square first",
        )
    if h < MIN_SIDE:
        raise GanforgeError(f"images are {h}x{w}, smaller than {MIN_SIDE}x{MIN_SIDE}", where)
    if h == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def fingerprint_bytes(data: bytes) -> str:
    """A short content hash, so cached features never outlive the weights that made them."""
    return hashlib.sha256(data).hexdigest()[:12]


def fingerprint_module(module: nn.Module) -> str:
    """Content hash of a module's state_dict tensors, in key order."""
    digest = hashlib.sha256()
    for key, value in module.state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:12]


class Extractor(nn.Module):
    """Maps images in [-1, 1] (N, C, H, W) to (features (N, D), logits (N, K) or None).

    Subclasses set ``name``, ``feature_dim``, ``num_classes`` (0: no logits), ``class_names``
    (only when the classes are the dataset's own labels, enabling class diagnostics),
    ``channels``, ``resolution`` and ``default_batch_size``, and implement ``features``.
    """

    name: str = "extractor"
    feature_dim: int = 0
    num_classes: int = 0
    class_names: list[str] | None = None
    channels: int = 3
    resolution: int = 0
    default_batch_size: int = 250
    input_note: str = ""
    # What the logits are (recorded in the protocol next to the Inception Score).
    logits_note: str = ""

    def train(self, mode: bool = True) -> Extractor:
        """Always eval: a frozen feature network must never use batch statistics or dropout."""
        return super().train(False)

    def prepare(self, x: torch.Tensor, where: str = "images") -> torch.Tensor:
        """Convert channels and resize to what the network takes."""
        return resize(to_channels(x, self.channels, where), self.resolution, where)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Network forward on prepared images."""
        raise NotImplementedError

    def forward(
        self, x: torch.Tensor, where: str = "images"
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(features, logits) of images in [-1, 1]."""
        return self.features(self.prepare(x, where))

    def fingerprint(self) -> str:
        """Content hash of the weights (part of the feature-cache key)."""
        return fingerprint_module(self)

    def cache_name(self) -> str:
        """The extractor's name in the feature-cache key; changes whenever its outputs change."""
        return self.name

    def protocol(self) -> dict:
        """What a result must record to be reproducible: extractor name, dims and input handling."""
        return {
            "extractor": self.name,
            "feature_dim": self.feature_dim,
            "resize": f"bilinear to {self.resolution}x{self.resolution} (torch, "
            "align_corners=False, no antialias)",
            "channels": self.input_note,
            "weights": self.fingerprint(),
        }


def _sampled_batches(sample: Callable[[int], torch.Tensor], n: int, batch_size: int, where: str):
    drawn = 0
    while drawn < n:
        want = min(batch_size, n - drawn)
        batch = sample(want)
        if isinstance(batch, (tuple, list)):
            batch = batch[0]  # samplers that also return labels
        batch = torch.as_tensor(batch)
        if batch.dim() < 3 or batch.shape[0] == 0:
            raise GanforgeError(
                f"the sampler returned shape {tuple(batch.shape)} for a batch of {want}",
                where,
                "sample(batch_size) must return images (batch_size, C, H, W)",
            )
        batch = batch[:want]
        drawn += batch.shape[0]
        yield batch


def extract(
    extractor: Extractor,
    source: ImageSource,
    n: int | None = None,
    batch_size: int | None = None,
    where: str = "images",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Features (n, D) and logits (n, K) or None, as float32 CPU tensors, in eval mode, no grad.

    ``source`` is images in [-1, 1] (N, C, H, W) (tensor or array; uint8 read as [0, 255]) of
    which the first ``n`` are used (all when n is None), or a callable ``sample(batch_size)``
    returning such images, called until ``n`` images are drawn.
    """
    batch_size = batch_size or extractor.default_batch_size
    if batch_size < 1:
        raise GanforgeError(f"batch_size must be >= 1, got {batch_size}")
    if callable(source) and not isinstance(source, (torch.Tensor, np.ndarray)):
        if n is None or n < 1:
            raise GanforgeError("drawing from a sampler needs n >= 1 images", where)
        batches = _sampled_batches(source, n, batch_size, where)
    else:
        total = len(source)
        n = total if n is None else n
        if n > total or n < 1:
            raise GanforgeError(
                f"{n} images requested, {total} given",
                where,
                f"pass at least {n} images or lower n",
            )
        batches = (source[i : min(i + batch_size, n)] for i in range(0, n, batch_size))
    device = next(extractor.parameters()).device
    extractor.eval()
    features, logits = [], []
    with torch.no_grad():
        for batch in batches:
            x = check_images(batch, where).to(device)
            f, lg = extractor(x, where)
            features.append(f.float().cpu())
            if lg is not None:
                logits.append(lg.float().cpu())
    out_logits = torch.cat(logits) if logits else None
    return torch.cat(features), out_logits
