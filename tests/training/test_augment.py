"""DiffAugment ops and the ADA controller: identity at strength 0, differentiable, as specified."""

import pytest
import torch

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.run import train
from ganforge.training import augment as aug
from ganforge.training.checkpoint import load_file
from ganforge.training.loop import Trainer

OPS = [aug.brightness, aug.saturation, aug.contrast, aug.translation, aug.cutout]


def _images(n=6, c=3, size=8, dtype=torch.float32):
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(1), dtype=dtype)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.__name__)
def test_each_op_is_identity_at_strength_zero(op):
    x = _images()
    assert torch.equal(op(x, 0.0), x)
    assert torch.equal(op(x, torch.tensor(0.0)), x)  # ADA's p is a tensor
    assert not torch.equal(op(x, 1.0), x)


def test_whole_policy_is_identity_at_strength_zero():
    x = _images()
    assert torch.equal(aug.diff_augment(x, aug.DEFAULT_POLICY, 0.0), x)
    assert not torch.equal(aug.diff_augment(x, aug.DEFAULT_POLICY, 1.0), x)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.__name__)
def test_each_op_is_differentiable(op):
    """gradcheck with the random parameters fixed (reseeded before every call)."""
    x = _images(n=3, c=2, size=4, dtype=torch.float64).requires_grad_(True)

    def fixed(inp):
        torch.manual_seed(0)
        return op(inp, 0.7)

    assert torch.autograd.gradcheck(fixed, (x,), eps=1e-6, atol=1e-6)


def test_policy_passes_gradients_to_the_generator_side():
    x = _images().requires_grad_(True)
    aug.diff_augment(x, aug.DEFAULT_POLICY, 1.0).square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_brightness_and_contrast_follow_their_formulas():
    torch.manual_seed(3)
    x = _images(n=50)
    shift = aug.brightness(x, 1.0) - x  # one constant in [-0.5, 0.5) per sample
    per_sample = shift.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample), atol=1e-6)
    assert per_sample.min() >= -0.5 and per_sample.max() < 0.5
    y = aug.contrast(x, 1.0)
    centred = x - x.mean(dim=(1, 2, 3), keepdim=True)
    # y - mean(x) = c * (x - mean(x)) with one factor c in [0.5, 1.5) per sample
    c = ((y - x.mean(dim=(1, 2, 3), keepdim=True)) * centred).flatten(1).sum(1)
    c = c / centred.square().flatten(1).sum(1)
    assert torch.allclose(
        y - x.mean(dim=(1, 2, 3), keepdim=True), c.view(-1, 1, 1, 1) * centred, atol=1e-5
    )
    assert c.min() >= 0.5 and c.max() < 1.5
    grey = _images(c=1)
    assert torch.equal(aug.saturation(grey, 1.0), grey)  # one channel: nothing to saturate


def _shift(x, dy, dx):
    """x shifted so out[i, j] = x[i + dy, j + dx], zero outside (written independently)."""
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    for i in range(h):
        for j in range(w):
            if 0 <= i + dy < h and 0 <= j + dx < w:
                out[..., i, j] = x[..., i + dy, j + dx]
    return out


def test_translation_is_an_integer_shift_within_an_eighth():
    torch.manual_seed(5)
    x = _images(n=20, size=16) + 1.0  # strictly positive, so the zero fill is visible
    y = aug.translation(x, 1.0)
    seen = set()
    for k in range(20):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(y[k], _shift(x[k], dy, dx))
        ]
        assert len(matches) == 1, k  # 16 * 0.125 = 2 pixels at most
        seen.add(matches[0])
    assert len(seen) > 5


def test_cutout_zeroes_one_clipped_square_of_half_the_side():
    torch.manual_seed(7)
    x = _images(n=30, c=2, size=8) + 1.0
    y = aug.cutout(x, 1.0)
    for k in range(30):
        zero = (y[k] == 0).all(0)
        assert torch.equal(y[k][:, ~zero], x[k][:, ~zero])  # the rest is untouched
        rows, cols = zero.any(1).nonzero().flatten(), zero.any(0).nonzero().flatten()
        assert zero.sum() == len(rows) * len(cols)  # a rectangle ...
        assert 1 <= len(rows) <= 4 and 1 <= len(cols) <= 4  # ... of at most 4x4 (clipped)
        assert (rows.diff() == 1).all() and (cols.diff() == 1).all()


def test_strength_is_the_share_of_augmented_samples():
    torch.manual_seed(0)
    x = _images(n=2000, c=1, size=4)
    changed = (aug.brightness(x, 0.3) != x).flatten(1).any(1).float().mean()
    assert abs(changed.item() - 0.3) < 0.04


def test_ada_moves_p_by_the_paper_rule():
    ada = aug.AdaptiveStrength(target=0.6, batch_size=16, interval=2, kimg=0.064)
    step = 16 * 2 / 64  # images per adjustment / images to move p by 1
    ada.observe(torch.ones(16))
    assert ada.p.item() == 0.0  # adjusts only every `interval` D steps
    ada.observe(torch.tensor([1.0] * 12 + [-1.0] * 4))  # r_t = (16 + 8) / 32 = 0.75 > 0.6
    assert ada.p.item() == pytest.approx(step)
    for _ in range(2):
        ada.observe(-torch.ones(16))  # r_t = -1 < 0.6: p falls, and is clipped at 0
    assert ada.p.item() == 0.0
    for _ in range(20):
        ada.observe(torch.ones(16))
    assert ada.p.item() == 1.0  # clipped at 1
    state = ada.state_dict()
    other = aug.AdaptiveStrength(target=0.6, batch_size=16, interval=2, kimg=0.064)
    other.load_state_dict(state)
    assert other.p.item() == 1.0 and other.state_dict()["steps"] == 24


def test_make_augment_from_config():
    assert aug.make_augment(TrainConfig(), [1, 8, 8]) is None
    fixed = aug.make_augment(TrainConfig(diffaugment="translation, cutout"), [1, 8, 8])
    assert fixed.policy == "translation,cutout" and fixed.p == 1.0 and fixed.ada is None
    ada = aug.make_augment(TrainConfig(ada_target=0.6), [1, 8, 8])
    assert ada.policy == aug.DEFAULT_POLICY and float(ada.p) == 0.0
    with pytest.raises(GanforgeError, match="unknown augmentation policy 'flip'"):
        aug.make_augment(TrainConfig(diffaugment="color,flip"), [1, 8, 8])
    with pytest.raises(GanforgeError, match="need image data"):
        aug.make_augment(TrainConfig(diffaugment="color"), [2])


def test_bad_ada_target_is_a_user_error(tiny):
    with pytest.raises(GanforgeError, match="--ada-target must be in"):
        Trainer(tiny(train={"ada_target": 1.5}))


def test_every_d_input_is_augmented_in_both_steps(tiny, monkeypatch):
    calls = []
    original = aug.Augment.__call__

    def spy(self, x):
        calls.append(x.shape[0])
        return original(self, x)

    monkeypatch.setattr(aug.Augment, "__call__", spy)
    trainer = Trainer(tiny(train={"steps": 1, "diffaugment": "color", "r1_weight": 1.0}))
    trainer.fit()
    # D step: real (R1 shares this pass, as StyleGAN2-ADA's), fake; G step: fake.
    assert calls == [16, 16, 16]
    calls.clear()
    Trainer(tiny(train={"steps": 1})).fit()
    assert calls == []


def test_ada_p_is_logged_checkpointed_and_resumed_exactly(tiny):
    # p moves by 16 * 4 / 200 = 0.32 every 4 D steps; D gets confident on reals by step ~15.
    extra = {"ada_target": 0.1, "ada_kimg": 0.2, "ada_interval": 4, "log_every": 4}
    full = tiny(train={"steps": 24, **extra})
    full.name = "full"
    run_full, summary = train(full, quiet=True)
    assert 0 < summary["last"]["ada_p"] <= 1
    half = tiny(train={"steps": 14, **extra})  # stops mid-interval: partial sums are saved
    half.name = "half"
    run_half, _ = train(half, quiet=True)
    more = tiny(train={"steps": 24, **extra})
    more.name = "half"
    train(more, resume=run_half, quiet=True)
    a = load_file(run_full / "checkpoints" / "last.pt")
    b = load_file(run_half / "checkpoints" / "last.pt")
    assert a["augment"]["ada"]["p"] > 0
    assert torch.equal(a["augment"]["ada"]["p"], b["augment"]["ada"]["p"])
    for key in a["discriminator"]:
        assert torch.equal(a["discriminator"][key], b["discriminator"][key]), key


@pytest.mark.parametrize("shift, pixels", [(0.0625, 2), (0.125, 4)])
def test_translation_shift_is_a_setting(shift, pixels):
    """The largest shift follows augment_shift: a one-pixel dot moves at most `pixels`."""
    x = -torch.ones(400, 1, 28, 28)
    x[:, :, 14, 14] = 1.0
    augment = aug.make_augment(TrainConfig(diffaugment="translation", augment_shift=shift))
    torch.manual_seed(0)
    out = augment(x)
    where = (out[:, 0] == 1.0).flatten(1).float().argmax(1)  # the dot's flat index
    offsets = torch.cat([where // 28 - 14, where % 28 - 14])
    assert offsets.abs().max().item() == pixels  # reached, never exceeded
    assert set(offsets.tolist()) == set(range(-pixels, pixels + 1))


def test_cutout_size_is_a_setting():
    x = torch.ones(50, 1, 16, 16)
    augment = aug.make_augment(TrainConfig(diffaugment="cutout", augment_cutout=0.25))
    torch.manual_seed(0)
    blanked = (augment(x) == 0).flatten(1).sum(1)
    assert blanked.max().item() == 16  # a 4x4 square where it lies fully inside the image
    assert blanked.min().item() > 0


@pytest.mark.parametrize("flag, value", [("augment_shift", 0.0), ("augment_cutout", 1.5)])
def test_augment_sizes_out_of_range_are_user_errors(flag, value):
    from ganforge.config import Config, merge, validate

    with pytest.raises(GanforgeError, match=f"--{flag.replace('_', '-')} must be in"):
        validate(merge(Config(), {"train": {flag: value}}))
