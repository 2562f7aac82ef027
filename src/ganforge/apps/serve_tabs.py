"""The gradio page of `ganforge serve`: one tab per served model (by kind), then a runs tab.

Layout only: every button calls a function of serve_pages.py through `_page`, which turns a
GanforgeError (a bad upload, a bad value) into the page's error message; the server keeps
serving. Each model's events share one concurrency id, so one job at a time runs per model.
"""

from __future__ import annotations

import functools
import random
import sys
import tempfile
import traceback
from pathlib import Path

import gradio as gr

from ganforge.apps import serve_pages as pages
from ganforge.errors import GanforgeError

THEME = gr.themes.Soft(primary_hue="indigo", neutral_hue="slate")
CSS = """
.pixels img { image-rendering: pixelated; width: 100%; height: 100%; object-fit: contain; }
.gf-note { color: var(--body-text-color-subdued); font-size: 0.9em; }
footer { display: none !important; }
"""
SCORES = ("image", "score", "verdict", "threshold")
REFRESH_S = 5.0  # the runs tab re-reads runs that changed this often


def _page(fn):
    """A page function whose user errors show in the page (gr.Error), bugs as one line too."""

    @functools.wraps(fn)
    def call(*args):
        try:
            return fn(*args)
        except GanforgeError as e:
            raise gr.Error(str(e), title="ganforge", print_exception=False) from None
        except Exception as e:  # noqa: BLE001 - the page reports it and keeps serving
            traceback.print_exc(file=sys.stderr)
            raise gr.Error(
                f"internal error: {type(e).__name__}: {str(e)[:200]} (the server keeps running)",
                title="ganforge",
                print_exception=False,
            ) from None

    return call


def build_app(served, limits) -> gr.Blocks:
    """The whole page for a list of serve.Served models."""
    out_dir = Path(tempfile.mkdtemp(prefix="ganforge-serve-"))
    with gr.Blocks(title="ganforge", analytics_enabled=False, delete_cache=(600, 1800)) as app:
        gr.Markdown(
            "## ganforge\nTrained models, one tab each. Everything runs on this machine; "
            "uploads stay in its temporary folder."
        )
        with gr.Tabs():
            for index, item in enumerate(served):
                with gr.Tab(f"{item.name} · {KIND_TITLES[item.kind]}", id=f"model{index}"):
                    BUILDERS[item.kind](app, item, limits, out_dir / f"model{index}")
            runs = [item for item in served if item.run_dir is not None]
            if runs:
                with gr.Tab("runs", id="runs"):
                    _runs_tab(app, runs)
    app.queue(max_size=32, default_concurrency_limit=1)
    return app


def _api(item, name: str) -> dict:
    """One job at a time per model (its id), a stable API name per tab and action."""
    return {"concurrency_id": item.name, "concurrency_limit": 1, "api_name": name}


def _slug(item, action: str) -> str:
    safe = "".join(c if c.isalnum() else "_" for c in item.name).strip("_") or "model"
    return f"{safe}_{action}"


# ---- image generators ------------------------------------------------------------------------


def _new_seed() -> int:
    return random.randrange(2**31)


def _image_tab(app, item, limits, out_dir):
    model = item.model
    shape = tuple(model.config.model.sample_shape)
    names = model.class_names or [str(i) for i in range(model.config.model.num_classes)]
    gr.Markdown(
        f"`{item.source}` · {model.config.model.family} · step {model.step} · samples "
        f"{'x'.join(map(str, shape))}",
        elem_classes="gf-note",
    )
    with gr.Row():
        with gr.Column(scale=1, min_width=260):
            seed = gr.Number(0, label="seed", precision=0, minimum=0)
            count = gr.Slider(
                1,
                pages.MAX_IMAGES,
                16,
                step=1,
                label="number of images",
                elem_id=_slug(item, "count"),
            )
            trunc = gr.Slider(0, 3, 0, step=0.05, label="truncation (0: off; smaller: safer)")
            choice = gr.Dropdown(
                [pages.ALL_CLASSES, *names],
                value=pages.ALL_CLASSES,
                label="class",
                visible=model.family.conditional,
            )
            with gr.Row():
                go = gr.Button("generate", variant="primary", elem_id=_slug(item, "generate"))
                new = gr.Button("new seed")
        grid = gr.Image(
            label="samples (download: PNG)",
            format="png",
            type="numpy",
            interactive=False,
            buttons=["download", "fullscreen"],
            elem_classes="pixels",
            elem_id=_slug(item, "grid"),
            height=420,
            scale=2,
        )
    inputs = [seed, count, trunc, choice]
    generate = _page(lambda s, n, t, c: pages.generate_grid(model, s, n, t, c, out_dir))
    go.click(generate, inputs, grid, **_api(item, _slug(item, "generate")))
    new.click(_new_seed, None, seed, queue=False, api_visibility="private").then(
        generate, inputs, grid, **_api(item, _slug(item, "new_seed"))
    )
    app.load(generate, inputs, grid, **_api(item, _slug(item, "first")))
    if len(shape) == 1:
        return
    with gr.Accordion("latent walk between two seeds", open=True):
        with gr.Row():
            seed_b = gr.Number(1, label="to seed", precision=0, minimum=0)
            steps = gr.Slider(2, pages.MAX_WALK, 8, step=1, label="steps")
            walk_go = gr.Button("walk", variant="secondary")
        with gr.Row():
            strip = gr.Image(label="walk", format="png", interactive=False,
                             elem_classes="pixels", scale=3)  # fmt: skip
            gif = gr.Image(label="animated", type="filepath", interactive=False, scale=1)
    walk = _page(lambda a, b, k, t, c: pages.latent_walk(model, a, b, k, t, c, out_dir))
    walk_go.click(walk, [seed, seed_b, steps, trunc, choice], [strip, gif],
                  **_api(item, _slug(item, "walk")))  # fmt: skip


# ---- super-resolution and translation --------------------------------------------------------


def _upload(label: str, elem_id: str | None = None) -> gr.Image:
    """An image upload whose file reaches the page function as its path, unopened: serve_pages
    checks the bytes and the header's pixel count before anything decodes it (gr.Image's own
    preprocess opens the file first). The override is on the instance: a gr.Image subclass
    would make gradio write a .pyi stub beside this module."""
    upload = gr.Image(label=label, type="filepath", image_mode=None, sources=["upload"],
                      elem_id=elem_id, height=320)  # fmt: skip
    upload.preprocess = _path_of_upload
    return upload


def _path_of_upload(payload):
    if payload is None:
        return None
    if not payload.path:
        raise gr.Error("the upload did not arrive as a file; upload it again")
    return str(payload.path)


def _sr_tab(app, item, limits, out_dir):
    model = item.model
    scale = int(model.config.family_settings("srgan").scale)
    gr.Markdown(f"`{item.source}` · x{scale} super-resolution · step {model.step}",
                elem_classes="gf-note")  # fmt: skip
    with gr.Row():
        source = _upload("low-resolution image", elem_id=_slug(item, "input"))
        with gr.Column():
            go = gr.Button(f"upscale x{scale}", variant="primary", elem_id=_slug(item, "go"))
            caption = gr.Markdown(elem_id=_slug(item, "caption"))
    with gr.Row():
        result = gr.Image(label=f"ganforge x{scale}", format="png", interactive=False, height=420,
                          buttons=["download", "fullscreen"], elem_id=_slug(item, "result"))  # fmt: skip
        bicubic = gr.Image(label="bicubic (for comparison)", format="png", interactive=False,
                           buttons=["download", "fullscreen"], height=420)  # fmt: skip
    run = _page(lambda path: pages.upscale_upload(model, path, limits))
    go.click(run, source, [result, bicubic, caption], **_api(item, _slug(item, "upscale")))


def _translate_tab(app, item, limits, out_dir):
    model = item.model
    cyclegan = model.config.model.family == "cyclegan"
    gr.Markdown(f"`{item.source}` · {model.config.model.family} translation · step {model.step}",
                elem_classes="gf-note")  # fmt: skip
    with gr.Row():
        source = _upload("image to translate")
        with gr.Column():
            direction = gr.Radio(["AtoB", "BtoA"], value="AtoB", label="direction",
                                 visible=cyclegan)  # fmt: skip
            go = gr.Button("translate", variant="primary")
            caption = gr.Markdown(elem_id=_slug(item, "caption"))
    with gr.Row():
        seen = gr.Image(label="input (as the model sees it)", format="png", interactive=False)
        out = gr.Image(label="translated", format="png", interactive=False,
                       buttons=["download", "fullscreen"])  # fmt: skip
    run = _page(lambda path, d: pages.translate_upload(model, path, d, limits))
    go.click(run, [source, direction], [seen, out, caption],
             **_api(item, _slug(item, "translate")))  # fmt: skip


# ---- anomaly detectors -----------------------------------------------------------------------


def _anomaly_tab(app, item, limits, out_dir):
    detector = item.model
    gr.Markdown(
        f"`{item.source}` · {detector.method} on {detector.kind_}s · threshold "
        f"{detector.threshold():.4g} at false-positive rate {detector.fpr:g}",
        elem_classes="gf-note",
    )
    if detector.kind_ == "image":
        with gr.Row():
            files = gr.File(label=f"images (up to {limits.max_files})", file_count="multiple",
                            file_types=["image"], type="filepath")  # fmt: skip
            go = gr.Button("score", variant="primary", scale=0)
        table = gr.Dataframe(label="scores", interactive=False, headers=[*SCORES])
        maps = gr.Gallery(label="input | residual heat map", columns=4, height=300,
                          format="png")  # fmt: skip
        run = _page(lambda paths: pages.score_images(detector, paths, limits))
        go.click(run, files, [table, maps], **_api(item, _slug(item, "score")))
        return
    columns = ",".join(detector.columns_ or [])
    with gr.Row():
        rows = gr.Textbox(label=f"CSV rows ({columns}); a header line is optional", lines=4,
                          placeholder=columns)  # fmt: skip
        csv = gr.File(label="or a CSV file", file_types=[".csv"], type="filepath")
    go = gr.Button("score", variant="primary")
    table = gr.Dataframe(label="scores", interactive=False, headers=["row", *SCORES[1:]])
    run = _page(lambda text, path: pages.score_rows(detector, text, path, limits))
    go.click(run, [rows, csv], table, **_api(item, _slug(item, "score")))


# ---- tables and sequences --------------------------------------------------------------------


def _table_tab(app, item, limits, out_dir):
    model = item.model
    gr.Markdown(f"`{item.source}` · tabular GAN · {len(model.transformer.columns)} columns",
                elem_classes="gf-note")  # fmt: skip
    with gr.Row():
        rows = gr.Number(1000, label="rows", precision=0, minimum=1, maximum=pages.MAX_ROWS)
        seed = gr.Number(0, label="seed", precision=0, minimum=0)
        conditions = gr.Textbox(label="conditions (col=value, one a line or comma-separated)",
                                info=pages.condition_hint(model), scale=3)  # fmt: skip
        go = gr.Button("sample", variant="primary", scale=0)
    caption = gr.Markdown(elem_id=_slug(item, "caption"))
    preview = gr.Dataframe(label="preview", interactive=False, max_height=360)
    download = gr.File(label="CSV download", interactive=False)
    run = _page(lambda n, c, s: pages.sample_table(model, n, c, s, out_dir))
    go.click(run, [rows, conditions, seed], [preview, download, caption],
             **_api(item, _slug(item, "sample")))  # fmt: skip


def _sequence_tab(app, item, limits, out_dir):
    model = item.model
    columns = pages.series_columns(model)
    steps = (model.meta or {}).get("seq_len", "?")
    gr.Markdown(f"`{item.source}` · sequence GAN · {steps} steps · {', '.join(columns)}",
                elem_classes="gf-note")  # fmt: skip
    with gr.Row():
        count = gr.Number(100, label="sequences", precision=0, minimum=1,
                          maximum=pages.MAX_SEQUENCES)  # fmt: skip
        seed = gr.Number(0, label="seed", precision=0, minimum=0)
        column = gr.Dropdown(columns, value=columns[0], label="column to plot")
        go = gr.Button("sample", variant="primary", scale=0)
    caption = gr.Markdown(elem_id=_slug(item, "caption"))
    plot = gr.LinePlot(x="step", y="value", color="sequence_id", height=320)
    download = gr.File(label="CSV download (all sequences, long format)", interactive=False)
    run = _page(lambda n, s, c: pages.sample_sequences(model, n, s, c, out_dir))
    go.click(run, [count, seed, column], [plot, download, caption],
             **_api(item, _slug(item, "sample")))  # fmt: skip


# ---- runs ------------------------------------------------------------------------------------


def _runs_tab(app, runs):
    timer = gr.Timer(REFRESH_S)
    for item in runs:
        with gr.Accordion(str(item.run_dir), open=True):
            with gr.Row():
                info = gr.Code(label="ganforge info", language=None, lines=12, scale=2)
                grid = gr.Image(label="newest samples", format="png", interactive=False,
                                elem_classes="pixels", height=300, scale=1)  # fmt: skip
            curves = gr.LinePlot(x="step", y="value", color="loss", height=260,
                                 label="losses (metrics.jsonl)")  # fmt: skip
        outputs = [info, grid, curves]
        view = _RunView(item.run_dir)
        app.load(view, None, outputs, api_name=_slug(item, "run"), queue=False)
        timer.tick(view.if_changed, None, outputs, api_visibility="private", queue=False)


class _RunView:
    """The runs tab's view of one run, re-read only when its files changed (a training run)."""

    def __init__(self, run_dir: Path):
        self.run_dir, self.stamp = Path(run_dir), None

    def _stamp(self):
        files = [self.run_dir / "metrics.jsonl", self.run_dir / "checkpoints" / "last.pt"]
        return tuple(f.stat().st_mtime_ns if f.is_file() else 0 for f in files)

    def __call__(self):
        self.stamp = self._stamp()
        return pages.run_view(self.run_dir)

    def if_changed(self):
        if self._stamp() == self.stamp:
            return gr.skip(), gr.skip(), gr.skip()
        return self()


KIND_TITLES = {
    "image": "generate",
    "sr": "super-resolution",
    "translate": "translate",
    "anomaly": "anomaly",
    "table": "table",
    "sequence": "sequences",
}
BUILDERS = {
    "image": _image_tab,
    "sr": _sr_tab,
    "translate": _translate_tab,
    "anomaly": _anomaly_tab,
    "table": _table_tab,
    "sequence": _sequence_tab,
}
