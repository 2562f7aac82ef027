"""Building test configs from override dicts (shared by conftest's tiny configs and others)."""

from __future__ import annotations

from ganforge.config import Config, merge


def config_from(base: dict, tmp_path=None, sections: dict | None = None) -> Config:
    """`base` overrides updated section by section with `sections`, as a Config writing its run
    to tmp_path/run (in memory when tmp_path is None)."""
    for section, values in (sections or {}).items():
        base.setdefault(section, {}).update(values)
    config = merge(Config(), base)
    if tmp_path is not None:
        config.out, config.name = str(tmp_path), "run"
    return config
