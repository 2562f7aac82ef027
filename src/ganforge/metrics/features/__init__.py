"""Feature extractors for the metrics, by name: ``mnist``, ``inception``, ``randconv``."""

from __future__ import annotations

from pathlib import Path

from ganforge.errors import GanforgeError
from ganforge.metrics.features.base import (
    Extractor,
    check_images,
    extract,
    image_shape,
    validate_images,
)
from ganforge.metrics.features.inception import InceptionExtractor, find_inception_weights
from ganforge.metrics.features.mnist import MnistExtractor
from ganforge.metrics.features.random_conv import RandomConvExtractor

EXTRACTOR_NAMES = ("mnist", "inception", "randconv")
# Grey square images this close to MNIST's 28x28 (e.g. 32x32 padded digits) go to the digit
# classifier; it resizes them to 28 bilinearly.
MNIST_SIDES = range(24, 33)


def _randconv_numbers(name: str) -> list[int]:
    parts = name.split(":")[1:]
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = None
    if numbers is None or len(numbers) > 2 or (numbers and numbers[0] < 8):
        raise GanforgeError(
            f"bad extractor spec {name!r}",
            fix="use randconv, randconv:RES or randconv:RES:SEED (RES >= 8)",
        )
    return numbers


def check_extractor_name(name: str) -> None:
    """Refuse an unknown extractor name before anything is loaded or computed."""
    if name in ("mnist", "inception"):
        return
    if name.split(":")[0] == "randconv":
        _randconv_numbers(name)
        return
    raise GanforgeError(
        f"unknown feature extractor {name!r}", fix=f"use one of {', '.join(EXTRACTOR_NAMES)}"
    )


def choose_extractor(shape: tuple[int, int, int], weights: str | Path | None = None) -> tuple:
    """(name, why) of the default extractor for images of ``shape`` (C, H, W), normalised.

    Grey square images of side 24-32 (MNIST-like) -> ``mnist``; anything else -> ``inception``
    when its weights are found (``weights``, $GANFORGE_INCEPTION_WEIGHTS or the cache folder),
    else ``randconv`` (relative comparisons only). An explicit ``weights`` path that does not
    exist is an error, not a silent fallback.
    """
    channels, height, width = shape
    what = f"{'grey' if channels == 1 else f'{channels}-channel'} {height}x{width} images"
    if channels == 1 and height == width and height in MNIST_SIDES:
        return "mnist", f"{what}: the shipped digit classifier"
    if weights is not None:
        find_inception_weights(weights)  # a named file that is missing is the user's mistake
        return "inception", f"{what}: the FID InceptionV3 (weights given)"
    try:
        path = find_inception_weights()
    except GanforgeError:
        return "randconv", (
            f"{what}, no Inception weights found: random conv features, relative comparisons "
            "only (pass --extractor inception --inception-weights FILE for the standard space)"
        )
    return "inception", f"{what}: the FID InceptionV3 (weights {path})"


def get_extractor(
    name: str | Extractor,
    device: str | None = "cpu",
    weights: str | Path | None = None,
) -> Extractor:
    """Build an extractor by name (an Extractor passes through), moved to ``device``.

    ``weights`` overrides the weights file (``mnist``: the shipped classifier; ``inception``:
    pytorch-fid's pt_inception file, see ``find_inception_weights``). ``randconv`` takes an
    optional resolution and seed as ``randconv:RES`` or ``randconv:RES:SEED``.
    """
    if isinstance(name, Extractor):
        extractor = name
    elif name == "mnist":
        extractor = MnistExtractor(weights)
    elif name == "inception":
        extractor = InceptionExtractor(weights)
    elif name.split(":")[0] == "randconv":
        extractor = RandomConvExtractor(*_randconv_numbers(name))
    else:
        check_extractor_name(name)
        raise AssertionError(name)  # check_extractor_name refused it
    return extractor.to(device) if device is not None else extractor


__all__ = [
    "EXTRACTOR_NAMES",
    "Extractor",
    "InceptionExtractor",
    "MnistExtractor",
    "RandomConvExtractor",
    "check_extractor_name",
    "check_images",
    "choose_extractor",
    "extract",
    "find_inception_weights",
    "get_extractor",
    "image_shape",
    "validate_images",
]
