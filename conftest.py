"""Loads the mlxbench pytest plugin for this checkout, so `pytest benchmarks` needs no install.

Installed (`pip install -e .`), the checkout's `workloads/` folder is the package `mlxbench_workloads`;
not installed, the same folder is made importable under that name here."""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("mlxbench_workloads") is None:
    _init = Path(__file__).parent / "workloads" / "__init__.py"
    _spec = importlib.util.spec_from_file_location(
        "mlxbench_workloads", _init, submodule_search_locations=[str(_init.parent)]
    )
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["mlxbench_workloads"] = _module
    _spec.loader.exec_module(_module)

pytest_plugins = ["mlxbench.plugin"]
