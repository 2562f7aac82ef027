"""Bad metadata and related tables: one line each, before any training (issue 25)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.bad_input.conftest import assert_user_error

TABLE = pd.DataFrame(
    {
        "id": range(30),
        "a": [i % 7 for i in range(30)],
        "b": ["x", "y", "z"] * 10,
        "lo": range(30),
        "hi": range(1, 31),
    }  # fmt: skip
)
COLUMNS = {
    "id": {"type": "id", "role": "primary_key"},
    "a": {"type": "numerical", "subtype": "integer"},
    "b": {"type": "categorical"},
    "lo": {"type": "numerical"},
    "hi": {"type": "numerical"},
}

CASES = [
    (
        "missing-column",
        {"columns": {**COLUMNS, "nope": {"type": "categorical"}}},
        [r"metadata names column\(s\) not in the table: nope", r"data\.csv"],
    ),
    (
        "no-row-satisfies",
        {"columns": COLUMNS, "constraints": [{"type": "inequality", "low": "hi", "high": "lo"}]},
        [r"constraint 'lo >= hi' holds on no row of the table"],
    ),
    (
        "inequality-bad-handling",
        {
            "columns": COLUMNS,
            "constraints": [{"type": "inequality", "low": "lo", "high": "hi", "handling": "x"}],
        },
        [r"inequality handling 'x' is not auto, transform or reject", r"meta\.json"],
    ),
    (
        "range-min-above-max",
        {"columns": COLUMNS, "constraints": [{"type": "range", "column": "a", "min": 5, "max": 1}]},
        [r"min 5 > max 1: no row can satisfy it", r"meta\.json"],
    ),
    (
        "constraint-unknown-column",
        {"columns": COLUMNS, "constraints": [{"type": "positive", "column": "zzz"}]},
        [r"names column\(s\) not in the metadata: zzz"],
    ),
    (
        "constraint-unknown-type",
        {"columns": COLUMNS, "constraints": [{"type": "sorted"}]},
        [r"unknown type 'sorted'", r"types: inequality"],
    ),
    (
        "formula-call",
        {
            "columns": COLUMNS,
            "constraints": [
                {"type": "formula", "column": "hi", "expression": "__import__('os').getcwd()"}
            ],
        },
        [r"is not allowed", r"only \+ - \*"],
    ),
    (
        "non-unique-key",
        {"columns": {**COLUMNS, "a": {"type": "id", "role": "primary_key"}}},
        [r"primary key 'a' is not unique \(0 repeats\)"],
    ),
    (
        "bad-type",
        {"columns": {**COLUMNS, "b": {"type": "colour"}}},
        [r"column 'b': type must be one of numerical"],
    ),
    ("no-columns", {"colums": {}}, [r"metadata needs 'columns'"]),
]


@pytest.mark.parametrize(("meta", "names"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_metadata_is_one_line_before_training(cli, tmp_path, meta, names):
    data, path = tmp_path / "data.csv", tmp_path / "meta.json"
    TABLE.to_csv(data, index=False)
    path.write_text(json.dumps(meta))
    ran = cli("tabular", "fit", data, "--metadata", path, "-o", tmp_path / "m.gft")
    assert_user_error(ran, *names)
    assert "fitting columns" not in ran.out and not (tmp_path / "m.gft").exists()


def test_malformed_json(cli, tmp_path):
    data, path = tmp_path / "data.csv", tmp_path / "meta.json"
    TABLE.to_csv(data, index=False)
    path.write_text('{"columns": {"a": ')
    ran = cli("tabular", "fit", data, "--metadata", path, "-o", tmp_path / "m.gft")
    assert_user_error(ran, r"metadata is not valid JSON", r"meta\.json")


def _multi(tmp_path, parents, children, meta):
    (tmp_path / "firms.csv").write_text(parents)
    (tmp_path / "years.csv").write_text(children)
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    return [tmp_path / "firms.csv", tmp_path / "years.csv"]


MULTI = {
    "tables": {
        "firms": {"columns": {"firm": {"type": "id", "role": "primary_key"},
                              "size": {"type": "numerical"}}},
        "years": {"columns": {"firm": {"type": "id", "role": "foreign_key",
                                       "references": "firms.firm"},
                              "x": {"type": "numerical"}}},
    }
}  # fmt: skip

MULTI_CASES = [
    (
        "orphan-foreign-key",
        "firm,size\nA,1\nB,2\n",
        "firm,x\nA,1\nC,2\nC,3\n",
        MULTI,
        [
            r"2 row\(s\) of 'years' have a foreign key 'firm' with no parent in 'firms' \(e\.g\. 'C'\)"
        ],
    ),
    (
        "parent-key-repeats",
        "firm,size\nA,1\nA,2\n",
        "firm,x\nA,1\n",
        MULTI,
        [r"primary key 'firm' is not unique \('A' repeats\)", r"table 'firms'"],
    ),
    (
        "references-missing-table",
        "firm,size\nA,1\n",
        "firm,x\nA,1\n",
        {
            "tables": {
                **MULTI["tables"],
                "years": {
                    "columns": {
                        "firm": {"type": "id", "role": "foreign_key", "references": "shops.firm"}
                    }
                },
            }
        },
        [r"references table 'shops', which the metadata lacks"],
    ),
]


@pytest.mark.parametrize(
    ("parents", "children", "meta", "names"), [c[1:] for c in MULTI_CASES],
    ids=[c[0] for c in MULTI_CASES],
)  # fmt: skip
def test_bad_related_tables_are_one_line(cli, tmp_path, parents, children, meta, names):
    paths = _multi(tmp_path, parents, children, meta)
    ran = cli("tabular", "fit-multi", "--metadata", tmp_path / "meta.json", *paths,
              "-o", tmp_path / "models")  # fmt: skip
    assert_user_error(ran, *names)
    assert not (tmp_path / "models").exists()
