"""The linear-regression workload's own logic: data, reference, metrics and gates."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

from mlxbench.backends.numpy import NumpyBackend
from mlxbench.registry import Registry
from mlxbench.workload import Measured, Unsupported
from workloads import linreg

SMALL = linreg.Spec(steps=2_000)
NONE = Measured()


def prepare(backend, spec, variant):
    impl = Registry.load().implementation(linreg.WORKLOAD, backend.framework)
    return linreg.WORKLOAD.prepare(backend, spec, variant, None, impl)


def test_profiles_keep_seed_sizes():
    seed = linreg.PROFILES["seed"]
    assert (seed.n_features, seed.n_train, seed.noise, seed.steps, seed.lr) == (100, 1_000, 1e-2, 10_000, 0.01)


def test_data_is_deterministic_and_float32():
    a, b = linreg.make_data(SMALL), linreg.make_data(SMALL)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert a.X_train.dtype == np.float32 and a.X_train.shape == (1_000, 100) and a.X_test.shape == (100, 100)


@pytest.mark.parametrize(("profile", "tol"), [("seed", 1e-10), ("ci", 1e-4)])
def test_reference_converges_to_least_squares(profile, tol):
    spec = linreg.PROFILES[profile]
    data = linreg.make_data(spec)
    w = linreg.reference(spec, data)
    lstsq = np.linalg.lstsq(data.X_train.astype(np.float64), data.y_train.astype(np.float64), rcond=None)[0]
    assert np.max(np.abs(w - lstsq)) < tol


def test_gates_pass_a_converged_run_and_fail_the_start():
    wl = linreg.WORKLOAD
    prepared = prepare(NumpyBackend(), SMALL, "eager-step")
    good = wl.metrics(SMALL, "eager-step", prepared.run(), prepared, NONE)
    assert all(g.passes(good[g.metric]) for g in wl.gates(SMALL, "eager-step")), good
    bad = wl.metrics(SMALL, "eager-step", prepared.state.w0, prepared, NONE)
    failed = [g.metric for g in wl.gates(SMALL, "eager-step") if not g.passes(bad[g.metric])]
    assert failed == ["test_mse", "weight_error", "ref_deviation"]


def test_numpy_has_no_compiled_variant():
    with pytest.raises(Unsupported, match="numpy has no compiler"):
        prepare(NumpyBackend(), SMALL, "compiled-step")


FRAMEWORK_MODULES = {"mlx": "mlx.core", "torch": "torch"}  # `import mlx` succeeds even with no MLX in it


def require(framework: str) -> None:
    """Skip, with the import error as the reason, unless the framework's compute module imports."""
    module = FRAMEWORK_MODULES[framework]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        pytest.skip(f"{module} cannot be imported ({type(exc).__name__}: {exc}); reinstall {framework}")


def test_a_broken_mlx_install_skips_with_the_import_error(tmp_path, monkeypatch):
    (tmp_path / "mlx").mkdir()  # what `pip uninstall mlx` can leave behind: an empty mlx/ folder
    for name in [m for m in sys.modules if m == "mlx" or m.startswith("mlx.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *(p for p in sys.path if not (Path(p) / "mlx").is_dir())])
    importlib.invalidate_caches()
    assert importlib.import_module("mlx").__spec__ is not None  # importorskip("mlx") would pass here
    with pytest.raises(pytest.skip.Exception, match=r"mlx\.core cannot be imported \(ModuleNotFoundError: No module"):
        require("mlx")


def test_a_framework_whose_library_fails_to_load_skips(monkeypatch):
    class BrokenLibrary:
        def find_spec(self, name, path=None, target=None):
            if name == "mlx.core":
                raise ImportError("libmlx.so: cannot open shared object file")
            return None

    monkeypatch.delitem(sys.modules, "mlx.core", raising=False)
    monkeypatch.setattr(sys, "meta_path", [BrokenLibrary(), *sys.meta_path])
    with pytest.raises(pytest.skip.Exception, match=r"libmlx\.so: cannot open shared object file"):
        require("mlx")


@pytest.mark.parametrize("framework", ["mlx", "torch"])
def test_frameworks_agree_with_the_float64_reference(framework):
    require(framework)
    backend = Registry.load().backends[f"{framework}-cpu"]
    if backend.unavailable_reason():  # not installed, or broken (an empty mlx/ folder): a skip that says why
        pytest.skip(backend.unavailable_reason())
    spec = linreg.Spec(steps=300)
    with backend.activate():
        prepared = prepare(backend, spec, "eager-step")
        w = backend.to_numpy(prepared.run())
    assert linreg.WORKLOAD.metrics(spec, "eager-step", w, prepared, NONE)["ref_deviation"] < spec.max_ref_deviation
