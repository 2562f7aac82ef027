"""The conditional family: labels reach G and D, AC-GAN learns to classify, sampling by class."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.config import Config, merge
from ganforge.errors import GanforgeError
from ganforge.families import make_family
from ganforge.families.conditional import ConditionalFamily
from ganforge.nets.layers import ConditionalBatchNorm2d
from ganforge.run import train
from ganforge.sampling import generate, load_generator
from ganforge.training.checkpoint import load_file
from ganforge.training.loop import Trainer
from tests.cli_helpers import assert_one_line_error, run_cli, train_tiny


def model_config(arch="dcgan", shape=(1, 8, 8), k=10, **model) -> Config:
    """A tiny conditional ModelConfig with the data-dependent fields filled in."""
    base = {"family": "conditional", "arch": arch, "latent_dim": 8, "g_width": 8, "d_width": 8}
    config = merge(Config(), {"model": {**base, **model}})
    config.model.sample_shape, config.model.num_classes = list(shape), k
    config.model.class_names = [str(i) for i in range(k)]
    return config


def conditional(tiny, **model):
    return tiny(model={"family": "conditional", **model})


@pytest.mark.parametrize(
    "arch,shape,g_conditioning",
    [("dcgan", (1, 8, 8), "embed"), ("dcgan", (1, 8, 8), "cbn"), ("mlp", (2,), "embed")],
)
def test_generator_output_depends_on_the_label(arch, shape, g_conditioning):
    torch.manual_seed(0)
    G, _ = ConditionalFamily(model_config(arch, shape, g_conditioning=g_conditioning)).build()
    if g_conditioning == "cbn":  # CBN starts as plain BN: give each class its own scale
        for m in G.modules():
            if isinstance(m, ConditionalBatchNorm2d):
                torch.nn.init.normal_(m.gamma.weight, 1.0, 0.5)
    G.eval()
    z = torch.randn(4, 8)
    a, b = G(z, torch.zeros(4, dtype=torch.long)), G(z, torch.ones(4, dtype=torch.long))
    assert a.shape == (4, *shape)
    assert (a - b).abs().amax() > 1e-3
    assert torch.equal(a, G(z, torch.zeros(4, dtype=torch.long)))
    with pytest.raises(ValueError, match="needs class labels"):
        G(z)


@pytest.mark.parametrize("arch,shape", [("dcgan", (1, 8, 8)), ("mlp", (2,))])
def test_projection_discriminator_adds_the_class_embedding_dot_features(arch, shape):
    """D(x, y1) - D(x, y0) = <V[y1] - V[y0], phi(x)> (Miyato & Koyama 2018, eq. 3)."""
    torch.manual_seed(0)
    _, D = ConditionalFamily(model_config(arch, shape)).build()
    D.eval()
    x = torch.randn(5, *shape)
    y0, y1 = torch.zeros(5, dtype=torch.long), torch.full((5,), 3)
    phi = D.trunk(x).flatten(1)
    expected = ((D.embed.weight[3] - D.embed.weight[0]) * phi).sum(1)
    difference = D(x, y1) - D(x, y0)
    assert difference.abs().amax() > 1e-4
    torch.testing.assert_close(difference, expected, rtol=1e-4, atol=1e-6)
    assert D(x, y0).shape == (5,)


def test_acgan_discriminator_ignores_y_and_has_a_class_head():
    torch.manual_seed(0)
    _, D = ConditionalFamily(model_config(conditioning="acgan")).build()
    D.eval()
    x = torch.randn(3, 1, 8, 8)
    a, b = D(x, torch.zeros(3, dtype=torch.long)), D(x, torch.full((3,), 7))
    assert torch.equal(a, b)
    logits, classes = D.forward_with_classes(x)
    assert logits.shape == (3,) and classes.shape == (3, 10)
    torch.testing.assert_close(logits, a)


def test_conditional_batchnorm_is_batchnorm_with_per_class_affine():
    torch.manual_seed(0)
    cbn = ConditionalBatchNorm2d(3, num_classes=4)
    x = torch.randn(6, 3, 5, 5)
    y = torch.tensor([0, 1, 2, 3, 1, 0])
    mean = x.mean((0, 2, 3), keepdim=True)
    var = x.var((0, 2, 3), unbiased=False, keepdim=True)
    normalised = (x - mean) / torch.sqrt(var + 1e-5)
    torch.testing.assert_close(cbn(x, y), normalised, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        cbn.gamma.weight[1] = torch.tensor([2.0, 3.0, 4.0])
        cbn.beta.weight[1] = torch.tensor([1.0, 0.0, -1.0])
    out = cbn(x, y)
    gamma, beta = (
        torch.tensor([2.0, 3.0, 4.0]).view(3, 1, 1),
        torch.tensor([1.0, 0, -1]).view(3, 1, 1),
    )
    torch.testing.assert_close(out[1], gamma * normalised[1] + beta, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out[0], normalised[0], rtol=1e-4, atol=1e-5)


def test_training_moves_each_class_s_batchnorm_scale_apart(tiny):
    trainer = Trainer(conditional(tiny, g_conditioning="cbn"))
    trainer.fit()
    cbn = [m for m in trainer.generator.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert cbn and all(m.gamma.weight.std(0).amax() > 0 for m in cbn)


def test_acgan_classifier_loss_falls_on_a_tiny_task(tiny):
    """The auxiliary classifier learns the digits: its cross-entropy drops well below log(10)."""
    config = conditional(
        tiny,
        conditioning="acgan",
        g_conditioning="embed",
        d_width=16,
    )
    config.train.steps, config.train.log_every, config.train.ema = 100, 20, 0.0
    config.train.lr_d = config.train.lr_g = 2e-3  # a fast rate keeps the test short
    trainer = Trainer(config)
    trainer.fit()
    ac = [h["d_ac_loss"] for h in trainer.history]
    assert ac[0] > 1.8  # chance is log(10) = 2.30
    assert ac[-1] < 0.4 * ac[0], ac
    assert trainer.history[-1]["d_ac_acc_real"] > 0.75
    assert "g_ac_loss" in trainer.history[-1]


@pytest.mark.parametrize("conditioning", ["projection", "acgan"])
def test_regularisers_and_diffaugment_run_with_labels(tiny, conditioning):
    config = conditional(tiny, conditioning=conditioning)
    config.train.gp_weight, config.train.r1_weight, config.train.r1_every = 1.0, 1.0, 2
    config.train.diffaugment = "translation,cutout"
    trainer = Trainer(config)
    trainer.fit()
    last = trainer.history[-1]
    assert {"gp", "r1"} <= last.keys()
    assert all(math.isfinite(v) for v in last.values())


def test_resume_is_exact_for_the_conditional_family(tiny):
    full = conditional(tiny, conditioning="acgan")
    full.train.steps, full.name = 8, "full"
    run_full, _ = train(full, quiet=True)
    half = conditional(tiny, conditioning="acgan")
    half.train.steps, half.name = 4, "half"
    run_half, _ = train(half, quiet=True)
    more = conditional(tiny, conditioning="acgan")
    more.train.steps, more.name = 8, "half"
    train(more, resume=run_half, quiet=True)
    a = load_file(run_full / "checkpoints" / "last.pt")
    b = load_file(run_half / "checkpoints" / "last.pt")
    for key in ("generator", "discriminator"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), name


def test_fakes_in_both_steps_use_the_batch_labels():
    """The documented choice: G(z, y) with the y of the batch in hand, in the D and the G step."""
    config = model_config()
    family = make_family(config)
    seen = []

    class G(torch.nn.Module):
        def forward(self, z, y):
            seen.append(y.clone())
            return torch.zeros(len(z), 1, 8, 8, requires_grad=True)

    class D(torch.nn.Module):
        def forward(self, x, y=None):
            return x.flatten(1).sum(1) * 0 + y.float()

    y = torch.tensor([3, 1, 4, 1, 5])
    real = torch.zeros(5, 1, 8, 8)
    family.discriminator_loss(G(), D(), real, y, 0)
    family.generator_loss(G(), D(), real, y, 0)
    assert len(seen) == 2 and all(torch.equal(s, y) for s in seen)


def test_mode_seeking_loss_is_the_msgan_formula():
    """1 / (mean|G(z1) - G(z2)| / mean|z1 - z2| + 1e-5), the halves of the batch paired."""
    from ganforge.families.conditional import mode_seeking_loss

    fake = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.5, -0.5], [1.0, 3.0]])
    z = torch.tensor([[0.0], [0.0], [2.0], [4.0]])
    image_distance = (0.5 + 0.5 + 0.0 + 2.0) / 4
    noise_distance = (2.0 + 4.0) / 2
    expected = 1 / (image_distance / noise_distance + 1e-5)
    assert mode_seeking_loss(fake, z).item() == pytest.approx(expected, rel=1e-6)
    # Identical images for different noise: the loss is as large as it gets, 1 / eps.
    assert mode_seeking_loss(torch.ones(4, 2), z).item() == pytest.approx(1e5)


def test_mode_seeking_pairs_the_labels_of_the_generator_batch():
    config = model_config(mode_seeking=2.0)
    family = make_family(config)
    seen = []

    class G(torch.nn.Module):
        def forward(self, z, y):
            seen.append(y.clone())
            return z[:, :1, None, None].expand(-1, 1, 8, 8) * 1.0

    class D(torch.nn.Module):
        def forward(self, x, y=None):
            return x.flatten(1).mean(1)

    y = torch.tensor([3, 1, 4, 1, 5])
    loss, logs = family.generator_loss(G(), D(), torch.zeros(5, 1, 8, 8), y, 0)
    assert torch.equal(seen[0], torch.tensor([3, 1, 3, 1]))
    assert logs["g_ms_loss"] > 0
    torch.testing.assert_close(loss, logs["g_loss"] + 2.0 * logs["g_ms_loss"])


def test_sample_grid_has_one_column_per_class(tiny):
    run_dir, _ = train(conditional(tiny), quiet=True)
    grid = Image.open(run_dir / "samples" / "step_0000006.png")
    assert grid.size == (10 * 10 + 2, math.ceil(64 / 10) * 10 + 2)


@pytest.mark.parametrize(
    "model,pattern",
    [
        ({"conditioning": "bogus"}, "unknown conditioning 'bogus'"),
        ({"g_conditioning": "film"}, "unknown generator conditioning 'film'"),
        ({"arch": "mlp", "g_conditioning": "cbn"}, "conditional BatchNorm needs the dcgan"),
        ({"pack": 2}, "PacGAN packing cannot carry class labels"),
    ],
)
def test_bad_settings_are_one_line_errors(tiny, model, pattern):
    with pytest.raises(GanforgeError, match=pattern):
        Trainer(conditional(tiny, **model))


def test_unlabelled_data_is_refused(tiny, tmp_path):
    folder = tmp_path / "flat"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"{i}.png")
    config = conditional(tiny)
    config.data.source = f"folder:{folder}"
    with pytest.raises(GanforgeError, match="needs labelled data"):
        Trainer(config)


# ---- sampling by class: the Python API and `ganforge sample` ---------------------------------


@pytest.fixture
def urun(tmp_path, capsys):
    code, _, err = train_tiny(capsys, tmp_path, "--name", "u")
    assert code == 0, err
    return tmp_path / "u"


def test_generate_takes_indices_or_names(crun):
    model = load_generator(crun)
    assert model.class_names == [str(i) for i in range(10)]
    x = generate(crun, [3, "3", 7])
    assert x.shape == (3, 1, 8, 8) and x.min() >= -1 and x.max() <= 1
    # Same seed, same noise: the two "3"s differ only through their noise, not their label.
    same = generate(model, torch.tensor([3, 3, 7]))
    torch.testing.assert_close(x, same)
    other = generate(model, [4, 4, 4])
    assert not torch.allclose(x[0], other[0])


def test_sample_class_writes_that_class(crun, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "sample", crun, "--class", 3, "-n", 6, "-o", tmp_path / "t.npy")
    assert code == 0 and "wrote 6 samples" in out
    threes = np.load(tmp_path / "t.npy")
    np.testing.assert_allclose(threes, generate(crun, [3] * 6).numpy(), atol=1e-6)
    run_cli(capsys, "sample", crun, "--class", 4, "-n", 6, "-o", tmp_path / "f.npy")
    assert not np.allclose(threes, np.load(tmp_path / "f.npy"))


def test_per_class_grid_has_one_named_row_per_class(crun, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "sample", crun, "--per-class", 2, "-o", tmp_path / "g.png")
    assert code == 0 and "wrote 20 samples" in out
    grid = Image.open(tmp_path / "g.png")
    margin = 8 + 7 * 1  # row names are one character wide ("0" ... "9")
    assert grid.size == (margin + 2 * 10 + 2, 10 * 10 + 2)
    names = np.asarray(grid)[:, :margin]  # dark text on white, one name per 10-pixel row
    assert all(names[10 * r + 2 : 10 * r + 12].min() < 128 for r in range(10))
    code, out, _ = run_cli(
        capsys,
        "sample",
        crun,
        "--per-class",
        3,
        "--class",
        3,
        "--class",
        7,
        "-o",
        tmp_path / "h.png",
    )
    assert code == 0 and "wrote 6 samples" in out
    assert Image.open(tmp_path / "h.png").size == (margin + 3 * 10 + 2, 2 * 10 + 2)
    code, _, _ = run_cli(capsys, "sample", crun, "--per-class", 2, "-o", tmp_path / "p.npy")
    array = np.load(tmp_path / "p.npy")
    assert array.shape == (20, 1, 8, 8)
    grouped = generate(crun, [c for c in range(10) for _ in range(2)])  # rows = classes
    np.testing.assert_allclose(array, grouped.numpy(), atol=1e-6)


def test_class_names_come_from_the_folder_names(tmp_path, capsys):
    root = tmp_path / "pets"
    for name, value in (("cat", 30), ("dog", 200)):
        (root / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.full((8, 8), value + i, np.uint8)).save(root / name / f"{i}.png")
    code, _, err = train_tiny(
        capsys, tmp_path, "--family", "conditional", "--data", f"folder:{root}", "--name", "pets"
    )
    assert code == 0, err
    model = load_generator(tmp_path / "pets")
    assert model.class_names == ["cat", "dog"]
    assert model.class_index("dog") == 1 and model.class_index(0) == 0
    code, _, _ = run_cli(
        capsys, "sample", tmp_path / "pets", "--per-class", 2, "-o", tmp_path / "p.png"
    )
    margin = 8 + 7 * 3
    assert code == 0 and Image.open(tmp_path / "p.png").size == (margin + 22, 22)
    code, _, err = run_cli(
        capsys, "sample", tmp_path / "pets", "--class", "bird", "-o", tmp_path / "b.png"
    )
    assert_one_line_error(code, err, r"class 'bird' is not in this run, .*classes: cat, dog")


@pytest.mark.parametrize(
    "argv,pattern",
    [
        (["--class", 12], r"class 12 is out of range \(10 classes\).*from 0 to 9"),
        (["--class", -1], r"class -1 is out of range"),
        (["--class", "seven"], r"class 'seven' is not in this run.*classes: 0, 1, 2"),
        (["--per-class", 0], r"--per-class must be positive, got 0"),
    ],
)
def test_sample_bad_class_is_a_one_line_error(crun, tmp_path, capsys, argv, pattern):
    code, _, err = run_cli(capsys, "sample", crun, *argv, "-o", tmp_path / "x.png")
    assert_one_line_error(code, err, pattern)


@pytest.mark.parametrize("argv", [["--per-class", 2], ["--class", 3]])
def test_sampling_an_unconditional_run_by_class_is_refused(urun, tmp_path, capsys, argv):
    code, _, err = run_cli(capsys, "sample", urun, *argv, "-o", tmp_path / "x.png")
    assert_one_line_error(code, err, "this run is unconditional: it cannot sample by class")


def test_out_of_range_labels_in_the_api_are_one_line_errors(crun):
    with pytest.raises(GanforgeError, match="class 10 is out of range"):
        generate(crun, torch.tensor([1, 10]))


def test_empty_class_folder_is_a_one_line_error(tmp_path, capsys):
    root = tmp_path / "data"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "a" / "0.png")
    code, _, err = train_tiny(
        capsys, tmp_path, "--family", "conditional", "--data", f"folder:{root}"
    )
    assert_one_line_error(code, err, "class folder 'b' has no image files")


def test_info_names_the_family(crun, capsys):
    code, out, _ = run_cli(capsys, "info", crun, "--json")
    assert code == 0 and json.loads(out)["family"] == "conditional"


@pytest.mark.slow
def test_ring_cgan_puts_each_label_on_its_own_mode(tmp_path):
    """ring-cgan: every label's samples land on that label's mode (within 3 std)."""
    from ganforge.data.toys import RING_STD, ring_centers
    from ganforge.presets import get_preset

    config = get_preset("ring-cgan")
    config.out, config.name, config.train.tensorboard = str(tmp_path), "ring", False
    run_dir, _ = train(config, quiet=True)
    model = load_generator(run_dir)
    labels = torch.arange(8).repeat_interleave(500)
    points = model.sample(len(labels), seed=1, labels=labels)
    dist, nearest = torch.cdist(points, ring_centers()).min(1)
    for k in range(8):
        mine = labels == k
        assert (nearest[mine] == k).float().mean() > 0.99, k
        assert (dist[mine] <= 3 * RING_STD).float().mean() > 0.9, k
        assert points[mine].std(0).mean() > 0.5 * RING_STD, k  # a cloud, not one point
