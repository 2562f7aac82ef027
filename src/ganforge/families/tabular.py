"""Conditional tabular GAN (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN", CTGAN).

G: noise + conditional vector -> residual MLP (Linear-BatchNorm-ReLU blocks whose outputs are
concatenated to their inputs) -> one raw value per matrix column; `activate` applies tanh to each
continuous alpha and a Gumbel-softmax (tau 0.2) to each one-hot block, all spans at once.
D: a packed critic (PacGAN, Lin et al. 2018: `pack` rows judged jointly) on row + conditional
vector, LeakyReLU(0.2) + Dropout(0.5) layers, WGAN-GP (Gulrajani et al. 2017) with the penalty's
gradient norm taken per pack, as CTGAN does. G's loss adds the cross-entropy between its raw
output for the conditioned column and the conditioned level.

The trainer's dataset is `tabular.sampler.TableDataset`: a batch is (rows, cond vectors) drawn
by training-by-sampling. Under differential privacy (`dp` given) the critic's update is DP-SGD
(`tabular.dp`) and the generator's conditions come from noisy level counts, never from rows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge import objectives
from ganforge.errors import GanforgeError
from ganforge.families.base import Family, Logs
from ganforge.nets.layers import fold_pack

GUMBEL_TAU = 0.2  # CTGAN's temperature


class SpanActivation(nn.Module):
    """tanh on alpha columns, Gumbel-softmax on each one-hot block, over a grouped layout.

    The networks work in a column order of their own: the alpha columns first, then the one-hot
    blocks bucketed by width (within 1.5x, see _buckets) and padded, so each bucket is a
    plain (N, blocks, width) view: a few softmaxes serve every block with no gather or scatter
    (CTGAN loops over blocks, one small softmax and a host sync each). Padding slots hold 0 in
    the data and -inf logits in G. `to_grouped` / `to_matrix` convert between this order and the
    transformer's matrix (once for the data, once per sampled batch).
    """

    def __init__(self, spans: list[tuple[str, int, int]], cond_spans: list[tuple[int, int]]):
        super().__init__()
        tanh = [s for kind, s, _ in spans if kind == "tanh"]
        blocks = [(s, w) for kind, s, w in spans if kind == "softmax"]
        source, position = list(tanh), {}
        self.n_tanh, self.groups = len(tanh), []
        for group in _buckets(blocks):
            width = max(w for _, w in group)
            self.groups.append((len(source), len(group), width))
            for s, w in group:
                position[s] = len(source)
                source += list(range(s, s + w)) + [-1] * (width - w)
        self.width = len(source)
        source_t = torch.tensor(source, dtype=torch.long)
        # grouped[:, k] = matrix[:, source[k]] (source -1: padding); matrix[:, i] = grouped[:, where[i]]
        self.register_buffer("source", source_t, persistent=False)
        where = torch.zeros(int(source_t.max()) + 1 if len(source) else 0, dtype=torch.long)
        keep = source_t >= 0
        where[source_t[keep]] = torch.arange(self.width)[keep]
        self.register_buffer("where", where, persistent=False)
        # per slot of the conditional vector: its grouped position, its block's start and width
        cond = [position[s] + i for s, w in cond_spans for i in range(w)]
        starts = [position[s] for s, w in cond_spans for _ in range(w)]
        widths = [w for _, w in cond_spans for _ in range(w)]
        for name, values in (("cond_index", cond), ("cond_start", starts), ("cond_width", widths)):
            self.register_buffer(name, torch.tensor(values, dtype=torch.long), persistent=False)
        self.cond_widest = max(widths, default=0)
        self.register_buffer(
            "slot_ids", torch.arange(len(cond), dtype=torch.float32), persistent=False
        )
        # 0 on real slots, -inf on padding: one add masks every block (no per-group masked_fill)
        pad = torch.zeros(self.width).masked_fill_(source_t < 0, float("-inf"))
        self.register_buffer("pad", pad, persistent=False)

    def to_grouped(self, matrix: torch.Tensor) -> torch.Tensor:
        """Transformer matrix rows -> the networks' grouped layout (padding = 0)."""
        keep = self.source >= 0
        out = matrix.new_zeros(matrix.shape[0], self.width)
        out[:, keep] = matrix[:, self.source[keep]]
        return out

    def to_matrix(self, grouped: torch.Tensor) -> torch.Tensor:
        """The networks' grouped rows -> the transformer's matrix layout."""
        return grouped[:, self.where]

    def _blocks(self, logits: torch.Tensor, i: int) -> torch.Tensor:
        """Group i of already-masked logits (padding -inf) as (N, blocks, width)."""
        start, blocks, width = self.groups[i]
        return logits[:, start : start + blocks * width].reshape(-1, blocks, width)

    def forward(
        self, raw: torch.Tensor, tau: float = GUMBEL_TAU, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        parts = [torch.tanh(raw[:, : self.n_tanh])]
        if self.groups:
            # Gumbel(0, 1) = -log(-log U); torch's exponential_ is several times slower on CPU
            uniform = torch.rand(raw.shape, device=raw.device, generator=generator)
            gumbel = torch.log(-torch.log(uniform.clamp_(1e-10, 1.0 - 1e-7))).sub_(self.pad)
            noisy = (raw - gumbel) / tau
            for i in range(len(self.groups)):
                # softmax written out: on CPU torch.softmax over rows this short is ~1.6x slower
                # (forward + backward); the max is a constant shift, so detaching it is exact
                block = self._blocks(noisy, i)
                e = (block - block.detach().amax(-1, keepdim=True)).exp()
                parts.append((e / e.sum(-1, keepdim=True)).flatten(1))
        return torch.cat(parts, 1)

    def condition_nll(self, raw: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Per row, -log softmax(G's raw output over the conditioned column)[conditioned level].

        CTGAN's conditional loss (a cross-entropy per row; 0 for a row with no condition). Only
        the conditioned column's block is read: one gather of (N, widest block) instead of a
        log-softmax over every block.
        """
        # the active slot of each one-hot row (0 for an all-zero row, whose weight is 0): a
        # matrix-vector product, ~20x faster than argmax over (N, cond_dim) on CPU
        slot = (cond.float() @ self.slot_ids).round().long()
        offsets = torch.arange(self.cond_widest, device=raw.device)
        index = (self.cond_start[slot][:, None] + offsets).clamp(max=self.width - 1)
        outside = offsets >= self.cond_width[slot][:, None]
        logits = raw.gather(1, index).float().masked_fill(outside, float("-inf"))
        picked = raw.gather(1, self.cond_index[slot][:, None]).float().squeeze(1)
        return (torch.logsumexp(logits, 1) - picked) * cond.gather(1, slot[:, None]).squeeze(1)


def _buckets(blocks: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Blocks grouped by width: a group spans widths up to 1.5x its narrowest (padding < 50%).

    On Adult: 15 blocks of widths 2-42 in 5 groups, 158 slots for 150 values (power-of-two
    buckets took 188: every extra slot costs G's head and D's first layer a column).
    """
    groups: list[list[tuple[int, int]]] = []
    for s, w in sorted(blocks, key=lambda block: block[1]):
        if groups and w <= 1.5 * groups[-1][0][1]:
            groups[-1].append((s, w))
        else:
            groups.append([(s, w)])
    return groups


class Residual(nn.Module):
    """CTGAN's generator block: [ReLU(BN(Linear(x))), x] (the input is concatenated, not added)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.fc = nn.Linear(in_features, out_features)
        self.bn = nn.BatchNorm1d(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.relu(self.bn(self.fc(x))), x], dim=1)


class TabularGenerator(nn.Module):
    """(z, cond) -> raw matrix row; `activate` turns raw output into a row like the data's."""

    def __init__(self, latent_dim: int, cond_dim: int, width: int, layers: int, layout: dict):
        super().__init__()
        self.latent_dim, self.cond_dim = latent_dim, cond_dim
        blocks, dim = [], latent_dim + cond_dim
        for _ in range(layers):
            blocks.append(Residual(dim, width))
            dim += width
        self.body = nn.Sequential(*blocks)
        self.activate = SpanActivation(layout["spans"], layout["cond_spans"])
        self.head = nn.Linear(dim, self.activate.width)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        x = z if cond is None or cond.shape[1] == 0 else torch.cat([z, cond], 1)
        return self.head(self.body(x))


class Dropout(nn.Module):
    """nn.Dropout with the same distribution, faster on CPU at p = 0.5 (CTGAN's critic).

    torch's dropout draws one Bernoulli per element (~12 ns each on CPU: 4-10% of a step); at
    p = 0.5 a keep-mask is just random bits, 31 per drawn int32, unpacked with shifts (5-10x
    faster).
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = p
        self.register_buffer("shifts", torch.arange(31, dtype=torch.int32), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p != 0.5:
            return F.dropout(x, self.p, True)
        n = x.numel()
        words = torch.randint(0, 2**31 - 1, ((n + 30) // 31, 1), device=x.device, dtype=torch.int32)
        keep = ((words >> self.shifts) & 1).flatten()[:n].view(x.shape)
        return x * keep.to(x.dtype).mul_(2.0)


class TabularCritic(nn.Module):
    """Packed WGAN critic on [row, cond]: N rows give N / pack scores."""

    def __init__(self, in_features: int, width: int, layers: int, pack: int, dropout: float = 0.5):
        super().__init__()
        self.pack = pack
        blocks, dim = [], in_features * pack
        for _ in range(layers):
            blocks += [nn.Linear(dim, width), nn.LeakyReLU(0.2), Dropout(dropout)]
            dim = width
        blocks.append(nn.Linear(dim, 1))
        self.net = nn.Sequential(*blocks)

    def packed(self, packs: torch.Tensor) -> torch.Tensor:
        """Scores (P,) of already-packed inputs (P, pack * features)."""
        return self.net(packs).reshape(-1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if cond is not None and cond.shape[1]:
            x = torch.cat([x, cond], 1)
        return self.packed(fold_pack(x, self.pack))


class TabularFamily(Family):
    """CTGAN on the one trainer; `layout` describes the matrix (from the TableTransformer)."""

    name = "tabular"
    conditional = False  # conditions are drawn internally; sampling needs no labels

    def __init__(
        self, config, layout: dict | None = None, sampler=None, dp=None, gp_fraction: float = 1.0
    ):
        super().__init__(config)
        if layout is None:
            raise GanforgeError(
                "the tabular family trains on tables",
                fix="use `ganforge tabular fit data.csv -o model.gft`",
            )
        self.layout, self.sampler, self.dp = layout, sampler, dp
        # the G step reuses the D step's fakes (see discriminator_loss): no real batch needed
        self.g_step_batch = False
        # the share of the batch's packs the gradient penalty is estimated on (see below)
        self.gp_fraction = gp_fraction
        self._fakes: tuple | None = None  # (step, raw, fake, cond) from the last D step

    def build(self) -> tuple[nn.Module, nn.Module]:
        m, lay = self.config.model, self.layout
        generator = TabularGenerator(m.latent_dim, lay["cond_dim"], m.g_width, m.mlp_layers, lay)
        width = generator.activate.width  # the networks' grouped layout (see SpanActivation)
        critic = TabularCritic(width + lay["cond_dim"], m.d_width, m.mlp_layers, m.pack)
        return generator, critic

    def conditions(self, n: int, device: torch.device, generator=None) -> torch.Tensor:
        """Conditional vectors drawn from the (possibly noisy) level frequencies."""
        return self.sampler.sample_conditions(n, generator, device)

    def discriminator_loss(self, G, D, real, y, d_step):
        if self.dp is not None:
            return self.dp.critic_step(self, G, D, real, y)
        t = self.config.train
        n = real.shape[0]
        # The fakes' conditions are the reals' in another order (CTGAN): both sides of D see the
        # same conditions, but packs mix them differently.
        cond_fake = y[torch.randperm(n, device=real.device)]
        # One G forward serves the last D step and the G step after it (as PyTorch's DCGAN
        # example does): G does not change in between, so the fakes are made with G's graph
        # here, detached for D, and reused by generator_loss. A third less G work per step.
        step, last = divmod(d_step, t.n_critic)
        keep = last == t.n_critic - 1 and torch.is_grad_enabled()
        with torch.set_grad_enabled(keep):
            raw = G(self.sample_latent(n, real.device), cond_fake)
            fake = G.activate(raw)
        self._fakes = (step, raw, fake, cond_fake) if keep else None
        fake = fake.detach()
        real_in, fake_in = torch.cat([real, y], 1), torch.cat([fake, cond_fake], 1)
        # one critic call for both halves (fewer, larger ops; the packs never straddle them)
        scores = D(torch.cat([real_in, fake_in], 0))
        real_scores, fake_scores = scores.split(scores.shape[0] // 2)
        loss = objectives.d_loss(t.loss, real_scores, fake_scores)
        logs: Logs = {
            "d_loss": loss.detach(),
            "d_real": real_scores.detach().mean(),
            "d_fake": fake_scores.detach().mean(),
        }
        if t.gp_weight > 0:
            pack = self.config.model.pack
            real_packs, fake_packs = fold_pack(real_in, pack), fold_pack(fake_in, pack)
            # An unbiased estimate of the penalty's expectation from the first k pairs (the rows
            # are a random draw): its double backward is ~a third of a D step's matmul work, and
            # like lazy regularisation (StyleGAN2) a noisier estimate regularises as well.
            k = max(1, round(self.gp_fraction * real_packs.shape[0]))
            gp = objectives.gradient_penalty(D.packed, real_packs[:k], fake_packs[:k])
            loss = loss + t.gp_weight * gp
            logs["gp"] = gp.detach()
        return loss, logs

    def generator_loss(self, G, D, real, y, step):
        cached, self._fakes = self._fakes, None
        if cached is not None and cached[0] == step:  # this step's D step made them
            _, raw, fake, cond = cached
        else:  # no D step this step (or DP): fresh fakes, conditions from the level counts
            n, device = self.config.train.batch_size, next(G.parameters()).device
            # (under DP they must not come from real rows: the counts are then noisy)
            cond = self.conditions(n, device)
            raw = G(self.sample_latent(n, device), cond)
            fake = G.activate(raw)
        adversarial = objectives.g_loss(self.config.train.loss, D(fake, cond))
        if cond.shape[1]:
            cond_ce = G.activate.condition_nll(raw, cond).mean()
        else:
            cond_ce = torch.zeros((), device=raw.device)
        loss = adversarial + cond_ce
        return loss, {"g_loss": adversarial.detach(), "cond_ce": cond_ce.detach()}

    def generate(self, G, n, device, generator=None, labels=None):
        """n rows in the transformer's matrix layout (`labels`: conditional vectors, optional)."""
        cond = labels if labels is not None else self.conditions(n, device, generator)
        z = torch.randn(n, self.config.model.latent_dim, device=device, generator=generator)
        return G.activate.to_matrix(G.activate(G(z, cond), generator=generator))

    def state_dict(self) -> dict:
        return {"dp": self.dp.state_dict() if self.dp is not None else None}

    def load_state_dict(self, state: dict) -> None:
        self._fakes = None
        if self.dp is not None and state.get("dp"):
            self.dp.load_state_dict(state["dp"])
