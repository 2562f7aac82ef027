"""Next-frame prediction on Moving MNIST: trained video runs against copying the last frame.

On the first N of the fixed 10,000 Moving MNIST test sequences (data/moving_mnist.py; MNIST
test digits, seed 2015), each model is given frames 1-10 and predicts frames 11-20:

- ``mse``: per-frame MSE as the papers report it (Srivastava 2015, PredRNN 2017): the squared
  error summed over the 64x64 pixels in [0, 1], averaged over frames and sequences;
  ``mse_t1`` / ``mse_t10``: the first and the last predicted frame alone;
- ``ssim``: structural similarity per frame (skimage's structural_similarity, 7x7 window,
  data range 1, as PredRNN's evaluation code), averaged;
- ``sharpness``: mean Sobel gradient magnitude of the predictions / that of the true frames
  (1: as sharp as the truth; a blurred prediction is lower).

One line per model (copy-last-frame first), each appended to benchmarks/results/video.jsonl;
``--gif`` writes the first sequences as one animated GIF (rows: truth, then each run; the
predicted frames bordered). Train the runs first, e.g.

  nice -n 10 ganforge train --preset moving-mnist --name mm-adv --out runs
  nice -n 10 ganforge train --preset moving-mnist-l2 --name mm-l2 --out runs
  python benchmarks/video.py runs/mm-l2 runs/mm-adv --n 1000 --gif docs/video/moving_mnist.gif
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"


def scores(predicted: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """Scores of uint8 predictions (N, T, 1, H, W) against the true frames (same shape)."""
    from skimage.metrics import structural_similarity

    from ganforge.apps.translate import sharpness

    p, t = predicted.float() / 255, truth.float() / 255
    per_frame = (p - t).pow(2).flatten(3).sum(3).mean((0, 2))  # (T,): summed over pixels
    ssim = [
        structural_similarity(a, b, win_size=7, data_range=1.0)
        for a, b in zip(p.flatten(0, 2).numpy(), t.flatten(0, 2).numpy(), strict=True)
    ]
    sharp_p = sharpness(p.flatten(0, 1) * 2 - 1).mean()
    sharp_t = sharpness(t.flatten(0, 1) * 2 - 1).mean()
    return {
        "mse": float(per_frame.mean()),
        "mse_t1": float(per_frame[0]),
        "mse_t10": float(per_frame[-1]),
        "ssim": float(np.mean(ssim)),
        "sharpness": float(sharp_p / sharp_t),
    }


@torch.no_grad()
def run_predictions(run: str, given: torch.Tensor, frames: int, batch: int = 100):
    """uint8 predictions (N, frames, 1, H, W) of a run for uint8 given frames."""
    from ganforge.apps.predict import load_predictor
    from ganforge.images import to_model_range, to_pixels

    model = load_predictor(run)
    outs = []
    for i in range(0, len(given), batch):
        x = to_model_range(given[i : i + batch])
        outs.append(to_pixels(model.family.predict(model.module, x, frames)))
    return torch.cat(outs), model


def write_gif(path: Path, given, rows: list[torch.Tensor], clips: int = 4) -> None:
    """One GIF: for each of the first `clips` sequences a row per model (truth first)."""
    from PIL import Image

    from ganforge.apps.predict import BORDER, BORDER_WIDTH

    b = BORDER_WIDTH
    frames = []
    for t in range(given.shape[1] + rows[0].shape[1]):
        tiles = []
        for row in rows:
            clip = torch.cat([given[:clips], row[:clips]], 1)[:, t, 0].numpy()  # (clips, H, W)
            strip = np.concatenate(list(clip), 1)
            tiles.append(np.repeat(strip[..., None], 3, 2))
        image = np.concatenate(tiles, 0).copy()
        if t >= given.shape[1]:
            image[:b], image[-b:], image[:, :b], image[:, -b:] = BORDER, BORDER, BORDER, BORDER
        frames.append(Image.fromarray(image))
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=150, loop=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", help="video runs to score (after copy-last-frame)")
    parser.add_argument("--n", type=int, default=1000, help="test sequences (default 1000)")
    parser.add_argument("--mnist", default=None, help="MNIST folder (default: the usual search)")
    parser.add_argument("--gif", default=None, help="write an animated GIF here (default: none)")
    parser.add_argument("--no-save", action="store_true", help="do not append to results/")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    from ganforge.data.moving_mnist import GIVEN, test_sequences

    clips = test_sequences(args.n, args.mnist)
    given, truth = clips[:, :GIVEN], clips[:, GIVEN:]
    results, rows = [], [truth]
    copy = given[:, -1:].expand_as(truth)
    results.append({"model": "copy-last-frame", **scores(copy, truth)})
    for run in args.runs:
        t0 = time.time()
        predicted, model = run_predictions(run, given, truth.shape[1])
        rows.append(predicted)
        s = model.config.families["video"]
        results.append(
            {
                "model": run,
                "step": model.step,
                "adv_weight": s.adv_weight,
                "gdl_weight": s.gdl_weight,
                "l2_weight": s.l2_weight,
                **scores(predicted, truth),
                "predict_seconds": round(time.time() - t0, 1),
            }
        )
    for r in results:
        r["n"] = args.n
        figures = " ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()
        )
        print(f"video {figures}")
        if not args.no_save:
            RESULTS.mkdir(exist_ok=True)
            with open(RESULTS / "video.jsonl", "a") as f:
                f.write(json.dumps(r) + "\n")
    if args.gif:
        write_gif(Path(args.gif), given, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
