"""Super-resolution benchmarks: quality against bicubic on the held-out photos, and upscaling
speed and memory on CPU.

    # train a preset (optionally capped in minutes), then PSNR/SSIM on photos:test + comparison
    python benchmarks/sr.py quality --preset photos-srresnet-x4 --minutes 20
    # several finished runs side by side (same scale): one table, one comparison image
    python benchmarks/sr.py compare runs/A runs/B --out benchmarks/results/sr_x4.png
    # megapixels/s out and peak memory for a 2000x2000 output (tiled and whole-image)
    python benchmarks/sr.py speed runs/A

Results go to benchmarks/results/sr_*.json (and .png). One thread unless --threads says
otherwise: the figures are for a single CPU core.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def quality(args) -> dict:
    """Train a preset (capped at --minutes if given) and evaluate it on photos:test."""
    import torch

    from ganforge.apps.sr import evaluate_sr
    from ganforge.data.sr import sr_dataset_for
    from ganforge.presets import get_preset
    from ganforge.run import train

    torch.set_num_threads(args.threads)
    config = get_preset(args.preset)
    config.train.threads = args.threads
    if args.minutes:
        config.train.max_minutes = args.minutes
    if args.steps:
        config.train.steps = args.steps
    config.out = args.runs
    config.name = args.name or f"{args.preset}-bench"
    run_dir, summary = train(config, quiet=True, dataset=sr_dataset_for(config))
    png = RESULTS / f"sr_{config.name}.png"
    result = evaluate_sr(run_dir, "photos:test", comparison=png)
    print("\n".join(result.lines()))
    record = {
        "command": " ".join(sys.argv),
        "preset": args.preset,
        "run": str(run_dir),
        "steps": summary["steps"],
        "train_seconds": round(summary["seconds"], 1),
        "threads": args.threads,
        **result.to_dict(),
    }
    _write(f"sr_{config.name}.json", record)
    return record


def compare(args) -> dict:
    """eval-sr of several runs on photos:test, one comparison image."""
    from ganforge.apps.sr import evaluate_sr

    out = Path(args.out)
    result = evaluate_sr(args.runs_to_compare, args.data, comparison=out, labels=args.labels)
    print("\n".join(result.lines()))
    record = {"command": " ".join(sys.argv), **result.to_dict()}
    _write(out.with_suffix(".json").name, record)
    return record


_PROBE = """
import resource, sys, time, torch
torch.set_num_threads({threads})
from ganforge.apps.sr import load_sr_model, upscale_tensor
model = load_sr_model({run!r})
s = model.config.family_settings("srgan").scale
side = {side} // s
upscale_tensor(model.module, torch.zeros(1, 3, 16, 16), s, tile={tile})  # warm up
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
lr = torch.rand(1, 3, side, side) * 2 - 1
t0 = time.perf_counter()
out = upscale_tensor(model.module, lr, s, tile={tile})
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(seconds, base, peak, out.shape[-1] * out.shape[-2])
"""


def speed(args) -> dict:
    """Upscale a random LR image to --side x --side in a fresh process: time and peak RSS."""
    rows = []
    for tile in ("None", "0"):
        code = _PROBE.format(threads=args.threads, run=args.run, side=args.side, tile=tile)
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        seconds, base, peak, pixels = float(out[0]), int(out[1]), int(out[2]), int(out[3])
        rows.append(
            {
                "tiling": "default tiles (exact context)" if tile == "None" else "whole image",
                "output": f"{args.side}x{args.side}",
                "seconds": round(seconds, 2),
                "megapixels_per_s": round(pixels / 1e6 / seconds, 3),
                "peak_rss_mb": round(peak / 1024, 1),
                "rss_added_mb": round((peak - base) / 1024, 1),
            }
        )
        print(rows[-1])
    record = {"command": " ".join(sys.argv), "run": args.run, "threads": args.threads}
    record["results"] = rows
    _write(f"sr_speed_{Path(args.run).name}.json", record)
    return record


def _write(name: str, record: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_text(json.dumps(record, indent=2, default=str))
    print(f"wrote {RESULTS / name}")


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    sub = parser.add_subparsers(dest="what", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--preset", default="photos-srresnet-x4")
    q.add_argument("--minutes", type=float, default=0.0, help="cap on training time (0: none)")
    q.add_argument("--steps", type=int, default=0, help="override the preset's steps")
    q.add_argument("--runs", default="runs")
    q.add_argument("--name", default="")
    c = sub.add_parser("compare")
    c.add_argument("runs_to_compare", nargs="+")
    c.add_argument("--labels", nargs="*", default=None)
    c.add_argument("--data", default="photos:test")
    c.add_argument("--out", default=str(RESULTS / "sr_comparison.png"))
    s = sub.add_parser("speed")
    s.add_argument("run")
    s.add_argument("--side", type=int, default=2000, help="output side in pixels")
    args = parser.parse_args()
    t0 = time.perf_counter()
    {"quality": quality, "compare": compare, "speed": speed}[args.what](args)
    print(f"done in {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
