"""`ganforge serve` refuses what it cannot serve in one line, before it listens: a missing path,
a file that is no model, a folder without runs, a run with no page of its own, a bad --port,
a port already taken, and a missing gradio (the line says the one command to install it)."""

from __future__ import annotations

import socket
import sys

import pytest

from tests.bad_input.conftest import assert_user_error
from tests.cli_helpers import TINY_DIGITS


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    from ganforge.cli import main

    out = tmp_path_factory.mktemp("serve_bad")
    assert main(["train", *map(str, TINY_DIGITS), "--out", str(out), "--name", "d"]) == 0
    return out / "d"


def _tabular_run(tmp_path):
    import numpy as np
    import pandas as pd

    from ganforge.tabular import TabularGAN

    table = pd.DataFrame({"a": np.arange(80) % 3, "b": np.linspace(0, 1, 80)})
    TabularGAN(epochs=1, batch_size=40, embedding_dim=8, generator_width=8,
               discriminator_width=8, mixture_rows=80, verbose=False).fit(
        table, run_dir=tmp_path / "tab")  # fmt: skip
    return tmp_path / "tab", "a tabular run has no page", "serve its .gft"


CASES = {
    "missing": (lambda t, r: ([t / "nope"], None), ["no such run", "nope"]),
    "text-file": (
        lambda t, r: ([(t / "notes.txt").write_text("hi") and t / "notes.txt"], None),
        ["notes.txt", "text"],
    ),
    "empty-folder": (
        lambda t, r: ([(t / "empty").mkdir() or t / "empty"], None),
        ["no run or model file in this folder", "empty"],
    ),
    "tabular-run": (lambda t, r: ([_tabular_run(t)[0]], None), ["tabular run has no page", "gft"]),
    "port-zero": (lambda t, r: ([r, "--port", 0], None), ["--port must be from 1 to 65535"]),
}


@pytest.mark.parametrize("case", CASES)
def test_serve_refuses_in_one_line(case, cli, tmp_path, digits_run):
    make, names = CASES[case]
    argv, _ = make(tmp_path, digits_run)
    assert_user_error(cli("serve", *argv), *names)


def test_a_port_in_use_is_one_line(cli, digits_run):
    pytest.importorskip("gradio")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = cli("serve", digits_run, "--port", port)
    assert_user_error(ran, f"cannot listen on 127.0.0.1:{port}", "--port")


def test_without_gradio_it_says_how_to_install_it(cli, digits_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` raises ImportError
    ran = cli("serve", digits_run)
    assert_user_error(ran, "needs gradio", r"pip install 'ganforge\[app\]'")


def test_no_model_named_and_none_shipped_is_one_line(cli, monkeypatch):
    try:
        from ganforge import pretrained
    except ImportError:  # no pretrained module at all: the same line
        pretrained = None
    if pretrained is not None:
        monkeypatch.setattr(pretrained, "names", lambda: [])
    assert_user_error(cli("serve"), "no model named", "ganforge serve runs/")
