"""Seconds for features + FID, KID, IS, PR, DC on 10k generated vs 10k MNIST test images, on CPU.

Prints one stable line: ``eval_speed n=... threads=... gen_s=... features_s=... ref_cold_s=...
fid_s=... kid_s=... is_s=... prdc_s=... total_s=... total_cold_s=... peak_rss_mb=...``.
``total_s`` is the steady state (reference features cached, as in a training run after its
first evaluation); ``total_cold_s`` includes extracting the reference. Both include generation.

The generator is pluggable: ``--generator package.module:factory`` names a function returning
a module with ``latent_dim`` or a callable ``sample(batch_size)``; the default is an untrained
DCGAN-like 28x28 generator defined here (its weights do not matter for speed).

    python benchmarks/eval_speed.py [--n 10000] [--threads 1] [--generator MOD:FN]
    python benchmarks/eval_speed.py --floors   # real-vs-real floors: MNIST train[:n] vs test
"""

from __future__ import annotations

import argparse
import importlib
import os
import resource
import tempfile
import time

import torch
from torch import nn


class DCGANGenerator(nn.Module):
    """z (64) -> 128x7x7 -> 64x14x14 -> 1x28x28, tanh: the size of a small MNIST DCGAN."""

    latent_dim = 64

    def __init__(self) -> None:
        super().__init__()
        self.project = nn.Sequential(
            nn.Linear(64, 128 * 7 * 7, bias=False), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU()
        )
        self.up = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, 2, 1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 1, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images (N, 1, 28, 28) in [-1, 1]."""
        return self.up(self.project(z).view(-1, 128, 7, 7))


def load_generator(spec: str | None):
    """The default DCGAN, or whatever ``module:factory`` returns."""
    if not spec:
        torch.manual_seed(0)
        return DCGANGenerator()
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)()


class TimedSampler:
    """Wraps a generator so the seconds spent generating are counted apart from features."""

    def __init__(self, generator) -> None:
        self.generator, self.seconds = generator, 0.0
        latent_dim = getattr(generator, "latent_dim", None)
        self.latents = torch.Generator().manual_seed(0) if latent_dim else None

    def __call__(self, batch_size: int) -> torch.Tensor:
        start = time.perf_counter()
        if self.latents is not None:
            z = torch.randn(batch_size, self.generator.latent_dim, generator=self.latents)
            out = self.generator(z)
        else:
            out = self.generator(batch_size)
        self.seconds += time.perf_counter() - start
        return out


def print_floors(n: int) -> None:
    """The real-vs-real floor: the first n MNIST train images scored against mnist:test."""
    from ganforge.data.mnist import load_mnist
    from ganforge.metrics import evaluate

    result = evaluate(load_mnist(split="train").data[:n], "mnist:test", n=n)
    names = ("fid", "kid_mean", "kid_std", "is_mean", "is_std")
    names += ("precision", "recall", "density", "coverage", "class_entropy_bits")
    values = " ".join(f"{k}={result[k]:.4f}" for k in names)
    print(f"mnist_floor train[:{n}]_vs_test n={n} extractor=mnist {values}")


def main() -> None:
    """Run evaluate twice (cold then warm reference cache) and print one line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--generator", default=None, help="module:factory (default: DCGAN)")
    parser.add_argument("--reference", default="mnist:test")
    parser.add_argument("--floors", action="store_true", help="print MNIST train-vs-test floors")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.floors:
        print_floors(args.n)
        return

    from ganforge.metrics import evaluate

    generator = load_generator(args.generator)
    if isinstance(generator, nn.Module):
        generator.eval()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["GANFORGE_CACHE"] = cache  # a fresh cache: the first run is truly cold
        cold_sampler = TimedSampler(generator)
        cold = evaluate(cold_sampler, args.reference, n=args.n)
        sampler = TimedSampler(generator)
        warm = evaluate(sampler, args.reference, n=args.n)
    timings = warm["timings"]
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "n": args.n,
        "threads": args.threads,
        "gen_s": sampler.seconds,
        "features_s": timings["fake_features"] - sampler.seconds,
        "ref_cold_s": cold["timings"]["reference_features"],
        "fid_s": timings["fid"],
        "kid_s": timings["kid"],
        "is_s": timings["is"],
        "prdc_s": timings["prdc"],
        "total_s": warm["seconds"],
        "total_cold_s": cold["seconds"],
        "peak_rss_mb": peak_rss_mb,
    }
    line = " ".join(
        f"{k}={v}" if isinstance(v, int) else f"{k}={v:.2f}" for k, v in figures.items()
    )
    print("eval_speed " + line)


if __name__ == "__main__":
    main()
