"""Stream / device placement: `x = a @ b` on device d1 and evaluated, then 500 x `b = exp(b)`, each
evaluated, on d2 (the seed's `fun`, evaluation points included).

The seed's function, with a (4096x512) and b (512x4). The benchmark's backend is d1; the variant
names d2. In MLX both ops go to streams of one unified memory, so no copies are made; PyTorch
moves `b` to d2 explicitly (the copy is part of the timed call, as it is part of the work).

  seed-to-<d2>    the seed's loop: `b` overflows to inf after about four exp steps, so only `x` is
                  checked; kept for its timings
  finite-to-<d2>  `b = exp(-b)`, which converges (to 0.567...) and stays finite: `x` and `b`
                  are both checked against NumPy

The `sweep` profile takes the two halves apart and sizes each, through the same implementations:
  matmul-thin           the seed's thin product alone (a 4096x512 @ b 512x4) on the backend's device
  matmul-n<N>           square products, N = 64 .. 8,192, on the backend's device (cpu or gpu)
  exp-to-<d2>-v<N>      `sweep_n_exp` x `b = exp(-b)`, each evaluated, on vectors of N = 4 .. 1M elements
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from mlxbench.backends import Backend, Role
from mlxbench.workload import Gate, Measured, Prepared, ProfiledWorkload, Size, Unsupported


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
    # Sweep profile only. Square products are checked on `check_rows` sampled rows (a float64 reference
    # of a whole 8,192 product takes minutes); max_x_rel_error holds at every N: float32 (and TF32)
    # rounding relative to the largest entry does not grow with the inner dimension (both grow as sqrt(N)).
    sweep_squares: tuple[int, ...] = ()
    sweep_vectors: tuple[int, ...] = ()
    sweep_n_exp: int = 100  # 5x fewer than the seed's 500, so that 1M-element vectors stay affordable
    check_rows: int = 64


PROFILES = {
    "seed": Spec(),
    "ci": Spec(rounds=5),  # 5: the fewest rounds a regression verdict can use
    "sweep": Spec(rounds=5, sweep_squares=(64, 256, 1_024, 4_096, 8_192), sweep_vectors=(4, 1_024, 65_536, 1_048_576)),
}
DEVICES: tuple[Role, ...] = ("cpu", "gpu")
VARIANTS = tuple(f"{kind}-to-{d2}" for kind in ("seed", "finite") for d2 in DEVICES)
_SWEEP = PROFILES["sweep"]
SWEEP_VARIANTS = (
    "matmul-thin",
    *(f"matmul-n{n}" for n in _SWEEP.sweep_squares),
    *(f"exp-to-{d2}-v{n}" for d2 in DEVICES for n in _SWEEP.sweep_vectors),
)


@dataclass(frozen=True)
class Point:
    """A sweep variant: `a` (m x k) @ `b` (k x n) on d1, then `n_exp` evaluated exp(-b) on d2."""

    series: str
    axis: str
    value: int
    m: int
    k: int
    n: int
    n_exp: int
    d2: Role | None  # None: the backend's own device

    @property
    def work(self) -> float:
        return 2.0 * self.m * self.k * self.n if self.n_exp == 0 else float(self.n_exp * self.k * self.n)


def sweep_point(spec: Spec, variant: str) -> Point | None:
    """The sweep point a variant names, or None for the seed/ci variants."""
    if variant == "matmul-thin":
        return Point("matmul-thin", "rows", spec.m, spec.m, spec.k, spec.n, 0, None)
    if variant.startswith("matmul-n"):
        n = int(variant.removeprefix("matmul-n"))
        return Point("matmul", "n", n, n, n, n, 0, None)
    if variant.startswith("exp-to-"):
        d2, _, n = variant.removeprefix("exp-to-").partition("-v")
        return Point(f"exp-to-{d2}", "elements", int(n), 1, 1, int(n), spec.sweep_n_exp, d2)  # type: ignore[arg-type]
    return None


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

    sweep_variants = SWEEP_VARIANTS

    def size(self, spec: Spec, variant: str) -> Size | None:
        p = sweep_point(spec, variant)
        if p is None:
            return None
        held = 4 * (p.m * p.k + p.k * p.n + p.m * p.n)  # a, b, x in float32
        return Size(
            series=p.series,
            axis=p.axis,
            value=p.value,
            work=p.work,
            work_unit="flop" if p.n_exp == 0 else "exp",
            device_bytes=2 * held,  # room for the framework's temporaries and a copy of b on d2
            host_bytes=held + 8 * (p.k * p.n + spec.check_rows * (p.k + p.n)),  # NumPy inputs, the reference
            calls=spec.rounds + 1,
        )

    def prepare(self, backend: Backend, spec: Spec, variant: str, context, impl: Implementation) -> Prepared[State]:
        if (p := sweep_point(spec, variant)) is not None:
            d2 = p.d2 or backend.device
            what = f"{p.m}x{p.k} @ {p.k}x{p.n} on {backend.device}"
            if p.n_exp:
                what = f"{p.n_exp} x evaluated exp(-b) on {d2}, b of {p.n:,} elements (after a {p.m}x{p.k} @ {what})"
            unit = "flop" if p.n_exp == 0 else "exp"
            return self.arrange(backend, impl, spec, (p.m, p.k, p.n), d2, p.n_exp, True, p.work, unit, what)
        kind, _, d2 = variant.partition("-to-")
        shapes = (spec.m, spec.k, spec.n)
        return self.arrange(backend, impl, spec, shapes, d2, spec.n_exp, kind == "finite", spec.n_exp, "exp", None)

    def arrange(
        self,
        backend: Backend,
        impl: Implementation,
        spec: Spec,
        shapes: tuple[int, int, int],
        d2: str,
        n_exp: int,
        finite: bool,
        work: float,
        unit: str,
        measures: str | None,
    ) -> Prepared[State]:
        """a (m x k) and b (k x n) drawn in NumPy, moved to d1, and the implementation's call on them."""
        if d2 not in DEVICES or backend.device_for(d2) is None:
            raise Unsupported(f"no {d2} device for {backend.framework} on this machine")
        m, k, n = shapes
        rng = np.random.default_rng(spec.seed)
        a_np = rng.standard_normal((m, k)).astype(np.float32)
        b_np = rng.standard_normal((k, n)).astype(np.float32)
        run = impl.make_fun(backend, d2, backend.asarray(a_np), backend.asarray(b_np), n_exp, finite)
        d1 = backend.device
        info = {"d1": d1, "d2": d2, "placement": f"{d1}/{d2}", "memory": MEMORY_LABELS[backend.memory]}
        if measures:
            info["measures"] = measures
        return Prepared(
            run=run,
            rounds=spec.rounds,
            state=State(a_np, b_np, finite),
            warmup_rounds=1,
            work_per_round=work,
            work_unit=unit,
            info=info,
        )

    def metrics(
        self, spec: Spec, variant: str, result, prepared: Prepared[State], measured: Measured
    ) -> dict[str, float]:
        st = prepared.state
        if (p := sweep_point(spec, variant)) is not None:
            return point_metrics(spec, p, st, result)
        x, b = (np.asarray(r, dtype=np.float64) for r in result)
        want_x, want_b = reference(spec, st.a, st.b, st.finite)
        out = {"x_rel_error": rel_error(x, want_x), "b_finite_fraction": float(np.mean(np.isfinite(b)))}
        if st.finite:
            out["b_rel_error"] = rel_error(b, want_b)
        return out

    def gates(self, spec: Spec, variant: str) -> list[Gate]:
        gates = [Gate("x_rel_error", spec.max_x_rel_error, "max", "a @ b against float64 NumPy")]
        p = sweep_point(spec, variant)
        if p is not None and p.n_exp:
            return [*gates, Gate("b_rel_error", spec.max_b_rel_error, "max", f"{p.n_exp} x exp(-b) against NumPy")]
        if variant.startswith("finite"):
            gates.append(Gate("b_rel_error", spec.max_b_rel_error, "max", "500 x exp(-b) against NumPy"))
        return gates


def point_metrics(spec: Spec, p: Point, st: State, result: Any) -> dict[str, float]:
    """Errors of a sweep point: x on `check_rows` sampled rows against float64, b against NumPy's loop."""
    x, b = (np.asarray(r) for r in result)
    rows = np.random.default_rng(spec.seed + 1).choice(p.m, size=min(spec.check_rows, p.m), replace=False)
    want_x = st.a[rows].astype(np.float64) @ st.b.astype(np.float64)
    out = {"x_rel_error": rel_error(x[rows].astype(np.float64), want_x)}
    if p.n_exp:
        want_b = st.b.astype(np.float64)
        for _ in range(p.n_exp):
            want_b = np.exp(-want_b)
        out["b_rel_error"] = rel_error(b.astype(np.float64), want_b)
    return out


WORKLOAD = Placement()
