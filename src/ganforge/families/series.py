"""The sequence family: a GRU generator and a GRU discriminator on windows (N, steps, features)
scaled to [0, 1], with TimeGAN's supervised next-step idea (Yoon et al. 2019) on the one trainer.

The discriminator module also holds a small GRU *supervisor* trained on the real windows to
predict each next step (its loss is added to D's, so D's optimiser trains it); the generator is
pushed to make windows whose next steps that supervisor predicts (TimeGAN's supervised loss, here
in data space, not in a learned embedding) and whose per-feature mean and spread match the real
batch's (TimeGAN's moment loss).
"""

from __future__ import annotations

import torch
from torch import nn

from ganforge import objectives
from ganforge.errors import GanforgeError
from ganforge.families.base import Family, Logs, fake_diversity


class SeriesGenerator(nn.Module):
    """Noise (N, steps, latent) -> GRU -> sigmoid outputs (N, steps, features) in [0, 1]."""

    def __init__(self, latent_dim: int, features: int, hidden: int, layers: int):
        super().__init__()
        self.rnn = nn.GRU(latent_dim, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, features)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(z)
        return torch.sigmoid(self.head(h))


class SeriesCritic(nn.Module):
    """A GRU discriminator (one logit per step) and the supervisor (next step from the past)."""

    def __init__(self, features: int, hidden: int, layers: int):
        super().__init__()
        self.rnn = nn.GRU(features, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, 1)
        self.supervisor = nn.GRU(features, hidden, 1, batch_first=True)
        self.next_step = nn.Linear(hidden, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(x)
        return self.head(h).reshape(-1)

    def predict_next(self, x: torch.Tensor) -> torch.Tensor:
        """For each step t of x, the supervisor's guess of step t + 1."""
        h, _ = self.supervisor(x)
        return torch.sigmoid(self.next_step(h))


def next_step_loss(D: SeriesCritic, x: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the supervisor's next-step guesses on x."""
    return (D.predict_next(x[:, :-1]) - x[:, 1:]).pow(2).mean()


def moment_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Per-feature |mean difference| + |std difference| over batch and steps (TimeGAN's V loss)."""
    r, f = real.flatten(0, 1), fake.flatten(0, 1)
    mean = (r.mean(0) - f.mean(0)).abs().mean()
    std = (r.std(0, correction=0) - f.std(0, correction=0)).abs().mean()
    return mean + std


class SeriesFamily(Family):
    """Windows in, windows out; `config.model.sample_shape` is (steps, features)."""

    name = "series"

    def __init__(self, config, supervised_weight: float = 10.0, moment_weight: float = 10.0):
        super().__init__(config)
        self.supervised_weight, self.moment_weight = supervised_weight, moment_weight

    @classmethod
    def load_dataset(cls, config):
        raise GanforgeError(
            "the series family trains on sequences",
            fix="use `ganforge series fit data.csv -o model.gfs --seq-len 24`",
        )

    @property
    def shape(self) -> tuple[int, int]:
        steps, features = self.config.model.sample_shape
        return int(steps), int(features)

    def build(self) -> tuple[nn.Module, nn.Module]:
        m = self.config.model
        _, features = self.shape
        generator = SeriesGenerator(m.latent_dim, features, m.g_width, m.mlp_layers)
        return generator, SeriesCritic(features, m.d_width, m.mlp_layers)

    def sample_latent(self, n, device, generator=None):
        """Half the noise is drawn once per sequence (its 'style'), half anew at every step."""
        steps, _ = self.shape
        dim = self.config.model.latent_dim
        static = torch.randn(n, 1, dim // 2, device=device, generator=generator)
        per_step = torch.randn(n, steps, dim - dim // 2, device=device, generator=generator)
        return torch.cat([static.expand(-1, steps, -1), per_step], 2)

    def discriminator_loss(self, G, D, real, y, d_step):
        loss_name = self.config.train.loss
        with torch.no_grad():
            fake = G(self.sample_latent(real.shape[0], real.device))
        real_logits, fake_logits = D(real), D(fake)
        adversarial = objectives.d_loss(loss_name, real_logits, fake_logits)
        supervised = next_step_loss(D, real)
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
        supervised = next_step_loss(D, fake)
        moments = moment_loss(real, fake)
        loss = adversarial + self.supervised_weight * supervised + self.moment_weight * moments
        logs: Logs = {
            "g_loss": adversarial.detach(),
            "g_supervised": supervised.detach(),
            "g_moments": moments.detach(),
        }
        return loss, logs
