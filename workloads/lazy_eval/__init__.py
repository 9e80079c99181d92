"""Lazy vs forced evaluation: what an eval (or a device synchronize) per operation costs.

The seed's experiment, kept exactly: 100 x `c = a + b` on 4-element arrays, timed without any eval
(`seed-lazy`: in MLX that is graph construction only, nothing is computed inside the clock) and
with `mx.eval(c)` after every step (`seed-forced`).

The comparisons users need, over array sizes from 4 elements to 1M:
  indep-<n>-end   100 x `c = a + b`, one force at the end: laziness computes only the last add
  indep-<n>-each  100 x `c = a + b`, a force after every op
  dep-<n>-end     100 x `c = c + b` (a dependent chain), one force at the end
  dep-<n>-each    the same, a force after every op
"Force" is the backend's own (`Backend.force`): `mx.eval` (lazy MLX), `torch.cuda/mps.synchronize`
(asynchronous PyTorch on a GPU), `block_until_ready` (JAX); NumPy and PyTorch on the CPU are eager,
where a force is a no-op and the report labels them so (`Backend.execution`). The workload needs
nothing else of a framework than arrays that add, so it has no per-framework implementations and
runs on every backend, third-party ones included. Every result is checked against NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlxbench.backends import Backend
from mlxbench.workload import Gate, Measured, Prepared, ProfiledWorkload, Size


@dataclass(frozen=True)
class Spec:
    n_ops: int = 100  # seed
    seed_size: int = 4  # seed: 4-element arrays
    sizes: tuple[int, ...] = (4, 1_024, 65_536, 1_048_576)  # from dispatch-bound to bandwidth-bound
    rounds: int = 20
    seed: int = 0
    # float32 adds: the dependent chain accumulates rounding of 100 adds, ~100 * 6e-8 relative.
    max_rel_error: float = 1e-5
    sweep: bool = False  # the sizes are a sweep axis (extra_info["size"], skips of unaffordable points)


PROFILES = {"seed": Spec(), "ci": Spec(rounds=5), "sweep": Spec(rounds=10, sweep=True)}  # sweep: the chains, by size

SEED_VARIANTS = ("seed-lazy", "seed-forced")
VARIANTS = SEED_VARIANTS + tuple(
    f"{chain}-{n}-{mode}" for chain in ("indep", "dep") for n in Spec().sizes for mode in ("end", "each")
)
SWEEP_VARIANTS = VARIANTS[len(SEED_VARIANTS) :]  # the sized chains; their series: indep-end, dep-each, ...


def parse(variant: str, spec: Spec) -> tuple[str, int, str]:
    """(chain, size, mode) of a variant name; seed variants are the independent chain at 4 elements."""
    if variant == "seed-lazy":
        return "indep", spec.seed_size, "none"
    if variant == "seed-forced":
        return "indep", spec.seed_size, "each"
    chain, n, mode = variant.split("-")
    return chain, int(n), mode


def expected(chain: str, a: np.ndarray, b: np.ndarray, n_ops: int) -> np.ndarray:
    """The NumPy float32 result of the same sequence of adds."""
    c = a
    for _ in range(n_ops):
        c = (c if chain == "dep" else a) + b
    return c


@dataclass(frozen=True)
class State:
    a: np.ndarray
    b: np.ndarray
    chain: str


class LazyEval(ProfiledWorkload):
    name = "lazy_eval"
    variants = VARIANTS
    profiles = PROFILES
    interface = None  # the backend's contract is all it needs
    sweep_variants = SWEEP_VARIANTS

    def size(self, spec: Spec, variant: str) -> Size | None:
        if not spec.sweep or variant in SEED_VARIANTS:
            return None
        chain, n, mode = parse(variant, spec)
        return Size(
            series=f"{chain}-{mode}",
            axis="elements",
            value=n,
            work=float(spec.n_ops * n),  # element-wise adds per call
            work_unit="adds",
            device_bytes=4 * 4 * n,  # a, b, c and one temporary in float32
            host_bytes=4 * 4 * n,
            calls=spec.rounds + 2,
        )

    def prepare(self, backend: Backend, spec: Spec, variant: str, context, impl: None) -> Prepared[State]:
        chain, n, mode = parse(variant, spec)
        rng = np.random.default_rng(spec.seed)
        a_np, b_np = (rng.standard_normal(n).astype(np.float32) for _ in range(2))
        a, b = backend.asarray(a_np), backend.asarray(b_np)
        force, execution = backend.force, backend.execution
        n_ops, last = spec.n_ops, {}

        def run():
            c = a
            for _ in range(n_ops):
                c = (c if chain == "dep" else a) + b
                if mode == "each":
                    force(c)
            if mode == "none":  # the seed's lazy timing: nothing may be computed inside the clock
                last["c"] = c
                return None
            return c

        measures = {
            "none": "graph construction only (no eval inside the clock)"
            if execution == "lazy"
            else f"{execution} execution: the ops run as they are issued, nothing is deferred",
            "end": "ops then one force at the end",
            "each": "a force after every op",
        }[mode]
        return Prepared(
            run=run,
            rounds=spec.rounds,
            warmup_rounds=2,
            work_per_round=n_ops,
            work_unit="ops",
            info={"execution": execution, "measures": measures, "chain": chain, "size": n},
            collect=(lambda _: last["c"]) if mode == "none" else None,  # evaluated after the clock
            state=State(a_np, b_np, chain),
        )

    def metrics(
        self, spec: Spec, variant: str, result, prepared: Prepared[State], measured: Measured
    ) -> dict[str, float]:
        st = prepared.state
        want = expected(st.chain, st.a, st.b, spec.n_ops)
        err = float(np.max(np.abs(np.asarray(result) - want)) / max(float(np.max(np.abs(want))), 1e-30))
        return {"rel_error": err}

    def gates(self, spec: Spec, variant: str) -> list[Gate]:
        return [Gate("rel_error", spec.max_rel_error, "max", "against NumPy float32, the same adds")]


WORKLOAD = LazyEval()
