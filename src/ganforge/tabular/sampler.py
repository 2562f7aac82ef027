"""The conditional vector and training-by-sampling (Xu et al. 2019, CTGAN, section 4.3).

Each training row is drawn by picking a discrete column uniformly, a level of it with probability
proportional to log(1 + count) (so rare levels are seen often enough to be learned), then a real
row holding that level; the one-hot of (column, level) is the row's conditional vector. All of it
is vectorised on the data's device with the global torch RNG, which the trainer owns and
checkpoints, so a resumed run draws the same batches.

Under differential privacy the real rows are instead drawn by Poisson sampling (each row in with
probability q, what the RDP accountant assumes) and each row's conditional vector is read off the
row itself; the generator's conditions then come from noisy (DP) level counts.
"""

from __future__ import annotations

import torch


class ConditionSampler:
    """Conditional vectors and the real rows that match them, for a transformed matrix."""

    def __init__(
        self,
        matrix: torch.Tensor,
        discrete_spans: list[tuple[int, int]],
        frequencies: list[list[float]] | None = None,
    ):
        self.spans = [(int(s), int(w)) for s, w in discrete_spans]
        self.n_columns = len(self.spans)
        self.cond_dim = sum(w for _, w in self.spans)
        device = matrix.device
        widths = torch.tensor([w for _, w in self.spans] or [0], dtype=torch.long)
        self.offsets = (torch.cumsum(widths, 0) - widths).to(device)
        max_w = int(widths.max()) if self.n_columns else 0
        # codes[i, j]: level of row i in discrete column j
        codes = [matrix[:, s : s + w].argmax(1) for s, w in self.spans]
        self.codes = (
            torch.stack(codes, 1) if codes else torch.zeros(len(matrix), 0, dtype=torch.long)
        )
        counts = torch.zeros(self.cond_dim, dtype=torch.long, device=device)
        if self.n_columns:
            flat = (self.codes + self.offsets[: self.n_columns]).flatten()
            counts = torch.bincount(flat, minlength=self.cond_dim)
            # rows grouped by global level id: rows_by_level[starts[k] : starts[k] + counts[k]]
            order = torch.argsort(flat, stable=True)
            self.rows_by_level = order // self.n_columns
        else:
            self.rows_by_level = torch.zeros(0, dtype=torch.long, device=device)
        self.counts = counts
        self.starts = torch.cumsum(counts, 0) - counts
        # (column, level) probability tables, padded with zeros to the widest column
        train_p = torch.zeros(self.n_columns, max(max_w, 1), dtype=torch.float64)
        data_p = torch.zeros_like(train_p)
        counts_cpu = counts.cpu().double()
        for j, (_, w) in enumerate(self.spans):
            o = int(self.offsets[j])
            c = counts_cpu[o : o + w]
            train_p[j, :w] = torch.log1p(c) / torch.log1p(c).sum().clamp(min=1e-12)
            given = (
                None if frequencies is None else torch.tensor(frequencies[j], dtype=torch.float64)
            )
            f = c if given is None else given.clamp(min=0)
            data_p[j, :w] = f / f.sum() if f.sum() > 0 else torch.full((w,), 1.0 / w)
        self.train_p = train_p.float().to(device)
        self.data_p = data_p.float().to(device)
        # cumulative tables: a level is one batched searchsorted (multinomial is slow on CPU)
        self.train_cdf = _cdf(train_p).to(device)
        self.data_cdf = _cdf(data_p).to(device)

    def frequencies(self) -> list[list[float]]:
        """The level distribution sampling draws conditions from (plain lists, per column)."""
        return [self.data_p[j, :w].tolist() for j, (_, w) in enumerate(self.spans)]

    def _one_hot(self, column: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        cond = torch.zeros(len(column), self.cond_dim, device=column.device)
        cond[torch.arange(len(column), device=column.device), self.offsets[column] + level] = 1.0
        return cond

    def sample_training(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(row indices, conditional vectors) by training-by-sampling (log-frequency levels)."""
        device = self.train_p.device
        if self.n_columns == 0:
            return torch.randint(len(self.codes), (n,), device=device), torch.zeros(
                n, 0, device=device
            )
        column = torch.randint(self.n_columns, (n,), device=device)
        level = _draw(self.train_cdf, column, torch.rand(n, device=device))
        global_level = self.offsets[column] + level
        pick = (torch.rand(n, device=device) * self.counts[global_level]).long()
        rows = self.rows_by_level[self.starts[global_level] + pick]
        return rows, self._one_hot(column, level)

    def sample_conditions(
        self, n: int, generator: torch.Generator | None = None, device: torch.device | None = None
    ) -> torch.Tensor:
        """Conditional vectors for sampling: a uniform column, a level by its data frequency."""
        device = device or self.data_p.device
        if self.n_columns == 0:
            return torch.zeros(n, 0, device=device)
        column = torch.randint(self.n_columns, (n,), device=device, generator=generator)
        u = torch.rand(n, device=device, generator=generator)
        return self._one_hot(
            column.to(self.data_cdf.device),
            _draw(self.data_cdf, column.to(self.data_cdf.device), u.to(self.data_cdf.device)),
        ).to(device)

    def conditions_of_rows(self, rows: torch.Tensor) -> torch.Tensor:
        """Each row's own conditional vector: a uniform column, the row's level in it (DP mode)."""
        n = len(rows)
        if self.n_columns == 0:
            return torch.zeros(n, 0, device=rows.device)
        column = torch.randint(self.n_columns, (n,), device=rows.device)
        return self._one_hot(column, self.codes[rows, column])

    def to(self, device: torch.device | str) -> ConditionSampler:
        """The same sampler with its tables on `device`."""
        moved = object.__new__(ConditionSampler)
        for key, value in vars(self).items():
            setattr(moved, key, value.to(device) if isinstance(value, torch.Tensor) else value)
        return moved


def _cdf(p: torch.Tensor) -> torch.Tensor:
    """Row-wise cumulative probabilities, the last entry of each row forced to 1 (rounding)."""
    cdf = torch.cumsum(p, 1)
    total = cdf[:, -1:].clamp(min=1e-12)
    return (cdf / total).float()


def _draw(cdf: torch.Tensor, column: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Level drawn by inverse CDF in each row's column; zero-probability levels never come out."""
    level = torch.searchsorted(cdf[column], u.unsqueeze(1), right=True).squeeze(1)
    return level.clamp(max=cdf.shape[1] - 1)


class TableDataset:
    """The transformed table for the trainer (InMemoryDataset's interface).

    `batch(index)` ignores which rows `index` names and uses only its length: rows are drawn by
    training-by-sampling and returned with their conditional vectors as (rows, cond). With
    `poisson_rate` (DP), each row is in the batch independently with that probability.
    """

    is_image = False
    labels = None
    class_names = None
    num_classes = 0

    def __init__(
        self,
        matrix: torch.Tensor,
        sampler: ConditionSampler,
        poisson_rate: float = 0.0,
        name: str = "table",
    ):
        self.data, self.sampler, self.poisson_rate, self.name = matrix, sampler, poisson_rate, name
        self.meta: dict = {}

    def __len__(self) -> int:
        return int(self.data.shape[0])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """(width of the matrix,)."""
        return (int(self.data.shape[1]),)

    def to(self, device: torch.device | str) -> TableDataset:
        """The dataset with the matrix and sampler tables on `device`."""
        return TableDataset(
            self.data.to(device), self.sampler.to(device), self.poisson_rate, self.name
        )

    def to_model_range(self, raw: torch.Tensor) -> torch.Tensor:
        """Rows are already what the networks see."""
        return raw.float()

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows, conditional vectors) for a batch of len(index) rows."""
        if self.poisson_rate > 0:
            keep = torch.rand(len(self), device=self.data.device) < self.poisson_rate
            rows = keep.nonzero().squeeze(1)
            return self.data[rows], self.sampler.conditions_of_rows(rows)
        rows, cond = self.sampler.sample_training(int(index.numel()))
        return self.data[rows], cond
