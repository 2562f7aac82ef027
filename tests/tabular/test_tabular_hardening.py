"""Issue 17 for tables: no hidden row cap, fresh ids, the report's target said, progress lines,
separators detected, inf refused."""

import io
import json

import numpy as np
import pandas as pd
import pytest

from ganforge.apps.tabular import _Progress
from ganforge.errors import GanforgeError
from ganforge.tabular import model as model_module
from ganforge.tabular import transformer as transformer_module
from ganforge.tabular.io import read_csv, write_csv, write_csv_chunks
from ganforge.tabular.model import TabularGAN
from tests.cli_helpers import run_cli

TINY = ["--epochs", "1", "--batch-size", "40", "--pack", "4", "--embedding-dim", "8",
        "--width", "16", "--seed", "0", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def fitted():
    from tests.tabular.conftest import mixed_table

    settings = {"epochs": 1, "batch_size": 40, "embedding_dim": 8, "generator_width": 16,
                "discriminator_width": 16, "pack": 4, "mixture_rows": 200, "verbose": False,
                "seed": 0}  # fmt: skip
    return TabularGAN(**settings).fit(mixed_table(), ["cat", "grade"])


# ---- sampling ----------------------------------------------------------------------------------


def test_sampling_has_no_hidden_row_cap(fitted, monkeypatch):
    # the old loop stopped after 50 chunks ("only 1000000 rows satisfied the conditions" for
    # -n 2000000 without any condition); with 10-row chunks that cap is 500 rows
    monkeypatch.setattr(model_module, "CHUNK_ROWS", 10)
    chunks = list(fitted.sample_chunks(1000, seed=3))
    assert sum(len(c) for c in chunks) == 1000 and max(len(c) for c in chunks) == 10


def test_a_condition_that_never_holds_gives_up_saying_how_rare(fitted, monkeypatch):
    monkeypatch.setattr(model_module, "CHUNK_ROWS", 10)
    decode = fitted.transformer.inverse_transform
    monkeypatch.setattr(
        fitted.transformer, "inverse_transform", lambda *a, **k: decode(*a, **k).assign(cat="x")
    )
    with pytest.raises(GanforgeError, match=r"only 0 of 5 rows .*\(cat=y\): 0% of the 500 rows"):
        fitted.sample(5, {"cat": "y"}, seed=0)


def test_streamed_sample_is_the_sample(fitted, tmp_path, monkeypatch):
    monkeypatch.setattr(model_module, "CHUNK_ROWS", 64)
    whole = fitted.sample(300, {"cat": "y"}, seed=5)
    path, rows = write_csv_chunks(
        fitted.sample_chunks(300, {"cat": "y"}, seed=5), tmp_path / "s.csv"
    )
    assert rows == 300 and (whole["cat"] == "y").all()
    write_csv(whole, tmp_path / "whole.csv")
    assert path.read_text() == (tmp_path / "whole.csv").read_text()


def test_a_failed_stream_leaves_no_file(tmp_path):
    def frames():
        yield pd.DataFrame({"a": [1]})
        raise GanforgeError("boom")

    with pytest.raises(GanforgeError, match="boom"):
        write_csv_chunks(frames(), tmp_path / "s.csv")
    assert list(tmp_path.iterdir()) == []


# ---- ids ---------------------------------------------------------------------------------------


def test_fit_and_sample_give_fresh_ids_and_say_so(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 80
    real = pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1),
            "code": [f"AC-{i:04d}" for i in rng.permutation(n)],
            "kind": rng.choice(["a", "b"], n),
            "value": rng.normal(size=n).round(3),
        }
    )
    real.to_csv(tmp_path / "real.csv", index=False)
    code, out, _ = run_cli(capsys, "tabular", "fit", tmp_path / "real.csv", "-o",
                           tmp_path / "m.gft", *TINY)  # fmt: skip
    assert code == 0
    assert "customer_id: id, not learned (fresh ids: 81, 82, ...)" in out
    assert "warning: column 'code' is unique in every row (an id)" in out
    run_cli(capsys, "tabular", "sample", tmp_path / "m.gft", "-n", 200, "-o", tmp_path / "s.csv")
    synthetic = pd.read_csv(tmp_path / "s.csv")
    for name in ("customer_id", "code"):
        assert synthetic[name].is_unique and not set(synthetic[name]) & set(real[name])
    assert synthetic["code"].str.fullmatch(r"AC-\d{4}").all()
    code, out, _ = run_cli(capsys, "tabular", "fit", tmp_path / "real.csv", "-o",
                           tmp_path / "n.gft", *TINY, "--id-columns", "none")  # fmt: skip
    assert code == 0 and "id, not learned" not in out


# ---- report ------------------------------------------------------------------------------------


def test_report_says_which_target_and_leaves_ids_out(tmp_path, capsys):
    rng = np.random.default_rng(1)
    n = 60
    frame = pd.DataFrame(
        {"row": np.arange(n), "x": rng.normal(size=n), "y": rng.choice(["p", "q"], n)}
    )
    frame.to_csv(tmp_path / "real.csv", index=False)
    frame.assign(row=np.arange(n) + 1000).to_csv(tmp_path / "synth.csv", index=False)
    code, out, _ = run_cli(capsys, "tabular", "report", tmp_path / "real.csv",
                           tmp_path / "synth.csv", "--holdout", tmp_path / "real.csv", "-o",
                           tmp_path / "r.html", "--privacy-rows", 50)  # fmt: skip
    assert code == 0
    assert "on 'y' (the last column; --target COL to choose)" in out
    assert "'row' left out of every measure" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["id_columns"] == ["row"] and "row" not in report["column_kinds"]
    assert report["privacy"]["exact_copies_synthetic"] == 1.0  # the ids no longer hide copies
    code, out, _ = run_cli(capsys, "tabular", "report", tmp_path / "real.csv",
                           tmp_path / "synth.csv", "--holdout", tmp_path / "real.csv", "-o",
                           tmp_path / "r.html", "--privacy-rows", 50, "--target", "y")  # fmt: skip
    assert "on 'y':" in out  # given: nothing to say


# ---- progress ----------------------------------------------------------------------------------


def test_progress_lines_come_while_columns_are_fitted(table):
    out = io.StringIO()
    progress = _Progress(out, every=0.0)
    calls = []
    model = TabularGAN(epochs=1, batch_size=40, embedding_dim=8, generator_width=16,
                       discriminator_width=16, mixture_rows=200, verbose=False)  # fmt: skip
    model.on_progress = lambda *a: (calls.append(a), progress(*a))
    model.fit(table)
    assert [c for c in calls if c[0] == "columns"] == [("columns", i + 1, 7) for i in range(7)]
    assert "fitting columns: 2/7" in out.getvalue() and "s left)" in out.getvalue()


def test_wide_tables_take_the_fast_mixture(table, monkeypatch):
    seen = []
    fit = transformer_module.fit_mixture
    monkeypatch.setattr(
        transformer_module, "fit_mixture", lambda *a, **k: (seen.append(k), fit(*a, **k))[1]
    )
    transformer_module.TableTransformer(mixture_rows=200).fit(table)
    assert seen and not any(k["fast"] for k in seen)
    seen.clear()
    monkeypatch.setattr(transformer_module, "WIDE_COLUMNS", 2)
    transformer_module.TableTransformer(mixture_rows=200).fit(table)
    assert seen and all(k["fast"] for k in seen)


# ---- reading -----------------------------------------------------------------------------------


def _read(tmp_path, text: str) -> pd.DataFrame:
    path = tmp_path / "t.csv"
    path.write_text(text)
    return read_csv(path)


@pytest.mark.parametrize(
    ("text", "columns", "said"),
    [
        ("a;b;c\n1;x;2.5\n2;y;3.5\n", ["a", "b", "c"], "semicolon-separated"),
        ("a\tb\n1\tx\n2\ty\n", ["a", "b"], "tab-separated"),
        ("a|b\n1|x\n2|y\n", ["a", "b"], "pipe-separated"),
        ('a,b\n1,"x;y;z"\n2,"u;v"\n', ["a", "b"], ""),  # semicolons inside quotes: still commas
        ("name\nann;bob\ncy\n", ["name"], ""),  # one column, a stray semicolon: kept as is
    ],
)
def test_the_separator_is_detected(tmp_path, text, columns, said):
    frame = _read(tmp_path, text)
    assert list(frame.columns) == columns and frame.attrs["csv_format"] == said


def test_decimal_commas_with_semicolons(tmp_path):
    frame = _read(tmp_path, "a;b\n1,5;x\n-2,25;y\n")
    assert frame["a"].tolist() == [1.5, -2.25]
    assert frame.attrs["csv_format"] == "semicolon-separated, decimal commas"
    # decimal points in a ;-file stay points (and "1,5" there would be text)
    assert _read(tmp_path, "a;b\n1.5;x\n2;y\n")["a"].tolist() == [1.5, 2.0]


@pytest.mark.parametrize("cell", ["inf", "-inf", "Infinity", "1e999"])
def test_infinite_values_are_refused_with_their_line(tmp_path, cell):
    with pytest.raises(GanforgeError, match=r"column 'v' holds an infinite value .* on line 4"):
        _read(tmp_path, f"v,w\n1,a\n2,b\n{cell},c\n")
    assert _read(tmp_path, "v,w\n1,inf\n2,x\n")["w"].tolist() == ["inf", "x"]  # text stays text
