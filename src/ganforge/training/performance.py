"""Choosing what makes training fast on the hardware at hand, and saying what was chosen.

Each choice is measured in benchmarks/train_speed.py; the rules here encode those measurements:
bf16 autocast pays off only where the CPU has native bf16 (AVX512-BF16 / AMX) or on CUDA;
denormal flushing avoids a large fp32 slowdown on x86 once GAN weights get tiny; one intra-op
thread pool sized to the cores this process may use (shared among local ranks).
"""

from __future__ import annotations

import os
from functools import lru_cache

import torch
from torch import nn

from ganforge.errors import GanforgeError


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags from /proc/cpuinfo (empty where it does not exist)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16_cpu() -> bool:
    """True when the CPU computes bf16 natively (otherwise bf16 autocast is slower than fp32)."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_flags())


def resolve_precision(precision: str, device: torch.device) -> tuple[str, str]:
    """`auto` -> the fastest safe precision for the device; returns (precision, reason)."""
    if precision != "auto":
        if precision == "fp16" and device.type == "cpu":
            raise GanforgeError(
                "fp16 autocast is for GPUs", fix="use --precision bf16 or fp32 on CPU"
            )
        return precision, "as requested"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", "CUDA GPU with bf16 support"
        return "fp16", "CUDA GPU without bf16: fp16 with a GradScaler"
    if device.type == "cpu" and native_bf16_cpu():
        return "bf16", "CPU has native bf16 (avx512_bf16/amx_bf16)"
    return "fp32", f"no native bf16 on this {device.type}: bf16 would be slower"


def usable_cores() -> int:
    """Cores this process may run on (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def configure_cpu(threads: int = 0, local_world_size: int = 1) -> int:
    """One intra-op pool per process: `threads`, the cores split among torchrun's local ranks,
    or (alone, threads=0) torch's own setting.

    Also flushes denormals: fp32 convs on x86 slow down several-fold when weights or
    activations become subnormal, which GAN training reaches; flushing them to zero is
    harmless for training (GPUs do it by default).
    """
    if threads > 0:
        n = threads
    elif local_world_size > 1:  # torchrun: split the cores, never oversubscribe
        n = max(1, usable_cores() // local_world_size)
    else:  # alone: keep torch's own choice (the physical cores) or the caller's setting
        n = torch.get_num_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    torch.set_flush_denormal(True)
    return n


def adam(
    params, lr: float, betas: tuple[float, float], device: torch.device, fused: bool
) -> torch.optim.Adam:
    """Adam, fused into one kernel per step when asked and supported on the device."""
    if fused:
        try:
            return torch.optim.Adam(params, lr, betas=betas, fused=True)
        except (RuntimeError, TypeError):
            params = list(params)
    return torch.optim.Adam(params, lr, betas=betas, foreach=None)


def sync_batchnorm(
    module: nn.Module, device: torch.device, world_size: int
) -> tuple[nn.Module, str]:
    """Under torchrun, BatchNorm over the global batch (SyncBatchNorm) where PyTorch supports it.

    Each rank sees batch/N samples; per-rank statistics then differ from a one-process run with
    the global batch, and more so the smaller the local batch. torch's SyncBatchNorm needs CUDA
    (its collective kernels have no CPU path), so on CPU the layers stay per rank and the note
    says so. Returns (module, note); the note is "" when there is nothing to say.
    """
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())
    if world_size <= 1 or not has_bn:
        return module, ""
    if device.type != "cuda":
        return module, "BatchNorm statistics per rank (SyncBatchNorm needs CUDA)"
    return nn.SyncBatchNorm.convert_sync_batchnorm(module), "SyncBatchNorm"


def compile_module(module: nn.Module, warn=print) -> nn.Module:
    """torch.compile with a fallback: a missing backend or compiler says so and runs eagerly."""
    try:
        return torch.compile(module)
    except Exception as e:  # noqa: BLE001 - any backend failure falls back to eager
        warn(
            f"ganforge: warning: torch.compile unavailable ({str(e).splitlines()[0][:100]}); "
            "running eagerly"
        )
        return module
