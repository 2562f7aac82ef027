"""Checkpoints: one dict holding everything a run needs to continue exactly; atomic writes."""

from __future__ import annotations

import pickletools
import re
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from ganforge.errors import GanforgeError
from ganforge.io_checks import atomic_write

FORMAT = "ganforge-checkpoint"
GENERATOR_FORMAT = "ganforge-generator"
FORMAT_VERSION = 1

T = TypeVar("T")


def atomic_save(obj: Any, path: str | Path) -> None:
    """torch.save to a temp file in the same folder, fsync, then rename over `path`.

    A crash mid-write leaves the previous file intact: the rename is the commit point.
    """
    with atomic_write(path, "wb", durable=True) as f:
        torch.save(obj, f)


# What each ganforge file format is, for messages that say what a file is and what was wanted.
KINDS = {
    FORMAT: "a ganforge training checkpoint",
    GENERATOR_FORMAT: "a ganforge generator (generator.pt)",
    "ganforge-tabular": "a ganforge tabular model (for `ganforge tabular sample`)",
    "ganforge-anomaly": "a ganforge anomaly detector (for `ganforge anomaly score`)",
    "ganforge-series": "a ganforge series model (for `ganforge series sample`)",
}
_NOUNS = {
    (FORMAT, GENERATOR_FORMAT): "a ganforge checkpoint or model",
    (FORMAT,): "a ganforge training checkpoint",
    (GENERATOR_FORMAT,): "a ganforge generator",
    ("ganforge-tabular",): "a ganforge tabular model",
    ("ganforge-anomaly",): "a ganforge anomaly detector",
}

# The entries every file of a format must hold, and their types (checked right after loading,
# so that a crafted or foreign file never reaches a KeyError or TypeError further on).
REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    FORMAT: {"config": dict, "step": int, "generator": dict, "discriminator": dict},
    GENERATOR_FORMAT: {"config": dict, "state_dict": dict},
}

# Entries that are a network's state dict (names -> tensors).
WEIGHT_ENTRIES = {"generator", "discriminator", "state_dict"}

_FIXES = {
    (FORMAT, GENERATOR_FORMAT): "give a run directory, its generator.pt or a checkpoint written by "
    "`ganforge train`",
    (FORMAT,): "give a run directory or a checkpoint (checkpoints/*.pt) written by ganforge",
    (GENERATOR_FORMAT,): "give a generator.pt written by `ganforge train`",
}


# Nothing in such a file ever runs: weights_only refuses it before anything is built.
_REFUSED = (
    "holds code or Python objects ({}) which ganforge never loads (only tensors and settings)"
)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:100] if text else type(e).__name__


def _what_failed(path: Path, head: bytes, error: Exception) -> str:
    """What a file that torch.load(weights_only=True) refused is, in a few words."""
    message = str(error)
    refused = re.search(r"GLOBAL ([\w.]+)", message)
    if "Weights only load failed" in message and refused:
        return f"a file that {_REFUSED.format(refused.group(1))}"
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            return "a truncated or damaged torch file"
        if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "a zip archive that is not a torch file"
        return f"a damaged torch file ({_first_line(error)})"
    if head[:1] == b"\x80":
        asks = _pickle_imports(path)
        if asks:
            return f"a Python pickle that {_REFUSED.format(asks)}"
        return "a Python pickle of another program (not a torch file)"
    if b"\x00" not in head:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            start = text.strip().splitlines()[0][:24] if text.strip() else ""
            return f"a text file (it starts {start!r})"
    return "unrecognised bytes (not a torch file)"


def _pickle_imports(path: Path, limit: int = 1 << 20) -> str:
    """The first global a plain pickle asks for (read with pickletools, which runs nothing)."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit)
        strings: list[str] = []
        for op, arg, _ in pickletools.genops(data):
            if op.name in ("GLOBAL", "INST"):
                return str(arg).replace(" ", ".")
            if op.name == "STACK_GLOBAL":
                return ".".join(strings[-2:]) or "a global"
            if isinstance(arg, str):
                strings.append(arg)
            if op.name in ("REDUCE", "OBJ", "NEWOBJ", "NEWOBJ_EX", "BUILD"):
                return "an object"
    except Exception:  # a damaged pickle: the caller's description stands
        return ""
    return ""


def read_torch_file(path: str | Path, expected: str, fix: str | None = None) -> object:
    """The one guarded torch.load: weights_only=True, on the CPU.

    Every failure is one line naming the file and ``expected`` (e.g. "a ganforge checkpoint"):
    a missing file, a folder, an empty file, text (a CSV), random bytes, a zip or pickle of
    another program, a truncated torch file, and a file asking to run code or build objects
    (weights_only refuses those: nothing in the file is ever executed).
    """
    path = Path(path)
    if path.is_dir():
        raise GanforgeError(f"not {expected}: a folder", str(path), fix)
    if not path.exists():
        raise GanforgeError(f"no such file (expected {expected})", str(path), fix)
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise GanforgeError(f"cannot read {expected} ({e.strerror})", str(path), fix) from None
    if not head:
        raise GanforgeError(f"not {expected}: an empty file", str(path), fix)
    try:
        with warnings.catch_warnings():  # e.g. "pickle protocol 4": the refusal below says more
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # the load boundary: whatever the bytes are, the user gets one line
        raise GanforgeError(
            f"not {expected}: {_what_failed(path, head, e)}", str(path), fix
        ) from None


def format_tag(path: str | Path) -> str | None:
    """The format tag of a ganforge torch file (None for a folder or an unreadable file:
    the loader then says what is wrong with it)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = read_torch_file(path, "a ganforge model")
    except GanforgeError:
        return None
    tag = state.get("format") if isinstance(state, dict) else None
    return tag if isinstance(tag, str) else None


def _type_name(value: object) -> str:
    return "a tensor" if isinstance(value, torch.Tensor) else f"a {type(value).__name__}"


def check_structure(
    state: dict, required: dict[str, type | tuple[type, ...]], path: str | Path, expected: str
) -> None:
    """Each of ``required`` present with its type; the networks' entries dicts of tensors."""
    for key, kind in required.items():
        value = state.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            found = "missing" if key not in state else f"{_type_name(value)}"
            raise GanforgeError(
                f"damaged {expected.removeprefix('a ')}: its {key!r} entry is {found}",
                str(path),
                "use another file (checkpoints/ keeps the last few) or retrain",
            )
        if key in WEIGHT_ENTRIES:
            check_weights(value, path, f"its {key!r} entry")


def check_weights(weights: object, path: str | Path, name: str) -> dict:
    """A state dict read from a file: a dict from names to tensors (one line if not)."""
    if isinstance(weights, dict) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()
    ):
        return weights
    raise GanforgeError(
        f"damaged file: {name} is not a set of named tensors",
        str(path),
        "use another file written by ganforge",
    )


def load_weights(
    module: torch.nn.Module, weights: dict, path: str | Path, failure: str = "weights do not fit"
) -> None:
    """``module.load_state_dict(weights)``; weights that do not fit are one line naming the
    file: "<failure> the saved config (<first line of torch's message>)"."""
    try:
        module.load_state_dict(weights)
    except RuntimeError as e:
        raise GanforgeError(
            f"{failure} the saved config ({str(e).splitlines()[0]})", str(path)
        ) from None


def rebuild(build: Callable[[], T], path: str | Path, expected: str) -> T:
    """Run ``build`` (networks rebuilt from a file's own config): what a damaged or hand-edited
    config makes the builders raise is one line naming the file, not a traceback."""
    try:
        return build()
    except (ValueError, TypeError, KeyError, IndexError, RuntimeError) as e:
        raise GanforgeError(
            f"damaged {expected.removeprefix('a ')}: its config does not build the networks "
            f"({type(e).__name__}: {_first_line(e)})",
            str(path),
            "use another file written by ganforge, or retrain",
        ) from None


def load_file(
    path: str | Path,
    expected: tuple[str, ...] = (FORMAT, GENERATOR_FORMAT),
    required: dict[str, type | tuple[type, ...]] | None = None,
    fix: str | None = None,
) -> dict:
    """Load a ganforge file of one of the ``expected`` formats (weights_only=True).

    A file that is no torch file, another ganforge format, a newer version, or one missing an
    entry of ``required`` (default: what the format always holds) is one clear line.
    """
    path = Path(path)
    wanted = _NOUNS.get(tuple(expected)) or " or ".join(KINDS.get(f, f) for f in expected)
    if fix is None:
        fix = _FIXES.get(tuple(expected))
    obj = read_torch_file(path, wanted, fix)
    found = obj.get("format") if isinstance(obj, dict) else None
    if found not in expected:
        if isinstance(found, str) and found in KINDS:
            what = f"{KINDS[found]}, not {wanted}"
        elif isinstance(obj, dict):
            what = f"not {wanted}: a torch file that ganforge did not write (no format tag)"
        else:
            what = f"not {wanted}: a torch file holding {_type_name(obj)}"
        raise GanforgeError(what, str(path), fix)
    version = obj.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise GanforgeError(
            f"damaged {wanted.removeprefix('a ')}: its format version is {version!r}", str(path)
        )
    if version > FORMAT_VERSION:
        raise GanforgeError(
            f"checkpoint format {version} is newer than this ganforge understands "
            f"({FORMAT_VERSION})",
            str(path),
            "upgrade ganforge",
        )
    check_structure(obj, REQUIRED.get(found, {}) if required is None else required, path, wanted)
    return obj


def rng_state(device: torch.device) -> dict[str, Any]:
    """Every RNG the loop draws from (torch CPU and the accelerator's)."""
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    """Restore what rng_state saved."""
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def all_finite(module: torch.nn.Module) -> bool:
    """True when every parameter and buffer is finite (a NaN must never reach a checkpoint)."""
    tensors = [t for t in module.state_dict().values() if t.is_floating_point()]
    if not tensors:
        return True
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


def periodic_checkpoints(folder: Path) -> list[Path]:
    """The step_XXXXXXX.pt files in a checkpoint folder, oldest first."""
    return sorted(folder.glob("step_*.pt"))


def latest_checkpoint(run_or_file: str | Path) -> Path:
    """A checkpoint file from a run directory (checkpoints/last.pt) or the file itself."""
    path = Path(run_or_file)
    if path.is_dir():
        for candidate in (path / "checkpoints" / "last.pt", path / "last.pt"):
            if candidate.is_file():
                return candidate
        raise GanforgeError(
            "no checkpoint in run directory", str(path), "train first or name a checkpoint file"
        )
    return path


def model_file(run_or_file: str | Path) -> Path:
    """The file to sample from: a run's generator.pt, else its last checkpoint, else the file."""
    path = Path(run_or_file)
    if path.is_dir():
        if (path / "generator.pt").is_file():
            return path / "generator.pt"
        return latest_checkpoint(path)
    if not path.exists():
        raise GanforgeError("no such run directory or model file", str(path))
    return path
