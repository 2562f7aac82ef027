"""`ganforge series report REAL.csv SYNTH.csv --seq-len T -o report.html [--json PATH]`: the
TimeGAN discriminative and predictive scores, marginals per column (KS for numbers, total
variation distance of the level shares for text; missing rates), autocorrelation and
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
        description="Both CSVs: long format (sequence_id, step, ...) as `series sample` writes, "
        "or one long series in row order; cut into stride-1 windows of --seq-len steps; numeric "
        "columns min-max scaled by the real data's ranges (gaps: 0 plus a missing channel), "
        "text columns one-hot over the real levels, date columns left out.",
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
    synth, _, synth_scale = m.read_windows(args.synth, args.seq_len, "synthetic", scale)
    holdout = None
    if args.holdout:
        holdout, _, _ = m.read_windows(args.holdout, args.seq_len, "holdout", scale)
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
    result["marginals"] = m.column_marginals(scale["table"], synth_scale["table"], scale)
    result["files"] = {"real": str(args.real), "synthetic": str(args.synth)}
    lines = summary_lines(result)
    tables = (scale["table"], synth_scale["table"])
    page = render_html(result, lines, real, synth, args.tsne_windows, args.seed, holdout, tables)
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
        "marginals      "
        + ", ".join(
            f"{c} KS {v['ks']:.3f}" if v["kind"] == "continuous" else f"{c} TVD {v['tvd']:.3f}"
            for c, v in result["marginals"].items()
        )
        + "  (0: same distribution)",
        "missing rate   "
        + (
            ", ".join(
                f"{c} {v['missing_real']:.1%} real / {v['missing_synthetic']:.1%} synthetic"
                for c, v in result["marginals"].items()
                if v["missing_real"] or v["missing_synthetic"]
            )
            or "none"
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


def _marginal_figure(result: dict, real_table, synth_table):
    """One panel per column (the first 12): histograms (continuous), level shares (discrete)."""
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(result["marginals"])[:12]
    cols = min(4, len(names))
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.ravel()[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names, strict=False):
        entry = result["marginals"][name]
        if entry["kind"] == "continuous":
            r = real_table[name].dropna().to_numpy(np.float64)
            s = synth_table[name].dropna().to_numpy(np.float64)
            bins = np.histogram_bin_edges(np.concatenate([r, s]), 30)
            ax.hist(r, bins, density=True, alpha=0.5, label="real")
            ax.hist(s, bins, density=True, alpha=0.5, label="synthetic")
            ax.set_title(f"{name} (KS {entry['ks']:.3f})", fontsize=8)
        else:
            levels = list(entry["shares"])[:15]
            x = np.arange(len(levels))
            ax.bar(x - 0.2, [entry["shares"][lv][0] for lv in levels], 0.4, label="real")
            ax.bar(x + 0.2, [entry["shares"][lv][1] for lv in levels], 0.4, label="synthetic")
            ax.set_xticks(x, levels, fontsize=6, rotation=45)
            ax.set_title(f"{name} (TVD {entry['tvd']:.3f})", fontsize=8)
        ax.tick_params(labelsize=6)
    axes.ravel()[0].legend(fontsize=6)
    fig.tight_layout()
    return fig


def render_html(
    result: dict,
    lines: list[str],
    real,
    synth,
    tsne_windows: int,
    seed: int,
    holdout=None,
    tables=None,
) -> str:
    """The self-contained page: the figures, then the pictures as embedded PNGs (`tables`:
    the real and synthetic tables, for the per-column marginals; `holdout`: windows for the
    nearest-neighbour picture)."""
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

    if tables is not None:
        images.insert(0, ("Marginals per column", _png(_marginal_figure(result, *tables))))

    from ganforge.series.metrics import cross_correlation

    corr_r, corr_s = cross_correlation(real), cross_correlation(synth)
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
    for ax, matrix, title in (
        (axes[0], corr_r, "real"),
        (axes[1], corr_s, "synthetic"),
        (axes[2], np.abs(corr_r - corr_s), "|real - synthetic|"),
    ):
        shown = ax.imshow(matrix, vmin=-1 if title != "|real - synthetic|" else 0, vmax=1)
        ax.set_title(f"cross-correlation: {title}", fontsize=8)
        ax.tick_params(labelsize=6)
        fig.colorbar(shown, ax=ax, fraction=0.046)
    images.append(("Cross-correlation of the channels", _png(fig)))

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

    if holdout is not None:
        import torch

        from ganforge.metrics.memorization import nearest_distances

        flat = [torch.from_numpy(a.reshape(len(a), -1)).double() for a in (synth, real, holdout)]
        d_synth = nearest_distances(flat[0], flat[1]).numpy()
        d_holdout = nearest_distances(flat[2], flat[1]).numpy()
        fig, ax = plt.subplots(figsize=(5, 3.2))
        bins = np.histogram_bin_edges(np.concatenate([d_synth, d_holdout]), 40)
        ax.hist(d_holdout, bins, density=True, alpha=0.5, label="holdout to train")
        ax.hist(d_synth, bins, density=True, alpha=0.5, label="synthetic to train")
        ax.set(
            xlabel="distance to the nearest training window",
            title="privacy: synthetic windows are no closer to train than new real ones",
        )
        ax.title.set_fontsize(8)
        ax.legend(fontsize=7)
        images.append(("Nearest-neighbour distances", _png(fig)))

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
