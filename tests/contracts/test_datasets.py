"""Dataset files: data directory, verified download cache, clear errors, nothing bad left behind."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from mlxbench_workloads.mnist import data as mnist_data

from mlxbench import datasets
from mlxbench.datasets import ChecksumError, DatasetUnavailable, fetch

GOOD = b"the published bytes" * 100
FILES = {"a.bin": hashlib.sha256(GOOD).hexdigest()}
SHARED_MNIST = Path(os.environ.get("MLXBENCH_DATA_DIR") or Path(__file__).parents[3] / "shared" / "data" / "mnist")


def mirror(tmp_path: Path, name: str, content: bytes | None) -> str:
    folder = tmp_path / name
    folder.mkdir()
    if content is not None:
        (folder / "a.bin").write_bytes(content)
    return folder.as_uri()


def test_data_dir_missing_file_says_which_and_how(tmp_path):
    with pytest.raises(DatasetUnavailable, match=r"a\.bin not found in data directory .*--data-dir"):
        fetch("demo", FILES, [], data_dir=tmp_path)


def test_corrupt_file_in_data_dir_is_named_and_left_untouched(tmp_path):
    (tmp_path / "a.bin").write_bytes(GOOD[:-7])
    with pytest.raises(ChecksumError, match=r"a\.bin is corrupt or not the published file.*left untouched"):
        fetch("demo", FILES, [], data_dir=tmp_path)
    assert (tmp_path / "a.bin").read_bytes() == GOOD[:-7]


def test_download_skips_a_mirror_serving_a_truncated_file(tmp_path):
    cache = tmp_path / "cache"
    mirrors = [mirror(tmp_path, "bad", GOOD[:50]), mirror(tmp_path, "good", GOOD)]
    paths = fetch("demo", FILES, mirrors, cache_dir=cache, retries=0)
    assert paths["a.bin"].read_bytes() == GOOD
    assert sorted(p.name for p in cache.iterdir()) == ["a.bin"]  # no partial or bad file left


def test_no_working_mirror_is_a_clear_error_and_leaves_no_file(tmp_path):
    cache = tmp_path / "cache"
    mirrors = [mirror(tmp_path, "bad", GOOD[:50]), mirror(tmp_path, "empty", None)]
    with pytest.raises(DatasetUnavailable) as caught:
        fetch("demo", FILES, mirrors, cache_dir=cache, retries=1)
    message = str(caught.value)
    assert "could not download a.bin; tried" in message and "--data-dir" in message
    assert "bad (checksum mismatch)" in message and "empty (No such file or directory)" in message
    assert message.count("empty (") == 1  # a mirror retried with the same error is named once
    assert list(cache.iterdir()) == []


def test_corrupt_cache_entry_is_replaced(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "a.bin").write_bytes(b"garbage")
    fetch("demo", FILES, [mirror(tmp_path, "good", GOOD)], cache_dir=cache)
    assert (cache / "a.bin").read_bytes() == GOOD


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason=f"MNIST files not found at {SHARED_MNIST}")
def test_mnist_loader_matches_the_published_facts():
    ds = mnist_data.load(str(SHARED_MNIST))
    assert ds.train_images.shape == (60_000, 784) and ds.test_images.shape == (10_000, 784)
    assert ds.train_images.dtype == np.float32 and 0.0 <= ds.train_images.min() and ds.train_images.max() == 1.0
    counts = np.bincount(ds.train_labels, minlength=10).tolist()
    assert counts == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_idx_reader_rejects_a_wrong_header(tmp_path):
    import gzip

    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"abc"))
    with pytest.raises(ValueError, match="not an IDX file of unsigned bytes"):
        mnist_data.read_idx(path)


def test_a_dataset_is_loaded_once_per_session():
    from mlxbench.session.context import RunContext

    ctx, calls = RunContext(), []
    for _ in range(3):
        assert ctx.dataset(("demo", None), lambda: calls.append(1) or "data") == "data"
    assert calls == [1]


class SilentServer:
    """A local TCP server (127.0.0.1 only) that accepts connections and never answers: a mirror
    whose name resolves but whose requests hang, as behind a firewall that drops replies."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def mirrors(self, *names: str) -> list[str]:
        return [f"http://127.0.0.1:{self.port}/{n}/" for n in names]

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.close()


def test_a_silent_mirror_gives_up_fast_names_each_mirror_once_and_is_remembered(tmp_path, silent):
    mirrors = silent.mirrors("one", "two")
    start = time.monotonic()
    lines: list[str] = []
    previous = datasets.set_progress(lines.append)  # the plugin routes these to the terminal; here, to a list
    try:
        with pytest.raises(DatasetUnavailable) as first:
            fetch("demo", FILES, mirrors, cache_dir=tmp_path, timeout=0.5)
    finally:
        datasets.set_progress(previous)
    assert time.monotonic() - start < 20  # generous: two mirrors, 0.5 s each
    message = str(first.value)
    assert len(message) < 400 and "\n" not in message
    assert message.count("127.0.0.1") == 2 and "/one" in message and "/two" in message
    assert "(each: no answer within 0.5 s)" in message and "--data-dir PATH (or set MLXBENCH_DATA_DIR)" in message
    bounds = "(timeout 0.5 s per read, at least 20 kB/s after 0.5 s, 600 s in all)"
    assert lines == [f"mlxbench: downloading demo a.bin from {m} {bounds}..." for m in mirrors]
    connections = len(silent.held)
    assert connections == 2

    previous = datasets.set_progress(lines.append)
    try:
        with pytest.raises(DatasetUnavailable) as again:  # the same dataset later in the session
            fetch("demo", FILES, mirrors, cache_dir=tmp_path, timeout=0.5)
    finally:
        datasets.set_progress(previous)
    assert str(again.value) == message and len(silent.held) == connections  # not one more connection
    assert len(lines) == len(mirrors)  # and no new download announced
    assert list(tmp_path.iterdir()) == []  # no partial file


def test_a_remembered_failure_does_not_hide_files_put_in_place_or_other_sources(tmp_path, silent):
    mirrors = silent.mirrors("one")
    with pytest.raises(DatasetUnavailable):
        fetch("demo", FILES, mirrors, cache_dir=tmp_path / "cache", timeout=0.2)
    assert fetch("demo", FILES, [mirror(tmp_path, "good", GOOD)], cache_dir=tmp_path / "cache")["a.bin"].is_file()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a.bin").write_bytes(GOOD)  # the user copied the file into another cache
    assert fetch("demo", FILES, mirrors, cache_dir=tmp_path / "other", timeout=0.2)["a.bin"].read_bytes() == GOOD


def test_a_resolver_that_never_answers_is_given_up_on(tmp_path, monkeypatch):
    release = threading.Event()

    def hanging_lookup(*args, **kwargs):
        release.wait(60)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_lookup)
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    start = time.monotonic()
    try:
        with pytest.raises(DatasetUnavailable, match=r"mirror\.invalid/mnist \(no answer within 0\.3 s\)"):
            fetch("demo", FILES, ["https://mirror.invalid/mnist/"], cache_dir=tmp_path, timeout=0.3)
    finally:
        release.set()
    assert time.monotonic() - start < 20


def test_mnist_skips_within_seconds_and_at_once_afterwards(tmp_path, silent, monkeypatch):
    monkeypatch.setattr(mnist_data, "MIRRORS", tuple(silent.mirrors("s3", "gcs", "github", "lecun")))
    monkeypatch.setenv("MLXBENCH_DOWNLOAD_TIMEOUT", "0.3")
    with pytest.raises(DatasetUnavailable, match=r"^mnist: could not download train-images-idx3-ubyte\.gz; tried") as e:
        mnist_data.load(cache_dir=str(tmp_path))
    assert len(silent.held) == 4 and "(each: no answer within 0.3 s)" in str(e.value)
    for _ in range(3):  # every later MNIST benchmark of the session
        with pytest.raises(DatasetUnavailable) as again:
            mnist_data.load(cache_dir=str(tmp_path))
        assert str(again.value) == str(e.value)
    assert len(silent.held) == 4


def test_a_bad_timeout_setting_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("MLXBENCH_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(DatasetUnavailable, match=r"MLXBENCH_DOWNLOAD_TIMEOUT='soon' is not a number of seconds"):
        fetch("demo", FILES, ["file:///nonexistent/"], cache_dir=tmp_path)
    monkeypatch.delenv("MLXBENCH_DOWNLOAD_TIMEOUT")
    assert datasets.download_timeout() == datasets.DEFAULT_TIMEOUT == 5.0


def test_progress_lines_can_be_routed(tmp_path):
    lines: list[str] = []
    previous = datasets.set_progress(lines.append)
    try:
        fetch("demo", FILES, [mirror(tmp_path, "good", GOOD)], cache_dir=tmp_path / "cache", timeout=1)
    finally:
        assert datasets.set_progress(previous) == lines.append
    bounds = "(timeout 1 s per read, at least 20 kB/s after 1 s, 600 s in all)"
    assert lines == [f"mlxbench: downloading demo a.bin from {(tmp_path / 'good').as_uri()} {bounds}..."]


def test_a_download_that_trickles_is_given_up_by_its_rate_and_its_deadline():
    """Each read within the per-read timeout, one byte every 3 s: the rate (and at worst the deadline) ends it."""
    import io

    from mlxbench import datasets as ds

    class Trickle:
        def __init__(self):
            self.now = 0.0

        def read(self, _n):
            self.now += 3.0
            return b"x"

    src = Trickle()
    with pytest.raises(ds.TooSlow, match=r"kB/s, under 20 kB/s"):
        ds.copy_bounded(src, io.BytesIO(), 5.0, clock=lambda: src.now)
    assert src.now <= 9.0  # given up at the first look after the 5 s timeout, not after minutes

    class Steady(Trickle):  # fast enough, but never ends
        def read(self, _n):
            self.now += 1.0
            return b"x" * 30_000

    src = Steady()
    with pytest.raises(ds.TooSlow, match="not done within 600 s"):
        ds.copy_bounded(src, io.BytesIO(), 5.0, clock=lambda: src.now)
    data = io.BytesIO(b"y" * 300_000)
    out = io.BytesIO()
    assert ds.copy_bounded(data, out, 5.0) == 300_000 and out.getvalue() == b"y" * 300_000
