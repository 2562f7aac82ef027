"""Encoders (sample -> latent) and the composite networks of the anomaly families.

The encoders reuse the discriminators' bodies (DCGAN's strided convs, the MLP's hidden layers)
with a latent-sized head instead of the one-logit head, so an encoder and a discriminator of the
same width see the data through the same kind of layers.

- GANomaly (Akcay et al. 2018): G is encoder-decoder-encoder, x -> z = G_E(x) -> x' = G_D(z) ->
  z' = E(x'); D is the usual discriminator, whose penultimate features feed the adversarial loss.
- f-AnoGAN (Schlegl et al. 2019): G is a WGAN generator plus an encoder E trained afterwards to
  invert it, x -> G(E(x)); D is the WGAN critic, whose penultimate features enter izi_f.

Both composites' ``forward(z)`` decodes noise, so `ganforge sample` works on their runs.
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.nets.dcgan import DCGANDiscriminator
from ganforge.nets.layers import PackedDiscriminator, base_size, dcgan_init
from ganforge.nets.mlp import MLPDiscriminator


class ConvEncoder(nn.Module):
    """Image -> latent vector: DCGAN discriminator convs, then a base x base conv to latent_dim."""

    def __init__(
        self, channels: int, resolution: int, width: int, latent_dim: int, norm: str = "batch"
    ):
        super().__init__()
        body = DCGANDiscriminator(channels, resolution, width, norm)
        self.features = body.features
        base = base_size(resolution)
        self.head = nn.Conv2d(body.head.in_channels, latent_dim, base, 1, 0)
        dcgan_init(self.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).flatten(1)


class MLPEncoder(nn.Module):
    """A sample -> the MLP discriminator's hidden LeakyReLU layers -> latent_dim (linear)."""

    def __init__(self, sample_shape: tuple[int, ...], width: int, layers: int, latent_dim: int):
        super().__init__()
        body = MLPDiscriminator(sample_shape, width, layers)
        self.features = body.net[:-1]
        self.head = nn.Linear(width, latent_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.flatten(1)))


def build_encoder(spec) -> nn.Module:
    """An encoder matching `spec.arch` (dcgan: ConvEncoder with d_width; mlp: MLPEncoder)."""
    shape = tuple(spec.sample_shape)
    if spec.arch == "dcgan":
        channels, resolution = shape[0], shape[-1]
        return ConvEncoder(channels, resolution, spec.d_width, spec.latent_dim, spec.d_norm)
    if spec.arch == "mlp":
        return MLPEncoder(shape, spec.d_width, spec.mlp_layers, spec.latent_dim)
    raise GanforgeError(
        f"the anomaly families support --arch dcgan or mlp, not {spec.arch!r}",
        fix="use --arch dcgan for images, --arch mlp for tables",
    )


def discriminator_features(D: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """D's penultimate features of x, flattened to (N, F): what D's last layer reads."""
    if isinstance(D, PackedDiscriminator):
        raise ValueError("discriminator features need one sample per logit (pack = 1)")
    if isinstance(D, DCGANDiscriminator):
        return D.features(x).flatten(1)
    if isinstance(D, MLPDiscriminator):
        return D.net[:-1](x.flatten(1))
    raise TypeError(f"no feature extractor for {type(D).__name__}")


class GANomalyGenerator(nn.Module):
    """Encoder-decoder-encoder (Akcay et al. 2018): the encoder, the decoder, the second encoder."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, encoder2: nn.Module):
        super().__init__()
        self.encoder, self.decoder, self.encoder2 = encoder, decoder, encoder2

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decode latent vectors (sampling); `reconstruct` is the anomaly path."""
        return self.decoder(z)

    def reconstruct(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x', z, z'): the reconstruction, the input's code and the reconstruction's code."""
        z = self.encoder(x)
        x_rec = self.decoder(z)
        return x_rec, z, self.encoder2(x_rec)


class FAnoGANGenerator(nn.Module):
    """A WGAN generator and the encoder trained to invert it (Schlegl et al. 2019)."""

    def __init__(self, generator: nn.Module, encoder: nn.Module):
        super().__init__()
        self.generator, self.encoder = generator, encoder

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Generate from latent vectors."""
        return self.generator(z)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """G(E(x)): the generator's nearest version of x, found through the encoder."""
        return self.generator(self.encoder(x))


def _check_spec(spec, family: str) -> None:
    """Features compared sample by sample must not mix samples: no packing, no batch layers."""
    if spec.pack > 1 or spec.minibatch_std or spec.minibatch_disc:
        raise GanforgeError(
            f"the {family} family compares D features sample by sample",
            fix="turn off --pack, --minibatch-std and --minibatch-disc",
        )


def build_ganomaly(spec) -> tuple[nn.Module, nn.Module]:
    """(GANomalyGenerator, discriminator) for a ModelConfig with sample_shape filled in."""
    from ganforge.nets import get_architecture

    _check_spec(spec, "ganomaly")
    decoder, discriminator = get_architecture(spec.arch)(spec)
    return GANomalyGenerator(build_encoder(spec), decoder, build_encoder(spec)), discriminator


def build_fanogan(spec) -> tuple[nn.Module, nn.Module]:
    """(FAnoGANGenerator, critic) for a ModelConfig with sample_shape filled in."""
    from ganforge.nets import get_architecture

    _check_spec(spec, "fanogan")
    generator, critic = get_architecture(spec.arch)(spec)
    return FAnoGANGenerator(generator, build_encoder(spec)), critic
