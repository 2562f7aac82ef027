"""The fast-path choices of training/performance.py: each rule does what it says on its inputs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.training import performance


@pytest.fixture
def flags(monkeypatch):
    """Pretend the CPU has the given feature flags."""

    def set_flags(*names: str) -> None:
        monkeypatch.setattr(performance, "cpu_flags", lambda: frozenset(names))

    return set_flags


def test_auto_precision_is_bf16_only_on_a_cpu_with_native_bf16(flags):
    cpu = torch.device("cpu")
    flags("avx2", "fma")
    assert performance.resolve_precision("auto", cpu)[0] == "fp32"
    flags("avx2", "avx512f", "avx512_bf16")
    assert performance.resolve_precision("auto", cpu)[0] == "bf16"
    flags("amx_bf16")
    assert performance.resolve_precision("auto", cpu)[0] == "bf16"
    # An explicit request is honoured whatever the hardware.
    flags()
    assert performance.resolve_precision("bf16", cpu) == ("bf16", "as requested")


def test_fp16_on_cpu_is_a_clear_error():
    with pytest.raises(GanforgeError, match="fp16"):
        performance.resolve_precision("fp16", torch.device("cpu"))


def test_configure_cpu_sets_threads_and_flushes_denormals():
    before = torch.get_num_threads()
    try:
        assert performance.configure_cpu(threads=1) == (1, "as requested")
        assert torch.get_num_threads() == 1
        tiny = torch.tensor([1e-39], dtype=torch.float32)  # subnormal in fp32
        assert float(tiny * 1.0) == 0.0
        # torchrun ranks on one machine split the cores instead of oversubscribing them.
        assert performance.configure_cpu(threads=0, local_world_size=64)[0] == 1
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(before)


@pytest.fixture
def machine(monkeypatch):
    """Pretend this process may use `cores` of a `total`-core machine where `running` threads
    are runnable (this one included), and that torch was left at `torch_threads`."""

    def set_machine(cores=2, total=2, running=1, torch_threads=2):
        monkeypatch.setattr(performance, "usable_cores", lambda: cores)
        monkeypatch.setattr(performance.os, "cpu_count", lambda: total)
        monkeypatch.setattr(performance, "_procs_running", lambda: running)
        monkeypatch.setattr(performance.torch, "get_num_threads", lambda: torch_threads)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)

    return set_machine


def test_others_load_counts_the_other_runnable_threads(machine, monkeypatch):
    machine(running=1)  # only the thread that reads
    assert performance.others_load(seconds=0, samples=3) == 0
    machine(running=3)
    assert performance.others_load(seconds=0, samples=3) == 2
    # Pinned to 4 of 16 cores: a quarter of the machine's other work lands on ours.
    machine(cores=4, total=16, running=9)
    assert performance.others_load(seconds=0, samples=3) == 2
    # No /proc/stat (macOS): the load average.
    machine(running=None)
    monkeypatch.setattr(performance.os, "getloadavg", lambda: (1.5, 0.0, 0.0))
    assert performance.others_load(seconds=0, samples=3) == 1.5


def test_auto_threads_leave_the_cores_other_jobs_use(machine, monkeypatch):
    machine(cores=2, running=1)
    assert performance.auto_threads() == (2, "cores free")
    machine(cores=2, running=2)  # one busy job beside us
    assert performance.auto_threads() == (1, "1 of 2 cores busy with other jobs")
    machine(cores=2, running=9)  # never fewer than one thread
    assert performance.auto_threads()[0] == 1
    machine(cores=16, total=16, running=5, torch_threads=16)
    assert performance.auto_threads()[0] == 12
    # Asked for elsewhere: OMP_NUM_THREADS, or torch left at one thread by the caller.
    machine(cores=2, running=9)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert performance.auto_threads() == (2, "OMP_NUM_THREADS")
    machine(cores=2, running=1, torch_threads=1)
    assert performance.auto_threads() == (1, "torch's setting")


@pytest.mark.parametrize(
    ("env", "expected"), [({}, "PASSIVE"), ({"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE")]
)
def test_the_command_makes_openmp_sleep_before_torch_loads(env, expected):
    # OpenMP reads OMP_WAIT_POLICY once, when torch loads it: the CLI must set it first.
    code = (
        "import os, sys, ganforge.cli; print('torch' in sys.modules, os.environ['OMP_WAIT_POLICY'])"
    )
    clean = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    ran = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True
    )
    assert ran.stdout.split() == ["False", expected], ran.stderr


def test_fused_adam_matches_plain_adam():
    torch.manual_seed(0)
    a, b = nn.Linear(5, 3), nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    cpu = torch.device("cpu")
    opt_a = performance.adam(a.parameters(), 1e-2, (0.5, 0.999), cpu, fused=True)
    opt_b = performance.adam(b.parameters(), 1e-2, (0.5, 0.999), cpu, fused=False)
    x = torch.randn(8, 5)
    for _ in range(3):
        for net, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    torch.testing.assert_close(a.weight, b.weight, rtol=1e-5, atol=1e-6)


def test_compile_falls_back_to_eager_with_a_message(monkeypatch):
    def broken(module):
        raise RuntimeError("no C++ compiler found\nmore detail")

    monkeypatch.setattr(torch, "compile", broken)
    said = []
    net = nn.Linear(2, 2)
    assert performance.compile_module(net, warn=said.append) is net
    assert len(said) == 1 and "no C++ compiler found" in said[0] and "eagerly" in said[0]


def test_sync_batchnorm_only_under_torchrun_on_cuda():
    def conv_bn():
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU())

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    net = conv_bn()
    assert performance.sync_batchnorm(net, cuda, 1) == (net, "")  # alone: nothing to sync
    same, note = performance.sync_batchnorm(net, cpu, 2)
    assert same is net and "per rank" in note  # gloo on CPU: said, not silently skipped
    mlp = nn.Sequential(nn.Linear(2, 2))
    assert performance.sync_batchnorm(mlp, cuda, 2) == (mlp, "")  # no BatchNorm: no note
    synced, note = performance.sync_batchnorm(net, cuda, 2)  # conversion itself needs no GPU
    assert note == "SyncBatchNorm" and isinstance(synced[1], nn.SyncBatchNorm)
    assert synced[1].weight is net[1].weight  # the same parameters: optimiser and EMA unaffected


def test_bf16_training_keeps_fp32_weights_and_finite_losses(tiny):
    from ganforge.training.loop import Trainer

    trainer = Trainer(tiny(train={"precision": "bf16", "threads": 1}))
    for _ in range(3):
        trainer.train_step(log_now=True)
    trainer.check_finite()
    assert all(p.dtype == torch.float32 for p in trainer.generator.parameters())
    assert "bf16" in trainer.speed_notes
