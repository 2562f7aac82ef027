"""`ganforge augment` / export_dataset: layout, labels.csv, the classifier filter, bad input."""

import csv
import re

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.apps.augment import conditional_accuracy, export_dataset, label_checker
from ganforge.errors import GanforgeError
from ganforge.images import to_uint8
from ganforge.sampling import load_generator
from tests.cli_helpers import assert_one_line_error, run_cli, train_tiny


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_layout_and_labels_csv(crun, tmp_path, capsys):
    out = tmp_path / "synthetic"
    code, stdout, _ = run_cli(capsys, "augment", crun, "--per-class", 3, "-o", out)
    assert code == 0 and "wrote 30 images (10 classes)" in stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [str(i) for i in range(10)] + ["labels.csv"]
    )
    for c in range(10):
        names = sorted(p.name for p in (out / str(c)).iterdir())
        assert names == ["000000.png", "000001.png", "000002.png"]
    rows = read_csv(out / "labels.csv")
    assert rows[0] == ["path", "label", "class"] and len(rows) == 31
    for path, label, name in rows[1:]:
        assert path.split("/")[0] == name == label  # MNIST-like: names are the digits
        image = Image.open(out / path)
        assert image.size == (8, 8) and image.mode == "L"
    # The files hold exactly what the generator makes for that class, seed for seed.
    model = load_generator(crun)
    g = torch.Generator().manual_seed(0)
    first = model.sample(3, labels=torch.zeros(3, dtype=torch.long), generator=g)
    on_disk = np.stack([np.asarray(Image.open(out / "0" / f"00000{i}.png")) for i in range(3)])
    np.testing.assert_array_equal(on_disk, to_uint8(first)[..., 0])


def test_selected_classes_only(crun, tmp_path, capsys):
    out = tmp_path / "two"
    code, _, _ = run_cli(
        capsys, "augment", crun, "--per-class", 2, "--class", 5, "--class", 2, "-o", out
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["2", "5", "labels.csv"]
    assert [row[1] for row in read_csv(out / "labels.csv")[1:]] == ["5", "5", "2", "2"]


def test_filter_keeps_only_confident_samples_and_counts_rejections(crun, tmp_path):
    decisions = []  # (accepted, image) in the order the filter saw them

    def stub(images):
        """Sure of class 4 for the brighter half of each batch, else leaning to class 5."""
        score = images.flatten(1).mean(1)
        accepted = score > score.median()
        logits = torch.full((len(images), 10), -10.0)
        logits[:, 4] = torch.where(accepted, 5.0, 0.0)
        logits[:, 5] = torch.where(accepted, 0.0, 1.0)
        decisions.extend((bool(a), img.clone()) for a, img in zip(accepted, images, strict=True))
        return logits

    out = tmp_path / "filtered"
    report = export_dataset(crun, out, per_class=5, classes=["4"], filter=True, classifier=stub)
    (count,) = report.classes
    assert count.name == "4" and count.kept == 5
    assert count.rejected == sum(not a for a, _ in decisions) > 0
    kept = [img for a, img in decisions if a][:5]
    on_disk = [np.asarray(Image.open(out / "4" / f"{i:06d}.png")) for i in range(5)]
    np.testing.assert_array_equal(np.stack(on_disk), to_uint8(torch.stack(kept))[..., 0])
    assert len(read_csv(out / "labels.csv")) == 6
    share = 100 * count.rejected / (count.rejected + 5)
    assert f"class 4  kept 5  rejected {count.rejected} ({share:.1f}%)" in report.lines()


def test_filter_gives_up_after_max_draws_and_says_so(crun, tmp_path):
    def never(images):  # always sure it is class 0
        logits = torch.full((len(images), 10), -10.0)
        logits[:, 0] = 10.0
        return logits

    report = export_dataset(
        crun,
        tmp_path / "o",
        per_class=4,
        classes=[0, 3],
        filter=True,
        classifier=never,
        max_draws=3,
    )
    zero, three = report.classes
    assert (zero.kept, zero.rejected) == (4, 0)
    assert (three.kept, three.rejected) == (0, 12)
    assert not (tmp_path / "o" / "3").exists() or not any((tmp_path / "o" / "3").iterdir())
    assert any("kept 0 of 4 (gave up)  rejected 12 (100.0%)" in line for line in report.lines())
    failure = report.failure()
    assert failure is not None and failure.exit_code == 1
    assert "fewer than 4 images for 1 of 2 classes: 3 (0)" in str(failure)


def test_a_filtered_export_that_falls_short_exits_non_zero(crun, tmp_path, capsys):
    """An untrained G's samples are not recognised: the CLI says the dataset is incomplete."""
    out = tmp_path / "short"
    code, stdout, err = run_cli(
        capsys, "augment", crun, "--per-class", 3, "-o", out, "--filter", "--threshold", 0.999
    )
    assert code == 1, (stdout, err)
    assert "(gave up)" in stdout  # the per-class table is still printed
    (line,) = err.strip().splitlines()
    assert line.startswith("ganforge: error: the filter kept fewer than 3 images for ")
    assert "dataset is incomplete" in line and str(out) in line and "--threshold" in line
    assert (out / "labels.csv").is_file()  # what was kept stays, as the line says


def test_a_full_filtered_export_exits_zero(crun, tmp_path):
    def always_zero(images):
        logits = torch.full((len(images), 10), -10.0)
        logits[:, 0] = 10.0
        return logits

    report = export_dataset(
        crun, tmp_path / "o", per_class=2, classes=[0], filter=True, classifier=always_zero
    )
    assert report.failure() is None and report.total == 2


def test_filter_with_the_mnist_classifier_through_the_cli(crun, tmp_path, capsys):
    out = tmp_path / "f"
    code, stdout, err = run_cli(
        capsys, "augment", crun, "--per-class", 2, "-o", out, "--filter", "--threshold", 0.0
    )
    # a 4-step G makes few recognisable digits: the export falls short and says so (exit 1)
    assert code in (0, 1), err
    assert (code == 1) == ("(gave up)" in stdout)
    lines = stdout.strip().splitlines()
    assert "mnist classifier" in lines[1]
    counts = [re.search(r"class (\d)\s+kept (\d+).*rejected (\d+)", line) for line in lines[2:]]
    assert [m.group(1) for m in counts] == [str(i) for i in range(10)]
    rows = read_csv(out / "labels.csv")[1:]
    assert len(rows) == sum(int(m.group(2)) for m in counts)
    # Every kept image is one the classifier puts in its own class.
    checker = label_checker("mnist", [str(i) for i in range(10)])
    images = torch.stack(
        [torch.from_numpy(np.asarray(Image.open(out / p), np.float32)) for p, _, _ in rows]
    )
    labels = torch.tensor([int(label) for _, label, _ in rows])
    agrees, _ = checker.check(images[:, None] / 127.5 - 1, labels)
    assert agrees.float().mean() > 0.9  # PNG rounding may move a borderline sample


def export_onnx(net, path, shape=(1, 8, 8), batch=None):
    """torch.onnx.export with the TorchScript exporter (no onnxscript needed, works offline);
    a dynamic batch axis unless ``batch`` fixes it."""
    import warnings

    example = torch.zeros(batch or 2, *shape)
    dynamic = None if batch else {"images": {0: "batch"}, "logits": {0: "batch"}}
    with warnings.catch_warnings():  # "legacy TorchScript-based ONNX export"
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (example,),
            str(path),
            dynamo=False,
            input_names=["images"],
            output_names=["logits"],
            dynamic_axes=dynamic,
        )
    return path


def random_classifier(classes=10, pixels=64, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(pixels, classes)).eval()


def test_an_onnx_classifier_filters_as_the_torch_model_does(crun, tmp_path):
    pytest.importorskip("onnxruntime")
    net = random_classifier()
    path = export_onnx(net, tmp_path / "clf.onnx")
    kwargs = dict(per_class=3, classes=[2, 7, 0], filter=True, threshold=0.0, max_draws=3)
    by_onnx = export_dataset(crun, tmp_path / "onnx", classifier=str(path), **kwargs)
    with torch.no_grad():
        by_torch = export_dataset(crun, tmp_path / "torch", classifier=net, **kwargs)
    counts = [(c.name, c.kept, c.rejected) for c in by_onnx.classes]
    assert counts == [(c.name, c.kept, c.rejected) for c in by_torch.classes]
    assert sum(c.rejected for c in by_onnx.classes) > 0  # the filter did decide something
    assert read_csv(by_onnx.csv) == read_csv(by_torch.csv)
    assert by_onnx.classifier == str(path)
    # The ONNX logits are the torch model's on any batch size.
    images = torch.rand(7, 1, 8, 8) * 2 - 1
    onnx_net = label_checker(str(path), [str(i) for i in range(10)], image_shape=(1, 8, 8)).net
    with torch.no_grad():
        assert torch.allclose(onnx_net(images), net(images), atol=1e-5)


def test_an_onnx_classifier_with_a_fixed_batch_is_fed_in_padded_chunks(tmp_path):
    pytest.importorskip("onnxruntime")
    net = random_classifier(seed=1)
    path = export_onnx(net, tmp_path / "fixed.onnx", batch=2)
    checker = label_checker(str(path), [str(i) for i in range(10)], image_shape=(1, 8, 8))
    images = torch.rand(5, 1, 8, 8) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(checker.net(images), net(images), atol=1e-5)


@pytest.mark.parametrize(
    "classes,shape,run_shape,pattern",
    [
        (5, (1, 8, 8), (1, 8, 8), "gives 5 class scores, the run has 10 classes"),
        (10, (3, 8, 8), (1, 8, 8), r"takes images of shape \[3, 8, 8\], the run makes \[1, 8, 8\]"),
        (10, (1, 4, 4), (1, 8, 8), r"takes images of shape \[1, 4, 4\], the run makes \[1, 8, 8\]"),
    ],
    ids=["class-count", "channels", "size"],
)
def test_an_onnx_classifier_that_does_not_fit_the_run(tmp_path, classes, shape, run_shape, pattern):
    pytest.importorskip("onnxruntime")
    pixels = int(np.prod(shape))
    path = export_onnx(random_classifier(classes, pixels), tmp_path / "c.onnx", shape)
    with pytest.raises(GanforgeError, match=pattern):
        label_checker(str(path), [str(i) for i in range(10)], image_shape=run_shape)


def test_an_onnx_classifier_without_onnxruntime_says_what_to_install(tmp_path, monkeypatch):
    import sys

    path = tmp_path / "c.onnx"
    path.write_bytes(b"whatever")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    with pytest.raises(GanforgeError, match="needs onnxruntime.*pip install onnxruntime"):
        label_checker(str(path), [str(i) for i in range(10)])


def test_a_file_that_is_not_onnx_is_one_line(crun, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    bad = tmp_path / "clf.onnx"
    bad.write_text("a,b,c\n1,2,3\n")
    code, _, err = run_cli(
        capsys, "augment", crun, "-o", tmp_path / "o", "--filter", "--classifier", bad
    )
    assert_one_line_error(code, err, "not an ONNX classifier .*clf.onnx.*torch.onnx.export")


@pytest.mark.parametrize("suffix", [".pt2", ".pt", ".pth", ".ts", ".pkl"])
def test_code_carrying_classifier_formats_are_refused_without_loading(crun, tmp_path, suffix):
    # A real torch.export archive: refused by its kind, never opened (opening can run code).
    path = tmp_path / f"clf{suffix}"
    if suffix == ".pt2":
        program = torch.export.export(random_classifier(), (torch.zeros(2, 1, 8, 8),))
        torch.export.save(program, path)
    else:
        path.write_bytes(b"never read")
    with pytest.raises(GanforgeError, match=rf"\({re.escape(suffix)}\) can run code.*ONNX"):
        export_dataset(crun, tmp_path / "o", per_class=1, filter=True, classifier=str(path))
    assert not (tmp_path / "o").exists()


def test_conditional_accuracy_counts_per_class(crun):
    def always_three(images):
        logits = torch.zeros(len(images), 10)
        logits[:, 3] = 5.0
        return logits

    result = conditional_accuracy(crun, per_class=4, classifier=always_three)
    assert result["per_class"]["3"] == 1.0 and result["per_class"]["0"] == 0.0
    assert result["accuracy"] == pytest.approx(0.1) and result["n"] == 40


# ---- bad input ---------------------------------------------------------------------------------


def test_output_folder_must_be_new_or_empty(crun, tmp_path, capsys):
    out = tmp_path / "used"
    out.mkdir()
    (out / "x.txt").write_text("keep me")
    code, _, err = run_cli(capsys, "augment", crun, "--per-class", 1, "-o", out)
    assert_one_line_error(code, err, "the output folder is not empty")


@pytest.mark.parametrize(
    "argv,pattern",
    [
        (["--per-class", 0], "--per-class must be positive"),
        (["--class", 10], r"class 10 is out of range \(10 classes\)"),
        (["--class", "ten"], "class 'ten' is not in this run"),
        (["--filter", "--threshold", 1.5], r"--threshold must be in \[0, 1\]"),
        (["--filter", "--classifier", "resnet"], "unknown classifier 'resnet'"),
        (["--filter", "--classifier", "missing.onnx"], "classifier file not found"),
        (["--filter", "--classifier", "missing.pt2"], r"\(\.pt2\) can run code.*clf\.onnx"),
    ],
)
def test_augment_bad_input(crun, tmp_path, capsys, argv, pattern):
    code, _, err = run_cli(capsys, "augment", crun, "-o", tmp_path / "o", *argv)
    assert_one_line_error(code, err, pattern)


def test_augment_an_unconditional_run_is_refused(tmp_path, capsys):
    code, _, _ = train_tiny(capsys, tmp_path, "--name", "u")
    code, _, err = run_cli(capsys, "augment", tmp_path / "u", "-o", tmp_path / "o")
    assert_one_line_error(code, err, "this run is unconditional: augment needs class labels")


def test_augment_a_vector_run_is_refused(tmp_path, capsys):
    code, _, err = run_cli(
        capsys,
        "train",
        "--preset",
        "ring-cgan",
        "--steps",
        2,
        "--log-every",
        1,
        "--quiet",
        "--no-tensorboard",
        "--out",
        tmp_path,
        "--name",
        "ring",
    )
    assert code == 0, err
    code, _, err = run_cli(capsys, "augment", tmp_path / "ring", "-o", tmp_path / "o")
    assert_one_line_error(code, err, "augment writes images, but this run makes vectors")


def test_mnist_filter_on_classes_that_are_not_digits(tmp_path, capsys):
    root = tmp_path / "pets"
    for name in ("cat", "dog"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8), 50 * i, np.uint8)).save(root / name / f"{i}.png")
    code, _, err = train_tiny(
        capsys, tmp_path, "--family", "conditional", "--data", f"folder:{root}", "--name", "pets"
    )
    assert code == 0, err
    code, _, err = run_cli(capsys, "augment", tmp_path / "pets", "-o", tmp_path / "o", "--filter")
    assert_one_line_error(code, err, "the mnist classifier knows the digits 0-9, not class 'cat'")
    # Without the filter the export uses the folder names.
    code, _, _ = run_cli(
        capsys, "augment", tmp_path / "pets", "--per-class", 1, "-o", tmp_path / "p"
    )
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["cat", "dog", "labels.csv"]


def test_label_checker_rejects_a_classifier_with_too_few_outputs():
    checker = label_checker(lambda x: torch.zeros(len(x), 3), [str(i) for i in range(10)])
    with pytest.raises(GanforgeError, match="gives 3 class scores, the run has 10 classes"):
        checker.check(torch.zeros(2, 1, 8, 8), torch.tensor([0, 9]))
