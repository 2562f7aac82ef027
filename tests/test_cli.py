"""The command line: every user mistake is one line `ganforge: error: ...`, exit 2, no traceback."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.cli_helpers import assert_one_line_error, run_cli

TINY = [
    "--data",
    "digits",
    "--resolution",
    "8",
    "--latent-dim",
    "8",
    "--g-width",
    "8",
    "--d-width",
    "8",
    "--batch-size",
    "16",
    "--log-every",
    "2",
    "--sample-every",
    "3",
    "--checkpoint-every",
    "3",
    "--no-tensorboard",
    "--quiet",
]


@pytest.fixture
def trained(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "train", *TINY, "--steps", 6, "--out", tmp_path, "--name", "r")
    assert code == 0, out
    return tmp_path / "r"


def test_train_sample_info_round_trip(trained, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "sample", trained, "-n", 9, "-o", tmp_path / "g.png")
    assert code == 0 and "wrote 9 samples" in out
    assert Image.open(tmp_path / "g.png").size == (3 * 10 + 2, 3 * 10 + 2)
    code, _, _ = run_cli(capsys, "sample", trained, "-n", 5, "-o", tmp_path / "s.npy")
    arr = np.load(tmp_path / "s.npy")
    assert arr.shape == (5, 1, 8, 8) and arr.min() >= -1 and arr.max() <= 1
    code, _, _ = run_cli(
        capsys, "sample", trained, "-n", 4, "--format", "png-dir", "-o", tmp_path / "pngs"
    )
    assert sorted(p.name for p in (tmp_path / "pngs").iterdir())[-1] == "000003.png"
    code, out, _ = run_cli(capsys, "info", trained, "--json", "-")
    info = json.loads(out)
    assert info["steps_done"] == 6 and info["arch"] == "dcgan" and info["data"] == "digits"
    code, out, _ = run_cli(capsys, "info", trained)
    assert "steps      6 of 6" in out


def test_resume_flag_continues_the_named_run(trained, tmp_path, capsys):
    code, out, _ = run_cli(
        capsys, "train", "--resume", trained, "--steps", 9, "--quiet", "--no-tensorboard"
    )
    assert code == 0 and "now 9" in out, out
    code, out, _ = run_cli(
        capsys, "train", "--resume", "--out", tmp_path, "--name", "r", "--steps", 12, "--quiet"
    )
    assert code == 0 and "now 12" in out, out


def test_presets_lists_each_with_a_description(capsys):
    code, out, _ = run_cli(capsys, "presets")
    names = [line.split()[0] for line in out.strip().splitlines()]
    assert {"ring-vanilla", "digits-dcgan", "mnist-dcgan", "mnist-wgangp", "mnist-hinge-sn"} <= set(
        names
    )


@pytest.mark.parametrize(
    "argv,pattern",
    [
        (["--preset", "nope"], "unknown preset 'nope'"),
        (["--family", "stylegan9"], "unknown family 'stylegan9'"),
        (["--loss", "wgan"], "unknown adversarial loss .wgan."),
        (["--arch", "vit"], "unknown architecture 'vit'"),
        (["--steps", "0"], "--steps must be positive"),
        (["--batch-size", "-4"], "--batch-size must be positive"),
        (["--lr-g", "0"], "--lr-g must be positive"),
        (["--data", "folder:/nonexistent/x"], "/nonexistent/x"),
        (["--data", "imagenet"], "unknown data source 'imagenet'"),
        (["--device", "cuda"] if not torch.cuda.is_available() else ["--device", "tpu"], "device"),
    ],
)
def test_train_bad_input(tmp_path, capsys, argv, pattern):
    code, _, err = run_cli(capsys, "train", *TINY, "--steps", 2, "--out", tmp_path, *argv)
    assert_one_line_error(code, err, pattern)


def test_empty_image_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli(
        capsys, "train", *TINY, "--data", f"folder:{tmp_path / 'empty'}", "--out", tmp_path
    )
    assert_one_line_error(code, err, "empty")


def test_unwritable_output_directory(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_cli(capsys, "train", *TINY, "--out", blocker / "sub")
    assert_one_line_error(code, err, "cannot write the run directory")


def test_truncated_checkpoint(trained, tmp_path, capsys):
    data = (trained / "checkpoints" / "last.pt").read_bytes()
    bad = tmp_path / "half.pt"
    bad.write_bytes(data[: len(data) // 2])
    code, _, err = run_cli(capsys, "sample", bad, "-o", tmp_path / "x.png")
    assert_one_line_error(code, err, "truncated or damaged torch file")
    code, _, err = run_cli(capsys, "train", "--resume", bad, "--steps", 9)
    assert_one_line_error(code, err, "truncated or damaged torch file")


def test_foreign_checkpoint(tmp_path, capsys):
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    code, _, err = run_cli(capsys, "sample", foreign, "-o", tmp_path / "x.png")
    assert_one_line_error(code, err, "not a ganforge checkpoint")


def test_resume_with_incompatible_flags(trained, capsys):
    code, _, err = run_cli(capsys, "train", "--resume", trained, "--steps", 9, "--loss", "hinge")
    assert_one_line_error(code, err, "incompatible config .*train.loss")


def test_missing_run(tmp_path, capsys):
    code, _, err = run_cli(capsys, "info", tmp_path / "nothing")
    assert_one_line_error(code, err, "no such run directory")
    code, _, err = run_cli(capsys, "sample", tmp_path / "nothing", "-o", tmp_path / "x.png")
    assert_one_line_error(code, err, "no such run directory or model file")


def test_bad_config_file(tmp_path, capsys):
    bad = tmp_path / "c.toml"
    bad.write_text("[train]\nstepz = 3\n")
    code, _, err = run_cli(capsys, "train", "--config", bad)
    assert_one_line_error(code, err, "unknown setting 'stepz'")
    bad.write_text("[train\n")
    code, _, err = run_cli(capsys, "train", "--config", bad)
    assert_one_line_error(code, err, "not valid TOML")


def test_eval_run_and_direct(trained, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "eval", trained, "-n", 200, "--metrics", "fid,pr")
    assert code == 0 and "fid" in out and "extractor=mnist" in out, out
    result = json.loads((trained / "eval" / "eval_step0000006.json").read_text())
    assert result["protocol"]["n_fake"] == 200 and result["fid"] > 0
    np.save(tmp_path / "a.npy", np.zeros((50, 1, 8, 8), np.float32))
    code, out, _ = run_cli(
        capsys,
        "eval",
        "--real",
        tmp_path / "a.npy",
        "--fake",
        tmp_path / "a.npy",
        "-n",
        50,
        "--metrics",
        "fid",
        "--json",
        tmp_path / "r.json",
    )
    assert code == 0
    assert abs(json.loads((tmp_path / "r.json").read_text())["fid"]) < 1e-6  # identical sets
    # --json -: stdout is the JSON alone (the figures go to stderr), so it pipes into a parser
    code, out, err = run_cli(capsys, "eval", trained, "-n", 200, "--metrics", "fid", "--json", "-")
    assert code == 0 and json.loads(out)["protocol"]["n_fake"] == 200
    assert "fid " in err and "evaluated" in err


def test_eval_bad_input(trained, tmp_path, capsys):
    code, _, err = run_cli(capsys, "eval")
    assert_one_line_error(code, err, "needs a RUN_OR_FILE")
    code, _, err = run_cli(capsys, "eval", trained, "--metrics", "fid,bogus", "-n", 50)
    assert_one_line_error(code, err, "bogus")
    code, _, err = run_cli(
        capsys,
        "eval",
        trained,
        "--extractor",
        "inception",
        "-n",
        50,
        "--inception-weights",
        tmp_path / "missing.pth",
    )
    assert_one_line_error(code, err, "missing.pth")


def test_eval_every_keeps_best_checkpoint(tmp_path, capsys):
    code, out, err = run_cli(
        capsys,
        "train",
        *TINY,
        "--steps",
        6,
        "--eval-every",
        3,
        "--eval-n",
        60,
        "--out",
        tmp_path,
        "--name",
        "e",
    )
    assert code == 0, out
    entries = [json.loads(x) for x in (tmp_path / "e" / "metrics.jsonl").read_text().splitlines()]
    evals = [e for e in entries if e.get("kind") == "eval"]
    assert [e["step"] for e in evals] == [3, 6] and all(e["fid"] > 0 for e in evals)
    best = torch.load(tmp_path / "e" / "checkpoints" / "best.pt", weights_only=True)
    best_step = min(evals, key=lambda e: e["fid"])["step"]
    assert best["step"] == best_step
    # The console shows each evaluation as it happens; `info` shows the last and the best.
    shown = [line for line in err.splitlines() if line.startswith("ganforge: eval step ")]
    assert [line.split()[3] for line in shown] == ["3:", "6:"]
    assert f"fid={evals[0]['fid']:.4g}" in shown[0] and "(best so far: best.pt)" in shown[0]
    code, out, _ = run_cli(capsys, "info", tmp_path / "e")
    assert code == 0
    assert f"evals      2; last: step 6: fid={evals[1]['fid']:.4g}" in out
    assert f"best eval  step {best_step}: fid=" in out


def test_eval_toy_run_reports_mode_coverage(tmp_path, capsys):
    code, out, _ = run_cli(
        capsys,
        "train",
        "--data",
        "ring",
        "--arch",
        "mlp",
        "--latent-dim",
        4,
        "--g-width",
        16,
        "--d-width",
        16,
        "--steps",
        4,
        "--log-every",
        2,
        "--no-tensorboard",
        "--quiet",
        "--out",
        tmp_path,
        "--name",
        "ring",
    )
    assert code == 0, out
    code, out, _ = run_cli(
        capsys, "eval", tmp_path / "ring", "-n", 500, "--json", tmp_path / "modes.json"
    )
    assert code == 0 and "of 8" in out
    result = json.loads((tmp_path / "modes.json").read_text())
    assert result["num_modes"] == 8 and sum(result["counts"]) <= 500
    code, out, _ = run_cli(capsys, "sample", tmp_path / "ring", "-o", tmp_path / "ring.png")
    assert code == 0 and "(scatter plot, step 4)" in out and "grid" not in out
