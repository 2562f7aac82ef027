"""Running the CLI in-process and checking the one-line user-error contract (shared by CLI tests)."""

import re

from ganforge.cli import main


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
