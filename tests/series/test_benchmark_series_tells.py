"""benchmarks/series_tells.py: its lag-1 autocorrelation agrees with numpy's corrcoef, and it
names the statistics that separate a random walk from walks with white jitter added (larger
increments, lag-1 of the increments ~-0.4 instead of ~0), not one that does not differ (the level)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.script_helpers import load_script


@pytest.fixture(scope="module")
def tells_module():
    return load_script("benchmarks/series_tells.py", "series_tells")


def test_lag1_matches_numpy(tells_module):
    x = np.random.default_rng(0).normal(size=(50, 23)).cumsum(1)
    expected = [np.corrcoef(row[:-1], row[1:])[0, 1] for row in x]
    np.testing.assert_allclose(tells_module.lag1(x), expected, atol=1e-12)
    assert tells_module.lag1(np.ones((2, 5))).tolist() == [0.0, 0.0]


def test_jitter_is_named_first(tells_module):
    rng = np.random.default_rng(1)
    walk = 0.5 + 0.003 * rng.normal(size=(2000, 24, 2)).cumsum(1)
    jittered = walk[rng.permutation(2000)] + 0.004 * rng.normal(size=walk.shape)
    rows = tells_module.tells(walk, jittered, ["price", "other"])
    assert all("increment" in r["stat"] and r["ks"] > 0.5 for r in rows[:6]), rows[:6]
    assert rows[0]["synth_median"] > 2 * rows[0]["real_median"]  # jitter doubles the steps
    lag = next(r for r in rows if r["stat"] == "price increment lag-1")
    assert lag["synth_median"] < -0.3 < lag["real_median"]
    level = next(r for r in rows if r["stat"] == "price level")
    assert level["ks"] < 0.1
    with pytest.raises(ValueError, match="must match"):
        tells_module.tells(walk, jittered[:, :10])
