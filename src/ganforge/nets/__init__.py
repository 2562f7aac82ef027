"""Architectures: a plain dict from name to `build(model_config) -> (generator, discriminator)`."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from ganforge.errors import GanforgeError
from ganforge.nets import dcgan, mlp, resnet

ARCHITECTURES: dict[str, Callable[..., tuple[nn.Module, nn.Module]]] = {
    "mlp": mlp.build,
    "dcgan": dcgan.build,
    "resnet": resnet.build,
}


def get_architecture(name: str) -> Callable[..., tuple[nn.Module, nn.Module]]:
    """The builder registered under `name`."""
    if name not in ARCHITECTURES:
        raise GanforgeError(
            f"unknown architecture {name!r}", fix=f"choose one of: {', '.join(ARCHITECTURES)}"
        )
    return ARCHITECTURES[name]
