"""The pytest and pytest-benchmark pairs pyproject.toml admits either run a benchmark or stop the session at its
start with one usage error naming the pair and what to install (mlxbench.measure.compat)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlxbench.measure import compat

# Measured: a one-benchmark file under every pair (pytest-benchmark 5.1.0-5.3.1 x pytest 8.0.0-9.2.0); only pytest
# 9.2 with pytest-benchmark before 5.3.1 failed (AttributeError: 'Function' object has no attribute '_nodeid').
WORKS = [("8.1.1", "5.2.3"), ("8.4.2", "5.2.3"), ("9.0.3", "5.3.0"), ("9.1.1", "5.2.3"), ("9.2.0", "5.3.1")]
FAILS = [("9.2.0", "5.2.3"), ("9.2.0", "5.3.0"), ("9.2.1", "5.2.3"), ("9.2.0rc1", "5.3.0"), ("10.0.0", "5.3.0")]


@pytest.mark.parametrize(("pytest_version", "benchmark_version"), WORKS)
def test_a_pair_that_runs_benchmarks_is_let_through(pytest_version, benchmark_version):
    assert compat.problem(pytest_version, benchmark_version) is None


@pytest.mark.parametrize(("pytest_version", "benchmark_version"), FAILS)
def test_a_pair_that_cannot_run_a_benchmark_is_named_with_what_to_install(pytest_version, benchmark_version):
    why = compat.problem(pytest_version, benchmark_version)
    assert why is not None and "\n" not in why
    assert why.startswith(f"pytest {pytest_version} with pytest-benchmark {benchmark_version} cannot run a benchmark")
    assert "pip install 'pytest-benchmark>=5.3.1'" in why


def test_a_version_that_cannot_be_read_refuses_nothing():
    assert compat.problem("9.2.0", "") is None and compat.problem("main", "5.2.3") is None


def test_the_session_stops_at_its_start_with_one_line_and_no_traceback(pytester: pytest.Pytester):
    """The installed versions are set to the broken pair before the plugin configures (a conftest is imported
    first), so this runs whichever pair is installed; run by hand with the real pair too (the module's docstring)."""
    pytester.makeconftest(
        "import pytest, pytest_benchmark\npytest.__version__ = '9.2.0'\npytest_benchmark.__version__ = '5.2.3'\n"
    )
    pytester.makepyfile(test_tiny="def test_tiny(benchmark):\n    benchmark(sum, range(100))\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    said = [line for line in result.errlines + result.outlines if line.strip()]
    assert said[0].startswith("ERROR: ") and all(line.startswith("  ") for line in said[1:])  # one message
    assert all(len(line) <= 120 for line in said)  # wrapped at 120 columns, pytest's prefix included
    assert " ".join(" ".join(said).split()) == (
        "ERROR: pytest 9.2.0 with pytest-benchmark 5.2.3 cannot run a benchmark (pytest-benchmark before 5.3.1 reads "
        "Node._nodeid, which pytest 9.2 removed): pip install 'pytest-benchmark>=5.3.1', or 'pytest<9.2' where "
        "nothing newer can be installed"
    )


def test_the_check_imports_no_framework():
    code = "import sys, mlxbench.measure.compat; print(sorted({'numpy', 'torch', 'mlx', 'scipy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
