"""What the apps accept as data, normalised once: arrays and tensors, data frames, datasets,
numeric tables, and data specs (`csv:FILE`, `folder:DIR`, `mnist`, ...). Images come out in
[-1, 1] as (N, C, H, W); tables as raw float64 rows (N, D) with their column names."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganforge.data.dataset import InMemoryDataset
from ganforge.data.tables import NumericTable, read_numeric_csv
from ganforge.errors import GanforgeError
from ganforge.images import to_model_range


@dataclass
class Inputs:
    """Data ready for a detector: images in [-1, 1] (N, C, H, W) or raw table rows (N, D)."""

    data: torch.Tensor
    kind: str  # "image" | "table"
    names: list[str]  # one per sample: a file path or a row number
    columns: list[str] | None = None  # tables only
    source: str = "array"

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample."""
        return tuple(self.data.shape[1:])


def _float_images(x: torch.Tensor, where: str) -> torch.Tensor:
    if x.dtype == torch.uint8:
        return to_model_range(x)
    if x.dtype == torch.bool or not (x.is_floating_point() or x.dtype in _INT_TYPES):
        raise GanforgeError(f"images of dtype {x.dtype} are not supported", where)
    x = x.float()
    if not torch.isfinite(x).all():
        raise GanforgeError("images hold NaN or infinite values", where)
    if x.numel() and (x.min() < -1.001 or x.max() > 1.001):
        raise GanforgeError(
            f"image values span [{float(x.min()):.3g}, {float(x.max()):.3g}]",
            where,
            "pass uint8 images (0-255) or floats in [-1, 1]",
        )
    return x.clamp(-1.0, 1.0)


_INT_TYPES = (torch.int16, torch.int32, torch.int64, torch.int8)


def _table_from_frame(frame: Any, where: str) -> NumericTable:
    """A pandas-like data frame (duck-typed: .columns, .dtypes, .to_numpy) as a numeric table."""
    columns = [str(c) for c in frame.columns]
    bad = [
        str(c) for c, dt in zip(frame.columns, frame.dtypes, strict=True) if dt.kind not in "biuf"
    ]
    if bad:
        raise GanforgeError(
            f"non-numeric columns: {', '.join(bad[:5])}",
            where,
            "drop those columns or encode them as numbers",
        )
    return NumericTable(frame.to_numpy(dtype=np.float64), columns, where)


def as_inputs(x: Any, columns: Sequence[str] | None = None) -> Inputs:
    """Normalise what a user passes: arrays/tensors, data frames, InMemoryDataset, NumericTable."""
    if isinstance(x, Inputs):
        return x
    if isinstance(x, NumericTable):
        return _table_inputs(x.values, x.columns, x.source)
    if isinstance(x, InMemoryDataset):
        names = list(x.meta.get("paths") or [str(i) for i in range(len(x))])
        if x.is_image:
            return Inputs(x.to_model_range(x.data), "image", names, source=x.name)
        return _table_inputs(x.data.double().numpy(), columns, x.name)
    if hasattr(x, "columns") and hasattr(x, "to_numpy"):
        table = _table_from_frame(x, "data frame")
        return _table_inputs(table.values, table.columns, "data frame")
    if isinstance(x, (str, os.PathLike)):
        raise TypeError("pass data, or load a path with load_inputs(path)")
    tensor = torch.as_tensor(np.asarray(x)) if not isinstance(x, torch.Tensor) else x
    tensor = tensor.detach().cpu()
    if tensor.dim() == 2:
        if not (tensor.is_floating_point() or tensor.dtype in _INT_TYPES + (torch.uint8,)):
            raise GanforgeError(f"table values of dtype {tensor.dtype} are not numbers", "array")
        return _table_inputs(tensor.double().numpy(), columns, "array")
    if tensor.dim() == 3:
        tensor = tensor[:, None]
    if tensor.dim() != 4:
        raise GanforgeError(
            f"cannot tell images from tables in an array of shape {tuple(tensor.shape)}",
            fix="pass (N, D) table rows or (N, C, H, W) / (N, H, W) images",
        )
    images = _float_images(tensor, "array")
    return Inputs(images, "image", [str(i) for i in range(len(images))])


def _table_inputs(values: np.ndarray, columns: Sequence[str] | None, source: str) -> Inputs:
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).all():
        bad = np.flatnonzero(~np.isfinite(values).all(0))
        names = [columns[j] if columns else f"x{j}" for j in bad[:5]]
        raise GanforgeError(
            f"table columns with NaN or infinite values: {', '.join(names)}",
            source,
            "fill or drop those rows",
        )
    columns = list(columns) if columns is not None else [f"x{j}" for j in range(values.shape[1])]
    if len(columns) != values.shape[1]:
        raise GanforgeError(f"{len(columns)} column names for {values.shape[1]} columns", source)
    names = [str(i) for i in range(len(values))]
    return Inputs(torch.from_numpy(values), "table", names, columns, source)


def load_inputs(spec: str, resolution: int = 32, channels: int = 0) -> Inputs:
    """Data by spec: `csv:FILE` (or a .csv path), `folder:DIR` (or a folder), or any --data
    source ganforge trains on (`mnist`, `mnist:test`, `digits`, ...)."""
    kind, _, arg = spec.partition(":")
    path = Path(spec)
    if kind == "csv" or (path.suffix.lower() == ".csv" and kind != "folder"):
        return as_inputs(read_numeric_csv(arg if kind == "csv" else spec))
    if kind == "folder" or path.is_dir():
        from ganforge.data.folder import load_image_folder

        folder = arg if kind == "folder" else spec
        if not folder:
            raise GanforgeError("folder: needs a path", fix="use folder:DIR")
        dataset = load_image_folder(folder, resolution, channels or None)
        inputs = as_inputs(dataset)
        inputs.source = f"folder:{folder}"
        return inputs
    from ganforge.data import load_dataset

    if path.is_file():
        raise GanforgeError(
            "expected a folder of images or a .csv file", spec, "put the image(s) in a folder"
        )
    if not path.exists() and kind not in ("mnist", "stacked-mnist", "digits", "ring", "grid"):
        raise GanforgeError(
            "no such file or folder", spec, "pass a folder of images, a .csv file, or csv:/folder:"
        )
    dataset = load_dataset(spec, resolution, channels)
    inputs = as_inputs(dataset)
    inputs.source = spec
    return inputs


def unnamed_columns(columns: Sequence[str]) -> bool:
    """Columns named x0, x1, ... by position (an array without names)."""
    return all(c == f"x{j}" for j, c in enumerate(columns))


def shown_names(columns: Sequence[str], shown: int = 5) -> str:
    more = f" and {len(columns) - shown} more" if len(columns) > shown else ""
    return ", ".join(columns[:shown]) + more


def fitted_columns(inputs: Inputs, fitted: Sequence[str]) -> torch.Tensor:
    """A table's values in the `fitted` column order (by name, any order; unnamed arrays by
    position); a missing or extra column is one line naming it."""
    given, data = list(inputs.columns or []), inputs.data
    if unnamed_columns(fitted) or unnamed_columns(given):
        if len(given) != len(fitted):
            raise GanforgeError(
                f"the input has {len(given)} columns, the detector was fitted on {len(fitted)}",
                inputs.source,
                "score a table with the fitted columns",
            )
        return data
    if given == list(fitted):
        return data
    missing = [c for c in fitted if c not in given]
    extra = [c for c in given if c not in fitted]
    if missing or extra:
        parts = [f"missing: {shown_names(missing)}"] if missing else []
        parts += [f"not in the fit: {shown_names(extra)}"] if extra else []
        raise GanforgeError(
            f"the input's columns differ from the fit ({'; '.join(parts)})",
            inputs.source,
            "score a table with exactly the fitted columns",
        )
    return data[:, [given.index(c) for c in fitted]]  # same columns, another order
