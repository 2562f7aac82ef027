"""`ganforge serve`: each tab's function for a tiny model of every kind, uploads checked before
they are decoded, and the page over HTTP (gradio's client) on a free port: every tab answers,
a bad upload is the page's error and the next request still works, no path reaches the disk."""

from __future__ import annotations

import io
import os
import socket
import struct
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ganforge.apps import serve_pages as pages
from ganforge.apps.serve import load_served
from ganforge.cli import main
from ganforge.errors import GanforgeError
from tests.cli_helpers import TINY_DIGITS

CHINA = Path(__import__("sklearn.datasets", fromlist=["x"]).__file__).parent / "images/china.jpg"
TINY = [str(a) for a in TINY_DIGITS]
IMAGE_NETS = ["--resolution", "16", "--g-width", "8", "--d-width", "4", "--batch-size", "4"]
IMAGE_NETS += ["--steps", "2", "--log-every", "1", "--sample-every", "2", "--checkpoint-every"]
IMAGE_NETS += ["2", "--no-tensorboard", "--quiet"]


def _pictures(folder: Path, n: int, size=(16, 16), seed=0, colour=False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        shape = (*size, 3) if colour else size
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"{i:02d}.png")
    return folder


def _train(*argv) -> None:
    assert main([str(a) for a in argv]) == 0


def build_models(root: Path) -> Path:
    """A folder of tiny models of every kind the page serves; returns the folder."""
    from ganforge.apps.anomaly import AnomalyDetector
    from ganforge.series.model import TimeSeriesGAN
    from ganforge.tabular import TabularGAN

    runs = root / "runs"
    _train("train", *TINY, "--resolution", 28, "--out", runs, "--name", "digits")
    _train("train", *TINY, "--family", "conditional", "--out", runs, "--name", "cdigits")
    hr = _pictures(root / "hr", 3, (24, 28), colour=True)
    _train("train", "--family", "srgan", "--data", f"folder:{hr}", "--scale", 2, "--sr-blocks", 1,
           "--pretrain-steps", 1, *IMAGE_NETS, "--out", runs, "--name", "sr")  # fmt: skip
    a, b = _pictures(root / "A", 6), _pictures(root / "B", 6, seed=9)
    _train("train", "--family", "cyclegan", "--data", f"unpaired:{a},{b}", "--patch-layers", 1,
           *IMAGE_NETS, "--out", runs, "--name", "cycle")  # fmt: skip
    normal = np.zeros((60, 1, 8, 8), dtype=np.uint8)
    normal[:, :, 2:5, 2:5] = 255
    small = {"model": {"latent_dim": 4, "g_width": 8, "d_width": 8}}
    AnomalyDetector("ganomaly", 2, fpr=0.1, overrides=small).fit(normal, run_dir=runs / "blobs")
    rows = np.random.default_rng(0).normal(size=(120, 3))
    AnomalyDetector("ganomaly", 2, fpr=0.1, overrides=small).fit(
        pd.DataFrame(rows, columns=["a", "b", "c"])
    ).save(runs / "rows" / "detector.pt")
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"kind": rng.choice(["x", "y"], 200), "value": rng.normal(size=200)})
    TabularGAN(epochs=1, batch_size=40, embedding_dim=8, generator_width=16,
               discriminator_width=16, mixture_rows=200, verbose=False, seed=0).fit(
        table, ["kind"]).save(runs / "people.gft")  # fmt: skip
    t = np.arange(24 * 20) / 4.0
    series = pd.DataFrame({"id": np.repeat(np.arange(20), 24), "x": np.sin(t), "y": np.cos(t)})
    TimeSeriesGAN(max_steps=2, batch_size=16, latent_dim=4, hidden=8, verbose=False).fit(
        series, seq_len=24, sequence_key="id"
    ).save(runs / "waves.gfs")
    return runs


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    runs = build_models(tmp_path_factory.mktemp("serve"))
    return {item.name: item for item in load_served([str(runs)], warn=print)}


@pytest.fixture
def out(tmp_path):
    return tmp_path / "downloads"


def test_a_folder_serves_every_kind_by_its_tab(served):
    kinds = {name: item.kind for name, item in served.items()}
    assert kinds == {
        "digits": "image", "cdigits": "image", "sr": "sr", "cycle": "translate",
        "blobs": "anomaly", "rows": "anomaly", "people": "table", "waves": "sequence",
    }  # fmt: skip
    assert served["digits"].run_dir is not None and served["people"].run_dir is None


def test_no_argument_serves_the_shipped_pretrained_models():
    pretrained = pytest.importorskip("ganforge.pretrained")
    if not pretrained.names():
        pytest.skip("no pretrained model ships in this checkout")
    served = load_served([])
    assert [item.name for item in served] == pretrained.names()
    assert all(item.run_dir is None for item in served)  # folders, not runs: no runs tab


# ---- image generators ------------------------------------------------------------------------


def tiles(grid: np.ndarray, side: int, gap: int = 2) -> tuple[int, int]:
    """(rows, columns) of a make_grid image of side x side tiles."""
    h, w = grid.shape[:2]
    assert (h - gap) % (side + gap) == 0 and (w - gap) % (side + gap) == 0, grid.shape
    return (h - gap) // (side + gap), (w - gap) // (side + gap)


def test_generate_gives_the_requested_grid_the_same_for_a_seed(served, out):
    model = served["digits"].model
    grid = pages.generate_grid(model, 3, 16, 0, None, out)
    assert tiles(grid, 28) == (4, 4) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid, pages.generate_grid(model, 3, 16, 0, None, out))
    assert not np.array_equal(grid, pages.generate_grid(model, 4, 16, 0, None, out))
    assert tiles(pages.generate_grid(model, 0, 5, 0.5, None, out), 28) == (2, 3)


def test_the_class_picker_takes_names_and_the_walk_gives_a_strip_and_a_gif(served, out):
    model = served["cdigits"].model
    name = model.class_names[7]
    grid = pages.generate_grid(model, 0, 4, 0, name, out)
    labels = model.sample(4, 0, labels=[7] * 4)
    np.testing.assert_array_equal(grid, pages._squeeze(pages.make_grid(labels, 2)))
    strip, gif = pages.latent_walk(model, 0, 1, 6, 0, name, out)
    assert tiles(strip, 8) == (1, 6)
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 10  # there and back
    with pytest.raises(GanforgeError, match="not in this run"):
        pages.generate_grid(model, 0, 4, 0, "no-such-class", out)


def test_the_walk_starts_and_ends_at_its_seeds(served):
    model = served["digits"].model
    frames = model.walk(5, 9, 4)
    np.testing.assert_allclose(frames[0], model.sample(1, 5)[0], atol=1e-5)
    np.testing.assert_allclose(frames[-1], model.sample(1, 9)[0], atol=1e-5)


# ---- uploads ---------------------------------------------------------------------------------


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height (its data is one pixel: never decodable)."""
    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BAD_UPLOADS = {
    "20000x20000": (lambda p: png_claiming(p / "huge.png", 20000, 20000), "400.0 megapixels"),
    "5000x5000": (lambda p: png_claiming(p / "big.png", 5000, 5000), "5000x5000 = 25.0 mega"),
    "text": (lambda p: written(p / "a.png", b"hello"), "not an image: text"),
    "truncated": (lambda p: written(p / "t.jpg", CHINA.read_bytes()[:3000]), "truncated"),
    "empty": (lambda p: written(p / "e.png", b""), "empty file"),
    "too-many-bytes": (lambda p: written(p / "z.png", bytes(3 << 20)), "3.0 MB, over this page"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_a_bad_upload_is_one_message_and_nothing_is_decoded(case, served, tmp_path):
    make, message = BAD_UPLOADS[case]
    path = make(tmp_path)
    limits = pages.Limits(max_bytes=2 << 20)
    for call in (
        lambda: pages.upscale_upload(served["sr"].model, str(path), limits),
        lambda: pages.translate_upload(served["cycle"].model, str(path), "AtoB", limits),
        lambda: pages.score_images(served["blobs"].model, [str(path)], limits),
    ):
        with pytest.raises(GanforgeError, match=message) as e:
            call()
        assert path.name in str(e.value)


def test_an_upscaled_result_over_the_pixel_limit_is_refused(served):
    with pytest.raises(GanforgeError, match="x2 result has 1.1 megapixels"):
        pages.upscale_upload(served["sr"].model, str(CHINA), pages.Limits(max_pixels=1_000_000))


# ---- SR, translation, anomaly ----------------------------------------------------------------


def test_sr_returns_the_result_beside_bicubic_at_the_scale(served):
    result, bicubic, caption = pages.upscale_upload(served["sr"].model, str(CHINA), pages.Limits())
    assert result.shape == bicubic.shape == (427 * 2, 640 * 2, 3)
    assert "640x427 -> x2: 1280x854" in caption and not np.array_equal(result, bicubic)


def test_translation_goes_both_ways_for_a_cyclegan(served, tmp_path):
    path = _pictures(tmp_path / "in", 1, (20, 12))
    file = str(path / "00.png")
    seen, a_to_b, _ = pages.translate_upload(served["cycle"].model, file, "AtoB", pages.Limits())
    _, b_to_a, caption = pages.translate_upload(served["cycle"].model, file, "BtoA", pages.Limits())
    assert seen.shape == a_to_b.shape == b_to_a.shape == (20, 12)
    assert not np.array_equal(a_to_b, b_to_a) and caption.startswith("BtoA")


def test_anomaly_images_get_score_verdict_and_heat_map(served, tmp_path):
    detector = served["blobs"].model
    files = [str(f) for f in sorted(_pictures(tmp_path / "x", 3, (8, 8)).iterdir())]
    table, maps = pages.score_images(detector, files, pages.Limits())
    expected = detector.score(np.stack([np.asarray(Image.open(f))[None] for f in files]))
    np.testing.assert_allclose(table["score"], expected, rtol=1e-5)
    assert list(table["verdict"]) == [
        "ANOMALY" if s > detector.threshold() else "normal" for s in expected
    ]
    assert len(maps) == 3 and maps[0][0].ndim == 3 and maps[0][1].startswith("00.png")


def test_anomaly_rows_with_or_without_a_header(served):
    detector = served["rows"].model
    plain = pages.score_rows(detector, "0.1,0.2,0.3\n9,9,9")
    headed = pages.score_rows(detector, "c,b,a\n0.3,0.2,0.1\n9,9,9")  # wrong order: a header
    expected = detector.score(np.array([[0.1, 0.2, 0.3], [9, 9, 9]]))
    np.testing.assert_allclose(plain["score"], expected, rtol=1e-5)
    assert list(headed["row"]) == ["0", "1"] and len(headed) == 2
    assert plain["score"][1] > plain["score"][0]
    for text, message in (("", "no rows"), ("1,x,3", "must be a number"), ("1,2", "blank")):
        with pytest.raises(GanforgeError, match=message):
            pages.score_rows(detector, text)


# ---- tables, sequences, runs -----------------------------------------------------------------


def test_table_rows_hold_their_conditions_and_download_as_csv(served, out):
    model = served["people"].model
    preview, path, caption = pages.sample_table(model, 120, "kind=y", 0, out)
    full = pd.read_csv(path)
    assert len(full) == 120 and set(full["kind"]) == {"y"} and len(preview) == pages.PREVIEW_ROWS
    assert "120 rows where kind=y" in caption and "kind (" in pages.condition_hint(model)
    with pytest.raises(GanforgeError, match="not column=value"):
        pages.sample_table(model, 5, "kind", 0, out)
    with pytest.raises(GanforgeError, match="no such value"):
        pages.sample_table(model, 5, "kind=q", 0, out)


def test_sequences_plot_and_csv(served, out):
    model = served["waves"].model
    plot, path, caption = pages.sample_sequences(model, 10, 0, "y", out, shown=3)
    assert set(plot.columns) == {"sequence_id", "step", "value"}
    assert sorted(set(plot["sequence_id"])) == ["0", "1", "2"] and len(plot) == 3 * 24
    full = pd.read_csv(path)
    assert len(full) == 10 * 24 and list(full.columns) == ["sequence_id", "step", "x", "y"]
    np.testing.assert_allclose(plot["value"], full[full["sequence_id"] < 3]["y"])


def test_the_runs_view_reads_info_samples_and_losses(served):
    run = served["digits"].run_dir
    info, grid, curves = pages.run_view(run)
    assert "steps      4 of 4" in info and grid.ndim == 3
    logged = [ln for ln in (run / "metrics.jsonl").read_text().splitlines() if '"d_loss"' in ln]
    assert len(curves) == 2 * len(logged) and set(curves["loss"]) == {"d_loss", "g_loss"}
    with open(run / "metrics.jsonl", "a") as f:  # a run still training: a half-written line
        f.write('{"step": 6, "d_loss": 1.0, "g_loss": 2.0}\n{"step": 8, "d_lo')
    assert pages.loss_curves(run / "metrics.jsonl")["step"].max() == 6


# ---- the server over HTTP --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(served):
    """The page on a free port (models loaded once), with gradio's client."""
    pytest.importorskip("gradio")
    from gradio_client import Client

    from ganforge.apps.serve import launch

    app = launch(list(served.values()), pages.Limits(max_bytes=2 << 20), "127.0.0.1", free_port())
    yield app, Client(app.local_url, verbose=False, download_files=False)
    app.close()


def _image(result) -> np.ndarray:
    import httpx

    url = result["url"]
    return np.asarray(Image.open(io.BytesIO(httpx.get(url, timeout=10).content)))


def test_the_page_generates_and_survives_a_bad_upload(server, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    app, client = server
    grid = _image(client.predict(0, 9, 0, pages.ALL_CLASSES, api_name="/digits_generate"))
    assert tiles(grid, 28) == (3, 3)
    huge = png_claiming(tmp_path / "huge.png", 20000, 20000)
    with pytest.raises(AppError, match="400.0 megapixels"):
        client.predict(handle_file(str(huge)), api_name="/sr_upscale")
    result, bicubic, caption = client.predict(handle_file(str(CHINA)), api_name="/sr_upscale")
    assert _image(result).shape == (854, 1280, 3) and "1280x854" in caption
    rows = client.predict("1,2,3", None, api_name="/rows_score")
    assert rows["headers"] == ["row", "score", "verdict", "threshold"]


def test_the_page_reaches_no_path_it_was_not_given(server):
    import httpx

    app, client = server
    planted = {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}  # not an upload
    with pytest.raises(Exception, match="not uploaded|not allowed|cannot|Cannot"):
        client.predict(planted, api_name="/sr_upscale")
    url = app.local_url.rstrip("/")
    for path in ("/etc/passwd", str(Path(__file__))):
        got = httpx.get(f"{url}/gradio_api/file={path}", timeout=10)
        assert got.status_code in (403, 404) and b"root:" not in got.content


def test_one_job_at_a_time_per_model(server):
    app, _ = server
    ids = {}
    for fn in app.fns.values():
        if (
            fn.api_name
            and fn.api_name.startswith(("digits_", "sr_"))
            and fn.api_name[-4:] != "_run"
        ):
            assert fn.concurrency_limit == 1
            ids.setdefault(fn.api_name.split("_")[0], set()).add(fn.concurrency_id)
    assert ids == {"digits": {"digits"}, "sr": {"sr"}}
    from ganforge.apps import serve_tabs

    assert not Path(serve_tabs.__file__).with_suffix(".pyi").exists()  # gradio wrote no stub


# ---- a real browser --------------------------------------------------------------------------

# The screenshots go to a scratch folder unless GANFORGE_SCREENSHOTS names one: README's pictures
# are remade with `GANFORGE_SCREENSHOTS=docs/serve python -m pytest tests/apps/test_serve.py -k browser`
# (a test run never rewrites tracked files).
SHOTS = Path(
    os.environ.get("GANFORGE_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / f"ganforge-serve-shots-{os.getpid()}"
)
CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None
)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Selenium (Debian's chromium + chromium-driver)."""
    driver_path = Path("/usr/bin/chromedriver")
    if CHROMIUM is None or not driver_path.exists():
        pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,900", "--hide-scrollbars"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(driver_path)), options=options)
    yield driver
    driver.quit()


def _wait(driver, find, timeout=20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: find(d))


def _screenshot(driver, name: str) -> None:
    """The whole tab as SHOTS/NAME.png: a tall window, the empty bottom cropped off."""
    driver.set_window_size(1280, 2000)
    time.sleep(0.25)  # the page lays itself out again at the new size
    shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    pixels = np.asarray(shot)
    used = np.flatnonzero((np.abs(pixels.astype(int) - pixels[-1, -1]).sum(-1) > 12).any(1))
    bottom = min(len(pixels), int(used[-1]) + 24) if len(used) else len(pixels)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = shot.crop((0, 0, shot.width, bottom)).quantize(256)  # a palette: 3x smaller files
    shot.save(SHOTS / f"{name}.png", optimize=True)
    driver.set_window_size(1280, 900)


def _open_tab(driver, title: str) -> None:
    """Click the tab whose title starts with `title` (through the "more tabs" menu if hidden)."""
    from selenium.webdriver.common.by import By

    def button(d, css):
        return [b for b in d.find_elements(By.CSS_SELECTOR, css) if b.text.startswith(title)]

    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "button[role=tab]"))
    shown = button(driver, "button[role=tab]")
    if not shown:
        driver.find_element(By.CSS_SELECTOR, "button[aria-label='More tabs']").click()
        shown = _wait(driver, lambda d: button(d, ".overflow-dropdown button"))
    shown[0].click()


def _src(driver, elem_id: str, old: str | None = None) -> str:
    from selenium.webdriver.common.by import By

    def found(d):
        images = d.find_elements(By.CSS_SELECTOR, f"#{elem_id} img")
        src = images[0].get_attribute("src") if images else None
        return src if src and src != old else None

    return _wait(driver, found)


def _fetch(src: str) -> np.ndarray:
    import httpx

    return np.asarray(Image.open(io.BytesIO(httpx.get(src, timeout=10).content)))


# Type into a gradio number box as a person does: the value, then input + change + blur.
SET_NUMBER = """
const box = document.querySelector(arguments[0]);
Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(box, arguments[1]);
for (const kind of ["input", "change"]) box.dispatchEvent(new Event(kind, {bubbles: true}));
box.blur();
"""


SAMPLED = ("1000 rows", "100 sequences")  # the captions once the table / sequences arrived


def test_a_browser_generates_upscales_and_shows_every_tab(server, browser):
    from selenium.webdriver.common.by import By

    app, _ = server
    browser.get(app.local_url)
    _open_tab(browser, "digits ·")
    first = _src(browser, "digits_grid")  # the page draws a first grid when it opens
    browser.execute_script(SET_NUMBER, "#digits_count input[type=number]", "9")
    browser.find_element(By.ID, "digits_generate").click()
    assert tiles(_fetch(_src(browser, "digits_grid", first)), 28) == (3, 3)
    _screenshot(browser, "generate")

    _open_tab(browser, "sr ·")
    upload = _wait(
        browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#sr_input input[type=file]")
    )
    upload[0].send_keys(str(CHINA))
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#sr_input img"))
    browser.find_element(By.ID, "sr_go").click()
    assert _fetch(_src(browser, "sr_result")).shape == (427 * 2, 640 * 2, 3)
    _screenshot(browser, "super-resolution")

    for title, name in (("cycle", "translate"), ("blobs", "anomaly"), ("people", "table"),
                        ("waves", "sequences"), ("runs", "runs")):  # fmt: skip
        _open_tab(browser, title)
        if name in ("table", "sequences"):
            buttons = [b for b in browser.find_elements(By.TAG_NAME, "button")
                       if b.text == "sample" and b.is_displayed()]  # fmt: skip
            buttons[0].click()
            _wait(
                browser,
                lambda d, t=title: d.find_element(By.ID, f"{t}_caption").text.startswith(SAMPLED),
            )
        _screenshot(browser, name)
    assert sorted(p.stem for p in SHOTS.glob("*.png") if "showcase" not in p.stem) == sorted(
        ["generate", "super-resolution", "translate", "anomaly", "table", "sequences", "runs"]
    )


def test_the_command_warns_for_another_host_and_serves_until_stopped(served, capsys, monkeypatch):
    """`ganforge serve RUN --host 0.0.0.0`: a warning, then the URL; the server is faked here."""
    from ganforge.apps import serve

    calls = []

    class Running:
        local_url = "http://0.0.0.0:7000/"

        def block_thread(self):
            calls.append("block")

        def close(self):
            calls.append("close")

    monkeypatch.setattr(serve, "launch", lambda *a: calls.append(a[2:]) or Running())
    run = served["digits"].run_dir
    assert main(["serve", str(run), "--host", "0.0.0.0", "--port", "7000"]) == 0
    out, err = capsys.readouterr()
    assert "warning: serving on 0.0.0.0" in err and "no password" in err
    assert "serving 1 model(s) at http://0.0.0.0:7000/" in out
    assert calls == [("0.0.0.0", 7000), "block", "close"]
    assert main(["serve", str(run)]) == 0 and "warning" not in capsys.readouterr().err
