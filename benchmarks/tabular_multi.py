"""Related tables on real panels: ganforge's fit-multi vs the same child rows given to random
parents (what a per-table model without the key would do).

    python benchmarks/tabular_multi.py [--dataset grunfeld|modechoice] [--epochs N]

grunfeld (statsmodels): 11 firms (parents: firm, mean market value, mean capital over the years)
and 220 yearly rows (children: firm, year, invest, value, capital). modechoice (statsmodels):
210 travellers (parents: household income, party size) and 840 rows, one per travel mode
(children: mode, chosen, terminal time, in-vehicle cost and time, generalised cost).
Scores (ganforge.tabular.multi): cardinality = 1 - KS distance of children-per-parent counts;
parent-child pair trends = 1 - |corr_real - corr_synth| / 2 over every (parent numeric column,
child numeric column) pair of the joined rows (the idea of SDMetrics' inter-table trends), and
SDMetrics' CardinalityShapeSimilarity where it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def grunfeld() -> tuple[dict, dict]:
    import statsmodels.api as sm

    data = sm.datasets.grunfeld.load_pandas().data
    data["year"] = data["year"].astype(int)
    firms = data.groupby("firm", sort=False).agg(
        mean_value=("value", "mean"), mean_capital=("capital", "mean")
    )
    firms = firms.round(1).reset_index()
    years = data[["firm", "year", "invest", "value", "capital"]].reset_index(drop=True)
    meta = {
        "tables": {
            "firms": {"columns": {
                "firm": {"type": "id", "role": "primary_key"},
                "mean_value": {"type": "numerical", "rounding": 1},
                "mean_capital": {"type": "numerical", "rounding": 1}}},
            "years": {"columns": {
                "firm": {"type": "id", "role": "foreign_key", "references": "firms.firm"},
                "year": {"type": "numerical", "subtype": "integer", "role": "sequence_key"},
                "invest": {"type": "numerical", "rounding": 1},
                "value": {"type": "numerical", "rounding": 1},
                "capital": {"type": "numerical", "rounding": 1}},
                "constraints": [{"type": "positive", "column": "invest"}]},
        }
    }  # fmt: skip
    return {"firms": firms, "years": years}, meta


def modechoice() -> tuple[dict, dict]:
    import statsmodels.api as sm

    data = sm.datasets.modechoice.load_pandas().data
    data["individual"] = data["individual"].astype(int)
    people = data.groupby("individual").agg(hinc=("hinc", "first"), psize=("psize", "first"))
    people = people.reset_index()
    modes = data[["individual", "mode", "choice", "ttme", "invc", "invt", "gc"]].copy()
    modes["mode"] = modes["mode"].map({1.0: "air", 2.0: "train", 3.0: "bus", 4.0: "car"})
    modes["choice"] = modes["choice"].astype(int)
    meta = {
        "tables": {
            "people": {"columns": {
                "individual": {"type": "id", "role": "primary_key"},
                "hinc": {"type": "numerical", "subtype": "integer"},
                "psize": {"type": "categorical"}}},
            "modes": {"columns": {
                "individual": {"type": "id", "role": "foreign_key",
                               "references": "people.individual"},
                "mode": {"type": "categorical"},
                "choice": {"type": "categorical"},
                "ttme": {"type": "numerical", "subtype": "integer"},
                "invc": {"type": "numerical", "subtype": "integer"},
                "invt": {"type": "numerical", "subtype": "integer"},
                "gc": {"type": "numerical", "subtype": "integer"}}},
        }
    }  # fmt: skip
    return {"people": people, "modes": modes}, meta


def random_parents(synth: dict, links: dict, seed: int) -> dict:
    """The same child rows, each given a random generated parent (no conditioning)."""
    rng = np.random.default_rng(seed)
    out = dict(synth)
    for child, (column, parent, key) in links.items():
        frame = synth[child].copy()
        frame[column] = rng.choice(synth[parent][key].to_numpy(), len(frame))
        out[child] = frame
    return out


def sdmetrics_cardinality(real: dict, synth: dict, meta: dict, links: dict) -> float | None:
    try:
        from sdmetrics.multi_table import CardinalityShapeSimilarity

        tables = {}
        for name, table in meta["tables"].items():
            cols = {}
            for c, e in table["columns"].items():
                kind = {"numerical": "numerical", "id": "id", "datetime": "datetime",
                        "boolean": "boolean"}.get(e["type"], "categorical")  # fmt: skip
                cols[c] = {"sdtype": kind}
            key = [c for c, e in table["columns"].items() if e.get("role") == "primary_key"]
            tables[name] = {"columns": cols, **({"primary_key": key[0]} if key else {})}
        rels = [
            {"parent_table_name": p, "parent_primary_key": k, "child_table_name": c,
             "child_foreign_key": col}
            for c, (col, p, k) in links.items()
        ]  # fmt: skip
        md = {"tables": tables, "relationships": rels}
        return float(CardinalityShapeSimilarity.compute(real, synth, md))
    except Exception as e:  # (an optional cross-check: its API moves between versions)
        print(f"(sdmetrics CardinalityShapeSimilarity did not run: {type(e).__name__}: {e})")
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="grunfeld", choices=["grunfeld", "modechoice"])
    parser.add_argument(
        "--epochs", type=int, default=None, help="default: grunfeld 1500, modechoice 300"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="default: grunfeld 50, modechoice 100"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from ganforge.tabular import multi

    real, meta = grunfeld() if args.dataset == "grunfeld" else modechoice()
    small = args.dataset == "grunfeld"  # (220 rows: more passes, smaller steps)
    args.epochs = args.epochs or (1500 if small else 300)
    args.batch_size = args.batch_size or (50 if small else 100)
    t0, c0 = time.perf_counter(), time.process_time()
    model = multi.MultiTableModel(
        epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, verbose=False
    ).fit(real, meta)
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    synth = model.sample(seed=args.seed)
    links = model.links
    rows = {}
    for label, tables in (("ganforge fit-multi", synth),
                          ("random parents", random_parents(synth, links, args.seed))):  # fmt: skip
        fk_ok = all(
            tables[c][col].isin(set(tables[p][k])).all() for c, (col, p, k) in links.items()
        )
        rows[label] = {
            "cardinality": multi.cardinality_score(real, tables, links),
            "pair_trends": multi.pair_trend_score(real, tables, links),
            "sdmetrics_cardinality_shape": sdmetrics_cardinality(real, tables, meta, links),
            "foreign_keys_valid": bool(fk_ok),
            "rows": {t: len(f) for t, f in tables.items()},
        }
    result = {
        "dataset": args.dataset,
        "epochs": args.epochs,
        "fit_s": fit_s,
        "fit_cpu_s": fit_cpu,
        "load_at_start": os.getloadavg()[0],
        "real_rows": {t: len(f) for t, f in real.items()},
        "scores": rows,
        "command": " ".join(["python", *sys.argv]),
    }
    for label, r in rows.items():
        rel = next(iter(r["cardinality"]))
        print(
            f"{label:<20} cardinality {r['cardinality'][rel]:.3f}  pair trends "
            f"{r['pair_trends'][rel]:.3f}  sdmetrics cardinality "
            f"{r['sdmetrics_cardinality_shape']}  keys valid {r['foreign_keys_valid']}"
        )
    print(f"fit {fit_s:.0f}s (cpu {fit_cpu:.0f}s)")
    out = Path(args.out or f"benchmarks/results/tabular_multi_{args.dataset}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
