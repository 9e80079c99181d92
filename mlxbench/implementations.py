"""Per-framework implementations of a workload: where they come from, and checking them.

A workload declares the interface its implementations provide as a `typing.Protocol`
(`Workload.interface`). An implementation is any object with those members, usually a module:

- built in: `<workload's package>.impl_<framework>` (e.g. `mlxbench_workloads.linreg.impl_torch`);
- from another package: an entry point named `<workload>.<framework>` in the group
  `mlxbench.implementations`, which wins over a built-in one:

      [project.entry-points."mlxbench.implementations"]
      "linreg.jax" = "mlxbench_jax.linreg"

Loading checks the object against the interface (every member present, every function able to
take the interface's arguments) and fails with a message that names the workload, the framework
and what is missing.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

IMPLEMENTATION_GROUP = "mlxbench.implementations"

_PROTOCOL_NOISE = {"__init__", "__slots__", "__weakref__", "__dict__", "__doc__", "__module__", "__annotations__"}


class ImplementationError(Exception):
    """An implementation that does not satisfy its workload's interface (a test failure, not a skip)."""


def interface_members(interface: type) -> dict[str, Any]:
    """Name -> the interface's own definition (a function, or None for an annotated attribute)."""
    members: dict[str, Any] = {}
    for klass in reversed(interface.__mro__):
        if klass in (object,) or klass.__module__ == "typing":
            continue
        for name in getattr(klass, "__annotations__", {}):
            members.setdefault(name, None)
        for name, value in vars(klass).items():
            if name.startswith("_abc_") or name in _PROTOCOL_NOISE or name.startswith("_is_"):
                continue
            if name.startswith("__") and name.endswith("__"):
                continue
            if callable(value) or isinstance(value, (staticmethod, classmethod, property)):
                members[name] = value
    return members


def _parameters(fn: Any) -> tuple[list[str], list[str]]:
    """(positional parameter names, keyword-only names) of an interface function, without self."""
    params = list(inspect.signature(fn).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword = [p.name for p in params if p.kind == p.KEYWORD_ONLY]
    return positional, keyword


def problems(impl: Any, interface: type) -> list[str]:
    """What `impl` lacks to satisfy `interface` (empty when it does)."""
    found = []
    for name, definition in interface_members(interface).items():
        if not hasattr(impl, name):
            found.append(f"missing {name!r}")
            continue
        if definition is None or not callable(definition):
            continue
        member = getattr(impl, name)
        if not callable(member):
            found.append(f"{name!r} is not callable")
            continue
        positional, keyword = _parameters(definition)
        try:
            inspect.signature(member).bind(*positional, **{k: None for k in keyword})
        except TypeError:
            want = ", ".join(positional + [f"{k}=" for k in keyword])
            found.append(f"{name}{inspect.signature(member)} cannot be called as {name}({want})")
        except ValueError:  # no signature available (a builtin): trust it
            pass
    return found


def check(impl: Any, interface: type, *, workload: str, framework: str, source: str) -> Any:
    """`impl`, if it satisfies `interface`; else ImplementationError naming what is missing."""
    found = problems(impl, interface)
    if found:
        raise ImplementationError(
            f"the {framework} implementation of workload {workload!r} ({source}) does not satisfy "
            f"{interface.__module__}.{interface.__qualname__}: " + "; ".join(found)
        )
    return impl


def builtin(package: str, framework: str) -> Any | None:
    """`<package>.impl_<framework>`, or None when the package has none."""
    name = f"{package}.impl_{framework}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None
