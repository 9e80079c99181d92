"""MNIST: the four original IDX gzip files, verified by SHA256, parsed without pickle."""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlxbench.datasets import fetch

FILES = {  # the published files; their MD5s are the ones every loader checks
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

MIRRORS = (  # the original site often refuses downloads; these serve the same bytes
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://raw.githubusercontent.com/fgnt/mnist/master/",
    "http://yann.lecun.com/exdb/mnist/",
)


@dataclass(frozen=True)
class Mnist:
    train_images: np.ndarray  # (60000, 784) float32 in [0, 1]
    train_labels: np.ndarray  # (60000,) int32
    test_images: np.ndarray  # (10000, 784)
    test_labels: np.ndarray


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes (header {raw[:4].hex()})")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} but holds {data.size} values")
    return data.reshape(shape)


def load(data_dir: str | None = None, cache_dir: str | None = None, timeout: float | None = None) -> Mnist:
    """The four files from `data_dir`, else the download cache (each mirror tried once, `timeout`
    seconds per step, default MLXBENCH_DOWNLOAD_TIMEOUT or 5; a failure is remembered for the process)."""
    paths = fetch("mnist", FILES, MIRRORS, data_dir=data_dir, cache_dir=cache_dir, timeout=timeout)

    def images(f: str) -> np.ndarray:
        return (read_idx(paths[f]).reshape(-1, 28 * 28) / np.float32(255.0)).astype(np.float32)

    def labels(f: str) -> np.ndarray:
        return read_idx(paths[f]).astype(np.int32)

    return Mnist(
        images("train-images-idx3-ubyte.gz"),
        labels("train-labels-idx1-ubyte.gz"),
        images("t10k-images-idx3-ubyte.gz"),
        labels("t10k-labels-idx1-ubyte.gz"),
    )
