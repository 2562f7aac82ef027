"""StackedMNIST's 1,000 modes: the ``stacked-mnist`` preset vs the plain DCGAN baseline.

Protocol (Metz et al. 2017; VEEGAN; PacGAN Table 2): train on the fixed 60,000 stacked images
(``--data stacked-mnist``), draw 26,000 samples of the sampling (EMA) generator, classify each
channel with ganforge's shipped MNIST classifier; a mode (digit triple) is covered when it holds a
sample; KL(generated mode histogram || uniform) in nats. FID in MNIST space per channel: 10,000
samples, each channel alone vs MNIST test (10,000) in the classifier's feature space, as
``mnist-dcgan`` is measured. Variants:

- ``preset``: ``--preset stacked-mnist`` as shipped (PacDCGAN2's networks with R3GAN's
  relativistic pairing loss and lazy R1 + R2);
- ``pacgan``: the same with the non-saturating loss and no penalty (PacDCGAN2 as the paper);
- ``dcgan``: the same networks, schedule and data with a plain discriminator (no minibatch std,
  no packing, non-saturating): the baseline of PacGAN's table.

    python benchmarks/stacked_mnist.py                           # both variants, seeds 0,1,2
    python benchmarks/stacked_mnist.py --variants preset --seeds 0 --steps 2000
    python benchmarks/stacked_mnist.py --summary                 # combine saved runs

One line per run (``stacked_mnist variant=... seed=... modes=.../1000 kl=... fid=r/g/b ...
train_s=...``) saved to benchmarks/results/stacked_mnist/; the load average at the start and
end of each run is recorded beside its time, as the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from ganforge.config import Config, merge
from ganforge.metrics import evaluate
from ganforge.metrics.modes import STACKED_SAMPLES, stacked_mode_coverage
from ganforge.presets import get_preset
from ganforge.training.loop import Trainer

RESULTS = Path(__file__).parent / "results" / "stacked_mnist"
NONSATURATING = {"loss": "nonsaturating", "r1_weight": 0.0, "r2_weight": 0.0}
VARIANTS = {
    "preset": {},
    # the preset before R3GAN's balancing joined it: PacDCGAN2 as the paper, non-saturating
    "pacgan": {"train": NONSATURATING},
    "dcgan": {"model": {"minibatch_std": False, "pack": 1}, "train": NONSATURATING},
}
FID_SAMPLES = 10_000
PUBLISHED = "PacGAN Table 2: DCGAN 99 modes / KL 3.40, PacDCGAN2 1000 / 0.06"


def config_for(variant: str, seed: int, steps: int = 0) -> Config:
    """The stacked-mnist preset, with the variant's discriminator, seed and (optional) steps."""
    train = {"seed": seed, "tensorboard": False}
    if steps:
        train["steps"] = steps
    return merge(merge(get_preset("stacked-mnist"), VARIANTS[variant]), {"train": train})


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def run_one(variant: str, seed: int, steps: int = 0) -> dict:
    """Train one (variant, seed); modes, KL and per-channel FID of its sampling generator."""
    config = config_for(variant, seed, steps)
    load_start, start = _load(), time.perf_counter()
    trainer = Trainer(config)
    summary = trainer.fit()
    train_s = time.perf_counter() - start
    tick = time.perf_counter()
    g = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():
        images = torch.cat(
            [trainer.generate(1000, g).float().cpu() for _ in range(STACKED_SAMPLES // 1000)]
        )
    modes = stacked_mode_coverage(images, STACKED_SAMPLES)
    fids = [
        evaluate(
            images[:FID_SAMPLES, c : c + 1],
            "mnist:test",
            "fid",
            n=FID_SAMPLES,
            extractor="mnist",
        )["fid"]
        for c in range(3)
    ]
    row = {
        "variant": variant,
        "seed": seed,
        "steps": summary["steps"],
        "modes": modes["modes"],
        "kl": modes["mode_kl"],
        "modes_under_half": modes["modes_under_half"],
        "channel_kl": modes["channel_kl"],
        "dependence_kl": modes["dependence_kl"],
        "fid_rgb": fids,
        "train_s": round(train_s, 1),
        "eval_s": round(time.perf_counter() - tick, 1),
        "load_start": load_start,
        "load_end": _load(),
        "health": summary["health"],
        "protocol": {
            **modes["protocol"],
            "fid": f"mnist space, {FID_SAMPLES} per channel vs mnist:test",
        },
    }
    print(line(row), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    default = get_preset("stacked-mnist").train.steps
    length = "" if row["steps"] == default else f"_st{row['steps']}"
    (RESULTS / f"{variant}{length}_s{seed}.json").write_text(json.dumps(row, indent=2))
    return row


def line(row: dict) -> str:
    """The one line of a run."""
    fid = "/".join(f"{f:.2f}" for f in row["fid_rgb"])
    return (
        f"stacked_mnist variant={row['variant']} seed={row['seed']} steps={row['steps']} "
        f"modes={row['modes']}/1000 kl={row['kl']:.4f} under_half={row['modes_under_half']} "
        f"channel_kl={'/'.join(f'{k:.4f}' for k in row.get('channel_kl', []))} "
        f"dependence_kl={row.get('dependence_kl', float('nan')):.4f} "
        f"fid_rgb={fid} train_s={row['train_s']} eval_s={row['eval_s']} "
        f"load={row['load_start']}->{row['load_end']}"
    )


def summarize() -> None:
    """Per (variant, steps): modes and KL, mean and worst over the saved seeds."""
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    groups: dict[tuple[str, int], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["variant"], row["steps"]), []).append(row)
    for (variant, steps), runs in sorted(groups.items()):
        modes, kls = [r["modes"] for r in runs], [r["kl"] for r in runs]
        fid = statistics.mean(statistics.mean(r["fid_rgb"]) for r in runs)
        goal = sum(r["modes"] == 1000 and r["kl"] <= 0.03 for r in runs)
        print(
            f"stacked_mnist variant={variant} steps={steps} seeds={len(runs)} "
            f"modes_mean={statistics.mean(modes):.1f} modes_min={min(modes)} "
            f"kl_mean={statistics.mean(kls):.4f} kl_max={max(kls):.4f} fid_mean={fid:.2f} "
            f"goal_seeds={goal}/{len(runs)} train_s_max={max(r['train_s'] for r in runs)}"
        )
    print(f"published: {PUBLISHED}")


def main() -> None:
    """Run the requested variants and seeds, or summarise the saved results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="preset,dcgan", help=", ".join(VARIANTS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", type=int, default=0, help="training steps (default: preset's)")
    parser.add_argument("--summary", action="store_true", help="only summarise saved runs")
    args = parser.parse_args()
    if not args.summary:
        for seed in (int(s) for s in args.seeds.split(",")):
            for variant in args.variants.split(","):
                run_one(variant.strip(), seed, args.steps)
    summarize()


if __name__ == "__main__":
    main()
