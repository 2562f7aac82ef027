"""Differential privacy for the tabular GAN: DP-SGD on the critic (Abadi et al. 2016).

The critic's WGAN loss is E[D(fake)] - E[D(real)] + gp_weight * penalty. Each sampled record i
forms a unit with one generated row, loss_i = -D(real_i) + D(fake_i); each unit's gradient is
clipped to `max_grad_norm` (real and fake terms together, so both stay on one scale), the
clipped gradients are summed, Gaussian noise of std noise_multiplier * max_grad_norm is added
(DP-SGD's step) and the sum divided by the expected batch. The gradient penalty is taken between
two independent batches of generated rows, so it reads no record and needs no noise.

Why not Opacus' GradSampleModule: WGAN-GP differentiates the critic's input gradient again (a
double backward), which Opacus' hooks do not support, and its hooks would also see the penalty's
passes. The adversarial terms need no double backward, and for a critic made of Linear layers a
row's gradient is an outer product, so the per-unit norms and the clipped sum are computed
exactly without per-unit gradient tensors (what Opacus calls ghost clipping); a test checks them
against unit-by-unit autograd. Privacy is accounted with Opacus' RDP functions (Mironov 2017;
the sampled Gaussian mechanism of Mironov et al. 2019).

What the guarantee covers (add/remove-one-record adjacency):
- Rows reach the critic by Poisson sampling (each row in a batch with probability q = B/N, what
  the accountant assumes) and without packing (pack = 1: with packs a record's presence would
  shift every later pack); each record's real row carries its own conditional vector.
- The generator never reads data: its loss goes through the privatised critic, and its
  conditional vectors come from level counts released with the Gaussian mechanism (L2
  sensitivity sqrt(#discrete columns)), composed into the same accountant (a tenth of epsilon).
- NOT covered unless public metadata is given: the preprocessing's statistics (column types,
  ranges, decimals, mixture modes, category lists) are fit on the data. With public metadata
  (categories of discrete columns, min/max of continuous ones) the transformer reads no private
  value and the whole pipeline is (epsilon, delta)-DP.
- The noise must be unpredictable: DP fits draw a secret random seed unless one is given, and
  the model file holds no seed or RNG state (a run directory's checkpoints do: keep it private).
"""

from __future__ import annotations

import math

import torch

from ganforge import objectives
from ganforge.errors import GanforgeError


def _orders() -> list[float]:
    try:
        from opacus.accountants import RDPAccountant
    except ImportError:
        raise GanforgeError(
            "differential privacy needs opacus (its accountant)",
            fix="pip install 'ganforge[tabular]'",
        ) from None

    # large orders too: with little noise or few steps the best order lies past Opacus' 63
    return list(RDPAccountant.DEFAULT_ALPHAS) + [80, 96, 128, 192, 256]


def epsilon_of(history: list[tuple[float, float, int]], delta: float) -> float:
    """Epsilon spent (at `delta`) by a list of (noise multiplier, sample rate, steps).

    RDP composition with Opacus' accountant functions: the sampled Gaussian mechanism for
    q < 1, the plain Gaussian mechanism's alpha / (2 sigma^2) for q = 1.
    """
    import numpy as np
    from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

    history = [h for h in history if h[2] > 0]
    if not history:
        return 0.0
    orders = _orders()
    total = np.zeros(len(orders))
    for sigma, q, steps in history:
        if q >= 1.0:
            total += steps * np.asarray(orders) / (2 * sigma**2)
        else:
            total += compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders)
    epsilon, _ = get_privacy_spent(orders=orders, rdp=total, delta=delta)
    return float(epsilon)


def noise_for(
    epsilon: float, delta: float, sample_rate: float, steps: int, fixed: list | None = None
) -> float:
    """The smallest noise multiplier whose `steps` steps, after `fixed` mechanisms, spend epsilon."""
    fixed = list(fixed or [])
    if epsilon_of(fixed, delta) >= epsilon:
        raise GanforgeError(f"epsilon {epsilon:g} is too small for this table")
    low, high = 0.05, 1.0
    while epsilon_of(fixed + [(high, sample_rate, steps)], delta) > epsilon:
        low, high = high, high * 2
        if high > 1e5:
            raise GanforgeError(f"epsilon {epsilon:g} cannot be reached", fix="raise --epsilon")
    while high - low > 0.002 * high:  # 0.2%: finer changes epsilon by less than it matters
        mid = (low + high) / 2
        if epsilon_of(fixed + [(mid, sample_rate, steps)], delta) > epsilon:
            low = mid
        else:
            high = mid
    return high


def noisy_counts(
    counts: list[list[int]], noise_multiplier: float, generator: torch.Generator
) -> list[list[float]]:
    """Level counts + Gaussian noise, std noise_multiplier * sqrt(#columns) (one record: one
    count per column), clamped at 0."""
    scale = noise_multiplier * math.sqrt(max(len(counts), 1))
    out = []
    for column in counts:
        c = torch.tensor(column, dtype=torch.float64)
        noise = torch.randn(c.shape, generator=generator, dtype=torch.float64) * scale
        out.append((c + noise).clamp(min=0).tolist())
    return out


class PrivateCritic:
    """DP-SGD for the critic's updates, and the privacy accountant of a whole fit."""

    def __init__(
        self,
        epsilon: float,
        delta: float,
        sample_rate: float,
        steps: int,
        max_grad_norm: float = 1.0,
        count_noise: float = 0.0,
        chunk: int = 256,
    ):
        if not epsilon > 0:
            raise GanforgeError(f"--epsilon must be positive, got {epsilon!r}")
        if not 0 < delta < 1:
            raise GanforgeError(f"--delta must be in (0, 1), got {delta!r}")
        self.epsilon, self.delta = float(epsilon), float(delta)
        self.sample_rate, self.planned_steps = float(sample_rate), int(steps)
        self.max_grad_norm, self.chunk = float(max_grad_norm), chunk
        self.count_noise = float(count_noise)
        fixed = self._fixed()
        self.noise_multiplier = noise_for(self.epsilon, self.delta, self.sample_rate, steps, fixed)
        self.steps_done = 0

    def _fixed(self) -> list[tuple[float, float, int]]:
        return [(self.count_noise, 1.0, 1)] if self.count_noise > 0 else []

    def spent(self) -> float:
        """Epsilon spent so far (counts release + critic steps done)."""
        history = self._fixed() + [(self.noise_multiplier, self.sample_rate, self.steps_done)]
        return epsilon_of(history, self.delta)

    def report(self) -> dict:
        """What the model file records about privacy (plain types)."""
        return {
            "mechanism": "DP-SGD on the critic (per-record clipping + Gaussian noise), "
            "RDP accountant; level counts by the Gaussian mechanism",
            "target_epsilon": self.epsilon,
            "epsilon": self.spent(),
            "delta": self.delta,
            "noise_multiplier": self.noise_multiplier,
            "count_noise_multiplier": self.count_noise,
            "max_grad_norm": self.max_grad_norm,
            "sample_rate": self.sample_rate,
            "steps": self.steps_done,
        }

    def state_dict(self) -> dict:
        """Steps done (the accountant's state)."""
        return {"steps_done": self.steps_done}

    def load_state_dict(self, state: dict) -> None:
        """Spent privacy never goes back: a rollback keeps the larger step count."""
        self.steps_done = max(self.steps_done, int(state.get("steps_done", 0)))

    def critic_step(self, family, G, D, real, cond):
        """A surrogate loss whose gradient w.r.t. D's parameters is the DP-SGD gradient.

        WGAN critic loss = E[D(fake)] - E[D(real)] + gp_weight * penalty. Each sampled record i
        forms one unit with one fake row: -D(real_i) + D(fake_i), whose gradient is clipped as a
        whole (so real and fake terms stay on the same scale) and noised. The fakes are made for
        conditions drawn from the noisy counts; the penalty is taken between two independent fake
        batches: neither reads a record, so the penalty needs no noise.
        """
        t = family.config.train
        n, batch = real.shape[0], t.batch_size
        with torch.no_grad():
            fake_cond = family.conditions(n + 2 * batch, real.device)
            z = family.sample_latent(n + 2 * batch, real.device)
            fakes = torch.cat([G.activate(G(z, fake_cond)), fake_cond], 1)
        units = [(torch.cat([real, cond], 1), -1.0), (fakes[:n], 1.0)]
        private = clipped_sum_of_gradients(D, units, self.max_grad_norm)
        params = list(D.parameters())
        logs = {"d_real": private["scores"][0], "d_fake": private["scores"][1]}
        public_grads = [torch.zeros_like(p) for p in params]
        if t.gp_weight > 0:
            gp = objectives.gradient_penalty(D.packed, fakes[n : n + batch], fakes[n + batch :])
            # (the last layer's bias does not move an input gradient: no gradient for it)
            grads = torch.autograd.grad(t.gp_weight * gp, params, allow_unused=True)
            public_grads = [
                torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)
            ]
            logs["gp"] = gp.detach()
        expected_batch = self.sample_rate * len(family.sampler.codes)
        sigma = self.noise_multiplier * self.max_grad_norm
        surrogate = torch.zeros((), device=real.device)
        for p, g_public, g_private in zip(params, public_grads, private["grads"], strict=True):
            noisy = (g_private + torch.randn_like(p) * sigma) / expected_batch
            surrogate = surrogate + (p * (noisy + g_public).detach()).sum()
        self.steps_done += 1
        logs["dp_batch"] = torch.tensor(float(n), device=real.device)
        logs["dp_clipped"] = private["clipped"]
        logs["d_loss"] = logs["d_fake"] - logs["d_real"]
        return surrogate, logs


def clipped_sum_of_gradients(
    D: torch.nn.Module, blocks: list[tuple[torch.Tensor, float]], max_norm: float
) -> dict:
    """Sum over units i of clip(grad of sum_p sign_p * D(x_p[i]), max_norm), exactly, without
    per-unit gradient tensors.

    `blocks` are (rows, sign) with the same number of rows; unit i is row i of every block.
    D must be a chain of Linear layers and per-row activations (no batch coupling). A Linear
    layer's gradient from a row is the outer product g a^T (g: gradient at its output, a: its
    input), so a unit's squared norm is sum_{p,q} (g_p . g_q)(a_p . a_q) for the weight plus
    ||sum_p g_p||^2 for the bias, and the clipped sum is one matmul per layer: (c * G)^T A
    (Goodfellow 2015, Opacus' ghost clipping, extended to units of several rows).
    """
    linears = [m for m in D.modules() if isinstance(m, torch.nn.Linear)]
    if len(linears) != sum(1 for p in D.parameters()) // 2:
        raise ValueError("DP critic: only Linear layers may hold parameters")
    n, k = blocks[0][0].shape[0], len(blocks)
    x = torch.cat([rows for rows, _ in blocks], 0)
    signs = torch.cat([torch.full((n,), sign, device=x.device) for _, sign in blocks])
    if n == 0:
        zeros = [torch.zeros_like(p) for p in D.parameters()]
        return {"grads": zeros, "clipped": x.new_zeros(()), "scores": [x.new_zeros(())] * k}
    inputs, outputs = {}, {}

    def keep(module, args, out):
        inputs[module], outputs[module] = args[0], out

    handles = [m.register_forward_hook(keep) for m in linears]
    try:
        scores = D(x)
    finally:
        for h in handles:
            h.remove()
    grad_out = torch.autograd.grad((signs * scores).sum(), [outputs[m] for m in linears])
    squared = x.new_zeros(n)
    for m, g in zip(linears, grad_out, strict=True):
        a = inputs[m].detach().reshape(k, n, -1)
        g = g.reshape(k, n, -1)
        g_dot = torch.einsum("pif,qif->pqi", g, g)
        a_dot = torch.einsum("pif,qif->pqi", a, a)
        squared = squared + (g_dot * a_dot).sum((0, 1)) + g.sum(0).pow(2).sum(1)
    norms = squared.sqrt()
    factor = (max_norm / (norms + 1e-6)).clamp(max=1.0).repeat(k)
    per_module = {}
    for m, g in zip(linears, grad_out, strict=True):
        weighted = g * factor[:, None]
        per_module[m] = (weighted.T @ inputs[m].detach(), weighted.sum(0))
    grads = []
    for name, _ in D.named_parameters():
        module = D.get_submodule(name.rsplit(".", 1)[0]) if "." in name else D
        grads.append(per_module[module][0 if name.endswith("weight") else 1])
    return {
        "grads": grads,
        "clipped": (norms > max_norm).float().mean(),
        "scores": [s.mean() for s in scores.detach().reshape(k, n)],
    }
