"""The old path of `mlxbench.tools.slowdown`: `pytest -p mlxbench.slowdown` loads it as before."""

from mlxbench.tools.slowdown import (  # noqa: F401  (pytest reads the hooks and the fixture from this module)
    _mlxbench_slowdown,
    parse,
    pytest_configure,
    pytest_terminal_summary,
)
