"""Class control of the conditional presets: does a label give its class?

MNIST (``mnist-cgan``, ``mnist-acgan``): train on ``--threads`` CPU threads for the preset's
steps or until the process has used ``--cpu-minutes`` of CPU time (default 15; CPU time rather
than wall time because the machine may be shared), whichever comes first, then draw
``--n-per-class`` samples of each digit and report

- conditional accuracy: the share of class-c samples that ganforge's shipped MNIST classifier
  (99.56% on the MNIST test set) assigns to c, overall and per class;
- per-class FID: class-c samples against the MNIST test images of class c (~1,000 each), in the
  classifier's 128-d feature space (the ``mnist`` extractor), plus the overall FID against
  the first 10,000 test images, all with the same protocol as ``ganforge eval``.

Ring (``ring-cgan``): per label, the share of samples whose nearest mode is the label's own mode
and that lie within 3 std of it (VEEGAN's "high quality" radius), and the samples' spread
around it relative to the data's std (a label drawn as one point would score ~0).

    python benchmarks/conditional.py --preset mnist-cgan --cpu-minutes 15 --threads 1
    python benchmarks/conditional.py --preset ring-cgan
    python benchmarks/conditional.py --run runs/bench-mnist-cgan   # evaluate a trained run

Prints ``conditional preset=... steps=... minutes=... cond_acc=... fid=... fid_class_mean=...``
(MNIST) or ``conditional preset=ring-cgan ... own_mode_min=... own_mode_mean=...`` (ring), then
one line per class. Progress probes (``--probe-every``) print the accuracy during training.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ganforge.apps.augment import label_checker
from ganforge.sampling import TrainedGenerator, load_generator
from ganforge.training.callbacks import Callback

RESULTS = Path(__file__).parent / "results"


class AccuracyProbe(Callback):
    """Every `every` steps: conditional accuracy of the sampling generator on a few per class."""

    def __init__(self, every: int, per_class: int = 100):
        self.every, self.per_class, self.checker = every, per_class, None

    def on_step_end(self, trainer) -> None:
        if self.every <= 0 or trainer.step % self.every:
            return
        model = trainer.config.model
        if self.checker is None:
            self.checker = label_checker("mnist", model.class_names)
        labels = torch.arange(model.num_classes).repeat_interleave(self.per_class)
        g = torch.Generator(trainer.device).manual_seed(123)
        images = trainer.generate(len(labels), g, labels.to(trainer.device)).cpu()
        agrees, _ = self.checker.check(images, labels)
        print(f"probe step={trainer.step} cond_acc={agrees.float().mean():.4f}", flush=True)


class CpuBudget(Callback):
    """Stops training once this process has used `minutes` of CPU time (all its threads).

    On a shared machine wall time says more about the neighbours than about the model; the
    process's CPU time is what the same run would take on cores of its own.
    """

    def __init__(self, minutes: float):
        self.seconds, self.start = 60 * minutes, 0.0

    def on_train_start(self, trainer) -> None:
        self.start = time.process_time()

    def on_step_end(self, trainer) -> None:
        if time.process_time() - self.start > self.seconds:
            trainer.stop_requested = True


def train_preset(args) -> tuple[Path, dict]:
    """Train the preset for at most args.minutes; returns (run dir, summary)."""
    from ganforge.config import merge
    from ganforge.presets import get_preset
    from ganforge.run import train

    overrides = {"train": {"threads": args.threads, "seed": args.seed, "tensorboard": False}}
    if args.minutes > 0:
        overrides["train"]["max_minutes"] = args.minutes
    if args.steps:
        overrides["train"]["steps"] = args.steps
    config = merge(get_preset(args.preset), overrides)
    config.preset = args.preset
    config.out, config.name = args.out, f"{args.preset}-s{args.seed}-{time.strftime('%H%M%S')}"
    callbacks: list[Callback] = []
    if args.probe_every and "mnist" in args.preset:
        callbacks.append(AccuracyProbe(args.probe_every))
    if args.cpu_minutes > 0:
        callbacks.append(CpuBudget(args.cpu_minutes))
    t0 = time.process_time()
    run_dir, summary = train(config, quiet=True, callbacks=callbacks)
    summary["cpu_seconds"] = time.process_time() - t0
    return run_dir, summary


def mnist_report(model: TrainedGenerator, per_class: int, seed: int) -> dict:
    """Conditional accuracy and per-class FID of a digit model."""
    from ganforge.data.mnist import load_mnist
    from ganforge.metrics.features import extract, get_extractor
    from ganforge.metrics.fid import fid

    names = model.class_names
    labels, _ = model.class_labels(per_class=per_class)
    images = model.sample(len(labels), seed, labels)
    agrees, confidence = label_checker("mnist", names).check(images, labels)
    net = get_extractor("mnist")
    fake_features, _ = extract(net, images)
    test = load_mnist(split="test")
    real = test.to_model_range(test.data)
    real_features, _ = extract(net, real)
    per: dict[str, dict] = {}
    for c, name in enumerate(names):
        mine = labels == c
        theirs = test.labels == int(name)
        per[name] = {
            "acc": float(agrees[mine].float().mean()),
            "confidence": float(confidence[mine].mean()),
            "fid": fid(fake_features[mine], real_features[theirs]),
            "n_ref": int(theirs.sum()),
        }
    return {
        "cond_acc": float(agrees.float().mean()),
        "fid": fid(fake_features, real_features),
        "fid_class_mean": sum(p["fid"] for p in per.values()) / len(per),
        "n_fake": len(labels),
        "per_class": per,
    }


def ring_report(model: TrainedGenerator, per_class: int, seed: int) -> dict:
    """Per label: share of samples on the label's own mode (within 3 std)."""
    from ganforge.data.toys import RING_STD, ring_centers

    centers = ring_centers()
    labels, _ = model.class_labels(per_class=per_class)
    points = model.sample(len(labels), seed, labels)
    dist = torch.cdist(points, centers)
    nearest_dist, nearest = dist.min(1)
    own = nearest == labels
    close = own & (nearest_dist <= 3 * RING_STD)
    per = {
        name: {
            "nearest_is_own": float(own[labels == c].float().mean()),
            "own_mode_3std": float(close[labels == c].float().mean()),
            # Spread around the mode relative to the data's std (~0: one point per label).
            "std_ratio": float(points[labels == c].std(0).mean() / RING_STD),
        }
        for c, name in enumerate(model.class_names)
    }
    shares = [p["own_mode_3std"] for p in per.values()]
    return {
        "nearest_is_own": float(own.float().mean()),
        "own_mode_mean": sum(shares) / len(shares),
        "own_mode_min": min(shares),
        "std_ratio_min": min(p["std_ratio"] for p in per.values()),
        "per_class": per,
    }


def main() -> None:
    """Train (or load) a conditional run and print its class-control figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="mnist-cgan")
    parser.add_argument("--run", help="evaluate this trained run instead of training one")
    parser.add_argument("--minutes", type=float, default=0.0, help="wall-clock limit (0: none)")
    parser.add_argument(
        "--cpu-minutes", type=float, default=15.0, help="limit on the process's CPU time"
    )
    parser.add_argument("--steps", type=int, default=0, help="override the preset's steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-per-class", type=int, default=1000)
    parser.add_argument("--probe-every", type=int, default=0)
    parser.add_argument("--out", default="runs/bench")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    summary: dict = {}
    if args.run:
        run_dir = Path(args.run)
    else:
        run_dir, summary = train_preset(args)
    model = load_generator(run_dir)
    preset = model.config.preset or args.preset
    ring = model.config.data.source == "ring"
    report = (ring_report if ring else mnist_report)(model, args.n_per_class, args.seed)
    head = (
        f"conditional preset={preset} steps={model.step} threads={args.threads} "
        f"minutes={summary.get('seconds', float('nan')) / 60:.1f} "
        f"cpu_minutes={summary.get('cpu_seconds', float('nan')) / 60:.1f} seed={args.seed}"
    )
    if ring:
        print(
            f"{head} nearest_is_own={report['nearest_is_own']:.4f} "
            f"own_mode_mean={report['own_mode_mean']:.4f} own_mode_min={report['own_mode_min']:.4f} "
            f"std_ratio_min={report['std_ratio_min']:.2f}"
        )
    else:
        print(
            f"{head} cond_acc={report['cond_acc']:.4f} fid={report['fid']:.2f} "
            f"fid_class_mean={report['fid_class_mean']:.2f} n={report['n_fake']}"
        )
    for name, values in report["per_class"].items():
        print(f"  class {name}: " + " ".join(f"{k}={v:.4g}" for k, v in values.items()))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"conditional_{preset}_s{args.seed}.json"
    out.write_text(json.dumps({"run": str(run_dir), **report, **summary}, indent=2, default=str))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
