"""Models handed on as folders, the Hugging Face way: ``config.json`` + ``model.safetensors``.

A *pretrained folder* holds no pickle at all, so loading a foreign one cannot run code:

- ``config.json``: the format name and version (``ganforge-pretrained`` 1), the ganforge version
  that wrote it, its ``kind`` (``generator``, ``anomaly-detector`` or ``tabular``), the family, the
  whole run config, the class names, the value range, and any non-weight state as plain JSON
  (``state``); shipped models add ``quality`` (measured figures) and ``trained_by`` (command, time).
- ``model.safetensors``: the tensors, named ``generator.<name>`` / ``discriminator.<name>`` (the
  networks' state dicts) and ``state.<name>`` (e.g. a detector's standardisation).

Loading checks the format, version and kind, then every tensor's name, shape and dtype against
the network rebuilt from the config (`check_fits`): a tampered or foreign folder is one line
naming it. Folders are written beside their target and renamed into place, so a failed save
leaves nothing half-written. `TrainedGenerator.save_pretrained` / `from_pretrained`
(sampling.py), `AnomalyDetector` and `TabularGAN` build on `save_folder` / `load_folder`.

The models that ship inside the package live in ``assets/pretrained/<name>/`` (trained by
``scripts/train_pretrained.py``): `names`, `path`, `describe`, `resolve`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from ganforge.errors import GanforgeError

FORMAT = "ganforge-pretrained"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
README_FILE = "README.md"
KINDS = {
    "generator": "a generator (for `ganforge sample`, `upscale`, `translate`)",
    "anomaly-detector": "an anomaly detector (for `ganforge anomaly score`)",
    "tabular": "a tabular model (for `ganforge tabular sample`)",
}
PACKAGE_DIR = Path(__file__).parent / "assets" / "pretrained"
_MAX_CONFIG_BYTES = 64 << 20  # a config.json larger than this is no ganforge config


# ---- the folder ------------------------------------------------------------------------------


def is_pretrained_folder(path: str | Path) -> bool:
    """A folder holding a config.json (what a run directory never has: it keeps config.toml)."""
    path = Path(path)
    return path.is_dir() and (path / CONFIG_FILE).is_file()


def _plain(value: Any) -> Any:
    """Tensors / NumPy values / tuples as JSON types (lists, numbers)."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "tolist") and type(value).__module__ == "numpy":
        return value.tolist()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def save_folder(
    folder: str | Path,
    kind: str,
    meta: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    readme: str | None = None,
) -> Path:
    """Write a pretrained folder (config.json + model.safetensors [+ README.md]) atomically.

    ``meta`` (family, config, state ...) goes into config.json after the format header. The
    folder is built beside ``folder`` and renamed into place; an existing ``folder`` is replaced
    only when it is empty or a pretrained folder itself (anything else is refused).
    """
    from safetensors.torch import save_file

    from ganforge import __version__

    if kind not in KINDS:
        raise ValueError(f"unknown pretrained kind {kind!r}")
    folder = Path(folder).expanduser()
    check_target(folder)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ganforge_version": __version__,
        "kind": kind,
    }
    try:
        text = json.dumps({**header, **_plain(meta)}, indent=2, allow_nan=False)
    except ValueError as e:  # NaN/inf in a setting: a bug upstream, never a user mistake
        raise ValueError(f"pretrained config is not plain JSON: {e}") from None
    flat = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    except OSError as e:
        raise GanforgeError(
            f"cannot write the model folder ({e.strerror or e})", str(folder)
        ) from None
    old = None
    try:
        (tmp / CONFIG_FILE).write_text(text + "\n", encoding="utf-8")
        save_file(flat, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT})
        if readme is not None:
            (tmp / README_FILE).write_text(readme, encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700; a model folder is meant to be read
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            os.replace(folder, old)
        os.replace(tmp, folder)
    except OSError as e:
        if old is not None and not folder.exists():
            os.replace(old, folder)
            old = None
        raise GanforgeError(
            f"cannot write the model folder ({e.strerror or e})", str(folder)
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def check_target(folder: Path) -> None:
    """A save target is new, an empty folder, or an earlier pretrained folder (replaced)."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise GanforgeError(
            "the model folder to write is a file", str(folder), "give a new folder name"
        )
    if any(folder.iterdir()) and not is_pretrained_folder(folder):
        raise GanforgeError(
            "the folder already holds other files (it is no pretrained model folder to replace)",
            str(folder),
            "give a new or empty folder",
        )


def read_meta(folder: str | Path, kinds: tuple[str, ...] | None = None) -> dict[str, Any]:
    """config.json of a pretrained folder, checked: format, version and (when given) kind."""
    folder = Path(folder)
    file = folder / CONFIG_FILE
    wanted = " or ".join(KINDS[k] for k in kinds) if kinds else "a ganforge model"
    fix = "give a folder written by save_pretrained (`ganforge export RUN --format pretrained`)"
    if not folder.is_dir():
        raise GanforgeError("no such model folder", str(folder), fix)
    if not file.is_file():
        raise GanforgeError(f"no {CONFIG_FILE} in the model folder", str(folder), fix)
    try:
        if file.stat().st_size > _MAX_CONFIG_BYTES:
            raise GanforgeError(f"{CONFIG_FILE} is too large for a model config", str(file), fix)
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        reason = getattr(e, "strerror", None) or type(e).__name__
        raise GanforgeError(
            f"{CONFIG_FILE} is not readable JSON ({reason})", str(file), fix
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        other = meta.get("model_type") or meta.get("_class_name") if isinstance(meta, dict) else ""
        what = f" (model_type {other!r})" if isinstance(other, str) and other else ""
        raise GanforgeError(
            f"{CONFIG_FILE} belongs to another program{what}, not ganforge",
            str(folder),
            fix,
        )
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise GanforgeError(f"damaged {CONFIG_FILE}: format version {version!r}", str(folder), fix)
    if version > FORMAT_VERSION:
        raise GanforgeError(
            f"model folder format {version} is newer than this ganforge reads ({FORMAT_VERSION})",
            str(folder),
            "upgrade ganforge",
        )
    kind = meta.get("kind")
    if kind not in KINDS:
        raise GanforgeError(f"damaged {CONFIG_FILE}: unknown kind {kind!r}", str(folder), fix)
    if kinds and kind not in kinds:
        raise GanforgeError(f"this folder holds {KINDS[kind]}, not {wanted}", str(folder))
    for key, types in (("config", dict), ("state", (dict, type(None)))):
        if not isinstance(meta.get(key, None), types):
            raise GanforgeError(f"damaged {CONFIG_FILE}: its {key!r} entry", str(folder), fix)
    return meta


def load_folder(
    folder: str | Path, kinds: tuple[str, ...] | None = None
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(config.json, tensors) of a pretrained folder; every failure one line naming it."""
    from safetensors.torch import load_file

    folder = Path(folder)
    meta = read_meta(folder, kinds)
    file = folder / WEIGHTS_FILE
    if not file.is_file():
        raise GanforgeError(f"no {WEIGHTS_FILE} in the model folder", str(folder))
    try:
        tensors = load_file(str(file), device="cpu")
    except Exception as e:  # the load boundary: whatever the bytes are, one line
        reason = str(e).strip().splitlines()[0][:100] if str(e).strip() else type(e).__name__
        raise GanforgeError(
            f"damaged {WEIGHTS_FILE}: not a readable safetensors file ({reason})",
            str(folder),
            "copy the folder again, or save it again with save_pretrained",
        ) from None
    return meta, tensors


def part(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors named ``prefix.<name>``, as {name: tensor}."""
    head = prefix + "."
    return {k[len(head) :]: v for k, v in tensors.items() if k.startswith(head)}


def prefixed(prefix: str, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """{``prefix.<name>``: tensor} of a state dict."""
    return {f"{prefix}.{k}": v for k, v in weights.items()}


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(map(str, t.shape)) + ")"


def check_fits(
    found: dict[str, torch.Tensor],
    expected: dict[str, torch.Tensor],
    where: str | Path,
    what: str,
    fix: str = "the folder was altered or is damaged: copy it again or save it again",
    exact_dtype: bool = True,
) -> None:
    """The tensors of ``found`` are exactly those of ``expected`` (names, shapes, dtypes) and
    finite; else one line naming the first tensor that does not fit."""
    missing = [k for k in expected if k not in found]
    if missing:
        raise GanforgeError(
            f"{what}: tensor {missing[0]!r} is missing ({len(missing)} of {len(expected)})",
            str(where),
            fix,
        )
    extra = [k for k in found if k not in expected]
    if extra:
        raise GanforgeError(
            f"{what}: unexpected tensor {extra[0]!r} ({len(extra)} not in the network)",
            str(where),
            fix,
        )
    for name, want in expected.items():
        got = found[name]
        if got.shape != want.shape:
            raise GanforgeError(
                f"{what}: tensor {name!r} has shape {_shape(got)}, the network needs "
                f"{_shape(want)}",
                str(where),
                fix,
            )
        same_kind = got.is_floating_point() == want.is_floating_point()
        if (exact_dtype and got.dtype != want.dtype) or not same_kind:
            raise GanforgeError(
                f"{what}: tensor {name!r} is {got.dtype}, the network needs {want.dtype}",
                str(where),
                fix,
            )
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise GanforgeError(f"{what}: tensor {name!r} holds NaN or inf", str(where), fix)


def load_checked(module: torch.nn.Module, weights: dict, where: str | Path, what: str) -> None:
    """Load ``weights`` into ``module`` after `check_fits` (nothing loaded when they do not fit)."""
    check_fits(weights, module.state_dict(), where, what)
    module.load_state_dict(weights)


# ---- the models that ship with ganforge ------------------------------------------------------


def names() -> list[str]:
    """The pretrained models shipped inside the package, sorted."""
    if not PACKAGE_DIR.is_dir():
        return []
    return sorted(p.name for p in PACKAGE_DIR.iterdir() if is_pretrained_folder(p))


def path(name: str) -> Path:
    """The folder of a shipped pretrained model (a one-line error listing the names if none)."""
    if name not in names():
        shown = ", ".join(names()) or "none are installed"
        raise GanforgeError(
            f"unknown pretrained model {name!r}",
            "--pretrained",
            f"choose one of: {shown} (ganforge presets --pretrained)",
        )
    return PACKAGE_DIR / name


def describe(name: str) -> dict[str, Any]:
    """What a shipped model is: name, kind, family, a description, its measured quality, its
    classes, and how it was trained (from its config.json)."""
    meta = read_meta(path(name))
    config = meta["config"]
    model = config.get("model", {}) if isinstance(config.get("model"), dict) else {}
    return {
        "name": name,
        "kind": meta["kind"],
        "family": meta.get("family", model.get("family", "")),
        "description": meta.get("description", ""),
        "quality": meta.get("quality", {}),
        "class_names": meta.get("class_names", []),
        "sample_shape": meta.get("sample_shape", model.get("sample_shape", [])),
        "trained_by": meta.get("trained_by", {}),
        "path": str(path(name)),
    }


def quality_line(name: str) -> str:
    """One line: name, family, description and measured quality (`ganforge presets --pretrained`)."""
    info = describe(name)
    figures = info["quality"].get("summary", "") if isinstance(info["quality"], dict) else ""
    text = f"{name}  [{info['family']}] {info['description']}"
    return text + (f"; {figures}" if figures else "")


def resolve(source: str | Path) -> Path:
    """A model given as a path (run, file, folder) or as the name of a shipped model."""
    given = Path(source).expanduser()
    if given.exists():
        return given
    if str(source) in names():
        return path(str(source))
    shown = ", ".join(names()) or "none are installed"
    raise GanforgeError(
        "no such run, model file or folder, and no pretrained model of that name",
        str(source),
        f"give a path, or one of: {shown}",
    )
