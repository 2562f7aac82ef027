"""The `ganforge` command: parse arguments, call one library function, print. No logic here:
every verb is an (add_parser, run) pair (core verbs in commands.py, application verbs in
apps/commands.py) registered in VERBS; the convention's helpers live in commandline.py, runs in
run.py."""

from __future__ import annotations

import os

# Before torch loads OpenMP, which reads this once: idle threads sleep instead of spinning on
# cores other jobs need (3x on a busy CPU, nothing lost on a quiet one: training/performance.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import sys

from ganforge import commandline as cl
from ganforge.apps.commands import VERBS as APP_VERBS
from ganforge.commandline import finite_float as _finite_float  # noqa: F401 - tests walk by it
from ganforge.commands import TRAIN_HELP
from ganforge.commands import VERBS as CORE_VERBS
from ganforge.errors import GanforgeError

DESCRIPTION = (
    "Train, evaluate and use Generative Adversarial Networks. `ganforge train` alone trains a "
    "DCGAN on the embedded 8x8 digits and prints where the run went."
)
EPILOG = """\
examples:
  ganforge train                                  train the default run (digits DCGAN)
  ganforge presets                                the named recipes, one line each
  ganforge sample runs/NAME -n 64 -o grid.png     a grid of samples from a run
  ganforge sample runs/ -n 64 -o grid.png         the same from the newest run in runs/
  ganforge eval runs/NAME --metrics fid,pr        quality against the reference data
  ganforge info runs/NAME                         what a run is and how far it got
  ganforge COMMAND --help                         every flag of a command, with its default

Errors are one line (`ganforge: error: ...`, exit 2); an interrupted run exits 130 and says
how to resume; an internal error exits 3 and names its crash log.
"""


def build_parser(train_flags: bool = True) -> argparse.ArgumentParser:
    """The full argument parser (also used to document the CLI). `train_flags=False` leaves out
    the train command's flags, which come from the family settings and so import torch (~1.5 s):
    a command other than `train` parses at once."""
    from ganforge import __version__

    parser = cl.Parser(
        prog="ganforge",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ganforge {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of an internal error (also GANFORGE_DEBUG=1; any position; "
        "default: off)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (add, _) in VERBS.items():
        if name == "train" and not train_flags:
            sub.add_parser("train", help=TRAIN_HELP)  # listed in --help, never parsed
        else:
            add(sub)
    cl.finite_floats(parser)
    return parser


# Every verb is an (add_parser, run) pair: the core ones (commands.py), then the apps'.
VERBS = {
    **{name: CORE_VERBS[name] for name in ("train", "sample", "eval")},
    **APP_VERBS,
    **{name: CORE_VERBS[name] for name in ("data", "info", "presets")},
}
COMMANDS = {name: run for name, (_, run) in VERBS.items()}


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a command. A user error is one line on stderr and its exit code (2;
    130 interrupted; 1 a run that failed); anything else is a bug: one line, the traceback in a
    crash log, exit 3 (`--debug` raises it instead)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("GANFORGE_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    try:
        try:
            args = build_parser(train_flags=argv[:1] == ["train"]).parse_args(argv)
        except SystemExit as e:  # a usage error (printed as one line), --help or --version
            return e.code if isinstance(e.code, int) else 2
        args.argv = argv
        cl.check_common(args)
        return COMMANDS[args.command](args)
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("ganforge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return cl.quiet_broken_pipe()
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - the last line of defence, see the docstring
        if debug:
            raise
        log = cl.crash_report(e)
        message = " ".join(str(e).split())[:300]
        where = f"traceback in {log}" if log else "the traceback could not be saved"
        print(
            f"ganforge: internal error: {type(e).__name__}: {message} ({where}; "
            "rerun with --debug to see it, and please report it)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
