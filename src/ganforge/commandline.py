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
import os
import re
import sys
from pathlib import Path

# The one switch parser lives with the typed settings (config imports no torch: still light).
from ganforge.config import on_off  # noqa: F401 - one of this module's helpers (cl.on_off)
from ganforge.errors import GanforgeError

STDOUT = "-"  # `--json -`: the JSON goes to stdout


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
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)


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


def add_pretrained(p: argparse.ArgumentParser) -> None:
    """`--pretrained NAME`: a model shipped with ganforge instead of RUN_OR_FILE."""
    p.add_argument(
        "--pretrained",
        metavar="NAME",
        default=None,
        help="a model shipped with ganforge instead of RUN_OR_FILE (list: ganforge presets "
        "--pretrained; default: none)",
    )


def model_source(args, verb: str) -> str:
    """The model a verb reads: its RUN_OR_FILE (a folder of runs: the newest), or the folder
    of `--pretrained NAME`; one line when neither or both are given."""
    given, name = getattr(args, "model", None), getattr(args, "pretrained", None)
    if name is not None:
        if given is not None:
            raise GanforgeError(
                f"{verb} takes RUN_OR_FILE or --pretrained NAME, not both",
                f"{given} and --pretrained {name}",
                "drop one of them",
            )
        from ganforge.pretrained import path

        return str(path(name))
    if given is None:
        raise GanforgeError(
            f"{verb} needs a RUN_OR_FILE or --pretrained NAME",
            fix=f"e.g. ganforge {verb} runs/NAME ... (the shipped models: ganforge presets "
            "--pretrained)",
        )
    from ganforge.run import resolve_run

    return resolve_run(given)


def print_made(path: str | Path) -> None:
    """The path a command made, last, on its own line (scripts read the last line)."""
    print(path)


# ---- the CLI's last line of defence ------------------------------------------------------------


def check_common(args) -> None:
    """Flags every command shares, checked before any work: the device exists here."""
    device = getattr(args, "device", None)
    if isinstance(device, str) and device != "cpu":  # (cpu always exists: no torch import yet)
        from ganforge.training.loop import resolve_device

        resolve_device(device)


def crash_report(error: BaseException) -> Path | None:
    """Write the traceback of an unexpected error to a crash log; its path (None if unwritable)."""
    import tempfile
    import time
    import traceback

    text = "".join(traceback.format_exception(error))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        from ganforge.metrics.cache import cache_root

        folders = [cache_root() / "crashes", Path(tempfile.gettempdir())]
    except Exception:  # noqa: BLE001 - the crash report must not crash
        folders = [Path(tempfile.gettempdir())]
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"ganforge-crash-{stamp}-{os.getpid()}.log"
            path.write_text(f"ganforge {' '.join(sys.argv[1:])}\n{text}")
            return path
        except OSError:
            continue
    return None


def quiet_broken_pipe() -> int:
    """`ganforge info RUN | head`: the reader left; stop writing without a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141  # 128 + SIGPIPE, what a shell tool killed by the closed pipe reports


# ---- the checker (tests/test_conventions.py runs it on build_parser()) ------------------------

QUIET_HELP = "no progress bar: plain periodic lines (default: a bar on a terminal)"


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return dict(parser._option_string_actions)  # argparse has no public map of its flags


def violations(parser: argparse.ArgumentParser) -> list[str]:
    """Every breach of the command-line convention in `parser` and its sub-commands, one line
    each (`<command> <flag>: <rule>`); empty when it keeps the convention."""
    found = []
    for prog, p in walk(parser):
        options = _options(p)
        for action in p._actions:
            if not action.option_strings or isinstance(
                action, (argparse._HelpAction, argparse._VersionAction)
            ):
                continue
            flag = "/".join(action.option_strings)
            if isinstance(action, DeprecatedFlag) and action.help != argparse.SUPPRESS:
                found.append(f"{prog} {flag}: a deprecated spelling is hidden from --help")
            if action.help == argparse.SUPPRESS:  # an old spelling kept for one release
                continue
            found += [f"{prog} {flag}: {rule}" for rule in _flag_rules(action)]
        if "--out" in options and not isinstance(options["--out"], DeprecatedFlag):
            if options["--out"].metavar != "PARENT":
                found.append(f"{prog} --out: --out is the PARENT of new runs (else -o/--output)")
            for partner in ("--name", "--run-dir"):
                if partner not in options:
                    found.append(
                        f"{prog} --out: a command making runs takes --out, --name, --run-dir"
                    )
    return found


def _flag_rules(action: argparse.Action) -> list[str]:
    """The rules one (non-deprecated) flag breaks."""
    names, broken = set(action.option_strings), []
    help_text = action.help or ""
    if not help_text or help_text == argparse.SUPPRESS:
        broken.append("every flag has a one-line help")
    elif "\n" in help_text:
        broken.append("the help is one line")
    elif "default" not in help_text.lower() and not action.required:
        if "required" not in help_text.lower():
            broken.append("the help states the default")
    if "--json" in names:
        if action.nargs == 0 or action.const is True:
            broken.append("--json takes a PATH (- for stdout), never a switch")
        elif action.metavar != "PATH":
            broken.append("--json's value is a PATH (metavar PATH)")
    if "--seed" in names:
        said = re.search(r"default[^)]*\b0\b", help_text)  # None: "the preset's, else 0"
        zero = action.default == 0 or (action.default is None and said)
        if action.type is not int or not zero:
            broken.append("--seed is an int defaulting to 0")
    if "--quiet" in names and (action.nargs != 0 or action.help != QUIET_HELP):
        broken.append(f"--quiet is a switch meaning '{QUIET_HELP}'")
    if "--resume" in names and (action.nargs != "?" or action.metavar != "RUN"):
        broken.append("--resume takes an optional RUN (--resume [RUN])")
    if "--n" in names or (action.dest in ("n", "num") and names != {"-n", "--num"}):
        broken.append("counts are -n/--num")
    if "-o" in names and "--output" not in names:
        broken.append("-o is short for --output")
    if "--output" in names and "-o" not in names:
        broken.append("--output has the short form -o")
    return broken
