"""The sequence family: a generator and a discriminator of whole sequences on model arrays
(N, steps, F + 1 + A) = per-step block, mask, attributes (ganforge.series.data), with
DoppelGANger's attribute generator (Lin et al. 2020) and, for the GRU nets, TimeGAN's supervised
next-step idea (Yoon et al. 2019), on the one trainer.

The generator draws the static attributes first (an MLP from the per-sequence noise; the
sequence's length is one of them when lengths vary), then the steps: an MLP writing the whole
window from the noise and those attributes (`arch="mlp"`), or a GRU fed them at every step
(`arch="gru"`); steps past the length are masked to zero. Continuous values come through a
sigmoid, one-hot blocks through a Gumbel-softmax while training (CTGAN's tau 0.2) and as a draw
from their softmax when sampling. The discriminator is an MLP of the flattened window (one logit)
or a GRU (a logit per step); its module also holds a small GRU *supervisor* trained on the real
arrays to predict each next step when the supervised weight is on (its loss is added to D's);
the generator is then pushed to make arrays whose next steps that supervisor predicts (TimeGAN's
supervised loss, here in data space) and, with the moment weight on, whose per-channel mean and
spread match the real batch's at every step (TimeGAN's moment loss); both are averaged over the
real (unmasked) steps only, and the attributes' moments are matched once more per sequence.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganforge import objectives
from ganforge.errors import GanforgeError
from ganforge.families.base import Family, Logs, fake_diversity
from ganforge.nets.mlp import MLPDiscriminator, MLPGenerator


def plain_layout(channels: int) -> dict:
    """The layout of `channels - 1` continuous channels and the mask, fixed length."""
    return {
        "features": channels - 1,
        "attributes": 0,
        "spans": [("sigmoid", 0, channels - 1)],
        "lengths": None,
    }


class Activations(nn.Module):
    """Per-block output activations: sigmoid, or softmax (Gumbel while training, a draw from
    `generator` when sampling) over the channels [offset, offset + width) of a layout's spans."""

    def __init__(self, spans, offset: int, width: int):
        super().__init__()
        sigmoid = [
            i
            for act, start, w in spans
            if act == "sigmoid" and offset <= start < offset + width
            for i in range(start - offset, start - offset + w)
        ]
        self.register_buffer("sigmoid", torch.tensor(sigmoid, dtype=torch.long), persistent=False)
        self.softmax = [
            (start - offset, w)
            for act, start, w in spans
            if act == "softmax" and offset <= start < offset + width
        ]

    def forward(self, logits: torch.Tensor, generator=None) -> torch.Tensor:
        out = torch.empty_like(logits)
        out[..., self.sigmoid] = torch.sigmoid(logits[..., self.sigmoid])
        for start, w in self.softmax:
            block = logits[..., start : start + w]
            if self.training:
                out[..., start : start + w] = F.gumbel_softmax(block, tau=0.2, dim=-1)
            else:
                p = torch.softmax(block, -1).reshape(-1, w)
                pick = torch.multinomial(p, 1, generator=generator).reshape(block.shape[:-1])
                out[..., start : start + w] = F.one_hot(pick, w).to(block.dtype)
        return out


class SeriesGenerator(nn.Module):
    """Noise (N, steps, latent) -> attributes (MLP) -> steps -> (N, steps, F + 1 + A).

    The steps come from a GRU fed the noise and the attributes at every step (`arch="gru"`), or
    from an MLP that writes the whole window at once from the sequence's noise (its step 0) and
    the attributes (`arch="mlp"`, TimeSeriesGAN's default: see its docstring for the figures).
    """

    def __init__(
        self, latent_dim: int, layout: dict, hidden: int, layers: int, steps: int, arch="gru"
    ):
        super().__init__()
        self.features, self.attributes_dim = layout["features"], layout["attributes"]
        self.static_noise = latent_dim // 2
        self.arch, self.steps = arch, steps
        a = self.attributes_dim
        if a:
            self.attribute_net = nn.Sequential(
                nn.Linear(self.static_noise, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                nn.ReLU(), nn.Linear(hidden, a),
            )  # fmt: skip
            self.attribute_act = Activations(layout["spans"], self.features + 1, a)
        if arch == "mlp":
            self.net = MLPGenerator(latent_dim + a, (steps * self.features,), hidden, layers + 1)
            output_layer = self.net.net[-1]  # (not a second attribute: one state-dict key each)
        else:
            self.rnn = nn.GRU(latent_dim + a, hidden, layers, batch_first=True)
            self.head = output_layer = nn.Linear(hidden, self.features)
        self.step_act = Activations(layout["spans"], 0, self.features)
        # Channels written as a first value plus step changes (ganforge.series.data.WALK_LAG1).
        walk = torch.zeros(self.features, dtype=torch.bool)
        walk[list(layout.get("walk") or []) if arch == "mlp" else []] = True
        self.register_buffer("walk", walk, persistent=False)
        self.walks = bool(walk.any())
        # A walking channel's changes (steps >= 1) are added in data space, in units of the real
        # changes' spread (ganforge.series.data.change_scales); layouts before walk_scale walk
        # in logit space in unit steps, which saturated the sigmoid on some seeds (stocks seed
        # 1: logits at |85| within 750 steps, no gradient left, D won for good).
        self.data_walk = bool(self.walks and layout.get("walk_scale"))
        unit = torch.ones(steps, self.features)
        if self.data_walk:
            unit[1:] = torch.tensor(layout["walk_scale"], dtype=torch.float32)
        self.register_buffer("change_unit", unit, persistent=False)
        # Per-step noise with a learned scale per channel (StyleGAN's noise inputs), added to the
        # logits (to the changes of a walking channel): an MLP writing a window from 32 noise
        # numbers cannot make 24 independent steps, so stocks' Volume came out 6x too smooth.
        # Only channels whose scale starts above 0 get noise: a smooth channel's (0) is held at
        # 0 by a mask, else it drifts (sines, 1,500 steps: to +-0.09, jitter on smooth waves).
        noise = layout.get("noise") if arch == "mlp" else None
        self.noise_scale = nn.Parameter(torch.tensor(noise, dtype=torch.float32)) if noise else None
        noisy = torch.tensor([v > 0 for v in noise or []], dtype=torch.float32)
        self.register_buffer("noisy", noisy, persistent=False)
        bias = layout.get("bias")
        if bias:  # start at the data's marginals (see ganforge.series.data._output_bias)
            with torch.no_grad():
                step_bias = torch.tensor(bias[: self.features])
                if arch == "mlp":  # a walking channel's changes start at 0
                    step_bias = step_bias.repeat(steps, 1)
                    step_bias[1:, walk] = 0.0
                output_layer.bias.copy_(step_bias.reshape(-1))
                if a:
                    self.attribute_net[-1].bias.copy_(torch.tensor(bias[self.features :]))
        lengths = layout.get("lengths")
        if lengths:
            self.length_start = lengths["start"] - self.features - 1
            values = torch.tensor(lengths["values"], dtype=torch.float32)
            covered = (torch.arange(steps)[None, :] < values[:, None]).float()
            self.register_buffer("covered", covered, persistent=False)  # (slots, steps)
        else:
            self.length_start = None

    def attributes(self, z: torch.Tensor, generator=None) -> torch.Tensor:
        """(N, A) attributes from the per-sequence noise (N, 0) without attributes."""
        if not self.attributes_dim:
            return z.new_zeros(z.shape[0], 0)
        return self.attribute_act(self.attribute_net(z[:, 0, : self.static_noise]), generator)

    def steps_given(self, attributes, z, generator=None) -> torch.Tensor:
        """The whole array for these attributes (conditional sampling sets them)."""
        steps = z.shape[1]
        repeated = attributes[:, None].expand(-1, steps, -1)
        if self.arch == "mlp":
            logits = self.net(torch.cat([z[:, 0], attributes], 1)).reshape(-1, steps, self.features)
            if self.noise_scale is not None:
                noise = torch.randn(
                    logits.shape, generator=generator, device=logits.device, dtype=logits.dtype
                )
                logits = logits + (self.noise_scale * self.noisy) * noise
            if self.data_walk:  # (the noise too: in units of the real changes' std)
                logits = logits * self.change_unit
            if self.walks and not self.data_walk:
                logits = torch.where(self.walk, logits.cumsum(1), logits)
        else:
            logits = self.head(self.rnn(torch.cat([z, repeated], 2))[0])
        x = self.step_act(logits, generator)
        if self.arch == "mlp" and self.data_walk:  # first value (sigmoid), then the changes
            path = torch.cat([x[:, :1], logits[:, 1:]], 1).cumsum(1)
            if not self.training:  # samples stay in the data's range
                path = path.clamp(0.0, 1.0)
            x = torch.where(self.walk, path, x)
        if self.length_start is None:
            mask = x.new_ones(x.shape[0], steps, 1)
        else:
            slots = attributes[:, self.length_start : self.length_start + len(self.covered)]
            mask = (slots @ self.covered).unsqueeze(2)  # P(length > t), exact for one-hots
        return torch.cat([x * mask, mask, repeated], 2)

    def forward(self, z: torch.Tensor, generator=None) -> torch.Tensor:
        return self.steps_given(self.attributes(z, generator), z, generator)


class SeriesCritic(nn.Module):
    """A discriminator and the supervisor (next step from the past, a GRU): a GRU with one logit
    per step (`arch="gru"`), or an MLP with one logit per window (`arch="mlp"`)."""

    def __init__(self, channels: int, hidden: int, layers: int, arch="gru", steps: int = 0):
        super().__init__()
        self.arch = arch
        if arch == "mlp":
            self.net = MLPDiscriminator((steps, channels), hidden, layers)
        else:
            self.rnn = nn.GRU(channels, hidden, layers, batch_first=True)
            self.head = nn.Linear(hidden, 1)
        self.supervisor = nn.GRU(channels, hidden, 1, batch_first=True)
        self.next_step = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.arch == "mlp":
            return self.net(x).reshape(-1)
        h, _ = self.rnn(x)
        return self.head(h).reshape(-1)

    def predict_next(self, x: torch.Tensor) -> torch.Tensor:
        """For each step t of x, the supervisor's guess of step t + 1."""
        h, _ = self.supervisor(x)
        return torch.sigmoid(self.next_step(h))


def next_step_loss(D: SeriesCritic, x, mask, channels) -> torch.Tensor:
    """Mean squared error of the supervisor's next-step guesses of the continuous `channels`
    on x's real steps (one-hots left out: a pull towards predictable steps skewed level shares,
    0.02 off at the start to 0.14 after 60 steps)."""
    error = (D.predict_next(x[:, :-1])[..., channels] - x[:, 1:, channels]).pow(2) * mask[:, 1:]
    return error.sum() / (mask[:, 1:].sum() * len(channels)).clamp_min(1.0)


def moment_loss(real, fake, real_mask, fake_mask) -> torch.Tensor:
    """|mean difference| + |std difference| per channel of the real (unmasked) steps, pooled over
    all steps (TimeGAN's V loss) plus the same per step (over the batch at each step): with the
    pooled term alone G collapsed on sines at equal time (per-step std 0.023 vs the real 0.108;
    discriminative 0.37 vs 0.21 per step, TimeSeriesGAN's docstring); the pooled term moves the
    overall spread sooner (after 60 steps 0.077 off with the per-step term alone)."""

    def gap(dims, rx, rm, fx, fm):
        def moments(x, m):
            count = m.sum(dims).clamp_min(1.0)
            mean = (x * m).sum(dims) / count
            var = ((x - mean).pow(2) * m).sum(dims) / count
            return mean, (var + 1e-12).sqrt()

        (a, b), (c, d) = moments(rx, rm), moments(fx, fm)
        return (a - c).abs().mean() + (b - d).abs().mean()

    real_mask = real_mask.expand(real.shape[0], real.shape[1], 1)
    fake_mask = fake_mask.expand(fake.shape[0], fake.shape[1], 1)
    pooled = gap((0, 1), real, real_mask, fake, fake_mask)
    return pooled + gap(0, real, real_mask, fake, fake_mask)


class SeriesFamily(Family):
    """Model arrays in and out; `config.model.sample_shape` is (steps, channels)."""

    name = "series"

    def __init__(
        self,
        config,
        supervised_weight: float = 10.0,
        moment_weight: float = 10.0,
        layout: dict | None = None,
        step_noise: float = 1.0,
    ):
        super().__init__(config)
        self.supervised_weight, self.moment_weight = supervised_weight, moment_weight
        self.step_noise = float(step_noise)
        self.layout = layout or plain_layout(self.shape[1])
        self.continuous = [
            i
            for act, start, width in self.layout["spans"]
            if act == "sigmoid" and start < self.layout["features"]
            for i in range(start, start + width)
        ]

    @classmethod
    def load_dataset(cls, config):
        raise GanforgeError(
            "the series family trains on sequences",
            fix="use `ganforge series fit data.csv -o model.gfs --seq-len 24`",
        )

    @property
    def shape(self) -> tuple[int, int]:
        steps, channels = self.config.model.sample_shape
        return int(steps), int(channels)

    def mask_of(self, x: torch.Tensor) -> torch.Tensor:
        f = self.layout["features"]
        return x[:, :, f : f + 1]

    def build(self) -> tuple[nn.Module, nn.Module]:
        m = self.config.model
        steps, channels = self.shape
        arch = "mlp" if m.arch == "mlp" else "gru"
        generator = SeriesGenerator(m.latent_dim, self.layout, m.g_width, m.mlp_layers, steps, arch)
        return generator, SeriesCritic(channels, m.d_width, m.mlp_layers, arch, steps)

    def sample_latent(self, n, device, generator=None):
        """Half the noise is drawn once per sequence (its 'style'), half anew at every step and
        scaled by `step_noise` (0: those inputs are zeros, every sequence a function of its
        static noise; TimeSeriesGAN's default, see its docstring for the figures)."""
        steps, _ = self.shape
        dim = self.config.model.latent_dim
        if self.config.model.arch == "mlp":  # reads step 0 only: all of it per sequence
            return torch.randn(n, 1, dim, device=device, generator=generator).expand(-1, steps, -1)
        static = torch.randn(n, 1, dim // 2, device=device, generator=generator)
        if self.step_noise:
            per_step = torch.randn(n, steps, dim - dim // 2, device=device, generator=generator)
            per_step = per_step * self.step_noise if self.step_noise != 1.0 else per_step
        else:
            per_step = static.new_zeros(n, steps, dim - dim // 2)
        return torch.cat([static.expand(-1, steps, -1), per_step], 2)

    def generate(self, G, n, device, generator=None, labels=None):
        return G(self.sample_latent(n, device, generator), generator)

    def discriminator_loss(self, G, D, real, y, d_step):
        loss_name = self.config.train.loss
        with torch.no_grad():
            fake = G(self.sample_latent(real.shape[0], real.device))
        real_logits, fake_logits = D(real), D(fake)
        adversarial = objectives.d_loss(loss_name, real_logits, fake_logits)
        supervised = (
            next_step_loss(D, real, self.mask_of(real), self.continuous)
            if self.supervised_weight
            else real.new_zeros(())
        )
        logs: Logs = {
            "d_loss": adversarial.detach(),
            "d_real": real_logits.detach().mean(),
            "d_fake": fake_logits.detach().mean(),
            "d_acc_real": (real_logits.detach() > 0).float().mean(),
            "d_acc_fake": (fake_logits.detach() < 0).float().mean(),
            "fake_diversity": fake_diversity(real, fake),
            "supervisor": supervised.detach(),
        }
        return adversarial + supervised, logs

    def generator_loss(self, G, D, real, y, step):
        fake = G(self.sample_latent(real.shape[0], real.device))
        adversarial = objectives.g_loss(self.config.train.loss, D(fake))
        fake_mask = self.mask_of(fake)
        zero = real.new_zeros(())
        supervised = (
            next_step_loss(D, fake, fake_mask, self.continuous) if self.supervised_weight else zero
        )
        moments = (
            moment_loss(real, fake, self.mask_of(real), fake_mask) if self.moment_weight else zero
        )
        if (
            self.moment_weight and self.layout["attributes"]
        ):  # once per sequence, not weighted by its length
            f = self.layout["features"] + 1
            ones = real.new_ones(1, 1, 1)  # (expanded to each batch)
            moments = moments + moment_loss(real[:, :1, f:], fake[:, :1, f:], ones, ones)
        loss = adversarial + self.supervised_weight * supervised + self.moment_weight * moments
        logs: Logs = {
            "g_loss": adversarial.detach(),
            "g_supervised": supervised.detach(),
            "g_moments": moments.detach(),
        }
        return loss, logs
