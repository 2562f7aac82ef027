"""Related tables: children per parent learned, child rows near their parent's columns, every
foreign key pointing to a generated parent (fit-multi / sample-multi)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ganforge.cli import main
from ganforge.tabular import multi

TINY = {"epochs": 3, "batch_size": 40, "embedding_dim": 8, "generator_width": 16,
        "discriminator_width": 16, "pack": 1, "mixture_rows": 200, "verbose": False,
        "seed": 0}  # fmt: skip

META = {
    "tables": {
        "firms": {"columns": {"firm": {"type": "id", "role": "primary_key"},
                              "sector": {"type": "categorical"},
                              "size": {"type": "numerical"}}},
        "years": {"columns": {"firm": {"type": "id", "role": "foreign_key",
                                       "references": "firms.firm"},
                              "year": {"type": "numerical", "subtype": "integer",
                                       "role": "sequence_key"},
                              "sales": {"type": "numerical", "rounding": 1}}},
    }
}  # fmt: skip


def related(n: int = 40, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    size = rng.uniform(1, 10, n).round(2)
    firms = pd.DataFrame(
        {"firm": [f"F{i:03d}" for i in range(n)], "sector": rng.choice(["a", "b"], n), "size": size}
    )
    rows = []
    for i in range(n):
        for k in range(int(rng.integers(2, 6))):
            rows.append((f"F{i:03d}", 2000 + k, round(10 * size[i] + rng.normal(0, 1), 1)))
    return {"firms": firms, "years": pd.DataFrame(rows, columns=["firm", "year", "sales"])}


@pytest.fixture(scope="module")
def sampled():
    real = related()
    model = multi.MultiTableModel(**TINY).fit(real, META)
    return real, model, model.sample(seed=0)


def test_keys_are_consistent(sampled):
    real, _, synth = sampled
    firms, years = synth["firms"], synth["years"]
    assert len(firms) == len(real["firms"]) and firms["firm"].is_unique
    assert not set(firms["firm"]) & set(real["firms"]["firm"])  # fresh keys
    assert years["firm"].isin(set(firms["firm"])).all()  # no orphan
    assert list(years.columns) == ["firm", "year", "sales"]
    assert list(firms.columns) == ["firm", "sector", "size"]
    per = years.groupby("firm")["year"].apply(lambda s: s.is_monotonic_increasing)
    assert per.all()  # children ordered by the sequence key


def test_children_counts_and_scores(sampled):
    real, model, synth = sampled
    counts = synth["years"]["firm"].value_counts()
    assert counts.min() >= 1 and counts.max() <= 5  # within the real range (2..5, folded in)
    card = multi.cardinality_score(real, synth, model.links)
    trend = multi.pair_trend_score(real, synth, model.links)
    assert set(card) == set(trend) == {"firms->years"}
    assert 0 <= card["firms->years"] <= 1 and 0 <= trend["firms->years"] <= 1
    same = multi.pair_trend_score(real, real, model.links)
    assert same["firms->years"] == pytest.approx(1.0)


def test_cli_fit_multi_and_sample_multi(tmp_path, capsys):
    real = related(24)
    for name, frame in real.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    (tmp_path / "meta.json").write_text(json.dumps(META))
    code = main(["tabular", "fit-multi", "--metadata", str(tmp_path / "meta.json"),
                 str(tmp_path / "firms.csv"), f"years={tmp_path / 'years.csv'}",
                 "-o", str(tmp_path / "models"), "--epochs", "2", "--batch-size", "20",
                 "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "firms.firm -> years.firm" in capsys.readouterr().out
    code = main(["tabular", "sample-multi", str(tmp_path / "models"), "-o", str(tmp_path / "s"),
                 "--scale", "0.5", "--seed", "1"])  # fmt: skip
    assert code == 0
    firms = pd.read_csv(tmp_path / "s" / "firms.csv")
    years = pd.read_csv(tmp_path / "s" / "years.csv")
    assert len(firms) == 12 and years["firm"].isin(set(firms["firm"])).all()
