"""`ganforge data get mnist` with the network simulated: urllib is replaced, nothing downloads."""

from __future__ import annotations

import gzip
import hashlib
import io
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from ganforge.cli import main
from ganforge.data import download
from ganforge.data.mnist import FILE_NAMES, load_mnist_arrays
from ganforge.errors import GanforgeError
from tests.fixtures import MNIST_MINI

SHARED_MNIST = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "mnist"
S3, LECUN = download.MIRRORS


class FakeNetwork:
    """Stands in for urllib.request.urlopen: url -> bytes (served) or an exception (raised)."""

    def __init__(self, routes: dict):
        self.routes, self.requested = routes, []

    def __call__(self, url, timeout=None):
        self.requested.append(url)
        answer = self.routes.get(url, urllib.error.URLError("Name or service not known"))
        if isinstance(answer, Exception):
            raise answer
        return io.BytesIO(answer)


@pytest.fixture
def network(monkeypatch):
    """`network(routes)` installs a fake network; unlisted URLs fail as if offline."""

    def install(routes: dict) -> FakeNetwork:
        fake = FakeNetwork(routes)
        monkeypatch.setattr(urllib.request, "urlopen", fake)
        return fake

    install({})  # no test reaches the real network, even by mistake
    return install


@pytest.fixture
def mini_hashes(monkeypatch):
    """Make the shipped subset the 'real' files: their content SHA-256 become the expected ones."""
    hashes = {
        name: hashlib.sha256(gzip.decompress((MNIST_MINI / name).read_bytes())).hexdigest()
        for name in FILE_NAMES
    }
    monkeypatch.setattr(download, "MNIST_SHA256", hashes)
    return {name: (MNIST_MINI / name).read_bytes() for name in FILE_NAMES}


def served_by(mirror: str, files: dict[str, bytes]) -> dict[str, bytes]:
    return {mirror + name: data for name, data in files.items()}


def test_the_expected_hashes_cover_the_four_files():
    assert tuple(download.MNIST_SHA256) == FILE_NAMES
    assert all(len(h) == 64 for h in download.MNIST_SHA256.values())


@pytest.mark.skipif(
    not SHARED_MNIST.is_dir(), reason="the real MNIST files are not beside the checkout"
)
def test_the_real_files_pass_the_real_checksums(tmp_path, network):
    """The recorded SHA-256 are those of the real MNIST: served the real files, get accepts them."""
    real = {name: (SHARED_MNIST / name).read_bytes() for name in FILE_NAMES}
    network(served_by(S3, real))
    download.download_mnist(tmp_path / "m", log=lambda line: None)
    assert load_mnist_arrays(tmp_path / "m", "test")[0].shape == (10_000, 28, 28)


def test_get_downloads_checks_and_writes_the_four_files(tmp_path, network, mini_hashes):
    fake = network(served_by(S3, mini_hashes))
    lines = []
    target = download.download_mnist(tmp_path / "m", log=lines.append)
    assert target == tmp_path / "m"
    assert sorted(p.name for p in target.iterdir()) == sorted(FILE_NAMES)  # no temp files left
    assert fake.requested == [S3 + name for name in FILE_NAMES]
    images, labels = load_mnist_arrays(target, "train")
    assert np.array_equal(images, load_mnist_arrays(MNIST_MINI, "train")[0])
    assert sum("checksum ok" in line for line in lines) == 4 and str(target) in lines[-1]
    # again: every file is already there and checked, nothing is fetched
    fake = network({})
    download.download_mnist(tmp_path / "m", log=lines.append)
    assert fake.requested == [] and "already there" in lines[-2]


def test_a_wrong_checksum_falls_back_to_the_next_mirror(tmp_path, network, mini_hashes):
    wrong = {name: gzip.compress(b"not mnist") for name in FILE_NAMES}
    fake = network({**served_by(S3, wrong), **served_by(LECUN, mini_hashes)})
    lines = []
    download.download_mnist(tmp_path, log=lines.append)
    assert fake.requested[:2] == [S3 + FILE_NAMES[0], LECUN + FILE_NAMES[0]]
    assert any("does not match" in line for line in lines)
    assert (tmp_path / FILE_NAMES[0]).read_bytes() == mini_hashes[FILE_NAMES[0]]


@pytest.mark.parametrize(
    "bad", [gzip.compress(b"not mnist"), b"<html>503</html>"], ids=["other-gzip", "not-gzip"]
)
def test_wrong_checksums_everywhere_write_nothing(tmp_path, network, mini_hashes, bad):
    network({**served_by(S3, {FILE_NAMES[0]: bad}), **served_by(LECUN, {FILE_NAMES[0]: bad})})
    with pytest.raises(GanforgeError) as e:
        download.download_mnist(tmp_path, log=lambda line: None)
    message = str(e.value)
    assert f"downloaded {FILE_NAMES[0]} does not match its SHA-256" in message
    assert S3 + FILE_NAMES[0] in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_file_already_there_is_replaced(tmp_path, network, mini_hashes):
    (tmp_path / FILE_NAMES[1]).write_bytes(mini_hashes[FILE_NAMES[1]][:50])  # cut short
    network(served_by(S3, mini_hashes))
    download.download_mnist(tmp_path, log=lambda line: None)
    assert (tmp_path / FILE_NAMES[1]).read_bytes() == mini_hashes[FILE_NAMES[1]]


def test_no_network_says_in_one_line_where_to_put_the_files(tmp_path, network, cli_run):
    fake = network({})
    code, out, err = cli_run("data", "get", "mnist", "-o", tmp_path / "m")
    assert code == 2 and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("ganforge: error: cannot download MNIST")
    assert "Name or service not known" in line and str(tmp_path / "m") in line
    assert all(name in line for name in FILE_NAMES)
    assert fake.requested == [S3 + FILE_NAMES[0], LECUN + FILE_NAMES[0]]  # both mirrors, once


def test_a_connection_cut_mid_file_is_a_network_error(tmp_path, network):
    import http.client

    network(
        {
            S3 + FILE_NAMES[0]: http.client.IncompleteRead(b"abc"),
            LECUN + FILE_NAMES[0]: TimeoutError(),
        }
    )
    with pytest.raises(GanforgeError, match="cannot download MNIST"):
        download.download_mnist(tmp_path, log=lambda line: None)
    assert list(tmp_path.iterdir()) == []


def test_the_target_follows_ganforge_data_else_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GANFORGE_DATA", raising=False)
    assert download.mnist_target() == tmp_path / "home" / ".cache" / "ganforge" / "mnist"
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "data"))
    assert download.mnist_target() == tmp_path / "data" / "mnist"
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "data" / "mnist"))
    assert download.mnist_target() == tmp_path / "data" / "mnist"
    assert download.mnist_target(tmp_path / "x") == tmp_path / "x"


def test_get_through_the_cli_puts_it_where_the_loader_looks(
    tmp_path, monkeypatch, network, mini_hashes, cli_run
):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path / "data"))
    network(served_by(S3, mini_hashes))
    code, out, err = cli_run("data", "get", "mnist")
    assert code == 0, err
    assert f"MNIST is in {tmp_path / 'data' / 'mnist'}" in out
    code, out, err = cli_run("data", "list")
    assert (
        code == 0
        and f"{tmp_path / 'data' / 'mnist'}  ($GANFORGE_DATA): 4 of 4 files  <- used" in out
    )


def test_data_list_without_mnist_says_how_to_get_it(tmp_path, monkeypatch, cli_run):
    monkeypatch.setenv("GANFORGE_DATA", str(tmp_path))
    code, out, _ = cli_run("data", "list")
    assert code == 0 and "mnist: not found (get it with `ganforge data get mnist`)" in out
    assert f"{tmp_path}  ($GANFORGE_DATA): no MNIST here" in out


@pytest.fixture
def cli_run(capsys):
    def run(*argv):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_an_unwritable_target_is_one_line_before_any_download(tmp_path, network):
    (tmp_path / "file").write_text("x")
    fake = network({})
    with pytest.raises(GanforgeError, match="cannot write the MNIST folder") as e:
        download.download_mnist(tmp_path / "file" / "mnist", log=lambda line: None)
    assert str(tmp_path / "file" / "mnist") in str(e.value) and fake.requested == []


def test_only_mnist_downloads(cli_run):
    code, _, err = cli_run("data", "get", "cifar10")
    assert code == 2 and "unknown dataset 'cifar10'" in err and "use mnist" in err
