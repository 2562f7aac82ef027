"""How TimeSeriesGAN's quality grows with training steps: the discriminative score of its EMA
generator at a few step counts of one fit, per seed (the fit-length / fit-time trade-off behind
the default schedule; benchmarks/series.py scores only the end of a fit).

One fit per seed (its default settings, or those given), snapshots of the sampling (EMA)
generator's weights at `--at` steps, then each snapshot's samples (as many windows as the real
set) scored with the TimeGAN protocol (`--fits` post-hoc fits of ganforge.series.metrics'
discriminative score, mean +- std), one line each:

  series_steps data=stocks seed=0 step=8000 fit_s=74.1 disc=0.031+-0.012 pred=0.0369

    python benchmarks/series_steps.py --data stocks --seeds 0 1 2 --at 6000 8000 10000 12000
    python benchmarks/series_steps.py --set lr_g=4e-4 lr_d=4e-4 --at 4000 8000   # a variant
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ganforge.series import TimeSeriesGAN, metrics  # noqa: E402
from ganforge.training.callbacks import Callback  # noqa: E402
from series import frame_windows, long_frame, real_windows  # noqa: E402  (the same protocol)


class Snapshots(Callback):
    """Copies of the sampling generator's weights at the given steps (and the wall time)."""

    def __init__(self, at: list[int]):
        self.at, self.saved, self.t0 = set(at), {}, time.perf_counter()

    def on_step_end(self, trainer) -> None:
        if trainer.step in self.at:
            self.keep(trainer)

    def on_train_end(self, trainer) -> None:  # the last step too (a default shorter than --at)
        if not trainer.failed and trainer.step not in self.saved:
            self.keep(trainer)

    def keep(self, trainer) -> None:
        state = copy.deepcopy(trainer.sampling_generator.state_dict())
        self.saved[trainer.step] = (state, time.perf_counter() - self.t0)


def value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="stocks", choices=("stocks", "sines"))
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--at", type=int, nargs="+", default=[6000, 8000, 10000, 12000])
    p.add_argument("--fits", type=int, default=3, help="post-hoc fits per snapshot")
    p.add_argument("--set", nargs="*", default=[], help="TimeSeriesGAN settings, key=value")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = dict(kv.split("=", 1) for kv in args.set)
    settings = {k: value(v) for k, v in settings.items()}
    real = real_windows(args.data)
    columns = [f"f{j}" for j in range(real.shape[2])]
    for seed in args.seeds:
        model = TimeSeriesGAN(
            max_steps=max(args.at), seed=seed, verbose=False, quiet=True, **settings
        )
        model.warn_notes = False
        snaps = Snapshots(args.at)
        model.callbacks = [snaps]
        model.fit(long_frame(real), seq_len=real.shape[1], sequence_key="id")
        for step in sorted(snaps.saved):
            state, fit_s = snaps.saved[step]
            model.generator.load_state_dict(state)
            synth = frame_windows(model.sample(len(real), seed=seed), "sequence_id", columns, 24)
            disc = metrics.repeated(metrics.discriminative_score, real, synth, fits=args.fits)
            pred = metrics.predictive_score(synth, real)
            label = " ".join(f"{k}={v}" for k, v in settings.items())
            print(
                f"series_steps data={args.data} seed={seed} step={step} fit_s={fit_s:.1f} "
                f"disc={disc['mean']:.3f}+-{disc['std']:.3f} pred={pred:.4f} {label}".rstrip(),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
