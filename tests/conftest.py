"""Helpers for the harness self-tests: a scratch project with fake backends and workloads that
are registered through real entry points (a .dist-info folder on sys.path)."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

FAKES = '''
import numpy as np
from mlxbench.backends import NumpyBackend
from mlxbench.workload import Gate, Prepared, Unsupported

CALLS = []


class RecordingBackend(NumpyBackend):
    """numpy on a pretend device that records every sync and device switch."""
    name = "fake-rec"

    def sync(self, out):
        CALLS.append(("sync", float(np.asarray(out).sum())))

    def activate(self):
        import contextlib

        @contextlib.contextmanager
        def cm():
            CALLS.append(("enter", self.name))
            try:
                yield
            finally:
                CALLS.append(("exit", self.name))
        return cm()


class MissingBackend(NumpyBackend):
    name = "fake-missing"

    def unavailable_reason(self):
        return "fakelib is not installed (pip install fakelib)"


class SumWorkload:
    """Sums ones; 'broken' raises inside the measured call; 'wrong' fails its gate; 'nope' is unsupported."""
    name = "fakesum"
    variants = ("ok", "wrong", "broken", "nope")

    def spec(self, profile):
        return {"seed": 8, "ci": 4}[profile]

    def prepare(self, backend, spec, variant, context):
        if variant == "nope":
            raise Unsupported("nothing to see")
        x = backend.asarray(np.ones(spec, dtype=np.float32))

        def run():
            if variant == "broken":
                raise RuntimeError("kernel exploded on purpose")
            return x * (2.0 if variant == "wrong" else 1.0)

        return Prepared(run=run, rounds=3, warmup_rounds=1, work_per_round=spec)

    def metrics(self, spec, variant, result, prepared):
        return {"total": float(result.sum()), "expected": float(spec)}

    def gates(self, spec, variant):
        return [Gate("total", float(spec), "max", "sum of ones")]


WORKLOAD = SumWorkload()
'''

ENTRY_POINTS = """
[mlxbench.backends]
fake-rec = mlxbench_fake:RecordingBackend
fake-missing = mlxbench_fake:MissingBackend

[mlxbench.workloads]
fakesum = mlxbench_fake:WORKLOAD
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A scratch checkout: our plugin loaded by conftest, plus an installed-looking extension package."""
    ext = pytester.mkdir("site")
    (ext / "mlxbench_fake.py").write_text(FAKES)
    dist = ext / "mlxbench_fake-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mlxbench_fake\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    pytester.syspathinsert(ext)
    pytester.makeconftest('pytest_plugins = ["mlxbench.plugin"]\n')
    pytester.makeini("[pytest]\naddopts = -rs -p no:cacheprovider\n")
    return pytester


def write_bench(pytester: pytest.Pytester, variant: str = "ok", name: str = "test_fake") -> None:
    pytester.makepyfile(
        **{
            name: textwrap.dedent(f"""
        import mlxbench_fake

        def test_sum(bench):
            bench.run(mlxbench_fake.WORKLOAD, {variant!r})
    """)
        }
    )
