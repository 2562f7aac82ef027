"""`ganforge export`: every image family's graph run by onnxruntime matches PyTorch (the app
functions that use it) within 1e-4, at batch sizes and image sizes other than the traced ones;
TorchScript gives the same; the sidecar JSON holds what another program needs; nothing is left
half-written when an export fails."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from ganforge import __version__
from ganforge.apps import export as export_module
from ganforge.apps.anomaly import AnomalyDetector
from ganforge.apps.export import EXAMPLE_BATCH, export_model, sidecar_path
from ganforge.apps.sr import upscale_tensor
from ganforge.apps.translate import translate_image
from ganforge.cli import main
from ganforge.sampling import load_generator
from ganforge.training.checkpoint import load_file
from tests.cli_helpers import TINY_DIGITS, assert_one_line_error, run_cli

torch.set_num_threads(1)

TOLERANCE = 1e-4  # max abs difference, fp32 (the bound)
TRANSLATE = ["--resolution", 16, "--g-width", 4, "--d-width", 4, "--patch-layers", 1]
TRANSLATE += ["--batch-size", 4, "--steps", 2, "--log-every", 1, "--sample-every", 2]
TRANSLATE += ["--checkpoint-every", 2, "--no-tensorboard", "--quiet"]
SR = ["--family", "srgan", "--scale", 2, "--resolution", 16, "--g-width", 8, "--d-width", 4]
SR += ["--sr-blocks", 1, "--batch-size", 4, "--steps", 2, "--pretrain-steps", 1]
SR += ["--log-every", 1, "--sample-every", 2, "--checkpoint-every", 2, "--no-tensorboard"]
SR += ["--quiet"]
FANOGAN = ["--family", "fanogan", "--gan-steps", 2, "--loss", "wasserstein", "--gp", 10]
FANOGAN += ["--d-norm", "none"]
SMALL = {"model": {"latent_dim": 4, "g_width": 8, "d_width": 8}}
SMALL_TABLE = {"model": {"latent_dim": 4, "g_width": 16, "d_width": 16}}


def _pictures(folder, n, size, seed, mode="L"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = size if mode == "L" else (*size, 3)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny run of each image family (trained a few steps through the CLI) and two fitted
    anomaly detectors (images with f-AnoGAN, a table with GANomaly)."""
    root = tmp_path_factory.mktemp("export-runs")
    digits = [str(a) for a in TINY_DIGITS] + ["--out", str(root)]
    hr = _pictures(root / "hr", 3, (20, 24), 0, mode="RGB")
    a, b = _pictures(root / "A", 8, (16, 16), 0), _pictures(root / "B", 8, (16, 16), 50)
    plans = {
        "unconditional": digits,
        "conditional": [*digits, "--family", "conditional"],
        "ganomaly": [*digits, "--family", "ganomaly", "--ema", "0"],
        "fanogan": [*digits, *FANOGAN],
        "srgan": [*SR, "--data", f"folder:{hr}", "--out", root],
        "pix2pix": ["--family", "pix2pix", "--data", f"paired:{a},{b}", *TRANSLATE, "--out", root],
        "cyclegan": ["--family", "cyclegan", "--loss", "lsgan", "--data", f"unpaired:{a},{b}"]
        + [*TRANSLATE, "--out", root],
    }
    found = {}
    for name, argv in plans.items():
        assert main(["train", *map(str, argv), "--name", name]) == 0, name
        found[name] = root / name
    images = np.random.default_rng(1).integers(0, 256, (60, 1, 8, 8), dtype=np.uint8)
    detector = AnomalyDetector("fanogan", 4, fpr=0.1, overrides=SMALL, resolution=8).fit(images)
    found["image-detector"] = detector.save(root / "image-detector.pt")
    rows = np.random.default_rng(2).normal(size=(60, 3)) * [1.0, 10.0, 100.0] + [0, 5, -50]
    table = AnomalyDetector("ganomaly", 4, fpr=0.1, overrides=SMALL_TABLE).fit(rows)
    found["table-detector"] = table.save(root / "table-detector.pt")
    found["rows"] = rows
    return found


# ---- what PyTorch (the app functions) gives -------------------------------------------------
def _reference(runs, name: str, direction: str, inputs: list[torch.Tensor]) -> list[np.ndarray]:
    """The outputs ganforge's own code computes for the exported graph's inputs."""
    if name.endswith("detector"):
        detector = AnomalyDetector.load(runs[name])
        scores = detector.score(
            inputs[0].double().numpy() if name == "table-detector" else inputs[0]
        )
        return [scores.astype(np.float32)]
    model = load_generator(runs[name])
    with torch.no_grad():
        if name in ("unconditional", "conditional"):
            return [model.module(*inputs).numpy()]
        if name == "srgan":
            out = [upscale_tensor(model.module, x[None], 2, tile=0).clamp(-1, 1) for x in inputs[0]]
            return [torch.cat(out).numpy()]
        if name in ("pix2pix", "cyclegan"):
            out = [translate_image(model, x, direction, tile=0) for x in inputs[0]]
            return [torch.cat(out).numpy()]
        critic = None
        if name == "fanogan":
            _, critic = model.family.build()
            state = load_file(runs[name] / "checkpoints" / "last.pt")
            critic.load_state_dict(state["discriminator"])
            critic.eval()
        score, rec = model.family.anomaly_score(model.module, critic, inputs[0])
        return [score.numpy(), rec.numpy()]


def _inputs(description: dict, batch: int, size: tuple[int, int] | None, seed: int):
    """Random inputs of the described names, dtypes and shapes, at this batch (and H, W)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for spec in description["inputs"]:
        if spec["dtype"] == "int64":
            out.append(torch.randint(description["num_classes"], (batch,), generator=g))
            continue
        shape = [batch, *spec["shape"][1:]]
        if size is not None:
            shape[2:] = size
        x = torch.randn(shape, generator=g)
        out.append(x.clamp(-1, 1) if spec.get("range") == [-1.0, 1.0] else x)
    return out


# (run, direction, (batch, H x W) pairs other than the traced batch of 2)
CASES = [
    ("unconditional", "AtoB", [(1, None), (5, None)]),
    ("conditional", "AtoB", [(1, None), (7, None)]),
    ("srgan", "AtoB", [(1, (7, 13)), (3, (9, 11))]),  # odd input sizes
    ("pix2pix", "AtoB", [(1, (16, 16)), (3, (13, 21)), (1, (3, 5))]),  # any size: padded inside
    ("cyclegan", "AtoB", [(1, (16, 16)), (3, (13, 21))]),
    ("cyclegan", "BtoA", [(3, (19, 10))]),
    ("ganomaly", "AtoB", [(1, None), (6, None)]),
    ("fanogan", "AtoB", [(1, None), (6, None)]),
    ("image-detector", "AtoB", [(1, None), (9, None)]),
    ("table-detector", "AtoB", [(1, None), (9, None)]),
]


@pytest.mark.parametrize("name, direction, shapes", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_onnx_and_torchscript_match_pytorch(runs, tmp_path, name, direction, shapes):
    onnx_report = export_model(runs[name], tmp_path / "m.onnx", direction=direction)
    ts_report = export_model(runs[name], tmp_path / "m.pt", direction=direction)
    described = onnx_report.description
    session = ort.InferenceSession(str(onnx_report.path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [i["name"] for i in described["inputs"]]
    assert [o.name for o in session.get_outputs()] == [o["name"] for o in described["outputs"]]
    scripted = torch.jit.load(str(ts_report.path))  # our own file, written just now
    assert all(b != EXAMPLE_BATCH for b, _ in shapes)
    for seed, (batch, size) in enumerate(shapes):
        inputs = _inputs(described, batch, size, seed)
        if name == "table-detector":  # raw rows in the fitted columns' units
            inputs = [torch.from_numpy(runs["rows"][:batch]).float()]
        expected = _reference(runs, name, direction, inputs)
        feed = {
            spec["name"]: x.numpy() for spec, x in zip(described["inputs"], inputs, strict=True)
        }
        got = session.run(None, feed)
        with torch.no_grad():
            traced = scripted(*inputs)
        traced = [t.numpy() for t in (traced if isinstance(traced, tuple) else (traced,))]
        for want, onnx_out, ts_out, spec in zip(
            expected, got, traced, described["outputs"], strict=False
        ):
            assert onnx_out.shape == want.shape and onnx_out.dtype == np.float32, spec["name"]
            assert np.abs(onnx_out - want).max() <= TOLERANCE, (spec["name"], batch, size)
            assert np.abs(ts_out - want).max() <= TOLERANCE, (spec["name"], batch, size)
            if spec.get("range") == [-1.0, 1.0]:
                assert onnx_out.min() >= -1 and onnx_out.max() <= 1
        if name == "srgan":
            assert got[0].shape[2:] == (size[0] * 2, size[1] * 2)


def test_sidecar_says_what_another_program_needs(runs, tmp_path):
    report = export_model(runs["conditional"], tmp_path / "cgan.onnx")
    side = json.loads(sidecar_path(report.path).read_text())
    assert sidecar_path(report.path) == tmp_path / "cgan.json"
    model = load_generator(runs["conditional"])
    assert side["ganforge_version"] == __version__ and side["format"] == "onnx"
    assert side["file"] == "cgan.onnx" and side["opset"] == 17
    assert side["family"] == "conditional" and side["task"] == "sample"
    assert side["latent_dim"] == model.config.model.latent_dim == 8
    assert side["class_names"] == [str(i) for i in range(10)] and side["num_classes"] == 10
    assert side["weights"] == "ema" and side["step"] == model.step
    noise, labels = side["inputs"]
    assert (noise["name"], noise["dtype"], noise["shape"]) == ("noise", "float32", ["batch", 8])
    assert (labels["name"], labels["dtype"], labels["range"]) == ("labels", "int64", [0, 9])
    (out,) = side["outputs"]
    assert out["shape"] == ["batch", 1, 8, 8] and out["range"] == [-1.0, 1.0]
    assert "127.5" in side["to_pixels"]
    for entry in side["inputs"] + side["outputs"]:
        assert entry["description"]
    # A program with only the two files: the sidecar's recipe turns outputs into pixels.
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    z = np.random.default_rng(0).standard_normal((4, side["latent_dim"])).astype(np.float32)
    images = session.run(None, {"noise": z, "labels": np.array([7, 7, 1, 0], dtype=np.int64)})[0]
    pixels = np.round((np.clip(images, -1, 1) + 1) * 127.5).astype(np.uint8)
    from ganforge.images import to_pixels

    assert np.array_equal(
        pixels, to_pixels(model.module(torch.from_numpy(z), torch.tensor([7, 7, 1, 0]))).numpy()
    )


def test_detector_sidecar_carries_threshold_and_columns(runs, tmp_path):
    report = export_model(runs["table-detector"], tmp_path / "d.onnx")
    side = json.loads(report.sidecar.read_text())
    detector = AnomalyDetector.load(runs["table-detector"])
    assert side["task"] == "anomaly_score" and side["method"] == "ganomaly"
    assert side["threshold"] == detector.threshold() and side["fpr"] == detector.fpr
    assert side["columns"] == list(detector.columns_)
    assert side["inputs"][0]["name"] == "row" and side["inputs"][0]["shape"] == ["batch", 3]
    assert [o["name"] for o in side["outputs"]] == ["score", "reconstruction"]


def test_cli_export_prints_the_file_last(runs, tmp_path, capsys):
    code, out, err = run_cli(capsys, "export", runs["srgan"], "-o", tmp_path / "x2.pt")
    assert code == 0, err
    assert out.strip().splitlines()[-1] == str(tmp_path / "x2.pt")
    assert "torchscript" in out and (tmp_path / "x2.json").is_file()
    side = json.loads((tmp_path / "x2.json").read_text())
    assert side["format"] == "torchscript" and side["scale"] == 2 and "opset" not in side


def test_a_failed_export_leaves_nothing_half_written(runs, tmp_path, monkeypatch, capsys):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"the earlier export")
    sidecar_path(target).write_text("{}")

    def broken(graph, path, opset):
        path.write_bytes(b"half an ONNX file")
        raise KeyboardInterrupt

    monkeypatch.setattr(export_module, "_write_onnx", broken)
    code, _, err = run_cli(capsys, "export", runs["unconditional"], "-o", target)
    assert code == 130, err
    assert target.read_bytes() == b"the earlier export"
    assert sidecar_path(target).read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.onnx"]  # no temp files


def test_an_operation_the_opset_cannot_express_is_one_line(runs, tmp_path, monkeypatch, capsys):
    # An upscaler whose output goes through an op ONNX has no counterpart for.
    monkeypatch.setattr(export_module.Upscaler, "forward", lambda self, x: torch.special.i1(x))
    code, _, err = run_cli(capsys, "export", runs["srgan"], "-o", tmp_path / "sr.onnx")
    assert_one_line_error(code, err, r"cannot be written as ONNX opset 17 .*special_i1.*--opset")
    assert list(tmp_path.iterdir()) == []
