"""Broken image inputs and sample/translate/upscale/score outputs: one line naming the file and
what is wrong (or, inside a folder, a skip with one warning), and no silent wrong result.

Image files are broken in the ways users meet: a PNG or JPEG cut half-way (an interrupted copy),
a text or HTML page saved with an image name, an empty file, a gzip archive named .png.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.errors import GanforgeError
from tests.bad_input.conftest import assert_user_error
from tests.cli_helpers import TINY_DIGITS

# ---- broken files ---------------------------------------------------------------------------


def _noise(seed: int, size=(16, 16)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)


def _cut(path: Path, fmt: str) -> None:
    Image.fromarray(_noise(1, (48, 48))).save(path, fmt)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# name -> (file name, writer, what the error line must say)
BROKEN = {
    "png-cut-half-way": ("cut.png", lambda p: _cut(p, "PNG"), r"truncated"),
    "jpeg-cut-half-way": ("cut.jpg", lambda p: _cut(p, "JPEG"), r"truncated"),
    "text-named-png": (
        "notes.png",
        lambda p: p.write_text("just some notes\n"),
        r"not an image: text",
    ),
    "html-named-jpg": (
        "page.jpg",
        lambda p: p.write_text("<!DOCTYPE html><html><body>404</body></html>"),
        r"HTML page",
    ),
    "zero-bytes": ("empty.png", lambda p: p.write_bytes(b""), r"empty file \(0 bytes\)"),
    "gzip-named-png": ("packed.png", lambda p: p.write_bytes(b"\x1f\x8b\x08" + bytes(40)), r"gzip"),
}


def broken(folder: Path, kind: str) -> Path:
    """Write one broken file of `kind` into folder; returns its path."""
    name, write, _ = BROKEN[kind]
    folder.mkdir(parents=True, exist_ok=True)
    write(folder / name)
    return folder / name


def good(folder: Path, name: str, seed: int = 0, size=(16, 16)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_noise(seed, size)).save(folder / name)
    return folder / name


# ---- tiny runs (trained once for the module) --------------------------------------------------

TRANSLATE = ["--resolution", 16, "--g-width", 4, "--d-width", 4, "--patch-layers", 1]
TRANSLATE += ["--batch-size", 4, "--steps", 2, "--log-every", 1, "--no-tensorboard", "--quiet"]
SR = ["--scale", 2, "--resolution", 16, "--g-width", 4, "--d-width", 4, "--sr-blocks", 1]
SR += ["--batch-size", 2, "--steps", 2, "--pretrain-steps", 1, "--log-every", 1]
SR += ["--no-tensorboard", "--quiet"]


def _train(*argv) -> None:
    assert main([str(a) for a in argv]) == 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A DCGAN on digits, a pix2pix, an x2 SR run and an image anomaly detector."""
    root = tmp_path_factory.mktemp("image_runs")
    _train("train", *TINY_DIGITS, "--out", root, "--name", "gan")
    a, b = root / "A", root / "B"
    for i in range(4):
        good(a, f"{i}.png", i)
        good(b, f"{i}.png", 10 + i)
    data = f"paired:{a},{b}"
    _train(
        "train", "--family", "pix2pix", "--data", data, *TRANSLATE, "--out", root, "--name", "tr"
    )
    hr = root / "hr"
    for i in range(2):
        good(hr, f"{i}.png", 20 + i, (24, 24))
    _train(
        "train", "--family", "srgan", "--data", f"folder:{hr}", *SR, "--out", root, "--name", "sr"
    )
    normal = root / "normal"
    for i in range(60):
        good(normal, f"{i:02d}.png", 40 + i, (8, 8))
    _train(
        *("anomaly", "fit", "--data", f"folder:{normal}", "--run-dir", root / "det"),
        *("--resolution", 8, "--steps", 2, "--batch-size", 8, "--fpr", 0.1, "--quiet"),
    )
    return {"gan": root / "gan", "translate": root / "tr", "sr": root / "sr", "det": root / "det"}


# ---- one broken file given as the input: one line naming it and what is wrong -----------------

ONE_FILE = {
    "translate": lambda runs, f, out: ("translate", runs["translate"], f, "-o", out / "o.png"),
    "upscale": lambda runs, f, out: ("upscale", runs["sr"], f, "-o", out / "o.png"),
}


@pytest.mark.parametrize("kind", BROKEN)
@pytest.mark.parametrize("command", ONE_FILE)
def test_a_broken_input_file_is_one_line_naming_it(cli, runs, tmp_path, command, kind):
    bad = broken(tmp_path / "in", kind)
    ran = cli(*ONE_FILE[command](runs, bad, tmp_path))
    assert_user_error(ran, "cannot read the image", BROKEN[kind][2], bad.name, "replace it")
    assert not (tmp_path / "o.png").exists()


# ---- broken files inside a folder: skipped with one warning; nothing readable is an error -----


def _folder_commands(runs, folder: Path, out: Path) -> dict[str, tuple]:
    base = ("train", *TINY_DIGITS, "--out", out / "runs")
    return {
        "train-folder": (*base, "--data", f"folder:{folder}"),
        "train-sr-folder": (
            *("train", "--family", "srgan", "--data", f"folder:{folder}", *SR),
            *("--out", out / "runs"),
        ),
        "translate-folder": ("translate", runs["translate"], folder, "-o", out / "t"),
        "upscale-folder": ("upscale", runs["sr"], folder, "-o", out / "u"),
        "anomaly-score-folder": ("anomaly", "score", runs["det"], folder, "-o", out / "s.csv"),
    }


FOLDER_COMMANDS = [
    "train-folder",
    "train-sr-folder",
    "translate-folder",
    "upscale-folder",
    "anomaly-score-folder",
]


@pytest.mark.parametrize("command", FOLDER_COMMANDS)
def test_a_folder_of_only_broken_files_is_an_error_naming_the_folder(cli, runs, tmp_path, command):
    folder = tmp_path / "broken_only"
    for kind in ("png-cut-half-way", "zero-bytes", "text-named-png"):
        broken(folder, kind)
    ran = cli(*_folder_commands(runs, folder, tmp_path)[command])
    assert_user_error(ran, "none of the 3 image files could be read", str(folder), "cut.png")


@pytest.mark.parametrize("command", ["translate-folder", "upscale-folder", "anomaly-score-folder"])
def test_broken_files_in_a_folder_are_skipped_with_one_warning(cli, runs, tmp_path, command):
    folder = tmp_path / "mixed"
    good(folder, "fine.png", 3, (24, 24))
    broken(folder, "png-cut-half-way")
    broken(folder, "zero-bytes")
    ran = cli(*_folder_commands(runs, folder, tmp_path)[command])
    assert ran.code == 0, ran.err
    warnings = [ln for ln in (ran.out + ran.err).splitlines() if "warning" in ln]
    assert len(warnings) == 1, warnings
    assert "skipped 2 unreadable" in warnings[0]
    assert "cut.png (truncated" in warnings[0] and "empty.png (empty file" in warnings[0]


def test_paired_folders_name_the_broken_side_and_drop_its_pair(tmp_path, capsys):
    from ganforge.data.paired import load_paired_folders

    a, b = tmp_path / "A", tmp_path / "B"
    for name in ("1", "2", "3"):
        good(a, f"{name}.png", int(name))
        good(b, f"{name}.png", 10 + int(name))
    (a / "2.png").write_text("not a picture")
    warnings: list[str] = []
    data = load_paired_folders(a, b, 16, warn=warnings.append)
    assert data.meta["paths"] == ["1", "3"] and len(data.source) == len(data.data) == 2
    assert any("skipped 1 unreadable" in w and "2.png (not an image: text)" in w for w in warnings)
    assert any("left out 1 pair(s) whose partner is unreadable (2)" in w for w in warnings)


@pytest.mark.parametrize("layout", ["paired-two-folders", "side-by-side", "unpaired"])
def test_translation_data_with_nothing_readable_is_one_line(cli, tmp_path, layout):
    a, b = tmp_path / "A", tmp_path / "B"
    broken(a, "png-cut-half-way")
    broken(a, "zero-bytes")
    good(b, "cut.png", size=(48, 48))  # the size of the cut PNG, whose header is intact
    good(b, "empty.png")
    data = {"paired-two-folders": f"paired:{a},{b}", "side-by-side": f"paired:{a}"}
    data["unpaired"] = f"unpaired:{a},{b}"
    family = "cyclegan" if layout == "unpaired" else "pix2pix"
    ran = cli("train", "--family", family, "--data", data[layout], *TRANSLATE, "--out", tmp_path)
    assert_user_error(ran, "none of the 2 image files could be read", str(a), "empty.png")


def test_a_damaged_built_in_photo_is_one_line(cli, runs, tmp_path, monkeypatch):
    import ganforge.data.photos as photos

    fake = tmp_path / "skimage_data"  # a copy of the held-out photos, one of them damaged
    fake.mkdir()
    for name in photos.TEST_PHOTOS:
        package, filename = photos._SOURCES[name]
        (fake / filename).write_bytes((photos._image_dir(package) / filename).read_bytes())
    _cut(fake / "chelsea.png", "PNG")
    monkeypatch.setattr(photos, "_image_dir", lambda package: fake)
    ran = cli("eval-sr", runs["sr"], "--data", "photos:test", "-o", tmp_path / "c.png")
    assert_user_error(ran, "built-in photo 'chelsea' cannot be decoded", "truncated", "reinstall")


# ---- sample: flags and outputs that used to give a silent wrong result ------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-0.5"])
def test_sample_truncation_must_be_finite_and_positive(cli, runs, tmp_path, value):
    ran = cli("sample", runs["gan"], "-n", 4, f"--truncation={value}", "-o", tmp_path / "g.png")
    assert_user_error(ran, "--truncation", "finite", re.escape(value))
    assert not (tmp_path / "g.png").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.0, -1.0])
def test_the_python_api_refuses_a_truncation_that_cannot_work(runs, value):
    from ganforge.sampling import load_generator

    model = load_generator(runs["gan"])
    with pytest.raises(GanforgeError, match=r"--truncation must be a finite number > 0"):
        model.sample(4, truncation=value)  # nan used to pass `<= 0` and give all-black images


def test_samples_that_are_not_finite_are_not_written(tmp_path):
    from ganforge.sampling import write_samples

    with pytest.raises(GanforgeError, match="NaN or infinite values"):
        write_samples(torch.full((2, 1, 8, 8), float("nan")), tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()


@pytest.mark.parametrize("n", [0, -3])
def test_sample_count_must_be_positive(cli, runs, tmp_path, n):
    ran = cli("sample", runs["gan"], "-n", n, "-o", tmp_path / "g.png")
    assert_user_error(ran, "-n must be a positive integer", f"got {n}")


SUFFIX_MISMATCHES = {
    "npy-format-png-name": (["--format", "npy"], "x.png", [r"--format npy", r"x\.npy"]),
    "npy-format-no-suffix": (["--format", "npy"], "x", [r"does not end in \.npy"]),
    "grid-format-npy-name": (["--format", "grid"], "x.npy", [r"'\.npy'", "no image format"]),
    "grid-unknown-suffix": ([], "x.v2", [r"'\.v2'", "no image format", r"\.png"]),
    "png-dir-format-png-name": (["--format", "png-dir"], "x.png", ["names a file", "-o x"]),
}


@pytest.mark.parametrize("case", SUFFIX_MISMATCHES)
def test_sample_refuses_an_output_name_that_does_not_fit_the_format(cli, runs, tmp_path, case):
    flags, name, names = SUFFIX_MISMATCHES[case]
    ran = cli("sample", runs["gan"], "-n", 4, *flags, "-o", tmp_path / name)
    assert_user_error(ran, name.replace(".", r"\."), *names)
    assert list(tmp_path.iterdir()) == []  # nothing written under any name


def test_sample_npy_writes_exactly_the_path_given(cli, runs, tmp_path):
    ran = cli("sample", runs["gan"], "-n", 5, "--format", "npy", "-o", tmp_path / "fakes.npy")
    assert ran.code == 0 and f"to {tmp_path / 'fakes.npy'} (npy" in ran.out
    assert [p.name for p in tmp_path.iterdir()] == ["fakes.npy"]
    assert np.load(tmp_path / "fakes.npy").shape == (5, 1, 8, 8)


def test_png_dir_refuses_a_folder_with_other_files_and_overwrite_replaces_samples(
    cli, runs, tmp_path
):
    folder = tmp_path / "pngs"
    assert cli("sample", runs["gan"], "-n", 6, "-o", folder).code == 0
    assert sorted(p.name for p in folder.iterdir()) == [f"{i:06d}.png" for i in range(6)]
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    ran = cli("sample", runs["gan"], "-n", 3, "--seed", 1, "-o", folder)  # would mix 3 with 6
    assert_user_error(ran, "already holds 6 file", str(folder), "--overwrite")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # untouched
    ran = cli("sample", runs["gan"], "-n", 3, "--seed", 1, "-o", folder, "--overwrite")
    assert ran.code == 0, ran.err
    assert sorted(p.name for p in folder.iterdir()) == [f"{i:06d}.png" for i in range(3)]
    assert (folder / "000000.png").read_bytes() != before["000000.png"]  # the new seed's samples
    (folder / "notes.txt").write_text("mine")
    ran = cli("sample", runs["gan"], "-n", 3, "-o", folder, "--overwrite")
    assert_user_error(ran, "--overwrite replaces only earlier samples", "notes.txt")
    assert (folder / "notes.txt").read_text() == "mine"


# ---- outputs that cannot be written: refused before any work ----------------------------------


@pytest.fixture
def unwritable(tmp_path) -> Path:
    """A folder where files cannot be created (read-only; /sys when running as root)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        probe = folder / "probe"
        probe.write_text("")
        probe.unlink()
    except OSError:
        yield folder
        folder.chmod(0o755)
        return
    folder.chmod(0o755)  # root ignores permissions: /sys refuses new files even to root
    try:
        Path("/sys/ganforge-probe").write_text("")
    except OSError:
        yield Path("/sys")
        return
    pytest.skip("no unwritable folder on this machine")


def _output_commands(runs, tmp_path: Path, out: Path) -> dict[str, tuple]:
    picture = good(tmp_path / "in", "p.png", 5, (16, 16))
    return {
        "sample": ("sample", runs["gan"], "-n", 4, "-o", out / "g.png"),
        "sample-npy": ("sample", runs["gan"], "-n", 4, "-o", out / "g.npy"),
        "sample-png-dir": ("sample", runs["gan"], "-n", 4, "-o", out / "pngs"),
        "translate": ("translate", runs["translate"], picture, "-o", out / "t.png"),
        "translate-folder": ("translate", runs["translate"], picture.parent, "-o", out / "t"),
        "upscale": ("upscale", runs["sr"], picture, "-o", out / "u.png"),
        "anomaly-score": ("anomaly", "score", runs["det"], picture.parent, "-o", out / "s.csv"),
        "anomaly-maps": (
            *("anomaly", "score", runs["det"], picture.parent, "-o", tmp_path / "s.csv"),
            *("--maps", out / "maps"),
        ),
    }


OUTPUT_COMMANDS = [
    "sample",
    "sample-npy",
    "sample-png-dir",
    "translate",
    "translate-folder",
    "upscale",
    "anomaly-score",
    "anomaly-maps",
]


@pytest.mark.parametrize("command", OUTPUT_COMMANDS)
def test_an_unwritable_output_is_refused_before_any_work(
    cli, runs, tmp_path, unwritable, command, monkeypatch
):
    import ganforge.apps.anomaly as anomaly
    import ganforge.tiling as tiling
    from ganforge.sampling import TrainedGenerator

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the output was checked")

    for owner, name in ((TrainedGenerator, "sample"), (tiling, "run_tiled")):
        monkeypatch.setattr(owner, name, no_work)
    monkeypatch.setattr(anomaly.AnomalyDetector, "score", no_work)
    monkeypatch.setattr(anomaly.AnomalyDetector, "score_and_maps", no_work)
    ran = cli(*_output_commands(runs, tmp_path, unwritable / "sub")[command])
    assert_user_error(ran, "cannot write the", str(unwritable / "sub"))


@pytest.mark.parametrize("command", ["sample", "translate", "upscale", "anomaly-score"])
def test_an_output_below_a_file_is_refused(cli, runs, tmp_path, command):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    ran = cli(*_output_commands(runs, tmp_path, blocker)[command])
    assert_user_error(ran, "is a file, not a folder", str(blocker))
    assert blocker.read_text() == "a file, not a folder"


def test_a_scores_file_that_is_a_folder_is_refused(cli, runs, tmp_path):
    picture = good(tmp_path / "in", "p.png", 5, (8, 8))
    (tmp_path / "scores.csv").mkdir()
    ran = cli("anomaly", "score", runs["det"], picture.parent, "-o", tmp_path / "scores.csv")
    assert_user_error(ran, "must be a file but is a folder", "scores.csv")


def test_translate_refuses_an_output_format_it_cannot_write(cli, runs, tmp_path):
    picture = good(tmp_path / "in", "p.ppm", 5, (16, 16))  # PIL reads PPM; ganforge writes none
    ran = cli("translate", runs["translate"], picture, "-o", tmp_path / "out")
    assert_user_error(ran, r"'\.ppm'", "no image format", r"\.png")
    assert not (tmp_path / "out").exists()


def test_check_writable_leaves_no_trace(tmp_path):
    from ganforge.io_checks import check_writable

    target = tmp_path / "a" / "b" / "out.csv"
    assert check_writable(target) == target
    assert list(tmp_path.iterdir()) == []  # no folders made, no probe left
    assert check_writable(tmp_path / "new_folder", folder=True) == tmp_path / "new_folder"
    assert list(tmp_path.iterdir()) == []
    assert os.listdir(tmp_path) == []
