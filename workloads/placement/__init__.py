"""Stream / device placement: `x = a @ b` on device d1 and evaluated, then 500 x `b = exp(b)`, each
evaluated, on d2 (the seed's `fun`, evaluation points included).

The seed's function, with a (4096x512) and b (512x4). The benchmark's backend is d1; the variant
names d2. In MLX both ops go to streams of one unified memory, so no copies are made; PyTorch
moves `b` to d2 explicitly (the copy is part of the timed call, as it is part of the work).

  seed-to-<d2>    the seed's loop: `b` overflows to inf after about four exp steps, so only `x` is
                  checked; kept for its timings
  finite-to-<d2>  `b = exp(-b)`, which converges (to 0.567...) and stays finite: `x` and `b`
                  are both checked against NumPy
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from mlxbench.backends import Backend, Role
from mlxbench.workload import Gate, Measured, Prepared, ProfiledWorkload, Unsupported


@dataclass(frozen=True)
class Spec:
    m: int = 4096  # seed: a is m x k
    k: int = 512
    n: int = 4  # seed: b is k x n
    n_exp: int = 500  # seed
    rounds: int = 10
    seed: int = 0
    # float32 a @ b (k = 512) against float64: ~1e-6 in full float32, but MLX's CUDA backend computes
    # float32 matmul in TF32 (10-bit mantissa): 3.3e-4 measured on an H100. A misplaced or transposed
    # operand gives O(1), so 1e-3 still catches every real error.
    max_x_rel_error: float = 1e-3
    max_b_rel_error: float = 1e-5  # exp(-b) is a contraction: float32 rounding does not grow


PROFILES = {"seed": Spec(), "ci": Spec(rounds=5)}  # 5: the fewest rounds a regression verdict can use
DEVICES: tuple[Role, ...] = ("cpu", "gpu")
VARIANTS = tuple(f"{kind}-to-{d2}" for kind in ("seed", "finite") for d2 in DEVICES)


def reference(spec: Spec, a: np.ndarray, b: np.ndarray, finite: bool) -> tuple[np.ndarray, np.ndarray]:
    x = a.astype(np.float64) @ b.astype(np.float64)
    with np.errstate(over="ignore"):
        for _ in range(spec.n_exp):
            b = np.exp(-b) if finite else np.exp(b)
    return x, b


def rel_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-30))


class Implementation(Protocol):
    """What `impl_<framework>.py` provides for placement."""

    def make_fun(self, backend: Backend, d2: Role, a: Any, b: Any, n_exp: int, finite: bool) -> Callable[[], Any]:
        """A function computing `x = a @ b` on the backend's own device (d1), then `n_exp` times
        `b = exp(b)` (`exp(-b)` when `finite`) on the device of role `d2` (`backend.device_for(d2)`),
        each step forced as the seed's `mx.eval`; it returns `(x, b)`. `a` and `b` are on d1."""
        ...


MEMORY_LABELS = {"unified": "unified (one memory, no copies)", "separate": "separate (explicit copies to d2)"}


@dataclass(frozen=True)
class State:
    a: np.ndarray
    b: np.ndarray
    finite: bool


class Placement(ProfiledWorkload):
    name = "placement"
    variants = VARIANTS
    profiles = PROFILES
    interface = Implementation

    def prepare(self, backend: Backend, spec: Spec, variant: str, context, impl: Implementation) -> Prepared[State]:
        kind, _, d2 = variant.partition("-to-")
        if d2 not in DEVICES or backend.device_for(d2) is None:
            raise Unsupported(f"no {d2} device for {backend.framework} on this machine")
        rng = np.random.default_rng(spec.seed)
        a_np = rng.standard_normal((spec.m, spec.k)).astype(np.float32)
        b_np = rng.standard_normal((spec.k, spec.n)).astype(np.float32)
        finite = kind == "finite"
        run = impl.make_fun(backend, d2, backend.asarray(a_np), backend.asarray(b_np), spec.n_exp, finite)
        d1 = backend.device
        return Prepared(
            run=run,
            rounds=spec.rounds,
            state=State(a_np, b_np, finite),
            warmup_rounds=1,
            work_per_round=spec.n_exp,
            work_unit="exp",
            info={"d1": d1, "d2": d2, "placement": f"{d1}/{d2}", "memory": MEMORY_LABELS[backend.memory]},
        )

    def metrics(
        self, spec: Spec, variant: str, result, prepared: Prepared[State], measured: Measured
    ) -> dict[str, float]:
        x, b = (np.asarray(r, dtype=np.float64) for r in result)
        st = prepared.state
        want_x, want_b = reference(spec, st.a, st.b, st.finite)
        out = {"x_rel_error": rel_error(x, want_x), "b_finite_fraction": float(np.mean(np.isfinite(b)))}
        if st.finite:
            out["b_rel_error"] = rel_error(b, want_b)
        return out

    def gates(self, spec: Spec, variant: str) -> list[Gate]:
        gates = [Gate("x_rel_error", spec.max_x_rel_error, "max", "a @ b against float64 NumPy")]
        if variant.startswith("finite"):
            gates.append(Gate("b_rel_error", spec.max_b_rel_error, "max", "500 x exp(-b) against NumPy"))
        return gates


WORKLOAD = Placement()
