"""Named, tested starting points: `ganforge train --preset NAME`."""

from __future__ import annotations

from typing import Any

from ganforge.config import Config, merge
from ganforge.errors import GanforgeError

# name -> (one-line description, overrides of the defaults)
PRESETS: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    "ring-vanilla": (
        "Vanilla MLP GAN (Goodfellow 2014, non-saturating) on 8 Gaussians in a ring; ~25 s on CPU",
        {
            "data": {"source": "ring"},
            "model": {"arch": "mlp", "latent_dim": 8, "g_width": 128, "d_width": 128},
            "train": {
                "steps": 4000,
                "batch_size": 256,
                # D learns twice as fast as G (TTUR): with equal rates G smears samples along
                # the circle between the modes instead of sharpening onto them.
                "lr_g": 5e-4,
                "lr_d": 1e-3,
                "beta1": 0.5,
                # The last quarter anneals both rates to 0 and the EMA averages out the
                # oscillation around each mode: together ~84% of samples land within 3 std.
                "lr_decay_start": 0.75,
                "ema": 0.99,
                "log_every": 250,
                "sample_every": 1000,
                "checkpoint_every": 1000,
            },
        },
    ),
    "digits-dcgan": (
        "DCGAN (Radford 2016) on scikit-learn's 8x8 digits upscaled to 32x32; the default, ~1 min",
        {
            "data": {"source": "digits", "resolution": 32},
            "model": {"arch": "dcgan", "latent_dim": 64, "g_width": 32, "d_width": 32},
            "train": {
                "steps": 1500,
                "batch_size": 64,
                "ema": 0.999,
                "log_every": 100,
                "sample_every": 500,
                "checkpoint_every": 500,
            },
        },
    ),
    "mnist-dcgan": (
        "DCGAN on MNIST 28x28 (non-saturating, EMA); recognisable digits in minutes on CPU",
        {
            "data": {"source": "mnist", "resolution": 28},
            "model": {"arch": "dcgan", "latent_dim": 100, "g_width": 64, "d_width": 64},
            "train": {
                "steps": 5000,
                "batch_size": 64,
                "ema": 0.999,
                "log_every": 100,
                "sample_every": 500,
                "checkpoint_every": 1000,
            },
        },
    ),
    "mnist-wgangp": (
        "WGAN-GP (Gulrajani 2017) DCGAN on MNIST: n_critic 5, GP 10, Adam(0, 0.9), no BatchNorm in D",
        {
            "data": {"source": "mnist", "resolution": 28},
            "model": {
                "arch": "dcgan",
                "latent_dim": 100,
                "g_width": 64,
                "d_width": 64,
                "d_norm": "none",
            },
            "train": {
                "steps": 2000,
                "batch_size": 64,
                "loss": "wasserstein",
                "n_critic": 5,
                "gp_weight": 10.0,
                "lr_g": 1e-4,
                "lr_d": 1e-4,
                "beta1": 0.0,
                "beta2": 0.9,
                "ema": 0.999,
                "sample_every": 500,
            },
        },
    ),
    "mnist-hinge-sn": (
        "Hinge loss with a spectrally normalised D (Miyato 2018) on MNIST, TTUR lr 1e-4 / 4e-4",
        {
            "data": {"source": "mnist", "resolution": 28},
            "model": {
                "arch": "dcgan",
                "latent_dim": 100,
                "g_width": 64,
                "d_width": 64,
                "d_norm": "none",
                "spectral_norm": True,
            },
            "train": {
                "steps": 5000,
                "batch_size": 64,
                "loss": "hinge",
                "lr_g": 1e-4,
                "lr_d": 4e-4,
                "beta1": 0.0,
                "beta2": 0.999,
                "ema": 0.999,
            },
        },
    ),
    "mnist-cgan": (
        "Conditional DCGAN on MNIST: projection D (Miyato & Koyama 2018), conditional BatchNorm "
        "in G; sample by digit",
        {
            "data": {"source": "mnist", "resolution": 28},
            "model": {
                "family": "conditional",
                "arch": "dcgan",
                "latent_dim": 64,
                "g_width": 32,
                "d_width": 32,
                "conditioning": "projection",
                "g_conditioning": "cbn",
            },
            "train": {
                "steps": 6000,
                "batch_size": 64,
                "ema": 0.999,
                "log_every": 100,
                "sample_every": 500,
                "checkpoint_every": 1000,
            },
        },
    ),
    "mnist-acgan": (
        "AC-GAN (Odena 2017) DCGAN on MNIST: label embedding beside the noise, D with an "
        "auxiliary classifier",
        {
            "data": {"source": "mnist", "resolution": 28},
            "model": {
                "family": "conditional",
                "arch": "dcgan",
                "latent_dim": 64,
                "g_width": 32,
                "d_width": 32,
                "conditioning": "acgan",
                "g_conditioning": "embed",
                "ac_weight": 1.0,
            },
            "train": {
                "steps": 6000,
                "batch_size": 64,
                "ema": 0.999,
                "log_every": 100,
                "sample_every": 500,
                "checkpoint_every": 1000,
            },
        },
    ),
    "ring-cgan": (
        "Conditional MLP GAN on the 8-Gaussian ring, one label per mode (projection D)",
        {
            "data": {"source": "ring"},
            "model": {
                "family": "conditional",
                "arch": "mlp",
                "latent_dim": 8,
                "g_width": 128,
                "d_width": 128,
                "conditioning": "projection",
                "embed_dim": 8,
            },
            "train": {
                "steps": 4000,
                "batch_size": 256,
                "lr_g": 5e-4,
                "lr_d": 1e-3,
                "beta1": 0.5,
                "lr_decay_start": 0.75,
                "ema": 0.99,
                "log_every": 250,
                "sample_every": 1000,
                "checkpoint_every": 1000,
            },
        },
    ),
    "mnist-ganomaly": (
        "GANomaly (Akcay 2018) on MNIST: encoder-decoder-encoder G, for `ganforge anomaly`",
        {
            "data": {"source": "mnist", "resolution": 28},
            "model": {
                "family": "ganomaly",
                "arch": "dcgan",
                "latent_dim": 100,
                "g_width": 32,
                "d_width": 32,
            },
            "train": {
                "steps": 3000,
                "batch_size": 64,
                "lr_g": 2e-4,
                "lr_d": 2e-4,
                "beta1": 0.5,
                # Reconstructions start blurry and alike: not a collapse worth warning about.
                "collapse_ratio": 0.0,
                "log_every": 100,
                "sample_every": 1000,
                "checkpoint_every": 1000,
            },
        },
    ),
    "mnist-fanogan": (
        "f-AnoGAN (Schlegl 2019) on MNIST: WGAN-GP, then an izi_f encoder, for `ganforge anomaly`",
        {
            "data": {"source": "mnist", "resolution": 28},
            "model": {
                "family": "fanogan",
                "arch": "dcgan",
                "latent_dim": 100,
                "g_width": 32,
                "d_width": 32,
                "d_norm": "none",
            },
            "train": {
                "steps": 3000,
                "fanogan_gan_steps": 2000,
                "batch_size": 64,
                "loss": "wasserstein",
                "n_critic": 5,
                "gp_weight": 10.0,
                "lr_g": 1e-4,
                "lr_d": 1e-4,
                "beta1": 0.0,
                "beta2": 0.9,
                "collapse_ratio": 0.0,
                "log_every": 100,
                "sample_every": 1000,
                "checkpoint_every": 1000,
            },
        },
    ),
}

DEFAULT_PRESET = "digits-dcgan"


def get_preset(name: str) -> Config:
    """The Config of a named preset."""
    if name not in PRESETS:
        raise GanforgeError(
            f"unknown preset {name!r}",
            fix=f"choose one of: {', '.join(PRESETS)} (ganforge presets)",
        )
    config = merge(Config(), PRESETS[name][1])
    config.preset = name
    return config
