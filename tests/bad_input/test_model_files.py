"""Model, checkpoint and weights files that are not what they claim: no code ever runs, no
traceback, exit 2, one line naming the file and what was expected.

Every command-line option that takes a model or weights file (from
``grep -n "add_argument" src/ganforge/cli.py src/ganforge/apps/tabular.py`` and the train flag
table ``TRAIN_FLAGS`` in cli.py), each given a booby-trapped pickle (its ``__reduce__`` runs
``os.system`` or ``exec`` to create a marker file) under the names users meet:

    sample RUN_OR_FILE            (FILE.pt, RUN/generator.pt, RUN/checkpoints/last.pt)
    eval RUN_OR_FILE              eval --inception-weights FILE
    info RUN                      (FILE.pt, RUN/checkpoints/last.pt)
    augment RUN_OR_FILE           augment --filter --classifier FILE (.pt2, .pt, .ts, .onnx)
    upscale RUN_OR_FILE           eval-sr RUN_OR_FILE ...           translate RUN_OR_FILE
    anomaly score RUN             (RUN/detector.pt, detector.pt)
    tabular sample MODEL.gft      tabular fit --run-dir DIR --resume (DIR/checkpoints/last.pt)
    train --resume RUN_OR_FILE    train --config FILE.toml
    train --vgg-weights FILE      train --inception-weights FILE (with --eval-every)
    train --eval-ref FILE.npy

The other path options take data or name outputs: --data (folder:/csv:), --real/--fake/--ref,
INPUT images and CSVs, tabular report's CSVs (its only files: it takes no model), -o/--out,
--json, --maps, --run-dir; data files have their own module (test_datasets.py).

Then every loader (generator/checkpoint, info, resume, detector, tabular model, Inception, VGG19
and MnistNet weights, ONNX classifier) is given files that are no checkpoint at all (text such as
a CSV, random bytes, a foreign zip, an empty file, a folder, foreign pickles, a truncated
checkpoint) and torch files of the wrong structure (a tensor, a list, a dict without ganforge's
tag, another ganforge format, a tagged dict missing its entries or holding garbage in them).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.errors import GanforgeError
from tests.bad_input.conftest import assert_user_error
from tests.cli_helpers import TINY_DIGITS

MARKER = "PLANTED_CODE_RAN"


class _SystemPayload:
    """Unpickling this runs a shell command that creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


class _ExecPayload:
    """Unpickling this runs Python (builtins.exec) that creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def plant(path: Path, marker: Path, how: str = "torch") -> Path:
    """Write a booby-trapped file at ``path``: a torch zip (``torch``), a plain pickle
    (``pickle2``/``pickle4``) or a torch zip whose payload runs exec (``exec``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "torch":
        torch.save({"format": "ganforge-checkpoint", "config": _SystemPayload(marker)}, path)
    elif how == "exec":
        torch.save({"state_dict": _ExecPayload(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(_SystemPayload(marker), protocol=int(how[-1])))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny conditional run, a small image, a .npy of images and a table (built once)."""
    root = tmp_path_factory.mktemp("world")
    code = main(
        [str(a) for a in ["train", *TINY_DIGITS, "--family", "conditional"]]
        + ["--out", str(root), "--name", "crun"]
    )
    assert code == 0
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "img.png")
    np.save(root / "images.npy", np.zeros((16, 1, 8, 8), np.float32))
    (root / "table.csv").write_text("a,b\n" + "\n".join(f"{i},{i % 3}" for i in range(40)))
    return root


def _tiny_sr(weights: Path) -> list:
    return ["train", "--family", "srgan", "--arch", "srresnet", "--data", "photos"] + [
        "--resolution", 16, "--scale", 2, "--g-width", 8, "--d-width", 4, "--sr-blocks", 1,
        "--batch-size", 2, "--steps", 2, "--pretrain-steps", 0, "--perceptual", "vgg",
        "--vgg-weights", weights, "--no-tensorboard", "--quiet",
    ]  # fmt: skip


# option id -> (file to plant, relative to tmp_path; argv built from (planted path, tmp, world);
# what the error line must say besides the file's name)
CODE = "code or Python objects .*never loads"
OPTIONS = {
    "sample-file": ("m.pt", lambda f, t, w: ["sample", f, "-o", t / "s.png"], CODE),
    "sample-generator.pt": (
        "run/generator.pt",
        lambda f, t, w: ["sample", t / "run", "-o", t / "s.png"],
        CODE,
    ),
    "sample-last.pt": (
        "run/checkpoints/last.pt",
        lambda f, t, w: ["sample", t / "run", "-o", t / "s.png"],
        CODE,
    ),
    "eval-file": ("m.pt", lambda f, t, w: ["eval", f], CODE),
    "eval-inception-weights": (
        "pt_inception.pth",
        lambda f, t, w: (
            ["eval", "--real", w / "images.npy", "--fake", w / "images.npy"]
            + ["--extractor", "inception", "--inception-weights", f]
        ),
        CODE,
    ),
    "info-file": ("m.pt", lambda f, t, w: ["info", f], CODE),
    "info-run": ("run/checkpoints/last.pt", lambda f, t, w: ["info", t / "run"], CODE),
    "augment-model": ("m.pt", lambda f, t, w: ["augment", f, "-o", t / "o"], CODE),
    "augment-classifier.pt2": (
        "clf.pt2",
        lambda f, t, w: ["augment", w / "crun", "-o", t / "o", "--filter", "--classifier", f],
        r"\(\.pt2\) can run code .*torch\.onnx\.export",
    ),
    "augment-classifier.pt": (
        "clf.pt",
        lambda f, t, w: ["augment", w / "crun", "-o", t / "o", "--filter", "--classifier", f],
        r"\(\.pt\) can run code .*ONNX",
    ),
    "augment-classifier.ts": (
        "clf.ts",
        lambda f, t, w: ["augment", w / "crun", "-o", t / "o", "--filter", "--classifier", f],
        r"TorchScript archive \(\.ts\) can run code",
    ),
    "augment-classifier.onnx": (  # a pickle renamed: onnxruntime parses protobuf, runs nothing
        "clf.onnx",
        lambda f, t, w: ["augment", w / "crun", "-o", t / "o", "--filter", "--classifier", f],
        "not an ONNX classifier",
    ),
    "upscale": ("m.pt", lambda f, t, w: ["upscale", f, w / "img.png", "-o", t / "u.png"], CODE),
    "eval-sr": ("m.pt", lambda f, t, w: ["eval-sr", f], CODE),
    "translate": (
        "m.pt",
        lambda f, t, w: ["translate", f, w / "img.png", "-o", t / "t.png"],
        CODE,
    ),
    "anomaly-score-detector.pt": (
        "detector.pt",
        lambda f, t, w: ["anomaly", "score", f, w / "img.png", "-o", t / "s.csv"],
        CODE,
    ),
    "anomaly-score-run": (
        "det/detector.pt",
        lambda f, t, w: ["anomaly", "score", t / "det", w / "img.png", "-o", t / "s.csv"],
        CODE,
    ),
    "tabular-sample": (
        "m.gft",
        lambda f, t, w: ["tabular", "sample", f, "-o", t / "x.csv"],
        CODE,
    ),
    "tabular-fit-resume": (
        "tab/checkpoints/last.pt",
        lambda f, t, w: (
            ["tabular", "fit", w / "table.csv", "-o", t / "m.gft"]
            + ["--run-dir", t / "tab", "--resume", "--epochs", 1, "--quiet"]
        ),
        CODE,
    ),
    "train-resume-file": ("last.pt", lambda f, t, w: ["train", "--resume", f], CODE),
    "train-resume-run": (
        "run/checkpoints/last.pt",
        lambda f, t, w: ["train", "--resume", t / "run"],
        CODE,
    ),
    "train-vgg-weights": (
        "vgg19.pth",
        lambda f, t, w: [*_tiny_sr(f), "--out", t, "--name", "sr"],
        CODE,
    ),
    "train-inception-weights": (
        "pt_inception.pth",
        lambda f, t, w: (
            ["train", *TINY_DIGITS, "--eval-every", 2, "--eval-n", 16]
            + ["--eval-extractor", "inception", "--inception-weights", f, "--out", t, "--name", "e"]
        ),
        CODE,
    ),
    "train-eval-ref": (
        "ref.npy",
        lambda f, t, w: (
            ["train", *TINY_DIGITS, "--eval-every", 2, "--eval-n", 16]
            + ["--eval-ref", f, "--out", t, "--name", "r"]
        ),
        r"\.npy|pickle",
    ),
    "train-config": ("c.toml", lambda f, t, w: ["train", "--config", f], "not valid TOML"),
}


def _code_cases():
    cases = []
    for option in OPTIONS:
        ways = ["torch", "pickle2", "pickle4"]
        if option in ("sample-file", "info-file", "tabular-sample", "train-resume-file"):
            ways.append("exec")
        cases += [pytest.param(option, how, id=f"{option}-{how}") for how in ways]
    return cases


@pytest.mark.parametrize("option,how", _code_cases())
def test_planted_code_never_runs(cli, world, tmp_path, option, how):
    relative, argv, says = OPTIONS[option]
    marker = tmp_path / MARKER
    planted = plant(tmp_path / relative, marker, how)
    ran = cli(*argv(planted, tmp_path, world))
    assert not marker.exists(), "the planted code ran"
    assert_user_error(ran, planted.name, says)


def test_the_planted_files_do_run_code_when_unpickled(tmp_path):
    """The battery above could fail: each payload really runs when loaded unsafely."""
    for how in ("torch", "exec", "pickle2", "pickle4"):
        marker = tmp_path / f"{MARKER}_{how}"
        path = plant(tmp_path / f"f_{how}.pt", marker, how)
        if how.startswith("pickle"):
            pickle.loads(path.read_bytes())
        else:
            torch.load(path, weights_only=False)
        assert marker.exists(), how


def test_a_real_torch_export_archive_is_refused_unopened(cli, world, tmp_path):
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    path = tmp_path / "clf.pt2"
    torch.export.save(torch.export.export(net, (torch.zeros(2, 1, 8, 8),)), path)
    ran = cli("augment", world / "crun", "--out", tmp_path / "o", "--filter", "--classifier", path)
    assert_user_error(ran, "clf.pt2", r"torch\.export archive \(\.pt2\) can run code")
    assert not (tmp_path / "o").exists()


# ---- files that are no checkpoint --------------------------------------------------------------


def _write(kind: str, path: Path, world: Path) -> Path:
    """A file of ``kind`` at ``path`` (a folder for ``folder``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "text":
        path.write_text("fixed acidity,volatile acidity,quality\n7.4,0.70,5\n7.8,0.88,5\n")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(2048))
    elif kind == "foreign-zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("README.txt", "not a torch file")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "folder":
        path.mkdir()
    elif kind == "pickle-dict":
        path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    elif kind == "pickle-set":
        path.write_bytes(pickle.dumps({1, 2, 3}))
    elif kind == "truncated":
        data = (world / "crun" / "checkpoints" / "last.pt").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        raise AssertionError(kind)
    return path


NOT_TORCH = {
    "text": r"a text file \(it starts 'fixed acidity",
    "random": "unrecognised bytes",
    "foreign-zip": "a zip archive that is not a torch file",
    "empty": "an empty file",
    "folder": "a folder",
    "pickle-dict": "a Python pickle of another program",
    "pickle-set": "a Python pickle of another program",
    "truncated": "a truncated or damaged torch file",
}

# loader id -> (file name; argv from (file, tmp, world); what the line says was expected)
LOADERS = {
    "sample": ("model.pt", lambda f, t, w: ["sample", f, "-o", t / "s.png"], "ganforge checkpoint"),
    "info": ("wine.csv", lambda f, t, w: ["info", f], "not a ganforge checkpoint or model"),
    "train-resume": ("last.pt", lambda f, t, w: ["train", "--resume", f], "not a ganforge"),
    "anomaly-score": (
        "detector.pt",
        lambda f, t, w: ["anomaly", "score", f, w / "img.png", "-o", t / "s.csv"],
        "not a ganforge anomaly detector",
    ),
    "tabular-sample": (
        "wine.csv",
        lambda f, t, w: ["tabular", "sample", f, "-o", t / "x.csv"],
        "not a ganforge tabular model",
    ),
    "inception-weights": (
        "pt_inception.pth",
        lambda f, t, w: (
            ["eval", "--real", w / "images.npy", "--fake", w / "images.npy"]
            + ["--extractor", "inception", "--inception-weights", f]
        ),
        "FID Inception weights",
    ),
}


def _not_torch_cases():
    cases = []
    for loader in LOADERS:
        for kind in NOT_TORCH:
            if kind == "folder" and loader in ("sample", "info", "train-resume", "anomaly-score"):
                continue  # a folder there is a run directory: its own message (below)
            if kind == "folder" and loader == "inception-weights":
                continue  # looked up as a file: "not found"
            cases.append(pytest.param(loader, kind, id=f"{loader}-{kind}"))
    return cases


@pytest.mark.parametrize("loader,kind", _not_torch_cases())
def test_a_file_that_is_no_checkpoint(cli, world, tmp_path, loader, kind):
    name, argv, expected = LOADERS[loader]
    path = _write(kind, tmp_path / name, world)
    ran = cli(*argv(path, tmp_path, world))
    assert_user_error(ran, path.name, expected, NOT_TORCH[kind])


@pytest.mark.parametrize(
    "command",
    [
        ["eval", "{f}"],
        ["augment", "{f}", "--out", "{t}/o"],
        ["upscale", "{f}", "{w}/img.png", "-o", "{t}/u.png"],
        ["eval-sr", "{f}"],
        ["translate", "{f}", "{w}/img.png", "-o", "{t}/t.png"],
        ["train", "--resume", "{f}"],
    ],
    ids=lambda c: c[0] if c[0] != "train" else "train-resume",
)
def test_a_csv_where_a_model_is_expected(cli, world, tmp_path, command):
    csv = _write("text", tmp_path / "wine.csv", world)
    argv = [a.format(f=csv, t=tmp_path, w=world) for a in command]
    ran = cli(*argv)
    assert_user_error(ran, "wine.csv", "not a ganforge", "a text file")


@pytest.mark.parametrize(
    "argv,says",
    [
        (["info", "{t}"], "no checkpoint in run directory"),
        (["sample", "{t}", "-o", "{t}/s.png"], "no checkpoint in run directory"),
        (["train", "--resume", "{t}"], "no checkpoint in run directory"),
        (["anomaly", "score", "{t}", "{w}/img.png", "-o", "{t}/s.csv"], "no anomaly detector"),
    ],
    ids=["info", "sample", "train-resume", "anomaly-score"],
)
def test_a_folder_that_is_no_run(cli, world, tmp_path, argv, says):
    ran = cli(*[str(a).format(t=tmp_path, w=world) for a in argv])
    assert_user_error(ran, str(tmp_path.name), says)


def test_vgg_and_mnist_weights_that_are_no_weights(world, tmp_path):
    from ganforge.metrics.features.mnist import MnistExtractor
    from ganforge.nets.srresnet import VGG19Features

    for kind, says in NOT_TORCH.items():
        if kind == "folder":
            continue
        path = _write(kind, tmp_path / f"{kind}.pth", world)
        with pytest.raises(GanforgeError, match=f"not VGG19 weights: {says}") as vgg:
            VGG19Features(path)
        with pytest.raises(GanforgeError, match=f"not MnistNet weights: {says}") as mnist:
            MnistExtractor(path)
        assert path.name in str(vgg.value) and path.name in str(mnist.value)


def test_vgg_weights_that_are_a_text_file_through_train(cli, world, tmp_path):
    path = _write("text", tmp_path / "vgg19.pth", world)
    ran = cli(*_tiny_sr(path), "--out", tmp_path, "--name", "sr")
    assert_user_error(ran, "vgg19.pth", "not VGG19 weights: a text file")


# ---- torch files of the wrong structure ----------------------------------------------------


def _checkpoint(world: Path) -> dict:
    return torch.load(world / "crun" / "checkpoints" / "last.pt", weights_only=True)


def _generator(world: Path) -> dict:
    return torch.load(world / "crun" / "generator.pt", weights_only=True)


# id -> (build the object from world, command, what the line says)
STRUCTURES = {
    "tensor": (lambda w: torch.zeros(3), "sample", "a torch file holding a tensor"),
    "list": (lambda w: [1, 2], "info", "a torch file holding a list"),
    "untagged-dict": (
        lambda w: {"state_dict": {"w": torch.zeros(2)}},
        "sample",
        "a torch file that ganforge did not write",
    ),
    "tagged-but-empty": (
        lambda w: {"format": "ganforge-checkpoint"},
        "info",
        "damaged ganforge checkpoint or model: its 'config' entry is missing",
    ),
    "config-a-tensor": (
        lambda w: {**_checkpoint(w), "config": torch.zeros(1)},
        "train-resume",
        "its 'config' entry is a tensor",
    ),
    "generator-a-tensor": (
        lambda w: {**_checkpoint(w), "generator": torch.zeros(1)},
        "sample",
        "its 'generator' entry is a tensor",
    ),
    "generator-weights-not-tensors": (
        lambda w: {**_generator(w), "state_dict": {"layer.weight": "zeros"}},
        "sample",
        "its 'state_dict' entry is not a set of named tensors",
    ),
    "ema-garbage": (
        lambda w: {**_checkpoint(w), "ema": {"module": [1, 2]}},
        "sample",
        "its EMA generator is not a set of named tensors",
    ),
    "weights-of-another-net": (
        lambda w: {**_generator(w), "state_dict": {"other.weight": torch.zeros(2)}},
        "sample",
        "weights do not fit the saved config",
    ),
    "step-a-string": (
        lambda w: {**_checkpoint(w), "step": "four"},
        "info",
        "its 'step' entry is a str",
    ),
    "version-a-string": (
        lambda w: {**_checkpoint(w), "format_version": "one"},
        "sample",
        "its format version is 'one'",
    ),
    "gft-given-to-sample": (
        lambda w: {"format": "ganforge-tabular", "format_version": 2},
        "sample",
        "a ganforge tabular model .*not a ganforge checkpoint or model",
    ),
    "detector-given-to-resume": (
        lambda w: {"format": "ganforge-anomaly", "format_version": 1},
        "train-resume",
        "a ganforge anomaly detector .*not a ganforge (training )?checkpoint",
    ),
    "generator-given-to-tabular": (
        lambda w: _generator(w),
        "tabular-sample",
        "a ganforge generator .*not a ganforge tabular model",
    ),
    "checkpoint-given-to-anomaly": (
        lambda w: _checkpoint(w),
        "anomaly-score",
        "a ganforge training checkpoint, not a ganforge anomaly detector",
    ),
    "detector-missing-entries": (
        lambda w: {"format": "ganforge-anomaly", "format_version": 1, "method": "ganomaly"},
        "anomaly-score",
        "damaged ganforge anomaly detector: its 'config' entry is missing",
    ),
    "tabular-missing-layout": (
        lambda w: {"format": "ganforge-tabular", "format_version": 2, "config": {}},
        "tabular-sample",
        "damaged ganforge tabular model: its 'layout' entry is missing",
    ),
    "inception-a-tensor": (
        lambda w: torch.zeros(3),
        "inception-weights",
        "the Inception weights file is not a set of named tensors",
    ),
}


@pytest.mark.parametrize("case", list(STRUCTURES))
def test_a_torch_file_of_the_wrong_structure(cli, world, tmp_path, case):
    build, loader, says = STRUCTURES[case]
    name, argv, _ = LOADERS[loader]
    path = tmp_path / f"{case}{Path(name).suffix or '.pt'}"
    torch.save(build(world), path)
    ran = cli(*argv(path, tmp_path, world))
    assert_user_error(ran, path.name, says)


def test_a_damaged_detector_of_the_right_shape(cli, world, tmp_path):
    """Every entry present with the right type, but the networks do not fit the config."""
    state = {
        "format": "ganforge-anomaly",
        "format_version": 1,
        "method": "ganomaly",
        "config": {},
        "generator": {"nope.weight": torch.zeros(1)},
        "discriminator": {},
        "kind": "image",
        "input_shape": [1, 8, 8],
        "resolution": 8,
        "columns": None,
        "mean": None,
        "std": None,
        "holdout_scores": torch.zeros(4),
        "map_scale": 1.0,
        "fpr": 0.05,
        "holdout": 0.2,
        "seed": 0,
    }
    path = tmp_path / "detector.pt"
    torch.save(state, path)
    ran = cli("anomaly", "score", path, world / "img.png", "-o", tmp_path / "s.csv")
    assert_user_error(ran, "detector.pt", "damaged ganforge anomaly detector")


def test_no_loader_in_the_package_can_run_code_from_a_file():
    """The one torch.load is checkpoint.read_torch_file's (weights_only=True); nothing unpickles,
    nothing loads torch.export / TorchScript archives, numpy never allows pickles."""
    import re

    import ganforge

    unsafe = re.compile(
        r"torch\.load\(|pickle\.loads?\(|torch\.export\.load|torch\.jit\.load|"
        r"allow_pickle\s*=\s*True|weights_only\s*=\s*False|joblib\.load|dill\."
    )
    package = Path(ganforge.__file__).parent
    found = []
    for path in package.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if unsafe.search(code) and '"""' not in code:
                found.append(f"{path.relative_to(package)}:{number}: {line.strip()}")
    # exactly one hit: the guarded loader itself
    assert len(found) == 1, found
    assert found[0].startswith("training/checkpoint.py:"), found
    assert "torch.load(path" in found[0] and "weights_only=True" in found[0], found
