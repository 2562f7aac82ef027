"""The quick start and the toy presets on this CPU: the default choices against the best, quiet and busy.

For each preset and each load (`--jobs 0,1`: that many single-thread busy loops this benchmark
starts beside whatever else the machine runs) it prints one line:

  quickstart preset=digits-dcgan steps=1500 cpu="AMD EPYC" avx512_bf16=yes cores=2 jobs=1
    others=1.1 load1=1.4 run_s=98 (full run) default=1t/bf16/passive:62ms best=1t/fp32/passive:60ms
    default_vs_best=0.97x before=2t/bf16/spin:310ms default_vs_before=5.00x no_bf16_run_s=...

run_s is `ganforge train --preset P` as a user runs it (wall clock from start to exit; with
--steps N < the preset's steps, a 1-step run's fixed cost plus the rest scaled to the full run,
said as "extrapolated"). The arms time the training step alone, in one pair of worker processes
(OMP_WAIT_POLICY unset / PASSIVE: it is read once, when torch loads), alternating short blocks
so that load changes hit every arm alike: default (what ganforge chooses now), before (torch's
threads, OpenMP spinning: ganforge before issue 18) and 1 or all cores x fp32/bf16. `others`
is performance.others_load() (runnable threads of other jobs, ours included) when the run
starts, `load1` the 1-minute load average. no_bf16_run_s: run_s scaled by fp32's step time
over the default's (what `precision auto` picks on a CPU without native bf16, such as AVX2-only).

--avx2 emulates an AVX2-only CPU on this one: ATen, oneDNN and MKL limited to AVX2 kernels
(ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA, MKL_ENABLE_INSTRUCTIONS) and fp32 wherever the preset
says `precision auto` (what auto picks without native bf16); clock, caches and cores stay this
CPU's, so it shows the decisions, not another CPU's speed.

Usage: python benchmarks/quickstart.py                       # all three presets, jobs 0 and 1
       python benchmarks/quickstart.py --presets digits-dcgan --jobs 1 --steps 300
       python benchmarks/quickstart.py --presets digits-dcgan --avx2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
BLOCK = {"digits-dcgan": 8}  # steps per timed block (toys: 40); about a second each, quiet
EMULATE_AVX2 = False
AVX2_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
}


def cpu_name() -> tuple[str, bool]:
    """(model name, native bf16?) from /proc/cpuinfo."""
    name, flags = "unknown CPU", set()
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name == "unknown CPU":
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    return name, bool({"avx512_bf16", "amx_bf16"} & flags)


def worker(preset: str) -> None:
    """Hold one Trainer per (arm, precision); run a block of steps per command line on stdin."""
    import torch

    from ganforge.presets import get_preset
    from ganforge.training.loop import Trainer

    trainers = {}
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["arm"] not in trainers:
            config = get_preset(preset)
            config.train.log_every = 10**9
            if cmd["precision"]:
                config.train.precision = cmd["precision"]
            trainers[cmd["arm"]] = trainer = Trainer(config)
            trainer.arm_threads = cmd["threads"] or torch.get_num_threads()
        trainer = trainers[cmd["arm"]]
        torch.set_num_threads(trainer.arm_threads)
        start = time.perf_counter()
        for _ in range(cmd["steps"]):
            trainer.train_step()
        trainer.check_finite()
        seconds = time.perf_counter() - start
        reply = {"s": seconds, "threads": trainer.arm_threads, "precision": trainer.precision}
        print(json.dumps(reply), flush=True)


def arms(preset: str, cores: int, bf16: bool) -> list[dict]:
    """default first (its Trainer picks threads while torch still has its own setting)."""
    auto = None if bf16 else "fp32"  # the preset's precision; fp32 where auto would be on AVX2
    out = [{"arm": "default", "policy": "PASSIVE", "threads": 0, "precision": auto}]
    out.append({"arm": "before", "policy": "", "threads": cores, "precision": auto})
    for threads in sorted({1, cores}):
        for precision in ("fp32", "bf16") if bf16 else ("fp32",):
            arm = f"{threads}t/{precision}/passive"
            out.append(
                {"arm": arm, "policy": "PASSIVE", "threads": threads, "precision": precision}
            )
    return out


def time_arms(preset: str, rounds: int, cores: int, bf16: bool) -> dict[str, dict]:
    """ms per step of each arm, from `rounds` interleaved rounds after one warm-up round."""
    workers = {}
    for policy in ("", "PASSIVE"):
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        env.update(AVX2_ENV if not bf16 and EMULATE_AVX2 else {})
        if policy:
            env["OMP_WAIT_POLICY"] = policy
        workers[policy] = subprocess.Popen(
            [sys.executable, __file__, "--worker", preset],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
    block = BLOCK.get(preset, 40)
    plan = arms(preset, cores, bf16)
    totals = {a["arm"]: 0.0 for a in plan}
    seen = {}
    try:
        for rnd in range(rounds + 1):
            for a in plan:
                w = workers[a["policy"]]
                w.stdin.write(json.dumps({**a, "steps": block}) + "\n")
                w.stdin.flush()
                reply = json.loads(w.stdout.readline())
                seen[a["arm"]] = reply
                totals[a["arm"]] += reply["s"] if rnd else 0.0
    finally:
        for w in workers.values():
            w.stdin.close()
            w.wait()
    result = {}
    for a in plan:
        r = seen[a["arm"]]
        wait = "passive" if a["policy"] else "spin"
        result[a["arm"]] = {
            "label": f"{r['threads']}t/{r['precision']}/{wait}",
            "threads": r["threads"],
            "precision": r["precision"],
            "ms": 1000 * totals[a["arm"]] / (rounds * block),
        }
    return result


def run_command(preset: str, steps: int | None, out: Path, keep: Path | None) -> float:
    """Wall seconds of `ganforge train --preset P` (as a user runs it) in a fresh process."""
    from ganforge.presets import get_preset

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    name = f"{preset}-{steps or 'full'}"
    cmd = [sys.executable, "-m", "ganforge", "train", "--preset", preset, "--out", str(out)]
    cmd += ["--name", name, "--quiet"] + (["--steps", str(steps)] if steps else [])
    cmd += ["--monitor", "off"] if steps == 1 else []  # one step: no health verdict to wait for
    if EMULATE_AVX2:
        env.update(AVX2_ENV)
        cmd += ["--precision", "fp32"] if get_preset(preset).train.precision == "auto" else []
    start = time.perf_counter()
    ran = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if ran.returncode:
        sys.exit(f"quickstart: {' '.join(cmd)} failed:\n{ran.stderr[-2000:]}")
    if keep is not None:
        grids = sorted((out / name / "samples").glob("step_*.png"))
        if grids:
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(grids[-1], keep)
    shutil.rmtree(out / name, ignore_errors=True)
    return seconds


def measure(preset: str, args, jobs: int, cpu: str, bf16: bool) -> dict:
    from ganforge.presets import get_preset
    from ganforge.training import performance

    full = get_preset(preset).train.steps
    cores = performance.usable_cores()
    others, load1 = performance.others_load(seconds=1.0, samples=100), os.getloadavg()[0]
    keep = Path(args.keep) / f"quickstart_{preset}_jobs{jobs}.png" if args.keep else None
    with tempfile.TemporaryDirectory() as tmp:
        if args.steps and args.steps < full:
            fixed = run_command(preset, 1, Path(tmp), None)
            part = run_command(preset, args.steps, Path(tmp), keep)
            run_s = fixed + (part - fixed) * (full - 1) / (args.steps - 1)
            how = f"extrapolated from {args.steps} steps"
        else:
            run_s, how = run_command(preset, None, Path(tmp), keep), "full run"
    timed = time_arms(preset, args.rounds, cores, bf16)
    default, before = timed["default"], timed["before"]
    best = min(timed.values(), key=lambda r: r["ms"])
    fp32_same = next(
        (
            r
            for r in timed.values()
            if r["threads"] == default["threads"] and r["precision"] == "fp32"
        ),
        default,
    )
    row = {
        "preset": preset,
        "steps": full,
        "cpu": cpu,
        "avx512_bf16": bf16,
        "cores": cores,
        "jobs": jobs,
        "others": round(others, 2),
        "load1": round(load1, 2),
        "load1_after": round(os.getloadavg()[0], 2),
        "run_s": round(run_s, 1),
        "run": how,
        "arms": timed,
        "no_bf16_run_s": round(run_s * fp32_same["ms"] / default["ms"], 1),
        "torch": __import__("torch").__version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    print(
        f'quickstart preset={preset} steps={full} cpu="{cpu}" avx512_bf16={"yes" if bf16 else "no"} '
        f"cores={cores} jobs={jobs} others={others:.1f} load1={load1:.1f} run_s={run_s:.0f} ({how}) "
        f"default={default['label']}:{default['ms']:.0f}ms best={best['label']}:{best['ms']:.0f}ms "
        f"default_vs_best={best['ms'] / default['ms']:.2f}x "
        f"before={before['label']}:{before['ms']:.0f}ms "
        f"default_vs_before={before['ms'] / default['ms']:.2f}x "
        f"no_bf16_run_s={row['no_bf16_run_s']:.0f}",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="digits-dcgan,ring-vanilla,grid-mbstd-pack")
    parser.add_argument("--jobs", default="0,1", help="busy-loop processes to start, per pass")
    parser.add_argument("--steps", type=int, default=0, help="time N steps and extrapolate")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the arms")
    parser.add_argument("--keep", default="", help="folder for each run's last sample grid")
    parser.add_argument("--json", default=str(RESULTS / "quickstart.jsonl"))
    parser.add_argument("--avx2", action="store_true", help="emulate an AVX2-only CPU")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    cpu, bf16 = cpu_name()
    if args.avx2:
        global EMULATE_AVX2
        EMULATE_AVX2, cpu, bf16 = True, f"{cpu} as AVX2-only (emulated)", False
    for jobs in map(int, args.jobs.split(",")):
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(jobs)]
        try:
            time.sleep(2.0 if jobs else 0.0)
            for preset in args.presets.split(","):
                row = measure(preset, args, jobs, cpu, bf16)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(row) + "\n")
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()


if __name__ == "__main__":
    main()
