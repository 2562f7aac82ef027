"""The train flags built from the config dataclasses: help, old spellings, family tables."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from ganforge.config import (
    DEPRECATED_FLAGS,
    Config,
    add_train_flags,
    flag_overrides,
    merge,
    train_flags,
)

# Every flag `ganforge train` had before issue 19, with the (section, key) it set then.
OLD_TRAIN_FLAGS = {
    "--data": ("data", "source"),
    "--resolution": ("data", "resolution"),
    "--channels": ("data", "channels"),
    "--limit": ("data", "limit"),
    "--family": ("model", "family"),
    "--arch": ("model", "arch"),
    "--latent-dim": ("model", "latent_dim"),
    "--g-width": ("model", "g_width"),
    "--d-width": ("model", "d_width"),
    "--d-norm": ("model", "d_norm"),
    "--g-extra-layers": ("model", "g_extra_layers"),
    "--d-extra-layers": ("model", "d_extra_layers"),
    "--steps": ("train", "steps"),
    "--max-minutes": ("train", "max_minutes"),
    "--batch-size": ("train", "batch_size"),
    "--loss": ("train", "loss"),
    "--n-critic": ("train", "n_critic"),
    "--lr-g": ("train", "lr_g"),
    "--lr-d": ("train", "lr_d"),
    "--lr-decay-start": ("train", "lr_decay_start"),
    "--beta1": ("train", "beta1"),
    "--beta2": ("train", "beta2"),
    "--gp": ("train", "gp_weight"),
    "--r1": ("train", "r1_weight"),
    "--ema": ("train", "ema"),
    "--grad-clip": ("train", "grad_clip"),
    "--seed": ("train", "seed"),
    "--device": ("train", "device"),
    "--precision": ("train", "precision"),
    "--threads": ("train", "threads"),
    "--log-every": ("train", "log_every"),
    "--sample-every": ("train", "sample_every"),
    "--checkpoint-every": ("train", "checkpoint_every"),
    "--keep-checkpoints": ("train", "keep_checkpoints"),
    "--eval-every": ("eval", "every"),
    "--eval-metrics": ("eval", "metrics"),
    "--eval-n": ("eval", "n"),
    "--eval-ref": ("eval", "reference"),
    "--eval-extractor": ("eval", "extractor"),
    "--inception-weights": ("eval", "weights"),
    "--minibatch-std": ("model", "minibatch_std"),
    "--minibatch-disc": ("model", "minibatch_disc"),
    "--pack": ("model", "pack"),
    "--diffaugment": ("train", "diffaugment"),
    "--augment-shift": ("train", "augment_shift"),
    "--augment-cutout": ("train", "augment_cutout"),
    "--ada-target": ("train", "ada_target"),
    "--ada-kimg": ("train", "ada_kimg"),
    "--monitor": ("train", "monitor"),
    "--max-rollbacks": ("train", "max_rollbacks"),
    "--rollback-lr-factor": ("train", "rollback_lr_factor"),
    "--divergence-window": ("train", "divergence_window"),
    "--gan-steps": ("train", "fanogan_gan_steps"),
    "--scale": ("model", "scale"),
    "--sr-blocks": ("model", "sr_blocks"),
    "--pretrain-steps": ("train", "sr_pretrain_steps"),
    "--pixel-loss": ("train", "sr_pixel_loss"),
    "--perceptual": ("train", "sr_perceptual"),
    "--vgg-weights": ("train", "sr_vgg_weights"),
    "--adv-weight": ("train", "sr_adv_weight"),
    "--relativistic": ("train", "sr_relativistic"),
    "--l1-weight": ("train", "pix2pix_l1_weight"),
    "--translation-adv-weight": ("train", "translation_adv_weight"),
    "--cycle-weight": ("train", "cycle_weight"),
    "--identity-weight": ("train", "cycle_identity_weight"),
    "--pool-size": ("train", "cycle_pool_size"),
    "--patch-layers": ("model", "patch_layers"),
    "--unet-depth": ("model", "unet_depth"),
    "--resnet-blocks": ("model", "resnet_blocks"),
    "--translation-norm": ("model", "translation_norm"),
}

# A value to type for each kind of flag, and what the config then holds.
TYPED = {int: ("3", 3), float: ("0.25", 0.25), str: ("abc", "abc")}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_train_flags(p)
    return p


def _typed(flag: str) -> tuple[str, object]:
    kind = next(s.kind for s in train_flags() if s.flag == flag)
    return TYPED.get(kind, ("on", True))


def _value_in(config: Config, table: str, key: str):
    return getattr(
        config.families[table] if table in config.families else getattr(config, table), key
    )


FAMILIES_ADDED_SINCE = {"video"}


@pytest.mark.parametrize("flag", list(OLD_TRAIN_FLAGS))
def test_every_old_flag_still_sets_what_it_set(flag):
    """Through the old flat key: where it pointed then is where it points now (LEGACY_KEYS)."""
    text, value = _typed(flag)
    notices = []
    overrides = flag_overrides(_parser().parse_args([flag, text]), notices.append)
    # A family added since (video) shares some of these flags; what they set before is unchanged.
    overrides = {t: v for t, v in overrides.items() if t not in FAMILIES_ADDED_SINCE}
    old = merge(Config(), {OLD_TRAIN_FLAGS[flag][0]: {OLD_TRAIN_FLAGS[flag][1]: value}})
    new = merge(Config(), overrides)
    section, key = OLD_TRAIN_FLAGS[flag]
    if flag == "--adv-weight":  # now the adversarial weight of every family that has one
        assert new.family_settings("srgan").adv_weight == old.family_settings("srgan").adv_weight
        assert {t for t in overrides} == {"srgan", "pix2pix", "cyclegan", "ganomaly"}
    else:
        assert new == old
    assert len(notices) == (1 if flag in DEPRECATED_FLAGS else 0)


def test_a_deprecated_spelling_gives_one_notice_and_the_new_flag_wins():
    notices = []
    args = _parser().parse_args(["--translation-adv-weight", "0.5"])
    overrides = flag_overrides(args, notices.append)
    assert overrides == {"pix2pix": {"adv_weight": 0.5}, "cyclegan": {"adv_weight": 0.5}}
    assert len(notices) == 1 and "--adv-weight" in notices[0] and "deprecated" in notices[0]
    args = _parser().parse_args(["--translation-adv-weight", "0.5", "--adv-weight", "0"])
    assert flag_overrides(args, notices.append)["cyclegan"] == {"adv_weight": 0.0}


def test_every_flag_has_a_one_line_help_with_its_default():
    shown = {s.flag: s for s in train_flags() if not s.replaced_by}
    assert set(OLD_TRAIN_FLAGS) - set(DEPRECATED_FLAGS) <= set(shown)
    for flag, spec in shown.items():
        assert "\n" not in spec.help and "(default: " in spec.help, flag
        assert len(spec.help.split("(default: ")[0].strip()) > 5, flag  # says what it is
    help_text = _parser().format_help()
    assert "--translation-adv-weight" not in help_text  # old spellings hidden
    assert "[srgan, pix2pix, cyclegan, ganomaly, video]" in shown["--adv-weight"].help
    assert "srgan 0.005" in shown["--adv-weight"].help


def test_every_family_setting_has_a_flag():
    flags = {target for s in train_flags() for target in s.targets}
    for name, settings in Config().families.items():
        for f in dataclasses.fields(settings):
            assert (name, f.name) in flags, (name, f.name)


def test_family_flags_reach_their_tables():
    args = _parser().parse_args(["--cycle-weight", "2", "--kappa", "3", "--conditioning", "acgan"])
    config = merge(Config(), flag_overrides(args))
    assert config.family_settings("cyclegan").cycle_weight == 2.0
    assert config.family_settings("fanogan").kappa == 3.0
    assert config.family_settings("conditional").conditioning == "acgan"
    assert config.family_settings("pix2pix") == Config().family_settings("pix2pix")


def test_flags_not_given_override_nothing():
    assert flag_overrides(_parser().parse_args([])) == {}


@pytest.mark.parametrize(
    ("switch", "expected"),
    [
        ({"spectral_norm": True}, {"model": {"spectral_norm": True}}),
        ({"no_tensorboard": True}, {"train": {"tensorboard": False}}),
        ({"compile": True}, {"train": {"compile": True}}),
        (
            {"fast": True, "precision": "fp32"},
            {"train": {"precision": "fp32", "channels_last": True, "fused_adam": True}},
        ),
    ],
    ids=["spectral-norm", "no-tensorboard", "compile", "fast-keeps-an-explicit-precision"],
)
def test_train_switches(switch, expected):
    args = _parser().parse_args([])
    for key, value in switch.items():
        setattr(args, key, value)
    assert flag_overrides(args) == expected
