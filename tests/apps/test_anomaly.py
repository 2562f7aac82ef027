"""AnomalyDetector and `ganforge anomaly`: threshold calibration against a brute-force reference,
eval-mode batch-independent scores, save/load, tables and images, every bad input one line."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.apps.anomaly import AnomalyDetector, threshold_at
from ganforge.data.tables import read_numeric_csv
from ganforge.errors import GanforgeError
from tests.cli_helpers import assert_one_line_error, run_cli

SMALL = {"model": {"latent_dim": 4, "g_width": 8, "d_width": 8}}
SMALL_TABLE = {"model": {"latent_dim": 4, "g_width": 16, "d_width": 16}}


def auroc(normal: np.ndarray, anomalous: np.ndarray) -> float:
    """P(anomalous score > normal score) + half the ties (the Mann-Whitney form of AUROC)."""
    diff = anomalous[:, None] - normal[None, :]
    return float((diff > 0).mean() + 0.5 * (diff == 0).mean())


def gaussian_table(n: int, seed: int = 0, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    x[:, 1] = 2 * x[:, 0] + 0.1 * x[:, 1]  # a correlation the detector can learn
    return x * [1, 10, 100, 0.01] + [0, 5, -50, 1] + shift


# ---- threshold ------------------------------------------------------------------------------


def brute_force_threshold(scores: np.ndarray, fpr: float) -> float:
    """The smallest held-out score t with share(scores > t) <= fpr."""
    return min(t for t in scores if (scores > t).mean() <= fpr + 1e-12)


@pytest.mark.parametrize("n, fpr", [(20, 0.05), (100, 0.05), (37, 0.1), (500, 0.01), (50, 0.5)])
def test_threshold_matches_a_brute_force_search(n, fpr):
    scores = np.random.default_rng(n).normal(size=n)
    t = threshold_at(scores, fpr)
    assert t == brute_force_threshold(scores, fpr)
    assert (scores > t).sum() == math.floor(fpr * n + 1e-9)


def test_threshold_needs_enough_held_out_data():
    with pytest.raises(GanforgeError, match="too little held-out normal data for --fpr 0.01"):
        threshold_at(np.arange(50.0), 0.01)
    with pytest.raises(GanforgeError, match="--fpr must be in"):
        threshold_at(np.arange(50.0), 1.5)


# ---- tables ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table_detector():
    torch.manual_seed(0)
    normal = gaussian_table(300)
    return AnomalyDetector("ganomaly", 150, overrides=SMALL_TABLE).fit(normal)


def test_table_detector_separates_shifted_rows(table_detector):
    normal = table_detector.score(gaussian_table(200, seed=1))
    shifted = table_detector.score(gaussian_table(200, seed=2, shift=3.0) * [1, 1, 1, 300])
    assert auroc(normal, shifted) > 0.9
    flagged = normal > table_detector.threshold(0.1)
    assert flagged.mean() < 0.25  # calibrated on held-out normal data: near 0.1 on new normals


def test_scores_do_not_depend_on_the_batch(table_detector):
    x = gaussian_table(40, seed=3)
    together = table_detector.score(x)
    alone = np.array([table_detector.score(x[i : i + 1])[0] for i in range(len(x))])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-7)
    assert not table_detector.generator_.training and not table_detector.discriminator_.training


def test_standardisation_uses_the_training_split(table_detector):
    normal = gaussian_table(300)
    n_held = len(table_detector.holdout_scores_)
    perm = np.random.default_rng(0).permutation(300)
    train = normal[perm[n_held:]]
    np.testing.assert_allclose(table_detector.mean_.numpy(), train.mean(0), rtol=1e-9)
    np.testing.assert_allclose(table_detector.std_.numpy(), train.std(0), rtol=1e-9)


def test_save_load_round_trip(table_detector, tmp_path):
    x = gaussian_table(20, seed=4)
    table_detector.save(tmp_path / "d.pt")
    again = AnomalyDetector.load(tmp_path / "d.pt")
    np.testing.assert_array_equal(again.score(x), table_detector.score(x))
    assert again.threshold() == table_detector.threshold()


def test_table_shape_mismatch_is_one_line(table_detector):
    with pytest.raises(
        GanforgeError, match="the input has 3 columns, the detector was fitted on 4"
    ):
        table_detector.score(gaussian_table(5)[:, :3])
    with pytest.raises(GanforgeError, match="fitted on tables, the input holds images"):
        table_detector.score(np.zeros((2, 1, 8, 8), dtype=np.uint8))


def test_named_columns_are_matched_by_name(tmp_path):
    normal = gaussian_table(120)
    path = tmp_path / "normal.csv"
    write_csv(path, ["a", "b", "c", "d"], normal)
    detector = AnomalyDetector("ganomaly", 5, overrides=SMALL_TABLE).fit(read_numeric_csv(path))
    reordered = tmp_path / "reordered.csv"
    write_csv(reordered, ["d", "c", "b", "a"], normal[:10, ::-1])
    np.testing.assert_allclose(
        detector.score(read_numeric_csv(reordered)), detector.score(normal[:10]), rtol=1e-6
    )
    other = tmp_path / "other.csv"
    write_csv(other, ["a", "b", "c", "e"], normal[:10])
    with pytest.raises(GanforgeError, match=r"missing: d; not in the fit: e"):
        detector.score(read_numeric_csv(other))


def test_too_little_normal_data_is_refused_before_training():
    with pytest.raises(GanforgeError, match="too little normal data: 60 samples give 12 held out"):
        AnomalyDetector("ganomaly", 5, fpr=0.05).fit(gaussian_table(60))


def test_unknown_method_and_bad_settings():
    with pytest.raises(GanforgeError, match="unknown anomaly method"):
        AnomalyDetector("anogan")
    with pytest.raises(GanforgeError, match="--holdout must be in"):
        AnomalyDetector(holdout=1.0)
    with pytest.raises(GanforgeError, match="not fitted"):
        AnomalyDetector().score(gaussian_table(3))


# ---- CSV reading ----------------------------------------------------------------------------


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def test_read_numeric_csv(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a, b\n1, 2.5\n\n-3,1e3\n")
    table = read_numeric_csv(path)
    assert table.columns == ["a", "b"]
    np.testing.assert_array_equal(table.values, [[1, 2.5], [-3, 1000]])


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b,c\n1,x,2\n3,y,z\n", r"non-numeric CSV columns: b, c \(e.g. b='x'\)"),
        ("a,b\n1,\n2,3\n", "empty, NaN or infinite values: b"),
        ("a,b\n1,nan\n", "empty, NaN or infinite values: b"),
        ("1,2\n3,4\n", "first row holds numbers"),
        ("a,a\n1,2\n", "unique and non-empty"),
        ("a,b\n1,2,3\n", "row 2 has 3 values for 2 columns"),
        ("a,b\n", "no data rows"),
        ("", "CSV file is empty"),
    ],
)
def test_bad_csv_is_one_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(GanforgeError, match=message) as error:
        read_numeric_csv(path)
    assert "\n" not in str(error.value)


# ---- images and the command line ------------------------------------------------------------


def image_folder(root, n, seed=0, size=12):
    """Bright blobs on black: the normal class."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        pixels = np.zeros((size, size), dtype=np.uint8)
        r, c = rng.integers(2, size - 4, 2)
        pixels[r : r + 3, c : c + 3] = 255
        Image.fromarray(pixels).save(root / f"img{i:03d}.png")
    return root


def test_cli_images_fit_score_and_maps(tmp_path, capsys):
    normal = image_folder(tmp_path / "normal", 60)
    run = tmp_path / "run"
    code, out, err = run_cli(
        capsys,
        *("anomaly", "fit", "--data", f"folder:{normal}", "--run-dir", run, "--resolution", 8),
        *("--steps", 3, "--fpr", 0.1, "--batch-size", 8, "--quiet"),
    )
    assert code == 0, err
    assert "threshold" in out and (run / "detector.pt").is_file()
    test = image_folder(tmp_path / "test", 4, seed=1, size=20)  # any size: resized to 8
    scores, maps = tmp_path / "scores.csv", tmp_path / "maps"
    code, out, err = run_cli(capsys, "anomaly", "score", run, test, "-o", scores, "--maps", maps)
    assert code == 0, err
    rows = list(csv.DictReader(open(scores)))
    assert [r["path"] for r in rows] == [f"img{i:03d}.png" for i in range(4)]
    assert all(r["anomaly"] in ("0", "1") and math.isfinite(float(r["score"])) for r in rows)
    assert sorted(p.name for p in maps.iterdir()) == [f"img{i:03d}.png" for i in range(4)]
    # The same scores from the Python API, flags against the same threshold.
    detector = AnomalyDetector.load(run)
    arrays = np.stack([np.asarray(Image.open(test / r["path"]).resize((8, 8))) for r in rows])
    assert detector.score(arrays[:, None]).shape == (4,)
    # An impossible --fpr for the held-out data is one line, before any scoring.
    code, _, err = run_cli(capsys, "anomaly", "score", run, test, "-o", scores, "--fpr", 0.01)
    assert_one_line_error(code, err, "too little held-out normal data for --fpr 0.01")


def test_image_arrays_of_another_shape_are_refused(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (60, 1, 8, 8), dtype=np.uint8)
    detector = AnomalyDetector("ganomaly", 2, fpr=0.1, overrides=SMALL).fit(images)
    with pytest.raises(GanforgeError, match=r"images of shape \(1, 16, 16\)"):
        detector.score(np.zeros((2, 1, 16, 16), dtype=np.uint8))
    with pytest.raises(GanforgeError, match="floats in \\[-1, 1\\]"):
        detector.score(np.full((2, 1, 8, 8), 3.0, dtype=np.float32))
    with pytest.raises(GanforgeError, match="heat maps are for images"):
        AnomalyDetector("ganomaly", 2, overrides=SMALL_TABLE).fit(
            gaussian_table(100)
        ).score_and_maps(gaussian_table(2))


def test_cli_tables_and_bad_inputs(tmp_path, capsys):
    normal = tmp_path / "normal.csv"
    write_csv(normal, ["a", "b", "c", "d"], gaussian_table(120))
    run = tmp_path / "run"
    code, out, err = run_cli(
        capsys,
        "anomaly",
        "fit",
        "--data",
        f"csv:{normal}",
        "--run-dir",
        run,
        "--steps",
        3,
        "--quiet",
    )
    assert code == 0, err
    assert "120 table samples x 4 columns (96 train, 24 held out)" in out
    code, out, err = run_cli(capsys, "anomaly", "score", run, normal, "-o", tmp_path / "s.csv")
    assert code == 0, err
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert len(rows) == 120 and rows[0]["row"] == "0"
    flagged = sum(int(r["anomaly"]) for r in rows)
    assert f"{flagged} flagged" in out

    text = tmp_path / "text.csv"
    text.write_text("a,b,c,d,name\n1,2,3,4,x\n")
    code, _, err = run_cli(capsys, "anomaly", "score", run, text, "-o", tmp_path / "t.csv")
    assert_one_line_error(code, err, r"non-numeric CSV columns: name \(e.g. name='x'\)")
    fewer = tmp_path / "fewer.csv"
    write_csv(fewer, ["a", "b", "c"], gaussian_table(3)[:, :3])
    code, _, err = run_cli(capsys, "anomaly", "score", run, fewer, "-o", tmp_path / "t.csv")
    assert_one_line_error(code, err, "columns differ from the fit \\(missing: d\\)")
    code, _, err = run_cli(
        capsys, "anomaly", "score", run, normal, "-o", tmp_path / "t.csv", "--maps", tmp_path
    )
    assert_one_line_error(code, err, "--maps draws heat maps of images")
    small = tmp_path / "small.csv"
    write_csv(small, ["a", "b"], gaussian_table(30)[:, :2])
    code, _, err = run_cli(
        capsys, "anomaly", "fit", "--data", small, "--run-dir", tmp_path / "r2", "--steps", 2
    )
    assert_one_line_error(code, err, "too little normal data: 30 samples give 6 held out")
    (tmp_path / "plain").mkdir()  # a folder holding no run (one holding runs: the newest)
    code, _, err = run_cli(
        capsys, "anomaly", "score", tmp_path / "plain", normal, "-o", tmp_path / "t.csv"
    )
    assert_one_line_error(code, err, "no anomaly detector in this run directory")
    code, _, err = run_cli(
        capsys, "anomaly", "score", tmp_path / "nope", normal, "-o", tmp_path / "t.csv"
    )
    assert_one_line_error(code, err, "no such run directory or detector file")
    picture = tmp_path / "one.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(picture)
    code, _, err = run_cli(capsys, "anomaly", "score", run, picture, "-o", tmp_path / "t.csv")
    assert_one_line_error(code, err, "expected a folder of images or a .csv file")
    code, _, err = run_cli(
        capsys, "anomaly", "fit", "--data", tmp_path / "nope.csv", "--run-dir", tmp_path / "r3"
    )
    assert_one_line_error(code, err, "CSV file not found")
