"""Moving MNIST (Srivastava, Mansimov & Salakhutdinov 2015, "Unsupervised Learning of Video
Representations using LSTMs"): two MNIST digits bouncing inside a 64x64 frame, 20 frames.

As the authors' generator: each digit (28x28) starts at a uniform position inside the frame,
moves in a uniform direction at 0.1 of the free range per frame (3.6 pixels at 64x64), bounces
off the walls, and the two digits are combined by their maximum. Positions are rounded to whole
pixels. At other resolutions the digits and speeds scale with the frame (28 * resolution / 64).

Training sequences are drawn on the fly from MNIST train: ``MovingMNIST.batch(index)`` takes
digit ``index[i]`` as the first digit of sequence i and draws the second digit, positions and
directions from the global torch RNG (the trainer's own checkpointed stream, so a resumed run
sees the same sequences). Test sequences (``test_sequences``) are one fixed set of 10,000 made
from MNIST test digits with the seed TEST_SEED: the first n of them are always the same n.
Generation is vectorised: a batch is rendered with one scatter, no Python loop over sequences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from ganforge.errors import GanforgeError
from ganforge.images import resize_images, to_model_range

FRAMES = 20  # per sequence: 10 given, 10 to predict (the standard protocol)
GIVEN = 10
RESOLUTION = 64
DIGITS = 2
TEST_SIZE = 10_000
TEST_SEED = 2015  # the fixed test set: same seed, same 10,000 sequences
SPEED = 0.1  # of the free range (resolution - digit side) per frame, as Srivastava et al.


def digit_side(resolution: int) -> int:
    """Side of a digit in a `resolution` frame: 28 at 64, scaled alike elsewhere."""
    return max(2, round(28 * resolution / RESOLUTION))


def prepare_digits(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """MNIST images uint8 (N, 28, 28) or (N, 1, 28, 28) -> uint8 (N, s, s) at this frame size."""
    if images.dim() == 3:
        images = images[:, None]
    side = digit_side(resolution)
    return resize_images(images, side)[:, 0].contiguous()


def trajectories(
    n: int, frames: int, free: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Top-left corners (n, frames, DIGITS, 2) of bouncing digits, whole pixels in [0, free]."""
    start = torch.rand(n, 1, DIGITS, 2, generator=generator) * free
    angle = torch.rand(n, 1, DIGITS, generator=generator) * (2 * math.pi)
    velocity = torch.stack([torch.sin(angle), torch.cos(angle)], -1) * (SPEED * free)
    t = torch.arange(frames, dtype=torch.float32).view(1, frames, 1, 1)
    position = start + velocity * t
    if free == 0:
        return torch.zeros(n, frames, DIGITS, 2, dtype=torch.long)
    # Bouncing between 0 and `free` is a triangle wave of the unbounded motion.
    folded = torch.remainder(position, 2 * free)
    folded = torch.where(folded > free, 2 * free - folded, folded)
    return folded.round().long()


def render(digits: torch.Tensor, corners: torch.Tensor, resolution: int) -> torch.Tensor:
    """Frames uint8 (n, frames, 1, R, R): digits (n, DIGITS, s, s) pasted at corners
    (n, frames, DIGITS, 2) (row, column), combined by their maximum."""
    n, frames, k, _ = corners.shape
    side = digits.shape[-1]
    device = digits.device
    corners = corners.to(device)
    frame = torch.arange(n * frames, device=device).view(n, frames, 1) * resolution**2
    start = frame + corners[..., 0] * resolution + corners[..., 1]  # (n, T, k) first pixel
    offsets = torch.arange(side, device=device)
    pattern = offsets[:, None] * resolution + offsets  # (s, s) a digit's pixels in a frame
    # (k, T, n, s, s): one digit's pastes never overlap (each lands in its own frame)
    index = start.permute(2, 1, 0)[..., None, None] + pattern
    values = digits.transpose(0, 1)[:, None].expand(k, frames, n, side, side)
    canvas = torch.zeros(n * frames * resolution**2, dtype=torch.uint8, device=device)
    for i in range(k):  # one plain scatter per digit, combined by their maximum
        layer = torch.zeros_like(canvas).scatter_(0, index[i].reshape(-1), values[i].reshape(-1))
        canvas = torch.maximum(canvas, layer)
    return canvas.view(n, frames, 1, resolution, resolution)


def make_sequences(
    digits: torch.Tensor,
    ids: torch.Tensor,
    frames: int,
    resolution: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sequences uint8 (n, frames, 1, R, R) of the digits at `ids` (n, DIGITS)."""
    free = resolution - digits.shape[-1]
    corners = trajectories(len(ids), frames, free, generator)
    return render(digits[ids.to(digits.device)], corners, resolution)


def _check_resolution(resolution: int) -> None:
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 8:
        raise GanforgeError(
            f"moving-mnist needs a frame of at least 8x8 pixels, got --resolution {resolution!r}",
            fix="use --resolution 64 (the standard protocol) or 16/32 for quick runs",
        )


def _split_spec(source: str) -> str | None:
    """The MNIST folder of a `moving-mnist[:PATH]` spec (None: the usual search)."""
    _, _, path = source.partition(":")
    return path or None


@dataclass
class VideoClips:
    """Fixed clips uint8 (N, T, C, H, W); ``batch`` gives (the last T - given frames, the first
    `given`) in [-1, 1]: the trainer's dataset interface for the video family."""

    clips: torch.Tensor
    given: int
    name: str = "clips"
    meta: dict = field(default_factory=dict)

    labels = None
    class_names = None
    num_classes = 0
    is_image = False  # 5-D clips: no channels_last, no scatter plots

    def __len__(self) -> int:
        return int(self.clips.shape[0])

    @property
    def data(self) -> torch.Tensor:
        """The clips themselves (uint8)."""
        return self.clips

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """(frames, C, H, W) of one clip."""
        return tuple(self.clips.shape[1:])

    def to(self, device) -> VideoClips:
        """The same clips on a device."""
        return VideoClips(self.clips.to(device), self.given, self.name, dict(self.meta))

    def to_model_range(self, raw: torch.Tensor) -> torch.Tensor:
        """uint8 -> [-1, 1]."""
        return to_model_range(raw)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(continuations, given frames) of the clips at ``index``."""
        clips = self.to_model_range(self.clips[index.to(self.clips.device)])
        return clips[:, self.given :], clips[:, : self.given]


@dataclass
class MovingMNIST:
    """Moving MNIST drawn on the fly from a set of digits (see the module docstring)."""

    digits: torch.Tensor  # uint8 (N, s, s)
    frames: int = FRAMES
    given: int = GIVEN
    resolution: int = RESOLUTION
    name: str = "moving-mnist"
    meta: dict = field(default_factory=dict)

    labels = None
    class_names = None
    num_classes = 0
    is_image = False

    def __len__(self) -> int:
        return int(self.digits.shape[0])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """(frames, 1, R, R) of one sequence."""
        return (self.frames, 1, self.resolution, self.resolution)

    def to(self, device) -> MovingMNIST:
        """The same digits on a device (frames are then rendered there)."""
        return MovingMNIST(
            self.digits.to(device),
            self.frames,
            self.given,
            self.resolution,
            self.name,
            dict(self.meta),
        )

    def to_model_range(self, raw: torch.Tensor) -> torch.Tensor:
        """uint8 -> [-1, 1]."""
        return to_model_range(raw)

    def sequences(self, index: torch.Tensor) -> torch.Tensor:
        """uint8 sequences (n, frames, 1, R, R): digit index[i] and a random second digit."""
        index = index.cpu()
        second = torch.randint(len(self), (len(index),))  # the global RNG: the trainer's
        ids = torch.stack([index, second], 1)
        return make_sequences(self.digits, ids, self.frames, self.resolution)

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(continuations, given frames) in [-1, 1] of fresh sequences."""
        clips = self.to_model_range(self.sequences(index))
        return clips[:, self.given :], clips[:, : self.given]

    @property
    def data(self) -> torch.Tensor:
        """A fixed set of 64 sequences (for callers that want one), seeded."""
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(len(self), (64, DIGITS), generator=g)
        return make_sequences(self.digits, ids, self.frames, self.resolution, g)


def load_moving_mnist(
    source: str = "moving-mnist",
    resolution: int = RESOLUTION,
    frames: int = FRAMES,
    given: int = GIVEN,
    limit: int = 0,
) -> MovingMNIST:
    """Moving MNIST from MNIST train (``moving-mnist[:PATH]``, PATH the MNIST folder)."""
    from ganforge.data.mnist import load_mnist_arrays

    _check_resolution(resolution)
    images, _ = load_mnist_arrays(_split_spec(source), "train")
    digits = prepare_digits(torch.from_numpy(images.copy()), resolution)
    if limit:
        digits = digits[:limit]
    return MovingMNIST(digits, frames, given, resolution, name=source)


def test_sequences(
    n: int = 1000,
    root: str | None = None,
    resolution: int = RESOLUTION,
    frames: int = FRAMES,
    seed: int = TEST_SEED,
    batch: int = 500,
) -> torch.Tensor:
    """The first `n` of the fixed 10,000 test sequences (MNIST test digits): uint8
    (n, frames, 1, R, R). Every sequence's digits and motion are drawn up front for all 10,000,
    so a prefix never depends on n."""
    from ganforge.data.mnist import load_mnist_arrays

    _check_resolution(resolution)
    if not 0 < n <= TEST_SIZE:
        raise GanforgeError(f"the Moving MNIST test set has {TEST_SIZE} sequences, asked {n}")
    images, _ = load_mnist_arrays(root, "test")
    digits = prepare_digits(torch.from_numpy(images.copy()), resolution)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(len(digits), (TEST_SIZE, DIGITS), generator=g)
    corners = trajectories(TEST_SIZE, frames, resolution - digits.shape[-1], g)
    parts = [
        render(digits[ids[i : i + batch]], corners[i : i + batch], resolution)
        for i in range(0, n, batch)
    ]
    return torch.cat(parts)[:n]


def load_moving_mnist_test(
    source: str, resolution: int, frames: int, given: int, n: int = 1000
) -> VideoClips:
    """``moving-mnist:test[:PATH]``: the first n fixed test sequences as clips."""
    path = source.split(":", 2)[2] if source.count(":") >= 2 else None
    clips = test_sequences(n, path or None, resolution, frames)
    return VideoClips(clips, given, name=source)
