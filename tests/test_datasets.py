"""Dataset files: data directory, verified download cache, clear errors, nothing bad left behind."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from mlxbench.datasets import ChecksumError, DatasetUnavailable, fetch
from workloads.mnist import data as mnist_data

GOOD = b"the published bytes" * 100
FILES = {"a.bin": hashlib.sha256(GOOD).hexdigest()}
SHARED_MNIST = Path(os.environ.get("MLXBENCH_DATA_DIR") or Path(__file__).parents[2] / "shared" / "data" / "mnist")


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
    from mlxbench.runner import RunContext

    ctx, calls = RunContext(), []
    for _ in range(3):
        assert ctx.dataset(("demo", None), lambda: calls.append(1) or "data") == "data"
    assert calls == [1]
