"""A DP baseline for benchmarks/tabular.py, run in its own venv: smartnoise-synth's MST.

    VENV/bin/python benchmarks/tabular_dp_peer.py train.csv out.csv EPSILON DISCRETE,COLS SEED

Continuous columns are binned by MST's own preprocessor, whose bounds are found under DP with a
tenth of epsilon (so, unlike the ganforge DP rows without --public-metadata, its preprocessing
is covered by the guarantee). Prints one JSON line: fit/sample seconds, CPU seconds, the library version.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import pandas as pd


def main() -> int:
    train_csv, out_csv, epsilon, discrete, seed = sys.argv[1:6]
    import numpy as np
    import snsynth

    np.random.seed(int(seed))
    train = pd.read_csv(train_csv, skipinitialspace=True)
    discrete = discrete.split(",")
    continuous = [c for c in train.columns if c not in discrete]
    t0, c0 = time.perf_counter(), time.process_time()
    synth = snsynth.Synthesizer.create("mst", epsilon=float(epsilon), verbose=False)
    synth.fit(
        train,
        categorical_columns=discrete,
        continuous_columns=continuous,
        preprocessor_eps=0.1 * float(epsilon),  # (bounds found under DP, inside epsilon)
        nullable=True,
    )
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    t1 = time.perf_counter()
    # nullable=True (Adult has gaps) lets MST draw a gap in any column: rows with a gap where
    # the real column has none are dropped (an output-only step, no privacy cost), redrawn
    complete = [c for c in train.columns if train[c].notna().all()]
    out = synth.sample(len(train))
    for _ in range(5):
        out = out.dropna(subset=complete)
        if len(out) >= len(train):
            break
        out = pd.concat([out, synth.sample(len(train))], ignore_index=True)
    out = out.dropna(subset=complete).iloc[: len(train)].reset_index(drop=True)
    sample_s = time.perf_counter() - t1
    out.to_csv(out_csv, index=False)
    print(
        json.dumps(
            {
                "fit_s": fit_s,
                "fit_cpu_s": fit_cpu,
                "sample_s": sample_s,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "smartnoise_version": getattr(snsynth, "__version__", "?"),
                "privacy_spent": {"epsilon": float(epsilon)},
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
