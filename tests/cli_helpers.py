"""Running the CLI in-process and checking the one-line user-error contract (shared by CLI tests)."""

import re

from ganforge.cli import main

# Flags of a DCGAN on 8x8 digits that trains in a few steps (add --family conditional for labels).
TINY_DIGITS = ["--data", "digits", "--resolution", 8, "--latent-dim", 8, "--g-width", 8]
TINY_DIGITS += ["--d-width", 8, "--batch-size", 16, "--steps", 4, "--log-every", 2]
TINY_DIGITS += ["--sample-every", 4, "--checkpoint-every", 4, "--no-tensorboard", "--quiet"]


def run_cli(capsys, *argv):
    """Run `ganforge ARGV...`; returns (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, pattern):
    """Exit 2, exactly one `ganforge: error: ...` line matching `pattern`, no traceback."""
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganforge: error: "), err
    assert "Traceback" not in err
    assert re.search(pattern, lines[0]), lines[0]


def train_tiny(capsys, out, *argv):
    """`ganforge train` with TINY_DIGITS, then ARGV (may override them), into the folder `out`;
    returns (exit code, stdout, stderr)."""
    return run_cli(capsys, "train", *TINY_DIGITS, *argv, "--out", out)
