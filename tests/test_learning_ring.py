"""Learning tests: `ring-vanilla` recovers the 8-Gaussian ring, `grid-mbstd-pack` the 25-mode grid."""

from __future__ import annotations

import time

import pytest
import torch

from ganforge.data.toys import RING_STD, ring_centers
from ganforge.metrics.modes import mode_coverage
from ganforge.presets import get_preset
from ganforge.training.loop import Trainer


# Deliberately in the default suite (the issue asks for it in CI): ~25 s on one quiet core.
def test_ring_vanilla_recovers_the_modes_sharply():
    config = get_preset("ring-vanilla")
    config.train.seed = 0
    config.train.tensorboard = False
    trainer = Trainer(config)  # no run_dir: nothing is written to disk
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start

    samples = trainer.generate(5000, torch.Generator().manual_seed(0))
    result = mode_coverage(samples, ring_centers(), RING_STD)
    report = (
        f"modes {result['modes']}/8, high quality {result['high_quality']:.3f}, {seconds:.1f} s"
    )
    print(report)  # visible with -s; speed is tracked by the benchmarks, not asserted here

    assert samples.shape == (5000, 2)
    assert torch.isfinite(samples).all()
    assert result["modes"] >= 7, report
    assert result["high_quality"] >= 0.80, report
    # Only a gross regression (e.g. a 4x slower step) fails here; a shared 2-core CI is noisy.
    assert seconds < 240, report


@pytest.mark.slow  # ~1.5 min on one core: the 25-mode grid needs 12,000 steps
def test_grid_preset_recovers_all_25_modes_in_their_shares():
    config = get_preset("grid-mbstd-pack")
    config.train.seed = 1
    config.train.tensorboard = False
    trainer = Trainer(config)
    trainer.fit()
    samples = trainer.generate(2500, torch.Generator().manual_seed(8))
    meta = trainer.dataset.meta
    result = mode_coverage(samples, torch.tensor(meta["centers"]), meta["std"])
    assert result["modes"] == 25, result
    assert result["high_quality"] >= 0.5, result
    # balanced (issue 23): no mode under half its share (measured seed 1: KL 0.016, smallest
    # share 0.70 of its due; the preset before R3GAN's loss: 5 under half, KL 0.16)
    assert result["modes_under_half"] == 0 and result["mode_kl"] <= 0.05, result
