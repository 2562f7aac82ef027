"""Learning test: the ring-vanilla preset puts every mode at >= half its share (issue 23)."""

from __future__ import annotations

import pytest
import torch

from ganforge.data.toys import RING_STD, ring_centers
from ganforge.metrics.modes import mode_coverage
from ganforge.presets import get_preset
from ganforge.training.loop import Trainer


@pytest.mark.slow  # ~30-40 s on one quiet core: ring-vanilla's full 4,000 steps
@pytest.mark.parametrize("seed", [0, 2])  # the two seeds the preset left unbalanced without R1
def test_ring_vanilla_balances_its_modes(seed):
    config = get_preset("ring-vanilla")
    config.train.seed = seed
    config.train.tensorboard = False
    trainer = Trainer(config)
    trainer.fit()
    samples = trainer.generate(2500, torch.Generator().manual_seed(seed + 7))
    result = mode_coverage(samples, ring_centers(), RING_STD)
    shares = [round(s * 8, 2) for s in result["shares"]]  # 1 = a mode's fair share
    assert result["modes_under_half"] == 0, shares
    assert result["mode_kl"] <= 0.05, (result["mode_kl"], shares)
    assert result["high_quality"] >= 0.75, result["high_quality"]
