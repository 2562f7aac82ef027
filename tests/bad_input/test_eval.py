"""`ganforge eval`: every bad input is one line naming the file or flag, refused before any
feature pass (a patched feature function proves it), and results computed are never lost."""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest
from PIL import Image

import ganforge.metrics
from tests.bad_input.conftest import assert_user_error

EVALUATE = importlib.import_module("ganforge.metrics.evaluate")


@pytest.fixture
def no_features(monkeypatch):
    """Any feature pass fails the test: the refusal must come before it."""

    def refuse(*args, **kwargs):
        raise AssertionError("a feature pass ran before the input was refused")

    monkeypatch.setattr(EVALUATE, "extract", refuse)


def digits(n: int = 20, side: int = 28, seed: int = 0) -> np.ndarray:
    """(n, side, side) uint8: grey images as a user's .npy would hold them."""
    return np.random.default_rng(seed).integers(0, 256, (n, side, side), dtype=np.uint8)


@pytest.fixture
def sets(tmp_path):
    """Two good grey 28x28 sets, real.npy and fake.npy."""
    np.save(tmp_path / "real.npy", digits(20, seed=0))
    np.save(tmp_path / "fake.npy", digits(20, seed=1))
    return tmp_path / "real.npy", tmp_path / "fake.npy"


# ---- arrays and folders given as --real / --fake --------------------------------------------

BAD_ARRAYS = {
    "int64": (digits().astype(np.int64), "int64"),
    "bool": (digits() > 128, "bool"),
    "complex": (digits().astype(np.complex64), "complex"),
    "strings": (np.array(["a", "b"]), "<U1|str"),
    "flat-2d": (digits().reshape(20, -1).astype(np.float32) / 255, r"\(20, 784\)"),
    "one-d": (np.zeros(20, np.float32), r"\(20,\)"),
    "five-d": (np.zeros((2, 1, 1, 8, 8), np.float32), r"\(N, C, H, W\)"),
    "channels-last": (np.zeros((4, 28, 28, 3), np.uint8), "channels last"),
    "four-channels": (np.zeros((4, 4, 28, 28), np.uint8), "4 channels"),
    "nan": (np.full((20, 28, 28), np.nan, np.float32), "NaN"),
    "inf": (np.where(digits() > 250, np.inf, 0).astype(np.float32), "inf"),
    "0-255-floats": (digits().astype(np.float32), r"\[0, 255\]"),
    "empty": (np.zeros((0, 1, 28, 28), np.uint8), "no images"),
}


@pytest.mark.parametrize("side", ["--fake", "--real"])
@pytest.mark.parametrize("name", list(BAD_ARRAYS))
def test_bad_array_is_one_line_naming_the_file(cli, sets, no_features, name, side):
    array, what = BAD_ARRAYS[name]
    bad = sets[0].parent / f"{name}.npy"
    np.save(bad, array)
    real, fake = (sets[0], bad) if side == "--fake" else (bad, sets[1])
    ran = cli("eval", "--real", real, "--fake", fake, "--metrics", "fid")
    assert_user_error(ran, what, f"{name}.npy")


def test_pickled_object_array_is_refused_unread(cli, sets, no_features):
    bad = sets[0].parent / "objects.npy"
    np.save(bad, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    assert_user_error(cli("eval", "--real", sets[0], "--fake", bad), "objects.npy", "pickle")


def test_a_text_file_named_npy(cli, sets, no_features):
    bad = sets[0].parent / "notes.npy"
    bad.write_text("not an array\n")
    assert_user_error(cli("eval", "--real", bad, "--fake", sets[1]), "notes.npy", "not a .npy file")


def test_a_truncated_npy(cli, sets, no_features):
    data = sets[1].read_bytes()
    cut = sets[0].parent / "cut.npy"
    cut.write_bytes(data[: len(data) // 2])
    assert_user_error(cli("eval", "--real", sets[0], "--fake", cut), "cut.npy", "cannot read")


@pytest.mark.parametrize("side", ["--real", "--fake"])
def test_empty_folder(cli, sets, tmp_path, no_features, side):
    empty = tmp_path / "empty"
    empty.mkdir()
    real, fake = (empty, sets[1]) if side == "--real" else (sets[0], empty)
    assert_user_error(cli("eval", "--real", real, "--fake", fake), "no images", "empty")


@pytest.mark.parametrize(
    ("spec", "what"),
    [("missing.npy", "no such file"), ("sub/dir/", "no such file"), ("cifar10:test", "unknown")],
)
def test_missing_or_unknown_reference(cli, sets, tmp_path, no_features, spec, what):
    target = spec if ":" in spec else tmp_path / spec
    assert_user_error(cli("eval", "--real", target, "--fake", sets[1]), what, spec.strip("/"))


def test_unsupported_file_type(cli, sets, no_features):
    npz = sets[0].parent / "set.npz"
    np.savez(npz, images=digits())
    assert_user_error(cli("eval", "--real", npz, "--fake", sets[1]), r"\.npz", "set.npz")


def test_different_sizes(cli, sets, tmp_path, no_features):
    np.save(tmp_path / "big.npy", digits(20, side=32))
    ran = cli("eval", "--real", sets[0], "--fake", tmp_path / "big.npy")
    assert_user_error(ran, "differ in size", "28x28", "32x32", "big.npy")


def test_grey_against_colour(cli, sets, tmp_path, no_features):
    colour = np.random.default_rng(3).integers(0, 256, (20, 3, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "colour.npy", colour)
    ran = cli("eval", "--real", sets[0], "--fake", tmp_path / "colour.npy")
    assert_user_error(ran, "grey and the other colour", "colour.npy")


def test_grey_stored_as_rgb_is_not_a_mismatch(cli, sets, tmp_path):
    grey_rgb = np.repeat(digits(20, seed=1)[:, None], 3, axis=1)
    np.save(tmp_path / "grey_rgb.npy", grey_rgb)
    ran = cli("eval", "--real", sets[0], "--fake", tmp_path / "grey_rgb.npy", "--metrics", "fid")
    assert ran.code == 0, ran.err
    assert "extractor=mnist" in ran.out  # grey 28x28 after all


def test_folder_of_other_size_images(cli, sets, tmp_path, no_features):
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(digits(1, side=64, seed=i)[0]).save(folder / f"{i}.png")
    assert_user_error(cli("eval", "--real", folder, "--fake", sets[1]), "64x64", "28x28")


# ---- flags ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", ["0", "-5"])
def test_n_below_one(cli, sets, no_features, n):
    assert_user_error(cli("eval", "--real", sets[0], "--fake", sets[1], f"--num={n}"), "-n", n)


def test_n_above_the_fake_count(cli, sets, no_features):
    ran = cli("eval", "--real", sets[0], "--fake", sets[1], "-n", 30, "--metrics", "fid")
    assert_user_error(ran, "30 images requested, 20 given")


@pytest.mark.parametrize("metrics", ["fid,lpips", "FID,bogus", ",", "ssim"])
def test_unknown_metric_lists_the_known_ones(cli, sets, no_features, metrics):
    ran = cli("eval", "--real", sets[0], "--fake", sets[1], "--metrics", metrics)
    line = assert_user_error(ran, "fid, kid, is, pr, dc")
    for name in metrics.lower().split(","):
        if name and name != "fid":
            assert name in line


def test_unknown_metric_is_refused_before_loading_the_run(cli, tmp_path, monkeypatch):
    def no_loading(*args, **kwargs):
        raise AssertionError("the run was loaded before --metrics was checked")

    monkeypatch.setattr(importlib.import_module("ganforge.sampling"), "load_generator", no_loading)
    assert_user_error(cli("eval", tmp_path, "--metrics", "lpips"), "lpips")


@pytest.mark.parametrize("metrics", ["is", "fid,is"])
def test_inception_score_without_logits_fails_before_any_feature_pass(
    cli, sets, no_features, metrics
):
    ran = cli("eval", "--real", sets[0], "--fake", sets[1], "--extractor", "randconv",
              "--metrics", metrics)  # fmt: skip
    assert_user_error(ran, "randconv", "no class logits", "Inception Score")


def test_default_metrics_without_logits_skip_is_and_say_so(cli, sets):
    ran = cli("eval", "--real", sets[0], "--fake", sets[1], "--extractor", "randconv")
    assert ran.code == 0, ran.err
    assert "skipped    is: the randconv32-s0 extractor has no class logits" in ran.out
    assert "fid " in ran.out and "is_mean" not in ran.out


def test_too_few_images_for_a_metric_fails_before_any_feature_pass(cli, tmp_path, no_features):
    np.save(tmp_path / "few.npy", digits(5))
    ran = cli("eval", "--real", tmp_path / "few.npy", "--fake", tmp_path / "few.npy")
    assert_user_error(ran, "Inception Score", "at least 10", "got 5")
    ran = cli(
        "eval", "--real", tmp_path / "few.npy", "--fake", tmp_path / "few.npy", "--metrics", "dc"
    )
    assert_user_error(ran, "k=5", "at least 6")


@pytest.mark.parametrize("spec", ["bogus", "randconv:4", "randconv:x", "randconv:32:1:2"])
def test_bad_extractor(cli, sets, no_features, spec):
    ran = cli("eval", "--real", sets[0], "--fake", sets[1], "--extractor", spec)
    assert_user_error(ran, spec)


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (["--fake", "F.npy"], "--fake needs --real"),
        (["--real", "R.npy"], "--real needs --fake"),
        ([], "needs a RUN_OR_FILE"),
        (["RUN", "--fake", "F.npy"], "--fake compares two image sets"),
    ],
    ids=["fake-only", "real-only", "nothing", "run-and-fake"],
)
def test_incomplete_or_mixed_arguments(cli, no_features, argv, what):
    assert_user_error(cli("eval", *argv), what)


# ---- where the result goes ------------------------------------------------------------------


def test_json_under_a_file_is_refused_before_any_work(cli, sets, tmp_path, no_features):
    (tmp_path / "plain").write_text("a file, not a folder")
    target = tmp_path / "plain" / "result.json"
    ran = cli("eval", "--real", sets[0], "--fake", sets[1], "--json", target)
    assert_user_error(ran, "JSON result", "plain")


def test_json_that_is_a_folder(cli, sets, tmp_path, no_features):
    ran = cli("eval", "--real", sets[0], "--fake", sets[1], "--json", tmp_path)
    assert_user_error(ran, "folder", str(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_json_in_a_read_only_folder(cli, sets, tmp_path, no_features):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        ran = cli("eval", "--real", sets[0], "--fake", sets[1], "--json", locked / "r.json")
        assert_user_error(ran, "JSON result", "locked")
    finally:
        locked.chmod(0o755)


def test_run_folder_whose_eval_folder_cannot_be_made(cli, trained_run, no_features):
    (trained_run / "eval").write_text("a file where the eval folder goes")
    assert_user_error(cli("eval", trained_run, "-n", 20), "JSON result", "eval")


def test_a_failed_json_write_after_the_metrics_prints_them_first(cli, sets, tmp_path, monkeypatch):
    """The output became unwritable while computing: figures first, then the one error line."""
    out = tmp_path / "out"
    real_evaluate = ganforge.metrics.evaluate

    def evaluate_then_lose_the_folder(*args, **kwargs):
        result = real_evaluate(*args, **kwargs)
        out.write_text("now a file")  # the folder --json needs can no longer be made
        return result

    monkeypatch.setattr(ganforge.metrics, "evaluate", evaluate_then_lose_the_folder)
    ran = cli(
        "eval", "--real", sets[0], "--fake", sets[1], "--metrics", "fid", "--json", out / "r.json"
    )
    assert_user_error(ran, "cannot write the JSON result", "figures above", "r.json")
    assert "fid " in ran.out and "protocol" in ran.out  # the result was printed


@pytest.fixture
def trained_run(tmp_path, capsys):
    """A tiny trained run (8x8 digits, 4 steps)."""
    from tests.cli_helpers import train_tiny

    code, _, err = train_tiny(capsys, tmp_path, "--name", "r")
    assert code == 0, err
    return tmp_path / "r"
