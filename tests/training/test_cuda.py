"""CUDA checks (benchmarks/gpu.sh runs them on a GPU machine); skipped where no GPU is present."""

from __future__ import annotations

import math

import pytest
import torch

from ganforge import objectives
from ganforge.nets.resnet import ResNetDiscriminator, ResNetGenerator
from ganforge.training.loop import Trainer
from tests.conftest import tiny_config

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

R3GAN = {
    "loss": "relativistic-pair",
    "r1_weight": 0.1,
    "r2_weight": 0.1,
    "r1_every": 1,
    "beta1": 0.0,
    "device": "cuda",
}


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_a_few_steps_on_cuda_stay_finite(arch, precision):
    model = {"arch": arch, "group_channels": 4, "blocks_per_stage": 1, "g_width": 8, "d_width": 8}
    train = {**R3GAN, "precision": precision, "steps": 3, "log_every": 1}
    trainer = Trainer(tiny_config(model=model, train=train))
    trainer.fit()
    logs = trainer.history[-1]
    assert next(trainer.generator.parameters()).is_cuda
    assert all(math.isfinite(logs[k]) for k in ("d_loss", "g_loss", "r1", "r2"))


def test_resnet_on_cuda_matches_cpu():
    torch.manual_seed(0)
    G, D = ResNetGenerator(8, 3, 32, 8, 1, 2, 4), ResNetDiscriminator(3, 32, 8, 1, 2, 4)
    z = torch.randn(4, 8)
    with torch.no_grad():
        x_cpu, logits_cpu = G(z), D(G(z))
        G, D = G.cuda(), D.cuda()
        x_gpu = G(z.cuda())
        logits_gpu = D(x_gpu)
    # TF32 may be on for convolutions: agreement to ~1e-3, not bit-exact
    assert torch.allclose(x_gpu.cpu(), x_cpu, atol=2e-3)
    assert torch.allclose(logits_gpu.cpu(), logits_cpu, atol=2e-2, rtol=1e-2)


def test_zero_centred_penalty_on_cuda_matches_cpu():
    D = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 1))
    x = torch.randn(5, 3, 2, 2)
    cpu = objectives.r1_penalty(lambda v: D(v).view(-1), x)
    D = D.cuda()
    gpu = objectives.r1_penalty(lambda v: D(v).view(-1), x.cuda())
    assert gpu.item() == pytest.approx(cpu.item(), rel=1e-3)
