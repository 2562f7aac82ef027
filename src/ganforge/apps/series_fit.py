"""`ganforge series fit | sample`: synthetic multivariate sequences from CSV to CSV (added to the
`series` group by apps/series_cli.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganforge import commandline as cl
from ganforge.errors import GanforgeError


def add_fit(verbs) -> None:
    """`series fit`."""
    f = verbs.add_parser(
        "fit",
        help="learn the sequences of a CSV -> model.gfs",
        description="Time-series GAN: an MLP pair over whole windows (default) or GRUs with "
        "TimeGAN's supervised next-step and moment losses (--arch gru).",
    )
    f.add_argument("data", metavar="DATA.csv", help="the table to learn, one row per step")
    f.add_argument(
        "-o", "--output", required=True, metavar="MODEL.gfs", help="the model file (required)"
    )
    f.add_argument(
        "--seq-len", type=int, default=24, help="steps per window (default 24, as TimeGAN)"
    )
    f.add_argument(
        "--sequence-key",
        metavar="COLUMN",
        help="column naming each entity's sequence (default: none, the table is one series)",
    )
    f.add_argument(
        "--time-column",
        metavar="COLUMN",
        help="dates or numbers, one per step: rows sorted by it, its cadence kept in the output "
        "(default: none, row order is time order)",
    )
    f.add_argument(
        "--discrete",
        metavar="A,B",
        help="columns to learn as categories (text columns are anyway; default: none)",
    )
    f.add_argument(
        "--arch",
        choices=("mlp", "gru"),
        default="mlp",
        help="mlp: G writes each window at once, D reads it whole; gru: step-by-step GRUs with "
        "TimeGAN's supervised loss (default mlp)",
    )
    f.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="passes over the windows (default: mlp 325, within 6,000-20,000 steps; gru 50)",
    )
    f.add_argument("--batch-size", type=int, default=128, help="windows per step (default 128)")
    f.add_argument(
        "--hidden",
        type=int,
        default=None,
        help="units per layer of G and D (default 256 for mlp, 48 for gru)",
    )
    f.add_argument(
        "--max-minutes",
        type=float,
        default=0.0,
        help="stop training after this long (default 0: no limit)",
    )
    cl.add_device(f)
    cl.add_seed(f, "the fit")
    cl.add_run_flags(f, "training run (checkpoints, metrics.jsonl)", "none: no run kept")
    cl.add_resume(f)
    cl.add_quiet(f)
    f.set_defaults(series_run=fit)


def add_sample(verbs) -> None:
    """`series sample`."""
    s = verbs.add_parser("sample", help="draw synthetic sequences from model.gfs -> CSV")
    s.add_argument("model", metavar="MODEL.gfs", help="a model file written by series fit")
    s.add_argument("-n", "--num", dest="n", type=int, default=1000, help="sequences (default 1000)")
    s.add_argument(
        "-o", "--output", required=True, metavar="SYNTH.csv", help="the CSV to write (required)"
    )
    s.add_argument(
        "--where",
        action="append",
        metavar="COL=VALUE",
        help="every sequence has this value of a discrete static attribute (repeat for several; "
        "default: none)",
    )
    cl.add_seed(s, "the sequences")
    cl.add_device(s)
    s.set_defaults(series_run=sample)


def _check_writable(path: Path) -> None:
    from ganforge.io_checks import check_writable

    check_writable(path, what="output", fix="choose a writable -o path")


def fit(args: argparse.Namespace, out=None) -> int:
    """`ganforge series fit`."""
    out = out or sys.stdout
    output = Path(args.output)
    _check_writable(output)
    from ganforge.run import run_location
    from ganforge.series.data import check_seq_len

    check_seq_len(args.seq_len)
    run_dir, resume = run_location(args.out, args.name, args.run_dir, args.resume)
    from ganforge.tabular.io import read_csv

    frame = read_csv(args.data)
    print(f"ganforge: {len(frame)} rows x {frame.shape[1]} columns from {args.data}", file=out)
    from ganforge.series import TimeSeriesGAN  # (torch: after the first lines are out)

    model = TimeSeriesGAN(
        arch=args.arch,
        epochs=args.epochs,
        batch_size=args.batch_size,
        hidden=args.hidden,
        max_minutes=args.max_minutes,
        device=args.device,
        seed=args.seed,
        quiet=args.quiet,
    )
    model.warn_notes = False  # printed below instead
    discrete = [c.strip() for c in (args.discrete or "").split(",") if c.strip()]
    model.fit(
        frame,
        args.seq_len,
        args.sequence_key,
        run_dir,
        resume,
        source=args.data,
        time_column=args.time_column,
        discrete=discrete,
    )
    for line in model.decisions:
        print(f"ganforge: {line}", file=out)
    for note in model.notes:
        print(f"ganforge: note: {note}", file=out)
    t = model.timings
    print(
        f"ganforge: fit {model.meta['windows']} windows of {model.meta['seq_len']} steps in "
        f"{t['fit_s']:.1f}s ({model.summary['steps']} steps)",
        file=out,
    )
    model.save(output)
    print(f"ganforge: model saved to {output}", file=out)
    print(f"ganforge: next: ganforge series sample {output} -n 1000 -o synth.csv", file=out)
    print(output, file=out)  # the path it made, last, on its own line
    return 0


def sample(args: argparse.Namespace, out=None) -> int:
    """`ganforge series sample`."""
    out = out or sys.stdout
    if args.n < 1:
        raise GanforgeError(f"-n {args.n}: the number of sequences must be at least 1")
    output = Path(args.output)
    _check_writable(output)
    from ganforge.apps.tabular import where_equalities
    from ganforge.io_checks import atomic_write
    from ganforge.series import TimeSeriesGAN

    conditions = where_equalities(args.where)
    model = TimeSeriesGAN.load(args.model, args.device)
    frame = model.sample(args.n, conditions=conditions, seed=args.seed)
    with atomic_write(output, newline="") as handle:
        frame.to_csv(handle, index=False)
    print(f"ganforge: wrote {args.n} sequences ({len(frame)} rows) to {output}", file=out)
    return 0
