"""Named, tested starting points: `ganforge train --preset NAME`."""

from __future__ import annotations

from typing import Any

from ganforge.config import Config, merge
from ganforge.errors import GanforgeError


def _sr_preset(
    scale: int, crop: int, steps: int, pretrain: int, **srgan: Any
) -> dict[str, dict[str, Any]]:
    """Overrides of a super-resolution preset on the built-in photos (families/srgan.py);
    `srgan`: more of its [srgan] settings."""
    return {
        "data": {"source": "photos:train", "resolution": crop},
        "model": {"family": "srgan", "arch": "srresnet", "g_width": 48, "d_width": 16},
        "srgan": {"scale": scale, "blocks": 8, "pretrain_steps": pretrain, **srgan},
        "train": {
            "steps": steps,
            "batch_size": 8,
            # Adam as BasicSR's SR models (beta1 0.9, beta2 0.99), a rate raised for short runs,
            # falling linearly to 0 over the second half.
            "lr_g": 5e-4,
            "lr_d": 1e-4,
            "beta1": 0.9,
            "beta2": 0.99,
            "lr_decay_start": 0.5,
            "log_every": 100,
            "sample_every": 500,
            "checkpoint_every": 500,
        },
    }


# The anomaly methods' training settings, shared by their MNIST presets below and the table
# detectors of `ganforge anomaly` (apps/anomaly.py).
GANOMALY_TRAIN: dict[str, Any] = {
    "steps": 3000,
    "batch_size": 64,
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "beta1": 0.5,
    # Reconstructions start blurry and alike: not a collapse worth warning about.
    "collapse_ratio": 0.0,
}
# WGAN-GP's recipe (Gulrajani 2017): mnist-wgangp, and f-AnoGAN's GAN phase (Schlegl 2019).
WGANGP_TRAIN: dict[str, Any] = {
    "batch_size": 64,
    "loss": "wasserstein",
    "n_critic": 5,
    "gp_weight": 10.0,
    "lr_g": 1e-4,
    "lr_d": 1e-4,
    "beta1": 0.0,
    "beta2": 0.9,
}
# MNIST's digits sit in a 20x20 box inside a 4-pixel margin: with --diffaugment translation, shift
# by up to 2 pixels (1/16), not the paper's 1/8 (4 pixels), which is no better than no
# augmentation on 500 digits while 2 pixels lowers FID by 25 points (README, data efficiency).
MNIST_AUGMENT: dict[str, Any] = {"augment_shift": 0.0625}
FANOGAN_TRAIN: dict[str, Any] = {
    **WGANGP_TRAIN,
    "steps": 3000,
    "collapse_ratio": 0.0,
}
FANOGAN_SETTINGS: dict[str, Any] = {"gan_steps": 2000}  # [fanogan]: the WGAN phase, then E

# The 2-D toy GANs' networks and schedule, shared by ring-vanilla, grid-mbstd-pack and ring-cgan.
TOY_MODEL: dict[str, Any] = {"arch": "mlp", "latent_dim": 8, "g_width": 128, "d_width": 128}
TOY_TRAIN: dict[str, Any] = {
    "steps": 4000,
    "batch_size": 256,
    # A step of these small MLPs is too little work to share: ring-vanilla took 4.9 ms a step
    # on 1 thread vs 9.5-11.7 on 2 (benchmarks/quickstart.py, 2-core EPYC, load ~1).
    "threads": 1,
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
}

# R3GAN (Huang et al. 2024): the relativistic pairing loss with R1 and R2 at one gamma, Adam with
# beta1 0 and the paper's final beta2 0.99, EMA on; the nets are nets/resnet.py's.
R3GAN_TRAIN: dict[str, Any] = {
    "loss": "relativistic-pair",
    "r1_weight": 0.05,  # the paper's CIFAR-10 gamma (32 px); R2 the same
    "r2_weight": 0.05,
    "r1_every": 1,  # not lazy: both penalties every D step, as the paper
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "beta1": 0.0,
    "beta2": 0.99,
    "batch_size": 64,
    "ema": 0.995,
    "log_every": 100,
    "sample_every": 500,
    "checkpoint_every": 1000,
}


R3GAN_GAMMA: dict[int, float] = {32: 0.05, 64: 2.0, 128: 10.0, 256: 150.0}


def _r3gan_photos(resolution: int) -> tuple[str, dict[str, dict[str, Any]]]:
    """A folder-of-photos R3GAN preset at `resolution` px (--data folder:PATH)."""
    width = {32: 64, 64: 48, 128: 32, 256: 24}[resolution]
    return (
        f"R3GAN (Huang 2024): relativistic-pair + R1/R2 and the normalisation-free ResNet on a "
        f"folder of colour photos at {resolution}x{resolution} (--data folder:PATH); 50,000 steps",
        {
            # A folder of your photos (subfolders are read too): --data folder:PATH.
            "data": {"source": "folder:photos", "resolution": resolution, "channels": 3},
            "model": {"arch": "resnet", "latent_dim": 64, "g_width": width, "d_width": width},
            "train": {
                **R3GAN_TRAIN,
                "steps": 50000,
                "batch_size": 32,
                # The paper's starting gammas (no decay here): 0.05 at 32 px (CIFAR-10), 2 at 64
                # (FFHQ-64), 150 at 256 (FFHQ-256); 128 px's 10 is ours, between the two.
                "r1_weight": R3GAN_GAMMA[resolution],
                "r2_weight": R3GAN_GAMMA[resolution],
                "ema": 0.999,
                "diffaugment": "translation",
            },
        },
    )


# The moving-mnist presets (families/video.py; README, "Next frames of a video").
VIDEO_SETTINGS: dict[str, Any] = {"l2_weight": 1.0, "gdl_weight": 1.0, "adv_weight": 0.05}
VIDEO_TRAIN: dict[str, Any] = {
    "steps": 6000,
    "batch_size": 16,
    "lr_g": 1e-3,
    "lr_d": 2e-4,
    "beta1": 0.5,
    "lr_decay_start": 0.5,
    # One thread: the convs of one batch are too little work to share two busy cores.
    "threads": 1,
    # bf16 autocast where the CPU has it: 0.39 s a step vs 0.56 in fp32 (moving-mnist-l2, one
    # thread, the machine shared with other jobs).
    "precision": "auto",
    "max_minutes": 30.0,
    # Predictions start as blurry averages: not a collapse worth warning about.
    "collapse_ratio": 0.0,
    "log_every": 100,
    "sample_every": 500,
    "checkpoint_every": 500,
}

# name -> (one-line description, overrides of the defaults)
PRESETS: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    "ring-vanilla": (
        "Vanilla MLP GAN (Goodfellow 2014, non-saturating) on 8 Gaussians in a ring, R1 0.1 "
        "(lazy, every 4th D step): every mode at its share; 4,000 steps",
        {
            "data": {"source": "ring"},
            "model": dict(TOY_MODEL),
            # Without R1, 2 of 5 seeds left a mode under half its share (KL up to 0.34); with it
            # 5 of 5 balanced, KL <= 0.003 (benchmarks/mode_coverage.py --variants r1_lazy4).
            "train": {**TOY_TRAIN, "r1_weight": 0.1, "r1_every": 4},
        },
    ),
    "grid-mbstd-pack": (
        "ring-vanilla's MLP GAN on the 25-Gaussian grid with minibatch std, PacGAN packing 2, "
        "R3GAN's relativistic pairing loss and R1 + R2: every mode at >= half its share in 5 of "
        "5 seeds (benchmarks/mode_coverage.py); 12,000 steps",
        {
            "data": {"source": "grid"},
            "model": {**TOY_MODEL, "minibatch_std": True, "pack": 2},
            "train": {
                **TOY_TRAIN,
                # 4000 steps (ring-vanilla's) leave 15-24 modes whatever the D option; 12000
                # with the three together gave 25/25 in every seed (high quality 0.35-0.72),
                # but starved modes (5-10 under half their share, KL 0.15-0.29 in 5 of 5 seeds).
                # The relativistic pairing loss with R1 + R2 (R3GAN's) balances them: 5 of 5
                # seeds with none under half, KL 0.007-0.018, high quality 0.68-0.84, at 1.17x
                # the step time (81 vs 69 s side by side); R1/R2 lazily every 4th step lost a
                # seed (KL 0.159), 8,000 or 10,000 steps lost most (KL 0.15-0.43).
                "steps": 12000,
                "loss": "relativistic-pair",
                "r1_weight": 0.1,
                "r2_weight": 0.1,
                "r1_every": 1,
                "log_every": 500,
                "sample_every": 3000,
                "checkpoint_every": 3000,
            },
        },
    ),
    "digits-dcgan": (
        "DCGAN (Radford 2016) on scikit-learn's 1,797 8x8 digits upscaled to 32x32; the default, "
        "1,500 steps",
        {
            "data": {"source": "digits", "resolution": 32},
            "model": {"arch": "dcgan", "latent_dim": 64, "g_width": 32, "d_width": 32},
            "train": {
                "steps": 1500,
                # 32, not 64: the same digits of every class at half the step cost, so the quick
                # start stays under 2 minutes on a CPU without native bf16 too (fp32 1 thread:
                # 81 s vs 146 s at batch 64; bf16: 65 s vs 94 s; side by side, 2-core EPYC)
                "batch_size": 32,
                "ema": 0.999,
                "precision": "auto",  # bf16 where the CPU/GPU has it natively: ~1.6x here
                # bf16 convolutions on 2 threads ran 3.4-8x slower than on 1 on the 2-core
                # EPYC, quiet or busy; 1 thread was the best arm or within 0.76x of it
                # (benchmarks/results/quickstart.jsonl).
                "threads": 1,
                "log_every": 100,
                "sample_every": 500,
                "checkpoint_every": 500,
            },
        },
    ),
    "mnist-dcgan": (
        "DCGAN on MNIST 28x28 (60,000 digits; non-saturating, EMA); 5,000 steps",
        {
            "data": {"source": "mnist", "resolution": 28},
            "model": {"arch": "dcgan", "latent_dim": 100, "g_width": 64, "d_width": 64},
            "train": {
                **MNIST_AUGMENT,
                "steps": 5000,
                "batch_size": 64,
                "ema": 0.999,
                "log_every": 100,
                "sample_every": 500,
                "checkpoint_every": 1000,
            },
        },
    ),
    "stacked-mnist": (
        "PacDCGAN2 (Lin 2018) on StackedMNIST's 1,000 modes: mnist-dcgan's networks on 28x28x3, "
        "D with PacGAN packing 2 and minibatch std, R3GAN's relativistic pairing loss with lazy "
        "R1 + R2 0.1, EMA; 12,000 steps",
        {
            "data": {"source": "stacked-mnist", "resolution": 28},
            "model": {
                "arch": "dcgan",
                "latent_dim": 100,
                "g_width": 64,
                "d_width": 64,
                "minibatch_std": True,
                "pack": 2,
            },
            "train": {
                # 0.073 CPU-s a step (bf16, 1 thread, 2-core EPYC): 12,000 steps ~15 min, inside
                # the 20; 3,000 steps left 857 modes of 10,000 samples, KL 0.99.
                # 12,000 steps, seed 0 (benchmarks/stacked_mnist.py, Xeon, other jobs beside):
                # non-saturating 1,000 modes, KL 0.214, FID ~131 in 1,317 s; the relativistic
                # pairing loss with lazy R1 + R2 (grid-mbstd-pack's balancing) 1,000, KL 0.148,
                # FID ~93 in 2,136 s (load 2-3): most of the KL left is each channel's digits
                # (0.041 / 0.033 / 0.047), not the channels' dependence (0.028).
                "steps": 12000,
                "loss": "relativistic-pair",
                "r1_weight": 0.1,
                "r2_weight": 0.1,
                "r1_every": 4,
                "batch_size": 64,
                "ema": 0.999,
                "precision": "auto",  # bf16 where the CPU has it natively (as digits-dcgan)
                "threads": 1,
                "log_every": 200,
                "sample_every": 1000,
                "checkpoint_every": 1000,
            },
            "eval": {"metrics": "stacked-modes"},
        },
    ),
    "mnist-r3gan": (
        "R3GAN (Huang 2024) on MNIST 28x28: relativistic-pair loss, R1 = R2 = 0.05 (lazy, every "
        "4th D step), a CPU-sized normalisation-free ResNet (1 block per resolution, width "
        "16-64), EMA; 10,000 steps",
        {
            "data": {"source": "mnist", "resolution": 28},
            "model": {
                "arch": "resnet",
                "latent_dim": 64,
                "g_width": 16,
                "d_width": 16,
                "blocks_per_stage": 1,
            },
            # Lazy R1/R2 (every 4th D step, scaled by 4; StyleGAN2 takes 16): one step costs
            # ~1 s of CPU with both penalties every step, 7x mnist-dcgan's (benchmarks/r3gan.py).
            "train": {**R3GAN_TRAIN, "steps": 10000, "r1_every": 4},
        },
    ),
    "stacked-mnist-r3gan": (
        "R3GAN (Huang 2024) on StackedMNIST's 1,000 modes (28x28x3): mnist-r3gan's loss, lazy "
        "R1/R2 and ResNet; 10,000 steps",
        {
            "data": {"source": "stacked-mnist", "resolution": 28},
            "model": {
                "arch": "resnet",
                "latent_dim": 64,
                "g_width": 16,
                "d_width": 16,
                "blocks_per_stage": 1,
            },
            "train": {**R3GAN_TRAIN, "steps": 10000, "r1_every": 4},
            "eval": {"metrics": "stacked-modes"},
        },
    ),
    "mnist-wgangp": (
        "WGAN-GP (Gulrajani 2017) DCGAN on MNIST: n_critic 5, GP 10, Adam(0, 0.9), no BatchNorm "
        "in D; 2,000 steps",
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
                **WGANGP_TRAIN,
                **MNIST_AUGMENT,
                "steps": 2000,
                "ema": 0.999,
                "sample_every": 500,
            },
        },
    ),
    "mnist-hinge-sn": (
        "Hinge loss with a spectrally normalised D (Miyato 2018) on MNIST, TTUR lr 1e-4 / 4e-4; "
        "5,000 steps",
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
                **MNIST_AUGMENT,
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
        "Conditional DCGAN on MNIST: projection D (Miyato & Koyama 2018), label embedding "
        "beside the noise in G; sample by digit; 10,000 steps",
        {
            "data": {"source": "mnist", "resolution": 28},
            "model": {
                "family": "conditional",
                "arch": "dcgan",
                "latent_dim": 64,
                "g_width": 32,
                "d_width": 32,
            },
            "conditional": {
                "conditioning": "projection",
                # Not cbn: per-class BN scales start equal and move ~lr per step, so at these
                # rates they separate the classes far more slowly (10% vs 50% at step 250).
                "g_conditioning": "embed",
                # Without it G ignores its noise and draws one image per digit (within-class
                # pixel std 0.15x the data's at step 1000; 1.0x with it): MSGAN (Mao 2019).
                "mode_seeking": 1.0,
            },
            "train": {
                **MNIST_AUGMENT,
                "steps": 10000,
                "batch_size": 64,
                # The rates fall to 0 over the last quarter, which settles the class identities.
                "lr_decay_start": 0.75,
                "ema": 0.999,
                "log_every": 100,
                "sample_every": 500,
                "checkpoint_every": 1000,
            },
        },
    ),
    "mnist-acgan": (
        "AC-GAN (Odena 2017) DCGAN on MNIST: label embedding beside the noise, D with an "
        "auxiliary classifier; 10,000 steps",
        {
            "data": {"source": "mnist", "resolution": 28},
            "model": {
                "family": "conditional",
                "arch": "dcgan",
                "latent_dim": 64,
                "g_width": 32,
                "d_width": 32,
                # A Lipschitz D makes its classifier harder for G to fool with non-digits; with
                # BatchNorm instead, whole classes came out as another digit more often.
                "d_norm": "none",
                "spectral_norm": True,
            },
            "conditional": {
                "conditioning": "acgan",
                "g_conditioning": "embed",
                "ac_weight": 1.0,
                "mode_seeking": 1.0,
            },
            "train": {
                **MNIST_AUGMENT,
                "steps": 10000,
                "batch_size": 64,
                "lr_decay_start": 0.75,
                "ema": 0.999,
                "log_every": 100,
                "sample_every": 500,
                "checkpoint_every": 1000,
            },
        },
    ),
    "ring-cgan": (
        "Conditional MLP GAN on the 8-Gaussian ring, one label per mode (projection D); 4,000 steps",
        {
            "data": {"source": "ring"},
            "model": {
                **TOY_MODEL,
                "family": "conditional",
            },
            "conditional": {"conditioning": "projection", "embed_dim": 8},
            "train": dict(TOY_TRAIN),
        },
    ),
    "mnist-ganomaly": (
        "GANomaly (Akcay 2018) on MNIST: encoder-decoder-encoder G, for `ganforge anomaly`; "
        "3,000 steps",
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
                **GANOMALY_TRAIN,
                "log_every": 100,
                "sample_every": 1000,
                "checkpoint_every": 1000,
            },
        },
    ),
    "mnist-fanogan": (
        "f-AnoGAN (Schlegl 2019) on MNIST, for `ganforge anomaly`: 3,000 steps, 2,000 of WGAN-GP, "
        "then an izi_f encoder",
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
            "fanogan": dict(FANOGAN_SETTINGS),
            "train": {
                **FANOGAN_TRAIN,
                "log_every": 100,
                "sample_every": 1000,
                "checkpoint_every": 1000,
            },
        },
    ),
    "edges2digits-pix2pix": (
        "pix2pix (Isola 2017) on edges2digits: MNIST edge maps -> digits, U-Net + PatchGAN, "
        "adversarial + 100 L1; 2,000 steps",
        {
            "data": {"source": "edges2digits", "resolution": 28},
            "model": {
                "family": "pix2pix",
                "arch": "unet",
                "g_width": 16,
                "d_width": 16,
            },
            "pix2pix": {"patch_layers": 2, "l1_weight": 100.0},  # 34x34 patches: a whole digit
            "train": {
                "steps": 2000,
                "batch_size": 64,
                "loss": "nonsaturating",
                "lr_g": 2e-4,
                "lr_d": 2e-4,
                "beta1": 0.5,
                "ema": 0.999,
                "log_every": 100,
                "sample_every": 500,
                "checkpoint_every": 1000,
            },
        },
    ),
    "edges2digits-l1": (
        "The non-adversarial baseline of edges2digits-pix2pix: the same U-Net trained with L1 "
        "only (D never trained); 2,000 steps",
        {
            "data": {"source": "edges2digits", "resolution": 28},
            "model": {
                "family": "pix2pix",
                "arch": "unet",
                "g_width": 16,
                "d_width": 16,
            },
            "pix2pix": {"patch_layers": 2, "l1_weight": 100.0, "adv_weight": 0.0},
            "train": {
                "steps": 2000,
                "batch_size": 64,
                "lr_g": 2e-4,
                "lr_d": 2e-4,
                "beta1": 0.5,
                "ema": 0.999,
                "log_every": 100,
                "sample_every": 500,
                "checkpoint_every": 1000,
            },
        },
    ),
    "moving-mnist": (
        "Next-frame prediction (Mathieu 2016) on Moving MNIST, 10 -> 10 frames at 64x64: U-Net "
        "over stacked frames, multi-scale D; L2 for the first 6,000, then L2 + gradient "
        "difference + 0.003 adversarial; 8,000 steps",
        {
            "data": {"source": "moving-mnist", "resolution": 64},
            "model": {"family": "video", "g_width": 32, "d_width": 16},
            # An L2 warm start, then GDL + adversarial at 0.01 (benchmarks/video.py, 1,000 test
            # sequences): 4,000 + 2,000 steps MSE 110.5 / SSIM 0.732 / sharpness 0.55 (0.05:
            # 128.9 / 0.743 / 0.73); 6,000 + 2,000 steps 105.0 / 0.736 / 0.54 in 25.3 min
            # (Xeon, bf16, beside other jobs); from its 6,000-step state, 2,000 steps at 0.003
            # (the same lr schedule): 97.8 / 0.729 / 0.42, the one that meets MSE <= 103;
            # L2 only 97.8 / 0.626 / 0.41.
            "video": {**VIDEO_SETTINGS, "pretrain_steps": 6000, "adv_weight": 0.003},
            "train": {**VIDEO_TRAIN, "steps": 8000},
        },
    ),
    "moving-mnist-l2": (
        "The non-adversarial baseline of moving-mnist: the same predictor trained with L2 only "
        "(D never trained); 6,000 steps",
        {
            "data": {"source": "moving-mnist", "resolution": 64},
            "model": {"family": "video", "g_width": 32, "d_width": 16},
            "video": {**VIDEO_SETTINGS, "adv_weight": 0.0, "gdl_weight": 0.0},
            "train": dict(VIDEO_TRAIN),
        },
    ),
    "mnist2thick-cyclegan": (
        "CycleGAN (Zhu 2017) on unpaired MNIST <-> thickened MNIST: ResNet generators, "
        "PatchGANs, LSGAN, cycle 10, identity 0.5; 3,000 steps",
        {
            "data": {"source": "mnist2thick", "resolution": 28},
            "model": {
                "family": "cyclegan",
                "arch": "resnet",
                "g_width": 16,
                "d_width": 16,
            },
            "cyclegan": {
                "resnet_blocks": 3,
                "patch_layers": 2,
                "cycle_weight": 10.0,
                "identity_weight": 0.5,
                "pool_size": 50,
            },
            "train": {
                "steps": 3000,
                "batch_size": 16,
                "loss": "lsgan",
                "lr_g": 2e-4,
                "lr_d": 2e-4,
                "beta1": 0.5,
                "lr_decay_start": 0.5,  # constant, then linear decay to 0, as the paper
                "ema": 0.999,
                "log_every": 100,
                "sample_every": 500,
                "checkpoint_every": 1000,
            },
        },
    ),
    "grey2colour-pix2pix": (
        "pix2pix colourisation of 32x32 crops of the built-in photos (grey -> colour); 2,000 steps",
        {
            "data": {"source": "grey2colour", "resolution": 32, "channels": 3},
            "model": {
                "family": "pix2pix",
                "arch": "unet",
                "g_width": 32,
                "d_width": 32,
            },
            "pix2pix": {"patch_layers": 2, "l1_weight": 100.0},
            "train": {
                "steps": 2000,
                "batch_size": 32,
                "lr_g": 2e-4,
                "lr_d": 2e-4,
                "beta1": 0.5,
                "ema": 0.999,
                "log_every": 100,
                "sample_every": 500,
                "checkpoint_every": 1000,
            },
        },
    ),
    # Super-resolution on the built-in photos (data/photos.py: train = china, flower, astronaut,
    # rocket, motorcycle, hubble_deep_field, immunohistochemistry, retina; held out for
    # `ganforge eval-sr --data photos:test` = chelsea, coffee). --resolution is the HR crop.
    # Sized for a CPU: SRResNet with 8 blocks of 48 channels (Ledig 2017: 16 of 64).
    "photos-srresnet-x4": (
        "SRResNet x4 (Ledig 2017; PSNR-oriented, L1) on 64x64 crops of the built-in photos; "
        "2,000 steps, beats bicubic on the held-out photos",
        _sr_preset(4, 64, steps=2000, pretrain=2000),
    ),
    "photos-srresnet-x2": (
        "SRResNet x2 (PSNR-oriented, L1) on 48x48 crops of the built-in photos; 2,000 steps",
        _sr_preset(2, 48, steps=2000, pretrain=2000),
    ),
    "photos-srgan-x4": (
        "SRGAN x4 on the built-in photos: 2,600 steps, 2,000 SRResNet, then 600 adversarial "
        "(ESRGAN's relativistic loss, D-feature perceptual loss; --perceptual vgg "
        "--vgg-weights FILE for VGG19)",
        # ESRGAN's balance (Wang 2018): a small pixel weight lets the perceptual and adversarial
        # terms add texture; adv 1e-2 (ESRGAN 5e-3) because only 600 GAN steps fit on a CPU.
        _sr_preset(
            4,
            64,
            steps=2600,
            pretrain=2000,
            relativistic=True,
            pixel_weight=0.1,
            perceptual_weight=1.0,
            adv_weight=1e-2,
        ),
    ),
    **{f"photos-r3gan-{side}": _r3gan_photos(side) for side in (32, 64, 128, 256)},
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
