"""The video family: Moving MNIST generation, clip reading, the losses, teacher forcing, the
roll-forward, and runs on the one trainer (exact resume, the L2 baseline never trains D)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import moving_mnist as mm
from ganforge.data.frames import load_frames_dataset, read_clip
from ganforge.errors import GanforgeError
from ganforge.families.video import RolloutWarning, VideoFamily, gradient_difference
from ganforge.run import train
from ganforge.training.checkpoint import load_file
from ganforge.training.loop import Trainer
from tests.config_helpers import config_from
from tests.state_helpers import assert_same_state


def video_config(tmp_path=None, **sections):
    """A 16x16 Moving MNIST predictor, 3 given -> 2 predicted frames, narrow nets."""
    base = {
        "data": {"source": "moving-mnist", "resolution": 16},
        "model": {"family": "video", "g_width": 4, "d_width": 4},
        "video": {"given_frames": 3, "predicted_frames": 2},
        "train": {
            "steps": 4,
            "batch_size": 4,
            "log_every": 2,
            "sample_every": 2,
            "checkpoint_every": 0,
            "ema": 0.9,
            "tensorboard": False,
            "threads": 1,
        },
    }
    return config_from(base, tmp_path, sections)


# ---- Moving MNIST ---------------------------------------------------------------------------


def test_trajectories_bounce_inside_the_frame_at_constant_speed():
    g = torch.Generator().manual_seed(0)
    corners = mm.trajectories(200, 40, 36, g)
    assert corners.min() >= 0 and corners.max() <= 36
    steps = corners.diff(dim=1).float()  # (n, T-1, k, 2)
    speed = steps.norm(dim=-1)
    # Rounding moves a step by < 1 pixel per axis; a bounce shortens it: never longer.
    assert speed.max() <= mm.SPEED * 36 + 2**0.5 + 1e-6
    # Each axis reverses direction at the walls: some sequences do bounce.
    flips = (steps[:, 1:].sign() * steps[:, :-1].sign() < 0).any()
    assert flips


def test_render_pastes_each_digit_where_its_corner_says_and_combines_by_max():
    digits = torch.zeros(1, 2, 3, 3, dtype=torch.uint8)
    digits[0, 0] = 100
    digits[0, 1] = 200
    corners = torch.tensor([[[[0, 0], [1, 1]]]])  # one frame: overlapping at (1..2, 1..2)
    frame = mm.render(digits, corners, 6)[0, 0, 0]
    assert frame[0, 0] == 100 and frame[1, 1] == 200 and frame[3, 3] == 200
    assert frame[0, 3] == 0 and frame[5, 5] == 0
    assert int((frame > 0).sum()) == 9 + 9 - 4


def test_test_set_is_fixed_and_prefix_stable(mnist_mini):
    a = mm.test_sequences(6, resolution=16)
    b = mm.test_sequences(12, resolution=16)
    assert a.shape == (6, 20, 1, 16, 16) and a.dtype == torch.uint8
    assert torch.equal(a, b[:6])
    assert (a.flatten(2).amax(2) > 0).all()  # every frame shows a digit


def test_training_sequences_are_fresh_draws_from_the_global_rng(mnist_mini):
    data = mm.load_moving_mnist("moving-mnist", 16, frames=5, given=3)
    torch.manual_seed(1)
    future, given = data.batch(torch.arange(4))
    assert future.shape == (4, 2, 1, 16, 16) and given.shape == (4, 3, 1, 16, 16)
    assert future.min() >= -1 and future.max() <= 1
    again, _ = data.batch(torch.arange(4))
    assert not torch.equal(future, again)  # same index, another sequence
    torch.manual_seed(1)
    assert torch.equal(data.batch(torch.arange(4))[0], future)  # same RNG state: same


# ---- clips ----------------------------------------------------------------------------------


def _gif(path, frames: np.ndarray):
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=50, loop=0)


def test_read_clip_from_gif_and_frames_folder_in_number_order(tmp_path):
    frames = (np.arange(5)[:, None, None] * 40 + np.zeros((5, 8, 8))).astype(np.uint8)
    _gif(tmp_path / "clip.gif", frames)
    clip = read_clip(tmp_path / "clip.gif")
    assert clip.shape == (5, 1, 8, 8) and clip[:, 0, 0, 0].tolist() == [0, 40, 80, 120, 160]
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in (0, 2, 10, 1):  # f10 after f2: number order, not text order
        Image.fromarray(np.full((8, 8), i * 10, np.uint8)).save(folder / f"f{i}.png")
    assert read_clip(folder)[:, 0, 0, 0].tolist() == [0, 10, 20, 100]


def test_frames_dataset_cuts_windows_and_skips_short_clips(tmp_path):
    for name, n in (("a.gif", 9), ("b.gif", 3)):
        _gif(tmp_path / name, np.random.default_rng(0).integers(0, 255, (n, 12, 12), np.uint8))
    warnings = []
    data = load_frames_dataset(f"frames:{tmp_path}", 8, 0, 5, 3, warn=warnings.append)
    assert data.sample_shape == (5, 1, 8, 8)
    assert len(data) == 3  # windows of 5 frames, 2 apart, in a 9-frame clip: starts 0, 2, 4
    assert len(warnings) == 1 and "b.gif" in warnings[0]


# ---- losses and prediction ------------------------------------------------------------------


def test_gradient_difference_is_zero_for_the_truth_and_counts_lost_edges():
    real = torch.zeros(1, 1, 1, 4, 4)
    real[..., :, 2:] = 1.0  # one vertical edge of height 1 in each of 4 rows
    assert gradient_difference(real, real) == 0
    flat = torch.full_like(real, 0.5)
    # |grad| along width: 4 rows x 1 edge of 1 in 4 x 3 differences; nothing along height.
    assert torch.isclose(gradient_difference(flat, real), torch.tensor(4 / 12))


def test_teacher_forcing_falls_linearly_and_feeds_true_frames(mnist_mini):
    config = video_config(video={"chunk_frames": 1, "teacher_forcing": 0.8})
    config.families["video"].teacher_forcing_steps = 10
    family = VideoFamily(config)
    assert [family.teacher_forcing(s) for s in (0, 5, 10, 20)] == pytest.approx([0.8, 0.4, 0, 0])

    class Echo(torch.nn.Module):  # predicts its last input frame + 1
        def forward(self, x):
            return x[:, -1:] + 1

    given = torch.zeros(2, 3, 1, 2, 2)
    truth = torch.full((2, 2, 1, 2, 2), 10.0)
    free = family.roll(Echo(), given, 2)
    assert free[:, :, 0, 0, 0].tolist() == [[1, 2], [1, 2]]
    forced = family.roll(Echo(), given, 2, truth, forcing=1.0)
    assert forced[:, :, 0, 0, 0].tolist() == [[1, 11], [1, 11]]


def test_more_frames_than_trained_roll_forward_with_a_warning(mnist_mini):
    config = video_config()
    trainer = Trainer(config)
    G = trainer.generator.eval()
    given = torch.zeros(2, 3, 1, 16, 16)
    with torch.no_grad(), pytest.warns(RolloutWarning, match="trained to predict 2"):
        out = trainer.family.predict(G, given, 5)
    assert out.shape == (2, 5, 1, 16, 16)
    with torch.no_grad():
        first = trainer.family.predict(G, given, 2)
        # the third frame onwards is G's continuation of its own two predictions
        third = G(torch.cat([given, first], 1))[:, :1]
    assert torch.allclose(out[:, :2], first) and torch.allclose(out[:, 2:3], third)
    with pytest.raises(GanforgeError, match="needs 3 given frames, got 2"):
        trainer.family.predict(G, given[:, :2])


# ---- runs -----------------------------------------------------------------------------------


def test_resume_is_exact(tmp_path, mnist_mini):
    """4 steps == 2 steps, then resume for 2 more: the same weights, EMA, optimisers and RNG
    (the on-the-fly sequences and the teacher-forcing draws come from the checkpointed RNG)."""

    def config(steps, name):
        c = video_config(
            tmp_path,
            train={"steps": steps},
            video={"chunk_frames": 1, "teacher_forcing": 0.5, "teacher_forcing_steps": 4},
        )
        c.name = name
        return c

    full, _ = train(config(4, "full"), quiet=True)
    half, _ = train(config(2, "half"), quiet=True)
    train(config(4, "half"), resume=half, quiet=True)
    a = load_file(full / "checkpoints" / "last.pt")
    b = load_file(half / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 4
    for key in ("generator", "discriminator", "ema", "opt_g", "opt_d", "rng", "sampler"):
        assert_same_state(a[key], b[key], key)
    assert sorted(p.name for p in (full / "samples").glob("*.png")) == [
        "step_0000002.png",
        "step_0000004.png",
    ]


def test_l2_baseline_never_trains_the_discriminator(mnist_mini):
    config = video_config(video={"adv_weight": 0.0, "gdl_weight": 0.0})
    trainer = Trainer(config)
    before = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
    g_before = [p.clone() for p in trainer.generator.parameters()]
    summary = trainer.fit()
    assert_same_state(before, trainer.discriminator.state_dict())
    after = list(trainer.generator.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(g_before, after, strict=True))
    assert "d_loss" not in summary["last"] and summary["last"]["l2"] > 0


def test_other_families_refuse_clips_and_video_refuses_images(mnist_mini):
    with pytest.raises(GanforgeError, match="video family"):
        Trainer(video_config(model={"family": "unconditional"}))
    with pytest.raises(GanforgeError, match="trains on clips"):
        Trainer(video_config(data={"source": "digits"}))
    with pytest.raises(GanforgeError, match="chunk_frames 3 is more than predicted_frames 2"):
        Trainer(video_config(video={"chunk_frames": 3}))
    with pytest.raises(GanforgeError, match="unknown .video. norm 'group'"):
        Trainer(video_config(video={"norm": "group"}))


def test_the_predictor_norm_is_a_setting(mnist_mini):
    G, _ = VideoFamily(Trainer(video_config()).config).build()
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in G.modules())
    config = video_config(video={"norm": "none"})
    G = Trainer(config).generator
    assert not any(isinstance(m, torch.nn.modules.batchnorm._NormBase) for m in G.modules())


def test_pretraining_steps_train_pixels_only_then_the_discriminator_joins(mnist_mini):
    config = video_config(video={"pretrain_steps": 2}, train={"log_every": 1})
    trainer = Trainer(config)
    d_before = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
    trainer.config.train.steps = 2
    trainer.fit()
    assert_same_state(d_before, trainer.discriminator.state_dict())  # idle while pretraining
    first = trainer.history[-1]
    assert "gdl" not in first and "d_loss" not in first and first["g_total"] == first["l2"]
    trainer.config.train.steps = 4
    trainer.fit()
    after = trainer.discriminator.state_dict()
    assert any(not torch.equal(d_before[k], after[k]) for k in d_before)
    last = trainer.history[-1]
    assert last["gdl"] > 0 and "d_loss" in last and last["g_total"] > last["l2"]
    with pytest.raises(GanforgeError, match=r"pretrain_steps \(--pretrain-steps\) must be >= 0"):
        Trainer(video_config(video={"pretrain_steps": -1}))
