"""Presets' one-line descriptions say what a preset trains for (steps), never how long it takes."""

from __future__ import annotations

import re

import pytest

from ganforge.presets import PRESETS, get_preset

# A duration: "~25 s", "2 min", "minutes", "1 h" (times depend on the CPU and its load: README).
DURATION = re.compile(r"(\d\s*(s|sec|min|h)\b)|\bminutes?\b|\bseconds?\b|\bhours?\b")


@pytest.mark.parametrize("name", list(PRESETS))
def test_description_gives_the_steps_not_a_time(name):
    description = PRESETS[name][0]
    assert f"{get_preset(name).train.steps:,} steps" in description
    assert not DURATION.search(description), description
