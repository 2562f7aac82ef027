"""Files written before the per-family settings tables (issue 19) still load, and the values of
their flat single-family keys land in the new `[family]` tables.

The files in tests/fixtures/old_files/ were written by scripts/make_old_fixtures.py with the code
of the commit before the change (tiny nets; non-default family settings, so a key that was
dropped or misplaced shows as a default value or as weights that no longer fit the nets).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import tomllib
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import LEGACY_KEYS, Config, merge
from ganforge.errors import GanforgeError

OLD = Path(__file__).parent / "fixtures" / "old_files"


def _state(name: str) -> dict:
    return torch.load(OLD / name, map_location="cpu", weights_only=True)


def test_the_fixtures_are_old_files():
    """They hold the flat keys (else this test module proves nothing) and stay small."""
    for name in ("srgan_last.pt", "unconditional_generator.pt", "fanogan_detector.pt"):
        raw = _state(name)["config"]
        assert "sr_adv_weight" in raw["train"] and "scale" in raw["model"], name
        assert "srgan" not in raw, name
    toml = tomllib.loads((OLD / "cyclegan_config.toml").read_text())
    assert toml["train"]["cycle_weight"] == 7.0 and "cyclegan" not in toml
    assert sum(p.stat().st_size for p in OLD.iterdir()) < 200_000


def test_old_generator_samples():
    from ganforge.sampling import load_generator

    model = load_generator(OLD / "unconditional_generator.pt")
    x = model.sample(4, seed=0)
    assert x.shape == (4, 1, 8, 8) and torch.isfinite(x).all()
    assert torch.equal(x, model.sample(4, seed=0))


def test_old_conditional_generator_keeps_its_settings():
    from ganforge.sampling import load_generator

    model = load_generator(OLD / "conditional_generator.pt")
    s = model.config.family_settings("conditional")
    assert (s.conditioning, s.g_conditioning) == ("acgan", "embed")
    assert (s.embed_dim, s.ac_weight, s.mode_seeking) == (3, 0.5, 0.25)
    # embed_dim 3 (not the default 32) is what lets the saved weights load at all
    x = model.sample(3, seed=0, labels=torch.tensor([0, 1, 2]))
    assert x.shape == (3, 1, 8, 8) and torch.isfinite(x).all()


def test_old_checkpoint_resumes_one_step(tmp_path):
    run = tmp_path / "u"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copyfile(OLD / "unconditional_last.pt", run / "checkpoints" / "last.pt")
    assert _state("unconditional_last.pt")["step"] == 4
    argv = ["train", "--resume", str(run), "--steps", "5", "--quiet", "--no-tensorboard"]
    assert main(argv) == 0
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == 5
    assert "srgan" in state["config"] and "sr_adv_weight" not in state["config"]["train"]


def _srgan_expected(config: Config) -> None:
    s = config.family_settings("srgan")
    assert (s.scale, s.blocks, s.pretrain_steps) == (2, 1, 1)
    assert (s.pixel_loss, s.perceptual, s.adv_weight, s.relativistic) == ("mse", "none", 2e-3, True)
    assert (s.pixel_weight, s.perceptual_weight, s.vgg_weights) == (1.0, 1.0, "")


def test_old_srgan_checkpoint_rebuilds_and_resumes(tmp_path):
    from ganforge.data.sr import load_sr_dataset
    from ganforge.run import config_from_checkpoint, train

    run = tmp_path / "s"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copyfile(OLD / "srgan_last.pt", run / "checkpoints" / "last.pt")
    config = config_from_checkpoint(run / "checkpoints" / "last.pt")
    _srgan_expected(config)
    # Its training images were temporary: two new ones (same crop and channels) to go on with.
    hr = tmp_path / "hr"
    hr.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(hr / f"{i}.png")
    dataset = load_sr_dataset(f"folder:{hr}", 8, 2, 3, 0, lambda _: None)
    config.out, config.name, config.train.steps = str(tmp_path), "s", 4
    # fp32 on one thread: with precision auto (bf16 where the CPU has it) these 2 steps on two
    # noise images went non-finite once in the full suite on an Intel Xeon (AMX); the test is
    # about the old settings rebuilding and resuming, not about bf16
    config.train.precision, config.train.threads = "fp32", 1
    train(config, resume=run / "checkpoints" / "last.pt", quiet=True, dataset=dataset)
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True)
    assert state["step"] == 4 and state["config"]["srgan"]["adv_weight"] == 2e-3


def test_old_config_tomls_load_into_the_family_tables(tmp_path):
    _srgan_expected(Config.load(OLD / "srgan_config.toml"))
    config = Config.load(OLD / "cyclegan_config.toml")
    cy, p2p = config.family_settings("cyclegan"), config.family_settings("pix2pix")
    assert (cy.cycle_weight, cy.identity_weight, cy.pool_size) == (7.0, 0.25, 3)
    assert (cy.adv_weight, cy.norm, cy.resnet_blocks, cy.patch_layers) == (0.5, "none", 1, 1)
    # The translation keys both families shared reach both tables; pix2pix's own one keeps its.
    assert (p2p.adv_weight, p2p.norm, p2p.l1_weight) == (0.5, "none", 100.0)
    # Saved again it is the new shape, and reads back the same.
    config.save(tmp_path / "new.toml")
    raw = tomllib.loads((tmp_path / "new.toml").read_text())
    assert raw["cyclegan"]["cycle_weight"] == 7.0 and "cycle_weight" not in raw["train"]
    assert Config.load(tmp_path / "new.toml") == config


def test_old_tabular_model_samples():
    from ganforge.tabular.model import TabularGAN

    model = TabularGAN.load(OLD / "table.gft")
    rows = model.sample(6, seed=0)
    assert list(rows.columns) == ["x", "y", "c"] and len(rows) == 6
    assert set(rows["c"]) <= {"a", "b"}


def test_old_detector_scores():
    from ganforge.apps.anomaly import AnomalyDetector

    detector = AnomalyDetector.load(OLD / "fanogan_detector.pt")
    s = detector.config_.family_settings("fanogan")
    assert (s.kappa, s.gan_steps) == (2.0, 3)
    rows = np.loadtxt(OLD / "numeric.csv", delimiter=",", skiprows=1, dtype=np.float32)
    scores = detector.score(rows[:10])
    assert scores.shape == (10,) and np.isfinite(scores).all()
    far = detector.score(rows[:10] + 100.0)
    assert (far > scores).all()  # far from the normal rows: more anomalous


def _other_value(value):
    """A value of the same type that differs from `value`."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 3
    return value + "x"


@pytest.mark.parametrize(
    ("section", "key"), list(LEGACY_KEYS), ids=[f"{s}.{k}" for s, k in LEGACY_KEYS]
)
def test_every_old_flat_key_lands_in_its_tables(section, key):
    default = Config()
    table, new_key = LEGACY_KEYS[(section, key)][0]
    value = _other_value(getattr(default.family_settings(table), new_key))
    raw = default.to_dict()
    for name in default.families:
        del raw[name]  # an old file: no tables, the flat key only
    raw[section][key] = value
    config = Config.from_dict(raw)
    for table, new_key in LEGACY_KEYS[(section, key)]:
        assert getattr(config.family_settings(table), new_key) == value
    changed = [
        (name, f.name)
        for name, settings in config.families.items()
        for f in dataclasses.fields(settings)
        if getattr(settings, f.name) != getattr(default.family_settings(name), f.name)
    ]
    assert sorted(changed) == sorted(LEGACY_KEYS[(section, key)])  # nothing else moved
    assert key not in config.to_dict()[section]


def test_the_old_keys_are_the_29_single_family_fields():
    assert len(LEGACY_KEYS) == 29
    old_section_keys = {k for s, k in LEGACY_KEYS}
    for section in ("model", "train"):
        assert not old_section_keys & set(Config().to_dict()[section])


def test_an_old_flat_override_beats_the_saved_table():
    """merge() of old-style overrides (presets, benchmarks, scripts) onto a new config."""
    config = merge(Config(), {"train": {"sr_adv_weight": 0.25, "fanogan_gan_steps": 7}})
    assert config.family_settings("srgan").adv_weight == 0.25
    assert config.family_settings("fanogan").gan_steps == 7
    config = merge(config, {"srgan": {"adv_weight": 0.5}})
    assert config.family_settings("srgan").adv_weight == 0.5


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"srgan": {"adv": 1.0}}, r"unknown setting 'adv'.*\[srgan\]"),
        ({"srgan": 3}, r"\[srgan\] must be a table"),
        ({"cyclegan": {"pool_size": "many"}}, "pool_size.*whole number"),
        ({"train": {"cycle_weight": "x"}}, "cycle_weight.*float"),
        ({"families": {}}, "unknown setting 'families'"),
        ({"tabular": {}}, "unknown setting 'tabular'"),
    ],
    ids=["unknown-key", "not-a-table", "wrong-type", "old-key-wrong-type", "families", "tabular"],
)
def test_bad_family_tables_are_one_line_errors(raw, message):
    with pytest.raises(GanforgeError, match=message):
        Config.from_dict(raw, "cfg.toml")


def test_resume_compares_the_runs_own_family_table():
    from ganforge.training.loop import check_compatible

    saved = merge(Config(), {"model": {"family": "cyclegan"}})
    check_compatible(merge(saved, {"pix2pix": {"l1_weight": 1.0}}), saved, "x")  # not its table
    with pytest.raises(GanforgeError, match=r"cyclegan\.cycle_weight: 10\.0 -> 1\.0"):
        check_compatible(merge(saved, {"cyclegan": {"cycle_weight": 1.0}}), saved, "x")
