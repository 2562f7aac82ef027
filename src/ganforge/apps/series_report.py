"""`ganforge series report REAL.csv SYNTH.csv --seq-len T -o report.html [--json PATH]`: the
TimeGAN discriminative and predictive scores, marginals (KS per column), autocorrelation and
cross-correlation, PCA and t-SNE pictures and a nearest-neighbour privacy figure, in one
self-contained HTML page (PNGs embedded as base64) and optionally JSON. Parsing only at import."""

from __future__ import annotations

import html

from ganforge import commandline as cl
from ganforge.errors import GanforgeError


def add_report(verbs) -> None:
    """`series report` (added to the `series` group by apps/series_cli.py)."""
    r = verbs.add_parser(
        "report",
        help="TimeGAN scores, marginals, correlations, PCA/t-SNE and privacy of synthetic series",
        description="Both CSVs: numeric columns, long format (sequence_id, step, ...) as "
        "`series sample` writes, or one long series in row order; cut into stride-1 windows of "
        "--seq-len steps and min-max scaled by the real data's ranges.",
    )
    r.add_argument("real", metavar="REAL.csv", help="the real series (the model's training data)")
    r.add_argument("synth", metavar="SYNTH.csv", help="the synthetic series")
    r.add_argument("--seq-len", type=int, default=24, help="steps per window (default 24)")
    r.add_argument(
        "-o", "--output", required=True, metavar="REPORT.html", help="the HTML report (required)"
    )
    r.add_argument(
        "--holdout",
        metavar="HOLDOUT.csv",
        help="real data the model never saw, for the privacy figure (default: none, no figure)",
    )
    r.add_argument(
        "--fits", type=int, default=5, help="post-hoc fits per score, mean +- std (default 5)"
    )
    r.add_argument(
        "--iterations",
        type=int,
        default=0,
        help="training steps of each post-hoc GRU (default 0: the reference's 2000 "
        "discriminative, 5000 predictive)",
    )
    r.add_argument(
        "--tsne-windows",
        type=int,
        default=500,
        help="windows of each set in the t-SNE picture (default 500; 0: no t-SNE)",
    )
    cl.add_seed(r, "the post-hoc fits and subsamples")
    cl.add_json(r)
    r.set_defaults(series_run=run_report)


def run_report(args) -> int:
    from ganforge.io_checks import atomic_write, check_writable

    for flag, value, low in (("--seq-len", args.seq_len, 1), ("--fits", args.fits, 1)):
        if value < low:
            raise GanforgeError(f"{flag} must be >= {low} (got {value})", flag, "e.g. 24 / 5")
    for flag, value in (("--iterations", args.iterations), ("--tsne-windows", args.tsne_windows)):
        if value < 0:
            raise GanforgeError(f"{flag} must be >= 0 (got {value})", flag, "0 means the default")
    output = check_writable(args.output, what="report")
    if args.json and args.json != cl.STDOUT:
        check_writable(args.json, what="JSON result")

    from ganforge.series import metrics as m

    real, columns, scale = m.read_windows(args.real, args.seq_len, "real")
    synth, _, _ = m.read_windows(args.synth, args.seq_len, "synthetic", scale, columns)
    holdout = None
    if args.holdout:
        holdout, _, _ = m.read_windows(args.holdout, args.seq_len, "holdout", scale, columns)
    iterations = args.iterations or None
    result = m.evaluate(
        real,
        synth,
        holdout,
        fits=args.fits,
        discriminative_iterations=iterations or m.DISCRIMINATIVE_ITERATIONS,
        predictive_iterations=iterations or m.PREDICTIVE_ITERATIONS,
        seed=args.seed,
    )
    result["columns"] = columns
    result["files"] = {"real": str(args.real), "synthetic": str(args.synth)}
    lines = summary_lines(result)
    page = render_html(result, lines, real, synth, args.tsne_windows, args.seed)
    with atomic_write(output, encoding="utf-8") as f:
        f.write(page)
    print("\n".join(lines))
    if args.json:
        import json

        from ganforge.apps.commands import write_json

        def save(res, path):
            with atomic_write(path, encoding="utf-8") as f:
                json.dump(res, f, indent=2)

        write_json(save, result, args.json)
    cl.print_made(output)
    return 0


def _score(entry: dict | None) -> str:
    return "n/a" if entry is None else f"{entry['mean']:.4f} +- {entry['std']:.4f}"


def summary_lines(result: dict) -> list[str]:
    """The figures, one per line (printed and shown at the top of the page)."""
    lines = [
        f"windows        real {result['windows']['real']}, synthetic "
        f"{result['windows']['synthetic']} ({result['seq_len']} steps, {result['features']} "
        "features)",
        f"discriminative {_score(result['discriminative'])}  (|accuracy - 0.5|, lower is better)",
        f"predictive     {_score(result.get('predictive'))}  (real data itself "
        f"{_score(result.get('predictive_real'))}; MAE, lower is better)",
        "marginal KS    "
        + ", ".join(
            f"{c} {v:.3f}" for c, v in zip(result["columns"], result["marginal_ks"], strict=True)
        ),
        f"autocorrelation mean |real - synthetic| {result['autocorrelation_mean_abs_diff']:.4f}",
        f"cross-correlation mean |real - synthetic| "
        f"{result['cross_correlation_mean_abs_diff']:.4f}",
    ]
    p = result["privacy"]
    lines.append(
        "privacy        needs --holdout"
        if p is None
        else f"privacy        synthetic-to-train / holdout-to-train median distance "
        f"{p['dcr_ratio']:.3f} (near 1: no copying), copies {p['copies']:.1%}"
    )
    return lines


def _png(fig) -> str:
    import base64
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def render_html(result: dict, lines: list[str], real, synth, tsne_windows: int, seed: int) -> str:
    """The self-contained page: the figures, then the pictures as embedded PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.decomposition import PCA

    images = []
    acf_r, acf_s = (np.asarray(result["autocorrelation"][k]) for k in ("real", "synthetic"))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    lags = np.arange(1, acf_r.shape[1] + 1)
    for f, name in enumerate(result["columns"]):
        (line,) = ax.plot(lags, acf_r[f], label=f"{name} real")
        ax.plot(lags, acf_s[f], "--", color=line.get_color(), label=f"{name} synthetic")
    ax.set(
        xlabel="lag (steps)", ylabel="autocorrelation", title="autocorrelation: real -, synth --"
    )
    ax.legend(fontsize=6, ncol=2)
    images.append(("Autocorrelation", _png(fig)))

    rng = np.random.default_rng(seed)
    pick = min(len(real), len(synth), 1000)
    r = real[rng.permutation(len(real))[:pick]].reshape(pick, -1)
    s = synth[rng.permutation(len(synth))[:pick]].reshape(pick, -1)
    pca = PCA(n_components=2, random_state=seed).fit(r)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.scatter(*pca.transform(r).T, s=4, alpha=0.4, label="real")
    ax.scatter(*pca.transform(s).T, s=4, alpha=0.4, label="synthetic")
    ax.set(title="PCA of flattened windows (fitted on real)")
    ax.legend()
    images.append(("PCA", _png(fig)))

    k = min(tsne_windows, pick)
    if k >= 5:
        from sklearn.manifold import TSNE

        both = np.concatenate([r[:k], s[:k]])
        emb = TSNE(
            n_components=2, perplexity=min(40.0, (2 * k - 1) / 3), init="pca", random_state=seed
        ).fit_transform(both)
        fig, ax = plt.subplots(figsize=(4.5, 4))
        ax.scatter(*emb[:k].T, s=4, alpha=0.4, label="real")
        ax.scatter(*emb[k:].T, s=4, alpha=0.4, label="synthetic")
        ax.set(title=f"t-SNE of {k} + {k} windows")
        ax.legend()
        images.append(("t-SNE", _png(fig)))

    body = "\n".join(
        f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' "
        f"src='data:image/png;base64,{data}'>"
        for title, data in images
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>ganforge series report</title>"
        "</head><body><h1>ganforge series report</h1><pre>"
        + html.escape("\n".join(lines))
        + "</pre>"
        + body
        + "</body></html>\n"
    )
