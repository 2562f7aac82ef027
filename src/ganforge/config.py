"""Every setting of a run as dataclasses, with TOML in/out and named presets."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w
import tomllib

from ganforge.errors import GanforgeError


@dataclass
class DataConfig:
    """What to train on: `ring`, `grid`, `digits`, `mnist[:PATH]`, `folder:PATH`."""

    source: str = "digits"
    resolution: int = 32
    channels: int = 0  # 0: as the data comes (grey stays grey, colour stays RGB)
    limit: int = 0  # use only the first N samples (0: all); for data-efficiency studies


@dataclass
class ModelConfig:
    """Which networks to build, and their sizes. Shape fields are filled from the data."""

    family: str = "unconditional"
    arch: str = "dcgan"  # mlp | dcgan
    latent_dim: int = 100
    g_width: int = 64  # DCGAN: channels of the last generator block; MLP: hidden units
    d_width: int = 64
    mlp_layers: int = 3  # hidden layers of each MLP
    # DCGAN depth: stride-1 3x3 conv blocks after each resolution change (0: the paper's nets)
    g_extra_layers: int = 0
    d_extra_layers: int = 0
    d_norm: str = "batch"  # batch | none | layer  (discriminator normalisation)
    spectral_norm: bool = False  # spectral normalisation on every discriminator layer
    sample_shape: list[int] = field(default_factory=list)  # (C, H, W) or (D,): from the data
    num_classes: int = 0  # from the data (conditional families)
    class_names: list[str] = field(default_factory=list)
    # Conditional family only (Mirza & Osindero 2014); the other families ignore these.
    conditioning: str = "projection"  # D: projection (Miyato & Koyama 2018) | acgan (Odena 2017)
    g_conditioning: str = "embed"  # G: embed (label embedding + noise) | cbn (conditional BN)
    embed_dim: int = 32  # size of G's label embedding (g_conditioning = embed)
    ac_weight: float = 1.0  # AC-GAN: weight of the auxiliary classifier's cross-entropy
    mode_seeking: float = 0.0  # weight of MSGAN's diversity term (Mao 2019); 0: off
    # Against mode collapse: discriminator options (training/monitor.py docs, README)
    minibatch_std: bool = False  # minibatch standard deviation channel (Karras 2018)
    minibatch_disc: bool = False  # minibatch discrimination features (Salimans 2016)
    pack: int = 1  # PacGAN (Lin 2018): D judges `pack` samples at once (1: off)
    # Super-resolution family (families/srgan.py); the other families ignore these.
    scale: int = 4  # SR upscaling factor: 2, 3, 4 or 8
    sr_blocks: int = 16  # SRResNet residual blocks (g_width: their channels)
    # Anomaly families (apps/anomaly.py); the other families ignore these.
    ganomaly_w_adv: float = 1.0  # GANomaly (Akcay 2018): weight of the D-feature loss
    ganomaly_w_con: float = 50.0  # GANomaly: weight of the L1 reconstruction loss
    ganomaly_w_enc: float = 1.0  # GANomaly: weight of the L2 latent (encoder) loss
    fanogan_kappa: float = 1.0  # f-AnoGAN (Schlegl 2019): D-feature weight in izi_f
    # Translation families (pix2pix, cyclegan); arch: unet | resnet (dcgan: the paper's choice)
    translation_norm: str = ""  # batch | instance | none ("": pix2pix batch, CycleGAN instance)
    unet_depth: int = 0  # U-Net levels (0: halve down to 1x1, as the paper's 8 levels at 256)
    resnet_blocks: int = 6  # ResNet translator blocks (CycleGAN: 6 at 128x128, 9 at 256x256)
    patch_layers: int = 3  # PatchGAN stride-2 layers (3: 70x70 patches, the papers' choice)


@dataclass
class TrainConfig:
    """How to train: the loop, the objective, the optimisers and the run's bookkeeping."""

    steps: int = 2000  # generator updates
    batch_size: int = 64
    loss: str = "nonsaturating"  # minimax | nonsaturating | wasserstein | hinge | lsgan
    n_critic: int = 1  # discriminator updates per generator update
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay_start: float = (
        1.0  # fraction of steps after which both lrs fall linearly to 0 (1: never)
    )
    gp_weight: float = 0.0  # WGAN-GP weight (Gulrajani 2017: 10)
    r1_weight: float = 0.0  # R1 gamma (Mescheder 2018); penalty applied as gamma/2 * E||grad||^2
    r1_every: int = 16  # lazy R1: every k discriminator steps, scaled by k
    ema: float = 0.0  # EMA decay of the generator's weights (0: off); samples/export use the EMA
    grad_clip: float = 0.0  # clip both networks' gradient norm (0: off)
    seed: int = 0
    device: str = "cpu"  # cpu | cuda | cuda:N | mps | auto
    precision: str = "fp32"  # fp32 | bf16 | fp16 | auto (bf16 where the hardware has it)
    threads: int = 0  # CPU intra-op threads (0: the usable cores, shared among local ranks)
    channels_last: bool = False  # NHWC memory format for conv nets
    fused_adam: bool = False  # one fused Adam kernel per step where supported
    compile: bool = False  # torch.compile G and D (first step compiles: ~40 s on CPU)
    sync_bn: bool = True  # under torchrun on CUDA: BatchNorm over the global batch (SyncBatchNorm)
    max_minutes: float = 0.0  # stop (and save) after this much training time (0: no limit)
    log_every: int = 100
    sample_every: int = 500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    tensorboard: bool = True
    # Data efficiency: DiffAugment (Zhao 2020) on every D input; ADA strength (Karras 2020)
    diffaugment: str = ""  # comma list of color, translation, cutout ("": off)
    augment_shift: float = 0.125  # translation: largest shift, fraction of the side (paper 1/8)
    augment_cutout: float = 0.5  # cutout: side of the blanked square, fraction (paper 1/2)
    ada_target: float = 0.0  # ADA target of E[sign(D(real))] (paper: 0.6); 0: fixed strength
    ada_interval: int = 4  # ADA: discriminator steps between adjustments of p
    ada_kimg: float = 100.0  # ADA: thousand real images for p to move by 1 (paper: 500)
    # Health monitor (training/monitor.py): on NaN/Inf or divergence, roll back and retry
    monitor: bool = True
    max_rollbacks: int = 3  # then stop with an error
    rollback_lr_factor: float = 0.5  # both lrs are multiplied by this at each rollback
    divergence_acc: float = 0.99  # D accuracy on real and on fake at least this ...
    divergence_window: int = 1000  # ... for this many steps while G loss rises (0: no check)
    collapse_ratio: float = 0.5  # diversity/class entropy/modes below this share of its best
    # Super-resolution family (Ledig 2017; Wang 2018): the content and adversarial terms
    sr_pretrain_steps: int = 0  # first N steps: pixel loss only, D idle (the PSNR model)
    sr_pixel_loss: str = "l1"  # l1 | mse
    sr_pixel_weight: float = 1.0  # weight of the pixel loss after pretraining
    sr_perceptual: str = "dfeat"  # dfeat (D features, offline) | vgg (needs sr_vgg_weights) | none
    sr_perceptual_weight: float = 1.0
    sr_vgg_weights: str = ""  # local torchvision vgg19 weights file for sr_perceptual = vgg
    sr_adv_weight: float = 5e-3  # weight of the adversarial term (ESRGAN 5e-3, SRGAN 1e-3)
    sr_relativistic: bool = False  # relativistic average D and G losses (ESRGAN)
    # f-AnoGAN: the first N steps train the WGAN; the later ones the encoder only (G, D frozen)
    fanogan_gan_steps: int = 0
    # Translation families: pix2pix (Isola 2017) and CycleGAN (Zhu 2017) loss terms
    translation_adv_weight: float = 1.0  # adversarial term (0: L1/cycle only, D never trained)
    pix2pix_l1_weight: float = 100.0  # lambda of pix2pix's L1 term
    cycle_weight: float = 10.0  # lambda of CycleGAN's cycle-consistency terms
    cycle_identity_weight: float = 0.5  # CycleGAN identity terms, as a share of cycle_weight
    cycle_pool_size: int = 50  # CycleGAN history of generated images shown to D (0: off)


@dataclass
class EvalConfig:
    """Metrics during training: every N steps on the sampling (EMA) generator; best.pt kept."""

    every: int = 0  # 0: off
    metrics: str = "fid"  # comma list of fid,kid,is,pr,dc; the first one picks best.pt
    n: int = 2000  # generated samples per evaluation (and reference samples)
    reference: str = ""  # "" = mnist:test for MNIST runs, else the training data
    extractor: str = ""  # "" = mnist for grey images, randconv for colour; or inception
    weights: str = ""  # weights file for the extractor (e.g. the FID Inception weights)


@dataclass
class Config:
    """A whole run: its name and place, the data, the model and the training settings."""

    name: str = ""
    out: str = "runs"
    preset: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (TOML- and torch.load(weights_only)-safe)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str = "config") -> Config:
        """Build from a nested dict, rejecting unknown keys with a clear message."""
        return _from_dict(cls, raw, where)

    def save(self, path: str | Path) -> None:
        """Write as TOML."""
        Path(path).write_text(tomli_w.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> Config:
        """Read a TOML file written by `save` or by hand (any subset of the keys)."""
        try:
            raw = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise GanforgeError("config file not found", str(path)) from None
        except OSError as e:  # a folder, no permission
            raise GanforgeError(
                f"cannot read the config file ({e.strerror})", str(path), "give a TOML file"
            ) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise GanforgeError(f"config file is not valid TOML ({e})", str(path)) from None
        return cls.from_dict(raw, str(path))


def _from_dict(cls: type, raw: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        if key not in known:
            raise GanforgeError(
                f"unknown setting {key!r}", where, f"valid: {', '.join(sorted(known))}"
            )
        sub = _SECTIONS.get(key) if cls is Config else None
        if sub is not None:
            if not isinstance(value, dict):
                raise GanforgeError(f"section [{key}] must be a table", where)
            value = _from_dict(sub, value, f"{where} [{key}]")
        else:
            value = _checked_value(key, value, str(known[key].type), where)
        kwargs[key] = value
    return cls(**kwargs)


# The plain types a setting may hold (dataclass annotations are strings here: PEP 563).
_PLAIN_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}


def _checked_value(key: str, value: Any, kind: str, where: str) -> Any:
    """A setting's value with its declared type (int accepted for float), or one clear line;
    floats must be finite (TOML allows nan and inf)."""
    if kind.startswith("list"):
        if not isinstance(value, (list, tuple)):
            raise GanforgeError(f"setting {key!r} must be a list, got {value!r}", where)
        return list(value)
    allowed = _PLAIN_TYPES.get(kind)
    if allowed is None:
        return value
    # bool is an int in Python: a number where a switch is expected (and vice versa) is a mistake
    wrong_bool = isinstance(value, bool) != (kind == "bool")
    if wrong_bool or not isinstance(value, allowed):
        raise GanforgeError(
            f"setting {key!r} must be {'a whole number' if kind == 'int' else 'a ' + kind}, "
            f"got {value!r}",
            where,
        )
    if kind == "float":
        value = float(value)
        if not math.isfinite(value):
            raise GanforgeError(f"setting {key!r} must be a finite number, got {value!r}", where)
    return value


_SECTIONS = {
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
}


def merge(config: Config, overrides: dict[str, dict[str, Any]]) -> Config:
    """A copy of `config` with {section: {key: value}} overrides applied."""
    raw = config.to_dict()
    for section, values in overrides.items():
        if section in _SECTIONS:
            raw[section].update(values)
        else:
            raw[section] = values
    return Config.from_dict(raw, "overrides")


def validate(config: Config) -> None:
    """Reject impossible settings with one clear line each."""
    t = config.train
    positive = {
        "steps": t.steps,
        "batch-size": t.batch_size,
        "lr-g": t.lr_g,
        "lr-d": t.lr_d,
        "n-critic": t.n_critic,
        "log-every": t.log_every,
        "r1-every": t.r1_every,
        "latent-dim": config.model.latent_dim,
        "g-width": config.model.g_width,
        "d-width": config.model.d_width,
    }
    for name, value in positive.items():
        if not isinstance(value, (int, float)) or value <= 0:
            raise GanforgeError(f"--{name} must be positive, got {value!r}")
    for name in ("g_extra_layers", "d_extra_layers"):
        value = getattr(config.model, name)
        if not isinstance(value, int) or value < 0:
            flag = name.replace("_", "-")
            raise GanforgeError(f"--{flag} must be a whole number >= 0, got {value!r}")
    if not 0.0 <= t.lr_decay_start <= 1.0:
        raise GanforgeError(f"--lr-decay-start must be in [0, 1], got {t.lr_decay_start!r}")
    if not 0.0 <= t.ema < 1.0:
        raise GanforgeError(f"--ema must be in [0, 1), got {t.ema!r}")
    from ganforge.objectives import check_loss_name

    check_loss_name(t.loss, "--loss")
    if t.precision not in ("fp32", "bf16", "fp16", "auto"):
        raise GanforgeError(
            f"unknown precision {t.precision!r}", fix="use fp32, bf16, fp16 or auto"
        )
    if config.model.d_norm not in ("batch", "none", "layer"):
        raise GanforgeError(
            f"unknown --d-norm {config.model.d_norm!r}", fix="use batch, none or layer"
        )
    if config.data.resolution <= 0:
        raise GanforgeError(f"--resolution must be positive, got {config.data.resolution}")
    _validate_weights(config)
    _validate_resolution(config)
    _validate_stability(config)


# Settings that weigh a loss term or clip/limit something: a negative value is never meant
# (a negative --gp trains *against* the penalty, silently).
_NON_NEGATIVE = (
    "gp_weight",
    "r1_weight",
    "grad_clip",
    "max_minutes",
    "sr_pixel_weight",
    "sr_perceptual_weight",
    "sr_adv_weight",
    "translation_adv_weight",
    "pix2pix_l1_weight",
    "cycle_weight",
    "cycle_identity_weight",
    "cycle_pool_size",
    "sr_pretrain_steps",
    "fanogan_gan_steps",
    "checkpoint_every",
    "sample_every",
    "keep_checkpoints",
    "divergence_window",
    "threads",
    "ac_weight",
    "mode_seeking",
    "ganomaly_w_adv",
    "ganomaly_w_con",
    "ganomaly_w_enc",
    "fanogan_kappa",
    "limit",
)


def _validate_weights(config: Config) -> None:
    """Loss weights, intervals and limits are >= 0; Adam's betas in [0, 1)."""
    for section in (config.data, config.model, config.train, config.eval):
        for name in _NON_NEGATIVE:
            value = getattr(section, name, None)
            if value is not None and value < 0:
                flag = name.replace("_", "-")
                raise GanforgeError(
                    f"{flag} must be >= 0, got {value!r}", fix="use 0 to turn it off"
                )
    t = config.train
    for name in ("beta1", "beta2"):
        if not 0.0 <= getattr(t, name) < 1.0:
            raise GanforgeError(f"--{name} must be in [0, 1), got {getattr(t, name)!r}")


def _validate_resolution(config: Config) -> None:
    """The DCGAN nets (and the conditional ones built on them) take 4*2^k or 7*2^k sides."""
    image_families = ("unconditional", "conditional", "ganomaly", "fanogan")
    if config.model.arch != "dcgan" or config.model.family not in image_families:
        return
    if config.data.source in ("ring", "grid") or config.data.source.startswith("csv:"):
        return  # vector data: the resolution is not used
    from ganforge.nets.layers import base_size

    try:
        base_size(config.data.resolution)
    except ValueError:
        raise GanforgeError(
            f"--resolution {config.data.resolution} is not supported by the dcgan nets",
            fix="use 4*2^k or 7*2^k pixels: 8, 14, 16, 28, 32, 56, 64, 128, ...",
        ) from None


def _validate_stability(config: Config) -> None:
    """Settings of the anti-collapse options, augmentation and health monitor."""
    t, pack = config.train, config.model.pack
    if not isinstance(pack, int) or pack < 1:
        raise GanforgeError(f"--pack must be a positive integer, got {pack!r}")
    if t.batch_size % pack:
        raise GanforgeError(
            f"--batch-size {t.batch_size} is not a multiple of --pack {pack}",
            fix=f"use a batch size divisible by {pack}",
        )
    # The --diffaugment policy names are checked where they are parsed (training/augment.py).
    if not 0.0 < t.augment_shift <= 0.5:
        raise GanforgeError(f"--augment-shift must be in (0, 0.5], got {t.augment_shift!r}")
    if not 0.0 < t.augment_cutout <= 1.0:
        raise GanforgeError(f"--augment-cutout must be in (0, 1], got {t.augment_cutout!r}")
    if not 0.0 <= t.ada_target < 1.0:
        raise GanforgeError(f"--ada-target must be in [0, 1), got {t.ada_target!r}")
    if t.ada_interval < 1 or t.ada_kimg <= 0:
        raise GanforgeError("ada_interval must be >= 1 and ada_kimg positive")
    if not 0.0 < t.rollback_lr_factor <= 1.0:
        raise GanforgeError(f"--rollback-lr-factor must be in (0, 1], got {t.rollback_lr_factor!r}")
    if t.max_rollbacks < 0:
        raise GanforgeError(f"--max-rollbacks must be >= 0, got {t.max_rollbacks!r}")
    if not 0.0 < t.divergence_acc <= 1.0 or not 0.0 <= t.collapse_ratio < 1.0:
        raise GanforgeError("divergence_acc must be in (0, 1] and collapse_ratio in [0, 1)")
