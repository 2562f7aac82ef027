"""mnist-r3gan vs mnist-dcgan at equal CPU time, judged by FID in the mnist feature space.

Both presets train at the same time, one process and one thread each (so they share the
machine's conditions), each stopped by its own *CPU* time (time.process_time), not the wall
clock: on a loaded machine the two get the same amount of computation. At every budget the
sampling (EMA) generator is copied; after training each copy is scored with 10,000 samples
against MNIST test (FID, precision/recall, class shares from the shipped classifier). One line
per model per budget:

  r3gan model=mnist-r3gan cpu_minutes=5 wall_minutes=... steps=... fid=... classes_under_half=...

`--budgets 2.5,5,10` (CPU minutes); lines are appended to benchmarks/results/r3gan.jsonl.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"
MODELS = ("mnist-dcgan", "mnist-r3gan")


class CPUBudget:
    """Trainer callback: copies the sampling generator at each CPU-time budget, stops at the last."""

    def __init__(self, budgets_minutes: list[float]):
        self.budgets = sorted(budgets_minutes)
        self.start_cpu = time.process_time()
        self.start_wall = time.perf_counter()
        self.snapshots: list[dict] = []

    def on_train_start(self, trainer) -> None:
        self.start_cpu, self.start_wall = time.process_time(), time.perf_counter()

    def on_log(self, trainer, scalars) -> None:
        pass

    def on_train_end(self, trainer) -> None:
        pass

    def on_step_end(self, trainer) -> None:
        used = (time.process_time() - self.start_cpu) / 60
        while self.budgets and used >= self.budgets[0]:
            self.snapshots.append(
                {
                    "cpu_minutes": self.budgets.pop(0),
                    "wall_minutes": (time.perf_counter() - self.start_wall) / 60,
                    "steps": trainer.step,
                    "generator": copy.deepcopy(trainer.sampling_generator).eval(),
                }
            )
        if not self.budgets:
            trainer.stop_requested = True


def run_one(model: str, budgets: list[float], seed: int, n: int, overrides: dict) -> list[dict]:
    """Train `model` (a preset) until the last CPU budget; score each snapshot."""
    from ganforge.config import merge
    from ganforge.images import save_grid
    from ganforge.metrics import evaluate
    from ganforge.presets import get_preset
    from ganforge.training.loop import Trainer

    torch.set_num_threads(1)
    config = get_preset(model)
    config = merge(config, overrides) if overrides else config
    t = config.train
    t.seed, t.steps, t.threads = seed, 10**9, 1
    t.tensorboard, t.sample_every, t.checkpoint_every = False, 0, 0
    budget = CPUBudget(budgets)
    trainer = Trainer(config, callbacks=[budget])
    trainer.fit()
    rows = []
    RESULTS.mkdir(exist_ok=True)
    for snap in budget.snapshots:
        G = snap.pop("generator")
        with torch.no_grad():
            z = torch.randn(100, G.latent_dim, generator=torch.Generator().manual_seed(0))
            save_grid(G(z), RESULTS / f"r3gan_{model}_{snap['cpu_minutes']:g}min.png", nrow=10)
        r = evaluate(G, "mnist:test", ["fid", "pr"], n=n, extractor="mnist", seed=seed)
        rows.append(
            {
                "model": model,
                **snap,
                "seed": seed,
                "fid": r["fid"],
                "precision": r["precision"],
                "recall": r["recall"],
                "class_entropy_bits": r["class_entropy_bits"],
                "classes_under_half": r["classes_under_half"],
            }
        )
    return rows


def line(r: dict) -> str:
    """The one-line summary of a row."""
    return (
        f"r3gan model={r['model']} cpu_minutes={r['cpu_minutes']:g} "
        f"wall_minutes={r['wall_minutes']:.1f} steps={r['steps']} fid={r['fid']:.2f} "
        f"precision={r['precision']:.3f} recall={r['recall']:.3f} "
        f"class_entropy_bits={r['class_entropy_bits']:.3f} "
        f"classes_under_half={r['classes_under_half']} load={r.get('load', '')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="5,10,20", help="CPU minutes, comma list")
    parser.add_argument("--models", default=",".join(MODELS), help="presets, comma list")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=10000, help="samples per FID")
    parser.add_argument("--set", default="{}", help='JSON overrides, e.g. {"train": {...}}')
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    budgets = [float(b) for b in args.budgets.split(",")]
    if args.one:
        for row in run_one(args.one, budgets, args.seed, args.n, json.loads(args.set)):
            print(json.dumps(row), flush=True)
        return
    argv = ["--budgets", args.budgets, "--seed", str(args.seed), "--n", str(args.n)]
    argv += ["--set", args.set]
    procs = {
        m: subprocess.Popen(
            [sys.executable, __file__, "--one", m, *argv], stdout=subprocess.PIPE, text=True
        )
        for m in args.models.split(",")
    }
    RESULTS.mkdir(exist_ok=True)
    for proc in procs.values():
        out, _ = proc.communicate()
        load = f"{os.getloadavg()[0]:.1f}"
        for text in out.strip().splitlines():
            if not text.startswith("{"):
                continue
            row = {**json.loads(text), "load": load}
            with open(RESULTS / "r3gan.jsonl", "a") as f:
                f.write(json.dumps(row) + "\n")
            print(line(row), flush=True)


if __name__ == "__main__":
    main()
