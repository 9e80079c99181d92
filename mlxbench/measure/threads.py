"""Thread policy: every run uses, and records, a fixed number of threads per library.

Oversubscribed BLAS/OpenMP pools made numpy linreg vary 14% between processes on a 2-core machine,
one thread per library 1.3% (measured there for this project). The policy sets the usual environment variables (read by
libraries loaded later: PyTorch's OpenMP, MKL), limits the pools already loaded (threadpoolctl:
NumPy's OpenBLAS), and lets each backend limit its framework (`Backend.limit_threads`, e.g.
`torch.set_num_threads`). Everything is put back when the session ends.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
THREADS_ENV = "MLXBENCH_THREADS"


def default_threads() -> int:
    """Half the logical CPUs (at least 1): one library's pool never competes with the machine's
    hyperthreads, its other processes, or another library's pool for the same cores."""
    return max(1, (os.cpu_count() or 2) // 2)


@dataclass
class ThreadPolicy:
    threads: int
    saved_env: dict[str, str | None] = field(default_factory=dict)
    restores: list[Callable[[], None]] = field(default_factory=list)
    frameworks: dict[str, Any] = field(default_factory=dict)  # what each backend set, or why it could not

    @classmethod
    def apply(cls, threads: int) -> ThreadPolicy:
        policy = cls(threads)
        for name in ENV_VARS:
            policy.saved_env[name] = os.environ.get(name)
            os.environ[name] = str(threads)
        try:
            from threadpoolctl import ThreadpoolController

            limiter = ThreadpoolController().limit(limits=threads)
            policy.restores.append(limiter.restore_original_limits)
        except ImportError:  # threadpoolctl is a dependency; without it only the environment applies
            pass
        return policy

    def overridden(self) -> str | None:
        """One line when the user's environment set a thread variable to another count (the policy replaced it)."""
        changed = [f"{n}={v}" for n, v in self.saved_env.items() if v is not None and v != str(self.threads)]
        if not changed:
            return None
        return (
            f"mlxbench: the thread policy runs every framework on {self.threads} thread(s): it replaced "
            f"{', '.join(changed)} from the environment; to measure another count set {THREADS_ENV}"
        )

    def limit_backend(self, backend: Any) -> None:
        """Once per framework: let the backend limit its own pools (after its framework imported)."""
        if backend.framework in self.frameworks:
            return
        try:
            restore = backend.limit_threads(self.threads)
        except Exception as exc:  # a fact must never lose a run
            self.frameworks[backend.framework] = f"not limited ({type(exc).__name__}: {exc})"
            return
        if restore is None:
            self.frameworks[backend.framework] = "no pool of its own: environment variables and threadpoolctl limits"
        else:
            self.restores.append(restore)
            self.frameworks[backend.framework] = self.threads

    def restore(self) -> None:
        for undo in reversed(self.restores):
            undo()
        self.restores.clear()
        for name, value in self.saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def facts(self) -> dict[str, Any]:
        return {"threads": self.threads, "env": {n: os.environ.get(n) for n in ENV_VARS}, "frameworks": self.frameworks}
