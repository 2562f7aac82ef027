"""Instability: a deliberately unstable DCGAN on MNIST, health monitor off vs on, over seeds.

The unstable settings (``UNSTABLE``): learning rate 1e-2 for both networks, Adam beta1 0.9 (not
DCGAN's 0.5), no normalisation and no regulariser in D. Without help D wins completely within a
few hundred steps and G collapses (its samples' batch diversity falls to a few percent of the
data's). Each run trains ``--steps`` steps, then reports how it ended and the FID of 2,000
samples of its final generator against MNIST test images in the shipped classifier's feature
space (the ``mnist`` extractor). Ends: ``ok``, ``nan`` (stopped by a non-finite loss: no usable
model), ``stopped`` (the monitor used up its rollbacks and left the last good state).
``collapsed``: three or more digits drawn at under half their share (class diagnostics).
Settings: ``off``; ``on`` (defaults: NaN and divergence roll back, collapse is a warning; up to
``--max-rollbacks`` 5, since five halvings bring lr 1e-2 back to ~3e-4).

    python benchmarks/instability.py                          # monitor off and on, 5 seeds
    python benchmarks/instability.py --monitor on --seeds 0,1
    python benchmarks/instability.py --summary

Each run prints ``instability monitor=... seed=... end=... collapsed=... rollbacks=... fid=...``
and is saved to benchmarks/results/instability/; the summary prints one line per setting.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch

from ganforge.config import Config, merge
from ganforge.errors import GanforgeError
from ganforge.metrics import evaluate
from ganforge.training.loop import Trainer

RESULTS = Path(__file__).parent / "results" / "instability"
UNSTABLE = {
    "model": {"arch": "dcgan", "latent_dim": 64, "d_norm": "none"},
    "train": {"lr_g": 1e-2, "lr_d": 1e-2, "beta1": 0.9, "batch_size": 64},
}
COLLAPSED_CLASSES = 3  # digits under half their share that count as a collapse


SETTINGS = {
    "off": {"monitor": False},
    "on": {"monitor": True},  # defaults: rolls back NaN/divergence, warns on collapse
}


def config_for(args, setting: str, seed: int) -> Config:
    """UNSTABLE on MNIST; the monitor's divergence window scaled to the run's length."""
    train = {
        "steps": args.steps,
        "seed": seed,
        **SETTINGS[setting],
        "divergence_window": args.window,
        "max_rollbacks": args.max_rollbacks,
        "log_every": 50,
        "checkpoint_every": 100,  # how often the monitor keeps a last good state
        "tensorboard": False,
        "threads": 1,
    }
    base = merge(Config(), {"data": {"source": "mnist", "resolution": 28}, **UNSTABLE})
    return merge(base, {"model": {"g_width": args.width, "d_width": args.width}, "train": train})


def run_one(args, setting: str, seed: int) -> dict:
    """Train one run, note how it ended, and measure the final generator."""
    trainer = Trainer(config_for(args, setting, seed))
    monitor = trainer.monitor is not None
    start = time.perf_counter()
    end, message = "ok", ""
    try:
        trainer.fit()
    except GanforgeError as e:
        message = str(e)
        end = "stopped" if monitor else "nan" if "non-finite" in message else "error"
    seconds = time.perf_counter() - start
    row = {"monitor": setting, "seed": seed, "steps": trainer.step, "end": end}
    row["message"] = message
    row["rollbacks"] = trainer.monitor.rollbacks if trainer.monitor else 0
    row["events"] = trainer.monitor.events if trainer.monitor else []
    if end == "nan":  # the weights are broken: nothing to evaluate
        row.update(fid=math.nan, collapsed=None, classes_under_half=None)
    else:
        g = torch.Generator().manual_seed(seed + 7)
        result = evaluate(
            lambda n: trainer.generate(n, g), "mnist:test", "fid", n=args.n, extractor="mnist"
        )
        row["fid"] = result["fid"]
        row["classes_under_half"] = result["classes_under_half"]
        row["class_entropy_bits"] = result["class_entropy_bits"]
        row["collapsed"] = result["classes_under_half"] >= COLLAPSED_CLASSES
    row["seconds"] = round(seconds, 1)
    print(
        f"instability monitor={setting} seed={seed} end={end} "
        f"collapsed={row['collapsed']} rollbacks={row['rollbacks']} steps={row['steps']} "
        f"fid={row['fid']:.2f} seconds={row['seconds']}",
        flush=True,
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"monitor_{setting}_s{seed}.json"
    (RESULTS / name).write_text(json.dumps(row, indent=2, default=str))
    return row


def summarize() -> None:
    """One line per monitor setting from the saved runs."""
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    for row in rows:  # files written before the "collapse" setting stored a bool
        row["monitor"] = {True: "on", False: "off"}.get(row["monitor"], row["monitor"])
    for setting in SETTINGS:
        runs = [r for r in rows if r["monitor"] == setting]
        if not runs:
            continue
        fids = [r["fid"] for r in runs if r["fid"] is not None and math.isfinite(r["fid"])]
        per_seed = ",".join(f"{r['fid']:.1f}" for r in runs)
        ends = {e: sum(r["end"] == e for r in runs) for e in ("ok", "nan", "stopped", "error")}
        print(
            f"instability monitor={setting} runs={len(runs)} "
            f"nan={ends['nan']} collapsed={sum(bool(r['collapsed']) for r in runs)} "
            f"stopped={ends['stopped']} rollbacks={sum(r['rollbacks'] for r in runs)} "
            f"fid_median={statistics.median(fids) if fids else math.nan:.2f} "
            f"fid_per_seed={per_seed}"
        )


def main() -> None:
    """Run the requested settings and seeds, or summarise the saved results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitor", default="off,on", help=", ".join(SETTINGS))
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--window", type=int, default=300, help="divergence window (steps)")
    # lr 1e-2 is 50x DCGAN's 2e-4: five halvings bring it back to ~3e-4.
    parser.add_argument("--max-rollbacks", type=int, default=5)
    parser.add_argument("--n", type=int, default=2000, help="samples for FID")
    parser.add_argument("--summary", action="store_true", help="only summarise saved runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not args.summary:
        for seed in (int(s) for s in args.seeds.split(",")):
            for setting in args.monitor.split(","):
                run_one(args, setting.strip(), seed)
    summarize()


if __name__ == "__main__":
    main()
