"""The `ganforge` command: parse arguments, call the library, print. No training logic here."""

from __future__ import annotations

import os

# Before torch loads OpenMP, which reads this once: idle threads sleep instead of spinning on
# cores other jobs need (3x on a busy CPU, nothing lost on a quiet one: training/performance.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import math
import os
import sys
from pathlib import Path

from ganforge.errors import GanforgeError

DESCRIPTION = (
    "Train, evaluate and use Generative Adversarial Networks. `ganforge train` alone trains a "
    "DCGAN on the embedded 8x8 digits and prints where the run went."
)
EPILOG = """\
examples:
  ganforge train                                  train the default run (digits DCGAN)
  ganforge presets                                the named recipes, one line each
  ganforge sample runs/NAME -n 64 -o grid.png     a grid of samples from a run
  ganforge eval runs/NAME --metrics fid,pr        quality against the reference data
  ganforge info runs/NAME                         what a run is and how far it got
  ganforge COMMAND --help                         every flag of a command, with its default

Errors are one line (`ganforge: error: ...`, exit 2); an interrupted run exits 130 and says
how to resume; an internal error exits 3 and names its crash log.
"""


def _on_off(text: str) -> bool:
    """A switch value: on/off (also true/false, yes/no, 1/0)."""
    value = text.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected on or off, got {text!r}")


def _finite_float(text: str) -> float:
    """A number flag: a finite float (nan and inf are refused where they are typed)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error contract: `ganforge: error: <what>, <command>, <fix>`."""

    def error(self, message: str):
        print(f"ganforge: error: {message}, {self.prog}, see `{self.prog} --help`", file=sys.stderr)
        raise SystemExit(2)


def _finite_floats(parser: argparse.ArgumentParser) -> None:
    """Every float flag of every (sub)command refuses nan and inf at parse time."""
    for action in parser._actions:  # argparse has no public walk over its actions
        if action.type is float:
            action.type = _finite_float
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _finite_floats(sub)


# flag -> (section, key, type); every one overrides the preset / config file.
TRAIN_FLAGS = {
    "--data": ("data", "source", str),
    "--resolution": ("data", "resolution", int),
    "--channels": ("data", "channels", int),
    "--limit": ("data", "limit", int),
    "--family": ("model", "family", str),
    "--arch": ("model", "arch", str),
    "--latent-dim": ("model", "latent_dim", int),
    "--g-width": ("model", "g_width", int),
    "--d-width": ("model", "d_width", int),
    "--d-norm": ("model", "d_norm", str),
    "--g-extra-layers": ("model", "g_extra_layers", int),
    "--d-extra-layers": ("model", "d_extra_layers", int),
    "--steps": ("train", "steps", int),
    "--max-minutes": ("train", "max_minutes", float),
    "--batch-size": ("train", "batch_size", int),
    "--loss": ("train", "loss", str),
    "--n-critic": ("train", "n_critic", int),
    "--lr-g": ("train", "lr_g", float),
    "--lr-d": ("train", "lr_d", float),
    "--lr-decay-start": ("train", "lr_decay_start", float),
    "--beta1": ("train", "beta1", float),
    "--beta2": ("train", "beta2", float),
    "--gp": ("train", "gp_weight", float),
    "--r1": ("train", "r1_weight", float),
    "--ema": ("train", "ema", float),
    "--grad-clip": ("train", "grad_clip", float),
    "--seed": ("train", "seed", int),
    "--device": ("train", "device", str),
    "--precision": ("train", "precision", str),
    "--threads": ("train", "threads", int),
    "--log-every": ("train", "log_every", int),
    "--sample-every": ("train", "sample_every", int),
    "--checkpoint-every": ("train", "checkpoint_every", int),
    "--keep-checkpoints": ("train", "keep_checkpoints", int),
    "--eval-every": ("eval", "every", int),
    "--eval-metrics": ("eval", "metrics", str),
    "--eval-n": ("eval", "n", int),
    "--eval-ref": ("eval", "reference", str),
    "--eval-extractor": ("eval", "extractor", str),
    "--inception-weights": ("eval", "weights", str),
    "--minibatch-std": ("model", "minibatch_std", _on_off),
    "--minibatch-disc": ("model", "minibatch_disc", _on_off),
    "--pack": ("model", "pack", int),
    "--diffaugment": ("train", "diffaugment", str),
    "--augment-shift": ("train", "augment_shift", float),
    "--augment-cutout": ("train", "augment_cutout", float),
    "--ada-target": ("train", "ada_target", float),
    "--ada-kimg": ("train", "ada_kimg", float),
    "--monitor": ("train", "monitor", _on_off),
    "--max-rollbacks": ("train", "max_rollbacks", int),
    "--rollback-lr-factor": ("train", "rollback_lr_factor", float),
    "--divergence-window": ("train", "divergence_window", int),
    # f-AnoGAN (--family fanogan): WGAN steps before the encoder-only phase
    "--gan-steps": ("train", "fanogan_gan_steps", int),
    # Super-resolution (--family srgan): --resolution is the HR training crop
    "--scale": ("model", "scale", int),
    "--sr-blocks": ("model", "sr_blocks", int),
    "--pretrain-steps": ("train", "sr_pretrain_steps", int),
    "--pixel-loss": ("train", "sr_pixel_loss", str),
    "--perceptual": ("train", "sr_perceptual", str),
    "--vgg-weights": ("train", "sr_vgg_weights", str),
    "--adv-weight": ("train", "sr_adv_weight", float),
    "--relativistic": ("train", "sr_relativistic", _on_off),
    # Image-to-image translation (--family pix2pix / cyclegan)
    "--l1-weight": ("train", "pix2pix_l1_weight", float),
    "--translation-adv-weight": ("train", "translation_adv_weight", float),
    "--cycle-weight": ("train", "cycle_weight", float),
    "--identity-weight": ("train", "cycle_identity_weight", float),
    "--pool-size": ("train", "cycle_pool_size", int),
    "--patch-layers": ("model", "patch_layers", int),
    "--unet-depth": ("model", "unet_depth", int),
    "--resnet-blocks": ("model", "resnet_blocks", int),
    "--translation-norm": ("model", "translation_norm", str),
}


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a GAN (default: DCGAN on the embedded 8x8 digits, 1,500 steps)",
        description="Train a GAN. Flags override --preset / --config.",
    )
    p.add_argument("--preset", help="a named preset (see `ganforge presets`)")
    p.add_argument("--config", help="a TOML config file (e.g. a run's config.toml)")
    p.add_argument("--out", help="parent folder of run directories (default: runs)")
    p.add_argument("--name", help="run name (default: <preset>-<time>)")
    p.add_argument(
        "--resume",
        nargs="?",
        const="",
        metavar="RUN_OR_CKPT",
        help="continue a run exactly: a run dir or checkpoint (or the run named by --name)",
    )
    p.add_argument(
        "--spectral-norm",
        action="store_true",
        default=None,
        help="spectral normalisation in the discriminator",
    )
    p.add_argument("--no-tensorboard", action="store_true", help="skip TensorBoard events")
    p.add_argument(
        "--fast", action="store_true", help="fast path: --precision auto, channels_last, fused Adam"
    )
    p.add_argument("--channels-last", action="store_true", default=None)
    p.add_argument(
        "--compile",
        action="store_true",
        default=None,
        help="torch.compile G and D (first step takes ~40 s on CPU)",
    )
    p.add_argument("--quiet", action="store_true", help="plain periodic lines, no progress bar")
    p.add_argument(
        "--nproc",
        type=int,
        default=None,
        help="processes (devices) to train on: re-runs itself under torchrun",
    )
    for flag, (_, _, kind) in TRAIN_FLAGS.items():
        p.add_argument(flag, type=kind, default=None)


def _add_sample(sub) -> None:
    p = sub.add_parser("sample", help="draw samples from a trained run or generator file")
    p.add_argument("model", metavar="RUN_OR_FILE")
    p.add_argument("-n", type=int, default=64, help="how many samples (default 64)")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="grid.png (a grid image; .jpg etc. too; a scatter plot for 2-D runs), "
        "samples.npy (an array), or a folder (one PNG per sample)",
    )
    p.add_argument(
        "--format",
        choices=["grid", "npy", "png-dir"],
        default=None,
        help="default: from -o (.npy -> npy, another suffix -> grid, none -> png-dir); "
        "npy needs -o ending in .npy",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="png-dir: replace the samples (000000.png ...) of an earlier run in that folder; "
        "without it a non-empty folder is refused, and a folder holding other files always is",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--truncation",
        type=float,
        default=None,
        help="truncation trick threshold (a finite number > 0; default: none)",
    )
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--class",
        dest="classes",
        action="append",
        metavar="CLASS",
        help="conditional runs: sample this class (a name, else an index); repeat for several",
    )
    p.add_argument(
        "--per-class",
        type=int,
        default=None,
        metavar="K",
        help="conditional runs: K samples of each class, one named grid row per class",
    )


def _add_eval(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="FID, KID, IS, precision/recall, density/coverage",
        description="Evaluate a run/generator against a reference, or two image "
        "sets (--real/--fake: folders or .npy arrays in [-1, 1] or uint8).",
    )
    p.add_argument("model", nargs="?", metavar="RUN_OR_FILE")
    p.add_argument(
        "--metrics",
        default=None,
        help="comma list of fid,kid,is,pr,dc (default: all five; without class logits, "
        "as with randconv, all but is)",
    )
    p.add_argument(
        "--n",
        type=int,
        default=None,
        help="generated samples (default: 10000 from a run, every --fake image)",
    )
    p.add_argument(
        "--ref",
        default=None,
        help="reference: mnist:test, mnist:train, a folder or .npy (default: "
        "mnist:test for MNIST runs)",
    )
    p.add_argument("--real", help="reference images (folder or .npy) for a direct comparison")
    p.add_argument("--fake", help="generated images (folder or .npy) for a direct comparison")
    p.add_argument("--extractor", default=None, help="mnist | inception | randconv[:RES[:SEED]]")
    p.add_argument("--inception-weights", default=None, help="pt_inception-2015-12-05 weights file")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--json",
        metavar="FILE",
        help="where to write the JSON result (default: RUN/eval/eval_stepXXXXXXX.json for runs)",
    )


def _add_augment(sub) -> None:
    p = sub.add_parser(
        "augment",
        help="export a labelled synthetic dataset from a conditional run",
        description="Write DIR/<class>/<index>.png and DIR/labels.csv from a conditional run; "
        "--filter keeps only samples a classifier assigns to their intended class.",
    )
    p.add_argument("model", metavar="RUN_OR_FILE")
    p.add_argument("--per-class", type=int, default=1000, metavar="K", help="images per class")
    p.add_argument("--out", required=True, metavar="DIR", help="new or empty output folder")
    p.add_argument(
        "--class",
        dest="classes",
        action="append",
        metavar="CLASS",
        help="export only this class (a name, else an index); repeat for several",
    )
    p.add_argument(
        "--filter", action="store_true", help="keep only samples the classifier agrees with"
    )
    p.add_argument(
        "--classifier",
        default="mnist",
        help="for --filter: mnist (the shipped digit classifier) or an ONNX file (.onnx, run "
        "with onnxruntime) mapping images in [-1, 1] to logits in the run's class order; "
        ".pt2/TorchScript/pickle files are refused (they can run code)",
    )
    p.add_argument(
        "--threshold", type=float, default=0.9, help="for --filter: minimum confidence (0.9)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--truncation", type=float, default=None, help="truncation trick threshold")
    p.add_argument("--device", default="cpu")


def _add_tiling(p) -> None:
    p.add_argument(
        "--tile", type=int, default=None, help="LR tile side (default ~512 px out; 0: whole image)"
    )
    p.add_argument(
        "--context",
        type=int,
        default=None,
        help="LR pixels of context per tile (default: the receptive radius: exact tiles)",
    )
    p.add_argument("--scale", type=int, default=None, help="check the run upscales by this")
    p.add_argument("--device", default="cpu")


def _add_upscale(sub) -> None:
    p = sub.add_parser(
        "upscale",
        help="upscale an image (or a folder of images) with a super-resolution run",
        description="Upscale with a super-resolution run, tile by tile (memory stays bounded).",
    )
    p.add_argument("model", metavar="RUN_OR_FILE")
    p.add_argument("input", metavar="INPUT", help="an image file or a folder of images")
    p.add_argument("-o", "--output", required=True, help="output file (or folder for a folder)")
    p.add_argument("--overlap", type=int, default=8, help="LR pixels tiles overlap and blend")
    _add_tiling(p)


def _add_eval_sr(sub) -> None:
    p = sub.add_parser(
        "eval-sr",
        help="PSNR/SSIM of SR runs and of bicubic on held-out images, and a comparison image",
        description="PSNR/SSIM on Y (BT.601), border cropped by the scale; LR made by "
        "antialiased bicubic downscaling. Several runs (same scale) become several columns.",
    )
    p.add_argument("models", nargs="+", metavar="RUN_OR_FILE")
    p.add_argument(
        "--data", default="photos:test", help="photos:test (default) or folder:PATH (HR images)"
    )
    p.add_argument(
        "--comparison",
        default=None,
        metavar="PNG",
        help="side-by-side crops (default: RUN/eval/sr_comparison.png)",
    )
    p.add_argument("--crop", type=int, default=128, help="HR side of the comparison crops")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    _add_tiling(p)


def _add_anomaly(sub) -> None:
    p = sub.add_parser(
        "anomaly",
        help="GAN anomaly detection: fit on normal images or tables, score new data",
        description="GANomaly or f-AnoGAN trained on normal data only; scores with a threshold "
        "calibrated on held-out normal data at a chosen false-positive rate.",
    )
    verbs = p.add_subparsers(dest="verb", required=True)
    fit = verbs.add_parser("fit", help="fit a detector on normal data into a run directory")
    fit.add_argument(
        "--data",
        required=True,
        help="normal data: folder:DIR (images), csv:FILE (numeric table), mnist, ...",
    )
    fit.add_argument("-o", "--out", required=True, metavar="RUN", help="new run directory")
    fit.add_argument("--method", default="ganomaly", choices=["ganomaly", "fanogan"])
    fit.add_argument("--steps", type=int, default=None, help="training steps (method default)")
    fit.add_argument("--resolution", type=int, default=None, help="images: side (default 32)")
    fit.add_argument("--channels", type=int, default=0, help="images: 1 or 3 (default: as is)")
    fit.add_argument(
        "--holdout", type=float, default=0.2, help="share of normal data kept for the threshold"
    )
    fit.add_argument("--fpr", type=float, default=0.05, help="false-positive rate (0.05)")
    fit.add_argument("--batch-size", type=int, default=None)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--device", default="cpu")
    fit.add_argument("--quiet", action="store_true", help="plain periodic lines, no progress bar")
    score = verbs.add_parser("score", help="score a folder of images or a CSV; write scores.csv")
    score.add_argument("run", metavar="RUN", help="a fitted run directory (or detector.pt)")
    score.add_argument("input", metavar="INPUT", help="a folder of images or a CSV file")
    score.add_argument("-o", "--out", required=True, metavar="CSV", help="scores file to write")
    score.add_argument(
        "--fpr", type=float, default=None, help="false-positive rate (default: the fit's)"
    )
    score.add_argument("--maps", metavar="DIR", help="images: a residual heat map per input")
    score.add_argument("--device", default="cpu")


def _add_translate(sub) -> None:
    p = sub.add_parser(
        "translate",
        help="translate an image (or a folder of images) with a pix2pix or CycleGAN run",
        description="Images are translated at their own size, tile by tile with overlap, and "
        "written in their own format (a .jpg stays .jpg); a folder keeps its sub-paths. "
        "Resize inputs to about the training scale first for the best results.",
    )
    p.add_argument("model", metavar="RUN_OR_FILE")
    p.add_argument("input", metavar="INPUT", help="an image file or a folder of images")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="output image file (its suffix picks the format), or a folder",
    )
    p.add_argument(
        "--direction",
        choices=["AtoB", "BtoA"],
        default="AtoB",
        help="AtoB (default) or BtoA (CycleGAN runs only)",
    )
    p.add_argument(
        "--tile", type=int, default=None, help="tile side in pixels (default 512; 0: whole image)"
    )
    p.add_argument("--overlap", type=int, default=16, help="pixels tiles overlap and blend")
    p.add_argument(
        "--context",
        type=int,
        default=None,
        help="pixels of context per tile (default: the receptive radius: exact tiles)",
    )
    p.add_argument("--device", default="cpu")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to document the CLI)."""
    parser = _Parser(
        prog="ganforge",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from ganforge import __version__

    parser.add_argument("--version", action="version", version=f"ganforge {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of an internal error (also GANFORGE_DEBUG=1; any position)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_sample(sub)
    _add_eval(sub)
    _add_augment(sub)
    _add_anomaly(sub)
    _add_upscale(sub)
    _add_eval_sr(sub)
    _add_translate(sub)
    _add_tabular(sub)
    _add_data(sub)
    p = sub.add_parser("info", help="what a run is, how far it got, where its files are")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_parser("presets", help="list the presets, one line each")
    _finite_floats(parser)
    return parser


def _train_config(args):
    from ganforge.config import Config, merge
    from ganforge.presets import DEFAULT_PRESET, get_preset
    from ganforge.run import config_from_checkpoint

    resume = args.resume
    if resume == "":  # bare --resume: the run named by --name/--out
        if not args.name:
            raise GanforgeError(
                "--resume without a path needs --name", fix="or pass --resume RUN_DIR"
            )
        resume = str(Path(args.out or "runs") / args.name)
    if args.config:
        config = Config.load(args.config)
    elif args.preset:
        config = get_preset(args.preset)
    elif resume is not None:
        config = config_from_checkpoint(resume)
        run = Path(resume) if Path(resume).is_dir() else Path(resume).parent.parent
        config.out, config.name = str(run.parent), run.name
    else:
        config = get_preset(DEFAULT_PRESET)
    overrides: dict[str, dict] = {}
    for flag, (section, key, _) in TRAIN_FLAGS.items():
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None:
            overrides.setdefault(section, {})[key] = value
    if args.spectral_norm:
        overrides.setdefault("model", {})["spectral_norm"] = True
    if args.no_tensorboard:
        overrides.setdefault("train", {})["tensorboard"] = False
    if args.fast:
        fast = {"precision": "auto", "channels_last": True, "fused_adam": True}
        for key, value in fast.items():
            overrides.setdefault("train", {}).setdefault(key, value)
    for flag in ("channels_last", "compile"):
        if getattr(args, flag):
            overrides.setdefault("train", {})[flag] = True
    config = merge(config, overrides)
    if args.out:
        config.out = args.out
    if args.name:
        config.name = args.name
    if resume is not None and not config.name:
        run = Path(resume) if Path(resume).is_dir() else Path(resume).parent.parent
        config.out, config.name = str(run.parent), run.name
    return config, resume


def _relaunch_under_torchrun(args) -> int:
    """`ganforge train --nproc N ...` == `torchrun --standalone --nproc-per-node N -m ganforge train ...`."""
    import subprocess

    if args.nproc < 1:
        raise GanforgeError(f"--nproc must be positive, got {args.nproc}")
    argv = list(args.argv)
    i = argv.index("--nproc") if "--nproc" in argv else None
    if i is not None:
        del argv[i : i + 2]
    else:
        argv = [a for a in argv if not a.startswith("--nproc=")]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={args.nproc}",
        "-m",
        "ganforge",
        *argv,
    ]
    return subprocess.call(cmd)


def cmd_train(args) -> int:
    import os

    from ganforge.run import train

    if args.nproc and args.nproc > 1 and "LOCAL_RANK" not in os.environ:
        return _relaunch_under_torchrun(args)

    config, resume = _train_config(args)
    run_dir, summary = train(config, resume=resume, quiet=args.quiet)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports
        return 0
    last = summary["last"]
    losses = "  ".join(f"{k}={last[k]:.4f}" for k in ("d_loss", "g_loss") if k in last)
    print(
        f"ganforge: trained {summary['new_steps']} steps (now {summary['steps']}) in "
        f"{summary['seconds']:.1f}s  {losses}"
    )
    if "health" in summary:
        print(f"ganforge: health: {summary['health']}")
    if summary.get("failed"):  # trained, but its generator is unusable: saved, exit 1
        raise GanforgeError(
            f"the run FAILED: {summary['failed']}",
            str(run_dir),
            f"{summary['advice']} (what it made is kept: ganforge info {run_dir})",
            exit_code=1,
        )
    print(f"ganforge: run saved to {run_dir}  (samples/, checkpoints/last.pt, generator.pt)")
    if config.model.family == "srgan":
        print(f"ganforge: next: ganforge upscale {run_dir} input.png -o output.png")
    elif config.model.family in ("pix2pix", "cyclegan"):
        print(f"ganforge: next: ganforge translate {run_dir} INPUT -o OUTPUT")
    else:
        print(f"ganforge: next: ganforge sample {run_dir} -n 64 -o grid.png")
    return 0


def cmd_sample(args) -> int:
    from ganforge.sampling import (
        check_count,
        check_sample_output,
        check_truncation,
        load_generator,
        write_samples,
    )

    truncation = check_truncation(args.truncation)
    if args.per_class is None:
        check_count(args.n)
    model = load_generator(args.model, args.device)
    vectors = len(model.config.model.sample_shape) == 1
    check_sample_output(args.output, args.format, vectors=vectors, overwrite=args.overwrite)
    labels, row_names = model.class_labels(args.classes, args.per_class, args.n)
    n = args.n if labels is None else len(labels)
    samples = model.sample(n, seed=args.seed, labels=labels, truncation=truncation)
    out, fmt = write_samples(
        samples,
        args.output,
        args.format,
        nrow=args.per_class,
        row_labels=row_names,
        overwrite=args.overwrite,
    )
    kind = "scatter plot" if vectors and fmt == "grid" else fmt  # 2-D points are not a grid
    print(f"ganforge: wrote {n} samples to {out} ({kind}, step {model.step})")
    return 0


def _eval_toy(model, args, out_json: Path | None) -> int:
    """2-D toy runs (ring, grid): modes recovered and high-quality share (VEEGAN protocol)."""
    import torch

    from ganforge.data import load_dataset
    from ganforge.metrics.evaluate import save_result
    from ganforge.metrics.modes import mode_coverage

    data = load_dataset(model.config.data.source)
    if "centers" not in data.meta:
        raise GanforgeError(
            "vector data without known modes: nothing to evaluate",
            model.config.data.source,
            "evaluate image runs instead",
        )
    result = mode_coverage(
        model.sample(args.n or 10_000, seed=args.seed),
        torch.tensor(data.meta["centers"]),
        data.meta["std"],
    )
    print(f"evaluated  {model.source} (step {model.step}) on {model.config.data.source}")
    print(f"modes      {result['modes']} of {result['num_modes']}")
    print(f"high_quality {result['high_quality']:.4f}  (share within 3 std of a mode)")
    if out_json is not None:
        _save_eval_json(save_result, result, out_json)
    return 0


def _save_eval_json(save, result: dict, out_json: Path) -> None:
    """Write the JSON after the figures are printed; a failure is one line that says so."""
    try:
        save(result, out_json)
    except OSError as e:
        raise GanforgeError(
            f"cannot write the JSON result ({e.strerror or type(e).__name__}); the figures "
            "above are the result",
            str(out_json),
            "pass --json FILE somewhere writable",
        ) from None
    print(f"wrote      {out_json}")


def cmd_eval(args) -> int:
    from ganforge.io_checks import check_writable
    from ganforge.metrics import evaluate
    from ganforge.metrics.compare import prepare_comparison
    from ganforge.metrics.evaluate import check_metrics, result_lines, save_result
    from ganforge.training.evaluation import default_extractor, default_reference

    # Every flag checked before any work (metric names, counts, where the JSON goes).
    metrics = check_metrics(args.metrics)
    if args.n is not None and args.n < 1:
        raise GanforgeError(f"--n must be >= 1, got {args.n}", fix="evaluate at least 1 image")
    if args.model and args.fake:
        raise GanforgeError(
            "--fake compares two image sets, not a run",
            f"{args.model} and --fake {args.fake}",
            "drop RUN_OR_FILE or --fake (--real/--ref set a run's reference)",
        )
    out_json = Path(args.json) if args.json else None
    json_fix = "pass --json FILE somewhere writable"
    if args.model:
        from ganforge.sampling import load_generator

        model = load_generator(args.model, args.device)
        if out_json is None and Path(args.model).is_dir():
            out_json = Path(args.model) / "eval" / f"eval_step{model.step:07d}.json"
        if out_json is not None:
            check_writable(out_json, what="JSON result", fix=json_fix)
        if len(model.config.model.sample_shape) == 1:
            return _eval_toy(model, args, out_json)
        reference = args.ref or args.real or default_reference(model.config)
        if not reference:  # the run's own training data
            from ganforge.data import load_dataset

            d = model.config.data
            reference = load_dataset(d.source, d.resolution, d.channels, d.limit)
        if args.extractor:
            extractor, why = args.extractor, "--extractor"
        else:
            extractor, why = default_extractor(model.config), "the run's default, as in training"
        source, n = model.sampler(seed=args.seed), args.n or 10_000
        what = f"{model.source} (step {model.step})"
    elif args.real and args.fake:
        if out_json is not None:
            check_writable(out_json, what="JSON result", fix=json_fix)
        plan = prepare_comparison(args.real, args.fake, args.extractor, args.inception_weights)
        reference, source, n, what = plan.reference, plan.fake, args.n, args.fake
        extractor, why = plan.extractor, plan.why
    elif args.real or args.fake:
        given, missing = ("--real", "--fake") if args.real else ("--fake", "--real")
        raise GanforgeError(
            f"{given} needs {missing}", fix="ganforge eval --real REF --fake FAKES, or eval RUN"
        )
    else:
        raise GanforgeError("eval needs a RUN_OR_FILE, or both --real and --fake")
    result = evaluate(
        source,
        reference,
        metrics,
        n=n,
        extractor=extractor,
        seed=args.seed,
        device=args.device,
        weights=args.inception_weights,
        extractor_choice=why,
    )
    p = result["protocol"]
    print(f"evaluated  {what}")
    print(
        f"protocol   extractor={p.get('extractor', extractor)} ({why})  n_fake={p['n_fake']}  "
        f"n_ref={p['n_ref']}  reference={p['reference']}"
    )
    for name, reason in p.get("skipped", {}).items():
        print(f"skipped    {name}: {reason}")
    for line in result_lines(result):
        print(line)
    print(f"seconds    {result['seconds']:.1f}")
    if out_json is not None:
        _save_eval_json(save_result, result, out_json)
    return 0


def cmd_info(args) -> int:
    from ganforge.run import info_lines, run_info

    info = run_info(args.run)
    print(json.dumps(info, indent=2) if args.json else "\n".join(info_lines(info)))
    return 0


def cmd_augment(args) -> int:
    from ganforge.apps.augment import export_dataset

    report = export_dataset(
        args.model,
        args.out,
        args.per_class,
        classes=args.classes,
        filter=args.filter,
        classifier=args.classifier,
        threshold=args.threshold,
        seed=args.seed,
        truncation=args.truncation,
        device=args.device,
    )
    print("\n".join(report.lines()))
    failure = report.failure()
    if failure is not None:
        raise failure
    return 0


def cmd_upscale(args) -> int:
    from ganforge.apps.sr import upscale_path

    report = upscale_path(
        args.model,
        args.input,
        args.output,
        scale=args.scale,
        tile=args.tile,
        overlap=args.overlap,
        context=args.context,
        device=args.device,
    )
    for source, target in report.written[:5]:
        print(f"ganforge: x{report.scale} {source} -> {target}")
    if len(report.written) > 5:
        print(f"ganforge: ... {len(report.written)} images in all, into {args.output}")
    return 0


def cmd_eval_sr(args) -> int:
    from ganforge.apps.sr import evaluate_sr

    comparison = args.comparison
    if comparison is None:
        first = Path(args.models[0])
        comparison = (first if first.is_dir() else first.parent) / "eval" / "sr_comparison.png"
    result = evaluate_sr(
        args.models,
        args.data,
        comparison=comparison,
        scale=args.scale,
        crop=args.crop,
        tile=args.tile,
        context=args.context,
        device=args.device,
    )
    print("\n".join(result.lines()))
    print(f"comparison {result.comparison}")
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result.to_dict(), indent=2))
        print(f"wrote      {out}")
    return 0


def cmd_anomaly(args) -> int:
    from ganforge.apps import anomaly

    if args.verb == "fit":
        lines = anomaly.fit_command(
            args.data,
            args.out,
            method=args.method,
            steps=args.steps,
            resolution=args.resolution,
            channels=args.channels,
            holdout=args.holdout,
            fpr=args.fpr,
            seed=args.seed,
            batch_size=args.batch_size,
            device=args.device,
            quiet=args.quiet,
        )
    else:
        lines = anomaly.score_command(
            args.run, args.input, args.out, fpr=args.fpr, maps=args.maps, device=args.device
        )
    print("\n".join(lines))
    return 0


def cmd_translate(args) -> int:
    from ganforge.apps.translate import translate_files

    report = translate_files(
        args.model,
        args.input,
        args.output,
        args.direction,
        args.device,
        tile=args.tile,
        overlap=args.overlap,
        context=args.context,
    )
    print("\n".join(report.lines()))
    return 0


def _add_tabular(sub) -> None:
    from ganforge.apps.tabular import add_tabular_parser

    add_tabular_parser(sub)


def cmd_tabular(args) -> int:
    from ganforge.apps.tabular import run

    return run(args)


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="download datasets (MNIST) and see where they are found")
    verbs = p.add_subparsers(dest="verb", required=True)
    get = verbs.add_parser(
        "get", help="download a dataset into the cache, checking each file's SHA-256"
    )
    get.add_argument("name", metavar="NAME", help="the dataset: mnist")
    get.add_argument(
        "--dir",
        default=None,
        help="folder to put it in (default: $GANFORGE_DATA/mnist, else ~/.cache/ganforge/mnist)",
    )
    verbs.add_parser("list", help="where each dataset is looked for and which copy is used")


def cmd_data(args) -> int:
    from ganforge.data import download

    if args.verb == "list":
        print("\n".join(download.describe_sources()))
        return 0
    if args.name != "mnist":
        raise GanforgeError(
            f"unknown dataset {args.name!r} for `data get`",
            fix="use mnist (ring, grid, digits and grey2colour are built in)",
        )
    download.download_mnist(args.dir)
    return 0


def cmd_presets(args) -> int:
    from ganforge.presets import PRESETS

    width = max(map(len, PRESETS))
    for name, (description, _) in PRESETS.items():
        print(f"{name:<{width}}  {description}")
    return 0


COMMANDS = {
    "train": cmd_train,
    "sample": cmd_sample,
    "eval": cmd_eval,
    "info": cmd_info,
    "presets": cmd_presets,
    "augment": cmd_augment,
    "anomaly": cmd_anomaly,
    "upscale": cmd_upscale,
    "eval-sr": cmd_eval_sr,
    "translate": cmd_translate,
    "tabular": cmd_tabular,
    "data": cmd_data,
}


def _check_common(args) -> None:
    """Flags every command shares, checked before any work: the device exists here."""
    device = getattr(args, "device", None)
    if isinstance(device, str) and device != "cpu":  # (cpu always exists: no torch import yet)
        from ganforge.training.loop import resolve_device

        resolve_device(device)


def _crash_report(error: BaseException) -> Path | None:
    """Write the traceback of an unexpected error to a crash log; its path (None if unwritable)."""
    import tempfile
    import time
    import traceback

    text = "".join(traceback.format_exception(error))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        from ganforge.metrics.cache import cache_root

        folders = [cache_root() / "crashes", Path(tempfile.gettempdir())]
    except Exception:  # noqa: BLE001 - the crash report must not crash
        folders = [Path(tempfile.gettempdir())]
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"ganforge-crash-{stamp}-{os.getpid()}.log"
            path.write_text(f"ganforge {' '.join(sys.argv[1:])}\n{text}")
            return path
        except OSError:
            continue
    return None


def _quiet_broken_pipe() -> int:
    """`ganforge info RUN | head`: the reader left; stop writing without a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141  # 128 + SIGPIPE, what a shell tool killed by the closed pipe reports


def main(argv: list[str] | None = None) -> int:
    """Entry point: run a command. A user error is one line on stderr and its exit code (2;
    130 interrupted; 1 a run that failed); anything else is a bug: one line, the traceback in a
    crash log, exit 3 (`--debug` raises it instead)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("GANFORGE_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # a usage error (printed as one line), --help or --version
            return e.code if isinstance(e.code, int) else 2
        args.argv = argv
        _check_common(args)
        return COMMANDS[args.command](args)
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("ganforge: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - the last line of defence, see the docstring
        if debug:
            raise
        log = _crash_report(e)
        message = " ".join(str(e).split())[:300]
        where = f"traceback in {log}" if log else "the traceback could not be saved"
        print(
            f"ganforge: internal error: {type(e).__name__}: {message} ({where}; "
            "rerun with --debug to see it, and please report it)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    sys.exit(main())
