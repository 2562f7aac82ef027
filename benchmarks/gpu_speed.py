"""Training speed on one GPU: images/s, peak memory and TFLOP/s of whole ganforge train steps.

Each arm is one preset at one precision (fp32 | bf16) with torch.compile off or on, trained by
the real Trainer (D step with its penalties, G step, EMA) on random images of the preset's shape
(throughput does not depend on the pixels, and no dataset has to travel to the GPU machine).
FLOPs of one step are counted by torch.utils.flop_counter (matmuls and convolutions, forward,
backward and the double backward of R1/R2) and divided by the timed seconds per step; the
percentage is of the GPU's dense bf16 peak (H200/H100 SXM: 989 TFLOP/s, the datasheet). One line
per arm:

  gpu_speed preset=photos-r3gan-256 precision=bf16 compile=off batch=32 img_per_s=... peak_mem_gb=...
    tflops=... pct_bf16_peak=... device="NVIDIA H200"

`--dry-run`: tiny settings on whatever device there is (CPU here), to test the script itself.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from pathlib import Path

import torch

# Dense bf16 tensor-core peaks (TFLOP/s) from the vendors' datasheets, by device-name fragment.
BF16_PEAK = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}
# Eager arms first, the compiled ones (a minute of compiling each) last.
DEFAULT_ARMS = (
    "mnist-dcgan:fp32:off,mnist-dcgan:bf16:off,photos-r3gan-64:fp32:off,photos-r3gan-64:bf16:off,"
    "photos-r3gan-256:fp32:off,photos-r3gan-256:bf16:off,"
    "mnist-dcgan:bf16:on,photos-r3gan-64:bf16:on,photos-r3gan-256:bf16:on"
)
DRY_ARMS = "mnist-dcgan:fp32:off,photos-r3gan-64:bf16:off,photos-r3gan-256:fp32:off"


def bf16_peak(name: str) -> float | None:
    """The dense bf16 peak of a device named `name`, None when unknown (CPUs)."""
    return next((v for k, v in BF16_PEAK.items() if k in name), None)


def random_dataset(shape: tuple[int, ...], n: int):
    """n random uint8 images of `shape` (C, H, W) as an InMemoryDataset."""
    from ganforge.data.dataset import InMemoryDataset

    data = torch.randint(0, 256, (n, *shape), dtype=torch.uint8)
    return InMemoryDataset(data=data, name="random")


def build_trainer(preset: str, precision: str, compile_on: bool, device: str, batch: int, side):
    """A Trainer for `preset` on random images (in memory, nothing written)."""
    from ganforge.config import merge
    from ganforge.presets import get_preset
    from ganforge.training.loop import Trainer

    config = get_preset(preset)
    resolution = side or config.data.resolution
    channels = 1 if preset.startswith("mnist") else 3
    train = {
        "device": device,
        "precision": precision,
        "compile": compile_on,
        "tensorboard": False,
        "sample_every": 0,
        "checkpoint_every": 0,
        "monitor": False,
        "log_every": 10**6,
        "steps": 10**6,
        "batch_size": batch or config.train.batch_size,
    }
    config = merge(config, {"train": train, "data": {"resolution": resolution}})
    dataset = random_dataset((channels, resolution, resolution), max(256, 2 * batch))
    return Trainer(config, dataset=dataset)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def count_step_flops(trainer) -> float:
    """FLOPs of one train step (all matmuls and convolutions, every pass)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        trainer.train_step(False)
    return float(counter.get_total_flops())


def measure(arm: str, device: str, steps: int, warmup: int, batch: int, side) -> dict:
    """Time `steps` train steps of one arm after `warmup` (compile happens there)."""
    preset, precision, compile_flag = arm.split(":")
    trainer = build_trainer(preset, precision, compile_flag == "on", device, batch, side)
    dev = trainer.device
    if dev.type == "cuda":  # the arms before this one freed first: its own peak only
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    for _ in range(warmup):
        trainer.train_step(False)
    synchronize(dev)
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(False)
    synchronize(dev)
    seconds = (time.perf_counter() - t0) / steps
    if dev.type == "cuda":
        memory_gb = torch.cuda.max_memory_allocated(dev) / 2**30
    else:  # peak resident memory of this process (Linux: KiB)
        memory_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    # Counted eagerly (the counter sees no ops inside a compiled graph; the maths is the same).
    eager = (
        build_trainer(preset, precision, False, device, batch, side)
        if compile_flag == "on"
        else trainer
    )
    flops = count_step_flops(eager)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    peak = bf16_peak(name)
    tflops = flops / seconds / 1e12
    batch_size = trainer.config.train.batch_size
    return {
        "preset": preset,
        "precision": precision,
        "compile": compile_flag,
        "resolution": trainer.config.data.resolution,
        "batch": batch_size,
        "img_per_s": batch_size / seconds,
        "ms_per_step": 1000 * seconds,
        "peak_mem_gb": memory_gb,
        "gflop_per_step": flops / 1e9,
        "tflops": tflops,
        "pct_bf16_peak": 100 * tflops / peak if peak else None,
        "device": name,
    }


def line(r: dict) -> str:
    """The one-line summary of an arm."""
    if "error" in r:
        return f"gpu_speed arm={r['arm']} error={r['error']!r}"
    pct = f"{r['pct_bf16_peak']:.1f}" if r["pct_bf16_peak"] is not None else "n/a"
    return (
        f"gpu_speed preset={r['preset']} precision={r['precision']} compile={r['compile']} "
        f"resolution={r['resolution']} batch={r['batch']} img_per_s={r['img_per_s']:.0f} "
        f"ms_per_step={r['ms_per_step']:.1f} peak_mem_gb={r['peak_mem_gb']:.2f} "
        f"gflop_per_step={r['gflop_per_step']:.1f} tflops={r['tflops']:.2f} "
        f'pct_bf16_peak={pct} device="{r["device"]}"'
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--arms", default="", help="PRESET:fp32|bf16:on|off, comma list (default: all nine)"
    )
    parser.add_argument("--device", default="auto", help="auto (cuda if present) | cuda | cpu")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per arm")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (compiles)")
    parser.add_argument("--batch", type=int, default=0, help="0: the preset's batch size")
    parser.add_argument("--dry-run", action="store_true", help="tiny: 2 steps, batch 4, 32 px")
    parser.add_argument("--json", help="also write the rows to this JSON-lines file")
    args = parser.parse_args(argv)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    steps, warmup, batch, side = args.steps, args.warmup, args.batch, None
    arms = args.arms or DEFAULT_ARMS
    if args.dry_run:  # compile arms left out unless asked for: minutes of CPU compiling
        steps, warmup, batch, side = 2, 1, 4, 32
        arms = args.arms or DRY_ARMS
    failures = 0
    for arm in arms.split(","):
        try:
            row = measure(arm, device, steps, warmup, batch, side if "r3gan" in arm else None)
        except Exception as e:  # one arm failing (e.g. compile) must not hide the others
            failures += 1
            row = {"arm": arm, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"}
        print(line(row), flush=True)
        if args.json:
            with Path(args.json).open("a") as f:
                f.write(json.dumps(row) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
