"""Files written by the code of today, kept as fixtures so later versions prove they still load.

Run once, BEFORE a change to the config or file formats (issue 19: per-family settings moved the
flat single-family keys into `[family]` tables), and commit what it writes:

    python scripts/make_old_fixtures.py            # -> tests/fixtures/old_files/

Tiny seeded runs through the `ganforge` command (as scripts/refactor_check.py trains them), with
non-default values for the single-family settings so that a test can check they land in the right
place after loading. tests/test_settings_compat.py reads what this writes (see MANIFEST.json).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.cli import main

DEST = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "old_files"
QUIET = [
    "--no-tensorboard",
    "--quiet",
    "--log-every",
    2,
    "--sample-every",
    1000,
    "--monitor",
    "off",
]
TINY = ["--latent-dim", 4, "--g-width", 4, "--d-width", 4, "--batch-size", 8]

# A conditional run's TOML with non-default conditional keys (they have no flags today).
CONDITIONAL_TOML = """\
[model]
family = "conditional"
conditioning = "acgan"
g_conditioning = "embed"
embed_dim = 3
ac_weight = 0.5
mode_seeking = 0.25
"""


def _images(folder: Path, n: int, seed: int, size: int = 16) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
            folder / f"{i:02d}.png"
        )


def _run(*argv) -> None:
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        code = main([str(a) for a in argv])
    if code != 0:
        sys.exit(f"make_old_fixtures: {' '.join(map(str, argv[:3]))} failed:\n{log.getvalue()}")


def make(root: Path) -> dict[str, dict]:
    """Train the tiny runs under `root`; returns fixture name -> (source path, what it holds)."""
    out = ["--out", root]
    digits = ["--data", "digits", "--resolution", 8, *TINY, *QUIET, "--checkpoint-every", 4]
    _run("train", *digits, "--steps", 4, *out, "--name", "u")
    (root / "cond.toml").write_text(CONDITIONAL_TOML)
    _run("train", "--config", root / "cond.toml", *digits, "--steps", 2, *out, "--name", "c")
    hr = root / "hr"
    _images(hr, 2, 3)
    sr = ["--family", "srgan", "--data", f"folder:{hr}", "--scale", 2, "--resolution", 8]
    sr += ["--g-width", 2, "--d-width", 1, "--sr-blocks", 1, "--batch-size", 2, "--steps", 3]
    sr += ["--pretrain-steps", 1, "--pixel-loss", "mse", "--adv-weight", 0.002]
    sr += ["--perceptual", "none", "--relativistic", "on", "--checkpoint-every", 3]
    _run("train", *sr, *QUIET, *out, "--name", "s")
    a, b = root / "A", root / "B"
    _images(a, 2, 1, 8)
    _images(b, 2, 2, 8)
    cy = ["--family", "cyclegan", "--loss", "lsgan", "--data", f"unpaired:{a},{b}"]
    cy += [
        "--monitor",
        "off",
        "--resolution",
        8,
        "--g-width",
        2,
        "--d-width",
        2,
        "--patch-layers",
        1,
        "--arch",
    ]
    cy += ["resnet", "--resnet-blocks", 1, "--batch-size", 2, "--steps", 2]
    cy += ["--cycle-weight", 7, "--identity-weight", 0.25, "--pool-size", 3]
    cy += ["--translation-adv-weight", 0.5, "--translation-norm", "none", "--checkpoint-every", 2]
    _run("train", *cy, *QUIET, *out, "--name", "cy")
    rng = np.random.default_rng(4)
    csv = root / "table.csv"
    rows = [f"{x:.3f},{int(y)},{'ab'[int(z)]}" for x, y, z in rng.random((100, 3)) * (1, 9, 2)]
    csv.write_text("x,y,c\n" + "\n".join(rows) + "\n")
    _run(
        "tabular",
        "fit",
        csv,
        "-o",
        root / "t.gft",
        "--epochs",
        1,
        "--batch-size",
        20,
        "--width",
        8,
        "--embedding-dim",
        4,
        "--seed",
        0,
        "--quiet",
    )
    numeric = root / "numeric.csv"
    numeric.write_text("x,y\n" + "\n".join(r.rsplit(",", 1)[0] for r in rows) + "\n")
    # The detector through the library (the CLI has no size flags): tiny nets, kappa non-default.
    from ganforge.apps.anomaly import AnomalyDetector

    small = {"model": {"g_width": 8, "d_width": 8, "latent_dim": 2, "fanogan_kappa": 2.0}}
    values = np.loadtxt(numeric, delimiter=",", skiprows=1, dtype=np.float32)
    detector = AnomalyDetector("fanogan", steps=4, batch_size=8, overrides=small)
    detector.fit(values, run_dir=root / "fa")
    detector.save(root / "fa" / "detector.pt")
    return {
        "unconditional_last.pt": (root / "u" / "checkpoints" / "last.pt", "resume 1 step"),
        "unconditional_generator.pt": (root / "u" / "generator.pt", "sample"),
        "conditional_generator.pt": (root / "c" / "generator.pt", "conditional flat keys"),
        "srgan_last.pt": (root / "s" / "checkpoints" / "last.pt", "srgan flat keys, resume"),
        "srgan_config.toml": (root / "s" / "config.toml", "Config.load, srgan flat keys"),
        "cyclegan_config.toml": (root / "cy" / "config.toml", "cyclegan flat keys"),
        "table.gft": (root / "t.gft", "tabular sample"),
        "fanogan_detector.pt": (root / "fa" / "detector.pt", "anomaly score, fanogan flat keys"),
        "numeric.csv": (numeric, "rows the detector scores"),
    }


def write(dest: Path = DEST) -> None:
    """Train the runs in a temporary folder and copy the kept files (and a manifest) to `dest`."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        kept = make(Path(tmp))
        dest.mkdir(parents=True, exist_ok=True)
        manifest = {}
        for name, (source, purpose) in kept.items():
            shutil.copyfile(source, dest / name)
            manifest[name] = {"bytes": (dest / name).stat().st_size, "checks": purpose}
    import ganforge

    manifest["written_by"] = {"ganforge": getattr(ganforge, "__version__", "?")}
    (dest / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(v["bytes"] for k, v in manifest.items() if "bytes" in v)
    print(f"make_old_fixtures: {len(kept)} files, {total / 1024:.0f} KB in {dest}")


if __name__ == "__main__":
    write()
