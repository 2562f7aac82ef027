"""Super-resolution: SR data (crops, degradation, bad files), the SRResNet/SRGAN nets, the two
training phases on the one trainer, the loss terms, and exact resume."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganforge import objectives
from ganforge.config import Config, merge
from ganforge.data.sr import SRDataset, downscale, load_sr_dataset, read_image
from ganforge.errors import GanforgeError
from ganforge.families import make_family
from ganforge.families.srgan import feature_distance
from ganforge.nets.srresnet import _VGG19, SRDiscriminator, SRResNet, VGG19Features
from ganforge.training.loop import Trainer


def _smooth(h, w, seed=0, channels=3):
    """A smooth random colour image (uint8): enough structure for SR to be meaningful."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (max(2, h // 8), max(2, w // 8), channels), dtype=np.uint8)
    mode = "RGB" if channels == 3 else "L"
    big = Image.fromarray(coarse if channels == 3 else coarse[..., 0], mode).resize(
        (w, h), Image.BICUBIC
    )
    return np.asarray(big)


def sr_config(tmp_path=None, **train):
    base = {
        "data": {"source": "photos", "resolution": 16},
        "model": {
            "family": "srgan",
            "arch": "srresnet",
            "scale": 2,
            "g_width": 8,
            "d_width": 4,
            "sr_blocks": 1,
        },
        "train": {
            "steps": 6,
            "batch_size": 4,
            "sr_pretrain_steps": 3,
            "log_every": 1,
            "sample_every": 3,
            "checkpoint_every": 3,
            "tensorboard": False,
            **train,
        },
    }
    config = merge(Config(), base)
    if tmp_path is not None:
        config.out, config.name = str(tmp_path), "run"
    return config


def tiny_dataset(n=3, size=(40, 36), crop=16, scale=2):
    images = [torch.from_numpy(_smooth(*size, seed=i).transpose(2, 0, 1).copy()) for i in range(n)]
    return SRDataset(images, crop, scale, [f"im{i}" for i in range(n)])


# ---- data ----------------------------------------------------------------------------------
def test_batch_gives_hr_crops_of_the_images_and_their_bicubic_lr():
    ds = tiny_dataset()
    torch.manual_seed(0)
    hr, lr = ds.batch(torch.tensor([0, 1, 2, 0]))
    assert hr.shape == (4, 3, 16, 16) and lr.shape == (4, 3, 8, 8)
    assert hr.min() >= -1 and hr.max() <= 1
    hr8 = ((hr + 1) * 127.5).round().to(torch.uint8)
    lr8 = ((lr + 1) * 127.5).round().to(torch.uint8)
    # Each HR crop is one of the 8 flips/rotations of a window of its source image.
    for crop, source in zip(hr8, [0, 1, 2, 0], strict=True):
        image = ds.images[source]
        found = False
        for k in range(4):
            for flip in (False, True):
                c = torch.rot90(crop, -k, dims=(-2, -1))
                c = c.flip(-1) if flip else c
                win = image.unfold(1, 16, 1).unfold(2, 16, 1)  # (C, nh, nw, 16, 16)
                found |= bool((win == c[:, None, None]).all(0).all(-1).all(-1).any())
        assert found
    # The LR is PIL's antialiased bicubic downscale of the HR crop (an independent reference).
    for crop, small in zip(hr8, lr8, strict=True):
        pil = Image.fromarray(crop.permute(1, 2, 0).numpy()).resize((8, 8), Image.BICUBIC)
        diff = np.abs(np.asarray(pil).astype(int) - small.permute(1, 2, 0).numpy().astype(int))
        assert diff.max() <= 1  # PIL works in fixed point


def test_batches_follow_the_global_rng_and_use_every_transform():
    ds = tiny_dataset()
    torch.manual_seed(3)
    a = ds.batch(torch.tensor([0, 1]))
    torch.manual_seed(3)
    b = ds.batch(torch.tensor([0, 1]))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    torch.manual_seed(0)
    ks = torch.randint(0, 8, (200,))
    assert set(ks.tolist()) == set(range(8))


def test_downscale_is_the_antialiased_bicubic_of_pil():
    image = _smooth(48, 40, seed=5)
    out = downscale(torch.from_numpy(image.transpose(2, 0, 1).copy())[None], 4)[0]
    pil = np.asarray(Image.fromarray(image).resize((10, 12), Image.BICUBIC))
    assert out.shape == (3, 12, 10)
    assert np.abs(out.permute(1, 2, 0).numpy().astype(int) - pil.astype(int)).max() <= 1


def _write_folder(folder):
    folder.mkdir()
    Image.fromarray(_smooth(40, 48, 1)).save(folder / "colour.png")
    Image.fromarray(_smooth(40, 40, 2, channels=1)).save(folder / "grey.png")
    sixteen = (_smooth(40, 40, 3, channels=1).astype(np.uint16) * 257).astype(np.uint16)
    Image.fromarray(sixteen).save(folder / "sixteen.png")
    Image.fromarray(_smooth(40, 40, 4)).convert("P", palette=Image.ADAPTIVE).save(
        folder / "palette.png"
    )
    Image.fromarray(_smooth(10, 10, 5)).save(folder / "tiny.png")
    (folder / "broken.png").write_bytes(b"not a png")


def test_folder_source_handles_modes_small_and_broken_files(tmp_path):
    _write_folder(tmp_path / "hr")
    warnings = []
    ds = load_sr_dataset(f"folder:{tmp_path / 'hr'}", 16, 2, warn=warnings.append)
    assert sorted(ds.names) == ["colour.png", "grey.png", "palette.png", "sixteen.png"]
    assert len(warnings) == 2
    assert "unreadable" in warnings[0] and "broken.png" in warnings[0]
    assert "smaller than the 16x16" in warnings[1] and "tiny.png" in warnings[1]
    by_name = dict(zip(ds.names, ds.images, strict=True))
    grey = by_name["grey.png"]
    assert grey.shape[0] == 3 and torch.equal(grey[0], grey[1])  # grey repeated into RGB
    expected = _smooth(40, 40, 3, channels=1)  # 16-bit v*257 scales back to v exactly
    assert torch.equal(by_name["sixteen.png"][0], torch.from_numpy(expected.copy()))
    assert by_name["palette.png"].shape == (3, 40, 40)
    hr, lr = ds.batch(torch.arange(len(ds)))
    assert hr.shape == (4, 3, 16, 16) and lr.shape == (4, 3, 8, 8)


def test_bad_data_settings_are_one_line_errors(tmp_path):
    _write_folder(tmp_path / "hr")
    with pytest.raises(GanforgeError, match="every image is smaller than the 64x64"):
        load_sr_dataset(f"folder:{tmp_path / 'hr'}", 64, 4, warn=lambda s: None)
    with pytest.raises(GanforgeError, match="multiple of --scale"):
        load_sr_dataset(f"folder:{tmp_path / 'hr'}", 18, 4, warn=lambda s: None)
    with pytest.raises(GanforgeError, match="unknown super-resolution data source"):
        load_sr_dataset("mnist", 16, 2)
    with pytest.raises(GanforgeError, match="cannot read the image"):
        read_image(tmp_path / "hr" / "broken.png")


def test_builtin_photos_split():
    ds = load_sr_dataset("photos:test", 96, 4)
    assert ds.names == ["chelsea", "coffee"]
    train = load_sr_dataset("photos", 96, 4)
    assert "chelsea" not in train.names and len(train) == 8


# ---- networks ------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_srresnet_upscales_and_starts_near_bicubic(scale):
    torch.manual_seed(0)
    G = SRResNet(3, 8, 2, scale)
    x = torch.rand(2, 3, 6, 5) * 2 - 1
    y = G(x)
    assert y.shape == (2, 3, 6 * scale, 5 * scale)
    bicubic = F.interpolate(x, scale_factor=scale, mode="bicubic", antialias=True)
    assert (y - bicubic).abs().mean() < 0.05  # the residual starts small


def test_receptive_radius_bounds_what_an_output_pixel_sees():
    torch.manual_seed(0)
    G = SRResNet(3, 8, 3, 4)
    r = G.receptive_radius
    x = torch.rand(1, 3, 40, 40) * 2 - 1
    with torch.no_grad():
        base = G(x)
        far = x.clone()
        far[..., :, 20 + r + 1 :] = 0  # change every pixel further than r columns away
        assert torch.equal(G(far)[..., 80:84], base[..., 80:84])  # LR column 20's outputs
        near = x.clone()
        near[..., :, 20 + r - 3] += 0.5  # a change inside the radius is seen
        assert not torch.equal(G(near)[..., 80:84], base[..., 80:84])


def test_discriminator_logits_and_features():
    D = SRDiscriminator(3, 24, 4)
    logits, feats = D.features(torch.randn(5, 3, 24, 24))
    assert logits.shape == (5,) and len(feats) == 4
    assert [f.shape[-1] for f in feats] == [12, 6, 3, 2]
    assert torch.equal(D(torch.zeros(2, 3, 24, 24)), D.features(torch.zeros(2, 3, 24, 24))[0])


def _vgg_file(tmp_path, break_one=False):
    state, cin = {}, 3
    index = 0
    for item in _VGG19:
        if item == "M":
            index += 1
            continue
        state[f"features.{index}.weight"] = torch.randn(item, cin, 3, 3) * 0.05
        state[f"features.{index}.bias"] = torch.zeros(item)
        cin, index = item, index + 2
    state["classifier.0.weight"] = torch.zeros(1)  # the rest of a whole-model dict is ignored
    if break_one:
        state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    path = tmp_path / ("bad.pth" if break_one else "vgg19.pth")
    torch.save(state, path)
    return path


def test_vgg_features_load_torchvision_layout_and_reject_bad_files(tmp_path):
    vgg = VGG19Features(_vgg_file(tmp_path))
    out = vgg(torch.rand(1, 3, 32, 32) * 2 - 1)
    assert out.shape == (1, 512, 2, 2)  # conv5_4 after four poolings
    assert not any(p.requires_grad for p in vgg.parameters())
    with pytest.raises(GanforgeError, match="not found"):
        VGG19Features(tmp_path / "missing.pth")
    with pytest.raises(GanforgeError, match="do not fit"):
        VGG19Features(_vgg_file(tmp_path, break_one=True))
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(GanforgeError, match="not VGG19 weights: a text file"):
        VGG19Features(tmp_path / "junk.pth")


# ---- the family on the trainer -------------------------------------------------------------
def test_two_phases_on_one_trainer():
    config = sr_config(steps=5, sr_pretrain_steps=3)
    trainer = Trainer(config, dataset=tiny_dataset())
    family = trainer.family
    assert [family.train_discriminator(s) for s in range(5)] == [False] * 3 + [True] * 2
    d0 = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
    with trainer._own_rng():
        for _ in range(3):
            trainer.train_step()
    assert all(torch.equal(d0[k], v) for k, v in trainer.discriminator.state_dict().items())
    assert set(trainer._sums) == {"pixel", "psnr_rgb", "g_loss"}
    assert torch.allclose(trainer._sums["g_loss"], trainer._sums["pixel"])
    with trainer._own_rng():
        trainer.train_step()
    assert not all(torch.equal(d0[k], v) for k, v in trainer.discriminator.state_dict().items())
    assert {"d_loss", "g_adv", "perceptual"} <= set(trainer._sums)


def _batch(seed=0):
    torch.manual_seed(seed)
    return tiny_dataset().batch(torch.tensor([0, 1, 2, 0]))


def test_generator_loss_is_the_weighted_sum_of_its_terms():
    config = sr_config(sr_pixel_weight=0.5, sr_perceptual_weight=2.0, sr_adv_weight=0.1)
    config.model.sample_shape = [3, 16, 16]
    family = make_family(config)
    G, D = family.build()
    hr, lr = _batch()
    loss, logs = family.generator_loss(G, D, hr, lr, step=5)
    sr = G(lr)
    pixel = (sr - hr).abs().mean()
    logits, sr_feats = D.features(sr)
    _, hr_feats = D.features(hr)
    perceptual = np.mean(
        [(s - h).abs().mean().item() for s, h in zip(sr_feats, hr_feats, strict=True)]
    )
    adversarial = F.softplus(-logits).mean()  # non-saturating, written out
    expected = 0.5 * pixel + 2.0 * perceptual + 0.1 * adversarial
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert logs["perceptual"].item() == pytest.approx(perceptual, rel=1e-5)
    assert feature_distance([torch.ones(2, 3)], [torch.zeros(2, 3)]).item() == 1.0


def test_relativistic_option_uses_the_esrgan_losses():
    config = sr_config(sr_relativistic=True, sr_perceptual="none", sr_adv_weight=1.0)
    config.family_settings("srgan").pixel_weight = 0.0
    config.model.sample_shape = [3, 16, 16]
    family = make_family(config)
    G, D = family.build()
    hr, lr = _batch(1)
    with torch.no_grad():
        real, fake = D(hr), D(G(lr))
    d_loss, logs = family.discriminator_loss(G, D, hr, lr, 0)
    # Written out: 0.5 * (BCE(real - mean fake, 1) + BCE(fake - mean real, 0)).
    expected = 0.5 * (
        F.binary_cross_entropy_with_logits(real - fake.mean(), torch.ones_like(real))
        + F.binary_cross_entropy_with_logits(fake - real.mean(), torch.zeros_like(fake))
    )
    assert d_loss.item() == pytest.approx(expected.item(), rel=1e-5)
    g_loss, _ = family.generator_loss(G, D, hr, lr, step=10)
    assert g_loss.item() == pytest.approx(
        objectives.relativistic_g_loss(real, fake).item(), rel=1e-5
    )


def test_vgg_perceptual_term_with_local_weights(tmp_path):
    config = sr_config(sr_perceptual="vgg", sr_vgg_weights=str(_vgg_file(tmp_path)))
    config.model.sample_shape = [3, 16, 16]
    family = make_family(config)
    G, D = family.build()
    hr, lr = _batch()
    loss, logs = family.generator_loss(G, D, hr, lr, step=5)
    assert "perceptual" in logs and torch.isfinite(loss)
    loss.backward()
    assert G.conv_first.weight.grad is not None


def test_resume_is_exact(tmp_path):
    from ganforge.run import train

    a = sr_config(tmp_path / "a")
    train(a, quiet=True, dataset=tiny_dataset())
    b = sr_config(tmp_path / "b", steps=3)
    train(b, quiet=True, dataset=tiny_dataset())
    b.train.steps = 6
    train(b, resume=tmp_path / "b" / "run", quiet=True, dataset=tiny_dataset())
    sa = torch.load(tmp_path / "a/run/checkpoints/last.pt", weights_only=True)
    sb = torch.load(tmp_path / "b/run/checkpoints/last.pt", weights_only=True)
    for part in ("generator", "discriminator"):
        for k, v in sa[part].items():
            assert torch.equal(v, sb[part][k]), (part, k)
    assert (tmp_path / "a/run/samples/step_0000006.png").exists()


@pytest.mark.parametrize(
    "change, pattern",
    [
        ({"model": {"scale": 5}}, "unsupported --scale 5"),
        ({"data": {"resolution": 15}}, "multiple of --scale"),
        ({"train": {"sr_perceptual": "vgg"}}, "needs the VGG19 weights"),
        ({"train": {"sr_perceptual": "lpips"}}, "unknown --perceptual"),
        ({"train": {"sr_pixel_loss": "huber"}}, "unknown --pixel-loss"),
        ({"train": {"sr_relativistic": True, "r1_weight": 1.0}}, "not combined"),
        ({"eval": {"every": 10}}, "does not apply to super-resolution"),
    ],
)
def test_bad_settings_are_one_line_errors(change, pattern):
    config = merge(sr_config(), change)
    with pytest.raises(GanforgeError, match=pattern):
        make_family(config)


def test_plain_dataset_and_noise_sampling_are_refused():
    from ganforge.data import load_dataset

    config = sr_config()
    config.data.source = "digits"
    trainer = Trainer(config, dataset=load_dataset("digits", 16))
    with (
        pytest.raises(GanforgeError, match="trains on \\(HR, LR\\) image pairs"),
        trainer._own_rng(),
    ):
        trainer.train_step()
    with pytest.raises(GanforgeError, match="ganforge upscale"):
        trainer.family.sample_latent(4, torch.device("cpu"))


@pytest.mark.parametrize("name", ["photos-srresnet-x4", "photos-srresnet-x2", "photos-srgan-x4"])
def test_sr_presets_build(name):
    from ganforge.presets import get_preset

    config = get_preset(name)
    config.model.sample_shape = [3, config.data.resolution, config.data.resolution]
    family = make_family(config)
    G, D = family.build()
    assert (
        G.scale == config.family_settings("srgan").scale and config.data.resolution % G.scale == 0
    )
    assert family.train_discriminator(config.train.steps - 1) == (name == "photos-srgan-x4")


def test_trainer_without_a_dataset_loads_full_size_sr_data():
    """The family, not the caller, decides how SR data is loaded (HR/LR crop pairs)."""
    from ganforge.data.sr import SRDataset

    trainer = Trainer(sr_config(steps=1))
    assert isinstance(trainer.dataset, SRDataset)
    hr, lr = trainer.dataset.batch(torch.arange(2))
    assert hr.shape[-1] == 2 * lr.shape[-1]
