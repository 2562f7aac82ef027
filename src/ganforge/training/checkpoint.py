"""Checkpoints: one dict holding everything a run needs to continue exactly; atomic writes."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from ganforge.errors import GanforgeError

FORMAT = "ganforge-checkpoint"
GENERATOR_FORMAT = "ganforge-generator"
FORMAT_VERSION = 1


def atomic_save(obj: Any, path: str | Path) -> None:
    """torch.save to a temp file in the same folder, fsync, then rename over `path`.

    A crash mid-write leaves the previous file intact: the rename is the commit point.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:  # persist the rename itself
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def read_torch_file(path: str | Path, missing: str, damaged: str, fix: str) -> object:
    """torch.load(weights_only=True) on the CPU; a missing or damaged file is one clear line."""
    path = Path(path)
    if not path.is_file():
        raise GanforgeError(missing, str(path))
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (
        RuntimeError,
        OSError,
        EOFError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
        ValueError,
    ) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise GanforgeError(f"{damaged} ({first[:120]})", str(path), fix) from None


def load_file(path: str | Path, expected: tuple[str, ...] = (FORMAT, GENERATOR_FORMAT)) -> dict:
    """Load a ganforge file with weights_only=True, turning damage into one clear line."""
    path = Path(path)
    obj = read_torch_file(
        path,
        "checkpoint not found",
        "checkpoint is truncated or not a torch file",
        "use another checkpoint (checkpoints/ keeps the last few)",
    )
    if not isinstance(obj, dict) or obj.get("format") not in expected:
        raise GanforgeError(
            "not a ganforge checkpoint",
            str(path),
            f"expected one of {', '.join(expected)} written by ganforge",
        )
    if int(obj.get("format_version", 0)) > FORMAT_VERSION:
        raise GanforgeError(
            f"checkpoint format {obj.get('format_version')} is newer than this ganforge "
            f"understands ({FORMAT_VERSION})",
            str(path),
            "upgrade ganforge",
        )
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
