"""Mode-specific normalisation and the column types: numbers checked against formulas/scipy."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import norm

from ganforge.errors import GanforgeError
from ganforge.tabular.transformer import TableTransformer, fit_mixture, reflect


def test_mixture_finds_two_separated_modes():
    rng = np.random.default_rng(0)
    values = np.r_[rng.normal(-5, 1, 3000), rng.normal(5, 0.5, 1000)]
    means, stds, weights = (np.array(v) for v in fit_mixture(values, 10, 0.005, 4000, seed=0))
    # (the variational mixture may split a mode into several components, as CTGAN's does)
    left, right = means < 0, means > 0
    assert np.all(np.abs(means[left] + 5) < 0.3) and np.all(np.abs(means[right] - 5) < 0.3)
    assert weights[left].sum() == pytest.approx(0.75, abs=0.02) and weights.sum() == pytest.approx(
        1
    )
    # the mixture's density matches the true one (scipy) where the data lie
    grid = np.linspace(-8, 7, 61)
    fitted = (weights * norm.pdf(grid[:, None], means, stds)).sum(1)
    true = 0.75 * norm.pdf(grid, -5, 1) + 0.25 * norm.pdf(grid, 5, 0.5)
    assert np.abs(fitted - true).max() < 0.05


def test_mixture_is_fit_on_a_subsample(monkeypatch):
    from sklearn.mixture import BayesianGaussianMixture

    seen = []
    original = BayesianGaussianMixture.fit
    monkeypatch.setattr(
        BayesianGaussianMixture,
        "fit",
        lambda self, X, y=None: seen.append(len(X)) or original(self, X),
    )
    fit_mixture(np.random.default_rng(0).normal(size=50_000), 10, 0.005, 2000, seed=0)
    assert seen == [2000]


def test_alpha_and_mode_follow_the_papers_formula(table):
    tr = TableTransformer(mixture_rows=500).fit(table)
    column = next(c for c in tr.columns if c.name == "num")
    matrix = tr.transform(table, seed=1)
    start = sum(c.width for c in tr.columns[: tr.columns.index(column)])
    block = matrix[:, start : start + column.width]
    x = table["num"].to_numpy()
    present = ~np.isnan(x)
    mode = block[present, 1:].argmax(1)
    means, stds = np.array(column.means), np.array(column.stds)
    # alpha = (x - mu_k) / (4 sigma_k), clipped to [-0.99, 0.99] (Xu et al. 2019, section 4.2)
    expected = np.clip((x[present] - means[mode]) / (4 * stds[mode]), -0.99, 0.99)
    np.testing.assert_allclose(block[present, 0], expected, rtol=1e-5, atol=1e-6)
    # missing values: the extra last mode, alpha 0
    assert (block[~present, -1] == 1).all() and (block[~present, 0] == 0).all()
    assert (block[:, 1:].sum(1) == 1).all()  # exactly one mode per row


def test_mode_is_drawn_from_its_posterior():
    # a value between two modes is assigned to each with its posterior probability (scipy)
    frame = pd.DataFrame({"v": np.r_[np.full(1, 0.8), np.random.default_rng(0).normal(size=10)]})
    tr = TableTransformer().fit(frame, discrete_columns=[])
    c = tr.columns[0]
    c.means, c.stds, c.weights = [0.0, 2.0], [1.0, 0.5], [0.6, 0.4]
    value = pd.DataFrame({"v": np.full(20000, 0.8)})
    modes = tr.transform(value, seed=3)[:, 1:3].argmax(1)
    density = np.array(c.weights) * norm.pdf(0.8, c.means, c.stds)
    assert modes.mean() == pytest.approx(density[1] / density.sum(), abs=0.01)


def test_point_masses_are_modes_of_their_own_and_come_back_exactly():
    # zero-inflated like Adult's capital-gain: 85% zeros, the rest spread; some missing
    rng = np.random.default_rng(0)
    gain = np.where(rng.random(3000) < 0.85, 0.0, rng.lognormal(8, 1, 3000).round())
    gain[rng.random(3000) < 0.05] = np.nan
    frame = pd.DataFrame({"gain": gain})
    tr = TableTransformer(mixture_rows=2000).fit(frame, discrete_columns=[])
    c = tr.columns[0]
    assert c.spikes == [0.0] and "exact 0" in tr.decisions[0]
    assert all(m > 100 for m in c.means)  # the mixture models the non-zero part only
    block = tr.transform(frame, seed=0)
    zero = frame["gain"].to_numpy() == 0
    spike_slot = 1 + len(c.means)
    assert (block[zero, spike_slot] == 1).all() and (block[zero, 0] == 0).all()
    assert block[~zero, spike_slot].sum() == 0 and (block[:, 1:].sum(1) == 1).all()
    back = tr.inverse_transform(block)
    assert back["gain"].isna().tolist() == frame["gain"].isna().tolist()
    assert (back["gain"][zero] == 0).all() and (back["gain"][~zero].dropna() > 0).all()
    # a generated row in the spike's mode is the exact value, whatever its alpha
    fake = np.zeros((2, c.width), dtype=np.float32)
    fake[:, 0], fake[:, spike_slot] = [0.9, -0.7], 1.0
    assert tr.inverse_transform(fake)["gain"].tolist() == [0.0, 0.0]
    # no spike when no value is that common (the default share is 10%)
    spread = pd.DataFrame({"v": rng.normal(size=500)})
    assert TableTransformer().fit(spread, discrete_columns=[]).columns[0].spikes == []


def test_round_trip_restores_values_types_and_order(table):
    tr = TableTransformer(mixture_rows=500).fit(table)
    back = tr.inverse_transform(tr.transform(table))
    assert list(back.columns) == list(table.columns)
    for name in ("cat", "flag", "const", "grade", "age", "day"):
        assert back[name].tolist() == table[name].tolist(), name
    assert back["num"].isna().tolist() == table["num"].isna().tolist()
    np.testing.assert_allclose(back["num"].dropna(), table["num"].dropna(), atol=0.011)
    assert back["age"].dtype == np.int64 and back["flag"].dtype == bool
    assert back["num"].dtype == np.float64 and back["grade"].dtype == np.int64


def test_outputs_respect_ranges_integers_and_decimals(table):
    tr = TableTransformer(mixture_rows=500).fit(table)
    noise = np.random.default_rng(0).normal(0, 3, (500, tr.output_dim)).astype(np.float32)
    out = tr.inverse_transform(noise)
    assert out["age"].between(table["age"].min(), table["age"].max()).all()
    num = out["num"].dropna()
    assert num.between(table["num"].min(), table["num"].max()).all()
    assert np.allclose(num * 100, np.round(num * 100))  # the data's 2 decimals
    assert set(out["cat"]) <= {"x", "y", "z"} and (out["const"] == 7).all()
    days = pd.to_datetime(out["day"], format="%Y-%m-%d")
    assert days.between("2020-01-01", "2020-08-27").all()


def test_column_decisions(table):
    tr = TableTransformer(mixture_rows=500).fit(table)
    kinds = {c.name: (c.kind, c.dtype) for c in tr.columns}
    assert kinds == {
        "cat": ("discrete", "string"),
        "num": ("continuous", "float"),
        "age": ("continuous", "int"),
        "flag": ("discrete", "bool"),
        "const": ("constant", "int"),
        "day": ("continuous", "datetime"),
        "grade": ("discrete", "int"),  # 3 integer levels
    }
    assert any("10.0% missing" in d or "missing" in d for d in tr.decisions if d.startswith("num"))
    given = TableTransformer(mixture_rows=500).fit(table, discrete_columns=["age"])
    assert given.columns[2].kind == "discrete" and given.columns[6].kind == "continuous"


def test_rare_levels_are_grouped_and_sampled_back_by_frequency():
    rng = np.random.default_rng(0)
    common = rng.choice(["a", "b"], 4000)
    rare = np.array([f"r{i}" for i in range(60)] * 10 + ["r0"] * 400)
    frame = pd.DataFrame({"c": np.r_[common, rare]})
    tr = TableTransformer(max_categories=5).fit(frame)
    c = tr.columns[0]
    assert c.width == 5 and len(c.rare_values) == 58 and tr.warnings  # r0, r1 kept... 57 grouped
    assert "grouped" in tr.warnings[0]
    block = np.zeros((20000, 5), dtype=np.float32)
    block[:, 4] = 1  # every row in the rare slot
    out = tr.inverse_transform(block, seed=0)["c"]
    expected = np.array(c.rare_counts) / sum(c.rare_counts)
    observed = out.value_counts(normalize=True).reindex(c.rare_values).fillna(0).to_numpy()
    assert np.abs(observed - expected).max() < 0.01


def test_an_empty_column_stays_empty(table):
    tr = TableTransformer(mixture_rows=500).fit(table.assign(empty=np.nan))
    assert "empty: constant (empty)" in tr.decisions
    assert any("'empty' is empty in every row" in w for w in tr.warnings)
    out = tr.inverse_transform(tr.transform(table.assign(empty=np.nan)))
    assert out["empty"].isna().all() and list(out.columns) == [*table.columns, "empty"]


def test_bad_columns_are_clear_errors(table):
    with pytest.raises(GanforgeError, match=r"discrete column\(s\) 'nope' not in the table"):
        TableTransformer().fit(table, discrete_columns=["nope"])
    tr = TableTransformer(mixture_rows=500).fit(table)
    with pytest.raises(GanforgeError, match="has a value 'w' the model has not seen"):
        tr.transform(table.assign(cat="w"))


def test_metadata_is_plain_and_survives_weights_only_load(table, tmp_path):
    tr = TableTransformer(mixture_rows=500).fit(table)
    torch.save(tr.to_dict(), tmp_path / "t.pt")
    again = TableTransformer.from_dict(torch.load(tmp_path / "t.pt", weights_only=True))
    matrix = tr.transform(table, seed=0)
    pd.testing.assert_frame_equal(again.inverse_transform(matrix), tr.inverse_transform(matrix))


def test_public_metadata_replaces_the_data_statistics(table):
    public = {"cat": {"categories": ["x", "y", "z", "w"]}, "age": {"min": 0, "max": 120}}
    tr = TableTransformer().fit(table[["cat", "age"]], public=public)
    cat, age = tr.columns
    assert cat.categories == ["x", "y", "z", "w"] and cat.counts == [1, 1, 1, 1]
    assert (age.lo, age.hi) == (0.0, 120.0) and len(age.means) == 10
    assert age.means[0] == pytest.approx(6.0)  # evenly spaced, not fit


def test_public_bounds_may_be_dates_and_are_checked(table):
    public = {"day": {"min": "2019-01-01", "max": "2021-01-01"}}
    day = TableTransformer().fit(table[["day"]], public=public).columns[0]
    assert day.lo == pd.Timestamp("2019-01-01").timestamp() and day.dtype == "datetime"
    with pytest.raises(GanforgeError, match="min 'soon' is not a number or a date"):
        TableTransformer().fit(table[["day"]], public={"day": {"min": "soon", "max": 1}})
    with pytest.raises(GanforgeError, match="max is below min"):
        TableTransformer().fit(table[["age"]], public={"age": {"min": 5, "max": 1}})


# ---- ids and ranges ----------------------------------------------------------------------------


def _ids_table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    hexes = rng.integers(0, 16, (n, 32))
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "row": np.arange(1000, 1000 + n),  # an integer sequence
            "code": [f"C{i:05d}" for i in rng.permutation(n)],  # prefix + zero-padded number
            "uuid": ["".join("0123456789abcdef"[h] for h in row) for row in hexes],
            "name": ["".join(rng.choice(list("abcdefgh"), 6)) for _ in range(n)],
            "user_id": rng.permutation(n) * 7 + 3,  # integers, not in steps: the name says id
            "score": rng.permutation(n),  # unique integers in steps of 1: an id as well
            "amount": rng.integers(0, 10**6, n),  # integers, unique, no steps, no id name
        }
    )


def test_id_columns_get_fresh_unique_ids_of_the_same_format():
    frame = _ids_table()
    frame["amount"] = frame["amount"].astype(np.int64)
    tr = TableTransformer(mixture_rows=200).fit(frame)
    kinds = {c.name: (c.kind, c.id_format) for c in tr.columns}
    assert kinds["x"][0] == "continuous" and kinds["amount"][0] == "continuous"
    assert kinds["row"] == ("id", "int") and kinds["code"] == ("id", "counter")
    assert kinds["uuid"] == ("id", "pattern") and kinds["name"] == ("id", "pattern")
    assert kinds["user_id"] == ("id", "int")
    assert "row: id, not learned (fresh ids: 1300, 1301, ...)" in tr.decisions
    assert any("'code' is unique in every row" in w for w in tr.warnings)
    matrix = np.zeros((700, tr.output_dim), dtype=np.float32)
    # two chunks of one sampling run, as TabularGAN.sample_chunks makes them
    out = pd.concat(
        [tr.inverse_transform(matrix, row_offset=0), tr.inverse_transform(matrix, row_offset=700)]
    )
    for name in ("row", "code", "uuid", "name", "user_id"):
        fresh = out[name]
        assert fresh.is_unique, name
        assert not set(fresh) & set(frame[name]), name  # none of them a real id
    assert out["row"].dtype == np.int64 and out["row"].iloc[0] == 1300
    assert out["code"].str.fullmatch(r"C\d{5}").all()
    assert out["uuid"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert out["name"].str.fullmatch(r"[a-z]{6}").all()


def test_ids_survive_save_and_load_and_can_be_switched_off(tmp_path):
    frame = _ids_table(60)
    tr = TableTransformer(mixture_rows=200).fit(frame)
    torch.save(tr.to_dict(), tmp_path / "t.pt")
    again = TableTransformer.from_dict(torch.load(tmp_path / "t.pt", weights_only=True))
    matrix = np.zeros((50, tr.output_dim), dtype=np.float32)
    pd.testing.assert_frame_equal(again.inverse_transform(matrix), tr.inverse_transform(matrix))
    learned = TableTransformer(mixture_rows=200).fit(frame, id_columns=[])
    assert all(c.kind != "id" for c in learned.columns)
    forced = TableTransformer(mixture_rows=200).fit(frame, discrete_columns=["code"])
    assert forced.columns[2].kind == "discrete"
    assert any("learned as a category as asked" in w for w in forced.warnings)
    with pytest.raises(GanforgeError, match=r"id column\(s\) 'nope' not in the table"):
        TableTransformer().fit(frame, id_columns=["nope"])


def test_small_or_repeating_columns_are_not_ids(table):
    frame = _ids_table(12)  # under ID_MIN_ROWS rows: no column is taken for ids
    assert all(c.kind != "id" for c in TableTransformer(mixture_rows=200).fit(frame).columns)
    tr = TableTransformer(mixture_rows=500).fit(table)
    assert all(c.kind != "id" for c in tr.columns)  # dates are unique per row, but not ids


def test_out_of_range_values_are_reflected_not_piled_on_the_bounds():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"v": rng.uniform(0.0, 10.0, 2000)})
    tr = TableTransformer(mixture_rows=2000, max_modes=1).fit(frame)
    c = tr.columns[0]
    block = np.zeros((4000, tr.output_dim), dtype=np.float32)
    block[:, 0] = rng.uniform(-1, 1, 4000)  # alpha over +-4 std: far past both ends
    block[:, 1] = 1.0
    out = tr.inverse_transform(block)["v"].to_numpy()
    assert (out >= c.lo).all() and (out <= c.hi).all()
    on_bounds = np.mean((out == c.lo) | (out == c.hi))
    assert on_bounds < 0.01  # a clip puts about 40% exactly on them
    np.testing.assert_allclose(reflect(np.array([-1.0, 11.0, 12.5, 25.0]), 0.0, 10.0),
                               [1.0, 9.0, 7.5, 5.0])  # fmt: skip
