"""Backends: names, lazy imports, round trips, sync, restored default devices, skip reasons."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mlxbench.backends import builtin_backends, tree_leaves, tree_map
from mlxbench.backends.mlx import MlxBackend
from mlxbench.backends.torch import TorchBackend

BUILTIN_BACKENDS = builtin_backends()
NAMES = [b.name for b in BUILTIN_BACKENDS]


def test_builtin_backend_names_are_exact():
    assert NAMES == ["mlx-cpu", "mlx-gpu", "numpy", "torch-cpu", "torch-mps", "torch-cuda"]


def test_importing_the_plugin_imports_no_framework():
    code = "import sys, mlxbench.plugin, mlxbench.registry; print('mlx' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_tree_helpers_keep_structure():
    tree = {"a": (1, 2), "b": [3]}
    assert tree_map(lambda v: v * 10, tree) == {"a": (10, 20), "b": [30]}
    assert tree_leaves(tree) == [1, 2, 3]


@pytest.mark.parametrize("name", ["numpy", "mlx-cpu", "torch-cpu"])
def test_round_trip_to_device_and_back(name):
    backend = next(b for b in BUILTIN_BACKENDS if b.name == name)
    if backend.unavailable_reason():
        pytest.skip(backend.unavailable_reason())
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    with backend.activate():
        x = backend.asarray(a)
        backend.sync(x)
        back = backend.to_numpy({"x": x, "pair": (x, x)})
    np.testing.assert_array_equal(back["x"], a)
    np.testing.assert_array_equal(back["pair"][1], a)
    assert backend.facts()["version"]


def test_mlx_activate_restores_default_device_even_on_error():
    mx = pytest.importorskip("mlx.core")
    before = mx.default_device()
    with pytest.raises(RuntimeError):
        with MlxBackend("cpu").activate():
            assert mx.default_device() == mx.cpu
            raise RuntimeError("boom")
    assert mx.default_device() == before


def test_mlx_sync_evaluates_lazy_graph(monkeypatch):
    mx = pytest.importorskip("mlx.core")
    seen = []
    monkeypatch.setattr(mx, "eval", lambda *a: seen.append("eval"))
    monkeypatch.setattr(mx, "synchronize", lambda *a: seen.append("synchronize"))
    MlxBackend("cpu").sync(mx.array([1.0]) + 1)
    assert seen == ["eval", "synchronize"]


def test_torch_sync_calls_the_device_synchronize(monkeypatch):
    torch = pytest.importorskip("torch")
    seen = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: seen.append("cuda"))
    monkeypatch.setattr(torch.mps, "synchronize", lambda *a: seen.append("mps"))
    TorchBackend("cuda").sync(None)
    TorchBackend("mps").sync(None)
    TorchBackend("cpu").sync(None)
    assert seen == ["cuda", "mps"]


def test_unavailable_reasons_say_why(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert TorchBackend("cuda").unavailable_reason().startswith("no CUDA device visible to PyTorch")
    assert TorchBackend("mps").unavailable_reason().startswith("no MPS device")
    assert TorchBackend("cpu").unavailable_reason() is None


def test_missing_framework_reason_names_the_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n in ("mlx", "torch") else real(n, *a))
    assert "mlx is not installed" in MlxBackend("gpu").unavailable_reason()
    assert TorchBackend("cpu").unavailable_reason() == "torch is not installed (pip install torch)"
