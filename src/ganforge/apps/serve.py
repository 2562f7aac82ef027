"""`ganforge serve`: a local web page (gradio) with one tab per trained model, by its kind, and a
tab of runs (info, newest samples, loss curves, refreshed while they train).

Safe by default: it binds 127.0.0.1 (another --host prints a warning), makes no share link,
serves only the models named on its command line (the page takes values and uploads, never a
path), checks uploads for bytes and pixels before decoding them, and runs one job at a time per
model (a bounded queue). Models load once, at start. The tabs live in serve_tabs.py, what they
compute in serve_pages.py; gradio is imported only when the server starts.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganforge import commandline as cl
from ganforge.errors import GanforgeError

INSTALL = "pip install 'ganforge[app]'"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
KINDS = ("image", "sr", "translate", "anomaly", "table", "sequence")


@dataclass
class Served:
    """One model on the page: its tab title, its kind (KINDS), the loaded model, where from."""

    name: str
    kind: str
    model: Any
    source: Path
    run_dir: Path | None = None


# ---- the command line ------------------------------------------------------------------------


def add_parser(sub) -> None:
    """`ganforge serve RUN_OR_MODEL ... [--host] [--port]`."""
    p = sub.add_parser(
        "serve",
        help="a local web page to use trained models (needs the app extra: gradio)",
        description="One tab per model, chosen by its kind (image generator, super-resolution, "
        "translation, anomaly detector, table or sequence synthesizer) and a tab of runs. "
        f"Needs gradio: {INSTALL}.",
    )
    p.add_argument(
        "models",
        metavar="RUN_OR_MODEL",
        nargs="*",
        help="runs, generator/checkpoint/detector files, .gft/.gfs models, or folders of runs "
        "(every run in them); none: the shipped pretrained models",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only; another prints a warning)",
    )
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    p.add_argument(
        "--max-upload-mb", type=float, default=20.0, help="largest upload in MB (default 20)"
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=16_000_000,
        help="most pixels of an uploaded image and of an upscaled result (default 16000000)",
    )
    cl.add_device(p)


def run(args) -> int:
    """Load every model, then serve until Ctrl-C."""
    from ganforge.apps.serve_pages import Limits

    require_gradio()
    if not 0 < args.port < 65536:
        raise GanforgeError(f"--port must be from 1 to 65535, got {args.port}")
    served = load_served(args.models, args.device)
    limits = Limits(int(args.max_upload_mb * 2**20), int(args.max_pixels))
    if args.host not in LOCAL_HOSTS:
        print(
            f"ganforge: warning: serving on {args.host}: anyone who can reach this address can "
            "use the page and its models (there is no password)",
            file=sys.stderr,
        )
    app = launch(served, limits, args.host, args.port)
    print(f"ganforge: serving {len(served)} model(s) at {app.local_url} (Ctrl-C stops)")
    try:
        app.block_thread()
    finally:
        app.close()
    return 0


def require_gradio():
    """The gradio module, or the one-line error that says how to install it."""
    try:
        import gradio
    except ImportError:
        raise GanforgeError(
            "`ganforge serve` needs gradio, which is not installed",
            fix=f"install it with: {INSTALL}",
        ) from None
    return gradio


# ---- what to serve ---------------------------------------------------------------------------


def load_served(specs: list[str], device: str = "cpu", warn=None) -> list[Served]:
    """Every model named (a folder of runs: each run in it), loaded once, with unique names."""
    warn = warn or (lambda line: print(line, file=sys.stderr))
    if not specs:
        specs = pretrained_models()
    found: list[Served] = []
    for spec in specs:
        path = _resolve(spec)
        folder = _folder_models(path)
        if folder is None:
            found.append(load_one(path, device))
            continue
        for item in folder:
            try:
                found.append(load_one(item, device))
            except GanforgeError as e:  # one odd run in a folder does not stop the others
                warn(f"ganforge: warning: skipped {item}: {e}")
        if not folder:
            raise GanforgeError("no run or model file in this folder", str(path))
    if not found:
        raise GanforgeError("nothing to serve", fix="name a run directory or a model file")
    names: set[str] = set()
    for item in found:
        while item.name in names:
            item.name += "'"
        names.add(item.name)
    return found


def _resolve(spec: str) -> Path:
    """A path, or the name of a shipped pretrained model."""
    path = Path(spec).expanduser()
    if path.exists():
        return path
    try:
        from ganforge import pretrained
    except ImportError:
        pretrained = None
    if pretrained is not None and spec in pretrained.names():
        return pretrained.path(spec)
    raise GanforgeError(
        "no such run, model file or folder (nor a pretrained model of that name)", str(path)
    )


def pretrained_models() -> list[str]:
    """The shipped pretrained models' folders (`ganforge serve` with no argument)."""
    try:
        from ganforge import pretrained
    except ImportError:
        pretrained = None
    names = pretrained.names() if pretrained is not None else []
    if not names:
        raise GanforgeError(
            "no model named, and no pretrained models are installed",
            fix="name runs or model files, e.g. `ganforge serve runs/NAME` or `ganforge serve runs/`",
        )
    return [str(pretrained.path(name)) for name in names]


def _pretrained_kind(path: Path) -> str | None:
    """The kind of a pretrained folder (config.json + model.safetensors), None for anything else."""
    try:
        from ganforge import pretrained
    except ImportError:
        return None
    if not pretrained.is_pretrained_folder(path):
        return None
    return pretrained.read_meta(path)["kind"]


def _folder_models(path: Path) -> list[Path] | None:
    """None for a run or a file; for a folder of runs, its runs and model files."""
    from ganforge.run import is_run, runs_below

    if not path.is_dir() or is_run(path) or _pretrained_kind(path) is not None:
        return None
    files = sorted(p for p in path.iterdir() if p.suffix in (".gft", ".gfs") and p.is_file())
    shipped = [p for p in sorted(path.iterdir()) if p.is_dir() and _pretrained_kind(p)]
    return runs_below(path, depth=3) + shipped + files


def load_one(path: Path, device: str = "cpu") -> Served:
    """A run or model file as a Served of the right kind; a one-line error for anything else."""
    from ganforge.families.pix2pix import TranslationFamily
    from ganforge.sampling import load_generator

    name = path.stem if path.is_file() else path.name
    if path.suffix == ".gft":
        from ganforge.tabular import TabularGAN

        return Served(name, "table", TabularGAN.load(path, device), path)
    if path.suffix == ".gfs":
        from ganforge.series.model import TimeSeriesGAN

        return Served(name, "sequence", TimeSeriesGAN.load(path, device), path)
    pretrained = _pretrained_kind(path)
    if pretrained == "tabular":
        from ganforge.tabular import TabularGAN

        return Served(name, "table", TabularGAN.load(path, device), path)
    if pretrained == "anomaly-detector":
        from ganforge.apps.anomaly import AnomalyDetector

        return Served(name, "anomaly", AnomalyDetector.from_pretrained(path, device), path)
    run_dir = path if path.is_dir() and pretrained is None else None
    if path.is_file() and path.parent.name == "checkpoints":
        run_dir = path.parent.parent
    elif path.is_file() and (path.parent / "config.toml").is_file():
        run_dir = path.parent
    if run_dir is not None and path.is_file():
        name = run_dir.name
    if path.name == "detector.pt" or (path.is_dir() and (path / "detector.pt").is_file()):
        from ganforge.apps.anomaly import AnomalyDetector

        return Served(name, "anomaly", AnomalyDetector.load(path, device), path, run_dir)
    try:
        model = load_generator(path, device)
    except GanforgeError:
        _refuse_app_run(run_dir, path)
        raise
    family = model.config.model.family
    if family == "srgan":
        kind = "sr"
    elif isinstance(model.family, TranslationFamily):
        kind = "translate"
    elif family in ("unconditional", "conditional"):
        kind = "image"
    else:
        _refuse(family, path)
    has_run = run_dir is not None and (run_dir / "checkpoints").is_dir()
    return Served(name, kind, model, path, run_dir if has_run else None)


def _refuse(family: str, path: Path):
    fix = {"tabular": "serve its .gft model file", "series": "serve its .gfs model file"}
    raise GanforgeError(
        f"a {family} run has no page of its own",
        str(path),
        fix.get(family, "serve an image-generator, SR, translation or anomaly run"),
    )


def _refuse_app_run(run_dir: Path | None, path: Path) -> None:
    """A table or sequence fit's run directory (its generator needs the model file's data
    layout): say which file to serve instead."""
    import tomllib

    try:
        family = tomllib.loads((run_dir / "config.toml").read_text())["model"]["family"]
    except (OSError, TypeError, KeyError, ValueError):
        return
    if family in ("tabular", "series"):
        _refuse(family, path)


# ---- the server ------------------------------------------------------------------------------


def launch(served: list[Served], limits, host: str = "127.0.0.1", port: int = 7860):
    """Build the page and start it without blocking (the caller blocks or closes it)."""
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from ganforge.apps.serve_tabs import CSS, THEME, build_app

    app = build_app(served, limits)
    try:
        app.launch(
            server_name=host,
            server_port=port,
            share=False,
            prevent_thread_lock=True,
            quiet=True,
            show_error=True,
            max_file_size=limits.max_bytes,
            ssr_mode=False,
            inbrowser=False,
            theme=THEME,
            css=CSS,
        )
    except OSError as e:
        raise GanforgeError(
            f"cannot listen on {host}:{port} ({str(e).splitlines()[0][:120]})",
            fix="choose another --port (or stop the program using it)",
        ) from None
    return app
