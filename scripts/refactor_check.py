"""Behaviour-neutral refactors: one tiny seeded run per family, fingerprinted.

Trains each family for a few steps through the `ganforge` command (in-process), then prints one
line per family: the SHA-256 of the trained weights (every tensor of generator.pt / detector /
tabular model, in key order) and the last logged losses. Run it before a refactor with
`--save before.json` and after it with `--compare before.json`: every line must match.

    python scripts/refactor_check.py --save /tmp/before.json
    python scripts/refactor_check.py --compare /tmp/before.json
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.cli import main

QUIET = ["--no-tensorboard", "--quiet", "--log-every", 2]
TINY = ["--latent-dim", 8, "--g-width", 8, "--d-width", 8, "--batch-size", 16, "--steps", 6]
TRANSLATE = ["--resolution", 16, "--g-width", 4, "--d-width", 4, "--patch-layers", 1]
TRANSLATE += ["--batch-size", 4, "--steps", 4]
SR = ["--scale", 2, "--resolution", 16, "--g-width", 4, "--d-width", 4, "--sr-blocks", 1]
SR += ["--batch-size", 2, "--steps", 4, "--pretrain-steps", 2]


def _images(folder: Path, n: int, seed: int, size: int = 24) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")


def _tensor_digest(obj, h) -> None:
    if isinstance(obj, torch.Tensor):
        h.update(str(obj.dtype).encode() + str(tuple(obj.shape)).encode())
        h.update(obj.detach().contiguous().cpu().numpy().tobytes())
    elif isinstance(obj, dict):
        for key in sorted(obj, key=str):
            h.update(str(key).encode())
            _tensor_digest(obj[key], h)
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            _tensor_digest(item, h)


def fingerprint(path: Path) -> str:
    """SHA-256 over every tensor a weights file holds (config and metadata left out: the saved
    config's key names are no trained tensors, and issue 19 moved family keys into tables)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {key: value for key, value in state.items() if key != "config"}
    h = hashlib.sha256()
    _tensor_digest(state, h)
    return h.hexdigest()[:16]


def last_losses(run: Path) -> str:
    log = run / "metrics.jsonl"
    if not log.is_file():
        return "-"
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    last = next((e for e in reversed(entries) if "kind" not in e), {})
    return " ".join(f"{k}={last[k]:.6f}" for k in sorted(last) if k.endswith("_loss"))


def cases(root: Path) -> dict[str, tuple[list, Path]]:
    """family -> (argv, file whose tensors are fingerprinted)."""
    a, b = root / "A", root / "B"
    _images(a, 6, 1)
    _images(b, 6, 2)
    hr = root / "hr"
    _images(hr, 3, 3)
    csv = root / "table.csv"
    rng = np.random.default_rng(4)
    rows = [f"{x:.4f},{int(y)},{'abc'[int(z)]}" for x, y, z in rng.random((120, 3)) * (1, 50, 3)]
    csv.write_text("x,y,c\n" + "\n".join(rows) + "\n")
    numeric = root / "numeric.csv"
    numeric.write_text("x,y\n" + "\n".join(row.rsplit(",", 1)[0] for row in rows) + "\n")
    out = ["--out", root]
    return {
        "unconditional": (
            ["train", "--data", "digits", "--resolution", 8, *TINY, *QUIET, *out, "--name", "u"],
            root / "u" / "generator.pt",
        ),
        "conditional": (
            ["train", "--family", "conditional", "--data", "digits", "--resolution", 8, *TINY]
            + [*QUIET, *out, "--name", "c"],
            root / "c" / "generator.pt",
        ),
        "mlp-ring": (
            ["train", "--data", "ring", "--arch", "mlp", *TINY, *QUIET, *out, "--name", "r"],
            root / "r" / "generator.pt",
        ),
        "srgan": (
            ["train", "--family", "srgan", "--data", f"folder:{hr}", *SR, *QUIET, *out]
            + ["--name", "s"],
            root / "s" / "generator.pt",
        ),
        "pix2pix": (
            ["train", "--family", "pix2pix", "--data", f"paired:{a},{b}", *TRANSLATE, *QUIET]
            + [*out, "--name", "p"],
            root / "p" / "generator.pt",
        ),
        "cyclegan": (
            ["train", "--family", "cyclegan", "--loss", "lsgan", "--data", f"unpaired:{a},{b}"]
            + [*TRANSLATE, *QUIET, *out, "--name", "cy"],
            root / "cy" / "generator.pt",
        ),
        "ganomaly": (
            ["anomaly", "fit", "--data", "digits", "--resolution", 8, "--steps", 4]
            + ["--batch-size", 2, "--quiet", "-o", root / "ga"],
            root / "ga" / "detector.pt",
        ),
        "fanogan": (
            ["anomaly", "fit", "--method", "fanogan", "--data", f"csv:{numeric}", "--steps", 6]
            + ["--batch-size", 16, "--quiet", "-o", root / "fa"],
            root / "fa" / "detector.pt",
        ),
        "tabular": (
            ["tabular", "fit", csv, "-o", root / "t.gft", "--epochs", 2, "--batch-size", 40]
            + ["--width", 16, "--seed", 0, "--quiet"],
            root / "t.gft",
        ),
    }


def run_all() -> dict[str, str]:
    torch.set_num_threads(1)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for family, (argv, weights) in cases(root).items():
            log = io.StringIO()
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                code = main([str(x) for x in argv])
            if code != 0:
                results[family] = f"FAILED exit {code}: {log.getvalue().strip()[-300:]}"
            else:
                run = weights.parent if weights.name != "t.gft" else root
                results[family] = f"{fingerprint(weights)} {last_losses(run)}"
            print(f"refactor_check {family:<14} {results[family]}", flush=True)
    return results


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--save", type=Path, help="write the fingerprints here (JSON)")
    p.add_argument("--compare", type=Path, help="compare with fingerprints saved earlier")
    return p.parse_args()


if __name__ == "__main__":
    args = parse_args()
    results = run_all()
    if args.save:
        args.save.write_text(json.dumps(results, indent=2))
    if args.compare:
        before = json.loads(args.compare.read_text())
        changed = [f for f in before if before[f] != results.get(f)]
        for family in changed:
            print(f"refactor_check CHANGED {family}: {before[family]} -> {results.get(family)}")
        print(f"refactor_check {len(before) - len(changed)}/{len(before)} families unchanged")
        sys.exit(1 if changed else 0)
