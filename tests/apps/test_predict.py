"""`ganforge predict`: one clip -> a GIF (given, then bordered predicted frames) or a frames
folder; a folder of clips -> one GIF per clip of the same name (predicted frames only unless
--with-given); the library call gives the run's own predictions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from ganforge.apps.predict import BORDER, load_predictor, predict
from ganforge.cli import main
from ganforge.data.frames import read_clip
from ganforge.images import to_model_range, to_pixels

TINY_VIDEO = ["--data", "moving-mnist", "--resolution", 16, "--family", "video"]
TINY_VIDEO += ["--given-frames", 3, "--predicted-frames", 2, "--g-width", 4, "--d-width", 4]
TINY_VIDEO += ["--batch-size", 4, "--steps", 2, "--log-every", 1, "--sample-every", 0]
TINY_VIDEO += ["--checkpoint-every", 0, "--no-tensorboard", "--quiet", "--threads", 1]


@pytest.fixture(scope="module")
def video_run(tmp_path_factory):
    """A 2-step video run (16x16, 3 given -> 2 predicted) trained through the CLI."""
    from tests.fixtures import MNIST_MINI

    out = tmp_path_factory.mktemp("video")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANFORGE_DATA", str(MNIST_MINI))
        assert main(["train", *map(str, TINY_VIDEO), "--out", str(out), "--name", "v"]) == 0
    return out / "v"


def gif(path, frames: int, size: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = [Image.fromarray(rng.integers(0, 255, (size, size), np.uint8)) for _ in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=50, loop=0)
    return path


def frames_of(path) -> list[np.ndarray]:
    with Image.open(path) as im:
        return [np.array(f.convert("RGB")) for f in ImageSequence.Iterator(im)]


def test_one_clip_gives_a_gif_of_given_then_bordered_predictions(video_run, tmp_path, capsys):
    clip = gif(tmp_path / "in.gif", 5)
    code = main(["predict", str(video_run), str(clip), "-o", str(tmp_path / "out.gif")])
    assert code == 0, capsys.readouterr().err
    frames = frames_of(tmp_path / "out.gif")
    assert len(frames) == 3 + 2  # the last 3 given frames, then 2 predicted
    for i, frame in enumerate(frames):
        bordered = (frame[0] == BORDER).all() and (frame[:, 0] == BORDER).all()
        assert bordered == (i >= 3), i
    given = read_clip(clip)[-3:]
    assert np.array_equal(frames[0][..., 0], given[0, 0].numpy())  # given frames as they are
    model = load_predictor(video_run)
    expected = predict(model, read_clip(clip))
    assert np.array_equal(frames[3][2:-2, 2:-2, 0], expected[0, 0, 2:-2, 2:-2].numpy())
    assert "predicted 2 frame(s) for 1 clip(s)" in capsys.readouterr().out


def test_library_predict_is_the_family_roll_forward(video_run):
    model = load_predictor(video_run)
    clip = torch.randint(0, 255, (4, 1, 16, 16), dtype=torch.uint8)
    out = predict(model, clip, 2)
    with torch.no_grad():
        direct = model.module(to_model_range(clip[-3:])[None])[0]
    assert out.shape == (2, 1, 16, 16) and torch.equal(out, to_pixels(direct))


def test_a_folder_of_clips_gives_one_gif_per_clip_of_predictions(video_run, tmp_path, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    gif(clips / "a.gif", 4, seed=1)
    gif(clips / "b.gif", 6, size=24, seed=2)  # another size: resized to the run's 16x16
    out = tmp_path / "out"
    assert main(["predict", str(video_run), str(clips), "-o", str(out), "--frames", "2"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.gif", "b.gif"]
    for name in ("a.gif", "b.gif"):
        frames = frames_of(out / name)
        assert len(frames) == 2 and frames[0].shape == (16, 16, 3)
    assert main(["predict", str(video_run), str(clips), "-o", str(out), "--with-given"]) == 0
    assert len(frames_of(out / "a.gif")) == 3 + 2
    capsys.readouterr()


def test_a_frames_folder_output_numbers_on_from_the_given_frames(video_run, tmp_path, capsys):
    clip = gif(tmp_path / "in.gif", 3)
    out = tmp_path / "frames"
    assert main(["predict", str(video_run), str(clip), "-o", str(out), "--with-given"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{i:04d}.png" for i in range(5)]
    assert read_clip(out).shape == (5, 1, 16, 16)  # reads back as a clip
    capsys.readouterr()
