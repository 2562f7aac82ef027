"""Two image sets compared directly (``ganforge eval --real A --fake B``): loaded, checked whole
and against each other, and the feature extractor chosen from their normalised shape."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.features import check_extractor_name, choose_extractor, image_shape
from ganforge.metrics.reference import Reference, ReferenceSet, resolve_reference


@dataclass
class Comparison:
    """What ``evaluate`` needs for a direct comparison, and why this extractor."""

    reference: ReferenceSet
    fake: torch.Tensor
    extractor: str
    why: str


def _is_grey_rgb(images: torch.Tensor) -> bool:
    """Three equal channels: grey images stored as RGB (the extractors treat them as grey)."""
    return (
        images.dim() == 4
        and images.shape[1] == 3
        and bool(
            torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 1], images[:, 2])
        )
    )


def _kind(shape: tuple[int, int, int]) -> str:
    return f"{'grey' if shape[0] == 1 else 'RGB'} {shape[1]}x{shape[2]}"


def prepare_comparison(
    real: Reference,
    fake: Reference,
    extractor: str | None = None,
    weights: str | Path | None = None,
) -> Comparison:
    """Load ``real`` (the reference) and ``fake``, check them, choose the extractor.

    Both must hold images of one size; a grey set and an RGB set are refused unless the RGB one
    is grey stored as RGB. With ``extractor`` None the choice follows ``choose_extractor`` on
    the normalised (C, H, W) of the images ((N, H, W) arrays are grey), and ``why`` says it.
    Nothing here runs a feature network.
    """
    if extractor is not None:
        check_extractor_name(extractor)
    fake_set = resolve_reference(fake)
    fake_images = fake_set.images()
    real_set = resolve_reference(real)
    fake_shape = image_shape(fake_images)
    real_shape = real_set.shape or image_shape(real_set.images())
    where = f"--real {real} vs --fake {fake}"
    if real_shape[1:] != fake_shape[1:]:
        raise GanforgeError(
            f"the sets differ in size: real {_kind(real_shape)}, fake {_kind(fake_shape)}",
            where,
            "resize one set to the other's size first (resizing changes the statistics)",
        )
    grey = {real_shape[0], fake_shape[0]} == {1}
    if real_shape[0] != fake_shape[0]:
        rgb = fake_images if fake_shape[0] == 3 else real_set.images()
        if not _is_grey_rgb(rgb):
            raise GanforgeError(
                f"one set is grey and the other colour: real {_kind(real_shape)}, "
                f"fake {_kind(fake_shape)}",
                where,
                "compare images of one kind (convert both to grey or both to RGB)",
            )
        grey = True
    elif fake_shape[0] == 3 and _is_grey_rgb(fake_images):
        grey = real_shape[0] == 1 or _is_grey_rgb(real_set.images())
    if extractor is not None:
        return Comparison(real_set, fake_images, extractor, "--extractor")
    shape = (1, *fake_shape[1:]) if grey else fake_shape
    name, why = choose_extractor(shape, weights)
    return Comparison(real_set, fake_images, name, f"chosen: {why}")
