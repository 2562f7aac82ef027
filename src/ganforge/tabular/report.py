"""How good and how private is a synthetic table: fidelity, utility and privacy, as JSON and HTML.

- Quality: SDMetrics' QualityReport (Column Shapes: 1 - KS / 1 - TVD; Column Pair Trends:
  correlation and contingency similarity), the measure SDGym reports.
- ML efficacy: a gradient-boosting classifier (regressor for a continuous target) trained on the
  synthetic rows and on the real ones, both tested on a real holdout; binary F1 on the minority
  class (macro F1 for several classes, R^2 for regression).
- Privacy: distance to closest record (SDMetrics' DCR: per column min(|a-b| / range, 1) for
  numbers, 0/1 for categories, mean over columns, minimum over the reference rows) from
  synthetic to training rows vs from holdout to training rows; the share of synthetic rows
  closer to training than to holdout rows (DCROverfittingProtection, on equal-size samples);
  exact copies of training rows (against the rate at which holdout rows already appear in the
  training data); and a distance-based membership-inference attack's AUC (0.5: no signal).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganforge.errors import GanforgeError

# ---- column kinds ------------------------------------------------------------------------------


def column_kinds(
    frame: pd.DataFrame, discrete: list[str] | None = None, threshold: int = 10
) -> dict[str, str]:
    """{column: numerical | categorical | datetime} the way the transformer decides them."""
    from ganforge.tabular.transformer import datetime_format_of, is_bool_like

    kinds = {}
    for name in frame.columns:
        series = frame[name]
        if discrete is not None and name in discrete:
            kinds[name] = "categorical"
        elif is_bool_like(series):
            kinds[name] = "categorical"
        elif pd.api.types.is_datetime64_any_dtype(series) or datetime_format_of(series):
            kinds[name] = "datetime"
        elif pd.api.types.is_numeric_dtype(series):
            values = series.dropna()
            integral = bool(np.all(values == np.round(values))) if len(values) else False
            few = values.nunique() <= threshold
            kinds[name] = "categorical" if (discrete is None and integral and few) else "numerical"
        else:
            kinds[name] = "categorical"
    return kinds


def sdmetrics_metadata(frame: pd.DataFrame, kinds: dict[str, str]) -> dict:
    """SDMetrics single-table metadata for these kinds."""
    from ganforge.tabular.transformer import datetime_format_of

    columns = {}
    for name, kind in kinds.items():
        entry: dict[str, Any] = {"sdtype": kind}
        if kind == "datetime":
            fmt = datetime_format_of(frame[name])
            if fmt:
                entry["datetime_format"] = fmt
        columns[name] = entry
    return {"columns": columns}


def _numbers(series: pd.Series, kind: str) -> np.ndarray:
    if kind == "datetime":
        from ganforge.tabular.transformer import datetime_format_of

        fmt = datetime_format_of(series)
        parsed = pd.to_datetime(series, format=fmt) if fmt else pd.to_datetime(series)
        out = np.full(len(series), np.nan)
        ok = parsed.notna().to_numpy()
        out[ok] = parsed[ok].to_numpy().astype("datetime64[ns]").astype(np.int64) / 1e9
        return out
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)


def _check_columns(real: pd.DataFrame, other: pd.DataFrame, what: str) -> None:
    if list(other.columns) != list(real.columns):
        missing = [c for c in real.columns if c not in other.columns]
        extra = [c for c in other.columns if c not in real.columns]
        detail = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"extra {', '.join(extra)}" if extra else "",
                "" if missing or extra else "same columns in another order",
            )
            if part
        )
        raise GanforgeError(
            f"the {what} table's columns differ from the real table's ({detail})",
            fix="compare tables with the same header",
        )


# ---- quality -----------------------------------------------------------------------------------


def quality(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: dict[str, str]) -> dict:
    """SDMetrics QualityReport: overall score, the two properties and per-column/pair details."""
    import warnings

    with warnings.catch_warnings():
        # sdmetrics 0.2x-0.3x: this single-table report is the one SDGym's figures come from;
        # its multi-table successor takes another metadata shape
        warnings.simplefilter("ignore", FutureWarning)
        try:
            from sdmetrics.reports.single_table import QualityReport
        except ImportError:
            raise GanforgeError(
                "the report needs sdmetrics", fix="pip install 'ganforge[tabular]'"
            ) from None

    report = QualityReport()
    report.generate(real, synthetic, sdmetrics_metadata(real, kinds), verbose=False)
    properties = report.get_properties()
    scores = dict(zip(properties["Property"], properties["Score"], strict=True))
    shapes = report.get_details("Column Shapes")
    pairs = report.get_details("Column Pair Trends")
    return {
        "score": float(report.get_score()),
        "column_shapes": float(scores["Column Shapes"]),
        "column_pair_trends": float(scores["Column Pair Trends"]),
        "shapes": {r["Column"]: _finite(r["Score"]) for _, r in shapes.iterrows()},
        "pairs": [
            {"a": r["Column 1"], "b": r["Column 2"], "score": _finite(r["Score"])}
            for _, r in pairs.iterrows()
        ],
    }


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# ---- machine-learning efficacy -----------------------------------------------------------------


def _features(frame: pd.DataFrame, kinds: dict[str, str], levels: dict[str, list]) -> pd.DataFrame:
    out = {}
    for name in frame.columns:
        if kinds[name] == "categorical":
            values = frame[name].astype(object).where(frame[name].notna(), None).map(str)
            out[name] = pd.Categorical(values, categories=levels[name])
        else:
            out[name] = _numbers(frame[name], kinds[name])
    return pd.DataFrame(out)


def ml_efficacy(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame,
    target: str,
    kinds: dict[str, str],
    seed: int = 0,
) -> dict:
    """Train on synthetic vs on real, test on the real holdout (gradient boosting)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import f1_score, r2_score

    features = [c for c in real.columns if c != target]
    levels = {}
    for name in features:
        if kinds[name] == "categorical":
            seen = pd.concat([real[name], synthetic[name], holdout[name]]).astype(object)
            levels[name] = sorted(set(seen.where(seen.notna(), None).map(str)))
    x_real, x_syn, x_test = (
        _features(f[features], kinds, levels) for f in (real, synthetic, holdout)
    )
    result: dict[str, Any] = {
        "target": target,
        "model": "HistGradientBoosting",
        "test_rows": len(holdout),
    }
    if kinds[target] == "categorical":
        y_real, y_syn, y_test = (
            f[target].astype(object).map(str) for f in (real, synthetic, holdout)
        )
        classes = y_real.value_counts()
        binary = len(classes) == 2
        positive = classes.index[-1]  # the minority class
        result.update(task="classification", metric="f1" if binary else "macro_f1")
        if binary:
            result["positive_class"] = positive

        def score(x, y):
            if y.nunique() < 2:
                return 0.0  # one class only: the classifier cannot learn the task
            model = HistGradientBoostingClassifier(
                categorical_features="from_dtype", random_state=seed
            )
            model.fit(x, y)
            predicted = model.predict(x_test)
            if binary:
                return float(f1_score(y_test, predicted, pos_label=positive, zero_division=0))
            return float(f1_score(y_test, predicted, average="macro", zero_division=0))

        result["real"], result["synthetic"] = score(x_real, y_real), score(x_syn, y_syn)
    else:
        y_real, y_syn, y_test = (
            _numbers(f[target], kinds[target]) for f in (real, synthetic, holdout)
        )
        result.update(task="regression", metric="r2")

        def score(x, y):
            ok = np.isfinite(y)
            model = HistGradientBoostingRegressor(
                categorical_features="from_dtype", random_state=seed
            )
            model.fit(x[ok], y[ok])
            test_ok = np.isfinite(y_test)
            return float(r2_score(y_test[test_ok], model.predict(x_test[test_ok])))

        result["real"], result["synthetic"] = score(x_real, y_real), score(x_syn, y_syn)
    result["ratio"] = result["synthetic"] / result["real"] if result["real"] else None
    return result


# ---- privacy -----------------------------------------------------------------------------------


class _Encoded:
    """A table as numbers (NaN = missing) and category codes (missing is a level) for distances."""

    def __init__(self, frame: pd.DataFrame, kinds: dict[str, str], vocab: dict[str, dict]):
        numeric = [c for c in frame.columns if kinds[c] != "categorical"]
        categorical = [c for c in frame.columns if kinds[c] == "categorical"]
        self.numbers = (
            np.stack([_numbers(frame[c], kinds[c]) for c in numeric], 1)
            if numeric
            else np.zeros((len(frame), 0))
        )
        codes = []
        for c in categorical:
            values = frame[c].astype(object)
            keys = values.where(values.notna(), None).map(
                lambda v: "\x00NA" if v is None else str(v)
            )
            table = vocab.setdefault(c, {})
            codes.append(keys.map(lambda k, t=table: t.setdefault(k, len(t))).to_numpy(np.int64))
        self.codes = np.stack(codes, 1) if codes else np.zeros((len(frame), 0), dtype=np.int64)
        self.vocab = vocab
        self.n_columns = len(numeric) + len(categorical)

    def take(self, index: np.ndarray) -> _Encoded:
        """The rows at `index`."""
        out = object.__new__(_Encoded)
        out.numbers, out.codes = self.numbers[index], self.codes[index]
        out.vocab, out.n_columns = self.vocab, self.n_columns
        return out

    def __len__(self) -> int:
        return len(self.numbers)

    def one_hot(self) -> torch.Tensor:
        """Every categorical column one-hot, side by side (missing is a level of its own)."""
        sizes = [len(t) for t in self.vocab.values()][: self.codes.shape[1]]
        offsets = np.cumsum([0] + sizes[:-1])
        out = torch.zeros(len(self.codes), sum(sizes))
        if self.codes.size:
            rows = np.repeat(np.arange(len(self.codes)), self.codes.shape[1])
            out[rows, (self.codes + offsets).ravel()] = 1.0
        return out


def dcr(query: _Encoded, reference: _Encoded, chunk: int = 64) -> np.ndarray:
    """Distance to closest record of each query row among the reference rows (SDMetrics' DCR).

    Per column: numbers min(|a - b| / range, 1) with the reference's range (range 0: 0 if
    equal else 1), categories 0/1; one side missing: 1, both: 0. Mean over columns, minimum over
    reference rows. Computed as: numbers rescaled once so the clip and the missing rules become
    one |a - b| clamped at 1 (missing -> a far sentinel), categories as one-hot matches (matmul).
    """
    ref = reference.numbers
    missing_ref = np.isnan(ref)
    lo = np.nanmin(np.where(missing_ref, np.nan, ref), 0) if len(ref) else np.zeros(ref.shape[1])
    hi = np.nanmax(ref, 0) if len(ref) else np.zeros(ref.shape[1])
    span = np.nan_to_num(hi - lo)

    def scaled(x: np.ndarray) -> torch.Tensor:
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(
                span > 0, (x - lo) / np.where(span > 0, span, 1), np.where(x == lo, 0.0, 2.0)
            )
        z = np.clip(z, -10.0, 11.0)  # differences beyond 1 all clamp to 1 anyway
        return torch.from_numpy(np.where(np.isnan(x), 1e6, z).astype(np.float32))

    r_num, q_num = scaled(ref), scaled(query.numbers)
    r_hot, q_hot = reference.one_hot(), query.one_hot()
    n_cat = query.codes.shape[1]
    out = np.empty(len(query))
    for i in range(0, len(query), chunk):
        total = (q_num[i : i + chunk, None, :] - r_num[None]).abs_().clamp_(max=1.0).sum(-1)
        if n_cat:
            total += n_cat - q_hot[i : i + chunk] @ r_hot.T
        out[i : i + chunk] = (total.amin(1) / max(query.n_columns, 1)).double().numpy()
    return out


def _row_keys(frame: pd.DataFrame) -> pd.Series:
    """One hashable key per row (missing values equal to each other; 3 and 3.0 equal)."""
    normal = frame.astype(object).where(frame.notna(), "\x00NA")
    normal = normal.map(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v)
    return pd.util.hash_pandas_object(normal.astype(str), index=False)


def exact_copy_rate(rows: pd.DataFrame, train: pd.DataFrame) -> float:
    """Share of `rows` identical (every column) to some training row."""
    keys = set(_row_keys(train).tolist())
    return float(_row_keys(rows).isin(keys).mean())


def privacy(
    train: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None,
    kinds: dict[str, str],
    n: int = 2000,
    seed: int = 0,
) -> dict:
    """DCR figures, exact copies and a membership-inference AUC (needs a holdout for most)."""
    rng = np.random.default_rng(seed)
    vocab: dict[str, dict] = {}
    tr = _Encoded(train, kinds, vocab)
    sy = _Encoded(synthetic, kinds, vocab)

    def pick(size: int, k: int) -> np.ndarray:
        return rng.choice(size, min(k, size), replace=False)

    synth_dcr = dcr(sy.take(pick(len(sy), n)), tr)
    result: dict[str, Any] = {
        "rows_measured": int(min(n, len(sy))),
        "dcr_synthetic_train": _summary(synth_dcr),
        "exact_copies_synthetic": exact_copy_rate(synthetic, train),
    }
    if holdout is None:
        return result
    ho = _Encoded(holdout, kinds, vocab)
    result["dcr_holdout_train"] = _summary(dcr(ho.take(pick(len(ho), n)), tr))
    result["exact_copies_holdout"] = exact_copy_rate(holdout, train)
    # DCROverfittingProtection on equal-size samples: closer to training than to holdout?
    m = min(len(tr), len(ho))
    query = sy.take(pick(len(sy), n))
    to_train, to_holdout = (
        dcr(query, tr.take(pick(len(tr), m))),
        dcr(query, ho.take(pick(len(ho), m))),
    )
    closer = float(np.mean(to_train < to_holdout))
    result["closer_to_train_share"] = closer
    result["overfitting_protection"] = min(1.0, 2 * (1 - closer))
    # Membership inference: members (training rows) vs non-members (holdout rows), scored by
    # closeness to the synthetic table; AUC 0.5 means the synthetic rows reveal nothing.
    from sklearn.metrics import roc_auc_score

    k = min(n // 2, len(tr), len(ho))
    members, others = dcr(tr.take(pick(len(tr), k)), sy), dcr(ho.take(pick(len(ho), k)), sy)
    labels = np.r_[np.ones(len(members)), np.zeros(len(others))]
    result["membership_auc"] = float(roc_auc_score(labels, -np.r_[members, others]))
    return result


def _summary(values: np.ndarray) -> dict:
    return {
        "median": float(np.median(values)),
        "p5": float(np.percentile(values, 5)),
        "mean": float(np.mean(values)),
        "zero_share": float(np.mean(values == 0)),
    }


# ---- the whole report --------------------------------------------------------------------------


def build_report(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    holdout: pd.DataFrame | None = None,
    target: str | None = None,
    discrete: list[str] | None = None,
    privacy_rows: int = 2000,
    seed: int = 0,
) -> dict:
    """Every measure as one JSON-ready dict (the HTML is drawn from it plus the tables)."""
    _check_columns(real, synthetic, "synthetic")
    if holdout is not None:
        _check_columns(real, holdout, "holdout")
    if discrete is not None:
        unknown = [c for c in discrete if c not in real.columns]
        if unknown:
            raise GanforgeError(
                f"discrete column(s) {', '.join(map(repr, unknown))} not in the table"
            )
    if target is not None and target not in real.columns:
        raise GanforgeError(
            f"target column {target!r} not in the table",
            fix=f"columns are: {', '.join(real.columns)}",
        )
    from ganforge.tabular.transformer import looks_like_ids

    # ids (unique in every row) say nothing about fidelity and would hide copies: left out
    ids = [c for c in real.columns if looks_like_ids(str(c), real[c])]
    if target is not None and target in ids:
        raise GanforgeError(
            f"target column {target!r} is an id (unique in every row): nothing to predict",
            fix="choose another --target",
        )
    if ids:
        real, synthetic = real.drop(columns=ids), synthetic.drop(columns=ids)
        holdout = holdout.drop(columns=ids) if holdout is not None else None
        if real.shape[1] == 0:
            raise GanforgeError("every column of the table is an id: nothing to compare")
    chosen = "given" if target is not None else "the last column; --target COL to choose"
    target = target if target is not None else real.columns[-1]
    kinds = column_kinds(real, discrete)
    t0 = time.perf_counter()
    report: dict[str, Any] = {
        "rows": {
            "real": len(real),
            "synthetic": len(synthetic),
            "holdout": len(holdout) if holdout is not None else 0,
        },
        "column_kinds": kinds,
        "id_columns": ids,
        "quality": quality(real, synthetic, kinds),
    }
    if holdout is not None:
        report["ml_efficacy"] = ml_efficacy(real, synthetic, holdout, target, kinds, seed)
        report["ml_efficacy"]["target_chosen"] = chosen
    else:
        report["ml_efficacy"] = None
    report["privacy"] = privacy(real, synthetic, holdout, kinds, privacy_rows, seed)
    report["seconds"] = round(time.perf_counter() - t0, 2)
    return report


def summary_lines(report: dict) -> list[str]:
    """The report in a few printed lines."""
    q, p, ml = report["quality"], report["privacy"], report.get("ml_efficacy")
    lines = [
        f"quality   {q['score']:.3f}  (column shapes {q['column_shapes']:.3f}, "
        f"pair trends {q['column_pair_trends']:.3f})"
    ]
    if ml:
        ratio = f"{ml['ratio']:.2f}" if ml["ratio"] is not None else "-"
        how = f" ({ml['target_chosen']})" if ml.get("target_chosen", "given") != "given" else ""
        lines.append(
            f"ML        {ml['metric']} on {ml['target']!r}{how}: synthetic {ml['synthetic']:.3f}, "
            f"real {ml['real']:.3f} (ratio {ratio})"
        )
    d = p["dcr_synthetic_train"]
    line = f"privacy   DCR synthetic->train median {d['median']:.4f}"
    if "dcr_holdout_train" in p:
        line += f" (holdout->train {p['dcr_holdout_train']['median']:.4f})"
    lines.append(line)
    copies = f"exact copies {100 * p['exact_copies_synthetic']:.2f}%"
    if "exact_copies_holdout" in p:
        copies += f" (holdout rows found in train: {100 * p['exact_copies_holdout']:.2f}%)"
        copies += f", closer-to-train share {p['closer_to_train_share']:.3f}"
        copies += f", membership AUC {p['membership_auc']:.3f}"
    lines.append(f"          {copies}")
    if report.get("id_columns"):
        names = ", ".join(map(repr, report["id_columns"]))
        lines.append(f"ids       {names} left out of every measure (unique in every row)")
    return lines


# ---- plots and HTML ----------------------------------------------------------------------------


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _column_plot(name: str, kind: str, real: pd.Series, synthetic: pd.Series) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 2.6))
    if kind == "categorical":
        r = (
            real.astype(object)
            .where(real.notna(), "(missing)")
            .map(str)
            .value_counts(normalize=True)
        )
        s = (
            synthetic.astype(object)
            .where(synthetic.notna(), "(missing)")
            .map(str)
            .value_counts(normalize=True)
        )
        top = r.index[:15]
        x = np.arange(len(top))
        ax.bar(x - 0.2, r.reindex(top).fillna(0), 0.4, label="real")
        ax.bar(x + 0.2, s.reindex(top).fillna(0), 0.4, label="synthetic")
        ax.set_xticks(x, [t[:12] for t in top], rotation=60, fontsize=7)
    else:
        r, s = _numbers(real, kind), _numbers(synthetic, kind)
        r, s = r[np.isfinite(r)], s[np.isfinite(s)]
        lo, hi = np.percentile(r, [0.5, 99.5]) if len(r) else (0, 1)
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 40)
        ax.hist(r, bins, alpha=0.5, density=True, label="real")
        ax.hist(s, bins, alpha=0.5, density=True, label="synthetic")
    ax.set_title(name, fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig)


def _correlation_plot(
    real: pd.DataFrame, synthetic: pd.DataFrame, kinds: dict[str, str]
) -> str | None:
    import matplotlib.pyplot as plt

    numeric = [c for c, k in kinds.items() if k != "categorical"]
    if len(numeric) < 2:
        return None
    r = pd.DataFrame({c: _numbers(real[c], kinds[c]) for c in numeric}).corr(method="spearman")
    s = pd.DataFrame({c: _numbers(synthetic[c], kinds[c]) for c in numeric}).corr(method="spearman")
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, matrix, title, cmap, vmin in (
        (axes[0], r, "real (Spearman)", "RdBu_r", -1),
        (axes[1], s, "synthetic (Spearman)", "RdBu_r", -1),
        (axes[2], (r - s).abs(), "|difference|", "Reds", 0),
    ):
        image = ax.imshow(matrix.to_numpy(), cmap=cmap, vmin=vmin, vmax=1)
        ax.set_xticks(range(len(numeric)), numeric, rotation=70, fontsize=7)
        ax.set_yticks(range(len(numeric)), numeric, fontsize=7)
        ax.set_title(title, fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046)
    return _png(fig)


def render_html(report: dict, real: pd.DataFrame, synthetic: pd.DataFrame) -> str:
    """A self-contained HTML page: the figures, then histograms and correlation plots."""
    import matplotlib

    matplotlib.use("Agg")
    kinds = report["column_kinds"]
    real, synthetic = (f.drop(columns=report.get("id_columns") or []) for f in (real, synthetic))
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>ganforge tabular report</title>",
        "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
        "img{margin:4px}</style></head><body>",
        "<h1>Synthetic table report</h1>",
        "<pre>" + esc("\n".join(summary_lines(report))) + "</pre>",
        "<h2>Column shapes</h2><table><tr><th>column</th><th>kind</th><th>score</th></tr>",
    ]
    for name, score in report["quality"]["shapes"].items():
        shown = "-" if score is None else f"{score:.3f}"
        parts.append(
            f"<tr><td>{esc(str(name))}</td><td>{kinds.get(name, '')}</td><td>{shown}</td></tr>"
        )
    parts.append("</table><h2>Distributions</h2>")
    for name in real.columns:
        parts.append(
            f"<img src='data:image/png;base64,{_column_plot(name, kinds[name], real[name], synthetic[name])}'>"
        )
    correlation = _correlation_plot(real, synthetic, kinds)
    if correlation:
        parts.append(f"<h2>Correlations</h2><img src='data:image/png;base64,{correlation}'>")
    parts.append(
        "<h2>All figures (JSON)</h2><pre>" + esc(json.dumps(report, indent=1)[:20000]) + "</pre>"
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(
    report: dict, real: pd.DataFrame, synthetic: pd.DataFrame, html_path: str | Path
) -> tuple[Path, Path]:
    """Write REPORT.html and REPORT.json beside it (atomically)."""
    from ganforge.tabular.io import atomic_write_text

    html_path = Path(html_path)
    json_path = html_path.with_suffix(".json")
    atomic_write_text(json.dumps(report, indent=2), json_path)
    atomic_write_text(render_html(report, real, synthetic), html_path)
    return html_path, json_path
