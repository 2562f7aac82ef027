"""`ganforge tabular fit-multi | sample-multi`: related tables (see ganforge.tabular.multi)."""

from __future__ import annotations

from pathlib import Path

from ganforge.errors import GanforgeError
from ganforge.tabular import metadata as md
from ganforge.tabular.multi import MultiTableModel, check_tables, relationships


def add_parsers(verbs) -> None:
    from ganforge import commandline as cl

    f = verbs.add_parser("fit-multi", help="learn related tables (primary/foreign keys) -> folder")
    f.add_argument(
        "--metadata",
        required=True,
        metavar="META.json",
        help='{"tables": {...}}: each table\'s columns, keys and constraints (required)',
    )
    f.add_argument(
        "tables",
        nargs="+",
        metavar="TABLE.csv",
        help="one CSV per table, named after it (firms.csv) or given as TABLE=PATH",
    )
    f.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="the model folder (required)"
    )
    f.add_argument("--epochs", type=int, default=300, help="passes over each table (default 300)")
    f.add_argument("--batch-size", type=int, default=500, help="rows per step (default 500)")
    f.add_argument("--seed", type=int, default=0, help="seed of the fits (default 0)")
    cl.add_quiet(f)
    s = verbs.add_parser("sample-multi", help="draw related tables from a fit-multi folder -> CSVs")
    s.add_argument("model", metavar="DIR", help="a folder written by tabular fit-multi")
    s.add_argument("-o", "--output", required=True, metavar="DIR", help="CSV folder (required)")
    s.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="parent rows as a multiple of the real ones (default 1)",
    )
    cl.add_seed(s, "the rows")


def _table_paths(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            name, path = Path(item).stem, item
        if name in out:
            raise GanforgeError(f"table {name!r} given twice", fix="one CSV per table")
        out[name] = path
    return out


def fit_multi_verb(args, out) -> int:
    from ganforge.apps.tabular import _read_table

    meta = md.load(args.metadata)
    paths = _table_paths(args.tables)
    relationships(meta, args.metadata)
    frames = {name: _read_table(path, out) for name, path in paths.items()}
    check_tables(meta, frames, args.metadata)  # before any training
    model = MultiTableModel(
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        verbose=False,
        quiet=args.quiet,
    )

    def on_table(name, frame):
        print(
            f"ganforge: fitting table {name!r} ({len(frame)} rows, {frame.shape[1]} columns)",
            file=out,
            flush=True,
        )

    def on_columns(decisions, notes):
        for line in decisions:
            print(f"  {line}", file=out)
        for note in notes:
            print(f"ganforge: note: {note}", file=out)

    model.fit(frames, meta, args.metadata, on_table, on_columns)
    for child, (column, parent, key) in model.links.items():
        print(
            f"ganforge: {parent}.{key} -> {child}.{column}: children per parent learned", file=out
        )
    folder = model.save(args.output)
    print(f"ganforge: models saved to {folder}", file=out)
    print(f"ganforge: next: ganforge tabular sample-multi {folder} -o synth/", file=out)
    return 0


def sample_multi_verb(args, out) -> int:
    from ganforge.tabular.io import write_csv

    if not args.scale > 0:
        raise GanforgeError(f"--scale {args.scale}: must be positive")
    model = MultiTableModel.load(args.model)
    tables = model.sample(args.scale, seed=args.seed if args.seed is not None else 0)
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        path = write_csv(frame, folder / f"{name}.csv")
        print(f"ganforge: wrote {len(frame)} rows of {name!r} to {path}", file=out)
    return 0
