"""`ganforge tabular fit | sample | report`: synthetic tables from CSV to CSV, with a privacy report."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ganforge import commandline as cl
from ganforge.errors import GanforgeError

if TYPE_CHECKING:
    import pandas as pd


def add_parser(sub) -> None:
    """The `tabular` command and its three verbs (registered by cli.build_parser)."""
    p = sub.add_parser(
        "tabular",
        help="synthetic tables: fit a conditional tabular GAN on a CSV, sample, report",
        description="Conditional tabular GAN (CTGAN line) with optional differential privacy.",
    )
    verbs = p.add_subparsers(dest="verb", required=True)
    f = verbs.add_parser("fit", help="learn a CSV table -> model.gft")
    f.add_argument("data", metavar="DATA.csv", help="the table to learn")
    f.add_argument(
        "-o", "--output", required=True, metavar="MODEL.gft", help="the model file (required)"
    )
    f.add_argument(
        "--discrete", metavar="A,B", help="discrete columns (default: detected, decision printed)"
    )
    f.add_argument(
        "--id-columns",
        metavar="A,B|none",
        help="columns given fresh ids instead of being learned (default: detected: unique in "
        "every row, integers in steps or text; decision printed); none: learn every column",
    )
    f.add_argument("--epochs", type=int, default=300, help="passes over the table (default 300)")
    f.add_argument("--batch-size", type=int, default=1000, help="rows per step (default 1000)")
    f.add_argument(
        "--epsilon",
        type=float,
        default=None,
        help="differential privacy: target epsilon (default: no DP)",
    )
    f.add_argument("--delta", type=float, default=None, help="DP delta (default 1/(10 * rows))")
    f.add_argument(
        "--max-grad-norm", type=float, default=1.0, help="DP per-record clip norm (default 1.0)"
    )
    f.add_argument(
        "--public-metadata",
        metavar="META.json",
        help="public categories/ranges per column: the preprocessing then reads no private data "
        "(default: none)",
    )
    f.add_argument(
        "--pack",
        type=int,
        default=1,
        help="PacGAN pack size (default 1: best quality on Adult; CTGAN uses 10)",
    )
    f.add_argument(
        "--embedding-dim", type=int, default=128, help="noise dimension of G (default 128)"
    )
    f.add_argument("--width", type=int, default=128, help="hidden units of G and D (default 128)")
    f.add_argument(
        "--max-minutes",
        type=float,
        default=0.0,
        help="stop training after this long (default 0: no limit)",
    )
    cl.add_device(f)
    f.add_argument(
        "--precision",
        default="auto",
        choices=["fp32", "bf16", "auto"],
        help="auto (default): bf16 autocast where the CPU/GPU has native bf16 (~1.2x faster), "
        "else fp32; DP fits: fp32",
    )
    f.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the fit (default 0; with --epsilon a secret random seed, so the DP noise "
        "cannot be replayed)",
    )
    f.add_argument(
        "--metadata",
        metavar="META.json",
        help="column types, roles, bounds and constraints (write one with `ganforge tabular "
        "metadata`; default: detected)",
    )
    cl.add_run_flags(f, "training run (checkpoints, metrics.jsonl)", "none: no run kept")
    cl.add_resume(f)
    cl.add_quiet(f)
    s = verbs.add_parser("sample", help="draw synthetic rows from model.gft -> CSV")
    s.add_argument("model", metavar="MODEL.gft", help="a model file written by tabular fit")
    s.add_argument("-n", "--num", dest="n", type=int, default=1000, help="rows (default 1000)")
    s.add_argument(
        "-o", "--output", required=True, metavar="SYNTH.csv", help="the CSV to write (required)"
    )
    s.add_argument(
        "--where",
        action="append",
        metavar="CONDITIONS",
        help='every row holds these conditions, e.g. "age>=30,age<40,sex=Female" (ops = != < <= '
        "> >=; repeat for more; default: none)",
    )
    cl.add_seed(s, "the rows")
    cl.add_device(s)
    r = verbs.add_parser("report", help="fidelity, ML efficacy and privacy of a synthetic table")
    r.add_argument("real", metavar="REAL.csv", help="the training table")
    r.add_argument("synthetic", metavar="SYNTH.csv", help="the synthetic table")
    r.add_argument(
        "--holdout", metavar="TEST.csv", help="real rows not used for training (default: none)"
    )
    r.add_argument(
        "--target",
        help="column to predict for ML efficacy (default: the last column, said in the output)",
    )
    r.add_argument("--discrete", metavar="A,B", help="discrete columns (default: detected)")
    r.add_argument(
        "-o", "--output", required=True, metavar="REPORT.html", help="also REPORT.json (required)"
    )
    r.add_argument(
        "--privacy-rows", type=int, default=2000, help="rows sampled for distances (default 2000)"
    )
    cl.add_seed(r, "the row samples")
    m = verbs.add_parser("metadata", help="detect a CSV's column types, roles, bounds -> JSON")
    m.add_argument("data", metavar="DATA.csv", help="the table")
    m.add_argument(
        "-o", "--output", required=True, metavar="META.json", help="the metadata file (required)"
    )
    from ganforge.apps.tabular_multi import add_parsers as _multi_parsers

    _multi_parsers(verbs)


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    return names


def _id_columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    if text.strip().lower() == "none":
        return []
    names = _names(text)
    if not names:
        raise GanforgeError(f"--id-columns {text!r} names no column", fix="e.g. --id-columns id")
    return names


def _size(path: str) -> str:
    try:
        size = os.path.getsize(path)
    except OSError:
        return ""
    return f" ({size / 1e6:.1f} MB)" if size >= 1e5 else ""


def _read_table(path: str, out, what: str = "", always: bool = True) -> pd.DataFrame:
    """read_csv with a line before (big files take seconds) and what was detected after (printed
    `always`, else only for a big file or a detected separator)."""
    import time

    t0 = time.perf_counter()
    big = bool(_size(path))
    if big:  # (printed before pandas is imported: the first line comes at once)
        print(f"ganforge: reading {what}{path}{_size(path)} ...", file=out, flush=True)
    from ganforge.tabular.io import read_csv

    frame = read_csv(path)
    took = time.perf_counter() - t0
    detected = frame.attrs.get("csv_format")
    notes = [f"{detected}, detected" if detected else "", f"{took:.1f}s" if big else ""]
    shown = "; ".join(n for n in notes if n)
    if not (always or shown):
        return frame
    print(
        f"ganforge: {len(frame)} rows x {frame.shape[1]} columns from {path}"
        + (f" ({shown})" if shown else ""),
        file=out,
        flush=True,
    )
    return frame


class _Progress:
    """Progress lines while the table is prepared: at most one every 2 s (none for quick fits)."""

    def __init__(self, out, every: float = 2.0):
        import time

        self.out, self.every, self.clock = out, every, time.perf_counter
        self.t0 = self.last = self.clock()
        self.first = None  # (done, time) of the first call: the rate leaves start-up costs out

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self.clock()
        if stage == "transform":
            if now - self.t0 > self.every:
                print(f"ganforge: encoding {total} rows ...", file=self.out, flush=True)
            return
        if self.first is None:
            self.first = (done, now)
        if now - self.last < self.every or done == total:
            return
        self.last = now
        start, then = self.first
        left = ""
        if done > start:
            left = f", about {(now - then) / (done - start) * (total - done):.0f}s left"
        print(
            f"ganforge: fitting columns: {done}/{total} ({now - self.t0:.0f}s{left})",
            file=self.out,
            flush=True,
        )


_SHOWN_COLUMNS = 40  # decision lines printed in full up to this many columns


def _check_writable(path: Path) -> None:
    """Fail before hours of training, not after, when the output cannot be written."""
    from ganforge.io_checks import check_writable

    check_writable(path, what="output", fix="choose a writable -o path")


def _fit_run_dir(args: argparse.Namespace) -> tuple[str | None, bool]:
    """(the run directory the fit keeps, whether it resumes); none given: nothing is kept."""
    from ganforge.run import run_location

    return run_location(args.out, args.name, args.run_dir, args.resume)


def _public_metadata(path: str | None) -> dict | None:
    if path is None:
        return None
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GanforgeError("no such file", path) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise GanforgeError(f"public metadata is not valid JSON ({e})", path) from None
    if not isinstance(meta, dict) or not all(isinstance(v, dict) for v in meta.values()):
        raise GanforgeError(
            "public metadata must map each column to {categories: [...]} or {min:, max:}", path
        )
    for name, entry in meta.items():
        if "categories" not in entry and not {"min", "max"} <= set(entry):
            raise GanforgeError(
                f"public metadata for {name!r} needs categories, or min and max", path
            )
    return meta


def fit(args: argparse.Namespace, out=None) -> int:
    """`ganforge tabular fit`."""
    out = out or sys.stdout
    output = Path(args.output)
    _check_writable(output)
    run_dir, resume = _fit_run_dir(args)
    id_columns = _id_columns(args.id_columns)
    meta = None
    if args.metadata is not None:
        from ganforge.tabular import metadata

        meta = metadata.load(args.metadata)
        if "tables" in meta:
            raise GanforgeError(
                "the metadata describes several tables", args.metadata, "use tabular fit-multi"
            )
        if args.discrete or args.id_columns:
            raise GanforgeError(
                "--metadata decides the discrete and id columns",
                fix="leave out --discrete / --id-columns (or edit the metadata)",
            )
    frame = _read_table(args.data, out)
    if meta is not None:
        from ganforge.tabular.metadata import Plan

        Plan(meta, args.metadata).check_frame(frame, args.data)  # before torch and training
    public = _public_metadata(args.public_metadata)
    from ganforge.tabular import TabularGAN  # (torch: after the first lines are out)

    if public is not None:  # (columns it names that the table lacks: the transformer says so)
        if args.epsilon is None:
            print("ganforge: note: --public-metadata matters only with --epsilon", file=out)
    model = TabularGAN(
        epochs=args.epochs,
        batch_size=args.batch_size,
        embedding_dim=args.embedding_dim,
        generator_width=args.width,
        discriminator_width=args.width,
        pack=args.pack,
        epsilon=args.epsilon,
        delta=args.delta,
        max_grad_norm=args.max_grad_norm,
        device=args.device,
        seed=args.seed,
        quiet=args.quiet,
        max_minutes=args.max_minutes,
        precision=args.precision,
    )
    how = "given" if args.discrete else ("from the metadata" if meta else "detected")

    def show_columns(decisions: list[str], notes: list[str]) -> None:
        print(f"ganforge: columns ({how} discrete; the rest continuous or constant):", file=out)
        shown = decisions if len(decisions) <= _SHOWN_COLUMNS else decisions[: _SHOWN_COLUMNS // 2]
        for line in shown:
            print(f"  {line}", file=out)
        if len(shown) < len(decisions):
            kinds = [d.split(": ", 1)[1].split(" ", 1)[0].strip(",") for d in decisions]
            counts = ", ".join(f"{kinds.count(k)} {k}" for k in sorted(set(kinds)))
            print(f"  ... {len(decisions) - len(shown)} more ({counts} in all)", file=out)
        for note in notes:
            print(f"ganforge: warning: {note}", file=out)
        out.flush()

    model.on_columns = show_columns
    model.on_progress = _Progress(out)  # plain lines at most every 2 s: --quiet keeps them
    model.fit(frame, _names(args.discrete), public, run_dir, resume, id_columns, meta)
    t = model.timings
    print(
        f"ganforge: fit in {t['fit_s']:.1f}s (preprocessing {t['preprocess_s']:.1f}s, "
        f"training {t['train_s']:.1f}s, {model.summary['steps']} steps)",
        file=out,
    )
    if model.privacy is not None:
        p = model.privacy
        print(
            f"ganforge: privacy: ({p['epsilon']:.3f}, {p['delta']:.2g})-DP spent "
            f"(target epsilon {p['target_epsilon']:g}; noise x{p['noise_multiplier']:.3f}, "
            f"{p['steps']} critic steps, sample rate {p['sample_rate']:.4f})",
            file=out,
        )
        if not p["preprocessing_covered"]:
            print(
                "ganforge: privacy: NOT covered: the preprocessing (column types, ranges, mixture "
                "modes, category lists) was fit on the data; pass --public-metadata to cover it",
                file=out,
            )
    model.save(output)
    print(f"ganforge: model saved to {output}", file=out)
    print(f"ganforge: next: ganforge tabular sample {output} -n 10000 -o synth.csv", file=out)
    print(output, file=out)  # the path it made, last, on its own line
    return 0


def _same_value(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def _conditions(where: list[str] | None) -> list[tuple[str, str, str]]:
    """--where flags as (column, op, value); one column asked for two values is an error."""
    from ganforge.tabular.constraints import parse_where

    items = parse_where(where)
    where_equalities([f"{k}={v}" for k, op, v in items if op == "="])  # (two values: one line)
    return items


def where_equalities(where: list[str] | None) -> dict[str, str]:
    """--where COL=VALUE flags as {COL: VALUE}; one column asked for two values is an error."""
    conditions: dict[str, str] = {}
    for item in where or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise GanforgeError(
                f"--where {item!r} is not COLUMN=VALUE", fix='e.g. --where "sex=Female"'
            )
        name, value = name.strip(), value.strip()
        if name in conditions and not _same_value(conditions[name], value):
            raise GanforgeError(
                f"--where {name}={conditions[name]} and --where {name}={value} conflict "
                "(no row holds both)",
                fix=f"give one value for {name!r}",
            )
        conditions[name] = value
    return conditions


def sample(args: argparse.Namespace, out=None) -> int:
    """`ganforge tabular sample`."""
    out = out or sys.stdout
    from ganforge.tabular import TabularGAN
    from ganforge.tabular.io import write_csv_chunks

    conditions = _conditions(args.where)
    if args.n < 1:
        raise GanforgeError(f"-n {args.n}: the number of rows must be at least 1")
    output = Path(args.output)
    _check_writable(output)
    model = TabularGAN.load(args.model, args.device)
    chunks = model.sample_chunks(args.n, conditions or None, seed=args.seed)
    path, rows = write_csv_chunks(chunks, output)
    shown = f" where {','.join(f'{k}{o}{v}' for k, o, v in conditions)}" if conditions else ""
    stats = model.last_sample
    drawn = max(stats.get("drawn", 0), 1)
    if model.plan is not None and model.plan.constraints:
        total = sum(stats["rejected"].values())
        parts = ", ".join(f"{k}: {v}" for k, v in stats["rejected"].items() if v)
        print(
            f"ganforge: constraints: every row holds all {len(model.plan.constraints)}; "
            f"{100 * total / drawn:.1f}% of the {drawn} rows drawn rejected and drawn again"
            + (f" ({parts})" if parts else ""),
            file=out,
        )
    if conditions:
        print(
            f"ganforge: conditions: acceptance {100 * rows / drawn:.1f}% ({rows} of {drawn} "
            "rows drawn)",
            file=out,
        )
    print(f"ganforge: wrote {rows} rows{shown} to {path}", file=out)
    return 0


def report(args: argparse.Namespace, out=None) -> int:
    """`ganforge tabular report`."""
    out = out or sys.stdout
    from ganforge.tabular.report import build_report, summary_lines, write_report

    _check_writable(Path(args.output))
    real = _read_table(args.real, out, "the real table ", always=False)
    synthetic = _read_table(args.synthetic, out, "the synthetic table ", always=False)
    holdout = _read_table(args.holdout, out, "the holdout ", always=False) if args.holdout else None
    result = build_report(
        real,
        synthetic,
        holdout,
        args.target,
        _names(args.discrete),
        privacy_rows=args.privacy_rows,
        seed=args.seed,
    )
    html_path, json_path = write_report(result, real, synthetic, args.output)
    for line in summary_lines(result):
        print(line, file=out)
    if holdout is None:
        print(
            "(no --holdout: ML efficacy and the holdout privacy baselines were skipped)", file=out
        )
    print(f"ganforge: wrote {html_path} and {json_path}", file=out)
    return 0


def metadata_verb(args: argparse.Namespace, out=None) -> int:
    """`ganforge tabular metadata`: detect, print the decisions, write the JSON."""
    out = out or sys.stdout
    from ganforge.tabular import metadata

    _check_writable(Path(args.output))
    frame = _read_table(args.data, out)
    meta = metadata.detect(frame)
    print(
        "ganforge: metadata (detected; edit the JSON to change a decision or add constraints):",
        file=out,
    )
    for line in metadata.describe(meta):
        print(f"  {line}", file=out)
    path = metadata.save(meta, args.output)
    print(
        f"ganforge: next: ganforge tabular fit {args.data} --metadata {path} -o model.gft", file=out
    )
    print(path, file=out)
    return 0


def _multi(verb: str):
    def run(args: argparse.Namespace, out=None) -> int:
        from ganforge.apps import tabular_multi

        return getattr(tabular_multi, verb)(args, out or sys.stdout)

    return run


VERBS = {
    "fit": fit,
    "sample": sample,
    "report": report,
    "metadata": metadata_verb,
    "fit-multi": _multi("fit_multi_verb"),
    "sample-multi": _multi("sample_multi_verb"),
}
add_tabular_parser = add_parser  # the old name


def run(args: argparse.Namespace) -> int:
    """Dispatch `ganforge tabular VERB`."""
    return VERBS[args.verb](args)
