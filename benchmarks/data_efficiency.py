"""Data efficiency: a DCGAN on only 500 MNIST images, with and without DiffAugment, equal steps.

Every run trains the same small DCGAN (``--width``) on the first ``--limit`` MNIST training
images for ``--steps`` steps, then measures FID of 5,000 samples of the EMA generator against the
MNIST test set in the shipped classifier's feature space (the ``mnist`` extractor, the protocol
of ``ganforge eval``). Variants: ``plain``; ``diffaugment`` (Zhao et al. 2020, policy
``--policy``, applied to real and fake in both steps); ``ada`` (the same ops at an adaptive
strength, Karras et al. 2020, target 0.6). The defaults are README's headline comparison:
translation by up to ``--shift`` 1/16 of the side (2 pixels; the paper's 1/8 moves MNIST's
digits out of their 4-pixel margin and costs FID), 20,000 steps with FID also at every 4,000,
the health monitor off so that plain, whose D memorises the images, is not stopped early.

    python benchmarks/data_efficiency.py                              # plain + diffaugment, 3 seeds
    python benchmarks/data_efficiency.py --variants diffaugment --seeds 3,4 --shift 0.125
    python benchmarks/data_efficiency.py --summary                    # combine the saved runs

Each run prints ``data_efficiency variant=... seed=... steps=... fid=... seconds=...`` (at the last
step also ``copy_median_ratio`` and ``copies``: ``ganforge.metrics.memorization`` of 2,000 samples
in pixel space, training images vs as many test images, and ``real_median_ratio``, the same for
2,000 real digits that were not trained on) and is
saved to benchmarks/results/data_efficiency/; ``--summary`` prints one line per variant
(FID mean, std, min, max over seeds) from those files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from ganforge.config import Config, merge
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.metrics import evaluate, memorization
from ganforge.training.augment import TRANSLATION_RATIO
from ganforge.training.callbacks import Callback
from ganforge.training.loop import Trainer

RESULTS = Path(__file__).parent / "results" / "data_efficiency"
VARIANTS = {
    "plain": lambda policy: {},
    "diffaugment": lambda policy: {"diffaugment": policy},
    "ada": lambda policy: {"diffaugment": policy, "ada_target": 0.6},
}


# The discriminators compared: DCGAN's (BatchNorm), and a BatchNorm-free spectrally
# normalised D with the hinge loss and TTUR (Miyato 2018), the kind DiffAugment was shown on.
BASES = {
    "dcgan": ({}, {}),
    "hinge-sn": (
        {"d_norm": "none", "spectral_norm": True},
        {"loss": "hinge", "lr_g": 1e-4, "lr_d": 4e-4, "beta1": 0.0},
    ),
}


def config_for(args, variant: str, seed: int) -> Config:
    """The run's settings: everything equal across variants except the augmentation."""
    base_model, base_train = BASES[args.base]
    train = {
        **base_train,
        "steps": args.steps,
        "batch_size": 64,
        "ema": 0.999,
        "seed": seed,
        "log_every": 250,
        "tensorboard": False,
        "threads": 1,
        "monitor": args.monitor == "on",
        "augment_shift": args.shift,
        **VARIANTS[variant](args.policy),
    }
    overrides = {
        "data": {"source": "mnist", "resolution": 28, "limit": args.limit},
        "model": {
            "arch": "dcgan",
            "latent_dim": 64,
            "g_width": args.width,
            "d_width": args.width,
            "d_extra_layers": args.d_extra_layers,
            **base_model,
        },
        "train": train,
    }
    return merge(Config(), overrides)


def fid_now(trainer, n: int, seed: int) -> float:
    """FID of n samples of the sampling (EMA) generator vs MNIST test, mnist feature space."""
    g = torch.Generator().manual_seed(seed + 7)
    sample = lambda batch: trainer.generate(batch, g)  # noqa: E731
    return evaluate(sample, "mnist:test", "fid", n=n, extractor="mnist")["fid"]


def copy_check(trainer, limit: int, seed: int, n: int = 2000) -> dict | None:
    """Does G copy its images? ``memorization`` of n samples in pixel space, against the
    training images and as many MNIST test images (None when the test set is too small)."""
    if limit > 10000:
        return None

    def pixels(dataset, start: int = 0) -> torch.Tensor:
        return dataset.to_model_range(dataset.data[start:]).flatten(1).float().cpu()

    train = pixels(trainer.dataset)
    holdout = pixels(load_dataset("mnist:test", 28, limit=limit))
    fakes = trainer.generate(n, torch.Generator().manual_seed(seed + 11)).flatten(1).float().cpu()
    result = memorization(fakes, train, holdout)
    # The same for n real digits that were not trained on: what "not copying" looks like.
    unseen = pixels(load_dataset("mnist", 28, limit=limit + n), start=limit)
    result["real_median_ratio"] = memorization(unseen, train, holdout)["median_ratio"]
    return result


class FidProbe(Callback):
    """FID at given steps of one run: the same as separate runs of those lengths (nothing in
    the training depends on the total number of steps here)."""

    def __init__(self, steps: set[int], n: int, seed: int):
        self.steps, self.n, self.seed = steps, n, seed
        self.fids: dict[int, tuple[float, float]] = {}
        self._start = time.perf_counter()

    def on_step_end(self, trainer) -> None:
        if trainer.step in self.steps:
            seconds = time.perf_counter() - self._start
            self.fids[trainer.step] = (fid_now(trainer, self.n, self.seed), seconds)


def run_one(args, variant: str, seed: int) -> list[dict]:
    """Train one variant/seed; measure its FID at --eval-at steps and at the end."""
    config = config_for(args, variant, seed)
    trainer = Trainer(config)
    probe_steps = {int(s) for s in args.eval_at.split(",") if s.strip()} | {args.steps}
    probe = FidProbe(probe_steps, args.n, seed)
    trainer.callbacks = [probe]
    try:
        summary = trainer.fit()
        end = "ok"
    except GanforgeError as e:  # the monitor gave up (e.g. D memorised the few images)
        summary = {"health": str(e), "steps": trainer.step, "last": {}}
        end = f"stopped at step {trainer.step}"
        print(f"data_efficiency variant={variant} seed={seed} end={end}: {e}", flush=True)
        probe.fids.setdefault(trainer.step, (fid_now(trainer, args.n, seed), 0.0))
    copying = copy_check(trainer, args.limit, seed)
    rows = []
    for steps, (fid, seconds) in sorted(probe.fids.items()):
        row = {
            "variant": variant,
            "seed": seed,
            "limit": args.limit,
            "steps": steps,
            "width": args.width,
            "d_extra_layers": args.d_extra_layers,
            "policy": args.policy if variant != "plain" else "",
            "shift": args.shift if variant != "plain" else None,
            "fid": fid,
            "n": args.n,
            "seconds": round(seconds, 1),
            "health": summary["health"],
            "end": end,
            "monitor": args.monitor,
            "base": args.base,
            "last": summary["last"] if steps == summary["steps"] else {},
            "memorization": copying if steps == trainer.step else None,
        }
        print(
            f"data_efficiency variant={variant} policy={row['policy'] or '-'} "
            f"shift={row['shift'] if row['shift'] is not None else '-'} seed={seed} "
            f"limit={args.limit} steps={steps} fid={fid:.3f} seconds={row['seconds']}"
            + (
                f" copy_median_ratio={copying['median_ratio']:.3f} copies={copying['copies']:.3f}"
                f" real_median_ratio={copying['real_median_ratio']:.3f}"
                if row["memorization"]
                else ""
            ),
            flush=True,
        )
        RESULTS.mkdir(parents=True, exist_ok=True)
        policy = row["policy"].replace(",", "+")
        if row["shift"] not in (None, TRANSLATION_RATIO):
            policy += f"-shift{args.shift:g}"
        monitor = (
            ("" if args.monitor == "on" else "_nomonitor")
            + ("" if args.base == "dcgan" else f"_{args.base}")
            + ("" if args.width == 32 else f"_w{args.width}")
            + ("" if not args.d_extra_layers else f"_dx{args.d_extra_layers}")
        )
        name = f"{variant}{'_' + policy if policy else ''}{monitor}_l{args.limit}_st{steps}_s{seed}.json"
        (RESULTS / name).write_text(json.dumps(row, indent=2))
        rows.append(row)
    return rows


def summarize() -> None:
    """One line per (limit, steps, variant, policy) from the saved runs."""
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        key = (
            row.get("base", "dcgan")
            + ("" if row.get("width", 32) == 32 else f" w{row['width']}")
            + ("" if not row.get("d_extra_layers") else f" dx{row['d_extra_layers']}"),
            row["limit"],
            row["steps"],
            row["variant"],
            row["policy"]
            + ("" if row.get("shift") in (None, TRANSLATION_RATIO) else f"@{row['shift']:g}"),
            row.get("monitor", "on"),
        )
        groups.setdefault(key, []).append(row)
    for (base, limit, steps, variant, policy, monitor), runs in sorted(groups.items()):
        fids = [r["fid"] for r in runs]
        spread = statistics.stdev(fids) if len(fids) > 1 else 0.0
        print(
            f"data_efficiency base={base} limit={limit} steps={steps} variant={variant} "
            f"policy={policy or '-'} monitor={monitor} seeds={len(fids)} "
            f"fid_mean={statistics.mean(fids):.2f} fid_std={spread:.2f} "
            f"fid_min={min(fids):.2f} fid_max={max(fids):.2f}"
        )


def main() -> None:
    """Run the requested variants and seeds, or summarise the saved results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="plain,diffaugment", help=", ".join(VARIANTS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--limit", type=int, default=500, help="training images")
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--width", type=int, default=32, help="DCGAN width of G and D")
    parser.add_argument(
        "--d-extra-layers", type=int, default=0, help="3x3 conv blocks per level of D (default 0)"
    )
    parser.add_argument(
        "--shift", type=float, default=0.0625, help="translation's largest shift (default 1/16)"
    )
    parser.add_argument("--policy", default="translation", help="DiffAugment ops (comma)")
    parser.add_argument("--n", type=int, default=5000, help="samples for FID")
    parser.add_argument(
        "--eval-at", default="4000,8000,12000,16000", help="also measure FID at these steps"
    )
    parser.add_argument("--base", choices=sorted(BASES), default="dcgan", help="the D compared")
    parser.add_argument(
        "--monitor", choices=("on", "off"), default="off", help="the health monitor (default off)"
    )
    parser.add_argument("--summary", action="store_true", help="only summarise saved runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not args.summary:
        for seed in (int(s) for s in args.seeds.split(",")):
            for variant in args.variants.split(","):
                run_one(args, variant.strip(), seed)
    summarize()


if __name__ == "__main__":
    main()
