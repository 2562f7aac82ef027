"""Synthetic Adult, side by side: ganforge's TabularGAN vs the `ctgan` package vs a Gaussian copula.

    pip install -e .[tabular] -r benchmarks/requirements-tabular.txt
    python benchmarks/tabular.py --epochs 300            # the CTGAN paper's setting (hours on CPU)
    python benchmarks/tabular.py --epochs 10 --dp-epsilon 3

Same data (UCI Adult train, 32,561 rows; test 16,281 rows as the holdout), same discrete columns,
same epochs, batch size 500, one CPU thread each, one process per model (so peak memory is the
model's own: ru_maxrss of the child), models run one after another in one invocation. Each model
fits on the training table and samples as many rows; `ganforge.tabular.report` scores them all
with the same code: SDMetrics quality, ML efficacy (gradient boosting on `income`, F1 of >50K on
the test set; train-on-real alongside), DCR privacy figures, exact copies, membership AUC.

The Gaussian copula is the strong non-GAN reference SDGym reports (its copula matched CTGAN's
quality at 1/120 of the time): here with empirical marginals (numbers: the inverse empirical CDF;
categories: frequency-ordered intervals of [0, 1]) and the normal scores' correlation.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ADULT = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "adult"
DISCRETE = [
    "workclass",
    "education",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native-country",
    "income",
]


# issue 25: the rules every row of Adult obeys, declared in the metadata (--constraints)
ADULT_CONSTRAINTS = [
    {"type": "positive", "column": "capital-gain"},
    {"type": "positive", "column": "capital-loss"},
    {"type": "fixed_combinations", "columns": ["education", "education-num"]},
    {"type": "range", "column": "age", "min": 17, "max": 90},
]


def adult_metadata(train: pd.DataFrame) -> dict:
    """Detected metadata, the benchmark's discrete columns categorical, the Adult constraints."""
    from ganforge.tabular import metadata

    meta = metadata.detect(train)
    for name in DISCRETE:
        meta["columns"][name] = {"type": "categorical"}
    for name, entry in meta["columns"].items():
        if name not in DISCRETE and entry["type"] == "categorical":
            entry.clear()  # (a few-level int the unconstrained fit learns as continuous)
            entry.update(type="numerical", subtype="integer")
    meta["constraints"] = ADULT_CONSTRAINTS
    return meta


def constraint_validity(meta: dict, frame: pd.DataFrame) -> dict:
    """Share of rows that hold each constraint (1.0: every row)."""
    from ganforge.tabular import constraints

    plan_rules = [constraints.build(c) for c in meta["constraints"]]
    typed = frame.copy()
    out = {}
    for rule in plan_rules:
        if rule.kind == "fixed_combinations":
            rule.fit(read_real_train())
        out[rule.describe()] = float(rule.valid(typed).mean())
    return out


def read_real_train() -> pd.DataFrame:
    from ganforge.tabular.io import read_csv

    return read_csv(os.path.join(_DATA[0], "adult_train.csv"))


_DATA = [str(ADULT)]


class GaussianCopula:
    """Empirical marginals + a Gaussian copula (SDV's GaussianCopulaSynthesizer, simplified)."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def fit(self, frame: pd.DataFrame, discrete: list[str]) -> GaussianCopula:
        from scipy.stats import norm

        self.columns, self.dtypes, self.marginals = list(frame.columns), frame.dtypes, {}
        scores = []
        for name in self.columns:
            column = frame[name]
            if name in discrete or not pd.api.types.is_numeric_dtype(column):
                counts = (
                    column.astype(object).where(column.notna(), None).value_counts(dropna=False)
                )
                upper = np.cumsum(counts.to_numpy()) / len(column)
                lower = np.r_[0.0, upper[:-1]]
                self.marginals[name] = ("discrete", list(counts.index), upper)
                codes = pd.Index(counts.index).get_indexer(
                    column.astype(object).where(column.notna(), None)
                )
                u = lower[codes] + self.rng.random(len(column)) * (upper[codes] - lower[codes])
            else:
                values = column.to_numpy(dtype=np.float64)
                self.marginals[name] = (
                    "numeric",
                    np.sort(values[~np.isnan(values)]),
                    np.isnan(values).mean(),
                )
                ranks = pd.Series(values).rank(method="average").to_numpy()
                u = np.where(np.isnan(values), 0.5, ranks / (len(values) + 1))
            scores.append(norm.ppf(np.clip(u, 1e-6, 1 - 1e-6)))
        self.correlation = np.corrcoef(np.stack(scores, 1), rowvar=False)
        return self

    def sample(self, n: int) -> pd.DataFrame:
        from scipy.stats import norm

        z = self.rng.multivariate_normal(np.zeros(len(self.columns)), self.correlation, n)
        u = norm.cdf(z)
        out = {}
        for i, name in enumerate(self.columns):
            kind, values, extra = self.marginals[name]
            if kind == "discrete":
                index = np.minimum(np.searchsorted(extra, u[:, i], side="right"), len(values) - 1)
                out[name] = np.asarray(values, dtype=object)[index]
            else:
                x = np.quantile(values, u[:, i])
                if pd.api.types.is_integer_dtype(self.dtypes[name]):
                    x = np.round(x)
                x[self.rng.random(n) < extra] = np.nan
                out[name] = x
        frame = pd.DataFrame(out)
        for name in self.columns:
            if pd.api.types.is_integer_dtype(self.dtypes[name]):
                frame[name] = frame[name].astype(self.dtypes[name])
        return frame


def _child(kind: str, options: dict, train_csv: str, out_csv: str, queue) -> None:
    """Fit + sample one model in a fresh process; report times and the process's peak memory."""
    import torch

    torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        from ganforge.tabular.io import read_csv

        train = read_csv(train_csv)
        result = {"model": kind, **{k: v for k, v in options.items() if k != "label"}}
        t0, c0 = time.perf_counter(), time.process_time()
        if kind == "ganforge":
            from ganforge.tabular import TabularGAN

            constrained = options.get("constraints", False)
            model = TabularGAN(
                epochs=options["epochs"],
                epsilon=options.get("epsilon"),
                precision=options.get("precision", "fp32"),
                # the variant's settings (else the defaults)
                **{
                    k: options[k]
                    for k in (
                        "pack",
                        "batch_size",
                        "generator_width",
                        "discriminator_width",
                        "gp_fraction",
                        "ema",
                        "lr_g",
                        "lr_d",
                        "max_grad_norm",
                    )
                    if k in options
                },
                seed=options.get("seed", 0),
                verbose=False,
            )
            if constrained:
                model.fit(train, metadata=adult_metadata(train))
            else:
                model.fit(train, DISCRETE)
            result["timings"] = model.timings
            if model.privacy:
                result["privacy_spent"] = model.privacy
            sample = lambda n: model.sample(n, seed=1)  # noqa: E731
        elif kind == "ctgan":
            import ctgan

            torch.manual_seed(options.get("seed", 0))
            np.random.seed(options.get("seed", 0))
            model = ctgan.CTGAN(epochs=options["epochs"], enable_gpu=False, verbose=False)
            model.fit(train, DISCRETE)
            result["ctgan_version"] = ctgan.__version__
            sample = model.sample
        else:
            model = GaussianCopula(options.get("seed", 0)).fit(train, DISCRETE)
            sample = model.sample
        result["fit_s"] = time.perf_counter() - t0
        # CPU seconds of this process and its workers (on a shared machine, wall time also
        # measures the other users)
        result["fit_cpu_s"] = time.process_time() - c0
        try:  # ctgan's transform runs joblib workers: stop them so their CPU time is counted
            from joblib.externals.loky import get_reusable_executor

            get_reusable_executor().shutdown(wait=True)
        except ImportError:
            pass
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        result["fit_cpu_s"] += children.ru_utime + children.ru_stime
        t1 = time.perf_counter()
        synthetic = sample(len(train))
        result["sample_s"] = time.perf_counter() - t1
        if kind == "ganforge" and model.plan is not None:
            result["constraint_rejections"] = model.last_sample
        synthetic.to_csv(out_csv, index=False)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(result)


def run_model(kind: str, options: dict, train_csv: str, workdir: str) -> dict:
    """One model in a spawned process (a fresh interpreter: fair memory and thread settings)."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    out_csv = os.path.join(workdir, f"{options['label']}.csv")
    process = context.Process(target=_child, args=(kind, options, train_csv, out_csv, queue))
    process.start()
    result = queue.get()
    process.join()
    result["synthetic_csv"] = out_csv
    return result


def run_peer(options: dict, train_csv: str, workdir: str) -> dict:
    """smartnoise-synth's MST in its own venv (benchmarks/tabular_dp_peer.py): fit + sample."""
    import subprocess

    out_csv = os.path.join(workdir, f"{options['label']}.csv")
    peer = Path(__file__).with_name("tabular_dp_peer.py")
    command = [options["python"], str(peer), train_csv, out_csv, str(options["epsilon"]),
               ",".join(DISCRETE), str(options["seed"])]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{options['label']} failed: {done.stderr[-2000:]}")
    result = {"model": "smartnoise-mst", **json.loads(done.stdout.strip().splitlines()[-1])}
    result["synthetic_csv"] = out_csv
    return {**options, **result, "python": options["python"]}


def variant_options(tokens: list[str]) -> dict:
    """TabularGAN settings from a variant's tokens (ganforge-w256-b500 -> ["w256", "b500"])."""
    options = {}
    for token in tokens:
        number = token.lstrip("abcdefghijklmnopqrstuvwxyz")
        name = token[: len(token) - len(number)]
        if name == "pack":
            options["pack"] = int(number)
        elif name == "w":  # w128: G and D width
            options["generator_width"] = options["discriminator_width"] = int(number)
        elif name == "b":  # b1000: batch size (DP: the expected batch of Poisson sampling)
            options["batch_size"] = int(number)
        elif name == "gp":  # gp25: penalty on 25% of the batch
            options["gp_fraction"] = int(number) / 100
        elif name == "ema":  # ema998: decay 0.998
            options["ema"] = float("0." + number)
        elif name == "lr":  # lr4: G and D lr 4e-4 (lr2.5: 2.5e-4)
            options["lr_g"] = options["lr_d"] = float(number) * 1e-4
        elif name == "lrg":  # lrg2: G's lr alone 2e-4
            options["lr_g"] = float(number) * 1e-4
        elif name == "lrd":  # lrd2: D's lr alone 2e-4
            options["lr_d"] = float(number) * 1e-4
        elif name == "clip":  # clip0.5: DP per-record clip norm
            options["max_grad_norm"] = float(number)
        elif name == "e":  # e20: epochs
            options["epochs"] = int(number)
        else:
            options["precision"] = token
    return options


def main(argv: list[str] | None = None) -> int:
    """Run the side-by-side and print one line per model."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument(
        "--data", default=str(ADULT), help="folder with adult_train.csv, adult_test.csv"
    )
    parser.add_argument(
        "--models",
        default="ganforge,ctgan,copula",
        help="comma list; ganforge variants by tokens: ganforge-fp32-pack10 (fp32, CTGAN's pack "
        "10), -w256 (G and D width), -b500 (batch), -lr2 (lr 2e-4), -gp100 (penalty on 100%% of "
        "the batch), -ema998 (EMA decay)",
    )
    parser.add_argument(
        "--precision", default="auto", help="ganforge: auto (the default) | fp32 | bf16"
    )
    parser.add_argument(
        "--dp-epsilon",
        default=None,
        help="also fit ganforge with DP at these epsilons (comma list, e.g. 1,3,8)",
    )
    parser.add_argument(
        "--constraints",
        action="store_true",
        help="also fit ganforge with the Adult constraints in its metadata (issue 25)",
    )
    parser.add_argument(
        "--dp-models",
        default="ganforge",
        help="the DP fits at each --dp-epsilon: ganforge, mst (smartnoise) or both (comma list)",
    )
    parser.add_argument(
        "--dp-baseline-python",
        default=None,
        metavar="VENV/bin/python",
        help="a venv with smartnoise-synth: its MST at each --dp-epsilon (benchmarks/"
        "tabular_dp_peer.py)",
    )
    parser.add_argument(
        "--dp-epochs", type=int, default=None, help="epochs of the DP fit (default --epochs)"
    )
    parser.add_argument(
        "--dp-variants",
        default="default",
        help="the ganforge DP fits at each --dp-epsilon, comma list of variants in --models' "
        "tokens (and clip0.5: clip norm, e20: epochs, lrg2 / lrd2: one net's lr), e.g. "
        "default,b4000-lr10 (default: the DP defaults)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/tabular_adult.json")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from ganforge.tabular.io import read_csv
    from ganforge.tabular.report import build_report

    _DATA[0] = args.data
    train_csv = os.path.join(args.data, "adult_train.csv")
    train, test = read_csv(train_csv), read_csv(os.path.join(args.data, "adult_test.csv"))
    plan = []
    for label in args.models.split(","):
        kind, *variant = label.split("-")  # ganforge-bf16-pack1: bf16 autocast, no packing
        options = {"epochs": args.epochs, "seed": args.seed, "label": label}
        if kind == "ganforge":
            options["precision"] = args.precision
            options.update(variant_options(variant))
        plan.append((kind, options))
    if args.constraints:
        plan.append(
            (
                "ganforge",
                {
                    "epochs": args.epochs,
                    "precision": args.precision,
                    "seed": args.seed,
                    "constraints": True,
                    "label": "ganforge-constrained",
                },
            )
        )
    epsilons = [float(e) for e in str(args.dp_epsilon).split(",")] if args.dp_epsilon else []
    dp_models = args.dp_models.split(",")
    if args.models == "none":
        plan = []
    for epsilon in epsilons:
        for variant in args.dp_variants.split(",") if "ganforge" in dp_models else []:
            tokens = [t for t in variant.split("-") if t and t != "default"]
            options = {
                "epochs": args.dp_epochs or args.epochs,
                "epsilon": epsilon,
                "precision": args.precision,
                "seed": args.seed,
                "label": "-".join([f"ganforge-dp{epsilon:g}", *tokens]),
            }
            plan.append(("ganforge", {**options, **variant_options(tokens)}))
        if "mst" in dp_models:
            if not args.dp_baseline_python:
                raise SystemExit("--dp-models mst needs --dp-baseline-python VENV/bin/python")
            plan.append(
                (
                    "mst",
                    {
                        "epsilon": epsilon,
                        "python": args.dp_baseline_python,
                        "seed": args.seed,
                        "label": f"smartnoise-mst-dp{epsilon:g}",
                    },
                )
            )
    results = {
        "setup": {
            "data": "UCI Adult (train 32,561 rows, test 16,281 as holdout)",
            "discrete": DISCRETE,
            "epochs": args.epochs,
            "threads": 1,
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores "
            f"(shared; load average at start {os.getloadavg()[0]:.1f})",
            "command": " ".join([sys.executable.split("/")[-1], *sys.argv]),
        },
        "models": {},
    }
    with tempfile.TemporaryDirectory() as workdir:
        for kind, options in plan:
            label = options["label"]
            print(f"[{time.strftime('%H:%M:%S')}] {label}: fitting ({options})", flush=True)
            if kind == "mst":
                result = run_peer(options, train_csv, workdir)
            else:
                result = run_model(kind, options, train_csv, workdir)
            synthetic = read_csv(result["synthetic_csv"])
            if args.constraints:
                result["valid_share"] = constraint_validity(adult_metadata(train), synthetic)
            report = build_report(train, synthetic, test, "income", DISCRETE, seed=args.seed)
            result["report"] = report
            results["real_train_ml_f1"] = report["ml_efficacy"]["real"]
            results["models"][label] = result
            print(f"[{time.strftime('%H:%M:%S')}] {one_line(label, result)}", flush=True)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(results, indent=2, default=str))
    print("\n".join(one_line(k, v) for k, v in results["models"].items()))
    print(f"(real data: F1 {results['real_train_ml_f1']:.3f} when training on the real table)")
    print(f"wrote {args.out}")
    return 0


def one_line(label: str, result: dict) -> str:
    """quality, ML F1, DCR, copies, MIA, fit/sample time and peak memory on one line."""
    r = result["report"]
    q, ml, p = r["quality"], r["ml_efficacy"], r["privacy"]
    line = (
        f"{label:<16} quality {q['score']:.3f}  F1 {ml['synthetic']:.3f}  "
        f"DCR med {p['dcr_synthetic_train']['median']:.4f} (holdout {p['dcr_holdout_train']['median']:.4f})  "
        f"copies {100 * p['exact_copies_synthetic']:.2f}% (holdout {100 * p['exact_copies_holdout']:.2f}%)  "
        f"MIA AUC {p['membership_auc']:.3f}  "
        f"fit {result['fit_s']:.0f}s (cpu {result.get('fit_cpu_s', 0):.0f}s)  "
        f"sample {result['sample_s']:.1f}s  "
        f"peak {result['peak_rss_mb']:.0f} MB"
    )
    if "privacy_spent" in result:
        line += f"  eps {result['privacy_spent']['epsilon']:.2f}"
    if "valid_share" in result:
        worst = min(result["valid_share"].values())
        line += f"  rows valid {100 * worst:.2f}% (worst constraint)"
    return line


if __name__ == "__main__":
    sys.exit(main())
