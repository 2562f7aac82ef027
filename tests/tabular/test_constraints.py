"""Constraints from the metadata: every sampled row holds each one (by construction or
rejection), the real rows that break one are reported, formulas are parsed safely."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganforge.errors import GanforgeError
from ganforge.tabular import TabularGAN
from ganforge.tabular import constraints as rules
from ganforge.tabular import metadata as md
from tests.tabular.conftest import TINY_FIT

RULES = [
    {"type": "inequality", "low": "checkin", "high": "checkout", "strict": True},
    {"type": "inequality", "low": "lo", "high": "hi"},
    {"type": "range", "column": "age", "min": 20, "max": 80},
    {"type": "positive", "column": "gain"},
    {"type": "negative", "column": "loss", "strict": True},
    {"type": "fixed_combinations", "columns": ["city", "country"]},
    {"type": "formula", "column": "total", "expression": "price * qty"},
    {"type": "one_of", "columns": ["phone", "email"]},
    {"type": "one_of", "columns": ["fax", "email"], "exactly": False},
]


def rule_table(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    price = rng.uniform(1, 20, n).round(2)
    qty = rng.integers(1, 5, n)
    city = rng.choice(["Paris", "Lyon", "Berlin", "Munich"], n)
    checkin = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    checkout = checkin + pd.to_timedelta(rng.integers(1, 15, n), unit="D")
    has_phone = rng.random(n) < 0.5
    lo = rng.normal(0, 1, n).round(3)
    return pd.DataFrame(
        {
            "price": price,
            "qty": qty,
            "total": (price * qty).round(2),
            "city": city,
            "country": np.where(np.isin(city, ["Paris", "Lyon"]), "FR", "DE"),
            "checkin": checkin.strftime("%Y-%m-%d"),
            "checkout": checkout.strftime("%Y-%m-%d"),
            "lo": lo,
            "hi": (lo + rng.exponential(1, n)).round(3),
            "age": rng.integers(18, 90, n),  # some rows below 20 / above 80: reported
            "gain": np.abs(rng.normal(0, 100, n)).round(),
            "loss": -rng.uniform(1, 50, n).round(1),
            "phone": np.where(has_phone, "p" + pd.Series(rng.integers(0, 5, n)).astype(str), None),
            "email": np.where(has_phone, None, "a@b.c"),
            "fax": np.where(has_phone, "f1", None),
        }
    )


@pytest.fixture(scope="module")
def fitted():
    frame = rule_table()
    meta = md.detect(frame)
    meta["constraints"] = RULES
    model = TabularGAN(**TINY_FIT).fit(frame, metadata=meta)
    return frame, meta, model


@pytest.fixture(scope="module")
def rows(fitted):
    return fitted[2].sample(400, seed=1)


@pytest.mark.parametrize("spec", RULES, ids=[f"{r['type']}-{i}" for i, r in enumerate(RULES)])
def test_every_sampled_row_holds_each_constraint(fitted, rows, spec):
    _, meta, model = fitted
    rule = rules.build(spec)
    rule.state = next(c.state for c in model.plan.constraints if c.spec == spec)
    assert len(rows) == 400
    assert rule.valid(model.plan.typed(rows)).all(), rule.describe()


def test_the_real_rows_break_some_and_it_is_said(fitted):
    frame, _, model = fitted
    share = ((frame["age"] < 20) | (frame["age"] > 80)).mean()
    notes = [n for n in model.plan.notes if "age" in n]
    assert len(notes) == 1 and f"{100 * share:.2f}% of the real rows" in notes[0]
    assert model.plan.dropped_rows == int(((frame["age"] < 20) | (frame["age"] > 80)).sum())


def test_rejections_are_counted_and_output_keeps_types(fitted, rows):
    _, _, model = fitted
    model.sample(200, seed=3)
    stats = model.last_sample
    assert stats["kept"] == 200 and stats["drawn"] >= 200
    assert set(stats["rejected"]) == {c.describe() for c in model.plan.constraints}
    assert rows["checkin"].str.match(r"^\d{4}-\d\d-\d\d$").all()  # dates in their format
    assert set(rows["city"] + rows["country"]) <= {"ParisFR", "LyonFR", "BerlinDE", "MunichDE"}
    assert rows["qty"].dtype.kind == "i"


def test_reversible_transforms_give_the_real_rows_back(fitted):
    frame, meta, _ = fitted
    plan = md.Plan({**meta, "constraints": [r for r in RULES if r["type"] != "range"]})
    model_frame, discrete, _ = plan.prepare(frame)
    assert "total" not in model_frame and "city|country" in discrete
    back = plan.formatted(plan.finish(model_frame))
    for name in ["total", "checkout", "city", "country", "hi", "phone"]:
        shown = [None if v is None or v != v else str(v) for v in back[name]]
        assert shown == [None if v is None else str(v) for v in frame[name]], name


def test_constraints_survive_save_and_load(fitted, tmp_path):
    _, _, model = fitted
    model.save(tmp_path / "m.gft")
    again = TabularGAN.load(tmp_path / "m.gft")
    out = again.sample(100, seed=4)
    ok, _ = again.plan.valid(again.plan.typed(out))
    assert ok.all() and len(again.plan.constraints) == len(RULES)


@pytest.mark.parametrize(
    "text",
    ["__import__('os').system('x')", "a.b", "a if b else c", "f(a)", "[a]", "'x' * 3", "a < b"],
)
def test_formulas_allow_arithmetic_only(text):
    with pytest.raises(GanforgeError, match="not allowed|not an arithmetic"):
        rules.parse_formula(text)


def test_formula_names_in_backticks_and_values():
    tree, names = rules.parse_formula("`capital-gain` * 2 + -b ** 2 / 4")
    assert names == ["capital-gain", "b"]
    frame = pd.DataFrame({"capital-gain": [1.0, 3.0], "b": [2.0, 4.0]})
    np.testing.assert_allclose(rules.evaluate(tree, frame), [1.0, 2.0])


def test_where_parsing_and_ranges():
    assert rules.parse_where("age>=30,age<40,sex=Female") == [
        ("age", ">=", "30"),
        ("age", "<", "40"),
        ("sex", "=", "Female"),
    ]
    assert rules.parse_where(["city=Paris, France"]) == [("city", "=", "Paris, France")]
    holds = rules.condition_holds(pd.Series([29, 30, 39, 40], name="age"), ">=", "30")
    assert holds.tolist() == [False, True, True, True]


def test_a_condition_on_a_combined_column_feeds_the_generator(fitted):
    _, _, model = fitted
    rows = model.sample(60, conditions="city=Paris", seed=5)
    assert (rows["city"] == "Paris").all() and (rows["country"] == "FR").all()
    _, (column, slots) = model._where("city=Paris")  # G is asked for Paris combinations only
    merged = model.transformer.discrete_columns()[column]
    rule = next(c for c in model.plan.constraints if c.kind == "fixed_combinations")
    combos = [rule.state["combos"][int(merged.categories[k].split()[-1])] for k in slots]
    assert merged.name == "city|country" and combos and all(c[0] == "Paris" for c in combos)
    with pytest.raises(GanforgeError, match=r"no value of 'city' holds it"):
        model.sample(5, conditions="city=Rome")
