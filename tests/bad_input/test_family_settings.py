"""Bad per-family settings (the `[family]` tables of a config and their flags): refused before
any training, one line naming the table, the setting or the flag, and the value."""

from __future__ import annotations

import pytest

from tests.bad_input.conftest import assert_user_error
from tests.cli_helpers import TINY_DIGITS

# TOML lines -> what the error line names.
TOML_CASES = {
    "unknown-key": (["[srgan]", "adv = 0.1"], r"unknown setting 'adv'", r"\[srgan\]", "bad.toml"),
    "not-a-table": (["cyclegan = 3"], r"\[cyclegan\] must be a table", "bad.toml"),
    "wrong-type": (["[cyclegan]", 'pool_size = "many"'], "pool_size", "whole number", "bad.toml"),
    "nan": (["[fanogan]", "kappa = nan"], "kappa", "finite", "bad.toml"),
    "old-key-wrong-type": (["[train]", "cycle_weight = true"], "cycle_weight", "float"),
    "unknown-family-table": (["[tabular]", "x = 1"], "unknown setting 'tabular'", "bad.toml"),
    "negative-table-value": (
        ["[conditional]", "mode_seeking = -1.0"],
        r"\[conditional\] mode_seeking",
        "--mode-seeking",
        ">= 0",
    ),
    "negative-old-key": (["[train]", "sr_adv_weight = -0.5"], r"\[srgan\] adv_weight", ">= 0"),
}


@pytest.mark.parametrize("case", list(TOML_CASES), ids=list(TOML_CASES))
def test_bad_family_tables_are_one_line(cli, tmp_path, case):
    lines, *names = TOML_CASES[case]
    toml = tmp_path / "bad.toml"
    toml.write_text("\n".join(lines) + "\n")
    ran = cli("train", "--config", toml, *TINY_DIGITS, "--out", tmp_path / "runs")
    assert_user_error(ran, *names)
    assert not list(tmp_path.rglob("*.pt")), "nothing may be trained or saved"


FLAG_CASES = {
    "cycle-weight-negative": (["--cycle-weight", "-1"], r"\[cyclegan\] cycle_weight", ">= 0"),
    "kappa-negative": (["--kappa=-2"], r"\[fanogan\] kappa", "--kappa", ">= 0"),
    "adv-weight-negative": (["--adv-weight", "-0.1"], "adv_weight", "--adv-weight", ">= 0"),
    "old-spelling-negative": (["--translation-adv-weight", "-1"], "adv_weight", ">= 0"),
    "pool-size-not-a-number": (["--pool-size", "many"], "--pool-size", "many"),
    "relativistic-not-a-switch": (["--relativistic", "maybe"], "--relativistic", "maybe"),
}


@pytest.mark.parametrize("case", list(FLAG_CASES), ids=list(FLAG_CASES))
def test_bad_family_flags_are_one_line(cli, tmp_path, case):
    flags, *names = FLAG_CASES[case]
    ran = cli("train", *TINY_DIGITS, *flags, "--out", tmp_path)
    assert_user_error(ran, *names)
    assert not list(tmp_path.rglob("*.pt")), "nothing may be trained or saved"


def test_a_deprecated_family_flag_says_so_once(cli, tmp_path):
    ran = cli("train", *TINY_DIGITS, "--translation-adv-weight", "0.5", "--out", tmp_path)
    notices = [line for line in ran.err.splitlines() if line.startswith("ganforge: warning")]
    assert ran.code == 0, ran.err
    assert len(notices) == 1 and "deprecated" in notices[0] and "--adv-weight" in notices[0]
