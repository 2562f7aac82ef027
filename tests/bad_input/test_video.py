"""Bad input to the video family and `ganforge predict`: each case is one line naming the clip,
the flag or the value (a clip shorter than the given frames, frames of different sizes, an
unreadable file, ...); more frames than the run was trained for is a warning, not an error."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.apps.test_predict import TINY_VIDEO, frames_of, gif, video_run  # noqa: F401
from tests.bad_input.conftest import assert_user_error


def _frames_folder(folder, sizes):
    folder.mkdir()
    for i, size in enumerate(sizes):
        Image.fromarray(np.zeros((size, size), np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def _short(tmp_path):
    return gif(tmp_path / "short.gif", 2)


def _sizes(tmp_path):
    return _frames_folder(tmp_path / "mixed", [16, 16, 20, 16])


def _text(tmp_path):
    path = tmp_path / "broken.gif"
    path.write_text("not a gif")
    return path


def _video(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    return path


def _suffix(tmp_path):
    path = tmp_path / "clip.txt"
    path.write_text("1 2 3")
    return path


def _missing(tmp_path):
    return tmp_path / "nowhere.gif"


def _empty_folder(tmp_path):
    path = tmp_path / "empty"
    path.mkdir()
    return path


INPUTS = {
    "clip-shorter-than-given": (_short, [r"short\.gif", "2 frames", "needs 3 given"]),
    "frames-of-different-sizes": (_sizes, ["mixed", "differ in size", "20x20"]),
    "unreadable-file": (_text, [r"broken\.gif", "cannot read the clip"]),
    "video-without-decoder": (_video, [r"clip\.mp4", "video plugin", "pyav"]),
    "not-a-clip-format": (_suffix, [r"clip\.txt", "not a clip format"]),
    "input-missing": (_missing, [r"nowhere\.gif", "not found"]),
    "folder-without-clips": (_empty_folder, ["empty", "no clips"]),
}


@pytest.mark.parametrize("case", list(INPUTS))
def test_bad_clip(cli, video_run, tmp_path, case):  # noqa: F811
    make, names = INPUTS[case]
    out = tmp_path / "out.gif"
    ran = cli("predict", video_run, make(tmp_path), "-o", out)
    assert_user_error(ran, *names)
    assert not out.exists()


def test_more_frames_than_trained_warns_and_rolls_forward(cli, video_run, tmp_path):  # noqa: F811
    out = tmp_path / "out.gif"
    ran = cli("predict", video_run, gif(tmp_path / "in.gif", 4), "-o", out, "--frames", 5)
    assert ran.code == 0, ran.err
    warnings = [ln for ln in ran.err.splitlines() if ln.startswith("ganforge: warning: ")]
    assert len(warnings) == 1 and "5 frames asked" in warnings[0] and "predict 2" in warnings[0]
    assert len(frames_of(out)) == 3 + 5


def test_a_folder_of_clips_skips_the_bad_ones_with_one_warning(cli, video_run, tmp_path):  # noqa: F811
    clips = tmp_path / "clips"
    clips.mkdir()
    gif(clips / "good.gif", 4)
    gif(clips / "short.gif", 1)
    (clips / "broken.gif").write_text("no")
    ran = cli("predict", video_run, clips, "-o", tmp_path / "out")
    assert ran.code == 0, ran.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.gif"]
    assert "skipped 2 clip(s)" in ran.err and "short.gif" in ran.err and "broken.gif" in ran.err


@pytest.mark.parametrize(
    "args, names",
    [
        (["--frames", "0"], ["--frames", "positive"]),
        (["-o", "{tmp}/one.gif", "--clips"], ["folder of GIFs", r"one\.gif"]),
    ],
    ids=["frames-zero", "clips-folder-to-one-gif"],
)
def test_bad_flags(cli, video_run, tmp_path, args, names):  # noqa: F811
    clips = tmp_path / "clips"
    clips.mkdir()
    gif(clips / "a.gif", 4)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    source = clips
    if "--clips" in args:
        args.remove("--clips")
    else:
        args += ["-o", str(tmp_path / "out.gif")]
        source = clips / "a.gif"
    ran = cli("predict", video_run, source, *args)
    assert_user_error(ran, *names)


def test_not_a_video_run(cli, crun, tmp_path):
    ran = cli("predict", crun, gif(tmp_path / "in.gif", 4), "-o", tmp_path / "o.gif")
    assert_user_error(ran, "conditional run", "not a video run", "--family video")


def test_training_on_clips_all_shorter_than_a_window(cli, tmp_path, mnist_mini):
    data = tmp_path / "clips"
    data.mkdir()
    gif(data / "a.gif", 3)
    argv = [str(a) for a in TINY_VIDEO]
    argv[argv.index("moving-mnist")] = f"frames:{data}"
    ran = cli("train", *argv, "--out", tmp_path / "runs", "--name", "x")
    assert_user_error(ran, "shorter than the 5 frames", r"a\.gif \(3 frames\)", "clips")
    assert not (tmp_path / "runs" / "x").exists()
