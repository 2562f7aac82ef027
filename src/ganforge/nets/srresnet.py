"""Super-resolution networks: the SRResNet generator and the SRGAN discriminator (Ledig 2017),
and a VGG19 feature extractor for the perceptual loss, loaded from a local weights file.

SRResNet here is the modified form BasicSR calls MSRResNet (and EDSR, Lim 2017, argued for):
residual blocks conv-ReLU-conv without BatchNorm, PixelShuffle x2 stages (one x3 stage for
scale 3), and a global skip from the bicubic-upscaled input, so the network learns only the
residual detail. Without BatchNorm the output of a pixel depends only on its neighbourhood,
never on the batch or the image size, which is what makes tiled inference exact.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.images import bicubic_resize
from ganforge.nets.layers import discriminator_norm, flatten_logits, maybe_spectral_norm

SCALES = (2, 3, 4, 8)


def _scaled_kaiming(module: nn.Module, factor: float) -> None:
    """Kaiming-normal conv weights times ``factor``, zero biases (BasicSR's default_init_weights)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
            m.weight.data.mul_(factor)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class ResidualBlockNoNorm(nn.Module):
    """x + conv(relu(conv(x))): the SR residual block without BatchNorm (EDSR, MSRResNet)."""

    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x), inplace=True))


class SRResNet(nn.Module):
    """LR image in [-1, 1] (N, C, h, w) -> HR image (N, C, h*scale, w*scale), not clamped."""

    def __init__(self, channels: int = 3, width: int = 64, blocks: int = 16, scale: int = 4):
        super().__init__()
        if scale not in SCALES:
            raise GanforgeError(
                f"unsupported SR scale {scale}", fix=f"use one of {', '.join(map(str, SCALES))}"
            )
        self.scale = scale
        self.conv_first = nn.Conv2d(channels, width, 3, padding=1)
        self.body = nn.Sequential(*(ResidualBlockNoNorm(width) for _ in range(blocks)))
        factors = [3] if scale == 3 else [2] * int(math.log2(scale))
        up: list[nn.Module] = []
        for f in factors:
            up += [
                nn.Conv2d(width, width * f * f, 3, padding=1),
                nn.PixelShuffle(f),
                nn.LeakyReLU(0.1, inplace=True),
            ]
        self.upsample = nn.Sequential(*up)
        self.conv_hr = nn.Conv2d(width, width, 3, padding=1)
        self.conv_last = nn.Conv2d(width, channels, 3, padding=1)
        # Residual blocks start small (x0.1) and the last conv smaller (x0.01): each block is
        # near the identity and the untrained network outputs about the bicubic image. The
        # other layers keep full Kaiming scale (x0.1 everywhere, as BasicSR, compounds into a
        # residual ~1e-4 that takes far more steps than a CPU budget to grow).
        _scaled_kaiming(self, 1.0)
        _scaled_kaiming(self.body, 0.1)
        _scaled_kaiming(self.conv_last, 0.01)
        # How far (in LR pixels) an output pixel sees: 1 per 3x3 conv at LR, 1/f after each
        # upsampling by f, and 2 for the bicubic skip. Tiles with this much context are exact.
        radius, level = 1 + 2 * blocks, 1
        for f in factors:
            radius += 1 / level  # the conv before this PixelShuffle
            level *= f
        radius += 2 / level  # conv_hr and conv_last at HR
        self.receptive_radius = max(math.ceil(radius), 2) + 1  # +1: margin for alignment

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv_first(lr), 0.1)
        x = self.upsample(self.body(x))
        x = self.conv_last(F.leaky_relu(self.conv_hr(x), 0.1))
        h, w = lr.shape[-2:]
        return x + bicubic_resize(lr, (h * self.scale, w * self.scale))


class SRDiscriminator(nn.Module):
    """The SRGAN discriminator (Ledig 2017, fig. 4): 8 conv layers, 4 of them stride 2, then
    dense(16 * width) - LeakyReLU - dense(1); HR crops of a fixed size in, logits (N,) out."""

    def __init__(
        self,
        channels: int = 3,
        crop: int = 96,
        width: int = 64,
        norm: str = "batch",
        spectral_norm: bool = False,
    ):
        super().__init__()
        stages: list[nn.Module] = []
        cin, size = channels, crop
        for i in range(8):
            cout = width * 2 ** (i // 2)
            stride = 2 if i % 2 else 1
            layers: list[nn.Module] = [
                maybe_spectral_norm(nn.Conv2d(cin, cout, 3, stride, 1), spectral_norm)
            ]
            if i > 0:  # no normalisation on the first layer (Ledig 2017; Radford 2016)
                layers.append(discriminator_norm(norm, cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            stages.append(nn.Sequential(*layers))
            cin, size = cout, (size + 1) // 2 if stride == 2 else size
        self.stages = nn.ModuleList(stages)
        hidden = 16 * width
        self.head = nn.Sequential(
            nn.Flatten(),
            maybe_spectral_norm(nn.Linear(cin * size * size, hidden), spectral_norm),
            nn.LeakyReLU(0.2, inplace=True),
            maybe_spectral_norm(nn.Linear(hidden, 1), spectral_norm),
        )

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(logits (N,), the activations after each stride-2 stage) for feature losses."""
        feats = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i % 2:
                feats.append(x)
        return flatten_logits(self.head(x)), feats

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.features(x)[0]


# torchvision's vgg19().features layout: conv widths, "M" = max pool. Indices into the
# Sequential match torchvision's, so its state dict (features.N.weight) loads unchanged.
_VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M")
_VGG19 += (512, 512, 512, 512, "M", 512, 512, 512, 512)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG19Features(nn.Module):
    """VGG19 up to conv5_4 *before* its ReLU (ESRGAN's choice; SRGAN's VGG54 is after it).

    Input: RGB (or grey, repeated) in [-1, 1]; normalised with the ImageNet mean/std inside.
    Frozen and in eval mode: it only measures distances.
    """

    def __init__(self, weights: str | Path):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for item in _VGG19:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, item, 3, padding=1), nn.ReLU(inplace=True)]
                cin = item
        self.features = nn.Sequential(*layers[:-1])  # stop before the last ReLU
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))
        self._load(Path(weights))
        self.eval().requires_grad_(False)

    def _load(self, path: Path) -> None:
        fix = "pass the torchvision vgg19 weights file (vgg19-dcbb9e9d.pth) saved locally"
        if not path.is_file():
            raise GanforgeError("VGG19 weights file not found", str(path), fix)
        from ganforge.training.checkpoint import read_torch_file

        state = read_torch_file(path, "VGG19 weights", fix)
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise GanforgeError("VGG19 weights file holds no state dict", str(path), fix)
        # Accept the whole model's dict (features.N.*) or the features' own (N.*).
        prefix = "features." if any(str(k).startswith("features.") for k in state) else ""
        wanted = self.features.state_dict()
        picked = {k: state.get(prefix + k) for k in wanted}
        bad = [
            k
            for k, v in picked.items()
            if not isinstance(v, torch.Tensor) or v.shape != wanted[k].shape
        ]
        if bad:
            raise GanforgeError(
                f"VGG19 weights do not fit ({len(bad)} tensors missing or mis-shaped, e.g. "
                f"{prefix}{bad[0]})",
                str(path),
                fix,
            )
        self.features.load_state_dict(picked)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = ((x + 1) * 0.5 - self.mean) / self.std
        return self.features(x)

    def train(self, mode: bool = True) -> VGG19Features:
        return super().train(False)  # always eval: it is a fixed measuring instrument


def build(model_config, scale: int = 4, blocks: int = 16) -> tuple[SRResNet, SRDiscriminator]:
    """(SRResNet, SRGAN discriminator) for a model config (shape fields filled from the data),
    upscaling by `scale` with `blocks` residual blocks (the run's [srgan] settings)."""
    shape = list(model_config.sample_shape) or [3, 96, 96]
    channels, crop = int(shape[0]), int(shape[-1])
    generator = SRResNet(channels, model_config.g_width, blocks, scale)
    discriminator = SRDiscriminator(
        channels, crop, model_config.d_width, model_config.d_norm, model_config.spectral_norm
    )
    return generator, discriminator
