"""Mode coverage on ring (8 modes) and grid (25 modes): plain D vs minibatch std vs PacGAN packing.

VEEGAN protocol (Srivastava et al. 2017): 2,500 samples of the sampling (EMA) generator; a sample
is high quality within 3 std of its nearest mode; a mode is recovered when it holds at least 1%
of the high-quality samples a perfect generator would put there (ganforge.metrics.modes).
Balance: each mode's share of the high-quality samples, KL(shares || uniform) in nats, and the
modes under half their share (1/8 ring, 1/25 grid); a seed is balanced when none is. The
networks and schedule are the ``ring-vanilla`` preset's for both datasets (MLP G and D of width
128, batch 256, 4,000 steps, TTUR, lr decay, EMA; without the preset's R1, which the ``r1*``
variants add); only the discriminator option changes between variants. A variant named after
a preset (``ring-vanilla``, ``grid-mbstd-pack``) runs that preset as shipped, on its own data
(``--data`` is then ignored).

    python benchmarks/mode_coverage.py                                   # both, 3 variants, 5 seeds
    python benchmarks/mode_coverage.py --data grid --variants pack2 --seeds 0,1
    python benchmarks/mode_coverage.py --variants ring-vanilla,grid-mbstd-pack  # the presets
    python benchmarks/mode_coverage.py --summary                         # combine saved runs

Each run prints ``mode_coverage data=... variant=... seed=... modes=.../... high_quality=...
kl=... under_half=... min_share=...`` (min_share: the smallest mode's share x number of modes,
1 = its fair share) and is saved to benchmarks/results/mode_coverage/; the summary prints, per
(data, variant), modes recovered, the high-quality share, KL and the balanced seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from ganforge.config import Config, merge
from ganforge.metrics.modes import balance, mode_coverage
from ganforge.presets import PRESETS, get_preset
from ganforge.training.loop import Trainer

RESULTS = Path(__file__).parent / "results" / "mode_coverage"
# Discriminator options (model settings), and one combination with a regulariser (train).
R1 = {"r1_weight": 0.1, "r1_every": 1}
VARIANTS = {
    "plain": ({}, {}),
    "mbstd": ({"minibatch_std": True}, {}),
    "mbdisc": ({"minibatch_disc": True}, {}),
    "pack2": ({"pack": 2}, {}),
    "pack4": ({"pack": 4}, {}),
    "mbstd_pack2": ({"minibatch_std": True, "pack": 2}, {}),
    # The best found on the grid (25/25 modes in every seed, with --steps 12000).
    "mbstd_pack2_r1": ({"minibatch_std": True, "pack": 2}, R1),
    # ... balanced with R3GAN's loss and R2 as well (now the grid-mbstd-pack preset)
    "mbstd_pack2_rp_r1r2": (
        {"minibatch_std": True, "pack": 2},
        {**R1, "loss": "relativistic-pair", "r2_weight": 0.1},
    ),
    "r1": ({}, R1),
    "r1_lazy4": ({}, {"r1_weight": 0.1, "r1_every": 4}),  # the same expected penalty, 1/4 the cost
}
SAMPLES = 2500


def config_for(data: str, variant: str, seed: int, steps: int = 0) -> Config:
    """ring-vanilla's settings on `data` with one discriminator option (and `steps` if given);
    a preset's name: that preset as shipped."""
    if variant in PRESETS:
        config, (model, train) = get_preset(variant), ({}, {})
    else:
        # ring-vanilla's networks and schedule without its R1 (a variant adds what it tests)
        base = {"data": {"source": data}, "train": {"r1_weight": 0.0}}
        config = merge(get_preset("ring-vanilla"), base)
        model, train = VARIANTS[variant]
    train = {**train, "seed": seed, "tensorboard": False, "threads": 1}
    if steps:
        train["steps"] = steps
    return merge(config, {"model": model, "train": train})


def run_one(data: str, variant: str, seed: int, steps: int = 0) -> dict:
    """Train one (data, variant, seed) and measure its mode coverage."""
    config = config_for(data, variant, seed, steps)
    data = config.data.source
    start = time.perf_counter()
    trainer = Trainer(config)
    summary = trainer.fit()
    g = torch.Generator().manual_seed(seed + 7)
    meta = trainer.dataset.meta
    result = mode_coverage(
        trainer.generate(SAMPLES, g).cpu(), torch.tensor(meta["centers"]), meta["std"]
    )
    row = {
        "data": data,
        "variant": variant,
        "seed": seed,
        "steps": summary["steps"],
        "modes": result["modes"],
        "num_modes": result["num_modes"],
        "high_quality": result["high_quality"],
        "counts": result["counts"],
        "kl": result["mode_kl"],
        "modes_under_half": result["modes_under_half"],
        "min_share": min(result["shares"]) * result["num_modes"],
        "load": round(__import__("os").getloadavg()[0], 1),
        "seconds": round(time.perf_counter() - start, 1),
        "health": summary["health"],
    }
    print(
        f"mode_coverage data={data} variant={variant} seed={seed} "
        f"modes={row['modes']}/{row['num_modes']} high_quality={row['high_quality']:.3f} "
        f"kl={row['kl']:.3f} under_half={row['modes_under_half']} "
        f"min_share={row['min_share']:.2f} seconds={row['seconds']} load={row['load']}",
        flush=True,
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    default = (
        get_preset(variant) if variant in PRESETS else get_preset("ring-vanilla")
    ).train.steps
    length = "" if row["steps"] == default else f"_st{row['steps']}"
    (RESULTS / f"{data}_{variant}{length}_s{seed}.json").write_text(json.dumps(row, indent=2))
    return row


def summarize() -> None:
    """Per (data, variant): modes, high-quality share and balance over the saved seeds."""
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    for row in rows:  # runs saved before the balance figures: from their counts
        if "kl" not in row:
            shown = balance(row["counts"])
            row["kl"], row["modes_under_half"] = shown["mode_kl"], shown["modes_under_half"]
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["data"], row["variant"], row["steps"]), []).append(row)
    for (data, variant, steps), runs in sorted(groups.items()):
        modes = [r["modes"] for r in runs]
        hq = [r["high_quality"] for r in runs]
        every = sum(m == runs[0]["num_modes"] for m in modes)
        kls = [r["kl"] for r in runs]
        balanced = sum(r["modes_under_half"] == 0 for r in runs)
        print(
            f"mode_coverage data={data} variant={variant} steps={steps} seeds={len(runs)} "
            f"modes_mean={statistics.mean(modes):.1f} modes_min={min(modes)}/{runs[0]['num_modes']} "
            f"all_modes_seeds={every}/{len(runs)} "
            f"hq_mean={statistics.mean(hq):.3f} hq_min={min(hq):.3f} "
            f"kl_mean={statistics.mean(kls):.3f} kl_max={max(kls):.3f} "
            f"balanced_seeds={balanced}/{len(runs)}"
        )


def main() -> None:
    """Run the requested datasets, variants and seeds, or summarise the saved results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="ring,grid")
    parser.add_argument("--variants", default="plain,mbstd,pack2", help=", ".join(VARIANTS))
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--steps", type=int, default=0, help="training steps (default: 4000)")
    parser.add_argument("--summary", action="store_true", help="only summarise saved runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not args.summary:
        for data in args.data.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                for variant in args.variants.split(","):
                    run_one(data.strip(), variant.strip(), seed, args.steps)
    summarize()


if __name__ == "__main__":
    main()
