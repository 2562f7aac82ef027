"""Training throughput: full D+G steps per second, peak memory, and ganforge's overhead.

Each configuration runs in its own subprocess (so peak RSS is its own) and prints one line:

  train_speed preset=mnist-dcgan batch=64 mode=bare threads=2 img_s=... it_s=... peak_rss_mb=...

`bare` is a 20-line PyTorch loop over the same networks, optimisers and loss (the floor any
toolkit is measured against); `ganforge` is Trainer.train_step with the preset's settings.
Usage: python benchmarks/train_speed.py [--presets mnist-dcgan,digits-dcgan] [--batches 64,256]
       python benchmarks/train_speed.py --interleave 6 --steps 40 --batches 64   # steadier ratios
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch
import torch.nn.functional as F


def bare_loop(trainer, steps: int) -> float:
    """The 20-line loop: same G, D, Adam and non-saturating loss; batches indexed from memory."""
    G, D, opt_g, opt_d = trainer.generator, trainer.discriminator, trainer.opt_g, trainer.opt_d
    data, bs, zdim = trainer.dataset.data, trainer.config.train.batch_size, G.latent_dim
    start = time.perf_counter()
    for _ in range(steps):
        real = data[torch.randint(len(data), (bs,))].float() / 127.5 - 1
        fake = G(torch.randn(bs, zdim))
        d_real, d_fake = D(real), D(fake.detach())
        d_loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = F.softplus(-D(G(torch.randn(bs, zdim)))).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
    return time.perf_counter() - start


def ganforge_loop(trainer, steps: int) -> float:
    """The same number of steps through the Trainer (logging interval included)."""
    start = time.perf_counter()
    for i in range(steps):
        trainer.train_step(log_now=(i + 1) % trainer.config.train.log_every == 0)
    trainer.check_finite()
    return time.perf_counter() - start


MODES = ("bare", "ganforge", "fast")


def make_trainer(preset: str, batch: int, mode: str, threads: int):
    """The preset's Trainer with the settings of `mode` (bare: its networks, used by bare_loop)."""
    from ganforge.presets import get_preset
    from ganforge.training.loop import Trainer

    config = get_preset(preset)
    config.train.batch_size, config.train.log_every, config.train.threads = batch, 50, threads
    if mode == "fast":  # what `ganforge train --fast` picks
        config.train.precision, config.train.channels_last = "auto", True
        config.train.fused_adam = True
    elif mode == "compile":
        config.train.precision, config.train.compile = "auto", True
    return Trainer(config)


def run_one(preset: str, batch: int, mode: str, threads: int, steps: int, warmup: int) -> dict:
    torch.set_num_threads(threads)
    trainer = make_trainer(preset, batch, mode, threads)
    if mode == "bare":  # plain PyTorch defaults: undo the denormal flush the Trainer turned on
        torch.set_flush_denormal(False)
    loop = bare_loop if mode == "bare" else ganforge_loop
    loop(trainer, warmup)
    seconds = loop(trainer, steps)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "preset": preset,
        "batch": batch,
        "mode": mode,
        "threads": threads,
        "it_s": steps / seconds,
        "img_s": steps * batch / seconds,
        "peak_rss_mb": peak,
        # The bare loop ignores the Trainer's choices: it always runs fp32, no autocast.
        "notes": f"{threads} threads, fp32 bare loop" if mode == "bare" else trainer.speed_notes,
    }


def interleaved(preset: str, batch: int, threads: int, steps: int, rounds: int) -> None:
    """All modes in one process, timed in alternating blocks of `steps` for `rounds` rounds.

    A shared VM drifts by +-15% over a minute; alternating short blocks exposes every mode to
    the same drift, so the ratios are steadier than those of one-after-another runs (peak
    memory is not separable here: use the default mode for it).
    """
    torch.set_num_threads(threads)
    trainers = {mode: make_trainer(preset, batch, mode, threads) for mode in MODES}
    seconds = dict.fromkeys(trainers, 0.0)
    for rnd in range(rounds + 1):  # round 0 warms up
        for mode, trainer in trainers.items():
            torch.set_flush_denormal(mode != "bare")  # the bare loop keeps PyTorch's default
            took = (bare_loop if mode == "bare" else ganforge_loop)(trainer, steps)
            seconds[mode] += took if rnd else 0.0
    images = rounds * steps * batch
    for mode, trainer in trainers.items():
        notes = "fp32 bare loop" if mode == "bare" else trainer.speed_notes
        print(
            f"train_speed interleaved preset={preset} batch={batch} mode={mode} "
            f"threads={threads} img_s={images / seconds[mode]:.0f} "
            f"vs_bare={seconds['bare'] / seconds[mode]:.2f}x ({notes})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="mnist-dcgan,digits-dcgan")
    parser.add_argument("--batches", default="64,256")
    parser.add_argument("--modes", default="bare,ganforge,fast")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--interleave",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="time bare/ganforge/fast in one process, alternating blocks of --steps",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.interleave:
        for preset in args.presets.split(","):
            for batch in map(int, args.batches.split(",")):
                interleaved(preset, batch, args.threads, args.steps, args.interleave)
        return
    if args.one:
        preset, batch, mode = args.one.split("/")
        print(json.dumps(run_one(preset, int(batch), mode, args.threads, args.steps, args.warmup)))
        return
    print(
        f"# torch {torch.__version__}, {torch.get_num_threads()} threads available, "
        f"{args.steps} timed steps after {args.warmup} warm-up",
        flush=True,
    )
    for preset in args.presets.split(","):
        for batch in map(int, args.batches.split(",")):
            results = {}
            for mode in args.modes.split(","):
                cmd = [
                    sys.executable,
                    __file__,
                    "--one",
                    f"{preset}/{batch}/{mode}",
                    "--threads",
                    str(args.threads),
                    "--steps",
                    str(args.steps),
                    "--warmup",
                    str(args.warmup),
                ]
                r = json.loads(
                    subprocess.run(cmd, check=True, capture_output=True, text=True)
                    .stdout.strip()
                    .splitlines()[-1]
                )
                results[mode] = r
                print(
                    f"train_speed preset={preset} batch={batch} mode={mode} "
                    f"threads={r['threads']} img_s={r['img_s']:.0f} it_s={r['it_s']:.2f} "
                    f"peak_rss_mb={r['peak_rss_mb']:.0f} ({r['notes']})",
                    flush=True,
                )
            if "bare" in results:
                for mode, r in results.items():
                    if mode != "bare":
                        ratio = r["img_s"] / results["bare"]["img_s"]
                        print(
                            f"train_speed preset={preset} batch={batch} mode={mode} "
                            f"vs_bare={ratio:.2f}x",
                            flush=True,
                        )


if __name__ == "__main__":
    main()
