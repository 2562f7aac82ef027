"""PSNR and SSIM of super-resolved images, by the standard SR protocol (BasicSR, Ledig 2017).

Protocol (what "standard" means here, so figures compare with published tables):

- Images are on the 0..255 scale (uint8, or floats on that scale), (H, W) or (H, W, C).
- ``y_channel=True``: colour images are compared on the luma Y of ITU-R BT.601 in the studio
  range, Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 with R, G, B on 0..255, kept in
  float (MATLAB's ``rgb2ycbcr``, BasicSR's ``to_y_channel``). Grey images are used as they are.
- ``crop_border=s``: ``s`` pixels are dropped on every side first (the x``s`` upscaling's
  border, where every method lacks context).
- PSNR = 10 log10(255^2 / MSE) over all remaining values (inf for identical images).
- SSIM (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255,
  population statistics, computed on the "valid" part of the image (no padding) and averaged;
  over channels when ``y_channel=False``. Equal to scikit-image's ``structural_similarity`` with
  ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255``.

Computed in float64 with torch, so the figures do not depend on the input dtype.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError

# BT.601 studio-range luma weights for R, G, B on 0..255 (the offset 16 is added separately).
_Y_WEIGHTS = (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)
_SSIM_SIZE, _SSIM_SIGMA = 11, 1.5


def _as_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A CPU tensor holding a copy of the image (read-only arrays are fine)."""
    if torch.is_tensor(image):
        return image.detach().cpu().clone()
    return torch.from_numpy(np.array(image))


def rgb_to_y(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """BT.601 luma of an (H, W, 3) image on the 0..255 scale, float64 (H, W) in [16, 235]."""
    x = _as_tensor(image).to(torch.float64)
    if x.dim() != 3 or x.shape[-1] != 3:
        raise ValueError(f"rgb_to_y needs an (H, W, 3) image, got shape {tuple(x.shape)}")
    weights = torch.tensor(_Y_WEIGHTS, dtype=torch.float64)
    return x @ weights + 16.0


def _prepare(
    a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, crop_border: int, y_channel: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Both images as float64 (C, H, W), converted to Y when asked, borders cropped."""
    x, y = _as_tensor(a), _as_tensor(b)
    if x.shape != y.shape:
        raise GanforgeError(
            f"images differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}",
            fix="compare an output with the reference it was made for",
        )
    if x.dim() not in (2, 3):
        raise ValueError(f"expected (H, W) or (H, W, C) images, got shape {tuple(x.shape)}")
    if x.dim() == 3 and x.shape[-1] == 1:
        x, y = x[..., 0], y[..., 0]
    if x.dim() == 3 and y_channel:
        if x.shape[-1] != 3:
            raise ValueError(f"the Y channel needs RGB images, got {x.shape[-1]} channels")
        x, y = rgb_to_y(x), rgb_to_y(y)
    x, y = x.to(torch.float64), y.to(torch.float64)
    if x.dim() == 2:
        x, y = x[None], y[None]
    else:
        x, y = x.permute(2, 0, 1), y.permute(2, 0, 1)
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        c = crop_border
        x, y = x[:, c:-c, c:-c], y[:, c:-c, c:-c]
    if x.numel() == 0:
        raise GanforgeError(
            f"nothing left to compare after cropping {crop_border} border pixels",
            fix="use larger images",
        )
    return x, y


def psnr(
    a: np.ndarray | torch.Tensor,
    b: np.ndarray | torch.Tensor,
    crop_border: int = 0,
    y_channel: bool = True,
) -> float:
    """Peak signal-to-noise ratio in dB of two 0..255 images (see the module docstring)."""
    x, y = _prepare(a, b, crop_border, y_channel)
    mse = float((x - y).pow(2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def _gaussian_window() -> torch.Tensor:
    """The normalised 1-D Gaussian of SSIM (11 taps, sigma 1.5), float64."""
    r = torch.arange(_SSIM_SIZE, dtype=torch.float64) - _SSIM_SIZE // 2
    g = torch.exp(-(r**2) / (2 * _SSIM_SIGMA**2))
    return g / g.sum()


def ssim(
    a: np.ndarray | torch.Tensor,
    b: np.ndarray | torch.Tensor,
    crop_border: int = 0,
    y_channel: bool = True,
) -> float:
    """Structural similarity (Wang et al. 2004) of two 0..255 images (see the module docstring)."""
    x, y = _prepare(a, b, crop_border, y_channel)
    if min(x.shape[-2:]) < _SSIM_SIZE:
        raise GanforgeError(
            f"SSIM needs images of at least {_SSIM_SIZE}x{_SSIM_SIZE} pixels after the border "
            f"crop, got {x.shape[-2]}x{x.shape[-1]}",
            fix="use larger images",
        )
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = _gaussian_window()
    # Separable filtering, "valid" only: each channel is its own batch entry.
    stack = torch.stack([x, y, x * x, y * y, x * y], dim=1).flatten(0, 1)[:, None]
    stack = F.conv2d(stack, g.view(1, 1, 1, -1))
    stack = F.conv2d(stack, g.view(1, 1, -1, 1))
    mu_x, mu_y, xx, yy, xy = stack.view(x.shape[0], 5, *stack.shape[-2:]).unbind(1)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return float((num / den).mean())
