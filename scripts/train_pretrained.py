"""Train and package the pretrained models that ship inside ganforge (src/ganforge/assets/pretrained/).

Each model is trained by one `ganforge train` command (recorded with its CPU and wall time and
the machine's load), then measured and saved with `TrainedGenerator.save_pretrained` (config.json
+ model.safetensors + README.md; the figures go into config.json's ``quality``):

- ``mnist-cgan``: the conditional MNIST preset, 5,000 of its 10,000 steps, one thread. Measured
  with the protocol of benchmarks/conditional.py: 1,000 samples per digit; conditional accuracy
  by the shipped MNIST classifier, overall and per digit; FID in its feature space ("mnist
  space") against the 10,000 MNIST test images, and per digit against that digit's test images.
- ``photo-x2``: SRResNet x2 (6 blocks of 32 channels: 4x smaller than photos-srresnet-x2) on the
  built-in photos, 1,000 steps, one thread. Measured as `ganforge eval-sr` does: PSNR/SSIM on Y,
  border cropped, against bicubic, on the held-out photos (chelsea, coffee; never trained on).

    python scripts/train_pretrained.py --mnist ../shared/datasets/mnist          # train + package
    python scripts/train_pretrained.py --only photo-x2 --package-only            # re-measure

Runs go to --work (default /tmp/ganforge-pretrained); a run already there is packaged as it is
(with the train record it wrote), so --package-only never retrains.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from ganforge.pretrained import PACKAGE_DIR  # noqa: E402

MODELS = {
    "mnist-cgan": {
        "description": "conditional DCGAN on MNIST 28x28 (projection D, mnist-cgan preset, "
        "5,000 steps); sample a digit with --class 0-9",
        "train": ["--preset", "mnist-cgan", "--data", "mnist:{mnist}", "--steps", "5000"]
        + ["--sample-every", "1000"],
        "data": "mnist",  # what the shipped config says (not this machine's path)
        "discriminator": True,  # fine-tuning starts D from it too
    },
    "photo-x2": {
        "description": "SRResNet x2 (6 blocks of 32 channels, L1) on the built-in photos, "
        "1,000 steps; upscales any RGB or grey image",
        "train": [
            "--preset",
            "photos-srresnet-x2",
            "--steps",
            "1000",
            "--g-width",
            "32",
            "--sr-blocks",
            "6",
            "--sample-every",
            "0",
        ],
        "data": "photos:train",
        "discriminator": False,  # a PSNR model: its D never trained
    },
}
COMMON = ["--threads", "1", "--seed", "0", "--no-tensorboard", "--quiet"]


def train(name: str, work: Path, mnist: str) -> dict:
    """Run the model's `ganforge train` under nice; the record of what ran."""
    spec = MODELS[name]
    args = [a.format(mnist=mnist) for a in spec["train"]] + COMMON
    cmd = ["nice", "-n", "10", sys.executable, "-m", "ganforge", "train", *args]
    cmd += ["--out", str(work), "--name", name]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    subprocess.run(cmd, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    record = {
        "command": "ganforge train " + " ".join(args) + f" --out RUNS --name {name}",
        "cpu_seconds": round(
            (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1
        ),
        "wall_seconds": round(time.time() - t0, 1),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": round(os.getloadavg()[0], 2),
    }
    (work / name / "train_record.json").write_text(json.dumps(record, indent=2))
    return record


def cgan_quality(model) -> dict:
    """benchmarks/conditional.py's MNIST protocol (1,000 per digit, shipped classifier)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("conditional", ROOT / "benchmarks/conditional.py")
    conditional = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conditional)
    report = conditional.mnist_report(model, per_class=1000, seed=0)
    per = report["per_class"]
    worst = min(per, key=lambda c: per[c]["acc"])
    return {
        "fid_mnist_space": round(report["fid"], 2),
        "fid_class_mean": round(report["fid_class_mean"], 2),
        "class_accuracy": round(report["cond_acc"], 4),
        "per_class_accuracy": {c: round(p["acc"], 4) for c, p in per.items()},
        "per_class_fid": {c: round(p["fid"], 2) for c, p in per.items()},
        "protocol": "1,000 samples per digit (seed 0); accuracy by the shipped MNIST classifier; "
        "FID in its 128-d feature space against the 10,000 MNIST test images",
        "summary": f"FID {report['fid']:.2f} (mnist space, vs MNIST test), class accuracy "
        f"{100 * report['cond_acc']:.1f}% (worst digit {worst}: {100 * per[worst]['acc']:.1f}%)",
    }


def sr_quality(model) -> dict:
    """`ganforge eval-sr`'s protocol on the held-out photos."""
    from ganforge.apps.sr import evaluate_sr

    result = evaluate_sr(model, "photos:test", labels=["model"])
    bicubic, ours = result.mean("bicubic"), result.mean("model")
    per = {
        n: {"bicubic_psnr": round(b.psnr, 3), "psnr": round(m.psnr, 3)}
        for n, b, m in zip(
            result.names, result.scores["bicubic"], result.scores["model"], strict=True
        )
    }
    gain = ours.psnr - bicubic.psnr
    return {
        "psnr": round(ours.psnr, 3),
        "ssim": round(ours.ssim, 4),
        "bicubic_psnr": round(bicubic.psnr, 3),
        "bicubic_ssim": round(bicubic.ssim, 4),
        "psnr_gain_db": round(gain, 3),
        "per_image": per,
        "protocol": "held-out photos:test (chelsea, coffee), LR by antialiased bicubic x2, "
        "PSNR/SSIM on Y (BT.601) with a 2-pixel border cropped (ganforge eval-sr)",
        "summary": f"PSNR {ours.psnr:.2f} dB vs bicubic {bicubic.psnr:.2f} ({gain:+.2f} dB) on "
        "the held-out photos",
    }


def changed_settings(config) -> dict:
    """The config's settings that differ from the defaults (any subset of the keys loads): a
    setting added to ganforge later keeps its default, so a shipped model never fails to read."""
    from ganforge.config import Config

    defaults = Config().to_dict()
    out = {}
    for key, value in config.to_dict().items():
        if isinstance(value, dict):
            changed = {k: v for k, v in value.items() if defaults[key].get(k) != v}
            if changed:
                out[key] = changed
        elif defaults.get(key) != value:
            out[key] = value
    return out


README = """# {name} (shipped with ganforge {version})

{description}.

- Quality: {summary}.
- Trained by `{command}` ({cpu:.0f} CPU-seconds, {wall:.0f} s wall, load {load} on a shared
  2-core machine, {date}), packaged by `python scripts/train_pretrained.py`.
- Files: `config.json` (format, config, class names, value range, figures) and
  `model.safetensors` (the weights; no pickle). Full figures: config.json's `quality`.

Use: {use}
"""
USE = {
    "mnist-cgan": "`ganforge sample --pretrained mnist-cgan --class 7 -o sevens.png`; fine-tune: "
    "`ganforge train --init-from-pretrained mnist-cgan --data folder:DIGITS`",
    "photo-x2": "`ganforge upscale --pretrained photo-x2 in.png -o out.png`",
}


def package(name: str, work: Path) -> Path:
    """Measure the trained run and save it into the package as a pretrained folder."""
    from ganforge import __version__
    from ganforge.sampling import load_generator
    from ganforge.training.checkpoint import latest_checkpoint

    spec = MODELS[name]
    run = work / name
    record = json.loads((run / "train_record.json").read_text())
    model = load_generator(latest_checkpoint(run))
    config = model.config
    config.data.source = spec["data"]  # no path of this machine in a shipped file
    config.out, config.name = "runs", ""
    quality = cgan_quality(model) if config.model.family == "conditional" else sr_quality(model)
    meta = {
        "description": spec["description"],
        "config": changed_settings(config),
        "quality": quality,
        "trained_by": record,
    }
    readme = README.format(
        name=name,
        version=__version__,
        description=spec["description"],
        summary=quality["summary"],
        command=record["command"],
        cpu=record["cpu_seconds"],
        wall=record["wall_seconds"],
        load=record["load_average"],
        date=record["date"],
        use=USE[name],
    )
    folder = model.save_pretrained(
        PACKAGE_DIR / name, discriminator=spec["discriminator"], meta=meta, readme=readme
    )
    size = sum(f.stat().st_size for f in folder.iterdir())
    print(f"{name}: {quality['summary']}; {size / 1e6:.2f} MB -> {folder}")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(MODELS), help="one model (default: all)")
    parser.add_argument("--work", default="/tmp/ganforge-pretrained", help="where runs go")
    parser.add_argument("--mnist", default="", help="MNIST folder (default: the usual lookup)")
    parser.add_argument("--package-only", action="store_true", help="never train")
    args = parser.parse_args()
    work = Path(args.work)
    if args.mnist:  # the measurement reads MNIST test through $GANFORGE_DATA/mnist
        os.environ["GANFORGE_DATA"] = str(Path(args.mnist).resolve().parent)
    for name in [args.only] if args.only else list(MODELS):
        if not (work / name / "train_record.json").is_file():
            if args.package_only:
                raise SystemExit(f"{name}: no trained run in {work} (run without --package-only)")
            train(name, work, args.mnist)
        package(name, work)


if __name__ == "__main__":
    main()
