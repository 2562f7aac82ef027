"""Exponential moving average of the generator's weights (Karras 2018; Yazici 2019)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """A frozen copy of a network whose parameters track the live ones: ema = lerp(ema, live, 1-decay).

    Written by hand (not swa_utils.AveragedModel) because buffers must be *copied*, not averaged:
    BatchNorm's running statistics are already averages, and num_batches_tracked is an integer.
    A warm-up (decay_t = min(decay, (1+t)/(10+t))) keeps early samples from echoing the init.
    """

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average one step toward `model`."""
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_params = list(self.module.parameters())
        live_params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, live_params, 1.0 - decay)
        for ema_buf, buf in zip(self.module.buffers(), model.buffers(), strict=True):
            ema_buf.copy_(buf)

    def state_dict(self) -> dict:
        """Weights and the update count."""
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        """Restore what state_dict saved."""
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
