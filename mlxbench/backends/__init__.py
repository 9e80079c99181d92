"""Backends: one framework on one device (see `base.Backend` for the contract).

Built-in backends are found by convention: every module of this package other than `base`
exposes `BACKENDS`, a tuple of backend instances. Adding a framework here is one new module;
a package outside this repository registers its own under the `mlxbench.backends` entry point
group instead. Importing a backend module never imports its framework.
"""

from __future__ import annotations

import importlib
import pkgutil

from mlxbench.backends.base import Backend, Execution, Memory, MemoryReading, Role, tree_leaves, tree_map

__all__ = [
    "Backend",
    "Execution",
    "Memory",
    "MemoryReading",
    "Role",
    "builtin_backends",
    "tree_leaves",
    "tree_map",
]


def builtin_backends() -> list[Backend]:
    """The backends of every module in this package, modules in alphabetical order."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base")
    return [b for name in names for b in importlib.import_module(f"{__name__}.{name}").BACKENDS]
