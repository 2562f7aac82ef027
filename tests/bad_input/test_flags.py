"""Bad flags and settings: refused before any work, one line naming the flag and the value.

Also the CLI's last line of defence: an unexpected exception is one line naming a crash log
(exit 3), `--debug` shows the traceback, a closed stdout pipe is not a traceback.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from ganforge import cli as cli_module
from ganforge.cli import build_parser
from tests.bad_input.conftest import assert_user_error
from tests.cli_helpers import TINY_DIGITS


def _float_flags() -> list[tuple[list[str], str]]:
    """(command path, flag) for every float-typed option of every (sub)command."""
    found = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if action.type is cli_module._finite_float and action.option_strings:
                found.append((path, action.option_strings[-1]))
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])

    walk(build_parser(), [])
    return found


FLOAT_FLAGS = _float_flags()


def test_every_float_flag_is_checked():
    """The walk finds the float flags of train, sample, augment, anomaly and tabular."""
    commands = {path[0] for path, _ in FLOAT_FLAGS}
    assert {"train", "sample", "augment", "anomaly"} <= commands
    assert len(FLOAT_FLAGS) >= 30


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999"])
@pytest.mark.parametrize(("path", "flag"), FLOAT_FLAGS, ids=lambda x: str(x))
def test_non_finite_numbers_are_refused_at_parse_time(cli, path, flag, value):
    ran = cli(*path, f"{flag}={value}")  # `--flag -inf` would read -inf as a flag
    assert_user_error(ran, flag, "finite")


TRAIN_CASES = {
    "lr-g-nan-toml": (["lr_g = nan"], "lr_g", "finite"),
    "steps-string-toml": (['steps = "many"'], "steps", "whole number"),
    "bool-for-int-toml": (["batch_size = true"], "batch_size", "whole number"),
    "spectral-norm-number": (["[model]", "spectral_norm = 1"], "spectral_norm", "bool"),
}


@pytest.mark.parametrize("case", list(TRAIN_CASES), ids=list(TRAIN_CASES))
def test_bad_toml_values_are_one_line(cli, tmp_path, case):
    lines, name, what = TRAIN_CASES[case]
    section = [] if lines[0].startswith("[") else ["[train]"]
    toml = tmp_path / "bad.toml"
    toml.write_text("\n".join(section + lines) + "\n")
    ran = cli("train", "--config", toml, "--out", tmp_path / "runs")
    assert_user_error(ran, name, what, "bad.toml")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.pt"))


BAD_TRAIN_FLAGS = {
    "gp-negative": (["--gp", "-10"], "gp-weight", ">= 0"),
    "r1-negative": (["--r1", "-1"], "r1-weight", ">= 0"),
    "r2-negative": (["--r2", "-0.1"], "r2-weight", ">= 0"),
    "pair-loss-srgan": (
        ["--loss", "relativistic-pair", "--family", "srgan"],
        "relativistic-pair",
        "srgan",
        "unconditional",
    ),
    "resnet-resolution-30": (["--arch", "resnet", "--resolution", "30"], "30", "resnet", "28"),
    "blocks-per-stage-zero": (
        ["--arch", "resnet", "--blocks-per-stage", "0"],
        "blocks-per-stage",
        ">= 1",
    ),
    "grad-clip-negative": (["--grad-clip", "-0.5"], "grad-clip", ">= 0"),
    "beta1-one": (["--beta1", "1.0"], "beta1", r"\[0, 1\)"),
    "beta2-negative": (["--beta2", "-0.1"], "beta2", r"\[0, 1\)"),
    "resolution-30": (["--resolution", "30"], "resolution 30", "8, 14, 16"),
    "resolution-zero": (["--resolution", "0"], "resolution", "positive"),
    "steps-zero": (["--steps", "0"], "steps", "positive"),
    "lr-d-negative": (["--lr-d=-1e-4"], "lr-d", "positive"),
    "device-tpu": (["--device", "tpu"], "tpu", "cpu"),
    "device-cuda-absent": (["--device", "cuda"], "cuda", "cpu"),
    "sample-every-negative": (["--sample-every", "-1"], "sample-every", ">= 0"),
    "unknown-loss": (["--loss", "wgan"], "wgan", "hinge"),
    "unknown-preset": (["--preset", "nope"], "nope", "presets"),
    "steps-not-a-number": (["--steps", "abc"], "--steps", "abc"),
    "unknown-flag": (["--lr", "0.1"], "--lr", "train"),
}


@pytest.mark.parametrize("case", list(BAD_TRAIN_FLAGS), ids=list(BAD_TRAIN_FLAGS))
def test_bad_train_flags_refused_before_training(cli, tmp_path, case):
    flags, *names = BAD_TRAIN_FLAGS[case]
    if case == "device-cuda-absent":
        import torch

        if torch.cuda.is_available():
            pytest.skip("a CUDA device is present")
    ran = cli("train", *TINY_DIGITS, *flags, "--out", tmp_path)
    assert_user_error(ran, *names)
    assert not list(tmp_path.rglob("*.pt")), "nothing may be trained or saved"


@pytest.mark.parametrize(
    "argv",
    [
        ["sample", "RUN", "-o", "x.png", "--device", "tpu"],
        ["eval", "RUN", "--device", "tpu"],
        ["upscale", "RUN", "in.png", "-o", "out.png", "--device", "tpu"],
        ["translate", "RUN", "in.png", "-o", "out.png", "--device", "tpu"],
        ["augment", "RUN", "-o", "synth", "--device", "tpu"],
        ["anomaly", "score", "RUN", "in", "-o", "s.csv", "--device", "tpu"],
    ],
    ids=lambda argv: argv[0] if argv[0] != "anomaly" else "anomaly-score",
)
def test_unknown_device_is_refused_by_every_command(cli, argv):
    ran = cli(*argv)
    assert_user_error(ran, "tpu", "cpu, cuda")


def test_usage_errors_are_one_line(cli):
    """argparse's own mistakes (missing argument, unknown command) follow the contract too."""
    assert_user_error(cli("sample"), "required", "sample")
    assert_user_error(cli("trian"), "trian", "choose from")


def _boom(args):
    raise RuntimeError("something internal broke\nsecond line")


def test_internal_error_is_one_line_with_a_crash_log(cli, monkeypatch, tmp_path):
    monkeypatch.setitem(cli_module.COMMANDS, "presets", _boom)
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    monkeypatch.delenv("GANFORGE_DEBUG", raising=False)
    ran = cli("presets")
    assert ran.code == 3
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in ran.err
    assert lines[0].startswith("ganforge: internal error: RuntimeError: something internal broke")
    logs = list((tmp_path / "crashes").glob("ganforge-crash-*.log"))
    assert len(logs) == 1 and str(logs[0]) in lines[0]
    text = logs[0].read_text()
    assert "Traceback" in text and "_boom" in text


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setitem(cli_module.COMMANDS, "presets", _boom)
    with pytest.raises(RuntimeError, match="internal broke"):
        cli_module.main(["--debug", "presets"])
    monkeypatch.setenv("GANFORGE_DEBUG", "1")
    with pytest.raises(RuntimeError):
        cli_module.main(["presets"])


def test_a_user_error_is_never_reported_as_internal(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    ran = cli("info", tmp_path / "missing")
    assert_user_error(ran, "missing")
    assert not (tmp_path / "crashes").exists()


def test_a_closed_pipe_is_not_a_traceback():
    """`ganforge presets | head -1`: the reader leaves early; no BrokenPipeError traceback."""
    code = (
        "import sys; from ganforge import cli\n"
        "def many(args):\n"
        "    for i in range(200000):\n"
        "        print('line', i)\n"
        "    return 0\n"
        "cli.COMMANDS['presets'] = many\n"
        "sys.exit(cli.main(['presets']))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.readline()
    proc.stdout.close()  # the reader is gone
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert proc.returncode == 141
