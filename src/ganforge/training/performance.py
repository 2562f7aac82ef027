"""Choosing what makes training fast on the hardware at hand, and saying what was chosen.

Each choice is measured in benchmarks/train_speed.py; the rules here encode those measurements:
bf16 autocast pays off only where the CPU has native bf16 (AVX512-BF16 / AMX) or on CUDA;
denormal flushing avoids a large fp32 slowdown on x86 once GAN weights get tiny; one intra-op
thread pool sized to the cores this process may use (shared among local ranks) that other jobs
leave free (benchmarks/quickstart.py): a thread pool's barriers wait for every thread, so on a
core another job also wants, each parallel op waits out the scheduler's time slice; the small
models here then run several times slower on 2 threads than on 1 (bf16 convolutions the most).
The `ganforge` command also makes OpenMP's idle threads sleep rather than spin
(OMP_WAIT_POLICY=PASSIVE, set in cli.py before torch loads), which costs nothing measurable on
a quiet machine and was 3x on a busy one.
"""

from __future__ import annotations

import os
import time
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


def _procs_running() -> int | None:
    """Threads runnable on the whole machine right now (/proc/stat), None where unknown."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("procs_running"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def others_load(seconds: float = 0.1, samples: int = 25) -> float:
    """How many cores' worth of work other jobs keep runnable on the cores this process may use.

    The mean of /proc/stat's runnable count over `seconds` (less this thread), which sees a job
    that started a second ago and not one that ended (the 1-minute load average lags both ways);
    the load average where /proc/stat is missing. Scaled to this process's share of the machine
    when its affinity allows fewer cores than the machine has.
    """
    counts = []
    for i in range(samples):
        n = _procs_running()
        if n is None:
            break
        counts.append(n - 1)  # this thread, running while it reads
        if i + 1 < samples:
            time.sleep(seconds / samples)
    if counts:
        load = sum(counts) / len(counts)
    else:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0
    return max(0.0, load) * usable_cores() / (os.cpu_count() or usable_cores())


def free_cores(others: float | None = None) -> int:
    """The usable cores other jobs leave free (at least 1)."""
    load = others_load() if others is None else others
    return max(1, min(usable_cores(), round(usable_cores() - load)))


def auto_threads() -> tuple[int, str]:
    """Intra-op threads when none were asked for: torch's setting, capped at the free cores.

    OMP_NUM_THREADS, or a lower torch.set_num_threads by the caller, is kept as it is.
    """
    current = torch.get_num_threads()
    if os.environ.get("OMP_NUM_THREADS"):
        return current, "OMP_NUM_THREADS"
    if current <= 1:
        return current, "torch's setting"
    free = free_cores()
    if free >= current:
        return current, "cores free"
    return free, f"{usable_cores() - free} of {usable_cores()} cores busy with other jobs"


def configure_cpu(threads: int = 0, local_world_size: int = 1) -> tuple[int, str]:
    """One intra-op pool per process; returns (threads, why).

    `threads` when given; under torchrun the usable cores split among the local ranks; alone
    (threads=0), torch's setting capped at the cores other jobs leave free (auto_threads).
    Also flushes denormals: fp32 convs on x86 slow down several-fold when weights or
    activations become subnormal, which GAN training reaches; flushing them to zero is
    harmless for training (GPUs do it by default).
    """
    if threads > 0:
        n, why = threads, "as requested"
    elif local_world_size > 1:  # torchrun: split the cores, never oversubscribe
        n, why = max(1, usable_cores() // local_world_size), f"{local_world_size} local ranks"
    else:
        n, why = auto_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    torch.set_flush_denormal(True)
    return n, why


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
