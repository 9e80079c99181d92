"""Which pytest and pytest-benchmark pairs can run a benchmark: a pair that cannot stops the session at its start.

pyproject.toml admits every pytest >= 8 with every pytest-benchmark >= 5.2.3, and one corner of that
range cannot time anything: pytest 9.2 removed `Node._nodeid`, which pytest-benchmark read in its
fixture until 5.3.1 (`node.nodeid` since), so with pytest 9.2 and pytest-benchmark 5.2.3 or 5.3.0
every benchmark errors (`AttributeError: 'Function' object has no attribute '_nodeid'`). Measured with
a one-benchmark file, pytest-benchmark 5.1.0-5.3.1 against pytest 8.0.0, 8.4.2, 9.0.0, 9.0.3, 9.1.0,
9.1.1 and 9.2.0: only the pairs of pytest 9.2 with pytest-benchmark before 5.3.1 fail. The floor stays
at 5.2.3 (machines without a network hold 5.2.3 with pytest 9.1, which works); this check turns the
broken pair into one usage error naming it and what to install, before anything runs.
"""

from __future__ import annotations

import pytest
from packaging.version import InvalidVersion, Version

PYTEST_WITHOUT_NODEID = (9, 2)  # pytest 9.2 removed Node._nodeid
BENCHMARK_READS_NODEID = (5, 3, 1)  # pytest-benchmark reads node.nodeid from 5.3.1 on


def problem(pytest_version: str, benchmark_version: str) -> str | None:
    """Why this pair cannot run a benchmark and what to install, in one line; None when it can (or a version
    cannot be read: nothing is refused on a guess)."""
    try:
        runner, plugin = Version(pytest_version).release, Version(benchmark_version).release
    except InvalidVersion:
        return None
    if runner[:2] < PYTEST_WITHOUT_NODEID or plugin >= BENCHMARK_READS_NODEID:
        return None
    return (
        f"pytest {pytest_version} with pytest-benchmark {benchmark_version} cannot run a benchmark (pytest-benchmark "
        f"before 5.3.1 reads Node._nodeid, which pytest 9.2 removed): pip install 'pytest-benchmark>=5.3.1', "
        f"or 'pytest<9.2' where nothing newer can be installed"
    )


def check(config: pytest.Config) -> None:
    """At configure: a pytest-usage error (one line, exit 4) when the installed pair cannot run a benchmark.
    Nothing is said when pytest-benchmark is not in the session (`-p no:benchmark`)."""
    plugins = (plugin for _, plugin in config.pluginmanager.list_name_plugin())
    if not any(getattr(plugin, "__name__", "") == "pytest_benchmark.plugin" for plugin in plugins):
        return
    import pytest_benchmark

    if why := problem(pytest.__version__, getattr(pytest_benchmark, "__version__", "")):
        raise pytest.UsageError(why)
