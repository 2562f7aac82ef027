"""StackedMNIST (data/stacked_mnist.py): three MNIST train digits as R, G, B, a fixed seeded set."""

from __future__ import annotations

import numpy as np
import torch

from ganforge.data import load_dataset
from ganforge.data.mnist import load_mnist_arrays
from ganforge.data.stacked_mnist import SIZE, stack_indices


def test_each_channel_is_an_mnist_train_digit_and_the_label_its_triple(mnist_mini):
    data = load_dataset("stacked-mnist", resolution=28, limit=200)
    images, labels = load_mnist_arrays(split="train")
    index = stack_indices(len(images))[:200]
    assert data.data.shape == (200, 3, 28, 28) and data.data.dtype == torch.uint8
    for c in range(3):  # channel c of image i is MNIST train image index[i, c]
        assert np.array_equal(data.data[:, c].numpy(), images[index[:, c]])
    expected = labels[index] @ np.array([100, 10, 1])
    assert np.array_equal(data.labels.numpy(), expected)
    assert data.class_names[int(expected[0])] == "".join(map(str, labels[index[0]]))
    assert len(data.class_names) == 1000


def test_the_set_is_fixed_and_limit_keeps_its_first_images(mnist_mini):
    full = load_dataset("stacked-mnist", resolution=28)
    again = load_dataset(f"stacked-mnist:{mnist_mini}", resolution=28, limit=50)
    assert len(full) == SIZE
    assert torch.equal(full.data[:50], again.data) and torch.equal(full.labels[:50], again.labels)
    # three independent uniform draws: the digits of each channel are not the same picture
    index = stack_indices(500)
    assert (index[:, 0] != index[:, 1]).mean() > 0.99
    assert np.bincount(index.ravel(), minlength=500).min() > 0  # every source digit is used


def test_a_run_on_it_trains_rgb_images(mnist_mini, tiny):
    from ganforge.training.loop import Trainer

    config = tiny(data={"source": "stacked-mnist", "resolution": 16, "limit": 64})
    trainer = Trainer(config)
    trainer.fit()
    assert trainer.generate(2, torch.Generator().manual_seed(0)).shape == (2, 3, 16, 16)
