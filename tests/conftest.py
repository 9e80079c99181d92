"""Helpers for the harness self-tests: a scratch project with fake backends and workloads that
are registered through real entry points (a .dist-info folder on sys.path)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import scipy.stats  # noqa: F401  (see below)

pytest_plugins = ["pytester"]
# pytester drops, after each of its tests, the modules first imported during it; a C extension dropped that way cannot
# be imported again ("cannot load module more than once per process"). SciPy's statistics (and NumPy's fft, which they
# load) come in lazily with the first verdict (mlxbench.verdicts.distributions), so they are imported here, before any
# pytester test, whatever order the tests run in.

# Every run these tests save, and every run they make with make_run, comes from one host: the saved
# runs of a scratch project are its own history (tests of other hosts' runs name another host).
HOST = "test-host"
os.environ["MLXBENCH_HOST"] = HOST

FAKES = '''
import os
import signal
import time

import numpy as np
from mlxbench.backends.numpy import NumpyBackend
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
    variants = ("ok", "wrong", "broken", "nope", "epochs")
    interface = None
    regression_threshold = float(os.environ["FAKE_THRESHOLD"]) if os.environ.get("FAKE_THRESHOLD") else None

    def spec(self, profile, seed=None):
        return {"seed": 8, "ci": 4}[profile]

    def prepare(self, backend, spec, variant, context, impl):
        if variant == "nope":
            raise Unsupported("nothing to see")
        x = backend.asarray(np.ones(spec, dtype=np.float32))
        if os.environ.get("FAKE_PREP_LOG"):  # each preparation: its variant and when it was made
            with open(os.environ["FAKE_PREP_LOG"], "a") as f:
                f.write(f"{variant} {time.time()}\\n")

        delay = float(os.environ.get("FAKE_DELAY", "0"))
        call_log = os.environ.get("FAKE_CALL_LOG")  # each call's start and end, to check two workers' exclusivity
        interrupt_at = int(os.environ.get("FAKE_SIGINT_AT_CALL", "0"))  # a Ctrl-C at this call of the session

        def run():
            t0 = time.time()
            RUN_CALLS.append(t0)
            if interrupt_at and len(RUN_CALLS) == interrupt_at:
                os.kill(os.getpid(), signal.SIGINT)
            if delay:
                time.sleep(delay)
            if call_log:
                with open(call_log, "a") as f:
                    f.write(f"{t0} {time.time()}\\n")
            if variant == "broken":
                raise RuntimeError("kernel exploded on purpose")
            return x * (2.0 if variant == "wrong" else 1.0)

        epochs = variant == "epochs"  # rounds that build on each other, like training epochs
        return Prepared(
            run=run, rounds=6, state=None, warmup_rounds=0 if epochs else 1, work_per_round=spec, cumulative=epochs
        )

    def metrics(self, spec, variant, result, prepared, measured):
        return {"total": float(result.sum()), "expected": float(spec)}

    def gates(self, spec, variant):
        return [Gate("total", float(spec), "max", "sum of ones")]


RUN_CALLS = []  # every call of the session's fake workloads (for FAKE_SIGINT_AT_CALL)
WORKLOAD = SumWorkload()
'''

ENTRY_POINTS = """
[mlxbench.backends]
fake-rec = mlxbench_fake:RecordingBackend
fake-missing = mlxbench_fake:MissingBackend

[mlxbench.workloads]
fakesum = mlxbench_fake:WORKLOAD
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `last` run after every other test: what they wait for (a coordinator waiting out a hung
    worker) was started with the session, so the wait overlaps the other tests instead of adding to them."""
    last = [item for item in items if item.get_closest_marker("last")]
    items[:] = [item for item in items if not item.get_closest_marker("last")] + last


@pytest.fixture(scope="session", autouse=True)
def child_bytecode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The folder where every Python these tests start (pytest sessions, A/B workers, the tools) keeps its compiled
    bytecode, one for the session: each module is compiled once, not once per process (where a machine sets
    PYTHONDONTWRITEBYTECODE, every process compiled mlxbench from source again, about 0.6 s of a 1.1 s pytest
    session). PYTHONPYCACHEPREFIX: nothing is written beside the sources. The environment is put back after; this
    process itself is left as it started (its interpreter read both variables then)."""
    folder = tmp_path_factory.mktemp("pycache")
    with pytest.MonkeyPatch.context() as env:
        env.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
        env.setenv("PYTHONPYCACHEPREFIX", str(folder))
        yield folder


def scratch_folder(folder: Path, dist: str, modules: dict[str, str], entry_points: str) -> Path:
    """The files of a scratch checkout in `folder`: our plugin loaded by conftest, plus a package `dist` that
    looks installed, its modules in site/ (returned) and a real .dist-info with its entry points."""
    ext = folder / "site"
    ext.mkdir()
    for name, source in modules.items():
        (ext / f"{name}.py").write_text(source)
    info = ext / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    (folder / "conftest.py").write_text('pytest_plugins = ["mlxbench.plugin"]\n')
    (folder / "tox.ini").write_text("[pytest]\naddopts = -rs -p no:cacheprovider\nmlxbench_baselines = baselines\n")
    return ext


def scratch_checkout(pytester: pytest.Pytester, dist: str, modules: dict[str, str], entry_points: str) -> None:
    """A scratch checkout (scratch_folder) in pytester's folder, its site/ on sys.path."""
    pytester.syspathinsert(scratch_folder(pytester.path, dist, modules, entry_points))


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A scratch checkout with an extension package: fake backends and a fake workload."""
    scratch_checkout(pytester, "mlxbench_fake", {"mlxbench_fake": FAKES}, ENTRY_POINTS)
    return pytester


def said(text: str) -> str:
    """What mlxbench printed, its lines (wrapped at 120 columns) joined again."""
    return " ".join(text.split())


def mlxbench_main(
    *args: str, cwd: str | Path | None = None, env: Mapping[str, str | None] | None = None
) -> subprocess.CompletedProcess:
    """`python -m mlxbench ARGS` without starting an interpreter: what mlxbench/__main__.py runs (`sys.exit(main())`,
    sys.argv as `-m` sets it), here, in `cwd`, with `env` over the environment (None: unset), its stdout, stderr and
    the warnings a fresh interpreter shows captured, its exit status as `returncode`; everything put back after. For
    what a command says and exits with, about 1.5 s cheaper than a new interpreter (which imports numpy and scipy
    again); tests of the process itself (signals, streams, descriptors) start one."""
    import mlxbench
    from mlxbench import cli

    def put(values: Mapping[str, str | None]) -> None:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=sys.stderr)

    old_cwd, old_argv, old_env = os.getcwd(), sys.argv, {name: os.environ.get(name) for name in env or {}}
    out, err = io.StringIO(), io.StringIO()
    try:
        os.chdir(cwd or old_cwd)
        put(env or {})
        sys.argv = [str(Path(mlxbench.__file__).with_name("__main__.py")), *args]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.resetwarnings()  # a fresh interpreter's filters, not pytest's
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.simplefilter("ignore", category)
            warnings.showwarning = show
            try:
                code = cli.main()
            except SystemExit as exc:  # argparse's usage errors: the status the interpreter would exit with
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
                if code == 1 and not isinstance(exc.code, int):
                    print(exc.code, file=sys.stderr)
    finally:
        os.chdir(old_cwd)
        sys.argv = old_argv
        put(old_env)
    return subprocess.CompletedProcess([sys.executable, "-m", "mlxbench", *args], code, out.getvalue(), err.getvalue())


def messages(text: str) -> list[str]:
    """mlxbench's messages in `text`: each starts a line with `mlxbench`; its wrapped continuations are
    indented (joined here)."""
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith("  ") and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


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


FACTS = {
    "machine_id": "Test-Box",
    "cpu_model": "Test CPU",
    "cpu_count": 2,
    "gpus": [],
    "virtual_gpu": False,
    "versions": {"mlx": "0.32.4", "numpy": "2.4.6", "torch": "2.13.0"},
    "thread_env": {"OMP_NUM_THREADS": None},
    "blas": {"numpy": {"blas": "openblas"}, "torch": "mkl"},
}


def make_run(benchmarks: dict, facts: dict | None = None, profile: str = "ci", host: str | None = HOST) -> dict:
    """A pytest-benchmark run as mlxbench saves it: {fullname: (samples, extra_info)}."""
    import statistics

    out = []
    for fullname, (samples, info) in benchmarks.items():
        out.append(
            {
                "group": None,
                "name": fullname.split("::")[-1],
                "fullname": fullname,
                "params": {},
                "param": None,
                "extra_info": info,
                "stats": {
                    "min": min(samples),
                    "max": max(samples),
                    "mean": statistics.mean(samples),
                    "median": statistics.median(samples),
                    "rounds": len(samples),
                    "data": list(samples),
                },
            }
        )
    return {
        "machine_info": {"python_version": "3.11.7", "mlxbench": facts or FACTS},
        "commit_info": {"id": "abc123"},
        "benchmarks": out,
        "datetime": "2026-11-23T06:00:00",
        "version": "5.3.1",
        "mlxbench": {"format": 1, "profile": profile, **({"host": host} if host else {})},
    }


FAKE_FRAMEWORK = '''
import numpy as np
from mlxbench.backends.numpy import NumpyBackend


class FakeFrameworkBackend(NumpyBackend):
    """A third-party framework ('fakefw') that computes with NumPy arrays."""
    name = "fakefw-cpu"
    framework = "fakefw"
    distributions = ("fakefw",)

    def unavailable_reason(self):
        return None

    @property
    def module(self):
        return np


class RecordingAsyncBackend(FakeFrameworkBackend):
    """'fakefw' as if it queued work: counts forces, and at each end-of-call sync appends how many
    forces the call made to the file named by FAKE_FORCE_LOG."""
    name = "fakefw-async"
    execution = "async"
    forces = 0

    def force(self, out):
        RecordingAsyncBackend.forces += 1

    def sync(self, out):
        import os
        with open(os.environ["FAKE_FORCE_LOG"], "a") as fh:
            fh.write(f"{RecordingAsyncBackend.forces}\\n")
        RecordingAsyncBackend.forces = 0
'''

FAKE_LINREG = "from mlxbench_workloads.linreg.impl_numpy import make_train  # noqa: F401\n"
FAKE_PLACEMENT_INCOMPLETE = "def devices(backend):\n    return {'cpu': 'cpu'}\n"  # no make_fun

FRAMEWORK_ENTRY_POINTS = """
[mlxbench.backends]
fakefw-cpu = mlxbench_fakefw:FakeFrameworkBackend
fakefw-async = mlxbench_fakefw:RecordingAsyncBackend

[mlxbench.implementations]
linreg.fakefw = mlxbench_fakefw_linreg
placement.fakefw = mlxbench_fakefw_placement
"""


@pytest.fixture
def framework_project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A checkout with a third-party framework package installed: its backend, plus its own
    implementations of two built-in workloads (one of them incomplete), through a real .dist-info."""
    modules = {
        "mlxbench_fakefw": FAKE_FRAMEWORK,
        "mlxbench_fakefw_linreg": FAKE_LINREG,
        "mlxbench_fakefw_placement": FAKE_PLACEMENT_INCOMPLETE,
    }
    scratch_checkout(pytester, "mlxbench_fakefw", modules, FRAMEWORK_ENTRY_POINTS)
    pytester.makepyfile(
        test_workloads="""
        def test_workload(bench, mlxbench_registry, mlxbench_case):
            name, variant = mlxbench_case
            bench.run(mlxbench_registry.workload(name), variant)
        """
    )
    return pytester
