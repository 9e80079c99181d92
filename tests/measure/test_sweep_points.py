"""Sweep points: the profile's variants and sizes, skips before allocating (memory, predicted time),
peak memory of a call that allocates a known amount, and seed/ci test ids left as they were."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mlxbench.backends.base import Capacity
from mlxbench.backends.numpy import NumpyBackend
from mlxbench.measure.pointguard import PointGuard, does_not_fit
from mlxbench.registry import Registry
from mlxbench.workload import PROFILES, Size, variants_for

ROOT = Path(__file__).resolve().parents[2]
AXES = {  # the sweep profile's size axes and their ends
    "lazy_eval": {"elements": (4, 1_048_576)},
    "linreg": {"features": (10, 10_000)},
    "mnist_mlp": {"hidden": (64, 4_096), "batch": (32, 4_096)},
    "placement": {"rows": (4_096, 4_096), "n": (64, 8_192), "elements": (4, 1_048_576)},
}
# Work per measured call from the smallest point to the largest: three orders of magnitude or more, but an
# MNIST epoch at hidden width 4,096 does 365x the work of one at 64 (the 784-wide input layer grows linearly).
MIN_WORK_SPAN = {"lazy_eval": 1e3, "linreg": 1e3, "mnist_mlp": 3e2, "placement": 1e3}
SEED_VARIANTS = {  # the seed and ci profiles' variants before the sweep profile: their test ids must not move
    "lazy_eval": (
        "seed-lazy",
        "seed-forced",
        *(f"{c}-{n}-{m}" for c in ("indep", "dep") for n in (4, 1024, 65536, 1048576) for m in ("end", "each")),
    ),
    "linreg": ("eager-step", "eager-end", "compiled-step", "compiled-end"),
    "mnist_mlp": ("eager-step", "eager-end", "compiled-step", "compiled-end"),
    "placement": ("seed-to-cpu", "seed-to-gpu", "finite-to-cpu", "finite-to-gpu"),
}


def size(work: float, device_bytes: int = 8, calls: int = 6) -> Size:
    return Size("s", "n", int(work), work, "flop", device_bytes, calls=calls)


def test_prediction_uses_the_two_largest_smaller_sizes():
    guard = PointGuard(budget_s=10.0)
    assert guard.predict("w", size(100), "b") is None  # nothing measured yet: no prediction, no skip
    guard.record("w", size(10), "b", 0.01)
    per_call, how = guard.predict("w", size(100), "b")
    assert per_call == pytest.approx(0.1) and "proportional" in how  # one point: time proportional to work
    guard.record("w", size(100), "b", 0.04)  # slope log(4)/log(10) = 0.60 from 10 to 100: fixed costs
    per_call, how = guard.predict("w", size(1000), "b")
    assert per_call == pytest.approx(0.4) and "slope 0.60" in how and "taken as 1" in how
    guard.record("w", size(1000), "b", 0.8)  # slope 1.30 from 100 to 1000
    per_call, how = guard.predict("w", size(10_000), "b")
    assert per_call == pytest.approx(0.8 * 10**1.30103, rel=1e-4) and "slope 1.30" in how
    assert guard.predict("w", size(10_000), "other-backend") is None


def test_a_point_predicted_over_budget_is_skipped_with_its_prediction():
    guard = PointGuard(budget_s=10.0)
    guard.record("w", size(10), "b", 0.1)
    guard.record("w", size(100), "b", 1.0)
    assert guard.too_slow("w", size(200), "b", calls=5) is None  # 2 s x 5 = 10 s: within budget
    why = guard.too_slow("w", size(1000), "b", calls=5)
    assert why == (
        "n=1,000 predicted to take 50 s (5 calls of 10 s; log-log slope 1.00 through the two largest smaller "
        "sizes), over the per-point budget of 10 s (MLXBENCH_POINT_BUDGET)"
    )


class SmallDevice(NumpyBackend):
    name = "small"

    def memory_available(self) -> Capacity:
        return Capacity(2**30, "test device")


def test_an_oversized_point_says_what_it_needs_and_what_the_device_has():
    why = does_not_fit(SmallDevice(), size(1, device_bytes=2 * 2**30))
    assert why == (
        "n=1 needs about 2.00 GiB on the host of small, which has 1.00 GiB available (test device; a point may "
        "use 80% of it)"
    )
    assert does_not_fit(SmallDevice(), size(1, device_bytes=2**20)) is None


def test_host_memory_is_known_here():
    have = NumpyBackend().memory_available()
    assert have is not None and have.bytes > 0 and have.source


SIZED = """
import time

import numpy as np
from mlxbench.workload import Gate, Prepared, Size

PREPARED = []
WORK = {"v1": 1, "v2": 2, "v3": 1_000_000, "huge": 1}


class Sized:
    name = "sized"
    variants = tuple(WORK)
    interface = None
    regression_threshold = None

    def spec(self, profile, seed=None):
        return 0

    def size(self, spec, variant):
        held = 2**60 if variant == "huge" else 8  # an exabyte: more than any host has
        return Size("s", "n", WORK[variant], float(WORK[variant]), "flop", held, calls=4)

    def prepare(self, backend, spec, variant, context, impl):
        PREPARED.append(variant)
        delay = 0.002 * WORK[variant]
        return Prepared(run=lambda: time.sleep(delay) or np.ones(1), rounds=3, state=None)

    def metrics(self, spec, variant, result, prepared, measured):
        return {"total": float(result.sum())}

    def gates(self, spec, variant):
        return [Gate("total", 1.0, "max", "one")]


SIZED = Sized()


def test_v1(bench):
    bench.run(SIZED, "v1")


def test_v2(bench):
    bench.run(SIZED, "v2")


def test_v3(bench):
    bench.run(SIZED, "v3")


def test_huge(bench):
    bench.run(SIZED, "huge")


def test_skipped_points_were_never_prepared():
    assert PREPARED == ["v1", "v2"]
"""


def test_points_are_skipped_before_they_allocate(pytester: pytest.Pytester, monkeypatch):
    monkeypatch.setenv("MLXBENCH_POINT_BUDGET", "1")
    pytester.makeconftest('pytest_plugins = ["mlxbench.plugin"]\n')
    pytester.makepyfile(test_sized=textwrap.dedent(SIZED))
    result = pytester.runpytest_inprocess("--backend", "numpy", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, skipped=2)
    result.stdout.re_match_lines(
        [
            r".*sized\[v3\] on numpy skipped: n=1,000,000 predicted to take [\d,]+ s \(7 calls of .*\), over the "
            r"per-point budget of 1 s \(MLXBENCH_POINT_BUDGET\)",
            r".*sized\[huge\] on numpy skipped: n=1 needs about .* GiB on the host of numpy, which has .* GiB "
            r"available \(.*\).*",
        ],
        consecutive=False,
    )


def test_a_bad_budget_stops_the_run_before_any_point_with_one_message(pytester: pytest.Pytester, monkeypatch):
    """Checked where it is read, at configure: a usage error, not a failure of every sized point."""
    monkeypatch.setenv("MLXBENCH_POINT_BUDGET", "soon")
    pytester.makeconftest('pytest_plugins = ["mlxbench.plugin"]\n')
    pytester.makepyfile(test_sized=textwrap.dedent(SIZED))
    result = pytester.runpytest_inprocess("--backend", "numpy", "-k", "v1", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*MLXBENCH_POINT_BUDGET='soon': give the seconds a sweep point may take*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_seed_and_ci_variants_are_unchanged_and_sweep_points_have_sizes():
    registry = Registry.load()
    assert "sweep" in PROFILES
    for name, variants in SEED_VARIANTS.items():
        w = registry.workload(name)
        assert tuple(w.variants) == variants
        for profile in ("seed", "ci"):
            assert variants_for(w, profile) == variants
            assert all(w.size(w.spec(profile), v) is None for v in variants)
        sweep = variants_for(w, "sweep")
        spec = w.spec("sweep")
        sizes = [w.size(spec, v) for v in sweep]
        assert sweep and all(isinstance(s, Size) for s in sizes), name
        by_axis: dict[str, list[Size]] = {}
        for s in sizes:
            by_axis.setdefault(s.axis, []).append(s)
        spans = {axis: (min(s.value for s in ss), max(s.value for s in ss)) for axis, ss in by_axis.items()}
        assert spans == AXES[name]
        works = [s.work for s in sizes]
        assert max(works) / min(works) >= MIN_WORK_SPAN[name], name


def test_seed_and_ci_test_ids_are_unchanged():
    for profile in ("seed", "ci"):
        cmd = [sys.executable, "-m", "pytest", "benchmarks", "--collect-only", "-q", "--profile", profile]
        cmd += ["--backend", "numpy", "-p", "no:cacheprovider"]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120).stdout
        ids = {line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "::test_workload[" in line}
        want = {f"{w}-numpy-{profile}-{v}" for w, vs in SEED_VARIANTS.items() for v in vs}
        assert ids == want, profile


@pytest.mark.parametrize("name", ["numpy", "torch-cpu", "mlx-cpu"])
def test_peak_memory_of_a_known_allocation(name):
    backend = {b.name: b for b in Registry.load().backends.values()}[name]
    if backend.unavailable_reason():
        pytest.skip(backend.unavailable_reason())
    n = 64 * 2**20  # bytes
    backend.reset_peak_memory()
    if name == "mlx-cpu":
        mx = backend.module
        with backend.activate():
            x = mx.ones((n // 4,), dtype=mx.float32)
            mx.eval(x)
    elif name == "torch-cpu":
        x = backend.module.ones(n // 4, dtype=backend.module.float32)
    else:
        x = np.ones(n // 4, dtype=np.float32)
    reading = backend.peak_memory()
    del x
    assert reading is not None
    assert n <= reading.bytes < 2 * n, f"{name}: {reading}"  # the allocation, and not much else


@pytest.mark.parametrize("per_call", [False, True])
def test_the_host_peak_window_spans_all_rounds_and_is_not_reset_between_timed_calls(per_call):
    """Resetting the host's resident peak hands freed pages back to the OS, and the next timed call
    would fault them in again inside the clock: on the host one window spans all rounds; a framework
    counter (per_call) opens one before every call. Both see the known allocation."""
    from types import SimpleNamespace

    from mlxbench.measure.runner import Bench
    from mlxbench.workload import Prepared

    class Counting(NumpyBackend):
        resets = 0
        peak_memory_per_call = per_call

        def reset_peak_memory(self) -> None:
            Counting.resets += 1
            super().reset_peak_memory()

    class FakeBenchmark:  # pytest-benchmark's fixture with --benchmark-disable
        disabled, extra_info = True, {}

        def pedantic(self, target, setup=None, rounds=1, warmup_rounds=0, iterations=1):
            setup()
            return target()

    fake = FakeBenchmark()
    bench = Bench(Counting(), SimpleNamespace(getfixturevalue=lambda name: fake), context=None, registry=None)
    n = 64 * 2**20
    prepared = Prepared(run=lambda: np.ones(n // 4, dtype=np.float32).sum(), rounds=4, state=None, cumulative=True)
    bench.measure(prepared)
    assert Counting.resets == (4 if per_call else 1)
    memory = fake.extra_info["peak_memory"]
    assert memory["over"].startswith("one measured call" if per_call else "all rounds in one window")
    assert 0.99 * n <= memory["bytes"] < 2 * n  # the allocation, less pages others freed in the window


def test_frameworks_are_not_needed_to_compute_sizes():
    assert importlib.util.find_spec("mlxbench.reports.sweep") is not None
    code = "import sys, mlxbench.reports.sweep, mlxbench.reports.sweeptables, mlxbench.measure.pointguard; "
    code += "print(any(m in sys.modules for m in ('torch', 'mlx.core')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
