"""Every setting of a run as dataclasses, with TOML in/out, presets' merging and the train flags.

A run's settings are four shared sections (`[data]`, `[model]`, `[train]`, `[eval]`) and one table
per family that has settings of its own (`[srgan]`, `[pix2pix]`, `[cyclegan]`, `[conditional]`,
`[ganomaly]`, `[fanogan]`): each family module declares its dataclass (as
pytorch-CycleGAN-and-pix2pix's `modify_commandline_options` lets each model add its options).
Files written before those tables existed kept the family settings as flat `[model]`/`[train]`
keys (`sr_adv_weight`, `cycle_weight`, ...): `Config.from_dict` moves them to their tables
(`LEGACY_KEYS`), so every old checkpoint, generator.pt, .gft and config.toml still loads.

Every field carries its one-line help (`setting(default, help, flag=...)`): `add_train_flags`
builds `ganforge train`'s flags from them, and `flag_overrides` turns parsed flags into overrides.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w
import tomllib

from ganforge.errors import GanforgeError


def setting(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    factory: Callable[[], Any] | None = None,
    flag: str | None = None,
) -> Any:
    """A dataclass field with its one-line help and, when it has one, its `train` flag.

    A family's settings get a flag by default (`--field-name`); a shared section's fields only
    when `flag` names one. Fields sharing one flag (e.g. `--adv-weight` of srgan, pix2pix,
    cyclegan and ganomaly) are set together: each family reads its own table.
    """
    metadata = {"help": help, "flag": flag}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class DataConfig:
    """What to train on: `ring`, `grid`, `digits`, `mnist[:PATH]`, `folder:PATH`."""

    source: str = setting(
        "digits",
        "what to train on: ring, grid, digits, mnist[:PATH], folder:PATH, csv:FILE, paired:A,B, "
        "unpaired:A,B, moving-mnist[:PATH], frames:DIR",
        flag="--data",
    )
    resolution: int = setting(32, "image side in pixels (srgan: the HR crop)", flag="--resolution")
    channels: int = setting(
        0, "0: as the data comes (grey stays grey, colour stays RGB)", flag="--channels"
    )
    limit: int = setting(
        0, "use only the first N samples (0: all); for data-efficiency studies", flag="--limit"
    )


@dataclass
class ModelConfig:
    """Which networks to build, and their sizes. Shape fields are filled from the data."""

    family: str = setting(
        "unconditional",
        "model family: unconditional, conditional, srgan, pix2pix, cyclegan, ganomaly, fanogan, "
        "video",
        flag="--family",
    )
    arch: str = setting("dcgan", "mlp | dcgan | resnet (R3GAN's, no normalisation)", flag="--arch")
    latent_dim: int = setting(100, "size of the generator's noise vector", flag="--latent-dim")
    g_width: int = setting(
        64, "DCGAN: channels of the last generator block; MLP: hidden units", flag="--g-width"
    )
    d_width: int = setting(
        64, "DCGAN: channels of the first discriminator block; MLP: hidden units", flag="--d-width"
    )
    mlp_layers: int = setting(3, "hidden layers of each MLP")
    g_extra_layers: int = setting(
        0,
        "DCGAN depth: stride-1 3x3 conv blocks after each resolution change (0: the paper's nets)",
        flag="--g-extra-layers",
    )
    d_extra_layers: int = setting(
        0,
        "DCGAN depth: extra stride-1 3x3 conv blocks in the discriminator",
        flag="--d-extra-layers",
    )
    blocks_per_stage: int = setting(
        2, "resnet: residual blocks per resolution", flag="--blocks-per-stage"
    )
    expansion: int = setting(2, "resnet: inverted bottleneck width factor")
    group_channels: int = setting(16, "resnet: channels per group of the grouped 3x3 conv")
    d_norm: str = setting(
        "batch", "discriminator normalisation: batch | none | layer", flag="--d-norm"
    )
    spectral_norm: bool = setting(False, "spectral normalisation on every discriminator layer")
    sample_shape: list[int] = setting(help="(C, H, W) or (D,): from the data", factory=list)
    num_classes: int = setting(0, "from the data (conditional families)")
    class_names: list[str] = setting(
        help="class names, from the data (conditional families)", factory=list
    )
    minibatch_std: bool = setting(
        False,
        "against mode collapse: a minibatch standard deviation channel in D (Karras 2018)",
        flag="--minibatch-std",
    )
    minibatch_disc: bool = setting(
        False, "minibatch discrimination features (Salimans 2016)", flag="--minibatch-disc"
    )
    pack: int = setting(
        1, "PacGAN (Lin 2018): D judges `pack` samples at once (1: off)", flag="--pack"
    )


@dataclass
class TrainConfig:
    """How to train: the loop, the objective, the optimisers and the run's bookkeeping."""

    steps: int = setting(2000, "generator updates", flag="--steps")
    batch_size: int = setting(64, "samples per batch", flag="--batch-size")
    loss: str = setting(
        "nonsaturating",
        "adversarial loss: minimax | nonsaturating | wasserstein | hinge | lsgan | "
        "relativistic-pair (RpGAN, with --r1 and --r2: R3GAN, Huang 2024)",
        flag="--loss",
    )
    n_critic: int = setting(1, "discriminator updates per generator update", flag="--n-critic")
    lr_g: float = setting(2e-4, "generator learning rate (Adam)", flag="--lr-g")
    lr_d: float = setting(2e-4, "discriminator learning rate (Adam)", flag="--lr-d")
    beta1: float = setting(0.5, "Adam beta1 of both optimisers", flag="--beta1")
    beta2: float = setting(0.999, "Adam beta2 of both optimisers", flag="--beta2")
    lr_decay_start: float = setting(
        1.0,
        "fraction of steps after which both lrs fall linearly to 0 (1: never)",
        flag="--lr-decay-start",
    )
    gp_weight: float = setting(0.0, "WGAN-GP weight (Gulrajani 2017: 10)", flag="--gp")
    r1_weight: float = setting(
        0.0, "R1 gamma (Mescheder 2018); penalty applied as gamma/2 * E||grad||^2", flag="--r1"
    )
    r2_weight: float = setting(
        0.0,
        "R2 gamma: R1's zero-centred penalty on fakes (Huang 2024: R1 = R2 = gamma)",
        flag="--r2",
    )
    r1_every: int = setting(16, "lazy R1 and R2: every k discriminator steps, scaled by k")
    ema: float = setting(
        0.0,
        "EMA decay of the generator's weights (0: off); samples/export use the EMA",
        flag="--ema",
    )
    grad_clip: float = setting(
        0.0, "clip both networks' gradient norm (0: off)", flag="--grad-clip"
    )
    seed: int = setting(0, "random seed of the run (same seed, same run)", flag="--seed")
    init_from: str = setting(
        "",
        "fine-tune: start G (and D if saved) from a pretrained name, run or model folder; "
        'shapes checked ("": random init)',
        flag="--init-from-pretrained",
    )
    device: str = setting("cpu", "device: cpu | cuda | cuda:N | mps | auto", flag="--device")
    precision: str = setting(
        "fp32",
        "precision: fp32 | bf16 | fp16 | auto (bf16 where the hardware has it)",
        flag="--precision",
    )
    threads: int = setting(
        0, "CPU intra-op threads (0: the usable cores, shared among local ranks)", flag="--threads"
    )
    channels_last: bool = setting(False, "NHWC memory format for conv nets")
    fused_adam: bool = setting(False, "one fused Adam kernel per step where supported")
    compile: bool = setting(False, "torch.compile G and D (first step compiles: ~40 s on CPU)")
    sync_bn: bool = setting(
        True, "under torchrun on CUDA: BatchNorm over the global batch (SyncBatchNorm)"
    )
    max_minutes: float = setting(
        0.0, "stop (and save) after this much training time (0: no limit)", flag="--max-minutes"
    )
    log_every: int = setting(
        100, "steps between log lines (and metrics.jsonl entries)", flag="--log-every"
    )
    sample_every: int = setting(500, "steps between sample grids (0: none)", flag="--sample-every")
    checkpoint_every: int = setting(
        1000, "steps between periodic checkpoints (0: only the last)", flag="--checkpoint-every"
    )
    keep_checkpoints: int = setting(
        3, "periodic checkpoints kept (0: all)", flag="--keep-checkpoints"
    )
    tensorboard: bool = setting(True, "write TensorBoard events")
    diffaugment: str = setting(
        "",
        'DiffAugment (Zhao 2020) on every D input: comma list of color, translation, cutout ("": off)',
        flag="--diffaugment",
    )
    augment_shift: float = setting(
        0.125,
        "translation: largest shift, fraction of the side (paper 1/8)",
        flag="--augment-shift",
    )
    augment_cutout: float = setting(
        0.5, "cutout: side of the blanked square, fraction (paper 1/2)", flag="--augment-cutout"
    )
    ada_target: float = setting(
        0.0, "ADA target of E[sign(D(real))] (paper: 0.6); 0: fixed strength", flag="--ada-target"
    )
    ada_interval: int = setting(4, "ADA: discriminator steps between adjustments of p")
    ada_kimg: float = setting(
        100.0, "ADA: thousand real images for p to move by 1 (paper: 500)", flag="--ada-kimg"
    )
    monitor: bool = setting(
        True,
        "health monitor: on NaN/Inf or divergence, roll back and retry (on/off)",
        flag="--monitor",
    )
    max_rollbacks: int = setting(
        3, "rollbacks before the monitor stops the run with an error", flag="--max-rollbacks"
    )
    rollback_lr_factor: float = setting(
        0.5, "both lrs are multiplied by this at each rollback", flag="--rollback-lr-factor"
    )
    divergence_acc: float = setting(0.99, "D accuracy on real and on fake at least this ...")
    divergence_window: int = setting(
        1000, "... for this many steps while G loss rises (0: no check)", flag="--divergence-window"
    )
    collapse_ratio: float = setting(
        0.5, "diversity/class entropy/modes below this share of its best"
    )


@dataclass
class EvalConfig:
    """Metrics during training: every N steps on the sampling (EMA) generator; best.pt kept."""

    every: int = setting(
        0, "steps between metric evaluations during training (0: off)", flag="--eval-every"
    )
    metrics: str = setting(
        "fid", "comma list of fid,kid,is,pr,dc; the first one picks best.pt", flag="--eval-metrics"
    )
    n: int = setting(
        2000, "generated samples per evaluation (and reference samples)", flag="--eval-n"
    )
    reference: str = setting(
        "", '"" = mnist:test for MNIST runs, else the training data', flag="--eval-ref"
    )
    extractor: str = setting(
        "", '"" = mnist for grey images, randconv for colour; or inception', flag="--eval-extractor"
    )
    weights: str = setting(
        "",
        "weights file for the extractor (e.g. the FID Inception weights)",
        flag="--inception-weights",
    )


def family_settings_classes() -> dict[str, type]:
    """Family name -> the settings dataclass its module declares (families with settings only)."""
    from ganforge.families import SETTINGS  # families import this module: resolved at call time

    return SETTINGS


def default_family_settings() -> dict[str, Any]:
    """Every family's settings at their defaults."""
    return {name: cls() for name, cls in family_settings_classes().items()}


@dataclass
class Config:
    """A whole run: its name and place, the data, the model, the training settings and one
    settings table per family (`families`: name -> that family's settings dataclass)."""

    name: str = setting("", "run name")
    out: str = setting("runs", "parent folder of run directories")
    preset: str = setting("", "the preset the run started from")
    data: DataConfig = setting(help="[data]", factory=DataConfig)
    model: ModelConfig = setting(help="[model]", factory=ModelConfig)
    train: TrainConfig = setting(help="[train]", factory=TrainConfig)
    eval: EvalConfig = setting(help="[eval]", factory=EvalConfig)
    families: dict[str, Any] = setting(help="[family] tables", factory=default_family_settings)

    def family_settings(self, family: str | None = None) -> Any:
        """The settings table of `family` (default: the run's own family)."""
        name = family or self.model.family
        if name not in self.families:
            raise GanforgeError(
                f"family {name!r} has no settings of its own",
                fix=f"families with settings: {', '.join(self.families)}",
            )
        return self.families[name]

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (TOML- and torch.load(weights_only)-safe); the family tables are
        top-level tables beside [data], [model], [train] and [eval]."""
        raw = dataclasses.asdict(self)
        raw.update(raw.pop("families"))
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any], where: str = "config") -> Config:
        """Build from a nested dict, rejecting unknown keys with a clear message; the flat
        single-family keys of older files (`LEGACY_KEYS`) go to their family tables."""
        if not isinstance(raw, dict):
            raise GanforgeError("a config must be a table of settings", where)
        raw = dict(raw)
        tables = family_settings_classes()
        moved = _move_legacy_keys(raw, where)
        families = {}
        for name, settings_class in tables.items():
            values = raw.pop(name, {})
            if not isinstance(values, dict):
                raise GanforgeError(f"section [{name}] must be a table", where)
            # A flat key is the newer word: merge() writes overrides there over saved tables.
            values = {**values, **moved.get(name, {})}
            families[name] = _from_dict(settings_class, values, f"{where} [{name}]")
        if "families" in raw:
            raise GanforgeError("unknown setting 'families'", where, _valid_keys(tables))
        config = _from_dict(cls, raw, where, extra=tables)
        config.families = families
        return config

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


# The single-family settings of files written before the [family] tables existed:
# (section, old key) -> the (table, key) pairs it now sets. Translation settings that pix2pix and
# CycleGAN share set both tables (the run reads its own family's).
_TRANSLATION = ("pix2pix", "cyclegan")
LEGACY_KEYS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("model", "conditioning"): (("conditional", "conditioning"),),
    ("model", "g_conditioning"): (("conditional", "g_conditioning"),),
    ("model", "embed_dim"): (("conditional", "embed_dim"),),
    ("model", "ac_weight"): (("conditional", "ac_weight"),),
    ("model", "mode_seeking"): (("conditional", "mode_seeking"),),
    ("model", "scale"): (("srgan", "scale"),),
    ("model", "sr_blocks"): (("srgan", "blocks"),),
    ("model", "ganomaly_w_adv"): (("ganomaly", "adv_weight"),),
    ("model", "ganomaly_w_con"): (("ganomaly", "reconstruction_weight"),),
    ("model", "ganomaly_w_enc"): (("ganomaly", "latent_weight"),),
    ("model", "fanogan_kappa"): (("fanogan", "kappa"),),
    ("train", "fanogan_gan_steps"): (("fanogan", "gan_steps"),),
    ("model", "translation_norm"): tuple((t, "norm") for t in _TRANSLATION),
    ("model", "unet_depth"): tuple((t, "unet_depth") for t in _TRANSLATION),
    ("model", "resnet_blocks"): tuple((t, "resnet_blocks") for t in _TRANSLATION),
    ("model", "patch_layers"): tuple((t, "patch_layers") for t in _TRANSLATION),
    ("train", "translation_adv_weight"): tuple((t, "adv_weight") for t in _TRANSLATION),
    ("train", "pix2pix_l1_weight"): (("pix2pix", "l1_weight"),),
    ("train", "cycle_weight"): (("cyclegan", "cycle_weight"),),
    ("train", "cycle_identity_weight"): (("cyclegan", "identity_weight"),),
    ("train", "cycle_pool_size"): (("cyclegan", "pool_size"),),
    **{
        ("train", f"sr_{key}"): (("srgan", key),)
        for key in (
            "pretrain_steps",
            "pixel_loss",
            "pixel_weight",
            "perceptual",
            "perceptual_weight",
            "vgg_weights",
            "adv_weight",
            "relativistic",
        )
    },
}


def _move_legacy_keys(raw: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """Take the old flat family keys out of raw's [model]/[train] (copies); {table: {key: v}}."""
    moved: dict[str, dict[str, Any]] = {}
    for section in ("model", "train"):
        values = raw.get(section)
        if not isinstance(values, dict):
            continue  # _from_dict says what is wrong with it
        values = dict(values)
        for key in [k for k in values if (section, k) in LEGACY_KEYS]:
            value = values.pop(key)
            for table, new_key in LEGACY_KEYS[(section, key)]:
                moved.setdefault(table, {})[new_key] = value
        raw[section] = values
    return moved


def _valid_keys(extra: dict[str, type]) -> str:
    return f"valid: {', '.join(sorted([*_SECTIONS, 'name', 'out', 'preset', *extra]))}"


def _from_dict(cls: type, raw: dict[str, Any], where: str, extra: dict | None = None) -> Any:
    known = {f.name: f for f in fields(cls) if f.name != "families"}
    kwargs = {}
    for key, value in raw.items():
        if key not in known:
            valid = (
                _valid_keys(extra) if extra is not None else f"valid: {', '.join(sorted(known))}"
            )
            raise GanforgeError(f"unknown setting {key!r}", where, valid)
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
    """A copy of `config` with {section or family table: {key: value}} overrides applied
    (old flat family keys, e.g. {"train": {"sr_adv_weight": ...}}, reach their tables)."""
    raw = config.to_dict()
    for section, values in overrides.items():
        if isinstance(raw.get(section), dict):  # a section or a family table
            raw[section].update(values)
        else:
            raw[section] = values
    return Config.from_dict(raw, "overrides")


# ---- the train flags ---------------------------------------------------------------------------


def on_off(text: str) -> bool:
    """A switch value: on/off (also true/false, yes/no, 1/0)."""
    value = text.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")


_FLAG_TYPES: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str}
_FLAG_TYPES["bool"] = on_off


@dataclass(frozen=True)
class TrainFlag:
    """One `ganforge train` flag: the settings it sets, its type and its one-line help."""

    flag: str
    targets: tuple[tuple[str, str], ...]  # (section or family table, key)
    kind: Callable[[str], Any]
    help: str
    replaced_by: str = ""  # a deprecated spelling: the flag to use instead

    @property
    def dest(self) -> str:
        """The argparse attribute the flag's value lands in."""
        return self.flag.lstrip("-").replace("-", "_")


# Old spellings kept for one release: flag -> (the flag to use, the settings it set then).
DEPRECATED_FLAGS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "--translation-adv-weight": ("--adv-weight", tuple((t, "adv_weight") for t in _TRANSLATION)),
}


def _default_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return '""' if value == "" else str(value)


def _flag_help(entries: list[tuple[str, dataclasses.Field]]) -> str:
    """The first field's help, the families it belongs to, and the default(s)."""
    text = next((f.metadata.get("help") for _, f in entries if f.metadata.get("help")), "")
    tables = [t for t, _ in entries if t not in _SECTIONS]
    defaults = {t: _default_text(_field_default(f)) for t, f in entries}
    if len(set(defaults.values())) == 1:
        default = f"default: the preset's, else {next(iter(defaults.values()))}"
    else:
        default = "default: the preset's, else " + ", ".join(
            f"{t} {d}" for t, d in defaults.items()
        )
    scope = f"[{', '.join(tables)}] " if tables else ""
    return f"{scope}{text} ({default})".replace("%", "%%")


def _field_default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def train_flags() -> list[TrainFlag]:
    """Every `ganforge train` flag that sets a setting, built from the dataclasses: the shared
    sections' fields that name a flag, every family setting (`--field-name` unless it names
    another), and the deprecated spellings."""
    grouped: dict[str, list[tuple[str, dataclasses.Field]]] = {}
    for section, cls in _SECTIONS.items():
        for f in fields(cls):
            if f.metadata.get("flag"):
                grouped.setdefault(f.metadata["flag"], []).append((section, f))
    for table, cls in family_settings_classes().items():
        for f in fields(cls):
            flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
            grouped.setdefault(flag, []).append((table, f))
    flags = []
    for flag, entries in grouped.items():
        kinds = {str(f.type) for _, f in entries}
        if len(kinds) != 1:  # a bug in a settings dataclass, not a user mistake
            raise TypeError(f"{flag} sets settings of different types: {sorted(kinds)}")
        targets = tuple((table, f.name) for table, f in entries)
        flags.append(TrainFlag(flag, targets, _FLAG_TYPES[kinds.pop()], _flag_help(entries)))
    for old, (new, targets) in DEPRECATED_FLAGS.items():
        kind = next(t.kind for t in flags if t.flag == new)
        flags.append(TrainFlag(old, targets, kind, f"deprecated: use {new}", replaced_by=new))
    return flags


def add_train_flags(parser: argparse.ArgumentParser) -> None:
    """Add every setting flag of `ganforge train` to `parser`, each with its help and default
    (the value None means "not given": the preset / config file keeps its own)."""
    for spec in train_flags():
        hidden = argparse.SUPPRESS if spec.replaced_by else spec.help  # old spellings: no help
        parser.add_argument(spec.flag, dest=spec.dest, type=spec.kind, default=None, help=hidden)


def _notice(message: str) -> None:
    print(message, file=sys.stderr)


def flag_overrides(
    args: argparse.Namespace, notice: Callable[[str], None] = _notice
) -> dict[str, dict[str, Any]]:
    """{section or family table: {key: value}} of the flags given on the command line (for
    `merge`), with the switches of `train` (--spectral-norm, --no-tensorboard, --fast,
    --channels-last, --compile); a deprecated spelling prints a one-line notice."""
    overrides: dict[str, dict[str, Any]] = {}
    specs = train_flags()
    # Deprecated spellings first: the current flag wins when both are given.
    for spec in sorted(specs, key=lambda s: not s.replaced_by):
        value = getattr(args, spec.dest, None)
        if value is None:
            continue
        if spec.replaced_by:
            notice(
                f"ganforge: warning: `ganforge train {spec.flag}` is deprecated (removed in the "
                f"next release): use {spec.replaced_by}"
            )
        for table, key in spec.targets:
            overrides.setdefault(table, {})[key] = value
    if getattr(args, "spectral_norm", None):
        overrides.setdefault("model", {})["spectral_norm"] = True
    if getattr(args, "no_tensorboard", None):
        overrides.setdefault("train", {})["tensorboard"] = False
    if getattr(args, "fast", None):
        fast = {"precision": "auto", "channels_last": True, "fused_adam": True}
        for key, value in fast.items():
            overrides.setdefault("train", {}).setdefault(key, value)
    for flag in ("channels_last", "compile"):
        if getattr(args, flag, None):
            overrides.setdefault("train", {})[flag] = True
    return overrides


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
    for name in ("blocks_per_stage", "expansion", "group_channels"):
        value = getattr(config.model, name)
        if not isinstance(value, int) or value < 1:
            raise GanforgeError(
                f"{name.replace('_', '-')} must be a whole number >= 1, got {value!r}"
            )
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
    if t.loss == "relativistic-pair" and config.model.family not in (
        "unconditional",
        "conditional",
    ):
        raise GanforgeError(
            f"--loss relativistic-pair is not supported by the {config.model.family} family",
            "--loss",
            "use it with --family unconditional or conditional",
        )
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
    "r2_weight",
    "grad_clip",
    "max_minutes",
    "checkpoint_every",
    "sample_every",
    "keep_checkpoints",
    "divergence_window",
    "threads",
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
    # Every number of a family table weighs a term or counts steps, blocks or sizes.
    for table, values in config.families.items():
        for f in fields(values):
            value = getattr(values, f.name)
            if not isinstance(value, bool) and isinstance(value, (int, float)) and value < 0:
                flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
                raise GanforgeError(
                    f"[{table}] {f.name} ({flag}) must be >= 0, got {value!r}",
                    fix="use 0 to turn it off",
                )
    t = config.train
    for name in ("beta1", "beta2"):
        if not 0.0 <= getattr(t, name) < 1.0:
            raise GanforgeError(f"--{name} must be in [0, 1), got {getattr(t, name)!r}")


def _validate_resolution(config: Config) -> None:
    """The DCGAN and ResNet nets (and the conditional ones) take 4*2^k or 7*2^k sides."""
    image_families = ("unconditional", "conditional", "ganomaly", "fanogan")
    if config.model.arch not in ("dcgan", "resnet") or config.model.family not in image_families:
        return
    if config.data.source in ("ring", "grid") or config.data.source.startswith("csv:"):
        return  # vector data: the resolution is not used
    from ganforge.nets.layers import base_size

    try:
        base_size(config.data.resolution)
    except ValueError:
        raise GanforgeError(
            f"--resolution {config.data.resolution} is not supported by the "
            f"{config.model.arch} nets",
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
