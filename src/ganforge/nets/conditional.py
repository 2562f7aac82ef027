"""Class-conditional MLP and DCGAN networks (Mirza & Osindero 2014), built around the
unconditional ones in nets/mlp.py and nets/dcgan.py rather than beside them.

Generators take the label in one of two ways:

- ``embed``: a learned label embedding concatenated to the noise (Mirza & Osindero 2014);
- ``cbn``: conditional BatchNorm, a per-class scale and shift in every BatchNorm of the DCGAN
  generator (de Vries 2017; Miyato & Koyama 2018). DCGAN only: the MLP generator has no norm.

Discriminators wrap an unconditional one, split into its features and its logit head:

- ``projection`` (Miyato & Koyama 2018): D(x, y) = head(phi(x)) + <V[y], phi(x)>, where phi(x)
  is the flattened input of the head (the same vector the head reads);
- ``acgan`` (Odena et al. 2017): D(x) = head(phi(x)) ignores y; a linear auxiliary classifier
  on phi(x) gives class logits through ``forward_with_classes``.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.nets import resnet
from ganforge.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.nets.layers import ConditionalBatchNorm2d, flatten_logits, maybe_spectral_norm
from ganforge.nets.mlp import MLPDiscriminator, MLPGenerator

CONDITIONINGS = ("projection", "acgan")
G_CONDITIONINGS = ("embed", "cbn")


def _need_labels(y: torch.Tensor | None) -> torch.Tensor:
    if y is None:
        raise ValueError("a conditional network needs class labels y (int64, shape (N,))")
    return y


def _small_normal(module: nn.Module) -> nn.Module:
    # The DCGAN init (N(0, 0.02)) for the layers added here, so the conditional terms start small.
    nn.init.normal_(module.weight, 0.0, 0.02)
    if getattr(module, "bias", None) is not None:
        nn.init.zeros_(module.bias)
    return module


class ConditionalMLPGenerator(nn.Module):
    """(z, y) -> MLPGenerator([z, embedding(y)])."""

    def __init__(
        self,
        latent_dim: int,
        sample_shape: tuple[int, ...],
        width: int,
        layers: int,
        num_classes: int,
        embed_dim: int,
    ):
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.body = MLPGenerator(latent_dim + embed_dim, sample_shape, width, layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.body(torch.cat([z, self.embed(_need_labels(y))], 1))


class ConditionalDCGANGenerator(nn.Module):
    """(z, y) -> DCGAN generator, with y as an embedding beside z or as conditional BatchNorm."""

    def __init__(
        self,
        latent_dim: int,
        channels: int,
        resolution: int,
        width: int,
        num_classes: int,
        mode: str = "embed",
        embed_dim: int = 32,
        extra_layers: int = 0,
    ):
        super().__init__()
        self.latent_dim, self.num_classes, self.mode = latent_dim, num_classes, mode
        extra = embed_dim if mode == "embed" else 0
        self.body = DCGANGenerator(latent_dim + extra, channels, resolution, width, extra_layers)
        if mode == "embed":
            self.embed = nn.Embedding(num_classes, embed_dim)
        else:
            # Swap each BatchNorm of the plain generator for its class-conditional version.
            layers = self.body.net
            for i, layer in enumerate(layers):
                if isinstance(layer, nn.BatchNorm2d):
                    layers[i] = ConditionalBatchNorm2d(layer.num_features, num_classes)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        y = _need_labels(y)
        if self.mode == "embed":
            return self.body(torch.cat([z, self.embed(y)], 1))
        x = z.view(z.shape[0], -1, 1, 1)
        for layer in self.body.net:
            x = layer(x, y) if isinstance(layer, ConditionalBatchNorm2d) else layer(x)
        return x


class _ConditionalDiscriminator(nn.Module):
    """An unconditional D seen as features -> logit head, plus a projection or an AC classifier."""

    def __init__(
        self, body: nn.Module, feature_dim: int, num_classes: int, conditioning: str, sn: bool
    ):
        super().__init__()
        self.body, self.num_classes, self.conditioning = body, num_classes, conditioning
        if conditioning == "projection":
            self.embed = maybe_spectral_norm(
                _small_normal(nn.Embedding(num_classes, feature_dim)), sn
            )
        else:
            self.classifier = maybe_spectral_norm(
                _small_normal(nn.Linear(feature_dim, num_classes)), sn
            )

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """The body's features, in the shape its head reads."""
        raise NotImplementedError

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """The body's unconditional logit, shape (N,)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.trunk(x)
        logits = self.head(h)
        if self.conditioning == "projection":
            logits = logits + (self.embed(_need_labels(y)) * h.flatten(1)).sum(1)
        return logits

    def forward_with_classes(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """AC-GAN: (real/fake logits (N,), class logits (N, num_classes)) in one pass."""
        h = self.trunk(x)
        return self.head(h), self.classifier(h.flatten(1))


class ConditionalMLPDiscriminator(_ConditionalDiscriminator):
    """MLPDiscriminator split before its last linear layer."""

    def __init__(
        self,
        sample_shape: tuple[int, ...],
        width: int,
        layers: int,
        num_classes: int,
        conditioning: str = "projection",
        sn: bool = False,
        minibatch_std: bool = False,
        minibatch_disc: bool = False,
    ):
        body = MLPDiscriminator(sample_shape, width, layers, sn, minibatch_std, minibatch_disc)
        # The head's input: the last hidden layer plus any anti-collapse features.
        super().__init__(body, body.net[-1].in_features, num_classes, conditioning, sn)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        return self.body.net[:-1](x.flatten(1))

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return flatten_logits(self.body.net[-1](h))


class ConditionalDCGANDiscriminator(_ConditionalDiscriminator):
    """DCGANDiscriminator split between its strided convolutions and its base x base head."""

    def __init__(
        self,
        channels: int,
        resolution: int,
        width: int,
        num_classes: int,
        conditioning: str = "projection",
        norm: str = "batch",
        sn: bool = False,
        minibatch_std: bool = False,
        minibatch_disc: bool = False,
        extra_layers: int = 0,
    ):
        body = DCGANDiscriminator(
            channels, resolution, width, norm, sn, minibatch_std, minibatch_disc, extra_layers
        )
        # The head is a base x base convolution over the whole last feature map: a linear layer.
        head = body.head
        feature_dim = head.in_channels * head.kernel_size[0] * head.kernel_size[1]
        super().__init__(body, feature_dim, num_classes, conditioning, sn)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        return self.body.features(x)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return flatten_logits(self.body.head(h))


def build(
    spec, conditioning: str = "projection", g_conditioning: str = "embed", embed_dim: int = 32
) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for a ModelConfig with sample_shape and num_classes filled in,
    and the family's `[conditional]` settings (D and G conditioning, label embedding size)."""
    k = spec.num_classes
    if conditioning not in CONDITIONINGS:
        raise GanforgeError(
            f"unknown conditioning {conditioning!r}", fix=f"use {' or '.join(CONDITIONINGS)}"
        )
    if g_conditioning not in G_CONDITIONINGS:
        raise GanforgeError(
            f"unknown generator conditioning {g_conditioning!r}",
            fix=f"use {' or '.join(G_CONDITIONINGS)}",
        )
    if spec.pack > 1:
        raise GanforgeError(
            "PacGAN packing cannot carry class labels",
            fix="use --pack 1 with the conditional family",
        )
    shape = tuple(spec.sample_shape)
    anti_collapse = (spec.minibatch_std, spec.minibatch_disc)
    if spec.arch == "mlp":
        if g_conditioning == "cbn":
            raise GanforgeError(
                "conditional BatchNorm needs the dcgan architecture (the MLP has no BatchNorm)",
                fix="use g_conditioning = embed with --arch mlp",
            )
        g = ConditionalMLPGenerator(
            spec.latent_dim, shape, spec.g_width, spec.mlp_layers, k, embed_dim
        )
        d = ConditionalMLPDiscriminator(
            shape,
            spec.d_width,
            spec.mlp_layers,
            k,
            conditioning,
            spec.spectral_norm,
            *anti_collapse,
        )
        return g, d
    if spec.arch == "dcgan":
        if len(shape) != 3 or shape[1] != shape[2]:
            raise GanforgeError(
                f"the dcgan architecture needs square images, got samples of shape {list(shape)}",
                fix="use --arch mlp for vector data",
            )
        channels, resolution = shape[0], shape[1]
        g = ConditionalDCGANGenerator(
            spec.latent_dim,
            channels,
            resolution,
            spec.g_width,
            k,
            g_conditioning,
            embed_dim,
            spec.g_extra_layers,
        )
        d = ConditionalDCGANDiscriminator(
            channels,
            resolution,
            spec.d_width,
            k,
            conditioning,
            spec.d_norm,
            spec.spectral_norm,
            *anti_collapse,
            spec.d_extra_layers,
        )
        return g, d
    if spec.arch == "resnet":
        if conditioning != "projection" or g_conditioning != "embed":
            raise GanforgeError(
                "the resnet architecture conditions by projection in D and embedding in G",
                fix="use conditioning = projection and g_conditioning = embed with --arch resnet",
            )
        return resnet.build_conditional(spec)
    raise GanforgeError(
        f"the conditional family has no {spec.arch!r} architecture", fix="use mlp, dcgan or resnet"
    )
