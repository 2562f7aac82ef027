"""Shared fixtures: tiny configs that train in well under a second, single-threaded."""

from __future__ import annotations

import os

import pytest
import torch

from ganforge.config import Config
from tests.cli_helpers import train_tiny
from tests.config_helpers import config_from
from tests.fixtures import MNIST_MINI


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """One thread for torch and numpy's BLAS: the 2-core machine is shared, oversubscribed
    pools slow small ops by 10-50x, and one thread keeps CPU results bit-reproducible."""
    torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """No test may write features or look for weights under the user's ~/.cache."""
    old = os.environ.get("GANFORGE_CACHE")
    os.environ["GANFORGE_CACHE"] = str(tmp_path_factory.mktemp("ganforge_cache"))
    yield
    if old is None:
        os.environ.pop("GANFORGE_CACHE", None)
    else:
        os.environ["GANFORGE_CACHE"] = old


@pytest.fixture
def mnist_mini(monkeypatch):
    """MNIST for tests: the 500 + 200 images shipped in tests/fixtures/mnist-mini (checksummed),
    found through $GANFORGE_DATA as a user's own copy would be; no test needs ../shared."""
    monkeypatch.setenv("GANFORGE_DATA", str(MNIST_MINI))
    return MNIST_MINI


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
    return config_from(base, tmp_path, sections)


@pytest.fixture
def tiny(tmp_path):
    """Factory for tiny configs writing under tmp_path."""
    return lambda **sections: tiny_config(tmp_path, **sections)


@pytest.fixture
def crun(tmp_path, capsys):
    """A tiny conditional run on the digits, trained through the CLI: its run directory."""
    code, _, err = train_tiny(capsys, tmp_path, "--family", "conditional", "--name", "c")
    assert code == 0, err
    return tmp_path / "c"
