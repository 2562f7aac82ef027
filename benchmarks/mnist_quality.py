"""mnist-dcgan vs a tutorial-grade DCGAN, same wall-clock budget, judged in the mnist feature space.

The tutorial model is the DCGAN of the TensorFlow "Deep Convolutional GAN" tutorial (the one most
people start from), ported to PyTorch: dense 7x7x256 -> 5x5 transposed convs; D with dropout;
Adam 1e-4, batch 256, BCE. Both run at the same time (one thread each) so they share the
machine's conditions. One line per model:

  mnist_quality model=ganforge minutes=10 steps=... fid=... precision=... recall=... classes_under_half=...
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

RESULTS = Path(__file__).parent / "results"


class TutorialG(nn.Module):
    def __init__(self, latent_dim: int = 100):
        super().__init__()
        self.latent_dim = latent_dim
        self.fc = nn.Sequential(
            nn.Linear(latent_dim, 7 * 7 * 256, bias=False),
            nn.BatchNorm1d(7 * 7 * 256),
            nn.LeakyReLU(0.3),
        )
        self.net = nn.Sequential(
            nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False),
            nn.BatchNorm2d(128),
            nn.LeakyReLU(0.3),
            nn.ConvTranspose2d(128, 64, 5, 2, 2, output_padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.LeakyReLU(0.3),
            nn.ConvTranspose2d(64, 1, 5, 2, 2, output_padding=1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.net(self.fc(z).view(-1, 256, 7, 7))


class TutorialD(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 64, 5, 2, 2),
            nn.LeakyReLU(0.3),
            nn.Dropout(0.3),
            nn.Conv2d(64, 128, 5, 2, 2),
            nn.LeakyReLU(0.3),
            nn.Dropout(0.3),
            nn.Flatten(),
            nn.Linear(128 * 7 * 7, 1),
        )

    def forward(self, x):
        return self.net(x).view(-1)


def train_tutorial(minutes: float, seed: int):
    from ganforge.data.mnist import load_mnist

    torch.manual_seed(seed)
    data = load_mnist(split="train").data
    G, D = TutorialG(), TutorialD()
    opt_g, opt_d = torch.optim.Adam(G.parameters(), 1e-4), torch.optim.Adam(D.parameters(), 1e-4)
    steps, deadline = 0, time.perf_counter() + 60 * minutes
    while time.perf_counter() < deadline:
        real = data[torch.randint(len(data), (256,))].float() / 127.5 - 1
        fake = G(torch.randn(256, 100))
        d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = F.softplus(-D(fake)).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        steps += 1
    return G.eval(), steps


def train_ganforge(minutes: float, seed: int):
    from ganforge.presets import get_preset
    from ganforge.training.loop import Trainer

    config = get_preset("mnist-dcgan")
    config.train.seed, config.train.max_minutes, config.train.steps = seed, minutes, 10**9
    trainer = Trainer(config)
    trainer.fit()
    return trainer.sampling_generator.eval(), trainer.step


def run_one(model: str, minutes: float, seed: int, n: int) -> dict:
    from ganforge.images import save_grid
    from ganforge.metrics import evaluate

    torch.set_num_threads(1)
    G, steps = (train_ganforge if model == "ganforge" else train_tutorial)(minutes, seed)
    with torch.no_grad():
        grid = G(torch.randn(100, G.latent_dim, generator=torch.Generator().manual_seed(0)))
    RESULTS.mkdir(exist_ok=True)
    save_grid(grid, RESULTS / f"mnist_quality_{model}.png", nrow=10)
    r = evaluate(G, "mnist:test", ["fid", "pr"], n=n, extractor="mnist", seed=seed)
    return {
        "model": model,
        "minutes": minutes,
        "steps": steps,
        "fid": r["fid"],
        "precision": r["precision"],
        "recall": r["recall"],
        "class_entropy_bits": r["class_entropy_bits"],
        "classes_under_half": r["classes_under_half"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.minutes, args.seed, args.n)))
        return
    procs = {
        m: subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--one",
                m,
                "--minutes",
                str(args.minutes),
                "--seed",
                str(args.seed),
                "--n",
                str(args.n),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for m in ("ganforge", "tutorial")
    }
    for model, proc in procs.items():
        out, _ = proc.communicate()
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"mnist_quality model={model} minutes={r['minutes']:g} steps={r['steps']} "
            f"fid={r['fid']:.2f} precision={r['precision']:.3f} recall={r['recall']:.3f} "
            f"class_entropy_bits={r['class_entropy_bits']:.3f} "
            f"classes_under_half={r['classes_under_half']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
