"""Where backends and workloads come from: ours, plus third-party entry points.

A third-party package extends mlxbench without editing it by declaring entry points:

    [project.entry-points."mlxbench.backends"]
    jax-cpu = "mlxbench_jax:JaxBackend"        # a Backend instance, or a class/factory making one

    [project.entry-points."mlxbench.workloads"]
    attention = "mlxbench_attn:WORKLOAD"       # an object following mlxbench.workload.Workload

Nothing is cached at module level: `Registry.load()` builds a fresh registry each time it is
called (the plugin calls it once per pytest session).
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from mlxbench.backends import BUILTIN_BACKENDS, Backend
from mlxbench.workload import Workload

BACKEND_GROUP = "mlxbench.backends"
WORKLOAD_GROUP = "mlxbench.workloads"

BUILTIN_WORKLOADS: dict[str, str] = {
    "linreg": "workloads.linreg:WORKLOAD",
    "mnist_mlp": "workloads.mnist:WORKLOAD",
    "lazy_eval": "workloads.lazy_eval:WORKLOAD",
    "placement": "workloads.placement:WORKLOAD",
}


def _resolve(target: str) -> Any:
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


def _instantiate(obj: Any) -> Any:
    return obj() if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "name")) else obj


@dataclass
class Registry:
    backends: dict[str, Backend] = field(default_factory=dict)
    workload_targets: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Registry:
        reg = cls(backends={b.name: b for b in BUILTIN_BACKENDS}, workload_targets=dict(BUILTIN_WORKLOADS))
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
        for ep in entry_points(group=WORKLOAD_GROUP):
            reg.workload_targets[ep.name] = ep
        return reg

    @property
    def backend_names(self) -> list[str]:
        return list(self.backends)

    @property
    def workload_names(self) -> list[str]:
        return list(self.workload_targets)

    @property
    def extension_workloads(self) -> list[str]:
        return [n for n in self.workload_targets if n not in BUILTIN_WORKLOADS]

    def workload(self, name: str) -> Workload:
        """Import (on first use) and return the workload registered as `name`."""
        target = self.workload_targets[name]
        obj = target.load() if hasattr(target, "load") else _resolve(target)
        return _instantiate(obj)
