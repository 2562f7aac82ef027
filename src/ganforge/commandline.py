"""The command-line convention as argparse helpers, shared by cli.py and every apps/<verb>.py.

One spelling per meaning (README, "Command-line convention"; tests/test_conventions.py walks
every parser and enforces it):

- a command that creates a run: `--out PARENT --name NAME` (run dir PARENT/NAME) or `--run-dir`
  EXACT; it prints the path it made last, on its own line (`print_made`);
- every other artifact: `-o/--output PATH`; `--json PATH` (`-` for stdout); `-n/--num` counts;
  `--seed` (default 0); `--quiet` (no progress bar, plain periodic lines); `--resume [RUN]`;
- every flag has a one-line help that states its default.

Old spellings stay for one release as `deprecated(...)` flags: hidden from --help, they store
into the new flag's destination and print one notice on stderr.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

STDOUT = "-"  # `--json -`: the JSON goes to stdout


def on_off(text: str) -> bool:
    """A switch value: on/off (also true/false, yes/no, 1/0)."""
    value = text.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")


def finite_float(text: str) -> float:
    """A number flag: a finite float (nan and inf are refused where they are typed)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


class Parser(argparse.ArgumentParser):
    """argparse with the one-line error contract: `ganforge: error: <what>, <command>, <fix>`."""

    def error(self, message: str):
        print(f"ganforge: error: {message}, {self.prog}, see `{self.prog} --help`", file=sys.stderr)
        raise SystemExit(2)


def subparsers(action: argparse.Action) -> dict[str, argparse.ArgumentParser]:
    """The sub-commands of a subparsers action (argparse has no public walk over them)."""
    return dict(action.choices) if isinstance(action, argparse._SubParsersAction) else {}


def walk(parser: argparse.ArgumentParser, prog: str | None = None):
    """(command path, parser) for `parser` and every (sub)command below it."""
    yield prog or parser.prog, parser
    for action in parser._actions:  # argparse has no public walk over its actions
        for name, sub in subparsers(action).items():
            yield from walk(sub, f"{prog or parser.prog} {name}")


def finite_floats(parser: argparse.ArgumentParser) -> None:
    """Every float flag of every (sub)command refuses nan and inf at parse time."""
    for _, p in walk(parser):
        for action in p._actions:
            if action.type is float:
                action.type = finite_float


class DeprecatedFlag(argparse.Action):
    """An old spelling kept for one release: stores into the new flag's dest, one notice."""

    def __init__(self, option_strings, dest, new: str, **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(
            f"ganforge: warning: `{parser.prog} {option_string}` is deprecated (removed in the "
            f"next release): use {self.new}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def deprecated(parser: argparse.ArgumentParser, *flags: str, dest: str, new: str, **kw) -> None:
    """Keep `flags` working as the old spelling of `new` (hidden from --help)."""
    parser.add_argument(
        *flags, dest=dest, action=DeprecatedFlag, new=new, help=argparse.SUPPRESS, **kw
    )


def add_run_flags(p: argparse.ArgumentParser, what: str, default_name: str) -> None:
    """`--out PARENT --name NAME` or `--run-dir EXACT`: where a new run goes."""
    p.add_argument(
        "--out", metavar="PARENT", help=f"parent folder of the new {what} (default: runs)"
    )
    p.add_argument(
        "--name", metavar="NAME", help=f"{what} name: PARENT/NAME (default: {default_name})"
    )
    p.add_argument(
        "--run-dir",
        metavar="DIR",
        help="the exact run directory instead of --out/--name (default: none)",
    )


def add_seed(p: argparse.ArgumentParser, what: str = "the random draws") -> None:
    """`--seed` (default 0)."""
    p.add_argument("--seed", type=int, default=0, help=f"seed of {what} (default 0)")


def add_quiet(p: argparse.ArgumentParser) -> None:
    """`--quiet`: no progress bar, plain periodic lines (the same in every command)."""
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar: plain periodic lines (default: a bar on a terminal)",
    )


def add_resume(p: argparse.ArgumentParser) -> None:
    """`--resume [RUN]`: continue a run (bare: the run named by --out/--name or --run-dir)."""
    p.add_argument(
        "--resume",
        nargs="?",
        const="",
        metavar="RUN",
        help="continue a run exactly: a run dir or checkpoint; bare: the run --out/--name or "
        "--run-dir names (default: a new run)",
    )


def add_json(p: argparse.ArgumentParser, default: str = "none") -> None:
    """`--json PATH` (`-`: stdout)."""
    p.add_argument(
        "--json",
        metavar="PATH",
        help=f"write the result as JSON to PATH, or - for stdout (default: {default})",
    )


def add_device(p: argparse.ArgumentParser) -> None:
    """`--device` (default cpu)."""
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto (default cpu)")


def print_made(path: str | Path) -> None:
    """The path a command made, last, on its own line (scripts read the last line)."""
    print(path)
