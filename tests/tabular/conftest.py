"""Small mixed-type tables for the tabular tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def mixed_table(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Every column kind the transformer handles: text, ints, floats with gaps, bools, dates, a
    constant; `num`'s mode depends on `cat` (x: around 0, y/z: around 5)."""
    rng = np.random.default_rng(seed)
    cat = rng.choice(["x", "y", "z"], n, p=[0.7, 0.25, 0.05])
    num = np.where(cat == "x", rng.normal(0, 1, n), rng.normal(5, 0.5, n)).round(2)
    num[rng.random(n) < 0.1] = np.nan
    frame = pd.DataFrame(
        {
            "cat": cat,
            "num": num,
            "age": rng.integers(18, 90, n),
            "flag": rng.random(n) < 0.3,
            "const": 7,
            "day": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "grade": rng.choice([1, 2, 3], n),
        }
    )
    return frame


@pytest.fixture
def table() -> pd.DataFrame:
    """A 240-row mixed table."""
    return mixed_table()


@pytest.fixture
def make_table():
    """The table factory itself, for other sizes."""
    return mixed_table


@pytest.fixture
def table_csv(tmp_path) -> str:
    """The mixed table written as CSV (as a user's file would be)."""
    path = tmp_path / "data.csv"
    mixed_table().to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="session")
def shared_table_csv(tmp_path_factory) -> str:
    """The mixed table as CSV, written once for module-scoped fixtures."""
    path = tmp_path_factory.mktemp("table") / "data.csv"
    mixed_table().to_csv(path, index=False)
    return str(path)


# TabularGAN settings that fit the mixed table in well under a second of training.
TINY_FIT = {
    "epochs": 2,
    "batch_size": 40,
    "embedding_dim": 8,
    "generator_width": 16,
    "discriminator_width": 16,
    "pack": 4,
    "mixture_rows": 200,
    "verbose": False,
    "seed": 0,
}


@pytest.fixture
def tiny_fit() -> dict:
    """TINY_FIT, a fresh copy per test."""
    return dict(TINY_FIT)
