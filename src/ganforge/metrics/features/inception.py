"""The ``inception`` extractor: the FID InceptionV3 (TF 2015-12-05 graph as ported by pytorch-fid).

Plain torch, no torchvision. Module and parameter names follow torchvision's Inception3 with
pytorch-fid's FID blocks, so pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` loads as
is. Features: the 2048-d final average pool ("pool3"); logits for the Inception Score:
``pool3 @ fc.weight.T`` WITHOUT the fc bias, as the original IS code (openai/improved-gan
``inception_score/model.py`` multiplies pool_3 by the softmax/logits MatMul weight only) and
torch-fidelity (its ``logits_unbiased`` feature, the default for IS); published Inception Scores
are computed that way, and the bias changes the score.
Input protocol (pytorch-fid's): bilinear resize to 299x299 in torch, grey repeated to RGB,
values in [-1, 1] (pytorch-fid's 2x-1 of [0, 1] input; bilinear resizing commutes with it).
The weights cannot be downloaded at run time; see ``find_inception_weights``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.metrics.cache import cache_root
from ganforge.metrics.features.base import Extractor, fingerprint_bytes

WEIGHTS_ENV = "GANFORGE_INCEPTION_WEIGHTS"
WEIGHTS_FILE = "pt_inception-2015-12-05.pth"
# The name under which pytorch-fid publishes the same file; accepted in the cache folder too.
RELEASE_FILE = "pt_inception-2015-12-05-6726825d.pth"
RELEASE_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + RELEASE_FILE
)


def default_weights_dir() -> Path:
    """$GANFORGE_CACHE or ~/.cache/ganforge: where the Inception weights are looked for."""
    return cache_root()


def find_inception_weights(path: str | Path | None = None) -> Path:
    """The weights file: ``path``, else $GANFORGE_INCEPTION_WEIGHTS, else the cache folder."""
    if path is None:
        path = os.environ.get(WEIGHTS_ENV) or None
    if path is not None:
        path = Path(path).expanduser()
        if path.is_file():
            return path
        looked = str(path)
    else:
        folder = default_weights_dir()
        for name in (WEIGHTS_FILE, RELEASE_FILE):
            if (folder / name).is_file():
                return folder / name
        looked = str(folder / WEIGHTS_FILE)
    raise GanforgeError(
        f"FID InceptionV3 weights not found at {looked}",
        f"ganforge needs pytorch-fid's {RELEASE_FILE} ({RELEASE_URL}) and cannot download it",
        f"copy it to {default_weights_dir() / WEIGHTS_FILE}, set {WEIGHTS_ENV}=PATH "
        "or pass --inception-weights PATH",
    )


class BasicConv2d(nn.Module):
    """Conv (no bias) + BatchNorm (eps 1e-3, as TF) + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """conv -> bn -> relu."""
        return F.relu(self.bn(self.conv(x)))


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    # TF's average pool leaves the zero padding out of the mean (count_include_pad=False).
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 block: 1x1, 5x5, double 3x3 and pooled branches (FID variant: TF average pool)."""

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenate the four branches along channels."""
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        pooled = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([self.branch1x1(x), b5, b3, pooled], 1)


class InceptionB(nn.Module):
    """35 -> 17 reduction block."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Strided conv, strided double conv and max pool, concatenated."""
        b3 = self.branch3x3(x)
        b3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, b3dbl, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convolutions (FID variant: TF average pool)."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenate the four branches along channels."""
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b7dbl = x
        for layer in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            b7dbl = layer(b7dbl)
        pooled = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([self.branch1x1(x), b7, b7dbl, pooled], 1)


class InceptionD(nn.Module):
    """17 -> 8 reduction block."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Two strided conv branches and max pool, concatenated."""
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    """8x8 block with split 1x3/3x1 branches.

    The FID graph pools with a TF average pool in Mixed_7b but a max pool in Mixed_7c (a quirk
    of the 2015 TF graph that pytorch-fid reproduces); ``max_pool`` selects the latter.
    """

    def __init__(self, in_channels: int, max_pool: bool) -> None:
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenate the six outputs along channels."""
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        b3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        b3dbl = torch.cat([self.branch3x3dbl_3a(b3dbl), self.branch3x3dbl_3b(b3dbl)], 1)
        if self.max_pool:
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = _tf_avg_pool(x)
        return torch.cat([self.branch1x1(x), b3, b3dbl, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """InceptionV3 as used for FID: (N, 3, 299, 299) in [-1, 1] -> (pool3 (N, 2048), logits)."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(2048-d pool3 features, 1008 unbiased logits: pool3 @ fc.weight.T, no bias)."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
            self.Mixed_7a,
            self.Mixed_7b,
            self.Mixed_7c,
        ):
            x = block(x)
        pool = torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
        return pool, self.logits(pool)

    def logits(self, pool: torch.Tensor) -> torch.Tensor:
        """The IS logits of pool3 features: pool3 @ fc.weight.T, no bias (torch-fidelity's
        logits_unbiased; the original IS code multiplies by the same weight only)."""
        return pool @ self.fc.weight.T


def load_inception_state(model: FIDInceptionV3, path: Path) -> None:
    """Load pytorch-fid's state dict; only BatchNorm's num_batches_tracked may be absent."""
    from ganforge.training.checkpoint import check_weights, read_torch_file

    fix = f"use pytorch-fid's {RELEASE_FILE}"
    state = read_torch_file(path, "the FID Inception weights", fix)
    check_weights(state, path, "the Inception weights file")
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise GanforgeError(f"Inception weights do not fit ({first})", str(path)) from None
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise GanforgeError(
            f"not the FID Inception weights ({len(missing)} missing keys, e.g. "
            f"{(missing or unexpected)[:2]}, {len(unexpected)} unexpected)",
            str(path),
            f"use pytorch-fid's {RELEASE_FILE}",
        )


class InceptionExtractor(Extractor):
    """FID InceptionV3 features (2048-d pool3) and 1008-class unbiased logits."""

    name = "inception"
    feature_dim = 2048
    num_classes = 1008
    channels = 3
    resolution = 299
    default_batch_size = 50
    input_note = "grey repeated to 3 channels"
    logits_note = (
        "logits_unbiased: pool3 @ fc.weight.T without the fc bias (as the original IS code "
        "and torch-fidelity)"
    )

    def __init__(self, weights: str | Path | None = None) -> None:
        super().__init__()
        path = find_inception_weights(weights)
        # Default init would draw from (and so shift) the caller's global RNG; it is overwritten.
        with torch.random.fork_rng(devices=[]):
            self.net = FIDInceptionV3()
        load_inception_state(self.net, path)
        self._fingerprint = fingerprint_bytes(path.read_bytes())
        self.requires_grad_(False)
        self.eval()

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(2048-d features, 1008 unbiased logits)."""
        return self.net(x)

    def fingerprint(self) -> str:
        """Hash of the weights file."""
        return self._fingerprint

    def cache_name(self) -> str:
        """Tagged: reference features cached before the logits lost the bias are not reused."""
        return "inception-logits_unbiased"
