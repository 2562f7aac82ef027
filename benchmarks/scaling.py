"""Multi-process scaling on one machine: images/s for 1 and N processes (gloo on CPU, NCCL on GPU).

Same global batch in every configuration (each of N ranks takes batch/N), threads split evenly,
so the figure shows what torchrun + ganforge's gradient averaging buys on this hardware:

  scaling preset=digits-dcgan nproc=2 global_batch=128 img_s=... vs_1proc=...x
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch


def worker(preset: str, global_batch: int, steps: int, warmup: int) -> None:
    from ganforge.presets import get_preset
    from ganforge.training import distributed
    from ganforge.training.loop import Trainer

    world = int(os.environ.get("WORLD_SIZE", "1"))
    config = get_preset(preset)
    config.train.batch_size = global_batch // world
    config.train.log_every = 10**9
    config.train.device = "cuda" if torch.cuda.is_available() else "cpu"
    trainer = Trainer(config)
    for _ in range(warmup):
        trainer.train_step()
    distributed.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    trainer.check_finite()
    distributed.barrier()
    seconds = time.perf_counter() - start
    if trainer.dist.is_main:
        print(
            json.dumps(
                {"img_s": steps * global_batch / seconds, "threads": torch.get_num_threads()}
            )
        )
    distributed.teardown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="digits-dcgan")
    parser.add_argument("--global-batch", type=int, default=128)
    parser.add_argument("--nprocs", default="1,2")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.preset, args.global_batch, args.steps, args.warmup)
        return
    base = None
    for n in map(int, args.nprocs.split(",")):
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc-per-node={n}",
            __file__,
            "--worker",
            "--preset",
            args.preset,
            "--global-batch",
            str(args.global_batch),
            "--steps",
            str(args.steps),
            "--warmup",
            str(args.warmup),
        ]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        base = base or r["img_s"]
        print(
            f"scaling preset={args.preset} nproc={n} threads_per_proc={r['threads']} "
            f"global_batch={args.global_batch} img_s={r['img_s']:.0f} "
            f"vs_1proc={r['img_s'] / base:.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
