"""Does synthetic data help a real classifier? 500 real MNIST digits, with and without a cGAN.

For each seed: draw 500 training images (50 per class) from MNIST train, train a conditional GAN
on those 500 only (``--preset``, with DiffAugment translation since 500 images are few; the
MNIST presets shift by up to 2 pixels), draw 10,000 synthetic
images (1,000 per class), and train the same small CNN on

  (a) real:       the 500 real images;
  (b) real+synth: the 500 real + the 10,000 synthetic, each batch half real, half synthetic
                  (``--synth-share``; plain concatenation would show a real image in only 1
                  of 21 draws);
  (c) synth:      the 10,000 synthetic only ("train on synthetic, test on real", TSTR);
  (d) real+filt:  as (b), the synthetic images first filtered by the (a) classifier (kept when it
                  gives their intended class >= 0.9): nothing beyond the 500 real images is used.

Every CNN gets the same optimiser, steps and batch size and is tested on the full MNIST test set
(10,000 images). The MNIST evaluation classifier is NOT used anywhere in the pipeline (it saw all
60,000 training digits); it only reports the cGAN's conditional accuracy for information.

    python benchmarks/augment_tstr.py --seeds 0 1 2 [--gan-steps 10000] [--cnn-steps 1500]

Prints one line per seed and condition as results come in, then
``augment_tstr real=MEAN+-STD real+synth=... synth=... real+filt=... seeds=N``.
Per-seed results are kept in benchmarks/results/augment_tstr<tag>_s<seed>.json; a seed whose file
exists is not recomputed (delete it to rerun), so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

RESULTS = Path(__file__).parent / "results"
CONDITIONS = ("real", "real+synth", "synth", "real+filt")


class SmallCNN(nn.Module):
    """Two 3x3 conv blocks, a 128-unit hidden layer with dropout: ~420k parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(128, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 10) for images (N, 1, 28, 28) in [-1, 1]."""
        return self.net(x)


def train_cnn(
    sets: list[tuple[torch.Tensor, torch.Tensor]],
    steps: int,
    batch_size: int,
    seed: int,
    synth_share: float = 0.5,
) -> SmallCNN:
    """Adam(1e-3) for `steps` batches; with two sets (real, synthetic) each batch takes
    `synth_share` of its images from the second."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = SmallCNN()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    synthetic = round(batch_size * synth_share)
    counts = [batch_size] if len(sets) == 1 else [batch_size - synthetic, synthetic]
    model.train()
    for _ in range(steps):
        xs, ys = [], []
        for (x, y), count in zip(sets, counts, strict=True):
            index = torch.randint(len(x), (count,), generator=g)
            xs.append(x[index])
            ys.append(y[index])
        loss = F.cross_entropy(model(torch.cat(xs)), torch.cat(ys))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Softmax probabilities (N, 10)."""
    return torch.cat(
        [model(x[i : i + batch_size]).softmax(1) for i in range(0, len(x), batch_size)]
    )


def real_subset(seed: int, per_class: int):
    """`per_class` MNIST training images of each digit, drawn with `seed`."""
    from ganforge.data.mnist import load_mnist

    train = load_mnist(split="train")
    g = torch.Generator().manual_seed(seed)
    index = torch.cat(
        [
            torch.nonzero(train.labels == c)[:, 0][
                torch.randperm(int((train.labels == c).sum()), generator=g)[:per_class]
            ]
            for c in range(10)
        ]
    )
    return train.subset(index)


def train_gan(args, seed: int, dataset) -> Path:
    """The conditional GAN of args.preset on the small dataset; returns its run directory."""
    from ganforge.config import merge
    from ganforge.presets import get_preset
    from ganforge.run import train

    run_dir = Path(args.out) / f"tstr-{args.preset}{args.tag}-s{seed}"
    if (run_dir / "generator.pt").exists():
        return run_dir
    model = {} if args.mode_seeking is None else {"mode_seeking": args.mode_seeking}
    sizes = {} if args.shift is None else {"augment_shift": args.shift}
    config = merge(
        get_preset(args.preset),
        {
            "model": model,
            "train": {
                "steps": args.gan_steps,
                "seed": seed,
                "threads": args.threads,
                "diffaugment": args.diffaugment,
                **sizes,
                "tensorboard": False,
                "sample_every": args.gan_steps // 4,
                "checkpoint_every": args.gan_steps,
                "log_every": 250,
            },
        },
    )
    config.out, config.name = args.out, run_dir.name
    train(config, quiet=True, dataset=dataset)
    return run_dir


def one_seed(args, seed: int) -> dict:
    """All four conditions for one seed."""
    from ganforge.apps.augment import label_checker
    from ganforge.data.mnist import load_mnist
    from ganforge.sampling import load_generator

    t0 = time.perf_counter()
    subset = real_subset(seed, args.real_per_class)
    real_x, real_y = subset.to_model_range(subset.data), subset.labels
    run_dir = train_gan(args, seed, subset)
    gan_seconds = time.perf_counter() - t0
    model = load_generator(run_dir)
    synth_y, _ = model.class_labels(per_class=args.synth_per_class)
    synth_x = model.sample(len(synth_y), seed=seed + 100, labels=synth_y)
    checker = label_checker("mnist", model.class_names)
    agrees, _ = checker.check(synth_x, synth_y)
    test = load_mnist(split="test")
    test_x, test_y = test.to_model_range(test.data), test.labels

    def accuracy(model: nn.Module) -> float:
        return float((predict(model, test_x).argmax(1) == test_y).float().mean())

    steps, bs = args.cnn_steps, args.batch_size
    result: dict = {"seed": seed, "gan_steps": model.step, "gan_seconds": round(gan_seconds)}
    result["gan_cond_acc_eval_classifier"] = float(agrees.float().mean())
    real_model = train_cnn([(real_x, real_y)], steps, bs, seed)
    result["real"] = accuracy(real_model)
    result["real+synth"] = accuracy(
        train_cnn([(real_x, real_y), (synth_x, synth_y)], steps, bs, seed, args.synth_share)
    )
    result["synth"] = accuracy(train_cnn([(synth_x, synth_y)], steps, bs, seed))
    probs = predict(real_model, synth_x)
    keep = (probs.argmax(1) == synth_y) & (probs.gather(1, synth_y[:, None])[:, 0] >= 0.9)
    result["filter_kept"] = int(keep.sum())
    filtered = (synth_x[keep], synth_y[keep])
    # Nothing kept (a hopeless generator): no (d) to train; NaN marks it in the summary.
    result["real+filt"] = (
        accuracy(train_cnn([(real_x, real_y), filtered], steps, bs, seed, args.synth_share))
        if len(filtered[0])
        else float("nan")
    )
    result["seconds"] = round(time.perf_counter() - t0)
    return result


def main() -> None:
    """Run the seeds (reusing finished ones) and print the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--preset", default="mnist-cgan")
    parser.add_argument("--gan-steps", type=int, default=10000, help="cGAN steps (preset: 10000)")
    parser.add_argument("--diffaugment", default="translation", help="the cGAN's DiffAugment ops")
    parser.add_argument(
        "--shift", type=float, default=None, help="translation's largest shift (default: preset's)"
    )
    parser.add_argument(
        "--mode-seeking", type=float, default=None, help="MSGAN weight (default: the preset's)"
    )
    parser.add_argument("--cnn-steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--real-per-class", type=int, default=50)
    parser.add_argument("--synth-per-class", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--synth-share", type=float, default=0.5, help="share of synthetic images per batch in b, d"
    )
    parser.add_argument("--tag", default="", help="suffix of the per-seed result files")
    parser.add_argument("--out", default="runs/bench")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    RESULTS.mkdir(exist_ok=True)

    results = []
    for seed in args.seeds:
        path = RESULTS / f"augment_tstr{args.tag}_s{seed}.json"
        if path.exists():
            result = json.loads(path.read_text())
        else:
            result = one_seed(args, seed)
            result["settings"] = {k: v for k, v in vars(args).items() if k != "seeds"}
            path.write_text(json.dumps(result, indent=2))
        results.append(result)
        print(
            f"seed {seed}: "
            + " ".join(f"{c}={result[c]:.4f}" for c in CONDITIONS)
            + f" filter_kept={result['filter_kept']} gan_cond_acc={result['gan_cond_acc_eval_classifier']:.3f}"
            f" seconds={result['seconds']}",
            flush=True,
        )

    def stat(c: str) -> str:
        values = [r[c] for r in results]
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{c}={100 * statistics.mean(values):.2f}+-{100 * spread:.2f}"

    gains = [r["real+synth"] - r["real"] for r in results]
    print(
        "augment_tstr "
        + " ".join(stat(c) for c in CONDITIONS)
        + f" gain_b_minus_a={100 * statistics.mean(gains):+.2f}pts"
        + f" (min {100 * min(gains):+.2f}) seeds={len(results)} test=mnist:test(10000)"
    )


if __name__ == "__main__":
    main()
