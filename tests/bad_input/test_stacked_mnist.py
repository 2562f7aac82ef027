"""Bad input for StackedMNIST: a missing or damaged MNIST under stacked-mnist:PATH, and the
stacked-modes metric on images that are not 3-channel: one line each, no traceback."""

from __future__ import annotations

import numpy as np
import pytest

from tests.bad_input.conftest import assert_user_error
from tests.bad_input.test_datasets import CASES, damaged_copy


def train_on(cli, spec: str, tmp_path):
    return cli("train", "--data", spec, "--steps", "1", "--out", tmp_path / "runs")


def test_a_missing_folder_is_named_with_its_form(cli, tmp_path):
    line = assert_user_error(
        train_on(cli, f"stacked-mnist:{tmp_path / 'nowhere'}", tmp_path),
        "MNIST folder not found",
        "stacked-mnist:PATH",
    )
    assert str(tmp_path / "nowhere") in line and "ganforge data get mnist --dir" in line
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "case", ["truncated-gzip", "bad-magic", "count-mismatch", "missing-labels"]
)
def test_a_damaged_mnist_file_is_one_line_naming_it(cli, tmp_path, case):
    damage, name, messages = CASES[case]
    folder = damaged_copy(tmp_path, damage)
    line = assert_user_error(train_on(cli, f"stacked-mnist:{folder}", tmp_path), *messages)
    assert str(folder / name) in line, line


def test_stacked_modes_of_grey_images(cli, tmp_path):
    grey = tmp_path / "grey.npy"
    np.save(grey, np.zeros((8, 1, 28, 28), np.uint8))
    assert_user_error(
        cli("eval", "--real", grey, "--fake", grey, "--metrics", "stacked-modes", "-n", 8),
        "3-channel",
        "stacked-modes",
    )
