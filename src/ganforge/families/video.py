"""Next-frame prediction (Mathieu, Couprie & LeCun 2016, "Deep multi-scale video prediction
beyond mean square error"): G is given `given_frames` frames and predicts the next
`predicted_frames`; a multi-scale D (nets/video.py) judges the continuation beside the given
frames. G minimises

    l2_weight * |Y^ - Y|_2^2 + l1_weight * |Y^ - Y|_1 + gdl_weight * GDL(Y^, Y)
        + adv_weight * adversarial(D(Y^, X))

with the gradient-difference loss GDL = mean | |dY| - |dY^| |^alpha over both image axes (their
eq. 5), and D the objective of train.loss over every scale's logits (Mathieu et al.: the
original GAN loss; their weights: adv 0.05, lp 1, gdl 1). With adv_weight = 0 D is never
trained: the L2(+GDL) predictor that the adversarial term is compared against.

G predicts `chunk_frames` frames per pass (0: all of them at once). A longer continuation rolls
forward: the next pass is given the last `given_frames` frames so far, its own predictions
included. While training, each later pass is given the true earlier frames instead with a
probability that starts at `teacher_forcing` and falls linearly to 0 over
`teacher_forcing_steps` (scheduled sampling, Bengio et al. 2015); the draw is per clip, from the
trainer's checkpointed RNG.

Batches come from data/moving_mnist.py (VideoClips, MovingMNIST) and data/frames.py:
``real`` = the continuations (N, predicted, C, H, W), ``y`` = the given frames (N, given, C, H, W),
both in [-1, 1].
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn

from ganforge import objectives
from ganforge.config import setting
from ganforge.errors import GanforgeError
from ganforge.families.base import Family, Logs, adversarial_d_terms, fake_diversity
from ganforge.nets.layers import TRANSLATION_NORMS
from ganforge.nets.video import FramePredictor, MultiScaleDiscriminator, auto_unet_depth

PREVIEW_CLIPS = 8  # clips kept from the first batch for the sample grids

VIDEO_SOURCES = ("moving-mnist", "frames")


@dataclass
class VideoSettings:
    """The `[video]` table."""

    given_frames: int = setting(10, "frames the predictor is given")
    predicted_frames: int = setting(10, "frames it learns to predict after them")
    chunk_frames: int = setting(
        0,
        "frames predicted per pass (0: all at once); later passes roll forward on the output",
    )
    l2_weight: float = setting(1.0, "weight of the L2 (mean squared error) term")
    l1_weight: float = setting(0.0, "weight of the L1 term")
    gdl_weight: float = setting(1.0, "weight of the gradient-difference loss (Mathieu 2016)")
    gdl_alpha: float = setting(1.0, "exponent alpha of the gradient-difference loss")
    adv_weight: float = setting(
        0.05, "weight of the adversarial term (0: L2/GDL only, D never trained)"
    )
    pretrain_steps: int = setting(
        0,
        "first N steps: the pixel terms only (L2, L1; no GDL, no adversarial), D idle "
        "(an L2 warm start, as SRGAN's SRResNet phase)",
    )
    d_scales: int = setting(3, "scales the discriminator judges (full size, 1/2, 1/4, ...)")
    teacher_forcing: float = setting(
        0.0, "chance a later pass is given the true earlier frames at step 0 (scheduled sampling)"
    )
    teacher_forcing_steps: int = setting(
        0, "steps over which that chance falls linearly to 0 (0: it stays)"
    )
    unet_depth: int = setting(0, "U-Net levels (0: halve down to 4x4)")
    norm: str = setting(
        "batch", "the predictor's normalisation: batch | instance | none", flag="--video-norm"
    )


def gradient_difference(fake: torch.Tensor, real: torch.Tensor, alpha: float = 1.0):
    """Mathieu et al.'s GDL: mean over pixels of | |grad real| - |grad fake| |^alpha, both axes."""
    fake, real = fake.float(), real.float()
    terms = []
    for dim in (-1, -2):
        d_real = real.diff(dim=dim).abs()
        d_fake = fake.diff(dim=dim).abs()
        terms.append((d_real - d_fake).abs().pow(alpha).mean())
    return terms[0] + terms[1]


class VideoFamily(Family):
    """Given frames in, continuations out: U-Net predictor, multi-scale D."""

    name = "video"

    def __init__(self, config):
        super().__init__(config)
        self._preview: tuple[torch.Tensor, torch.Tensor] | None = None

    # ---- data and nets --------------------------------------------------------------------
    @classmethod
    def load_dataset(cls, config):
        """moving-mnist[:PATH], moving-mnist:test[:PATH] or frames:DIR, as clips of
        given_frames + predicted_frames."""
        s = config.family_settings("video")
        d = config.data
        check_settings(s)
        frames = s.given_frames + s.predicted_frames
        kind, _, arg = d.source.partition(":")
        if kind == "moving-mnist":
            from ganforge.data import moving_mnist

            if arg == "test" or arg.startswith("test:"):
                return moving_mnist.load_moving_mnist_test(
                    d.source, d.resolution, frames, s.given_frames, d.limit or 1000
                )
            return moving_mnist.load_moving_mnist(
                d.source, d.resolution, frames, s.given_frames, d.limit
            )
        if kind == "frames":
            from ganforge.data.frames import load_frames_dataset

            return load_frames_dataset(
                d.source, d.resolution, d.channels, frames, s.given_frames, d.limit
            )
        raise GanforgeError(
            f"the video family trains on clips, not {d.source!r}",
            "--data",
            "use --data moving-mnist[:MNIST_DIR] or --data frames:DIR",
        )

    @property
    def chunk(self) -> int:
        """Frames G predicts per pass."""
        s = self.settings
        return s.chunk_frames or s.predicted_frames

    def shape(self) -> tuple[int, int]:
        """(channels, resolution) of the frames, checked against the [video] frame counts."""
        s, shape = self.settings, self.config.model.sample_shape
        check_settings(s)
        if len(shape) != 4 or shape[2] != shape[3]:
            raise GanforgeError(
                f"the video family needs square clips (frames, C, H, W), got {list(shape)}",
                self.config.data.source,
                "use --data moving-mnist or frames:DIR",
            )
        if shape[0] != s.given_frames + s.predicted_frames:
            raise GanforgeError(
                f"clips of {shape[0]} frames, but [video] asks {s.given_frames} given + "
                f"{s.predicted_frames} predicted",
                self.config.data.source,
                "keep the data's frame count and the [video] settings together",
            )
        return shape[1], shape[2]

    def build(self) -> tuple[nn.Module, nn.Module]:
        spec, s = self.config.model, self.settings
        channels, resolution = self.shape()
        if spec.minibatch_std or spec.minibatch_disc or spec.pack != 1:
            raise GanforgeError(
                "the video family's D has no minibatch-std/discrimination/pack option",
                fix="drop --minibatch-std/--minibatch-disc/--pack",
            )
        depth = s.unet_depth or auto_unet_depth(resolution)
        G = FramePredictor(channels, s.given_frames, self.chunk, spec.g_width, depth, s.norm)
        D = MultiScaleDiscriminator(
            channels,
            s.given_frames + s.predicted_frames,
            resolution,
            spec.d_width,
            s.d_scales,
            spec.spectral_norm,
        )
        return G, D

    def train_discriminator(self, step: int) -> bool:
        """False for the non-adversarial baseline (adv_weight = 0) and while pretraining."""
        return self.settings.adv_weight > 0 and step >= self.settings.pretrain_steps

    # ---- predicting -----------------------------------------------------------------------
    def teacher_forcing(self, step: int) -> float:
        """The chance, at this step, that a later pass sees the true earlier frames."""
        s = self.settings
        if s.teacher_forcing_steps <= 0:
            return s.teacher_forcing
        return s.teacher_forcing * max(0.0, 1.0 - step / s.teacher_forcing_steps)

    def roll(
        self,
        G: nn.Module,
        given: torch.Tensor,
        frames: int,
        truth: torch.Tensor | None = None,
        forcing: float = 0.0,
    ) -> torch.Tensor:
        """`frames` frames after `given` (N, T, C, H, W), pass by pass on G's own output (or,
        with probability `forcing` per clip and pass, on the true frames `truth`)."""
        context, outs, done = given, [], 0
        keep = self.settings.given_frames
        while done < frames:
            out = G(context[:, -keep:])[:, : frames - done]
            outs.append(out)
            done += out.shape[1]
            if done < frames:
                nxt = out
                if truth is not None and forcing > 0:
                    n = given.shape[0]
                    use = torch.rand(n, device=given.device) < forcing
                    real = truth[:, done - out.shape[1] : done].to(out.dtype)
                    nxt = torch.where(use.view(n, 1, 1, 1, 1), real, out)
                context = torch.cat([context[:, -keep:], nxt], 1)
        return torch.cat(outs, 1)

    def predict(self, G: nn.Module, given: torch.Tensor, frames: int | None = None):
        """G's continuation of `given` (N, T >= given_frames, C, H, W) in [-1, 1]: `frames`
        frames (default predicted_frames); more than trained for rolls forward on its own
        output with a warning (the caller picks mode and no_grad)."""
        s = self.settings
        frames = s.predicted_frames if frames is None else frames
        if given.dim() != 5 or given.shape[1] < s.given_frames:
            got = given.shape[1] if given.dim() == 5 else list(given.shape)
            raise GanforgeError(
                f"the predictor needs {s.given_frames} given frames, got {got}",
                fix=f"give at least {s.given_frames} frames",
            )
        if frames > s.predicted_frames:
            warnings.warn(
                f"{frames} frames asked, the model was trained to predict {s.predicted_frames}: "
                "the rest roll forward on its own predictions (expect them to blur)",
                RolloutWarning,
                stacklevel=2,
            )
        return self.roll(G, given, frames)

    # ---- losses ---------------------------------------------------------------------------
    def _batch(self, real, y) -> tuple[torch.Tensor, torch.Tensor]:
        if y is None or y.dim() != 5 or real.dim() != 5:
            raise GanforgeError(
                "the video family needs clips (given frames and their continuations)",
                self.config.data.source,
                "use --data moving-mnist or frames:DIR",
            )
        if self._preview is None:
            self._preview = (y[:PREVIEW_CLIPS].detach().clone(), real[:PREVIEW_CLIPS].clone())
        return real, y

    def discriminator_loss(self, G, D, real, y, d_step):
        real, given = self._batch(real, y)
        with torch.no_grad():
            fake = self.roll(G, given, real.shape[1])
        return adversarial_d_terms(self.config, D, real, fake, given, d_step, None)

    def generator_loss(self, G, D, real, y, step):
        real, given = self._batch(real, y)
        t, s = self.config.train, self.settings
        fake = self.roll(G, given, real.shape[1], real, self.teacher_forcing(step))
        diff = fake.float() - real.float()
        l2 = diff.pow(2).mean()
        loss = s.l2_weight * l2
        logs: Logs = {"l2": l2.detach(), "fake_diversity": fake_diversity(real, fake)}
        if s.l1_weight > 0:
            l1 = diff.abs().mean()
            loss = loss + s.l1_weight * l1
            logs["l1"] = l1.detach()
        pixels_only = step < s.pretrain_steps
        if s.gdl_weight > 0 and not pixels_only:
            gdl = gradient_difference(fake, real, s.gdl_alpha)
            loss = loss + s.gdl_weight * gdl
            logs["gdl"] = gdl.detach()
        if s.adv_weight > 0 and not pixels_only:
            adversarial = objectives.g_loss(t.loss, D(fake, given))
            loss = loss + s.adv_weight * adversarial
            logs["g_loss"] = adversarial.detach()
        logs["g_total"] = loss.detach()
        logs.setdefault("g_loss", logs["g_total"])  # the baseline: its whole loss
        return loss, logs

    # ---- sample grids ---------------------------------------------------------------------
    def sample_latent(self, n, device, generator=None):
        """Video runs continue clips; they sample no noise."""
        raise GanforgeError(
            "this is a video run: it continues clips instead of sampling noise",
            fix="use `ganforge predict RUN INPUT -o OUT.gif`",
        )

    def generate(self, G, n, device, generator=None, labels=None):
        """The sample grid: for each of the first clips seen in training, one row of given
        then predicted frames and one row of given then true frames, as one image
        (1, C, rows * H, frames * W)."""
        if self._preview is None:
            return self.sample_latent(n, device)
        given, truth = (t.to(device) for t in self._preview)
        given, truth = given[:n], truth[:n]
        fake = self.roll(G, given, truth.shape[1]).clamp(-1, 1)
        rows = []
        for g, f, r in zip(given, fake, truth, strict=True):
            rows += [torch.cat([g, f]), torch.cat([g, r])]
        clips = torch.stack(rows)  # (rows, T, C, H, W)
        k, frames, c, h, w = clips.shape
        return clips.permute(2, 0, 3, 1, 4).reshape(1, c, k * h, frames * w)


class RolloutWarning(UserWarning):
    """More frames asked than the predictor was trained for."""


def check_settings(s: VideoSettings) -> None:
    """One-line errors for [video] settings no predictor can use."""
    for name in ("given_frames", "predicted_frames", "d_scales"):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            flag = "--" + name.replace("_", "-")
            raise GanforgeError(f"[video] {name} ({flag}) must be at least 1, got {value!r}")
    if s.chunk_frames > s.predicted_frames:
        raise GanforgeError(
            f"[video] chunk_frames {s.chunk_frames} is more than predicted_frames "
            f"{s.predicted_frames}",
            fix="use 0 (all at once) or a smaller --chunk-frames",
        )
    if s.norm not in TRANSLATION_NORMS:
        raise GanforgeError(
            f"unknown [video] norm {s.norm!r} (--video-norm)",
            fix=f"use one of {', '.join(TRANSLATION_NORMS)}",
        )
    if not 0.0 <= s.teacher_forcing <= 1.0:
        raise GanforgeError(
            f"[video] teacher_forcing (--teacher-forcing) is a probability, got "
            f"{s.teacher_forcing!r}",
            fix="use a value from 0 to 1",
        )
