"""The core verbs' command lines (train, sample, eval, info, data, presets), each an
`(add_parser(sub), run(args))` pair in VERBS as the app verbs are in apps/commands.py: parse,
call one library function, print. No torch at import (`--help` answers at once)."""

from __future__ import annotations

import json
import os
import sys

from ganforge import commandline as cl
from ganforge.errors import GanforgeError

RUN_HELP = (
    "a run directory, a folder of runs (the newest is used), a generator/checkpoint file, or a "
    "pretrained model folder (config.json + model.safetensors)"
)


TRAIN_HELP = "train a GAN (default: DCGAN on the embedded 8x8 digits, 1,500 steps)"


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train", help=TRAIN_HELP, description="Train a GAN. Flags override --preset / --config."
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
    p.add_argument("model", metavar="RUN_OR_FILE", nargs="?", help=RUN_HELP)
    cl.add_pretrained(p)
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


def _add_presets(sub) -> None:
    p = sub.add_parser("presets", help="list the presets, one line each")
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="list the pretrained models shipped with ganforge and their measured quality "
        "instead (default: the presets)",
    )


def _train_overrides(args) -> dict[str, dict]:
    """The train flags given, as config overrides (section or family table -> key -> value)."""
    from ganforge.config import flag_overrides

    return flag_overrides(args)


def cmd_train(args) -> int:
    from ganforge.run import build_config, relaunch_under_torchrun, report_lines, resolve_run, train

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
    lines, failure = report_lines(config, run_dir, summary)
    print("\n".join(lines))
    if failure is not None:  # trained, but its generator is unusable: saved, exit 1
        raise failure
    cl.print_made(run_dir)
    return 0


def cmd_sample(args) -> int:
    from ganforge.sampling import sample_command

    print(sample_command(cl.model_source(args, "sample"), args.output, args.n, fmt=args.format,
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
    # `--json -`: stdout holds the JSON alone (pipe it to a parser); the figures go to stderr
    to_stderr = outcome.json_path == cl.STDOUT
    print("\n".join(outcome.lines), file=sys.stderr if to_stderr else sys.stdout)
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

    if getattr(args, "pretrained", False):
        from ganforge.pretrained import names, quality_line

        print("\n".join(quality_line(name) for name in names()) or "no pretrained models installed")
        return 0
    width = max(map(len, PRESETS))
    for name, (description, _) in PRESETS.items():
        print(f"{name:<{width}}  {description}")
    return 0


VERBS = {
    "train": (_add_train, cmd_train),
    "sample": (_add_sample, cmd_sample),
    "eval": (_add_eval, cmd_eval),
    "data": (_add_data, cmd_data),
    "info": (_add_info, cmd_info),
    "presets": (_add_presets, cmd_presets),
}
