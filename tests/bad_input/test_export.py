"""`ganforge export` given what it cannot export: a model with no generator graph (tabular,
series), an unknown --format, an -o that names no format or another one, an opset out of range,
a direction the run does not have, an f-AnoGAN generator.pt without its critic, a missing run,
an -o that is a folder. Each is one line, exit 2, and nothing is written: an earlier export
at the same path stays as it was and no temporary file is left."""

from __future__ import annotations

import shutil

import pytest

from ganforge.cli import main
from tests.bad_input.conftest import assert_user_error
from tests.cli_helpers import TINY_DIGITS

TINY_TABLE = ["--epochs", "1", "--batch-size", "40", "--pack", "4", "--embedding-dim", "8"]
TINY_TABLE += ["--width", "16", "--seed", "0", "--quiet"]
GOOD_CSV = "a,b,c\n" + "".join(f"{i % 7},{'xy'[i % 2]},{i * 0.5}\n" for i in range(60))
FANOGAN = ["--family", "fanogan", "--gan-steps", "2", "--loss", "wasserstein", "--d-norm", "none"]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A tiny conditional run, a tiny f-AnoGAN run's generator.pt alone, a tabular model."""
    root = tmp_path_factory.mktemp("export-bad")
    digits = [str(a) for a in TINY_DIGITS] + ["--out", str(root)]
    assert main(["train", *digits, "--family", "conditional", "--name", "c"]) == 0
    assert main(["train", *digits, *FANOGAN, "--name", "f"]) == 0
    lonely = root / "f-generator-only"
    lonely.mkdir()
    shutil.copy(root / "f" / "generator.pt", lonely / "generator.pt")
    (root / "t.csv").write_text(GOOD_CSV)
    table = root / "t.gft"
    assert main(["tabular", "fit", str(root / "t.csv"), "-o", str(table), *TINY_TABLE]) == 0
    return {"run": root / "c", "fanogan": lonely / "generator.pt", "tabular": table}


def _case(made, tmp_path, key: str, output: str, *flags: str):
    out = tmp_path / output
    return [made[key] if key in made else tmp_path / key, "-o", out, *flags], out


# id -> (model, -o name, extra flags, what the one line must name)
CASES = {
    "tabular-model": ("tabular", "m.onnx", [], ["tabular model has no generator graph", "t.gft"]),
    "unknown-format": ("run", "m.onnx", ["--format", "tflite"], ["--format", "tflite", "onnx"]),
    "suffix-names-no-format": ("run", "m.tflite", [], ["m.tflite", r"\.onnx", r"\.pt"]),
    "format-and-suffix-differ": (
        "run",
        "m.onnx",
        ["--format", "torchscript"],
        ["torchscript", r"m\.onnx", r"m\.pt"],
    ),
    "opset-too-old": ("run", "m.onnx", ["--opset", "9"], ["--opset", "13 to 20", r"\b9\b"]),
    "opset-too-new": ("run", "m.onnx", ["--opset", "99"], ["--opset", "99"]),
    "direction-not-in-run": ("run", "m.onnx", ["--direction", "BtoA"], ["conditional", "BtoA"]),
    "fanogan-without-critic": ("fanogan", "m.onnx", [], ["critic", "generator.pt"]),
    "no-such-run": ("missing-run", "m.onnx", [], ["no such run", "missing-run"]),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_export_refuses_with_one_line_and_writes_nothing(cli, made, tmp_path, case):
    key, output, flags, names = CASES[case]
    argv, out = _case(made, tmp_path, key, output, *flags)
    out.write_bytes(b"an earlier export")
    ran = cli("export", *argv)
    assert_user_error(ran, *names)
    assert out.read_bytes() == b"an earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == [output]  # no sidecar, no temp file


def test_export_to_a_folder_is_refused(cli, made, tmp_path):
    (tmp_path / "m.onnx").mkdir()
    assert_user_error(cli("export", made["run"], "-o", tmp_path / "m.onnx"), "folder", "m.onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


@pytest.mark.parametrize(
    "name, how",
    [("m.pt", "torch"), ("generator.pt", "exec"), ("detector.pt", "pickle4")],
    ids=["checkpoint-system", "generator-exec", "detector-pickle"],
)
def test_a_booby_trapped_model_file_never_runs(cli, tmp_path, name, how):
    from tests.bad_input.test_model_files import MARKER, plant

    marker = tmp_path / MARKER
    folder = tmp_path / "run"
    planted = plant(folder / name, marker, how)
    for source in (planted, folder):  # the file itself, and the run directory holding it
        ran = cli("export", source, "-o", tmp_path / "m.onnx")
        assert_user_error(ran, name if source == planted else "run")
        assert not marker.exists()
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "m.json").exists()
