"""The `ganforge` command: parse arguments, call one library function, print. No logic here:
the command-line convention lives in commandline.py, runs in run.py, the app verbs' parsers in
apps/commands.py (each verb an (add_parser, run) pair)."""

from __future__ import annotations

import os

# Before torch loads OpenMP, which reads this once: idle threads sleep instead of spinning on
# cores other jobs need (3x on a busy CPU, nothing lost on a quiet one: training/performance.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import sys
from pathlib import Path

from ganforge import commandline as cl
from ganforge.apps.commands import VERBS as APP_VERBS
from ganforge.commandline import finite_float as _finite_float  # noqa: F401 - tests walk by it
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


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a GAN (default: DCGAN on the embedded 8x8 digits, 1,500 steps)",
        description="Train a GAN. Flags override --preset / --config.",
    )
    p.add_argument(
        "--preset", help="a named preset (see `ganforge presets`; default: digits-dcgan)"
    )
    p.add_argument("--config", help="a TOML config file (e.g. a run's config.toml; default: none)")
    cl.add_run_flags(p, "run", "<preset>-<time>")
    cl.add_resume(p)
    p.add_argument(
        "--spectral-norm",
        action="store_true",
        default=None,
        help="spectral normalisation in the discriminator (default: the preset's)",
    )
    p.add_argument(
        "--no-tensorboard", action="store_true", help="skip TensorBoard events (default: write)"
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="fast path: --precision auto, channels_last, fused Adam (default: off)",
    )
    p.add_argument(
        "--channels-last",
        action="store_true",
        default=None,
        help="channels_last memory format (default: the preset's)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        default=None,
        help="torch.compile G and D (first step takes ~40 s on CPU; default: off)",
    )
    cl.add_quiet(p)
    p.add_argument(
        "--nproc",
        type=int,
        default=None,
        help="processes (devices) to train on: re-runs itself under torchrun (default: 1)",
    )
    from ganforge.config import add_train_flags

    add_train_flags(p)  # every setting's flag, built from the config dataclasses


def _add_sample(sub) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained run or generator file")
    p.add_argument("model", metavar="RUN_OR_FILE", help=RUN_HELP)
    p.add_argument(
        "-n", "--num", dest="n", type=int, default=64, help="how many samples (default 64)"
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="grid.png (a grid image; .jpg etc. too; a scatter plot for 2-D runs), "
        "samples.npy (an array), or a folder (one PNG per sample) (required)",
    )
    p.add_argument(
        "--format",
        choices=["grid", "npy", "png-dir"],
        default=None,
        help="default: from -o (.npy -> npy, another suffix -> grid, none -> png-dir); "
        "npy needs -o ending in .npy",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="png-dir: replace the samples (000000.png ...) of an earlier run in that folder "
        "(default: a non-empty folder is refused; a folder holding other files always is)",
    )
    cl.add_seed(p, "the samples")
    p.add_argument(
        "--truncation",
        type=float,
        default=None,
        help="truncation trick threshold (a finite number > 0; default: none)",
    )
    cl.add_device(p)
    p.add_argument(
        "--class",
        dest="classes",
        action="append",
        metavar="CLASS",
        help="conditional runs: sample this class (a name, else an index); repeat for several "
        "(default: all)",
    )
    p.add_argument(
        "--per-class",
        type=int,
        default=None,
        metavar="K",
        help="conditional runs: K samples of each class, one named grid row per class "
        "(default: -n in all)",
    )


def _add_eval(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="FID, KID, IS, precision/recall, density/coverage",
        description="Evaluate a run/generator against a reference, or two image "
        "sets (--real/--fake: folders or .npy arrays in [-1, 1] or uint8).",
    )
    p.add_argument("model", nargs="?", metavar="RUN_OR_FILE", help=RUN_HELP)
    p.add_argument(
        "--metrics",
        default=None,
        help="comma list of fid,kid,is,pr,dc (default: all five; without class logits, "
        "as with randconv, all but is)",
    )
    p.add_argument(
        "-n",
        "--num",
        dest="n",
        type=int,
        default=None,
        help="generated samples (default: 10000 from a run, every --fake image)",
    )
    cl.deprecated(p, "--n", dest="n", new="-n/--num", type=int)
    p.add_argument(
        "--ref",
        default=None,
        help="reference: mnist:test, mnist:train, a folder or .npy (default: "
        "mnist:test for MNIST runs)",
    )
    p.add_argument(
        "--real", help="reference images (folder or .npy) for a direct comparison (default: none)"
    )
    p.add_argument(
        "--fake", help="generated images (folder or .npy) for a direct comparison (default: none)"
    )
    p.add_argument(
        "--extractor",
        default=None,
        help="mnist | inception | randconv[:RES[:SEED]] (default: the run's, as in training)",
    )
    p.add_argument(
        "--inception-weights",
        default=None,
        help="pt_inception-2015-12-05 weights file (default: the cached download)",
    )
    cl.add_seed(p, "the generated samples")
    cl.add_device(p)
    cl.add_json(p, "RUN/eval/eval_stepXXXXXXX.json for runs, none otherwise")


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="what a run is, how far it got, where its files are")
    p.add_argument(
        "run",
        metavar="RUN",
        nargs="?",
        help="a run directory, a folder of runs (the newest), or a checkpoint",
    )
    p.add_argument(
        "--json",
        metavar="PATH",
        nargs="?",
        const=INFO_JSON_SWITCH,
        help="write the facts as JSON to PATH, or - for stdout (default: lines for people)",
    )


INFO_JSON_SWITCH = "--json"  # `info RUN --json` (no PATH): the old switch, deprecated


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="download datasets (MNIST) and see where they are found")
    verbs = p.add_subparsers(dest="verb", required=True)
    get = verbs.add_parser(
        "get", help="download a dataset into the cache, checking each file's SHA-256"
    )
    get.add_argument("name", metavar="NAME", help="the dataset: mnist")
    get.add_argument(
        "-o",
        "--output",
        dest="dir",
        default=None,
        metavar="DIR",
        help="folder to put it in (default: $GANFORGE_DATA/mnist, else ~/.cache/ganforge/mnist)",
    )
    cl.deprecated(get, "--dir", dest="dir", new="-o/--output DIR")
    verbs.add_parser("list", help="where each dataset is looked for and which copy is used")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to document the CLI)."""
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
    _add_train(sub)
    _add_sample(sub)
    _add_eval(sub)
    for add, _ in APP_VERBS.values():
        add(sub)
    _add_data(sub)
    _add_info(sub)
    sub.add_parser("presets", help="list the presets, one line each")
    cl.finite_floats(parser)
    return parser


def _train_overrides(args) -> dict[str, dict]:
    """The train flags given, as config overrides (section or family table -> key -> value)."""
    from ganforge.config import flag_overrides

    return flag_overrides(args)


def cmd_train(args) -> int:
    from ganforge.run import build_config, relaunch_under_torchrun, resolve_run, train

    if args.nproc and args.nproc > 1 and "LOCAL_RANK" not in os.environ:
        return relaunch_under_torchrun(args.argv, args.nproc)
    resume = resolve_run(args.resume) if args.resume else args.resume
    config, resume = build_config(
        preset=args.preset,
        config_file=args.config,
        resume=resume,
        overrides=_train_overrides(args),
        out=args.out,
        name=args.name,
        run_dir=args.run_dir,
    )
    run_dir, summary = train(config, resume=resume, quiet=args.quiet)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        return 0
    last = summary["last"]
    losses = "  ".join(f"{k}={last[k]:.4f}" for k in ("d_loss", "g_loss") if k in last)
    print(
        f"ganforge: trained {summary['new_steps']} steps (now {summary['steps']}) in "
        f"{summary['seconds']:.1f}s  {losses}"
    )
    if "health" in summary:
        print(f"ganforge: health: {summary['health']}")
    if summary.get("failed"):  # trained, but its generator is unusable: saved, exit 1
        raise GanforgeError(
            f"the run FAILED: {summary['failed']}",
            str(run_dir),
            f"{summary['advice']} (what it made is kept: ganforge info {run_dir})",
            exit_code=1,
        )
    print(f"ganforge: run saved to {run_dir}  (samples/, checkpoints/last.pt, generator.pt)")
    verb = {
        "srgan": "upscale {} input.png -o output.png",
        "pix2pix": "translate {} INPUT -o OUTPUT",
    }
    verb["cyclegan"] = verb["pix2pix"]
    hint = verb.get(config.model.family, "sample {} -n 64 -o grid.png").format(run_dir)
    print(f"ganforge: next: ganforge {hint}")
    cl.print_made(run_dir)
    return 0


def cmd_sample(args) -> int:
    from ganforge.run import resolve_run
    from ganforge.sampling import sample_command

    print(sample_command(resolve_run(args.model), args.output, args.n, fmt=args.format,
                         overwrite=args.overwrite, seed=args.seed, truncation=args.truncation,
                         device=args.device, classes=args.classes, per_class=args.per_class))  # fmt: skip
    return 0


def cmd_eval(args) -> int:
    from ganforge.apps.commands import write_json
    from ganforge.metrics.evaluate import save_result
    from ganforge.metrics.evaluate_run import evaluate_command
    from ganforge.run import resolve_run

    outcome = evaluate_command(
        resolve_run(args.model) if args.model else None,
        real=args.real,
        fake=args.fake,
        metrics=args.metrics,
        n=args.n,
        ref=args.ref,
        extractor=args.extractor,
        weights=args.inception_weights,
        seed=args.seed,
        device=args.device,
        json_path=args.json,
    )
    print("\n".join(outcome.lines))
    write_json(save_result, outcome.result, outcome.json_path)
    return 0


def cmd_info(args) -> int:
    from ganforge.apps.commands import write_json
    from ganforge.metrics.evaluate import save_result
    from ganforge.run import info_lines, resolve_run, run_info

    run, out = args.run, args.json
    if out == INFO_JSON_SWITCH or (run is None and out is not None):
        # `info RUN --json` / `info --json RUN`: the old switch
        print(
            "ganforge: warning: `ganforge info --json` as a switch is deprecated (removed in the "
            "next release): use --json - (stdout) or --json PATH",
            file=sys.stderr,
        )
        run, out = (run, "-") if out == INFO_JSON_SWITCH else (out, "-")
    if run is None:
        raise GanforgeError("info needs a RUN", fix="ganforge info runs/NAME")
    info = run_info(resolve_run(run))
    if out == "-":
        print(json.dumps(info, indent=2))
    elif out:
        write_json(save_result, info, out)
    else:
        print("\n".join(info_lines(info)))
    return 0


def cmd_data(args) -> int:
    from ganforge.data import download

    if args.verb == "list":
        print("\n".join(download.describe_sources()))
        return 0
    if args.name != "mnist":
        raise GanforgeError(
            f"unknown dataset {args.name!r} for `data get`",
            fix="use mnist (ring, grid, digits and grey2colour are built in)",
        )
    download.download_mnist(args.dir)
    return 0


def cmd_presets(args) -> int:
    from ganforge.presets import PRESETS

    width = max(map(len, PRESETS))
    for name, (description, _) in PRESETS.items():
        print(f"{name:<{width}}  {description}")
    return 0


COMMANDS = {
    "train": cmd_train,
    "sample": cmd_sample,
    "eval": cmd_eval,
    "info": cmd_info,
    "presets": cmd_presets,
    "data": cmd_data,
    **{name: run for name, (_, run) in APP_VERBS.items()},
}


RUN_HELP = "a run directory, a folder of runs (the newest is used), or a generator/checkpoint file"


def _check_common(args) -> None:
    """Flags every command shares, checked before any work: the device exists here."""
    device = getattr(args, "device", None)
    if isinstance(device, str) and device != "cpu":  # (cpu always exists: no torch import yet)
        from ganforge.training.loop import resolve_device

        resolve_device(device)


def _crash_report(error: BaseException) -> Path | None:
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


def _quiet_broken_pipe() -> int:
    """`ganforge info RUN | head`: the reader left; stop writing without a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141  # 128 + SIGPIPE, what a shell tool killed by the closed pipe reports


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a command. A user error is one line on stderr and its exit code (2;
    130 interrupted; 1 a run that failed); anything else is a bug: one line, the traceback in a
    crash log, exit 3 (`--debug` raises it instead)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("GANFORGE_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # a usage error (printed as one line), --help or --version
            return e.code if isinstance(e.code, int) else 2
        args.argv = argv
        _check_common(args)
        return COMMANDS[args.command](args)
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("ganforge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - the last line of defence, see the docstring
        if debug:
            raise
        log = _crash_report(e)
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
