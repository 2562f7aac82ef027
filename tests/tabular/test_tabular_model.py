"""TabularGAN: fit / sample / save / load, conditions, model files, resume, DP, and learning."""

import pandas as pd
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.tabular import TabularGAN
from ganforge.tabular.model import FORMAT_VERSION


def _fit(table, tiny_fit, **extra):
    return TabularGAN(**{**tiny_fit, **extra}).fit(table)


def test_fit_sample_keeps_columns_dtypes_and_ranges(table, tiny_fit):
    model = _fit(table, tiny_fit)
    out = model.sample(300, seed=0)
    assert list(out.columns) == list(table.columns) and len(out) == 300
    assert out.dtypes.to_dict() == table.dtypes.to_dict()
    assert out["age"].between(18, 89).all() and (out["const"] == 7).all()
    assert set(out["cat"]) <= {"x", "y", "z"} and set(out["grade"]) <= {1, 2, 3}
    pd.testing.assert_frame_equal(model.sample(50, seed=3), model.sample(50, seed=3))
    assert len(model.decisions) == 7 and model.timings["fit_s"] > 0


def test_save_load_round_trip_and_file_contents(table, tiny_fit, tmp_path):
    model = _fit(table, tiny_fit)
    path = model.save(tmp_path / "m.gft")
    state = torch.load(path, weights_only=True)  # plain types + tensors only
    assert state["format"] == "ganforge-tabular" and state["format_version"] == FORMAT_VERSION
    assert "seed" not in str(state.get("privacy")) and "rng" not in state
    again = TabularGAN.load(path)
    pd.testing.assert_frame_equal(again.sample(40, seed=5), model.sample(40, seed=5))


def test_conditional_sampling(table, tiny_fit):
    model = _fit(table, tiny_fit)
    rows = model.sample(60, conditions={"cat": "z", "flag": "true"}, seed=0)
    assert len(rows) == 60 and (rows["cat"] == "z").all() and rows["flag"].all()
    assert (model.sample(20, conditions={"grade": "2"}, seed=0)["grade"] == 2).all()
    with pytest.raises(GanforgeError, match=r"condition cat=w: no such value.*values are: x, y, z"):
        model.sample(5, conditions={"cat": "w"})
    with pytest.raises(GanforgeError, match="conditions work on discrete columns only"):
        model.sample(5, conditions={"num": "1.5"})  # (a float: never hit; an int like age is)
    with pytest.raises(GanforgeError, match="unknown column 'nope'"):
        model.sample(5, conditions={"nope": "1"})
    with pytest.raises(GanforgeError, match="positive integer"):
        model.sample(0)


def test_model_files_from_elsewhere_are_one_line_errors(table, tiny_fit, tmp_path):
    model = _fit(table, tiny_fit)
    path = model.save(tmp_path / "m.gft")
    state = torch.load(path, weights_only=True)
    state["format_version"] = FORMAT_VERSION + 1
    torch.save(state, tmp_path / "future.gft")
    expected = rf"format version {FORMAT_VERSION + 1} .*reads version {FORMAT_VERSION}.*refit"
    with pytest.raises(GanforgeError, match=expected):
        TabularGAN.load(tmp_path / "future.gft")
    torch.save({"format": "ganforge-checkpoint"}, tmp_path / "ckpt.pt")
    with pytest.raises(GanforgeError, match="not a ganforge tabular model"):
        TabularGAN.load(tmp_path / "ckpt.pt")
    (tmp_path / "junk.gft").write_bytes(b"not a torch file")
    with pytest.raises(GanforgeError, match="not a ganforge tabular model: a text file"):
        TabularGAN.load(tmp_path / "junk.gft")
    with pytest.raises(GanforgeError, match="no such file .expected a ganforge tabular model"):
        TabularGAN.load(tmp_path / "none.gft")
    with pytest.raises(GanforgeError, match="not fitted"):
        TabularGAN().sample(3)


def test_resume_continues_the_same_trajectory(table, tiny_fit, tmp_path):
    straight = _fit(table, tiny_fit, epochs=4)
    TabularGAN(**{**tiny_fit, "epochs": 2}).fit(table, run_dir=tmp_path / "run")
    resumed = TabularGAN(**{**tiny_fit, "epochs": 4}).fit(
        table, run_dir=tmp_path / "run", resume=True
    )
    for a, b in zip(
        straight.generator.state_dict().values(),
        resumed.generator.state_dict().values(),
        strict=True,
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (tmp_path / "run" / "metrics.jsonl").is_file()
    with pytest.raises(GanforgeError, match="already holds a fit"):
        TabularGAN(**tiny_fit).fit(table, run_dir=tmp_path / "run")


def test_differential_privacy_fit(table, tiny_fit, tmp_path):
    model = _fit(table, tiny_fit, epsilon=2.0, epochs=2)
    p = model.privacy
    assert p["epsilon"] <= 2.0 + 1e-9 and p["epsilon"] == pytest.approx(2.0, rel=0.02)
    assert p["steps"] == model.summary["steps"] and p["preprocessing_covered"] is False
    assert model.config.model.pack == 1 and p["noise_multiplier"] > 0
    again = TabularGAN.load(model.save(tmp_path / "dp.gft"))
    assert again.privacy["epsilon"] == p["epsilon"]
    saved = torch.load(tmp_path / "dp.gft", weights_only=True)
    assert all(c["counts"] == [] for c in saved["transformer"]["columns"])  # no exact counts
    assert len(again.sample(20, seed=0)) == 20
    public = {"cat": {"categories": ["x", "y", "z"]}, "age": {"min": 0, "max": 100},
              "num": {"min": -5, "max": 10}}  # fmt: skip
    covered = TabularGAN(**{**tiny_fit, "epsilon": 2.0}).fit(
        table[["cat", "age", "num"]], public_metadata=public
    )
    assert covered.privacy["preprocessing_covered"] is True


@pytest.mark.slow
def test_learns_conditional_structure_rare_levels_and_missing_rate(make_table):
    data = make_table(3000, seed=1)
    model = TabularGAN(
        epochs=100, batch_size=200, embedding_dim=32, generator_width=64, discriminator_width=64,
        lr_g=1e-3, lr_d=1e-3, mixture_rows=2000, verbose=False, seed=0,
    ).fit(data)  # fmt: skip
    out = model.sample(4000, seed=0)
    share = out["cat"].value_counts(normalize=True)
    assert share.get("z", 0) == pytest.approx(0.05, abs=0.03)  # the rare level is learned
    assert out["num"].isna().mean() == pytest.approx(0.10, abs=0.05)
    mean = out.groupby("cat")["num"].mean()
    assert mean["x"] < 1.0 and mean["y"] > 2.5  # num's mode follows cat (data: 0 and 5)
    given = model.sample(500, conditions={"cat": "x"}, seed=1)
    assert (given["cat"] == "x").all() and given["num"].mean() < 1.0
