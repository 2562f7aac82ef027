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


def test_a_date_inequality_in_a_day_first_format_holds_end_to_end(tmp_path):
    """fit -> sample -> save/load: `end >= start` on every row (same-day rows in the real table),
    both dates still text in their %d/%m/%Y format, the other columns' types kept."""
    rng = np.random.default_rng(1)
    n = 200
    start = pd.Timestamp("2019-03-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    end = start + pd.to_timedelta(rng.integers(0, 60, n) * (rng.random(n) < 0.8), unit="D")
    frame = pd.DataFrame(
        {
            "start": start.strftime("%d/%m/%Y"),
            "end": end.strftime("%d/%m/%Y"),
            "ward": rng.choice(["a", "b", "c"], n),
            "age": rng.integers(20, 90, n),
        }
    )
    meta = md.detect(frame)
    assert [meta["columns"][c].get("format") for c in ("start", "end")] == ["%d/%m/%Y"] * 2
    meta["constraints"] = [{"type": "inequality", "low": "start", "high": "end"}]
    model = TabularGAN(**TINY_FIT).fit(frame, metadata=meta)
    assert model.plan.dropped_rows == 0
    model.save(tmp_path / "m.gft")
    for m in (model, TabularGAN.load(tmp_path / "m.gft")):
        rows = m.sample(300, seed=2)
        assert len(rows) == 300 and list(rows.columns) == list(frame.columns)
        for name in ("start", "end"):
            assert rows[name].map(type).eq(str).all(), name
            assert rows[name].str.fullmatch(r"\d\d/\d\d/\d{4}").all(), name
        days = pd.to_datetime(rows["end"], format="%d/%m/%Y") - pd.to_datetime(
            rows["start"], format="%d/%m/%Y"
        )
        assert (days >= pd.Timedelta(0)).all()
        assert rows["age"].dtype.kind == "i" and set(rows["ward"]) <= {"a", "b", "c"}


def test_an_inequality_whose_later_column_has_a_spike_holds_by_rejection():
    """A censoring date on 30% of the rows (Aids2's end of observation) would be smeared as a
    gap: the column is learned as it is (the date comes back exactly) and rows are rejected."""
    rng = np.random.default_rng(2)
    n = 200
    start = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 600, n), unit="D")
    end = start + pd.to_timedelta(rng.integers(0, 90, n), unit="D")
    censored = rng.random(n) < 0.3
    end = end.where(~censored, pd.Timestamp("2021-06-30"))
    frame = pd.DataFrame({"start": start.strftime("%Y-%m-%d"), "end": end.strftime("%Y-%m-%d")})
    meta = md.detect(frame)
    spec = {"type": "inequality", "low": "start", "high": "end"}
    meta["constraints"] = [spec]
    model = TabularGAN(**TINY_FIT).fit(frame, metadata=meta)
    rule = model.plan.constraints[0]
    assert rule.state["by_rejection"] and not rule.by_construction
    rows = model.sample(300, seed=2)
    gap = pd.to_datetime(rows["end"]) - pd.to_datetime(rows["start"])
    assert (gap >= pd.Timedelta(0)).all()
    assert (rows["end"] == "2021-06-30").any()  # the spike kept (as a gap it never comes back)
    assert "end >= start" in model.last_sample["rejected"]  # (counted)
    forced = md.Plan({**meta, "constraints": [{**spec, "handling": "transform"}]})
    forced.prepare(frame)
    assert not forced.constraints[0].state["by_rejection"]
    with pytest.raises(GanforgeError, match="handling 'drop' is not auto"):
        rules.build({**spec, "handling": "drop"})
