"""Shared fixtures: tiny configs that train in well under a second, single-threaded."""

from __future__ import annotations

import pytest
import torch

from ganforge.config import Config, merge


@pytest.fixture(autouse=True)
def _one_thread():
    # 2-core CI: one intra-op thread per test process avoids oversubscription and keeps
    # CPU results bit-reproducible across runs.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def tiny_config(tmp_path=None, **sections) -> Config:
    """A DCGAN on 8x8 digits with narrow nets: a few steps take milliseconds."""
    base = {
        "data": {"source": "digits", "resolution": 8},
        "model": {"arch": "dcgan", "latent_dim": 8, "g_width": 8, "d_width": 8},
        "train": {
            "steps": 6,
            "batch_size": 16,
            "log_every": 2,
            "sample_every": 3,
            "checkpoint_every": 3,
            "ema": 0.9,
            "tensorboard": False,
        },
    }
    for section, values in sections.items():
        base.setdefault(section, {}).update(values)
    config = merge(Config(), base)
    if tmp_path is not None:
        config.out, config.name = str(tmp_path), "run"
    return config


@pytest.fixture
def tiny(tmp_path):
    """Factory for tiny configs writing under tmp_path."""
    return lambda **sections: tiny_config(tmp_path, **sections)
