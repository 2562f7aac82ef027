"""Image-to-image translation on the built-in tasks, scored on their held-out splits.

Trains one preset (optionally with overrides) and scores it against the ground truth of the task's
test split with ``ganforge.apps.translate.score_translations``: L1 and PSNR, sharpness (Sobel
energy relative to the truth), and for the digit tasks the share of outputs the shipped MNIST
classifier assigns to the source digit's class and FID in that classifier's feature space;
CycleGAN also gets the round-trip (cycle) L1 and both directions. One line per model, e.g.

  python benchmarks/translation.py edges2digits-pix2pix --steps 1500
  python benchmarks/translation.py edges2digits-l1 --steps 1500
  python benchmarks/translation.py mnist2thick-cyclegan --steps 1500
  python benchmarks/translation.py grey2colour-pix2pix --steps 1000 --set pix2pix.adv_weight=0

  translation preset=edges2digits-pix2pix steps=1500 minutes=... AtoB l1=... psnr=... sharpness=...
    class_accuracy=... fid=...

Each result is appended to benchmarks/results/translation.jsonl with the exact settings, and a
grid (source / output / truth rows) is written to benchmarks/results/translation_<name>.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"
TEST_SOURCES = {
    "edges2digits": "edges2digits:test",
    "mnist2thick": "mnist2thick:test",
    "grey2colour": "grey2colour:test",
}


def _parse_override(text: str) -> tuple[str, str, object]:
    """'key=value' or 'table.key=value' -> (section or family table, key, value), the section
    found from the config's fields (a family's own settings: its table, e.g. pix2pix.adv_weight;
    the flat keys of before the tables, e.g. translation_adv_weight, still work)."""
    from ganforge.config import LEGACY_KEYS, Config

    key, _, raw = text.partition("=")
    config = Config()
    tables = {s: getattr(config, s) for s in ("data", "model", "train")} | config.families
    wanted, _, name = key.rpartition(".")
    found = [(s, name, getattr(v, name)) for s, v in tables.items() if hasattr(v, name)]
    found = [f for f in found if f[0] == wanted] if wanted else found
    found += [
        (old_section, key, getattr(config.families[targets[0][0]], targets[0][1]))
        for (old_section, old), targets in LEGACY_KEYS.items()
        if old == key and not wanted
    ]
    if not found:
        raise SystemExit(f"unknown setting {key!r}")
    section, name, current = found[0]
    value = type(current)(json.loads(raw) if isinstance(current, bool) else raw)
    return section, name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset")
    parser.add_argument("--steps", type=int, default=None, help="default: the preset's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-eval", type=int, default=10000, help="held-out pairs to score")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--name", default=None, help="run name (default: preset + settings)")
    parser.add_argument("--out", default="runs/benchmarks", help="where runs are kept")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from ganforge.apps.translate import load_translator, score_translations, translate
    from ganforge.config import merge
    from ganforge.data import load_dataset
    from ganforge.images import save_grid
    from ganforge.presets import get_preset
    from ganforge.run import train

    overrides: dict[str, dict] = {"train": {"seed": args.seed, "threads": args.threads}}
    for item in args.set:
        section, key, value = _parse_override(item)
        overrides.setdefault(section, {})[key] = value
    if args.steps:
        overrides["train"]["steps"] = args.steps
    config = merge(get_preset(args.preset), overrides)
    config.preset = args.preset
    suffix = "".join(f"-{s}" for s in args.set)
    config.name = args.name or f"{args.preset}{suffix}-s{config.train.steps}-seed{args.seed}"
    config.out = args.out
    config.train.tensorboard = False

    t0 = time.perf_counter()
    run_dir, summary = train(config, quiet=True)
    minutes = (time.perf_counter() - t0) / 60
    task = config.data.source.split(":")[0]
    test = load_dataset(TEST_SOURCES[task], config.data.resolution, config.data.channels)
    model = load_translator(run_dir)
    directions = ["AtoB", "BtoA"] if config.model.family == "cyclegan" else ["AtoB"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    for direction in directions:
        scores = score_translations(model, test, direction, n=args.n_eval)
        entry = {
            "preset": args.preset,
            "name": config.name,
            "overrides": args.set,
            "steps": summary["steps"],
            "seed": args.seed,
            "minutes": round(minutes, 2),
            "direction": direction,
            "test": TEST_SOURCES[task],
            "command": "python benchmarks/translation.py " + " ".join(sys.argv[1:]),
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()},
        }
        with open(RESULTS / "translation.jsonl", "a") as f:
            f.write(json.dumps(entry) + "\n")
        shown = " ".join(
            f"{k}={entry[k]}"
            for k in (
                "l1",
                "psnr",
                "sharpness",
                "class_accuracy",
                "truth_class_accuracy",
                "fid",
                "cycle_l1",
            )
            if k in entry
        )
        print(
            f"translation preset={args.preset}{' ' + ' '.join(args.set) if args.set else ''} "
            f"steps={entry['steps']} minutes={entry['minutes']} {direction} {shown}",
            flush=True,
        )
        sources, truth = (
            (test.source, test.data) if direction == "AtoB" else (test.data, test.source)
        )
        outputs = translate(model, sources[:16], direction)
        rows = torch.cat(
            [sources[:16].float() / 127.5 - 1, outputs, truth[:16].float() / 127.5 - 1]
        )
        save_grid(rows, RESULTS / f"translation_{config.name}_{direction}.png", 16)
    return 0


if __name__ == "__main__":
    sys.exit(main())
