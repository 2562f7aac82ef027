"""`ganforge translate` and translate(): files, folders, directions, scores, and bad input."""

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from ganforge.apps.translate import (
    load_translator,
    score_translations,
    translate,
    translate_image,
    translator_geometry,
)
from ganforge.cli import main
from ganforge.data.paired import TranslationDataset
from ganforge.errors import GanforgeError
from ganforge.images import to_uint8
from tests.cli_helpers import assert_one_line_error, run_cli

torch.set_num_threads(1)

TINY = ["--resolution", 16, "--g-width", 4, "--d-width", 4, "--patch-layers", 1]
TINY += ["--resnet-blocks", 1, "--batch-size", 4, "--steps", 2, "--log-every", 1]
TINY += ["--sample-every", 2, "--checkpoint-every", 2, "--no-tensorboard", "--quiet"]


def picture(seed: int, size=(16, 16)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)


def write_domain(folder, names, seed=0, size=(16, 16)):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        Image.fromarray(picture(seed + i, size)).save(folder / f"{name}.png")
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny pix2pix run (paired folders) and a tiny CycleGAN run (unpaired folders), by CLI."""
    root = tmp_path_factory.mktemp("translate")
    a = write_domain(root / "A", [f"{i:02d}" for i in range(8)])
    b = write_domain(root / "B", [f"{i:02d}" for i in range(8)], seed=50)
    b_more = write_domain(root / "B5", [f"x{i}" for i in range(5)], seed=90)
    common = [str(x) for x in TINY] + ["--out", str(root)]
    assert (
        main(["train", "--family", "pix2pix", "--data", f"paired:{a},{b}", "--name", "p"] + common)
        == 0
    )
    assert (
        main(
            ["train", "--family", "cyclegan", "--loss", "lsgan", "--data", f"unpaired:{a},{b_more}"]
            + ["--name", "c"]
            + common
        )
        == 0
    )
    return {"pix2pix": root / "p", "cyclegan": root / "c", "A": a, "root": root}


# ---- the Python API ---------------------------------------------------------------------------


def test_translate_matches_the_generators(runs):
    x = torch.rand(3, 1, 16, 16) * 2 - 1
    p2p = load_translator(runs["pix2pix"])
    assert torch.equal(translate(p2p, x), p2p.module(x))
    cyc = load_translator(runs["cyclegan"])
    assert torch.equal(translate(cyc, x, "AtoB"), cyc.module.a_to_b(x))
    assert torch.equal(translate(cyc, x, "BtoA"), cyc.module.b_to_a(x))
    assert not torch.equal(translate(cyc, x, "AtoB"), translate(cyc, x, "BtoA"))


def test_translate_takes_uint8_single_images_and_colour(runs):
    model = load_translator(runs["pix2pix"])
    u8 = torch.from_numpy(picture(3)).unsqueeze(0)  # (1, 16, 16): one grey image
    expected = model.module(u8.float().unsqueeze(0) / 127.5 - 1)
    assert torch.equal(translate(runs["pix2pix"], u8), expected)
    rgb = u8.expand(3, -1, -1).unsqueeze(0)  # grey as RGB: luma brings it back
    assert torch.allclose(translate(model, rgb), expected, atol=1e-5)
    batch = translate(model, torch.rand(130, 1, 16, 16), batch_size=64)  # several batches
    assert batch.shape == (130, 1, 16, 16)


def test_direction_errors(runs):
    with pytest.raises(GanforgeError, match="pix2pix run translates AtoB only, not BtoA"):
        translate(runs["pix2pix"], torch.zeros(1, 1, 16, 16), "BtoA")
    with pytest.raises(GanforgeError, match="unknown direction 'B2A'"):
        translate(runs["cyclegan"], torch.zeros(1, 1, 16, 16), "B2A")


def test_a_gan_run_is_not_a_translator(tmp_path, capsys):
    code = main(
        ["train", "--data", "digits", "--resolution", "8", "--latent-dim", "4", "--g-width", "4"]
        + ["--d-width", "4", "--batch-size", "8", "--steps", "1", "--out", str(tmp_path)]
        + ["--name", "gan", "--no-tensorboard", "--quiet"]
    )
    capsys.readouterr()
    assert code == 0
    with pytest.raises(GanforgeError, match="unconditional run, not an image-translation run"):
        translate(tmp_path / "gan", torch.zeros(1, 1, 8, 8))
    code, _, err = run_cli(capsys, "translate", tmp_path / "gan", runs_png(tmp_path), "-o", "x.png")
    assert_one_line_error(code, err, "not an image-translation run")


def runs_png(folder):
    path = folder / "in.png"
    Image.fromarray(picture(7)).save(path)
    return path


# ---- scores -----------------------------------------------------------------------------------


def test_scores_against_ground_truth_follow_their_formulas(runs):
    model = load_translator(runs["cyclegan"])
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (6, 1, 16, 16), generator=g, dtype=torch.uint8)
    b = torch.randint(0, 256, (6, 1, 16, 16), generator=g, dtype=torch.uint8)
    test = TranslationDataset(b, name="t", source=a)
    scores = score_translations(model, test, "AtoB")
    out = translate(model, a)
    out_u8 = to_uint8(out)[..., 0]  # (N, H, W) uint8, as a saved PNG would be
    truth = b[:, 0].numpy()
    assert scores["n"] == 6
    assert scores["l1"] == pytest.approx(np.abs((out.numpy()[:, 0] + 1) / 2 - truth / 255).mean())
    psnrs = [
        peak_signal_noise_ratio(t, o, data_range=255) for t, o in zip(truth, out_u8, strict=True)
    ]
    assert scores["psnr"] == pytest.approx(np.mean(psnrs), rel=1e-6)
    back = translate(model, out, "BtoA")
    assert scores["cycle_l1"] == pytest.approx(
        float(((back + 1) / 2 - a.float() / 255).abs().mean())
    )
    assert 0 < scores["sharpness"]


def test_scores_need_paired_ground_truth(runs):
    unpaired = TranslationDataset(
        torch.zeros(2, 1, 16, 16, dtype=torch.uint8),
        name="u",
        source=torch.zeros(3, 1, 16, 16, dtype=torch.uint8),
        paired=False,
    )
    with pytest.raises(GanforgeError, match="scores need paired ground truth"):
        score_translations(runs["cyclegan"], unpaired)


def test_digit_scores_use_the_mnist_classifier(runs):
    from ganforge.metrics.features import get_extractor

    model = load_translator(runs["pix2pix"])
    digits = torch.zeros(4, 1, 16, 16, dtype=torch.uint8)
    classes = torch.tensor([1, 2, 3, 4])
    test = TranslationDataset(digits, name="d", source=digits, meta={"source_classes": classes})
    scores = score_translations(model, test)
    _, logits = get_extractor("mnist")(translate(model, digits))
    assert scores["class_accuracy"] == pytest.approx(
        float((logits.argmax(1) == classes).float().mean())
    )
    assert "fid" in scores and "truth_class_accuracy" in scores


# ---- the command line -------------------------------------------------------------------------


def test_cli_translates_a_file_to_a_file_and_into_a_folder(runs, tmp_path, capsys):
    source = runs["A"] / "03.png"
    code, out, _ = run_cli(capsys, "translate", runs["pix2pix"], source, "-o", tmp_path / "o.png")
    assert code == 0 and "translated 1 image(s) AtoB" in out
    written = np.array(Image.open(tmp_path / "o.png"))
    expected = to_uint8(translate(runs["pix2pix"], torch.from_numpy(picture(3))[None]))[0, ..., 0]
    assert np.array_equal(written, expected)
    code, _, _ = run_cli(
        capsys, "translate", runs["cyclegan"], source, "-o", tmp_path / "dir", "--direction", "BtoA"
    )
    assert code == 0 and (tmp_path / "dir" / "03.png").is_file()


def test_cli_translates_a_folder_keeping_sub_paths_sizes_and_formats(runs, tmp_path, capsys):
    inputs = tmp_path / "in"
    write_domain(inputs / "sub", ["x"], seed=5, size=(32, 40))  # any size: kept as it is
    write_domain(inputs, ["y"], seed=6)
    Image.fromarray(picture(8, (20, 24))).save(inputs / "z.jpg")
    code, out, _ = run_cli(capsys, "translate", runs["cyclegan"], inputs, "-o", tmp_path / "out")
    assert code == 0 and "translated 3 image(s)" in out
    assert sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*")
    ) == ["sub/x.png", "y.png", "z.jpg"]
    with Image.open(tmp_path / "out" / "sub" / "x.png") as im:
        assert im.size == (40, 32) and im.format == "PNG"
        expected = translate_image(runs["cyclegan"], torch.from_numpy(picture(5, (32, 40)))[None])
        assert np.array_equal(np.array(im), to_uint8(expected)[0, ..., 0])
    with Image.open(tmp_path / "out" / "z.jpg") as im:
        assert im.size == (24, 20) and im.format == "JPEG"


def odd_picture(tmp_path, suffix: str) -> tuple[np.ndarray, object]:
    """A 97 x 61 (W x H) grey picture with structure (a ramp plus noise), saved with `suffix`."""
    ramp = np.linspace(0, 200, 97)[None, :] + np.linspace(0, 40, 61)[:, None]
    pixels = np.clip(ramp + picture(11, (61, 97)) * 0.2, 0, 255).astype(np.uint8)
    path = tmp_path / f"odd{suffix}"
    Image.fromarray(pixels).save(path)
    return pixels, path


@pytest.mark.parametrize("kind", ["pix2pix", "cyclegan"])
def test_cli_keeps_a_non_square_odd_size_and_the_jpeg_format(runs, tmp_path, capsys, kind):
    _, source = odd_picture(tmp_path, ".jpg")
    code, out, _ = run_cli(capsys, "translate", runs[kind], source, "-o", tmp_path / "res")
    assert code == 0, out
    with Image.open(tmp_path / "res" / "odd.jpg") as im:
        assert (im.size, im.format) == ((97, 61), "JPEG")
    with Image.open(source) as im:  # decoded as translate decodes it
        decoded = torch.from_numpy(np.array(im))[None]
    expected = to_uint8(translate_image(runs[kind], decoded))[0, ..., 0].astype(int)
    with Image.open(tmp_path / "res" / "odd.jpg") as im:
        written = np.array(im).astype(int)
    assert np.abs(written - expected).mean() < 3  # JPEG at quality 95: close, not exact


def test_png_output_of_an_odd_size_is_the_whole_image_translation(runs, tmp_path, capsys):
    pixels, source = odd_picture(tmp_path, ".png")
    code, _, _ = run_cli(capsys, "translate", runs["pix2pix"], source, "-o", tmp_path / "o.png")
    assert code == 0
    model = load_translator(runs["pix2pix"])
    whole = model.module(torch.from_numpy(pixels)[None, None].float() / 127.5 - 1)
    assert whole.shape[-2:] == (61, 97)  # the U-Net pads and crops back: any size works
    assert np.array_equal(np.array(Image.open(tmp_path / "o.png")), to_uint8(whole)[0, ..., 0])


def test_tiles_with_enough_context_give_the_whole_image_result(runs):
    pixels = torch.from_numpy(picture(12, (61, 97)))[None]
    model = load_translator(runs["pix2pix"])  # batch norm (eval): pointwise, so tiles are exact
    stride, radius = translator_geometry(model.module)
    assert stride == 16 and radius >= 45  # depth 4; gradient probes reach 45 pixels
    whole = translate_image(model, pixels, tile=0)
    tiled = translate_image(model, pixels, tile=24, overlap=4)  # context: the radius
    assert tiled.shape == whole.shape == (1, 1, 61, 97)
    assert torch.allclose(tiled, whole, atol=1e-5)
    rough = translate_image(model, pixels, tile=24, overlap=4, context=0)
    assert not torch.allclose(rough, whole, atol=1e-3)  # the test can fail: context matters
    cyc = load_translator(runs["cyclegan"])
    assert translate_image(cyc, pixels, "BtoA", tile=32, overlap=8).shape == (1, 1, 61, 97)


def test_cli_translate_errors_are_one_line(runs, tmp_path, capsys):
    code, _, err = run_cli(
        capsys, "translate", runs["pix2pix"], tmp_path / "nope.png", "-o", "x.png"
    )
    assert_one_line_error(code, err, "input not found")
    code, _, err = run_cli(
        capsys,
        "translate",
        runs["pix2pix"],
        runs["A"] / "00.png",
        "-o",
        "x.png",
        "--direction",
        "BtoA",
    )
    assert_one_line_error(code, err, "translates AtoB only, not BtoA")
    (tmp_path / "file.png").write_bytes(b"")
    code, _, err = run_cli(
        capsys, "translate", runs["pix2pix"], runs["A"], "-o", tmp_path / "file.png"
    )
    assert_one_line_error(code, err, "needs an output folder")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    code, _, err = run_cli(
        capsys, "translate", runs["pix2pix"], tmp_path / "broken.png", "-o", "x.png"
    )
    assert_one_line_error(code, err, "cannot read the image")
    code, _, err = run_cli(capsys, "sample", runs["cyclegan"], "-o", tmp_path / "s.png")
    assert_one_line_error(code, err, "use `ganforge translate RUN INPUT -o OUTPUT`")


def test_cli_train_errors_on_bad_translation_data(tmp_path, capsys):
    a = write_domain(tmp_path / "A", ["1", "2", "3", "4", "5"])
    b = write_domain(tmp_path / "B", ["1", "9"])
    base = ["train", "--family", "pix2pix", *TINY, "--out", tmp_path]
    code, _, err = run_cli(capsys, *base, "--data", f"paired:{a},{b}")
    assert_one_line_error(code, err, r"4 in A without a partner in B \(2, 3, 4 and 1 more\)")
    (tmp_path / "E").mkdir()
    code, _, err = run_cli(capsys, *base, "--data", f"unpaired:{a},{tmp_path / 'E'}")
    assert_one_line_error(code, err, "domain B: no image files found")
    c = write_domain(tmp_path / "C", ["1"], size=(16, 20))
    code, _, err = run_cli(capsys, *base, "--data", f"paired:{tmp_path / 'A1'},{c}")
    assert_one_line_error(code, err, "image folder not found")
    write_domain(tmp_path / "A1", ["1"], size=(16, 16))
    code, _, err = run_cli(capsys, *base, "--data", f"paired:{tmp_path / 'A1'},{c}")
    assert_one_line_error(code, err, r"differ in size \(1 16x16 vs 20x16\)")


def test_presets_are_listed(capsys):
    code, out, _ = run_cli(capsys, "presets")
    for name in ("edges2digits-pix2pix", "edges2digits-l1", "mnist2thick-cyclegan"):
        assert name in out
