"""Mode coverage and balance: 2-D mixtures (VEEGAN protocol) and StackedMNIST's 1,000 modes.

Both report how many modes hold samples and how evenly: each mode's share of the samples,
KL(generated mode histogram || uniform) in nats (0 = every mode equally often; sum p log(K p),
empty modes adding 0, as ``scipy.stats.entropy(p, uniform)``), and the modes under half their
share (1 / K). A finite sample of a perfectly uniform generator still scores KL ~ (K - 1) / (2 N).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

# StackedMNIST (Metz et al. 2017; VEEGAN; PacGAN Table 2): 26,000 samples, each channel's digit
# from a pretrained MNIST classifier, a mode covered when at least one sample lands in it.
STACKED_SAMPLES = 26_000
STACKED_MODES = 1000
STACKED_BATCH = 1000


def balance(counts: torch.Tensor | np.ndarray | list) -> dict:
    """Share of each mode, KL(shares || uniform) in nats, and the modes under half their share.

    Returns {"shares": list[float], "mode_kl": float, "modes_under_half": int}; no samples at all
    give KL = log K (as far from uniform as one mode) and every mode under half.
    """
    counts = np.asarray(counts, dtype=np.float64).reshape(-1)
    k, total = len(counts), float(counts.sum())
    if total <= 0:
        return {"shares": [0.0] * k, "mode_kl": float(np.log(k)), "modes_under_half": k}
    p = counts / total
    nz = p > 0
    kl = float(np.sum(p[nz] * np.log(p[nz] * k)))
    return {
        "shares": p.tolist(),
        "mode_kl": max(kl, 0.0),
        "modes_under_half": int((p < 0.5 / k).sum()),
    }


def mode_coverage(
    samples: torch.Tensor,
    centers: torch.Tensor,
    std: float,
    n_sigma: float = 3.0,
    min_count: int | None = None,
) -> dict:
    """Assign each sample to its nearest centre; a sample is high quality within n_sigma*std of it.

    A mode is recovered when it holds at least `min_count` high-quality samples (default: 1% of
    the samples a perfect generator would put there, at least 1). The shares, KL and modes under
    half their share (``balance``) are of the high-quality samples' modes. Returns
    {"modes", "num_modes", "high_quality", "counts", "shares", "mode_kl", "modes_under_half"}.
    """
    samples = torch.as_tensor(samples, dtype=torch.float32).reshape(-1, 2)
    centers = torch.as_tensor(centers, dtype=torch.float32)
    dist = torch.cdist(samples, centers)
    nearest_dist, nearest = dist.min(1)
    good = nearest_dist <= n_sigma * std
    counts = torch.bincount(nearest[good], minlength=len(centers))
    if min_count is None:
        min_count = max(1, int(0.01 * len(samples) / len(centers)))
    return {
        "modes": int((counts >= min_count).sum()),
        "num_modes": len(centers),
        "high_quality": float(good.float().mean()) if len(samples) else 0.0,
        "counts": counts.tolist(),
        **balance(counts),
    }


TOY_PROTOCOL = {
    "mode_assignment": "nearest centre; high quality within 3 std of it (VEEGAN)",
    "mode_recovered": ">= 1% of a perfect generator's share of high-quality samples",
    "mode_shares": "of the high-quality samples; KL(shares || uniform) in nats",
}


def stacked_protocol(n: int) -> dict:
    """What the StackedMNIST figures mean, for the result's protocol."""
    return {
        "stacked_samples": n,
        "stacked_classifier": "ganforge's shipped MNIST classifier (mnist_classifier.pt), "
        "each channel (R, G, B) classified alone after bilinear resize to 28x28",
        "stacked_mode": "100 * digit(R) + 10 * digit(G) + digit(B), 1,000 modes",
        "stacked_covered": "a mode with >= 1 sample (Metz 2017, VEEGAN, PacGAN Table 2)",
        "stacked_kl": "KL(generated mode histogram || uniform) in nats",
    }


class ChannelDigits:
    """The shipped MNIST classifier applied to each channel of colour images: (N, 3) digits."""

    def __init__(self, device: str | torch.device = "cpu", weights=None):
        from ganforge.metrics.features.mnist import MnistExtractor

        self.net = MnistExtractor(weights).to(device)
        self.device = torch.device(device)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Digits (N, C) of images (N, C, H, W) in [-1, 1] (uint8 read as [0, 255])."""
        from ganforge.metrics.features.base import check_images, resize

        x = check_images(images, "generated images").to(self.device)
        n, c, h, w = x.shape
        x = resize(x.reshape(n * c, 1, h, w), 28, "generated images")
        _, logits = self.net.features(x)
        return logits.argmax(1).reshape(n, c).cpu()


def stacked_modes_of_digits(digits: torch.Tensor) -> dict:
    """Modes covered (of 1,000), KL to uniform and modes under half, from (N, 3) digit triples."""
    digits = torch.as_tensor(digits).long()
    modes = digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]
    counts = torch.bincount(modes, minlength=STACKED_MODES)
    shown = balance(counts)
    # KL(p || uniform) over the triples splits exactly into each channel's KL to the uniform
    # over 10 digits plus the total correlation (how far the channels are from independent):
    # it tells an unbalanced digit per channel from channels that are drawn together.
    channel_kl = [balance(torch.bincount(digits[:, c], minlength=10))["mode_kl"] for c in range(3)]
    return {
        "modes": int((counts > 0).sum()),
        "num_modes": STACKED_MODES,
        "mode_kl": shown["mode_kl"],
        "modes_under_half": shown["modes_under_half"],
        "channel_kl": channel_kl,
        "dependence_kl": max(shown["mode_kl"] - sum(channel_kl), 0.0),
        "counts": counts.tolist(),
    }


def stacked_mode_coverage(
    source: torch.Tensor | np.ndarray | Callable[[int], torch.Tensor],
    n: int = STACKED_SAMPLES,
    device: str | torch.device = "cpu",
    classifier: ChannelDigits | None = None,
    batch_size: int = STACKED_BATCH,
) -> dict:
    """StackedMNIST mode coverage of `n` images: 3-channel images (N, 3, H, W) in [-1, 1] (the
    first n used; all when fewer), or a sampler ``sample(batch_size) -> images``, drawn in batches
    and classified as they come. Returns ``stacked_modes_of_digits`` plus the protocol."""
    from ganforge.errors import GanforgeError

    classify = classifier or ChannelDigits(device)
    digits = []
    if callable(source) and not isinstance(source, (torch.Tensor, np.ndarray)):
        drawn = 0
        while drawn < n:
            batch = source(min(batch_size, n - drawn))
            if isinstance(batch, (tuple, list)):
                batch = batch[0]
            batch = torch.as_tensor(batch).detach()
            if batch.dim() != 4 or batch.shape[0] == 0:
                raise GanforgeError(
                    f"the sampler returned shape {tuple(batch.shape)}",
                    "generated images",
                    "sample(batch_size) must return images (batch_size, 3, H, W)",
                )
            digits.append(classify(batch.float()))
            drawn += batch.shape[0]
    else:
        images = source[:n]
        digits = [classify(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    if not digits or digits[0].shape[1] != 3:
        shape = tuple(digits[0].shape) if digits else (0,)
        raise GanforgeError(
            f"StackedMNIST modes need 3-channel images, got {shape[1] if digits else 0} channels",
            "generated images",
            "evaluate a stacked-mnist run, or drop the stacked-modes metric",
        )
    digits = torch.cat(digits)[:n]
    result = stacked_modes_of_digits(digits)
    result["protocol"] = stacked_protocol(len(digits))
    return result
