"""The report's numbers: DCR against SDMetrics' own code, copies, membership AUC, quality, ML."""

import json

import numpy as np
import pandas as pd
import pytest

from ganforge.errors import GanforgeError
from ganforge.tabular import report as R


def _frames(seed=0, n=300):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n).round(3),
            "b": rng.choice(["u", "v", "w"], n),
            "c": 0,  # set below: depends on a, so shuffling breaks a pair trend
            "k": 4.0,  # range 0 in the reference
            "y": rng.choice(["no", "yes"], n),
        }
    )
    frame["c"] = (frame["a"] * 200 + 500 + rng.integers(0, 50, n)).astype(int)
    frame.loc[rng.random(n) < 0.1, "a"] = np.nan
    frame.loc[rng.random(n) < 0.1, "b"] = None
    return frame


def test_dcr_matches_sdmetrics():
    from sdmetrics.single_table.privacy.dcr_utils import calculate_dcr

    reference, query = _frames(0), _frames(1, 60)
    query.loc[3, "k"] = 5.0  # differs from a constant reference column
    query.loc[4, "a"] = 99.0  # far outside the reference's range (clipped at 1)
    kinds = R.column_kinds(reference, discrete=["b", "y"])
    vocab = {}
    ours = R.dcr(R._Encoded(query, kinds, vocab), R._Encoded(reference, kinds, vocab))
    theirs = calculate_dcr(query, reference, R.sdmetrics_metadata(reference, kinds)).to_numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    copies = R.dcr(
        R._Encoded(reference.iloc[:10], kinds, vocab), R._Encoded(reference, kinds, vocab)
    )
    assert np.all(copies == 0)


def test_exact_copies_and_membership_inference():
    train, holdout = _frames(0, 400), _frames(1, 400)
    kinds = R.column_kinds(train, discrete=["b", "y"])
    leaked = pd.concat([train.iloc[:200], holdout.iloc[:0]], ignore_index=True)
    assert R.exact_copy_rate(leaked, train) == 1.0
    assert R.exact_copy_rate(holdout, train) == 0.0
    copy = R.privacy(train, train.copy(), holdout, kinds, n=200)
    assert copy["exact_copies_synthetic"] == 1.0 and copy["membership_auc"] > 0.9
    assert copy["closer_to_train_share"] == 1.0 and copy["overfitting_protection"] == 0.0
    fresh = R.privacy(train, _frames(2, 400), holdout, kinds, n=200)
    assert fresh["membership_auc"] == pytest.approx(0.5, abs=0.1)
    assert fresh["exact_copies_synthetic"] < 0.01
    assert R.privacy(train, _frames(2), None, kinds).keys() >= {"dcr_synthetic_train"}


def test_quality_and_ml_efficacy():
    train, holdout = _frames(0), _frames(1)
    kinds = R.column_kinds(train, discrete=["b", "y"])
    same = R.quality(train, train, kinds)
    assert same["score"] == pytest.approx(1.0, abs=1e-6)
    rng = np.random.default_rng(0)
    shuffled = train.apply(lambda c: c.to_numpy()[rng.permutation(len(c))])  # one per column
    broken = R.quality(train, shuffled, kinds)
    assert broken["column_shapes"] == pytest.approx(1.0) and broken["score"] < 1.0
    ml = R.ml_efficacy(train, train, holdout, "y", kinds)
    assert ml["metric"] == "f1" and ml["real"] == ml["synthetic"] and ml["ratio"] == 1.0
    one_class = train.assign(y="no")
    assert R.ml_efficacy(train, one_class, holdout, "y", kinds)["synthetic"] == 0.0
    assert R.ml_efficacy(train, train, holdout, "c", kinds)["metric"] == "r2"


def test_build_and_write_report(tmp_path):
    train, holdout = _frames(0), _frames(1)
    report = R.build_report(train, _frames(2), holdout, target="y", discrete=["b", "y"])
    html_path, json_path = R.write_report(report, train, _frames(2), tmp_path / "r.html")
    assert json.loads(json_path.read_text())["quality"]["score"] == report["quality"]["score"]
    text = html_path.read_text()
    assert text.count("data:image/png;base64,") == 1 + train.shape[1]  # histograms + correlation
    assert any(line.startswith("quality") for line in R.summary_lines(report))
    with pytest.raises(GanforgeError, match="columns differ.*missing y"):
        R.build_report(train, train.drop(columns="y"), holdout)
    with pytest.raises(GanforgeError, match="target column 'nope'"):
        R.build_report(train, train, holdout, target="nope")
