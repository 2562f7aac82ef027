"""The metric table: evaluate() gives the same values and protocol as the if-chains it replaced.

tests/fixtures/evaluate_before.json was written by the code before the table (commit e473ce8)
on the inputs below, one thread; keys and their order must match, values to 1e-6 (features are
float32: another CPU may round their last bits differently).
"""

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from ganforge.metrics.evaluate import METRICS, TABLE, evaluate

BEFORE = Path(__file__).parents[1] / "fixtures" / "evaluate_before.json"
CASES = {
    "all": dict(extractor="mnist"),
    "fid_pr": dict(extractor="mnist", metrics="fid,pr", pr_k=2),
    "randconv_dc_kid": dict(
        extractor="randconv", metrics=("dc", "kid"), dc_k=4, kid_subsets=7, kid_subset_size=20
    ),
    "randconv_default": dict(extractor="randconv"),
}


def blobs(n, seed, shift=0.0, size=16):
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 1, 4, 4, generator=g)
    x = nn.functional.interpolate(low, size=(size, size), mode="bilinear") * 1.6 - 0.8 + shift
    return x.clamp(-1, 1)


def assert_same(after, before, where):
    if isinstance(before, dict):
        assert list(after) == list(before), where  # the same keys in the same order
        for key in before:
            assert_same(after[key], before[key], f"{where}.{key}")
    elif isinstance(before, list):
        assert len(after) == len(before), where
        for i, (a, b) in enumerate(zip(after, before, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(before, float):
        # float32 features differ in the last bits between CPUs (the fixture was written on an
        # AMD EPYC; an Intel Xeon moves is_std by 1.6e-6 relative): same code, not same bits
        assert after == pytest.approx(before, rel=1e-5, abs=1e-8), where
    else:
        assert after == before, where


@pytest.mark.parametrize("case", CASES)
def test_result_and_protocol_equal_the_code_before_the_table(case, tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    result = evaluate(blobs(40, 11, 0.2), blobs(50, 12), n=40, use_cache=False, **CASES[case])
    result = json.loads(json.dumps(result))  # as saved: tuples become lists
    for key in ("timings", "seconds"):
        result.pop(key)
    for key in ("reference_cache_hit", "ganforge"):
        result["protocol"].pop(key)
    assert_same(result, json.loads(BEFORE.read_text())[case], case)


def test_each_metric_alone_brings_its_values_and_only_its_protocol(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    real, fake = blobs(30, 1), blobs(30, 2)
    keys = {m: set(TABLE[m].protocol(_StubPass())) | set(TABLE[m].notes) for m in METRICS}
    values = {"fid": {"fid"}, "kid": {"kid_mean", "kid_std"}, "is": {"is_mean", "is_std"}}
    values |= {"pr": {"precision", "recall"}, "dc": {"density", "coverage"}}
    values["stacked-modes"] = {
        "modes",
        "mode_kl",
        "modes_under_half",
        "digit_kl",
        "dependence_kl",
    }  # tests/metrics/test_modes.py
    for name in (m for m in METRICS if TABLE[m].features):  # grey blobs: no stacked modes
        result = evaluate(fake, real, n=30, metrics=name, extractor="mnist", use_cache=False)
        protocol = set(result["protocol"])
        assert keys[name] <= protocol, name
        assert values[name] <= set(result), name
        for other in METRICS:
            if other != name:
                assert not (keys[other] - keys[name]) & protocol, (name, other)
                assert not values[other] & set(result), (name, other)


class _StubPass:
    """Just enough of a Pass for a metric to name its protocol keys."""

    n_fake = n_ref = 10
    kid_subsets, kid_subset_size, pr_k, dc_k = 1, None, 3, 5
    stacked_n = 10

    class net:
        logits_note = ""
