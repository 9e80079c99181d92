"""Where backends, workloads and implementations come from: ours, plus third-party entry points.

Ours are found by convention, so no list is kept by hand: every module of `mlxbench.backends`
exposes `BACKENDS`; every subpackage of `workloads/` (installed as `mlxbench_workloads`) exposes
`WORKLOAD`; a workload's built-in implementations are its `impl_<framework>` modules. A third-party
package extends mlxbench without editing it by declaring entry points:

    [project.entry-points."mlxbench.backends"]
    jax-cpu = "mlxbench_jax:JAX_CPU"           # a Backend instance, or a class/factory making one

    [project.entry-points."mlxbench.workloads"]
    attention = "mlxbench_attn:WORKLOAD"       # an object following mlxbench.workload.Workload

    [project.entry-points."mlxbench.implementations"]
    "linreg.jax" = "mlxbench_jax.linreg"       # <workload>.<framework>: satisfies the workload's interface

Nothing is cached at module level: `Registry.load()` builds a fresh registry each time it is
called (the plugin calls it once per pytest session).
"""

from __future__ import annotations

import importlib
import pkgutil
import warnings
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from mlxbench import implementations
from mlxbench.backends import Backend, builtin_backends
from mlxbench.implementations import IMPLEMENTATION_GROUP, ImplementationError
from mlxbench.workload import Unsupported, Workload

BACKEND_GROUP = "mlxbench.backends"
WORKLOAD_GROUP = "mlxbench.workloads"
BUILTIN_WORKLOAD_PACKAGE = "mlxbench_workloads"  # the folder workloads/, installed under this name


def _instantiate(obj: Any) -> Any:
    return obj() if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "name")) else obj


def builtin_workload_targets() -> dict[str, str]:
    """folder -> module of every subpackage of `workloads`."""
    try:
        package = importlib.import_module(BUILTIN_WORKLOAD_PACKAGE)
    except ModuleNotFoundError:
        return {}
    mods = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.ispkg)
    return {m: f"{BUILTIN_WORKLOAD_PACKAGE}.{m}" for m in mods}


@dataclass
class Registry:
    backends: dict[str, Backend] = field(default_factory=dict)
    workload_targets: dict[str, str | EntryPoint] = field(default_factory=dict)
    implementation_targets: dict[tuple[str, str], EntryPoint] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Registry:
        reg = cls(backends={b.name: b for b in builtin_backends()})
        for ep in entry_points(group=BACKEND_GROUP):
            try:
                backend = _instantiate(ep.load())
            except Exception as exc:  # a broken extension must not take the whole suite down
                warnings.warn(
                    f"mlxbench: backend entry point {ep.name!r} ({ep.value}) failed to load: {exc}", stacklevel=2
                )
                continue
            if backend.name != ep.name:
                warnings.warn(
                    f"mlxbench: backend entry point {ep.name!r} made a backend named {backend.name!r}; "
                    f"using {backend.name!r}",
                    stacklevel=2,
                )
            reg.backends[backend.name] = backend
        # Workloads: ours under the name each gives itself; an entry point of the same name replaces ours.
        for module in builtin_workload_targets().values():
            reg.workload_targets[importlib.import_module(module).WORKLOAD.name] = module
        for ep in entry_points(group=WORKLOAD_GROUP):
            reg.workload_targets[ep.name] = ep
        for ep in entry_points(group=IMPLEMENTATION_GROUP):
            workload, _, framework = ep.name.rpartition(".")
            if not workload or not framework:
                warnings.warn(
                    f"mlxbench: implementation entry point {ep.name!r} should be named <workload>.<framework>",
                    stacklevel=2,
                )
                continue
            reg.implementation_targets[(workload, framework)] = ep
        return reg

    @property
    def backend_names(self) -> list[str]:
        return list(self.backends)

    @property
    def workload_names(self) -> list[str]:
        return list(self.workload_targets)

    @property
    def frameworks(self) -> list[str]:
        return list(dict.fromkeys(b.framework for b in self.backends.values()))

    @property
    def distributions(self) -> list[str]:
        """Installed distributions whose versions make runs incomparable, as the backends declare them."""
        return list(dict.fromkeys(d for b in self.backends.values() for d in b.distributions))

    def workload(self, name: str) -> Workload:
        """Import (on first use) and return the workload registered as `name`."""
        target = self.workload_targets[name]
        if isinstance(target, str):
            return importlib.import_module(target).WORKLOAD
        return _instantiate(target.load())

    def implementation(self, workload: Workload, framework: str) -> Any:
        """The checked implementation of `workload` for `framework`; None for a workload without an
        interface. Unsupported when there is none (a skip); ImplementationError when it is incomplete."""
        interface = getattr(workload, "interface", None)
        if interface is None:
            return None
        ep = self.implementation_targets.get((workload.name, framework))
        package = type(workload).__module__
        if ep is not None:
            impl, source = ep.load(), f"entry point {ep.name} = {ep.value}"
        else:
            impl, source = implementations.builtin(package, framework), f"{package}.impl_{framework}"
        if impl is None:
            raise Unsupported(
                f"{workload.name} has no {framework} implementation (neither {package}.impl_{framework} nor an "
                f"entry point '{workload.name}.{framework}' in group {IMPLEMENTATION_GROUP})"
            )
        return implementations.check(impl, interface, workload=workload.name, framework=framework, source=source)


__all__ = ["BACKEND_GROUP", "WORKLOAD_GROUP", "ImplementationError", "Registry"]
