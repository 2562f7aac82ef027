"""pix2pix and CycleGAN: the nets against the papers, the losses against their formulas written out,
the image pool, exact resume, and the one-line errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganforge.config import Config
from ganforge.data import load_dataset
from ganforge.data.paired import TranslationDataset
from ganforge.errors import GanforgeError
from ganforge.families import make_family
from ganforge.families.cyclegan import ImagePool
from ganforge.nets.layers import crop_box, pad_to_multiple
from ganforge.nets.patchgan import PatchDiscriminator, patch_output_size, receptive_field
from ganforge.nets.resnet_translator import ResidualBlock, ResNetTranslator
from ganforge.nets.unet import UNetGenerator, auto_depth
from ganforge.run import train
from ganforge.sampling import load_generator
from ganforge.training.checkpoint import load_file
from ganforge.training.loop import Trainer
from tests.config_helpers import config_from

torch.set_num_threads(1)


def translation_config(tmp_path=None, family="pix2pix", **sections) -> Config:
    """A tiny translation run: 16x16 edges2digits (pix2pix) or mnist2thick (CycleGAN)."""
    source = "edges2digits" if family == "pix2pix" else "mnist2thick"
    base = {
        "data": {"source": source, "resolution": 16, "limit": 64},
        "model": {
            "family": family,
            "g_width": 4,
            "d_width": 4,
            "patch_layers": 1,
            "resnet_blocks": 1,
        },
        "train": {
            "steps": 6,
            "batch_size": 4,
            "log_every": 2,
            "sample_every": 3,
            "checkpoint_every": 3,
            "ema": 0.9,
            "tensorboard": False,
            "loss": "nonsaturating" if family == "pix2pix" else "lsgan",
            "cycle_pool_size": 6,
        },
    }
    return config_from(base, tmp_path, sections)


def tiny_pairs(paired: bool = True, n: int = 48) -> TranslationDataset:
    """In-memory 16x16 pairs (B random, A = its negative): no data loading in the loop tests."""
    g = torch.Generator().manual_seed(0)
    b = torch.randint(0, 256, (n, 1, 16, 16), generator=g, dtype=torch.uint8)
    return TranslationDataset(b, name="tiny", source=255 - b, paired=paired)


def built(config: Config):
    """(family, G, D) with the shapes filled in as the trainer does."""
    config.model.sample_shape = [1, 16, 16]
    family = make_family(config)
    torch.manual_seed(0)
    G, D = family.build()
    return family, G, D


# ---- networks --------------------------------------------------------------------------------


def test_unet_matches_the_paper_layer_list():
    """Appendix 6.1.1 at 256x256: C64-C128-C256-C512-C512-C512-C512-C512 down, then
    CD512-CD512-CD512-C512-C256-C128-C64 up (D = dropout 0.5), then the image; here with every
    width divided by 8 (width 8 for 64) to keep the test light."""
    g = UNetGenerator(3, 3, width=8, depth=auto_depth(256))
    assert g.depth == 8
    down = [next(m for m in b.modules() if isinstance(m, nn.Conv2d)).out_channels for b in g.down]
    assert [8 * c for c in down] == [64, 128, 256, 512, 512, 512, 512, 512]
    up = [next(m for m in b.modules() if isinstance(m, nn.ConvTranspose2d)) for b in g.up]
    assert [m.out_channels for m in up] == [64, 64, 64, 64, 32, 16, 8, 3]
    assert [8 * m.in_channels for m in up] == [512, 1024, 1024, 1024, 1024, 512, 256, 128]
    dropout = [any(isinstance(m, nn.Dropout) for m in b.modules()) for b in g.up]
    assert dropout == [False, True, True, True, False, False, False, False]
    # no norm on the first and the innermost encoder level
    norms = [any(isinstance(m, nn.BatchNorm2d) for m in b.modules()) for b in g.down]
    assert norms == [False, True, True, True, True, True, True, False]


@pytest.mark.parametrize("size", [(28, 28), (32, 32), (20, 24), (5, 7)])
def test_translators_keep_any_image_size(size):
    x = torch.randn(2, 1, *size)
    for g in (UNetGenerator(1, 1, 4, 5), ResNetTranslator(1, 1, 4, 1)):
        out = g(x)
        assert out.shape == x.shape and out.abs().max() <= 1


def test_unet_skips_connect_each_level():
    """Changing one input pixel of a depth-1 U-Net changes only outputs near it (a 4x4
    conv + 4x4 transposed conv): the skip path and the innermost path are both wired."""
    torch.manual_seed(0)
    g = UNetGenerator(1, 1, 4, 2, norm="none").eval()
    x = torch.zeros(1, 1, 16, 16)
    y = x.clone()
    y[0, 0, 0, 0] = 1.0
    changed = (g(x) - g(y)).abs()[0, 0] > 0
    assert changed[0, 0] and not changed[8:, 8:].any()


def test_resnet_translator_matches_the_paper_layer_list():
    """c7s1-64, d128, d256, R256 x 9, u128, u64, c7s1-3 (appendix 7.2, 256x256)."""
    g = ResNetTranslator(3, 3, 64, 9)
    convs = [m for m in g.net if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert [(m.kernel_size[0], m.stride[0], m.out_channels) for m in convs] == [
        (7, 1, 64),
        (3, 2, 128),
        (3, 2, 256),
        (3, 2, 128),
        (3, 2, 64),
        (7, 1, 3),
    ]
    assert sum(isinstance(m, ResidualBlock) for m in g.net) == 9
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in g.modules()) == 5 + 2 * 9


def test_pad_and_crop_round_trip():
    x = torch.arange(2 * 3 * 5 * 7, dtype=torch.float32).view(2, 3, 5, 7)
    padded, box = pad_to_multiple(x, 4)
    assert padded.shape[-2:] == (8, 8) and torch.equal(crop_box(padded, box), x)


def test_patchgan_receptive_field_is_70_for_three_layers_and_measured():
    assert receptive_field(3) == 70  # the paper's 70x70 PatchGAN
    for n_layers, size in ((1, 48), (2, 64)):
        d = PatchDiscriminator(1, 4, n_layers, norm="none").double()
        x = torch.randn(1, 1, size, size, dtype=torch.double, requires_grad=True)
        out = d(x)
        assert out.shape[-1] == patch_output_size(size, n_layers)
        mid = out.shape[-1] // 2
        (grad,) = torch.autograd.grad(out[0, 0, mid, mid], x)
        rows = grad[0, 0].abs().sum(1).nonzero()
        assert int(rows.max() - rows.min() + 1) == receptive_field(n_layers)


def test_conditional_patchgan_reads_source_and_image():
    d = PatchDiscriminator(2, 4, 1)
    x, y = torch.randn(3, 1, 16, 16), torch.randn(3, 1, 16, 16)
    assert torch.equal(d(x, y), d.net(torch.cat([y, x], 1)))


# ---- losses against their formulas -----------------------------------------------------------


def test_pix2pix_losses_follow_the_paper():
    family, G, D = built(translation_config(family="pix2pix"))
    torch.manual_seed(1)
    a, b = torch.rand(4, 1, 16, 16) * 2 - 1, torch.rand(4, 1, 16, 16) * 2 - 1
    g_loss, logs = family.generator_loss(G, D, b, a, 0)
    fake = G(a)
    adversarial = F.binary_cross_entropy_with_logits(
        D(fake, a), torch.ones_like(D(fake, a))
    )  # non-saturating: -log sigmoid(D(G(a), a))
    expected = adversarial + 100.0 * (fake - b).abs().mean()
    assert torch.allclose(g_loss, expected, atol=1e-5)
    assert torch.allclose(logs["l1"], (fake - b).abs().mean())
    d_loss, _ = family.discriminator_loss(G, D, b, a, 0)
    real_logits, fake_logits = D(b, a), D(G(a).detach(), a)
    bce = F.binary_cross_entropy_with_logits
    expected_d = 0.5 * (
        bce(real_logits, torch.ones_like(real_logits))
        + bce(fake_logits, torch.zeros_like(fake_logits))
    )
    assert torch.allclose(d_loss, expected_d, atol=1e-6)


def test_cyclegan_losses_follow_the_paper():
    config = translation_config(family="cyclegan", train={"cycle_pool_size": 0})
    family, G, D = built(config)
    torch.manual_seed(2)
    a, b = torch.rand(4, 1, 16, 16) * 2 - 1, torch.rand(4, 1, 16, 16) * 2 - 1
    g_loss, logs = family.generator_loss(G, D, b, a, 0)
    g, f = G.a_to_b, G.b_to_a  # the paper's G: A -> B and F: B -> A
    lsgan_g = (D.d_b(g(a)) - 1).pow(2).mean() / 2 + (D.d_a(f(b)) - 1).pow(2).mean() / 2
    cycle = (f(g(a)) - a).abs().mean() + (g(f(b)) - b).abs().mean()
    identity = (g(b) - b).abs().mean() + (f(a) - a).abs().mean()
    expected = lsgan_g + 10 * cycle + 10 * 0.5 * identity
    assert torch.allclose(g_loss, expected, atol=1e-5)
    assert torch.allclose(logs["cycle"], cycle) and torch.allclose(logs["identity"], identity)
    d_loss, logs = family.discriminator_loss(G, D, b, a, 0)

    def lsgan_d(d, real, fake):
        return 0.5 * ((d(real) - 1).pow(2).mean() / 2 + d(fake).pow(2).mean() / 2)

    expected_d = lsgan_d(D.d_a, a, f(b).detach()) + lsgan_d(D.d_b, b, g(a).detach())
    assert torch.allclose(d_loss, expected_d, atol=1e-6)
    assert {"d_loss_a", "d_loss_b", "d_acc_real"} <= logs.keys()


def test_identity_term_off_when_its_weight_is_zero():
    family, G, D = built(translation_config(family="cyclegan", train={"cycle_identity_weight": 0}))
    _, logs = family.generator_loss(G, D, torch.zeros(2, 1, 16, 16), torch.zeros(2, 1, 16, 16), 0)
    assert "identity" not in logs


def test_l1_baseline_never_trains_d():
    config = translation_config(train={"translation_adv_weight": 0.0, "steps": 3})
    trainer = Trainer(config, dataset=tiny_pairs())
    d_before = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
    g_before = [p.clone() for p in trainer.generator.parameters()]
    trainer.fit()
    assert all(torch.equal(v, trainer.discriminator.state_dict()[k]) for k, v in d_before.items())
    assert any(
        not torch.equal(p, q) for p, q in zip(g_before, trainer.generator.parameters(), strict=True)
    )
    family, G, D = built(translation_config(train={"translation_adv_weight": 0.0}))
    assert not family.train_discriminator(0)
    a, b = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    loss, logs = family.generator_loss(G, D, b, a, 0)
    assert torch.allclose(loss, 100 * (G(a) - b).abs().mean())
    assert torch.equal(logs["g_loss"], logs["g_total"])  # what the progress line shows


# ---- the image pool --------------------------------------------------------------------------


def test_image_pool_fills_then_swaps_about_half():
    pool = ImagePool(4)
    torch.manual_seed(0)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: returned as they are
    assert pool.count == 3
    second = torch.arange(3.0, 6.0).view(3, 1, 1, 1)
    out = pool.query(second)
    assert out[0] == 3.0 and pool.count == 4  # the 4th fills the pool
    stored_before = set(pool.images.flatten().tolist())
    swapped = 0
    for step in range(200):
        batch = (100.0 + 10 * step + torch.arange(5.0)).view(5, 1, 1, 1)
        before = set(pool.images.flatten().tolist()) | set(batch.flatten().tolist())
        out = pool.query(batch)
        after = set(pool.images.flatten().tolist()) | set(out.flatten().tolist())
        assert after <= before  # every image returned or kept came from the pool or the batch
        swapped += int((out != batch).sum())
    assert stored_before and 0.4 < swapped / 1000 < 0.6


def test_image_pool_of_size_zero_passes_images_through():
    x = torch.randn(3, 1, 2, 2)
    assert torch.equal(ImagePool(0).query(x), x)


def test_image_pool_state_round_trip_continues_identically():
    pool = ImagePool(3)
    torch.manual_seed(0)
    pool.query(torch.randn(4, 1, 2, 2))
    copy = ImagePool(3)
    copy.load_state_dict(pool.state_dict())
    batch = torch.randn(6, 1, 2, 2)
    state = torch.get_rng_state()
    a = pool.query(batch)
    torch.set_rng_state(state)
    assert torch.equal(copy.query(batch), a) and torch.equal(copy.images, pool.images)


# ---- the one loop: resume, export, sample grids ----------------------------------------------


def _assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("family", ["cyclegan", "pix2pix"])
def test_resume_is_exact(tmp_path, family):
    """2N steps == N steps, then resume for N more: bit-identical weights, EMA and pools."""

    def config(steps, name):
        c = translation_config(tmp_path, family, train={"steps": steps, "checkpoint_every": 0})
        c.name = name
        return c

    data = tiny_pairs(paired=family == "pix2pix")
    full, _ = train(config(8, "full"), quiet=True, dataset=data)
    half, _ = train(config(4, "half"), quiet=True, dataset=data)
    train(config(8, "half"), resume=half, quiet=True, dataset=data)
    a = load_file(full / "checkpoints" / "last.pt")
    b = load_file(half / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] == 8
    for key in ("generator", "discriminator"):
        _assert_same(a[key], b[key])
    _assert_same(a["ema"]["module"], b["ema"]["module"])
    if family == "cyclegan":
        for pool in ("pool_a", "pool_b"):
            assert a["family"][pool]["count"] == 6  # the pool filled and started swapping
            assert torch.equal(a["family"][pool]["images"], b["family"][pool]["images"])
    assert a["history"][-1]["g_total"] == b["history"][-1]["g_total"]


def test_run_exports_a_translator_and_writes_sample_grids(tmp_path):
    config = translation_config(tmp_path, "cyclegan")
    run_dir, summary = train(config, quiet=True, dataset=tiny_pairs(paired=False))
    assert summary["steps"] == 6
    assert sorted(p.name for p in (run_dir / "samples").glob("*.png")) == [
        "step_0000003.png",
        "step_0000006.png",
    ]
    model = load_generator(run_dir)
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    assert torch.equal(model.family.translate(model.module, x, "BtoA"), model.module.b_to_a(x))
    with pytest.raises(GanforgeError, match="translates images instead of sampling noise"):
        model.sample(4)
    with pytest.raises(GanforgeError, match="needs source images to translate"):
        model.sampler()(4)


@pytest.mark.parametrize("family", ["pix2pix", "cyclegan"])
def test_bf16_autocast_and_diffaugment_run(family):
    config = translation_config(
        family=family, train={"precision": "bf16", "diffaugment": "translation,cutout", "steps": 2}
    )
    summary = Trainer(config, dataset=tiny_pairs(family == "pix2pix")).fit()
    assert all(torch.isfinite(torch.tensor(v)) for v in summary["last"].values())


def test_pair_augmentation_keeps_pairs_aligned():
    config = translation_config(train={"diffaugment": "translation,cutout"})
    trainer = Trainer(config, dataset=tiny_pairs())
    family = trainer.family
    seen = []
    judge = family._pair_augment().wrap(lambda x, y: seen.append((x, y)) or x.sum())
    img = torch.rand(8, 1, 16, 16)
    judge(img, img.clone())
    x, y = seen[0]
    assert not torch.equal(x, img) and torch.equal(x, y)  # moved, and moved alike


# ---- bad settings: one line each ---------------------------------------------------------------


def test_pix2pix_refuses_unpaired_data():
    with pytest.raises(GanforgeError, match="pix2pix needs paired data.*--family cyclegan"):
        built(translation_config(family="pix2pix", data={"source": "mnist2thick"}))


def test_translation_family_on_unpaired_labels_data_is_a_one_line_error(mnist_mini):
    config = translation_config(data={"source": "mnist", "resolution": 16, "limit": 8})
    with pytest.raises(GanforgeError, match="pix2pix needs source images with each target") as e:
        Trainer(config).fit()
    assert "\n" not in str(e.value)


def test_only_cyclegan_translates_both_ways():
    family, G, _ = built(translation_config(family="pix2pix"))
    with pytest.raises(GanforgeError, match="translates AtoB only, not BtoA"):
        family.translate(G, torch.zeros(1, 1, 16, 16), "BtoA")
    with pytest.raises(GanforgeError, match="unknown direction 'AB'"):
        family.translate(G, torch.zeros(1, 1, 16, 16), "AB")


@pytest.mark.parametrize(
    "model,match",
    [
        ({"patch_layers": 4}, "PatchGAN with 4 stride-2 layers needs larger images"),
        ({"arch": "mlp"}, "--arch mlp cannot translate images"),
        ({"translation_norm": "group"}, "unknown translation_norm 'group'"),
        ({"minibatch_std": True}, "no minibatch-std"),
    ],
)
def test_bad_model_settings(model, match):
    with pytest.raises(GanforgeError, match=match):
        built(translation_config(model=model))


def test_unet_arch_for_cyclegan_and_resnet_for_pix2pix():
    _, G, _ = built(translation_config(family="cyclegan", model={"arch": "unet"}))
    assert isinstance(G.a_to_b, UNetGenerator)
    _, G, _ = built(translation_config(family="pix2pix", model={"arch": "resnet"}))
    assert isinstance(G, ResNetTranslator)


# ---- learning --------------------------------------------------------------------------------


def test_pix2pix_learns_edges_to_digits_quickly(mnist_mini):
    """60 steps on 16x16 edges2digits (the 500 shipped training digits) halve the held-out L1."""
    config = translation_config(
        data={"limit": 512},
        model={"g_width": 8, "d_width": 8},
        train={"steps": 60, "batch_size": 16, "ema": 0.0, "lr_g": 1e-3},
    )
    test = load_dataset("edges2digits:test", 16, limit=64)
    trainer = Trainer(config)

    def held_out_l1():
        trainer.generator.eval()
        with torch.no_grad():
            b, a = test.batch(torch.arange(64))
            error = (trainer.generator(a) - b).abs().mean().item()
        trainer.generator.train()
        return error

    before = held_out_l1()
    trainer.fit()
    assert held_out_l1() < 0.5 * before
