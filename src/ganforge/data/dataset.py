"""In-memory datasets: decoded once into one tensor, batches drawn by index on the device."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ganforge.images import to_model_range


@dataclass
class InMemoryDataset:
    """A whole dataset held as one tensor.

    ``data`` is uint8 images (N, C, H, W) in [0, 255] or float vectors (N, D).
    ``labels`` is int64 (N,) or None. ``class_names[i]`` names label i.
    Batches are returned as float in [-1, 1] for images, as stored for vectors.
    """

    data: torch.Tensor
    labels: torch.Tensor | None = None
    class_names: list[str] | None = None
    name: str = "dataset"
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.data.shape[0])

    @property
    def is_image(self) -> bool:
        """True for (N, C, H, W) image data."""
        return self.data.dim() == 4

    @property
    def num_classes(self) -> int:
        """Number of classes (0 when unlabelled)."""
        if self.labels is None:
            return 0
        return len(self.class_names) if self.class_names else int(self.labels.max()) + 1

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (C, H, W) or (D,)."""
        return tuple(self.data.shape[1:])

    def to(self, device: torch.device | str) -> InMemoryDataset:
        """Move the whole dataset to a device once, so batches never cross the bus."""
        labels = None if self.labels is None else self.labels.to(device)
        return InMemoryDataset(
            self.data.to(device), labels, self.class_names, self.name, dict(self.meta)
        )

    def to_model_range(self, raw: torch.Tensor) -> torch.Tensor:
        """Convert stored samples to what the networks see: images to float in [-1, 1]."""
        if raw.dtype == torch.uint8:
            return to_model_range(raw)
        return raw.float()

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The samples at ``index`` (a LongTensor), in model range, with their labels."""
        index = index.to(self.data.device)
        x = self.to_model_range(self.data[index])
        y = None if self.labels is None else self.labels[index]
        return x, y

    def subset(self, index: torch.Tensor) -> InMemoryDataset:
        """A new dataset holding only the rows at ``index``."""
        labels = None if self.labels is None else self.labels[index]
        return InMemoryDataset(
            self.data[index], labels, self.class_names, self.name, dict(self.meta)
        )


class BatchSampler:
    """Draws shuffled batches, epoch by epoch, from a dedicated RNG whose state is checkpointed.

    With ``world_size`` > 1 each rank takes its own slice of one global permutation, so the
    ranks together see exactly the batches a single process with the global batch would.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        self.n, self.batch_size = n, batch_size
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)
        self._perm = torch.empty(0, dtype=torch.long)
        self._pos = 0

    def next_index(self) -> torch.Tensor:
        """Indices of the next batch for this rank (global batch = batch_size * world_size)."""
        global_batch = self.batch_size * self.world_size
        if self._pos + global_batch > self._perm.numel():
            # Reshuffle; a dataset smaller than one global batch is tiled so batches stay full.
            reps = max(1, -(-global_batch // self.n))
            perms = [torch.randperm(self.n, generator=self.generator) for _ in range(reps)]
            self._perm, self._pos = torch.cat(perms), 0
        start = self._pos + self.rank * self.batch_size
        self._pos += global_batch
        return self._perm[start : start + self.batch_size]

    def state_dict(self) -> dict:
        """Everything needed to continue the same batch order."""
        return {"rng": self.generator.get_state(), "perm": self._perm.clone(), "pos": self._pos}

    def load_state_dict(self, state: dict) -> None:
        """Restore the batch order saved by ``state_dict``."""
        self.generator.set_state(state["rng"])
        self._perm, self._pos = state["perm"].clone(), int(state["pos"])

    def reseed(self, seed: int) -> None:
        """Start a fresh batch order (used after a rollback, so the same bad batches don't recur)."""
        self.generator.manual_seed(seed)
        self._perm, self._pos = torch.empty(0, dtype=torch.long), 0
