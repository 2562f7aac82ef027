"""Pretrained folders that are not what they claim, unknown pretrained names, and fine-tuning
from weights that do not fit: one line naming the folder (or flag), exit 2, nothing loaded or
written."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from ganforge.sampling import load_generator
from tests.bad_input.conftest import assert_user_error
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny conditional run and its pretrained folder."""
    from ganforge.run import train

    tmp = tmp_path_factory.mktemp("bad_pretrained")
    run_dir, _ = train(tiny_config(tmp, model={"family": "conditional"}), quiet=True)
    folder = load_generator(run_dir / "checkpoints" / "last.pt").save_pretrained(tmp / "model")
    return run_dir, folder


def _weights(folder):
    return load_file(str(folder / "model.safetensors"))


def _truncated(folder):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])


def _wrong_shape(folder):
    tensors = _weights(folder)
    tensors["generator.body.net.0.weight"] = torch.zeros(3, 3)
    save_file(tensors, str(folder / "model.safetensors"))


def _renamed(folder):
    tensors = _weights(folder)
    tensors["generator.body.renamed"] = tensors.pop("generator.body.net.0.weight")
    save_file(tensors, str(folder / "model.safetensors"))


def _extra(folder):
    save_file({**_weights(folder), "payload.x": torch.zeros(2)}, str(folder / "model.safetensors"))


def _nan(folder):
    tensors = _weights(folder)
    tensors["generator.body.net.0.weight"][0] = float("nan")
    save_file(tensors, str(folder / "model.safetensors"))


def _wrong_dtype(folder):
    tensors = _weights(folder)
    tensors["generator.body.net.0.weight"] = tensors["generator.body.net.0.weight"].double()
    save_file(tensors, str(folder / "model.safetensors"))


def _pickle_as_weights(folder):
    (folder / "model.safetensors").write_bytes(pickle.dumps({"a": 1}))


def _no_weights(folder):
    (folder / "model.safetensors").unlink()


def _config_not_json(folder):
    (folder / "config.json").write_text("format = 'toml'\n")


def _config_of_another_program(folder):
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 768}))


def _config_newer(folder):
    meta = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**meta, "format_version": 99}))


def _config_other_kind(folder):
    meta = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**meta, "kind": "tabular"}))


def _config_broken_settings(folder):
    meta = json.loads((folder / "config.json").read_text())
    meta["config"]["model"]["g_width"] = "wide"
    (folder / "config.json").write_text(json.dumps(meta))


TAMPERED = {
    "truncated-safetensors": (_truncated, r"damaged model\.safetensors"),
    "wrong-shape": (_wrong_shape, r"body\.net\.0\.weight.*shape \(3, 3\)"),
    "renamed-tensor": (_renamed, r"body\.net\.0\.weight.*missing"),
    "extra-tensor": (_extra, r"unexpected tensor 'payload\.x'"),
    "nan-weights": (_nan, r"NaN"),
    "wrong-dtype": (_wrong_dtype, r"float64"),
    "pickle-as-weights": (_pickle_as_weights, r"not a readable safetensors"),
    "no-weights-file": (_no_weights, r"no model\.safetensors"),
    "config-not-json": (_config_not_json, r"config\.json is not readable JSON"),
    "config-of-another-program": (_config_of_another_program, r"another program.*bert"),
    "config-newer-version": (_config_newer, r"newer"),
    "config-other-kind": (_config_other_kind, r"holds a tabular model.*not a generator"),
    "config-broken-setting": (_config_broken_settings, r"g_width"),
}


@pytest.mark.parametrize("case", list(TAMPERED), ids=list(TAMPERED))
def test_tampered_folder_is_one_line(cli, saved, tmp_path, case):
    tamper, message = TAMPERED[case]
    folder = tmp_path / "model"
    shutil.copytree(saved[1], folder)
    tamper(folder)
    out = tmp_path / "grid.png"
    assert_user_error(cli("sample", folder, "-o", out), message, str(folder))
    assert not out.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ("sample", "--pretrained", "nope", "-o", "{tmp}/g.png"),
        ("upscale", "--pretrained", "nope", "{tmp}/in.png", "-o", "{tmp}/o.png"),
        ("train", "--init-from-pretrained", "nope", "--out", "{tmp}"),
    ],
    ids=["sample", "upscale", "train-init-from"],
)
def test_unknown_pretrained_name_lists_the_names(cli, tmp_path, argv):
    ran = cli(*(a.format(tmp=tmp_path) for a in argv))
    assert_user_error(ran, "nope", "mnist-cgan", "photo-x2")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_run_and_pretrained_together_or_neither(cli, saved, tmp_path):
    both = cli("sample", saved[0], "--pretrained", "mnist-cgan", "-o", tmp_path / "g.png")
    assert_user_error(both, "not both", "--pretrained mnist-cgan")
    assert_user_error(cli("sample", "-o", tmp_path / "g.png"), "RUN_OR_FILE or --pretrained")


def test_a_generator_folder_is_no_detector_or_table(cli, saved, tmp_path):
    folder = saved[1]
    ran = cli("anomaly", "score", folder, tmp_path / "x.csv", "-o", tmp_path / "s.csv")
    assert_user_error(ran, "holds a generator", "not an anomaly detector", str(folder))
    ran = cli("tabular", "sample", folder, "-n", 5, "-o", tmp_path / "s.csv")
    assert_user_error(ran, "holds a generator", "not a tabular model", str(folder))
    ran = cli("upscale", "--pretrained", "mnist-cgan", tmp_path / "x.png", "-o", tmp_path / "o.png")
    assert_user_error(ran, "not a super-resolution run")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--g-width", 16], r"generator does not fit.*body\.net\.0\.weight.*shape"),
        (["--d-width", 16], r"discriminator does not fit"),
        (["--family", "unconditional"], r"generator does not fit"),
    ],
    ids=["g-width", "d-width", "family"],
)
def test_init_from_weights_that_do_not_fit(cli, saved, tmp_path, flags, message):
    run_dir = saved[0]
    t = tiny_config()
    base = ["--data", "digits", "--resolution", 8, "--latent-dim", t.model.latent_dim]
    base += ["--g-width", 8, "--d-width", 8, "--family", "conditional", "--steps", 2]
    ran = cli("train", *base, *flags, "--init-from-pretrained", run_dir, "--out", tmp_path / "r")
    assert_user_error(ran, message, "--init-from-pretrained")
    assert not (tmp_path / "r").exists()  # nothing half-written


def test_init_from_a_tampered_folder(cli, saved, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(saved[1], folder)
    _wrong_shape(folder)
    ran = cli("train", "--init-from-pretrained", folder, "--out", tmp_path / "r")
    assert_user_error(ran, r"shape \(3, 3\)", str(folder))
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "target, message",
    [("model.onnx", r"writes a folder.*model\.onnx"), ("busy", r"already holds other files")],
    ids=["a-file-name", "a-folder-of-other-files"],
)
def test_export_pretrained_to_a_bad_target(cli, saved, tmp_path, target, message):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("keep me")
    ran = cli("export", saved[0], "--format", "pretrained", "-o", tmp_path / target)
    assert_user_error(ran, message, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]
    assert (tmp_path / "busy" / "notes.txt").read_text() == "keep me"
