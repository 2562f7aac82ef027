"""Shared checks for the bad-input battery: every case is one clear line, no traceback."""

from __future__ import annotations

import re

import pytest

from ganforge.cli import main


class Ran:
    """The outcome of one `ganforge ...` call run in-process."""

    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def error_line(self) -> str:
        """The single `ganforge: error: ...` line (asserts there is exactly one, no traceback)."""
        assert "Traceback" not in self.err and "Traceback" not in self.out, self.err
        lines = [ln for ln in self.err.strip().splitlines() if ln.startswith("ganforge: error: ")]
        assert len(lines) == 1, f"expected one error line, got:\n{self.err}"
        return lines[0]


@pytest.fixture
def cli(capsys):
    """`cli("sample", run, "-o", out)` runs the command in-process and returns a Ran."""

    def run(*argv) -> Ran:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


def assert_user_error(ran: Ran, *names: str, code: int = 2) -> str:
    """Exit `code`, one error line, no traceback, and the line names every one of `names`
    (a file, a flag, a value: each a regex searched case-insensitively)."""
    line = ran.error_line()
    assert ran.code == code, (ran.code, ran.err)
    for name in names:
        assert re.search(name, line, re.IGNORECASE), f"{name!r} not named in: {line}"
    return line
