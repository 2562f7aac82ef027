"""`ganforge tabular fit | sample | report`: synthetic tables from CSV to CSV, with a privacy report."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ganforge.errors import GanforgeError


def add_tabular_parser(sub) -> None:
    """The `tabular` command and its three verbs (called by cli.build_parser)."""
    p = sub.add_parser(
        "tabular",
        help="synthetic tables: fit a conditional tabular GAN on a CSV, sample, report",
        description="Conditional tabular GAN (CTGAN line) with optional differential privacy.",
    )
    verbs = p.add_subparsers(dest="verb", required=True)
    f = verbs.add_parser("fit", help="learn a CSV table -> model.gft")
    f.add_argument("data", metavar="DATA.csv")
    f.add_argument("-o", "--output", required=True, metavar="MODEL.gft")
    f.add_argument(
        "--discrete", metavar="A,B", help="discrete columns (default: detected, decision printed)"
    )
    f.add_argument("--epochs", type=int, default=300, help="passes over the table (default 300)")
    f.add_argument("--batch-size", type=int, default=1000)
    f.add_argument(
        "--epsilon", type=float, default=None, help="differential privacy: target epsilon"
    )
    f.add_argument("--delta", type=float, default=None, help="DP delta (default 1/(10 * rows))")
    f.add_argument("--max-grad-norm", type=float, default=1.0, help="DP per-record clip norm")
    f.add_argument(
        "--public-metadata",
        metavar="META.json",
        help="public categories/ranges per column: the preprocessing then reads no private data",
    )
    f.add_argument(
        "--pack",
        type=int,
        default=1,
        help="PacGAN pack size (1: best quality on Adult; CTGAN uses 10)",
    )
    f.add_argument("--embedding-dim", type=int, default=128)
    f.add_argument("--width", type=int, default=128, help="hidden units of G and D")
    f.add_argument("--max-minutes", type=float, default=0.0, help="stop training after this long")
    f.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    f.add_argument(
        "--precision",
        default="auto",
        choices=["fp32", "bf16", "auto"],
        help="auto: bf16 autocast where the CPU/GPU has native bf16 (~1.2x faster), else fp32; "
        "DP fits: fp32",
    )
    f.add_argument("--seed", type=int, default=None)
    f.add_argument("--run-dir", help="keep checkpoints and metrics.jsonl here")
    f.add_argument("--resume", action="store_true", help="continue the fit in --run-dir")
    f.add_argument("--quiet", action="store_true", help="no progress output")
    s = verbs.add_parser("sample", help="draw synthetic rows from model.gft -> CSV")
    s.add_argument("model", metavar="MODEL.gft")
    s.add_argument("-n", type=int, default=1000, help="rows (default 1000)")
    s.add_argument("-o", "--output", required=True, metavar="SYNTH.csv")
    s.add_argument(
        "--where",
        action="append",
        metavar="COL=VALUE",
        help="every row has this value in a discrete column (repeat for several)",
    )
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--device", default="cpu")
    r = verbs.add_parser("report", help="fidelity, ML efficacy and privacy of a synthetic table")
    r.add_argument("real", metavar="REAL.csv", help="the training table")
    r.add_argument("synthetic", metavar="SYNTH.csv")
    r.add_argument("--holdout", metavar="TEST.csv", help="real rows not used for training")
    r.add_argument("--target", help="column to predict for ML efficacy (default: the last)")
    r.add_argument("--discrete", metavar="A,B", help="discrete columns (default: detected)")
    r.add_argument("-o", "--output", required=True, metavar="REPORT.html", help="also REPORT.json")
    r.add_argument("--privacy-rows", type=int, default=2000, help="rows sampled for distances")
    r.add_argument("--seed", type=int, default=0)


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    return names


def _check_writable(path: Path) -> None:
    """Fail before hours of training, not after, when the output cannot be written."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise GanforgeError("the output is a directory", str(path), "give a file name")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise GanforgeError(f"cannot write there ({e.strerror})", str(path)) from None


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
    from ganforge.tabular import TabularGAN
    from ganforge.tabular.io import read_csv

    output = Path(args.output)
    _check_writable(output)
    frame = read_csv(args.data)
    public = _public_metadata(args.public_metadata)
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
        verbose=not args.quiet,
        max_minutes=args.max_minutes,
        precision=args.precision,
    )
    print(f"ganforge: {len(frame)} rows x {frame.shape[1]} columns from {args.data}", file=out)
    how = "given" if args.discrete else "detected"

    def show_columns(decisions: list[str], notes: list[str]) -> None:
        print(f"ganforge: columns ({how} discrete; the rest continuous or constant):", file=out)
        for line in decisions:
            print(f"  {line}", file=out)
        for note in notes:
            print(f"ganforge: warning: {note}", file=out)
        out.flush()

    model.on_columns = show_columns
    model.fit(frame, _names(args.discrete), public, args.run_dir, args.resume)
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
    return 0


def _conditions(where: list[str] | None) -> dict[str, str]:
    conditions: dict[str, str] = {}
    for item in where or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise GanforgeError(
                f"--where {item!r} is not COLUMN=VALUE", fix='e.g. --where "sex=Female"'
            )
        conditions[name.strip()] = value.strip()
    return conditions


def sample(args: argparse.Namespace, out=None) -> int:
    """`ganforge tabular sample`."""
    out = out or sys.stdout
    from ganforge.tabular import TabularGAN
    from ganforge.tabular.io import write_csv

    model = TabularGAN.load(args.model, args.device)
    conditions = _conditions(args.where)
    frame = model.sample(args.n, conditions or None, seed=args.seed)
    path = write_csv(frame, args.output)
    shown = f" where {', '.join(f'{k}={v}' for k, v in conditions.items())}" if conditions else ""
    print(f"ganforge: wrote {len(frame)} rows{shown} to {path}", file=out)
    return 0


def report(args: argparse.Namespace, out=None) -> int:
    """`ganforge tabular report`."""
    out = out or sys.stdout
    from ganforge.tabular.io import read_csv
    from ganforge.tabular.report import build_report, summary_lines, write_report

    real, synthetic = read_csv(args.real), read_csv(args.synthetic)
    holdout = read_csv(args.holdout) if args.holdout else None
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


VERBS = {"fit": fit, "sample": sample, "report": report}


def run(args: argparse.Namespace) -> int:
    """Dispatch `ganforge tabular VERB`."""
    return VERBS[args.verb](args)
