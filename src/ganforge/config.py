"""Every setting of a run as dataclasses, with TOML in/out and named presets."""

from __future__ import annotations

import dataclasses
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
    d_norm: str = "batch"  # batch | none | layer  (discriminator normalisation)
    spectral_norm: bool = False  # spectral normalisation on every discriminator layer
    sample_shape: list[int] = field(default_factory=list)  # (C, H, W) or (D,): from the data
    num_classes: int = 0  # from the data (conditional families)
    class_names: list[str] = field(default_factory=list)


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
    precision: str = "fp32"  # fp32 | bf16 | fp16
    log_every: int = 100
    sample_every: int = 500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    tensorboard: bool = True


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
        kwargs[key] = value
    return cls(**kwargs)


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
    if not 0.0 <= t.lr_decay_start <= 1.0:
        raise GanforgeError(f"--lr-decay-start must be in [0, 1], got {t.lr_decay_start!r}")
    if not 0.0 <= t.ema < 1.0:
        raise GanforgeError(f"--ema must be in [0, 1), got {t.ema!r}")
    from ganforge.objectives import check_loss_name

    check_loss_name(t.loss, "--loss")
    if t.precision not in ("fp32", "bf16", "fp16"):
        raise GanforgeError(f"unknown precision {t.precision!r}", fix="use fp32, bf16 or fp16")
    if config.model.d_norm not in ("batch", "none", "layer"):
        raise GanforgeError(
            f"unknown --d-norm {config.model.d_norm!r}", fix="use batch, none or layer"
        )
    if config.data.resolution <= 0:
        raise GanforgeError(f"--resolution must be positive, got {config.data.resolution}")
