"""Session settings for the metric tests: one thread, and a feature cache outside $HOME."""

import os

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """One thread for torch and numpy's BLAS: the machine is shared, and oversubscribed BLAS
    pools slow small eigendecompositions by 10-50x."""
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl ships with scikit-learn; without it, just torch
        yield
        return
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
