"""Anomaly detection: ganforge's GANomaly / f-AnoGAN against non-GAN baselines, same data.

Two parts, each printing one line per result and one summary line per (protocol, method):

  python benchmarks/anomaly.py tables
      scikit-learn's breast_cancer (569 rows, 30 numeric columns): benign (357) is normal,
      malignant (212) anomalous. Per seed: 70% of the benign rows train, the other 30% plus
      every malignant row test. Methods: ganomaly, fanogan (MLPs on standardised columns, as
      `ganforge anomaly fit --data csv:...` trains them), IsolationForest and OneClassSVM
      (default settings, on the same standardised columns). AUROC per seed, mean over seeds;
      for the GAN methods also the test false-positive rate at the threshold calibrated at
      --fpr on their held-out normal split (a check of the calibration).

  python benchmarks/anomaly.py mnist [--protocol ganomaly,oneclass] [--digits 0-9]
                                     [--seeds 0,1,2] [--methods ganomaly,fanogan,cae,iforest]
                                     [--steps 3000] [--train-limit 0] [--test-limit 0]
      protocol `ganomaly` (Akcay 2018): for digit d, train on the other nine digits' training
      images, test on the MNIST test set with d as the anomaly. Protocol `oneclass`: d is the
      only normal class, the other nine digits are anomalies. Methods: ganomaly and fanogan
      (the mnist-ganomaly / mnist-fanogan presets, with --steps), `cae` (a convolutional
      autoencoder with GANomaly's own encoder and decoder, L1 loss, the same steps, batch and
      Adam settings, scored by its mean squared reconstruction error) and `iforest`
      (scikit-learn's IsolationForest on the 784 pixels). Everything is scored in eval mode.
      --train-limit / --test-limit subsample (seeded) for short runs; 0 = all.
      Each result is appended to benchmarks/results/anomaly_mnist.jsonl as it finishes, and a
      rerun skips the (protocol, digit, seed, method, steps, limits) already there, so a long
      run can be stopped and continued. `python benchmarks/anomaly.py summary` prints the
      per-digit table from that file.

The GAN methods fit on 80% of the normal training data (20% is held out to calibrate the
threshold); the baselines fit on all of it.

Published GANomaly figures (Akcay et al. 2018, MNIST, one digit anomalous, 32x32): the paper
gives them only as a bar chart (its Fig. 4a), not as a table, so no per-digit number is quoted
here; the paper notes every method does worst with digit 1 as the anomaly. Users of the
authors' code report results that do not reproduce with the networks left in train mode at
test time; ganforge always scores in eval mode.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"
MNIST_LOG = RESULTS / "anomaly_mnist.jsonl"
GAN_METHODS = ("ganomaly", "fanogan")


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve, anomalies labelled 1 (scikit-learn's implementation)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


# ---- tables ----------------------------------------------------------------------------------


def tables(args) -> None:
    """breast_cancer: benign normal, malignant anomalous; GANs against IsolationForest/OCSVM."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import IsolationForest
    from sklearn.svm import OneClassSVM

    from ganforge.apps.anomaly import AnomalyDetector

    x, y = load_breast_cancer(return_X_y=True)
    benign, malignant = x[y == 1], x[y == 0]  # scikit-learn codes benign as 1
    results: dict[str, list[float]] = {}
    for seed in args.seeds:
        perm = np.random.default_rng(seed).permutation(len(benign))
        n_train = int(0.7 * len(benign))
        train, test_normal = benign[perm[:n_train]], benign[perm[n_train:]]
        test = np.concatenate([test_normal, malignant])
        labels = np.r_[np.zeros(len(test_normal)), np.ones(len(malignant))]
        mean, std = train.mean(0), train.std(0)
        scaled_train, scaled_test = (train - mean) / std, (test - mean) / std
        for method in args.methods:
            start = time.perf_counter()
            extra = ""
            if method in GAN_METHODS:
                detector = AnomalyDetector(method, args.steps, seed=seed, fpr=args.fpr)
                detector.fit(train)
                scores = detector.score(test)
                fpr = float((scores[labels == 0] > detector.threshold()).mean())
                tpr = float((scores[labels == 1] > detector.threshold()).mean())
                extra = f" test_fpr@{args.fpr:g}={fpr:.3f} tpr={tpr:.3f}"
            elif method == "iforest":
                forest = IsolationForest(random_state=seed).fit(scaled_train)
                scores = -forest.score_samples(scaled_test)
            elif method == "ocsvm":
                scores = -OneClassSVM().fit(scaled_train).score_samples(scaled_test)
            else:
                raise SystemExit(f"unknown tables method {method!r}")
            value = auroc(labels, scores)
            results.setdefault(method, []).append(value)
            seconds = time.perf_counter() - start
            print(
                f"anomaly_tables data=breast_cancer seed={seed} method={method} "
                f"auroc={value:.4f}{extra} seconds={seconds:.1f}",
                flush=True,
            )
    for method, values in results.items():
        print(
            f"anomaly_tables data=breast_cancer method={method} seeds={len(values)} "
            f"mean_auroc={np.mean(values):.4f} std={np.std(values):.4f}"
        )


# ---- MNIST -----------------------------------------------------------------------------------


def mnist_split(protocol: str, digit: int, seed: int, train_limit: int, test_limit: int):
    """(normal training images uint8 (N,1,28,28), test images, test labels: 1 = anomaly)."""
    from ganforge.data.mnist import load_mnist

    train, test = load_mnist(split="train"), load_mnist(split="test")
    rng = np.random.default_rng(seed)
    labels = train.labels.numpy()
    normal = np.flatnonzero(labels != digit if protocol == "ganomaly" else labels == digit)
    if train_limit and len(normal) > train_limit:
        normal = np.sort(rng.choice(normal, train_limit, replace=False))
    # One test subset for every method and seed of a digit, so they are compared on one set.
    test_index = np.arange(len(test))
    if test_limit and test_limit < len(test):
        test_index = np.sort(
            np.random.default_rng(1000 + digit).choice(len(test), test_limit, replace=False)
        )
    test_labels = test.labels.numpy()[test_index]
    anomalous = test_labels == digit if protocol == "ganomaly" else test_labels != digit
    return train.data[normal], test.data[test_index], anomalous.astype(np.int64)


def conv_autoencoder_scores(
    train: torch.Tensor, test: torch.Tensor, steps: int, seed: int, width: int, latent: int
) -> np.ndarray:
    """The `cae` baseline: GANomaly's encoder + decoder alone, L1 loss, scored by MSE."""
    from ganforge.config import Config
    from ganforge.nets.dcgan import DCGANGenerator
    from ganforge.nets.encoders import ConvEncoder
    from ganforge.presets import get_preset

    preset: Config = get_preset("mnist-ganomaly")
    t = preset.train
    torch.manual_seed(seed)
    encoder = ConvEncoder(1, 28, width, latent)
    decoder = DCGANGenerator(latent, 1, 28, width)
    params = list(encoder.parameters()) + list(decoder.parameters())
    opt = torch.optim.Adam(params, lr=t.lr_g, betas=(t.beta1, t.beta2))
    data = train.float() / 127.5 - 1
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        batch = data[torch.randint(len(data), (t.batch_size,), generator=g)]
        loss = (decoder(encoder(batch)) - batch).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    encoder.eval()
    decoder.eval()
    scores = []
    with torch.no_grad():
        x = test.float() / 127.5 - 1
        for start in range(0, len(x), 256):
            batch = x[start : start + 256]
            scores.append((decoder(encoder(batch)) - batch).pow(2).flatten(1).mean(1))
    return torch.cat(scores).numpy()


def done_keys() -> set[str]:
    if not MNIST_LOG.is_file():
        return set()
    return {json.loads(line)["key"] for line in MNIST_LOG.read_text().splitlines() if line}


def mnist(args) -> None:
    """The one-digit protocols; one line per result, appended to the results file."""
    from sklearn.ensemble import IsolationForest

    from ganforge.apps.anomaly import AnomalyDetector

    RESULTS.mkdir(exist_ok=True)
    done = done_keys()
    width_overrides = {"model": {"g_width": args.width, "d_width": args.width}}
    for protocol in args.protocol:
        for digit in args.digits:
            for seed in args.seeds:
                split = None
                for method in args.methods:
                    steps = 0 if method == "iforest" else args.steps
                    key = (
                        f"{protocol}/{digit}/{seed}/{method}/{steps}/{args.width}/"
                        f"{args.train_limit}/{args.test_limit}"
                    )
                    if key in done:
                        continue
                    if split is None:
                        split = mnist_split(
                            protocol, digit, seed, args.train_limit, args.test_limit
                        )
                    train, test, labels = split
                    start = time.perf_counter()
                    if method in GAN_METHODS:
                        detector = AnomalyDetector(
                            method, steps, seed=seed, overrides=width_overrides
                        )
                        scores = detector.fit(train).score(test)
                    elif method == "cae":
                        scores = conv_autoencoder_scores(train, test, steps, seed, args.width, 100)
                    elif method == "iforest":
                        forest = IsolationForest(random_state=seed)
                        forest.fit(train.flatten(1).float().numpy() / 255)
                        scores = -forest.score_samples(test.flatten(1).float().numpy() / 255)
                    else:
                        raise SystemExit(f"unknown mnist method {method!r}")
                    value = auroc(labels, scores)
                    seconds = time.perf_counter() - start
                    record = {
                        "key": key,
                        "protocol": protocol,
                        "digit": digit,
                        "seed": seed,
                        "method": method,
                        "steps": steps,
                        "width": args.width,
                        "train": len(train),
                        "test": len(test),
                        "auroc": value,
                        "seconds": round(seconds, 1),
                    }
                    with open(MNIST_LOG, "a") as f:
                        f.write(json.dumps(record) + "\n")
                    print(
                        f"anomaly_mnist protocol={protocol} digit={digit} seed={seed} "
                        f"method={method} steps={steps} train={len(train)} test={len(test)} "
                        f"auroc={value:.4f} seconds={seconds:.0f}",
                        flush=True,
                    )
    summary(args)


def summary(args) -> None:
    """Per-digit mean AUROC (over seeds) and the mean over digits, from the results file."""
    if not MNIST_LOG.is_file():
        print("no results yet")
        return
    records = [json.loads(line) for line in MNIST_LOG.read_text().splitlines() if line]
    groups: dict[tuple, dict[int, list[float]]] = {}
    sizes: dict[tuple, list[int]] = {}
    by_seed: dict[tuple, dict[int, list[float]]] = {}
    for r in records:
        # The normal training set's size varies by digit (one-class); the test set does not.
        config = (r["protocol"], r["method"], r["steps"], r["width"], r["test"])
        groups.setdefault(config, {}).setdefault(r["digit"], []).append(r["auroc"])
        by_seed.setdefault(config, {}).setdefault(r["seed"], []).append(r["auroc"])
        sizes.setdefault(config, []).append(r["train"])
    for config, digits in sorted(groups.items()):
        protocol, method, steps, width, n_test = config
        per_digit = " ".join(f"{d}:{np.mean(v):.3f}" for d, v in sorted(digits.items()))
        seeds = min(len(v) for v in digits.values())
        mean = np.mean([np.mean(v) for v in digits.values()])
        train = f"{min(sizes[config])}-{max(sizes[config])}"
        # Spread over seeds: the mean over all ten digits of each seed that has all ten.
        complete = [np.mean(v) for v in by_seed[config].values() if len(v) == len(digits)]
        spread = f" seed_std={np.std(complete, ddof=1):.4f}" if len(complete) > 1 else ""
        print(
            f"anomaly_mnist protocol={protocol} method={method} steps={steps} width={width} "
            f"train={train} test={n_test} digits={len(digits)} seeds>={seeds} "
            f"mean_auroc={mean:.4f}{spread}  per_digit {per_digit}"
        )


def _int_list(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["tables", "mnist", "summary"])
    parser.add_argument("--seeds", type=_int_list, default=[0, 1, 2])
    parser.add_argument("--methods", default=None, help="comma list (default: all of the part)")
    parser.add_argument("--steps", type=int, default=None, help="GAN/CAE steps (default: preset)")
    parser.add_argument("--fpr", type=float, default=0.05)
    parser.add_argument("--protocol", default="ganomaly,oneclass")
    parser.add_argument("--digits", type=_int_list, default=list(range(10)))
    parser.add_argument("--width", type=int, default=32, help="MNIST nets' base width")
    parser.add_argument("--train-limit", type=int, default=0)
    parser.add_argument("--test-limit", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.protocol = args.protocol.split(",")
    if args.part == "tables":
        args.methods = (args.methods or "ganomaly,fanogan,iforest,ocsvm").split(",")
        tables(args)
    elif args.part == "mnist":
        args.methods = (args.methods or "ganomaly,fanogan,cae,iforest").split(",")
        if args.steps is None:
            args.steps = 3000
        mnist(args)
    else:
        summary(args)


if __name__ == "__main__":
    sys.exit(main())
