"""The application verbs' command lines: each verb is an `(add_parser(sub), run(args))` pair in
VERBS, registered by cli.build_parser. Parsing only here (no torch at import: `--help` and a
usage error answer at once); each `run` resolves the run it is given, calls one library
function and prints its lines."""

from __future__ import annotations

import argparse
from pathlib import Path

from ganforge import commandline as cl
from ganforge.apps import series_cli, serve, tabular
from ganforge.errors import GanforgeError

RUN_HELP = (
    "a run directory, a folder of runs (the newest is used), a generator/checkpoint file, or a "
    "pretrained model folder (config.json + model.safetensors)"
)


def _run_arg(p: argparse.ArgumentParser, dest: str = "model", nargs=None) -> None:
    p.add_argument(dest, metavar="RUN_OR_FILE", nargs=nargs, help=RUN_HELP)


# ---- augment ---------------------------------------------------------------------------------


def add_augment(sub) -> None:
    p = sub.add_parser(
        "augment",
        help="export a labelled synthetic dataset from a conditional run",
        description="Write DIR/<class>/<index>.png and DIR/labels.csv from a conditional run; "
        "--filter keeps only samples a classifier assigns to their intended class.",
    )
    _run_arg(p)
    p.add_argument(
        "--per-class", type=int, default=1000, metavar="K", help="images per class (default 1000)"
    )
    p.add_argument("-o", "--output", metavar="DIR", help="new or empty output folder (required)")
    cl.deprecated(p, "--out", dest="output", new="-o/--output DIR")
    p.add_argument(
        "--class",
        dest="classes",
        action="append",
        metavar="CLASS",
        help="export only this class (a name, else an index); repeat for several (default: all)",
    )
    p.add_argument(
        "--filter",
        action="store_true",
        help="keep only samples the classifier agrees with (default: keep all)",
    )
    p.add_argument(
        "--classifier",
        default="mnist",
        help="for --filter: mnist (the shipped digit classifier; default) or an ONNX file "
        "(.onnx, run with onnxruntime) mapping images in [-1, 1] to logits in the run's class "
        "order; .pt2/TorchScript/pickle files are refused (they can run code)",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=0.9,
        help="for --filter: minimum confidence (default 0.9)",
    )
    cl.add_seed(p, "the samples")
    p.add_argument(
        "--truncation", type=float, default=None, help="truncation trick threshold (default: none)"
    )
    cl.add_device(p)


def run_augment(args) -> int:
    from ganforge.apps.augment import export_dataset
    from ganforge.run import resolve_run

    if not args.output:
        raise GanforgeError("augment needs -o/--output DIR", fix="e.g. -o synthetic/")
    report = export_dataset(
        resolve_run(args.model),
        args.output,
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


# ---- upscale / eval-sr -----------------------------------------------------------------------


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
    p.add_argument(
        "--scale", type=int, default=None, help="check the run upscales by this (default: any)"
    )
    cl.add_device(p)


def add_upscale(sub) -> None:
    p = sub.add_parser(
        "upscale",
        help="upscale an image (or a folder of images) with a super-resolution run",
        description="Upscale with a super-resolution run, tile by tile (memory stays bounded).",
    )
    _run_arg(p, nargs="?")
    cl.add_pretrained(p)
    p.add_argument("input", metavar="INPUT", help="an image file or a folder of images")
    p.add_argument(
        "-o", "--output", required=True, help="output file (or folder for a folder; required)"
    )
    p.add_argument(
        "--overlap", type=int, default=8, help="LR pixels tiles overlap and blend (default 8)"
    )
    _add_tiling(p)


def run_upscale(args) -> int:
    from ganforge.apps.sr import upscale_path

    report = upscale_path(
        cl.model_source(args, "upscale"),
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


def add_eval_sr(sub) -> None:
    p = sub.add_parser(
        "eval-sr",
        help="PSNR/SSIM of SR runs and of bicubic on held-out images, and a comparison image",
        description="PSNR/SSIM on Y (BT.601), border cropped by the scale; LR made by "
        "antialiased bicubic downscaling. Several runs (same scale) become several columns.",
    )
    _run_arg(p, "models", nargs="+")
    p.add_argument(
        "--data", default="photos:test", help="photos:test (default) or folder:PATH (HR images)"
    )
    p.add_argument(
        "-o",
        "--output",
        dest="comparison",
        default=None,
        metavar="PNG",
        help="side-by-side crops (default: RUN/eval/sr_comparison.png)",
    )
    cl.deprecated(p, "--comparison", dest="comparison", new="-o/--output PNG")
    p.add_argument(
        "--crop", type=int, default=128, help="HR side of the comparison crops (default 128)"
    )
    cl.add_json(p)
    _add_tiling(p)


def run_eval_sr(args) -> int:
    from ganforge.apps.sr import default_comparison_path, evaluate_sr
    from ganforge.metrics.evaluate import save_result
    from ganforge.run import resolve_run

    models = [resolve_run(m) for m in args.models]
    result = evaluate_sr(
        models,
        args.data,
        comparison=args.comparison or default_comparison_path(models[0]),
        scale=args.scale,
        crop=args.crop,
        tile=args.tile,
        context=args.context,
        device=args.device,
    )
    print("\n".join(result.lines()))
    print(f"comparison {result.comparison}")
    write_json(save_result, result.to_dict(), args.json)
    return 0


def write_json(save, result: dict, path: str | None) -> None:
    """`--json PATH` (`-`: stdout), after the figures are printed; a failure says so in one line."""
    import json
    from pathlib import Path

    if not path:
        return
    if path == cl.STDOUT:
        print(json.dumps(result, indent=2))
        return
    try:
        save(result, Path(path))
    except OSError as e:
        raise GanforgeError(
            f"cannot write the JSON result ({e.strerror or type(e).__name__}); the figures "
            "above are the result",
            str(path),
            "pass --json PATH somewhere writable",
        ) from None
    print(f"wrote      {path}")


# ---- translate -------------------------------------------------------------------------------


def add_translate(sub) -> None:
    p = sub.add_parser(
        "translate",
        help="translate an image (or a folder of images) with a pix2pix or CycleGAN run",
        description="Images are translated at their own size, tile by tile with overlap, and "
        "written in their own format (a .jpg stays .jpg); a folder keeps its sub-paths. "
        "Resize inputs to about the training scale first for the best results.",
    )
    _run_arg(p)
    p.add_argument("input", metavar="INPUT", help="an image file or a folder of images")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="output image file (its suffix picks the format), or a folder (required)",
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
    p.add_argument(
        "--overlap", type=int, default=16, help="pixels tiles overlap and blend (default 16)"
    )
    p.add_argument(
        "--context",
        type=int,
        default=None,
        help="pixels of context per tile (default: the receptive radius: exact tiles)",
    )
    cl.add_device(p)


def run_translate(args) -> int:
    from ganforge.apps.translate import translate_files
    from ganforge.run import resolve_run

    report = translate_files(
        resolve_run(args.model),
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


# ---- predict ---------------------------------------------------------------------------------


def add_predict(sub) -> None:
    p = sub.add_parser(
        "predict",
        help="continue a clip (or a folder of clips) with a video run",
        description="The clip's last given frames (as many as the run was trained with) are "
        "continued by --frames predicted frames. One clip -> a GIF (given, then predicted "
        "frames in a coloured border) or a folder of frames; a folder of clips -> a folder "
        "with one GIF of the predicted frames per clip.",
    )
    _run_arg(p)
    p.add_argument(
        "input",
        metavar="INPUT",
        help="a GIF, a video file, a folder of numbered frames, or a folder of clips",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="OUT.gif or a frames folder for one clip; a folder for a folder of clips (required)",
    )
    p.add_argument(
        "--frames",
        type=int,
        default=None,
        help="frames to predict (default: as many as the run was trained for; more roll "
        "forward on its own output)",
    )
    p.add_argument(
        "--with-given",
        action="store_true",
        help="also write the given frames before the predicted ones (default: off for "
        "folders; a one-clip GIF always has them)",
    )
    cl.add_device(p)


def run_predict(args) -> int:
    from ganforge.apps.predict import predict_files
    from ganforge.run import resolve_run

    report = predict_files(
        resolve_run(args.model),
        args.input,
        args.output,
        args.frames,
        with_given=args.with_given,
        device=args.device,
        warn=_warn,
    )
    print("\n".join(report.lines()))
    return 0


def _warn(line: str) -> None:
    import sys

    print(line, file=sys.stderr)


# ---- export ----------------------------------------------------------------------------------


def add_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write a run's model as ONNX or TorchScript, with a JSON description beside it",
        description="The sampling generator (EMA where kept), an SR or translation generator "
        "(images of any size) or an anomaly detector's score, with a dynamic batch axis, plus "
        "MODEL.json: input/output names, shapes, dtypes, ranges, class names, how to get pixels.",
    )
    _run_arg(p)
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="the model file: NAME.onnx or NAME.pt; a folder for --format pretrained (required)",
    )
    p.add_argument(
        "--format",
        default=None,
        help="onnx, torchscript, or pretrained (a folder: config.json + model.safetensors, "
        "readable like a run) (default: from the suffix of -o: .onnx, .pt)",
    )
    p.add_argument("--opset", type=int, default=17, help="ONNX opset, 13 to 20 (default 17)")
    p.add_argument(
        "--direction",
        choices=["AtoB", "BtoA"],
        default="AtoB",
        help="translation runs: the direction exported (default AtoB; BtoA: CycleGAN only)",
    )


def run_export(args) -> int:
    from ganforge.apps.export import export_model
    from ganforge.run import resolve_run

    report = export_model(
        resolve_run(args.model),
        args.output,
        args.format,
        opset=args.opset,
        direction=args.direction,
    )
    print("\n".join(report.lines()))
    cl.print_made(report.path)
    return 0


# ---- anomaly ---------------------------------------------------------------------------------


def add_anomaly(sub) -> None:
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
        help="normal data: folder:DIR (images), csv:FILE (numeric table), mnist, ... (required)",
    )
    cl.add_run_flags(fit, "detector run", "<method>-<time>")
    cl.deprecated(fit, "-o", dest="run_dir", new="--run-dir RUN")
    fit.add_argument(
        "--method",
        default="ganomaly",
        choices=["ganomaly", "fanogan"],
        help="ganomaly (default) or fanogan",
    )
    fit.add_argument(
        "--steps", type=int, default=None, help="training steps (default: the method's)"
    )
    fit.add_argument(
        "--resolution", type=int, default=None, help="images: side (default 32; mnist 28)"
    )
    fit.add_argument("--channels", type=int, default=0, help="images: 1 or 3 (default: as is)")
    fit.add_argument(
        "--holdout",
        type=float,
        default=0.2,
        help="share of normal data kept for the threshold (default 0.2)",
    )
    fit.add_argument("--fpr", type=float, default=0.05, help="false-positive rate (default 0.05)")
    fit.add_argument(
        "--batch-size", type=int, default=None, help="batch size (default: the method's)"
    )
    cl.add_seed(fit, "the split and the training")
    cl.add_device(fit)
    cl.add_quiet(fit)
    score = verbs.add_parser("score", help="score a folder of images or a CSV; write scores.csv")
    score.add_argument(
        "run",
        metavar="RUN",
        help="a fitted run directory, a folder of runs (the newest), or detector.pt",
    )
    score.add_argument("input", metavar="INPUT", help="a folder of images or a CSV file")
    score.add_argument("-o", "--output", metavar="CSV", help="scores file to write (required)")
    cl.deprecated(score, "--out", dest="output", new="-o/--output CSV")
    score.add_argument(
        "--fpr", type=float, default=None, help="false-positive rate (default: the fit's)"
    )
    score.add_argument(
        "--maps", metavar="DIR", help="images: a residual heat map per input (default: none)"
    )
    cl.add_device(score)


def _anomaly_run_dir(args) -> str:
    """--run-dir, or --out PARENT --name NAME (default name <method>-<time>); `--out RUN` alone
    is the old spelling of the run directory (deprecated)."""
    import sys
    import time

    from ganforge.run import run_location

    if args.out and not args.name and not args.run_dir:
        print(
            "ganforge: warning: `anomaly fit --out RUN` (the run directory) is deprecated "
            "(removed in the next release): use --run-dir RUN, or --out PARENT --name NAME",
            file=sys.stderr,
        )
        return args.out
    default = f"{args.method}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir, _ = run_location(args.out, args.name, args.run_dir, None, default)
    return run_dir or str(Path("runs") / default)


def run_anomaly(args) -> int:
    from ganforge.run import resolve_run

    if args.verb == "fit":
        run_dir = _anomaly_run_dir(args)
        lines = anomaly_fit(
            args.data,
            run_dir,
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
        print("\n".join(lines))
        cl.print_made(run_dir)
        return 0
    if not args.output:
        raise GanforgeError("anomaly score needs -o/--output CSV", fix="e.g. -o scores.csv")
    lines = anomaly_score(
        resolve_run(args.run), args.input, args.output, fpr=args.fpr, maps=args.maps,
        device=args.device,
    )  # fmt: skip
    print("\n".join(lines))
    return 0


# ---- the CLI verbs ---------------------------------------------------------------------------


def anomaly_fit(
    data: str,
    out: str | Path,
    method: str = "ganomaly",
    steps: int | None = None,
    resolution: int | None = None,
    channels: int = 0,
    holdout: float = 0.2,
    fpr: float = 0.05,
    seed: int = 0,
    batch_size: int | None = None,
    device: str = "cpu",
    quiet: bool = False,
) -> list[str]:
    """`ganforge anomaly fit`: load normal data, fit, save RUN/detector.pt; report lines."""
    import numpy as np

    from ganforge.apps.anomaly import DETECTOR_FILE, AnomalyDetector
    from ganforge.data.inputs import load_inputs

    if resolution is None:
        resolution = 28 if data.split(":")[0] == "mnist" else 32
    inputs = load_inputs(data, resolution, channels)
    detector = AnomalyDetector(
        method,
        steps,
        holdout=holdout,
        fpr=fpr,
        seed=seed,
        resolution=resolution,
        batch_size=batch_size,
        device=device,
        quiet=quiet,
    )
    detector._split(len(inputs.data))  # too little data: say so before training
    detector.fit(inputs, run_dir=out)
    n_held = len(detector.holdout_scores_)
    what = f"{len(inputs.data)} {inputs.kind} samples" + (
        f" x {len(inputs.columns or [])} columns" if inputs.kind == "table" else ""
    )
    return [
        f"ganforge: fitted {method} on {what} ({len(inputs.data) - n_held} train, "
        f"{n_held} held out) in {detector.config_.train.steps} steps",
        f"ganforge: threshold {detector.threshold():.6g} at --fpr {fpr:g} "
        f"(held-out normal scores: median {np.median(detector.holdout_scores_):.6g})",
        f"ganforge: detector saved to {Path(out) / DETECTOR_FILE}",
        f"ganforge: next: ganforge anomaly score {out} INPUT -o scores.csv",
    ]


def anomaly_score(
    run: str | Path,
    data: str,
    out: str | Path,
    fpr: float | None = None,
    maps: str | Path | None = None,
    device: str = "cpu",
) -> list[str]:
    """`ganforge anomaly score`: score a folder / CSV with a fitted run; write scores.csv."""
    import csv

    from ganforge.apps.anomaly import AnomalyDetector
    from ganforge.data.inputs import load_inputs
    from ganforge.images import write_maps
    from ganforge.io_checks import check_writable

    # Outputs are checked before any work, so scoring is never lost to an unwritable path.
    out = check_writable(out, what="scores file", fix="choose a writable -o path")
    if maps is not None:
        maps = check_writable(
            maps, folder=True, what="heat-map folder", fix="choose a writable --maps folder"
        )
    detector = AnomalyDetector.load(run, device)
    threshold = detector.threshold(fpr)  # an impossible --fpr fails before any work
    if maps is not None and detector.kind_ != "image":
        raise GanforgeError("--maps draws heat maps of images; this detector scores tables")
    if detector.kind_ == "image":
        c, res = detector.config_.model.sample_shape[0], detector.config_.model.sample_shape[-1]
        inputs = load_inputs(data, res, c)
    else:
        inputs = load_inputs(data)
    if maps is not None:
        scores, images, residuals = detector.score_and_maps(inputs)
    else:
        scores = detector.score(inputs)
    flags = scores > threshold
    key = "path" if detector.kind_ == "image" else "row"
    try:  # the scores first: the heat maps are the secondary output
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([key, "score", "anomaly"])
            for name, score, flag in zip(inputs.names, scores, flags, strict=True):
                writer.writerow([name, f"{score:.8g}", int(flag)])
    except OSError as e:
        raise GanforgeError(f"cannot write the scores ({e.strerror or e})", str(out)) from None
    if maps is not None:
        try:
            write_maps(maps, inputs.names, images, residuals, detector.map_scale_)
        except OSError as e:
            raise GanforgeError(
                f"cannot write the heat maps ({e.strerror or e}); the scores were written to {out}",
                str(maps),
                "choose a writable --maps folder",
            ) from None
    rate = detector.fpr if fpr is None else fpr
    lines = [
        f"ganforge: scored {len(scores)} inputs with {detector.method}; threshold "
        f"{threshold:.6g} at --fpr {rate:g}; {int(flags.sum())} flagged as anomalies",
        f"ganforge: scores written to {out}",
    ]
    if maps is not None:
        lines.append(f"ganforge: heat maps written to {maps}/")
    return lines


# ---- the table -------------------------------------------------------------------------------

VERBS = {
    "augment": (add_augment, run_augment),
    "anomaly": (add_anomaly, run_anomaly),
    "upscale": (add_upscale, run_upscale),
    "eval-sr": (add_eval_sr, run_eval_sr),
    "translate": (add_translate, run_translate),
    "predict": (add_predict, run_predict),
    "export": (add_export, run_export),
    "tabular": (tabular.add_parser, tabular.run),
    "series": (series_cli.add_series_parser, series_cli.run),
    "serve": (serve.add_parser, serve.run),
}
