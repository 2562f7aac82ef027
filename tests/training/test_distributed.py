"""Multi-process training on CPU with gloo: gradient averaging, synchronised ranks, exact resume."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ganforge.training.checkpoint import load_file
from ganforge.training.distributed import average_gradients

WORKER = Path(__file__).with_name("ddp_worker.py")


def _grad_worker(rank: int, world: int, store: str, results: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 1))
    x = torch.randn(8, 5)
    half = x[rank * 4 : (rank + 1) * 4]
    model(half).pow(2).mean().backward()
    average_gradients(model, world)
    torch.save([p.grad for p in model.parameters()], f"{results}{rank}.pt")
    dist.destroy_process_group()


def test_average_gradients_equals_full_batch_gradient(tmp_path):
    mp.spawn(_grad_worker, args=(2, str(tmp_path / "store"), str(tmp_path / "g")), nprocs=2)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 1))
    x = torch.randn(8, 5)
    model(x).pow(2).mean().backward()
    for rank in (0, 1):
        grads = torch.load(tmp_path / f"g{rank}.pt")
        for g, ref in zip(grads, (p.grad for p in model.parameters()), strict=True):
            torch.testing.assert_close(g, ref, rtol=1e-5, atol=1e-7)


def torchrun(tmp_path, name, steps, batch=8, resume=None, nproc=2, env=None):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        str(WORKER),
        str(tmp_path),
        name,
        str(steps),
        str(batch),
    ]
    if resume:
        cmd.append(str(resume))
    env = {**os.environ, **(env or {})}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if (
        proc.returncode != 0
        and "exitcode: -6" in proc.stderr
        and not _finished(tmp_path / name, steps)
    ):
        # gloo occasionally aborts a worker at process exit on a loaded machine (seen once in
        # ~10 runs); a real training failure reproduces, so one retry separates the two. An
        # abort after the last checkpoint was written is the exit only: retrying that (a resume
        # to the same --steps) would be refused, as the run already has them.
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    elif proc.returncode != 0 and "exitcode: -6" in proc.stderr:
        proc = subprocess.CompletedProcess(cmd, 0, proc.stdout, proc.stderr)
    if env and "GANFORGE_TEST_SIGTERM" in env:  # an interrupted run: its workers exit 130
        assert proc.returncode != 0 and "exitcode  : 130" in proc.stderr, proc.stderr[-3000:]
        return proc.stderr
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp_path / name


def _finished(run, steps: int) -> bool:
    """Whether the run's last checkpoint holds `steps` steps (the training itself completed)."""
    last = run / "checkpoints" / "last.pt"
    return last.exists() and load_file(last)["step"] == steps


def _identical(a, b):
    assert a.keys() == b.keys()
    return all(torch.equal(a[k], b[k]) for k in a)


def test_two_process_training_stays_in_sync_and_resumes_exactly(tmp_path):
    straight = torchrun(tmp_path, "straight", 8)
    r0 = torch.load(straight / "rank0.pt")
    r1 = torch.load(straight / "rank1.pt")
    assert _identical(r0["generator"], r1["generator"])  # averaged gradients keep ranks equal
    assert _identical(r0["discriminator"], r1["discriminator"])
    for rank in (0, 1):  # the end of fit() tore the process group down on every rank
        assert (straight / f"rank{rank}.group").read_text() == "left"
    ckpt = load_file(straight / "checkpoints" / "last.pt")
    assert ckpt["step"] == 8 and len(ckpt["rank_rng"]) == 2
    assert _identical(ckpt["generator"], r0["generator"])

    halves = torchrun(tmp_path, "halves", 4)
    torchrun(tmp_path, "halves", 8, resume=halves)
    resumed = load_file(halves / "checkpoints" / "last.pt")
    assert _identical(resumed["generator"], ckpt["generator"])
    assert _identical(resumed["discriminator"], ckpt["discriminator"])

    # One process with the same global batch sees the same data (the ranks' slices of one
    # permutation) and the same initial weights; only the noise streams differ, so the first
    # logged D loss agrees closely but not bitwise.
    single = torchrun(tmp_path, "single", 8, batch=16, nproc=1)
    first_single = load_file(single / "checkpoints" / "last.pt")["history"][0]["d_loss"]
    first_ddp = ckpt["history"][0]["d_loss"]
    assert abs(first_single - first_ddp) < 0.05, (first_single, first_ddp)


@pytest.mark.slow  # three more torchrun launches
def test_sigterm_on_one_rank_stops_every_rank_at_one_step_and_resumes_exactly(tmp_path):
    """Rank 1 alone gets SIGTERM after step 3: the ranks agree at the next logging step (4),
    rank 0 writes the checkpoint there, and resuming ends as the uninterrupted run does."""
    straight = torchrun(tmp_path, "straight", 8)
    err = torchrun(tmp_path, "cut", 8, env={"GANFORGE_TEST_SIGTERM": "1:3"})
    assert err.count("interrupted at step 4 (checkpoint saved)") == 2, err[-3000:]
    cut = tmp_path / "cut"
    assert load_file(cut / "checkpoints" / "last.pt")["step"] == 4
    torchrun(tmp_path, "cut", 8, resume=cut)
    a = load_file(straight / "checkpoints" / "last.pt")
    b = load_file(cut / "checkpoints" / "last.pt")
    assert _identical(a["generator"], b["generator"])
    assert _identical(a["discriminator"], b["discriminator"])
