"""Synthetic sequences, side by side: ganforge's TimeSeriesGAN vs Gretel's DGAN vs deepecho's PAR.

    python -m venv --system-site-packages /work/venvs/series-peers
    /work/venvs/series-peers/bin/pip install -r benchmarks/requirements-series.txt  # see there
    nice -n 10 python benchmarks/series.py --peers-python /work/venvs/series-peers/bin/python
    python benchmarks/series.py --quick                      # smoke test: tiny data, seconds

One invocation, one machine. Data (the TimeGAN protocol, ganforge.series.metrics):
- sines: TimeGAN's generator (`metrics.sines`: per window and feature a frequency and a phase
  from U(0, 0.1)), 10,000 windows x 24 steps x 5 features, as in the paper;
- stocks: ../shared/datasets/stocks (GOOG): reversed to chronological order, min-max scaled,
  every window of 24 steps (3,661), shuffled.

Every model gets the same windows (each window one sequence: ganforge's `sequence_key`, DGAN's
features array, PAR's entity column), fits in its own process (one CPU thread each, so the peak
memory is the model's own: ru_maxrss of that process after the fit) with its documented defaults
and the same wall-clock budget (`--budget-minutes`: a fit stops at its default epochs or at the
budget, whichever comes first; the epochs done are printed), then samples as many windows as the
real set (PAR's sampling is also capped by `--sample-budget-minutes`; the discriminative score
then uses as many real windows, drawn at random, so both classes stay balanced). All synthetic
sets are scored after every fit is done, with the same code: `--fits` post-hoc fits (seeds 0..k-1)
each of ganforge's discriminative and predictive scores (the reference nets and iterations),
mean +- std; the `real` line is the predictive score of the real windows themselves.

The peers are benchmark-only dependencies, run with `--peers-python` (a venv with
benchmarks/requirements-series.txt), never imported by the main environment. A peer that cannot
be found, imported or run gives its line with the reason; the other lines still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STOCKS = ROOT / ".." / "shared" / "datasets" / "stocks" / "stock_data.csv"
MODELS = ("ganforge", "dgan", "par")
DATASETS = ("sines", "stocks")
PEERS = {"dgan": "gretel-synthetics (DGAN)", "par": "deepecho (PAR)"}
QUICK = {"sines_n": 64, "stocks_n": 64, "budget_s": 20.0, "sample_budget_s": 20.0, "iters": 20}
WORKER_FAILED = 3  # exit code of a worker whose model could not be imported or run


# ---- data --------------------------------------------------------------------------------------


def real_windows(name: str, seq_len: int = 24, n: int | None = None, seed: int = 0) -> np.ndarray:
    """The real windows (N, seq_len, F) in [0, 1] of a benchmark set (TimeGAN's protocol).

    `n`: the number of sines windows (default the paper's 10,000), or the first n stock windows
    after the shuffle (default all)."""
    from ganforge.series import metrics

    if name == "sines":
        return metrics.sines(10_000 if n is None else n, seq_len=seq_len, dim=5, seed=seed)
    if name == "stocks":
        windows = metrics.stock_windows(STOCKS, seq_len=seq_len, seed=seed)
        return windows if n is None else windows[:n]
    raise ValueError(f"unknown data set {name!r} (one of {', '.join(DATASETS)})")


def long_frame(windows: np.ndarray):
    """Windows as one long table: an `id` column (one id per window), then f0..f{F-1}."""
    import pandas as pd

    n, steps, features = windows.shape
    frame = pd.DataFrame(windows.reshape(n * steps, features).astype(np.float64))
    frame.columns = [f"f{j}" for j in range(features)]
    frame.insert(0, "id", np.repeat(np.arange(n), steps))
    return frame


def frame_windows(frame, key: str, columns: list[str], steps: int) -> np.ndarray:
    """A long table (one row per step, `key` naming the sequence, rows in step order within it)
    back to windows (N, steps, F); sequences of another length are an error."""
    ordered = frame.sort_values(key, kind="stable")
    counts = ordered.groupby(key, sort=False).size().to_numpy()
    if len(counts) == 0 or (counts != steps).any():
        raise ValueError(
            f"sampled sequences have lengths {sorted(set(counts.tolist()))}, not {steps}"
        )
    return ordered[columns].to_numpy(np.float32).reshape(len(counts), steps, len(columns))


# ---- the models (run inside a worker process) ----------------------------------------------------


class _Budget(Exception):
    """Raised from a training callback when the wall-clock budget is spent."""


def fit_ganforge(windows, budget_s: float, seed: int, quick: bool):
    from ganforge.series import TimeSeriesGAN

    kwargs = {"max_steps": 5} if quick else {}
    model = TimeSeriesGAN(max_minutes=budget_s / 60, seed=seed, verbose=False, quiet=True, **kwargs)
    model.warn_notes = False
    model.fit(long_frame(windows), seq_len=windows.shape[1], sequence_key="id")
    steps = model.config.train.steps
    done = model.summary.get("steps", steps)
    settings = {k: v for k, v in model.settings.items() if k not in ("verbose", "quiet")}
    settings["steps"] = f"{done} of {steps}"

    def sample(n: int, budget: float):
        out = model.sample(n, seed=seed)
        return frame_windows(
            out, "sequence_id", [f"f{j}" for j in range(windows.shape[2])], windows.shape[1]
        )

    return sample, settings


def fit_dgan(windows, budget_s: float, seed: int, quick: bool):
    import torch
    from gretel_synthetics.timeseries_dgan.config import DGANConfig
    from gretel_synthetics.timeseries_dgan.dgan import DGAN

    torch.manual_seed(seed)
    steps = windows.shape[1]
    # the package README's example: max_sequence_len=20, sample_len=5 (4 LSTM steps) -> 24 / 6
    sample_len = steps // 4 if steps % 4 == 0 else 1
    config = DGANConfig(
        max_sequence_len=steps,
        sample_len=sample_len,
        batch_size=min(1000, len(windows)),  # the README example's 1000; the default is 1024
        epochs=2 if quick else 400,  # 400: DGANConfig's default
        cuda=False,
    )
    model = DGAN(config)
    deadline = time.monotonic() + budget_s
    done = {"epoch": 0}

    def stop_at_budget(info):
        done["epoch"] = info.epoch + (info.batch + 1) / info.total_batches
        if time.monotonic() > deadline:
            raise _Budget

    try:
        model.train_numpy(features=windows.astype(np.float32), progress_callback=stop_at_budget)
    except _Budget:
        pass
    settings = {
        "max_sequence_len": steps,
        "sample_len": sample_len,
        "batch_size": config.batch_size,
        "epochs": f"{done['epoch']:.1f} of {config.epochs}",
        "other": "DGANConfig defaults (LSTM 1x100, attribute MLP 3x100, WGAN-GP 10, lr 1e-3, "
        "feature and example scaling)",
    }

    def sample(n: int, budget: float):
        _, features = model.generate_numpy(n)
        return np.asarray(features, dtype=np.float32)

    return sample, settings


def fit_par(windows, budget_s: float, seed: int, quick: bool):
    import torch
    from deepecho import PARModel
    from deepecho.models import par as par_module

    torch.manual_seed(seed)
    np.random.seed(seed)
    epochs = 2 if quick else 128  # 128: PARModel's (and SDV PARSynthesizer's) default
    deadline = time.monotonic() + budget_s
    done = {"epochs": 0}

    class Epochs:
        """PAR's own epoch loop, cut at the budget (it iterates `tqdm(range(epochs))`)."""

        def __init__(self, iterable, **_):
            self.iterable = iterable

        def set_description(self, *_):
            pass

        def __iter__(self):
            for epoch in self.iterable:
                if epoch > 0 and time.monotonic() > deadline:
                    return
                done["epochs"] = epoch + 1
                yield epoch

    columns = [f"f{j}" for j in range(windows.shape[2])]
    par_module.tqdm = Epochs
    model = PARModel(epochs=epochs, sample_size=1, cuda=False, verbose=False)
    model.fit(
        long_frame(windows), entity_columns=["id"], data_types=dict.fromkeys(columns, "continuous")
    )
    settings = {
        "epochs": f"{done['epochs']} of {epochs}",
        "sample_size": 1,
        "other": "PARModel defaults (GRU 32, Adam 1e-3, full batch); continuous columns",
    }

    def sample(n: int, budget: float):
        parts, t0, left = [], time.monotonic(), n
        while left and (not parts or time.monotonic() - t0 < budget):
            k = min(left, 50)
            out = model.sample(num_entities=k, sequence_length=windows.shape[1])
            parts.append(frame_windows(out, "id", columns, windows.shape[1]))
            left -= k
        return np.concatenate(parts)

    return sample, settings


FITTERS = {"ganforge": fit_ganforge, "dgan": fit_dgan, "par": fit_par}


def versions(model: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    package = {"ganforge": "ganforge", "dgan": "gretel-synthetics", "par": "deepecho"}[model]
    try:
        found = version(package)
    except PackageNotFoundError:
        found = "?"
    import torch

    return f"{package} {found}, torch {torch.__version__}, numpy {np.__version__}"


def worker(args) -> int:
    """Fit one model on the windows in `args.windows`, sample, write `args.out` (.npy) and print
    one JSON line (timings, peak RSS, settings) or the reason it could not."""
    import warnings

    warnings.filterwarnings("ignore")
    windows = np.load(args.windows)
    try:
        import torch

        torch.set_num_threads(args.threads)
        fitter = FITTERS[args.worker]
        t0 = time.perf_counter()
        sample, settings = fitter(windows, args.budget_s, args.seed, args.quick)
        fit_s = time.perf_counter() - t0
        peak_fit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t1 = time.perf_counter()
        synth = sample(len(windows), args.sample_budget_s)
        sample_s = time.perf_counter() - t1
    except ImportError as e:
        print(json.dumps({"error": f"not installed here ({e})"}))
        return WORKER_FAILED
    except Exception as e:  # a peer that breaks: its line says why, the others still run
        print(json.dumps({"error": f"failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}"}))
        return WORKER_FAILED
    np.save(args.out, synth.astype(np.float32))
    print(
        json.dumps(
            {
                "fit_s": fit_s,
                "sample_s": sample_s,
                "peak_mb": peak_fit,
                "sampled": int(len(synth)),
                "settings": settings,
                "versions": versions(args.worker),
            }
        )
    )
    return 0


# ---- the driver ----------------------------------------------------------------------------------


def run_worker(python: str | None, model: str, windows_path: Path, out: Path, args) -> dict:
    """Run one fit in its own process; {"error": why} when it cannot."""
    if python is None:
        return {
            "error": "not run: no --peers-python (a venv with benchmarks/requirements-series.txt)"
        }
    if not Path(python).exists():
        return {"error": f"not run: --peers-python {python} does not exist"}
    command = [
        python,
        str(Path(__file__).resolve()),
        "--worker",
        model,
        "--windows",
        str(windows_path),
        "--out",
        str(out),
        "--budget-s",
        str(args.budget_s),
        "--sample-budget-s",
        str(args.sample_budget_s),
        "--threads",
        str(args.threads),
        "--seed",
        str(args.seed),
    ] + (["--quick"] if args.quick else [])
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), PYTHONWARNINGS="ignore")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    limit = 4 * (args.budget_s + args.sample_budget_s) + 600
    try:
        ran = subprocess.run(command, capture_output=True, text=True, timeout=limit, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"failed: no result after {limit:.0f} s"}
    except OSError as e:
        return {"error": f"not run: {python} cannot start ({e.strerror})"}
    lines = [line for line in ran.stdout.splitlines() if line.startswith("{")]
    if lines:
        result = json.loads(lines[-1])
        if "error" not in result and ran.returncode == 0:
            result["synth"] = np.load(out)
        return result
    tail = (ran.stderr.strip().splitlines() or ["no output"])[-1][:160]
    return {"error": f"failed (exit {ran.returncode}): {tail}"}


def score_task(task: tuple) -> tuple:
    """One post-hoc fit of one score (a process-pool task): (key, value)."""
    import torch

    from ganforge.series import metrics

    key, kind, first, second, seed, iterations = task
    torch.set_num_threads(1)
    if kind == "disc":
        value = metrics.discriminative_score(first, second, iterations=iterations, seed=seed)
    else:
        value = metrics.predictive_score(first, second, iterations=iterations, seed=seed)
    return key, kind, value


def balanced(real: np.ndarray, synth: np.ndarray, seed: int) -> np.ndarray:
    """As many real windows as synthetic ones (a random subset) when the model sampled fewer."""
    if len(synth) >= len(real):
        return real
    return real[np.random.default_rng(seed).permutation(len(real))[: len(synth)]]


def fmt(stat: dict | None, digits: int) -> str:
    if not stat:
        return "-".ljust(2 * digits + 8)
    return f"{stat['mean']:.{digits}f} +- {stat['std']:.{digits}f}"


def line(dataset: str, model: str, result: dict) -> str:
    """One stable line per model and data set (the README's table)."""
    head = f"{dataset:<7} {model:<9}"
    if "error" in result:
        return f"{head} {result['error']}"
    out = f"{head} disc {fmt(result.get('disc'), 3)}  pred {fmt(result.get('pred'), 4)}"
    if model == "real":
        return f"{out}  (the real windows themselves, {result['windows']} windows)"
    return (
        f"{out}  fit {result['fit_s']:6.1f} s  sample {result['sample_s']:6.1f} s  "
        f"peak {result['peak_mb']:5.0f} MB  ({result['sampled']} windows)"
    )


def stats(values: list[float]) -> dict:
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "values": values}


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{platform.node() or 'machine'}: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cpus, load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peers-python", default=None, help="python of a venv with the peers")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--data", default=",".join(DATASETS))
    p.add_argument("--fits", type=int, default=5, help="post-hoc fits per score (TimeGAN: 5)")
    p.add_argument("--budget-minutes", type=float, default=4.0, help="wall clock per fit")
    p.add_argument("--sample-budget-minutes", type=float, default=3.0)
    p.add_argument("--sines-n", type=int, default=None, help="sines windows (default 10,000)")
    p.add_argument("--seq-len", type=int, default=24)
    p.add_argument("--threads", type=int, default=1, help="torch threads per fit")
    p.add_argument("--jobs", type=int, default=1, help="score fits run in parallel")
    p.add_argument(
        "--score-scale",
        type=float,
        default=1.0,
        help="fraction of the reference's post-hoc iterations (2000 / 5000); 1 is the protocol",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="append the results here (JSON lines)")
    p.add_argument("--quick", action="store_true", help="tiny data and budgets: a smoke test")
    # worker mode (internal): one fit in this process
    p.add_argument("--worker", choices=MODELS, help=argparse.SUPPRESS)
    p.add_argument("--windows", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--budget-s", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--sample-budget-s", type=float, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)

    models = [m for m in args.models.split(",") if m]
    datasets = [d for d in args.data.split(",") if d]
    bad = [m for m in models if m not in MODELS] + [d for d in datasets if d not in DATASETS]
    if bad or args.fits < 1:
        p.error(f"unknown model or data set {bad}" if bad else "--fits must be >= 1")
    args.budget_s = QUICK["budget_s"] if args.quick else 60 * args.budget_minutes
    args.sample_budget_s = (
        QUICK["sample_budget_s"] if args.quick else 60 * args.sample_budget_minutes
    )
    from ganforge.series import metrics

    iters = {
        "disc": metrics.DISCRIMINATIVE_ITERATIONS,
        "pred": metrics.PREDICTIVE_ITERATIONS,
    }
    for kind, reference in iters.items():
        iters[kind] = QUICK["iters"] if args.quick else max(1, round(reference * args.score_scale))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(
        f"# series benchmark {started}; {machine()}; {args.threads} thread(s) per fit, "
        f"budget {args.budget_s:.0f} s per fit, {args.sample_budget_s:.0f} s per PAR sampling, "
        f"{args.fits} post-hoc fit(s) per score of {iters['disc']} / {iters['pred']} iterations "
        f"(the reference: 2000 / 5000){' (QUICK: not a measurement)' if args.quick else ''}",
        flush=True,
    )
    results: dict[tuple[str, str], dict] = {}
    real: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in datasets:
            if args.quick:
                n = QUICK[f"{dataset}_n"]
            else:
                n = args.sines_n if dataset == "sines" else None
            real[dataset] = real_windows(dataset, args.seq_len, n, args.seed)
            path = Path(tmp) / f"{dataset}.npy"
            np.save(path, real[dataset])
            for model in models:
                python = sys.executable if model == "ganforge" else args.peers_python
                result = run_worker(python, model, path, Path(tmp) / f"{dataset}-{model}.npy", args)
                results[dataset, model] = result
                what = result.get("error") or (
                    f"fit {result['fit_s']:.1f} s, sample {result['sample_s']:.1f} s, "
                    f"{result['versions']}; settings {json.dumps(result['settings'])}"
                )
                print(f"# {dataset} {model}: {what}", flush=True)
    # the scores, after every fit (so no fit shares the CPU with them)
    tasks = []
    for dataset in datasets:
        x = real[dataset]
        results[dataset, "real"] = {"windows": len(x)}
        for s in range(args.fits):
            tasks.append(((dataset, "real"), "pred", x, x, args.seed + s, iters["pred"]))
        for model in models:
            synth = results[dataset, model].get("synth")
            if synth is None:
                continue
            if not np.isfinite(synth).all() or synth.shape[1:] != x.shape[1:]:
                results[dataset, model] = {
                    "error": f"failed: synthetic windows {synth.shape}, "
                    "not finite or not the real shape"
                }
                continue
            for s in range(args.fits):
                seed = args.seed + s
                tasks.append(
                    ((dataset, model), "disc", balanced(x, synth, seed), synth, seed, iters["disc"])
                )
                tasks.append(((dataset, model), "pred", synth, x, seed, iters["pred"]))
    values: dict[tuple, list[float]] = {}
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            done = list(pool.map(score_task, tasks))
    else:
        done = [score_task(t) for t in tasks]
    for key, kind, value in done:
        values.setdefault((key, kind), []).append(value)
    for (key, kind), found in values.items():
        results[key][kind] = stats(found)
    print(f"# scored {time.strftime('%H:%M UTC', time.gmtime())}; {machine()}")
    order = [(d, m) for d in datasets for m in ("real", *models)]
    for key in order:
        print(line(*key, results[key]))
    if args.json:
        with open(args.json, "a") as f:
            for key in order:
                record = {k: v for k, v in results[key].items() if k != "synth"}
                record.update(
                    dataset=key[0],
                    model=key[1],
                    started=started,
                    fits=args.fits,
                    quick=args.quick,
                    budget_s=args.budget_s,
                    machine=machine(),
                )
                f.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
