"""Table metadata: detected per column, written and read as JSON by the CLI and the API, used by
fit (types, rounding, bounds, dropped text, fresh ids); --where with ranges on several columns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.tabular import TabularGAN
from ganforge.tabular import metadata as md

TINY = ["--epochs", "2", "--batch-size", "40", "--pack", "4", "--embedding-dim", "8",
        "--width", "16"]  # fmt: skip


def people(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    words = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing"]
    return pd.DataFrame(
        {
            "customer": [f"C{i:05d}" for i in range(n)],
            "age": rng.integers(18, 90, n),
            "income": rng.lognormal(10, 0.5, n).round(2),
            "sex": rng.choice(["Female", "Male"], n),
            "member": rng.random(n) < 0.4,
            "joined": (
                pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D")
            ).strftime("%d/%m/%Y"),
            "note": [" ".join(rng.choice(words, 8)) + f" #{i}" for i in range(n)],
            "grade": rng.choice([1, 2, 3], n),
        }
    )


def test_detect_decides_each_kind():
    meta = md.detect(people())
    c = meta["columns"]
    assert c["customer"] == {"type": "id", "role": "primary_key"}
    assert c["age"]["type"] == "numerical" and c["age"]["subtype"] == "integer"
    assert c["income"] == {**c["income"], "type": "numerical", "subtype": "float", "rounding": 2}
    assert c["sex"]["type"] == "categorical" and c["grade"]["type"] == "categorical"
    assert c["member"]["type"] == "boolean"
    assert c["joined"]["type"] == "datetime" and c["joined"]["format"] == "%d/%m/%Y"
    assert c["note"] == {"type": "text", "handling": "drop"}
    assert c["age"]["min"] == int(people()["age"].min())
    lines = md.describe(meta)
    assert any(ln.startswith("customer: id (primary key") for ln in lines)


def test_cli_writes_metadata_and_fit_uses_it(tmp_path, capsys):
    data = tmp_path / "people.csv"
    people().to_csv(data, index=False)
    meta_path = tmp_path / "meta.json"
    assert main(["tabular", "metadata", str(data), "-o", str(meta_path)]) == 0
    out = capsys.readouterr().out
    assert "joined: datetime (format %d/%m/%Y" in out and "note: text (dropped" in out
    meta = json.loads(meta_path.read_text())
    meta["columns"]["income"]["rounding"] = 0  # an edit the fit must follow
    meta["columns"]["age"].update(min=20, max=70)
    meta["constraints"] = [{"type": "inequality", "low": "grade", "high": "age"}]
    meta_path.write_text(json.dumps(meta))
    model = tmp_path / "m.gft"
    code = main(["tabular", "fit", str(data), "--metadata", str(meta_path), "-o", str(model),
                 *TINY, "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "columns (from the metadata discrete" in capsys.readouterr().out
    synth = tmp_path / "s.csv"
    assert main(["tabular", "sample", str(model), "-n", "150", "-o", str(synth)]) == 0
    assert "constraints: every row holds all 1;" in capsys.readouterr().out
    rows = pd.read_csv(synth)
    real = people()
    assert list(rows.columns) == [c for c in real.columns if c != "note"]  # text dropped
    assert rows["customer"].is_unique and not set(rows["customer"]) & set(real["customer"])
    assert rows["customer"].str.fullmatch(r"C\d{5}").all()  # fresh ids, same format
    assert (rows["income"] == rows["income"].round(0)).all()
    assert rows["age"].between(20, 70).all()
    pd.to_datetime(rows["joined"], format="%d/%m/%Y")  # (raises if a date lost its format)


@pytest.fixture(scope="module")
def people_model():
    frame = people()
    return TabularGAN(epochs=2, batch_size=40, embedding_dim=8, generator_width=16,
                      discriminator_width=16, pack=4, mixture_rows=200, verbose=False,
                      seed=0).fit(frame, metadata=md.detect(frame))  # fmt: skip


def test_where_ranges_on_several_columns(people_model):
    rows = people_model.sample(120, conditions="age>=30,age<40,sex=Female", seed=0)
    assert (
        len(rows) == 120 and rows["age"].between(30, 39).all() and (rows["sex"] == "Female").all()
    )
    stats = people_model.last_sample
    assert 0 < stats["kept"] / stats["drawn"] <= 1
    few = people_model.sample(40, conditions=["grade>=2", "member=true"], seed=1)
    assert (few["grade"] >= 2).all() and few["member"].all()


@pytest.mark.parametrize(
    ("where", "pattern"),
    [
        ("age>=200", r"no real row is near it \(age ranges"),
        ("age>50,age<40", r"no real row is near it"),
        ("grade>5", r"no value of 'grade' holds it"),
        ("sex>3", r"a comparison needs a number or a date"),
    ],
)
def test_impossible_conditions_are_one_line(people_model, where, pattern):
    with pytest.raises(GanforgeError, match=pattern):
        people_model.sample(5, conditions=where)


def test_cli_prints_the_acceptance_rate(people_model, tmp_path, capsys):
    people_model.save(tmp_path / "p.gft")
    code = main(["tabular", "sample", str(tmp_path / "p.gft"), "-n", "30", "-o",
                 str(tmp_path / "s.csv"), "--where", "age>=30,age<60"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "conditions: acceptance" in out and "where age>=30,age<60" in out


def test_metadata_round_trip(tmp_path):
    meta = md.detect(people())
    path = md.save(meta, tmp_path / "m.json")
    assert md.load(path) == meta
