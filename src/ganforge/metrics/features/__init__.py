"""Feature extractors for the metrics, by name: ``mnist``, ``inception``, ``randconv``."""

from __future__ import annotations

from pathlib import Path

from ganforge.errors import GanforgeError
from ganforge.metrics.features.base import Extractor, check_images, extract
from ganforge.metrics.features.inception import InceptionExtractor, find_inception_weights
from ganforge.metrics.features.mnist import MnistExtractor
from ganforge.metrics.features.random_conv import RandomConvExtractor

EXTRACTOR_NAMES = ("mnist", "inception", "randconv")


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
        parts = name.split(":")[1:]
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            numbers = None
        if numbers is None or len(numbers) > 2:
            raise GanforgeError(
                f"bad extractor spec {name!r}",
                fix="use randconv, randconv:RES or randconv:RES:SEED",
            )
        extractor = RandomConvExtractor(*numbers)
    else:
        raise GanforgeError(
            f"unknown feature extractor {name!r}", fix=f"use one of {', '.join(EXTRACTOR_NAMES)}"
        )
    return extractor.to(device) if device is not None else extractor


__all__ = [
    "EXTRACTOR_NAMES",
    "Extractor",
    "InceptionExtractor",
    "MnistExtractor",
    "RandomConvExtractor",
    "check_images",
    "extract",
    "find_inception_weights",
    "get_extractor",
]
