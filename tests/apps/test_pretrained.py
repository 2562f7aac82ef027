"""Pretrained folders (config.json + model.safetensors), the models shipped in the package, and
fine-tuning from them (`train --init-from-pretrained`)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import pretrained
from ganforge.run import build_config, init_weights
from ganforge.sampling import TrainedGenerator, load_generator
from ganforge.training.loop import Trainer
from tests.cli_helpers import run_cli
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    """A tiny conditional run on the digits (library call): its run directory."""
    from ganforge.run import train

    tmp = tmp_path_factory.mktemp("pre")
    run_dir, _ = train(tiny_config(tmp, model={"family": "conditional"}), quiet=True)
    return run_dir


@pytest.fixture(scope="module")
def folder(cgan_run, tmp_path_factory):
    """The run's checkpoint (EMA G + D) saved as a pretrained folder."""
    model = load_generator(cgan_run / "checkpoints" / "last.pt")
    return model.save_pretrained(tmp_path_factory.mktemp("saved") / "model")


def test_round_trip_gives_identical_samples_and_holds_no_pickle(cgan_run, folder, monkeypatch):
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    for file in folder.iterdir():  # neither file is a pickle or a zip (torch.save) archive
        head = file.read_bytes()[:2]
        assert head[:1] != b"\x80" and head != b"PK"

    def refused(*args, **kwargs):
        raise AssertionError("a pretrained folder must load without pickle / torch.load")

    monkeypatch.setattr(torch, "load", refused)
    monkeypatch.setattr(pickle, "load", refused)
    monkeypatch.setattr(pickle, "loads", refused)
    loaded = TrainedGenerator.from_pretrained(folder)
    monkeypatch.undo()
    original = load_generator(cgan_run / "checkpoints" / "last.pt")
    labels = torch.arange(10)
    assert torch.equal(loaded.sample(10, seed=3, labels=labels), original.sample(10, 3, labels))
    assert loaded.class_names == original.class_names and loaded.step == original.step
    assert loaded.discriminator_weights is not None  # D travels for fine-tuning
    meta = json.loads((folder / "config.json").read_text())
    assert (meta["format"], meta["kind"], meta["family"]) == (
        "ganforge-pretrained",
        "generator",
        "conditional",
    )
    assert meta["value_range"] == [-1.0, 1.0] and meta["class_names"] == original.class_names


def test_cli_samples_from_a_folder_as_from_the_run(cgan_run, folder, tmp_path, capsys):
    for name, source in (("run", cgan_run), ("folder", folder)):
        code, _, err = run_cli(capsys, "sample", source, "-n", 6, "-o", tmp_path / f"{name}.npy")
        assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "run.npy"), np.load(tmp_path / "folder.npy"))


def test_export_format_pretrained_from_a_run_keeps_d(cgan_run, tmp_path, capsys):
    out = tmp_path / "exported"
    code, stdout, err = run_cli(capsys, "export", cgan_run, "--format", "pretrained", "-o", out)
    assert code == 0, err
    assert stdout.strip().splitlines()[-1] == str(out)
    model = load_generator(out)
    assert model.discriminator_weights is not None
    original = load_generator(cgan_run)
    assert torch.equal(model.sample(4, seed=2), original.sample(4, seed=2))


def test_save_replaces_an_earlier_folder_atomically(cgan_run, tmp_path):
    model = load_generator(cgan_run)
    target = model.save_pretrained(tmp_path / "m")
    first = (target / "model.safetensors").read_bytes()
    model.module.state_dict()["body.net.0.weight"].add_(1.0)  # a changed model, saved again
    model.save_pretrained(target)
    assert (target / "model.safetensors").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary left behind


def _trainer(source_run):
    config, _ = build_config(overrides={"train": {"init_from": str(source_run), "steps": 2}})
    return Trainer(config, None)


def test_init_from_pretrained_starts_from_the_saved_weights(cgan_run, folder, capsys):
    for source in (cgan_run, folder):
        trainer = _trainer(source)
        assert trainer.config.model.family == "conditional"  # the source's own networks
        source_g = load_generator(folder).module.state_dict()
        name = "body.net.0.weight"
        assert not torch.equal(trainer.generator.state_dict()[name], source_g[name])
        init_weights(trainer, str(source))
        for key, value in source_g.items():
            assert torch.equal(trainer.generator.state_dict()[key], value)
            assert torch.equal(trainer.ema.module.state_dict()[key], value)
        saved_d = load_generator(folder).discriminator_weights
        for key, value in saved_d.items():
            assert torch.equal(trainer.discriminator.state_dict()[key], value)
    assert "G and D start from" in capsys.readouterr().err


def test_train_cli_fine_tunes_and_records_its_source(folder, tmp_path, capsys):
    code, out, err = run_cli(
        capsys, "train", "--init-from-pretrained", folder, "--steps", 2, "--quiet",
        "--no-tensorboard", "--out", tmp_path, "--name", "ft",
    )  # fmt: skip
    assert code == 0, err
    assert "G and D start from" in err
    assert f'init_from = "{folder}"' in (tmp_path / "ft" / "config.toml").read_text()


def test_anomaly_detector_round_trip(tmp_path, capsys):
    import pandas as pd

    from ganforge.apps.anomaly import AnomalyDetector
    from tests.apps.test_anomaly import SMALL_TABLE, gaussian_table

    normal = pd.DataFrame(gaussian_table(100), columns=list("abcd"))
    detector = AnomalyDetector("ganomaly", 10, overrides=SMALL_TABLE).fit(normal)
    folder = detector.save_pretrained(tmp_path / "detector")
    again = AnomalyDetector.from_pretrained(folder)
    rows = pd.DataFrame(gaussian_table(20, seed=3), columns=list("abcd"))
    assert np.array_equal(detector.score(rows), again.score(rows))
    assert detector.threshold() == again.threshold()
    rows.to_csv(tmp_path / "rows.csv", index=False)  # the CLI reads the folder
    args = ("anomaly", "score", folder, tmp_path / "rows.csv", "-o", tmp_path / "scores.csv")
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    scores = pd.read_csv(tmp_path / "scores.csv")["score"].to_numpy()
    assert np.allclose(scores, detector.score(rows), rtol=1e-6)


def test_tabular_round_trip(tmp_path, capsys):
    from ganforge.tabular.model import TabularGAN
    from tests.tabular.conftest import mixed_table

    settings = {"epochs": 1, "batch_size": 40, "embedding_dim": 8, "generator_width": 16,
                "discriminator_width": 16, "pack": 4, "mixture_rows": 200, "verbose": False,
                "seed": 0}  # fmt: skip
    model = TabularGAN(**settings).fit(mixed_table(), ["cat", "grade"])
    folder = model.save_pretrained(tmp_path / "table")
    loaded = TabularGAN.from_pretrained(folder)
    assert model.sample(40, seed=1).equals(loaded.sample(40, seed=1))
    args = ("tabular", "sample", folder, "-n", 25, "--seed", 1, "-o", tmp_path / "rows.csv")
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    assert len((tmp_path / "rows.csv").read_text().strip().splitlines()) == 26


# ---- the models shipped in the package --------------------------------------------------------


def test_shipped_models_are_listed_with_their_quality(capsys):
    assert {"mnist-cgan", "photo-x2"} <= set(pretrained.names())
    size = sum(f.stat().st_size for f in pretrained.PACKAGE_DIR.rglob("*") if f.is_file())
    assert size <= 5_000_000
    cgan, sr = pretrained.describe("mnist-cgan"), pretrained.describe("photo-x2")
    assert (cgan["kind"], cgan["family"], sr["family"]) == ("generator", "conditional", "srgan")
    assert cgan["quality"]["class_accuracy"] >= 0.9 and sr["quality"]["psnr_gain_db"] > 0
    code, out, _ = run_cli(capsys, "presets", "--pretrained")
    assert code == 0
    assert "mnist-cgan" in out and "FID" in out and "photo-x2" in out and "dB" in out


def test_shipped_cgan_draws_the_class_asked_for(tmp_path, capsys):
    from ganforge.apps.augment import label_checker

    model = load_generator(pretrained.path("mnist-cgan"))
    labels = torch.full((200,), model.class_index("7"))
    agrees, _ = label_checker("mnist", model.class_names).check(
        model.sample(200, 5, labels), labels
    )
    assert agrees.float().mean() >= 0.9
    code, out, err = run_cli(
        capsys, "sample", "--pretrained", "mnist-cgan", "--class", 7, "-o", tmp_path / "7.png"
    )
    assert code == 0, err
    assert Image.open(tmp_path / "7.png").size[0] > 28


def test_shipped_sr_model_beats_bicubic_on_a_held_out_photo(tmp_path, capsys):
    from ganforge.apps.sr import evaluate_sr
    from ganforge.data.photos import load_photos

    photo = next(p for p in load_photos("test") if p.name == "chelsea")
    (tmp_path / "hr").mkdir()
    Image.fromarray(photo.image[100:196, 150:246]).save(tmp_path / "hr" / "crop.png")
    result = evaluate_sr(pretrained.path("photo-x2"), f"folder:{tmp_path / 'hr'}", labels=["m"])
    assert result.mean("m").psnr > result.mean("bicubic").psnr
    Image.fromarray(photo.image[:40, :30]).save(tmp_path / "in.png")
    args = ("upscale", "--pretrained", "photo-x2", tmp_path / "in.png", "-o", tmp_path / "o.png")
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    assert Image.open(tmp_path / "o.png").size == (60, 80)


def test_fine_tuning_a_shipped_model_on_new_digits(mnist_mini, tmp_path, capsys):
    args = ["train", "--init-from-pretrained", "mnist-cgan", "--data", "mnist", "--steps", 1]
    args += ["--quiet", "--no-tensorboard", "--sample-every", 0, "--out", tmp_path, "--name", "f"]
    code, _, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "G and D start from" in err and "mnist-cgan" in err
    tuned = load_generator(tmp_path / "f")
    assert tuned.config.model.family == "conditional" and tuned.config.model.num_classes == 10


def test_init_from_in_memory_training(folder):
    from ganforge.run import train_in_memory

    config, _ = build_config(overrides={"train": {"init_from": str(folder), "steps": 1}})
    config.train.lr_g = config.train.lr_d = 1e-12  # one step that barely moves the weights
    trainer = train_in_memory(config, None)
    source = load_generator(folder).module.state_dict()
    name = "body.net.0.weight"
    assert torch.allclose(trainer.generator.state_dict()[name], source[name], atol=1e-6)
