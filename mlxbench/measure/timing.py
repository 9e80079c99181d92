"""How a round is timed: the calls per round for a call's length, the untimed warm-up, one call completed on
the device, and one timed round on one clock.

Every path that times a prepared call uses these: pytest-benchmark's rounds (mlxbench.measure.runner), the
time-paired A/B's rounds (mlxbench.measure.baton), the regression gate's re-measure and the overhead tool's
reference loop (`time_rounds`), and the coordinator's calls per round (mlxbench.ab.schedule), which gives
both arms the same count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlxbench.workload import Prepared

MICRO_CALL_S = 1e-3  # calls faster than this are timed in several calls per round
ROUND_TARGET_S = 0.01  # ... so that a round lasts at least this long (asv's sample time)
MAX_ITERATIONS = 100_000


def iterations_for(call: float | None) -> int:
    """Calls per round for a call of `call` seconds (None: one call per round)."""
    if call is None or call >= MICRO_CALL_S:
        return 1
    return min(math.ceil(ROUND_TARGET_S / max(call, 1e-7)), MAX_ITERATIONS)


def synced(run: Callable[[], Any], sync: Callable[[Any], None]) -> Callable[[], Any]:
    """`run` as one call completed on the device: its result, synced before it is returned (the target
    pytest-benchmark times, and the calibration calls)."""

    def call() -> Any:
        out = run()
        sync(out)
        return out

    return call


def warm_up(run: Callable[[], Any], sync: Callable[[Any], None], rounds: int) -> Any:
    """`rounds` untimed calls, each completed on the device (compilation, caches, a device just handed over);
    the last result, or None for none."""
    out = None
    for _ in range(rounds):
        out = run()
        sync(out)
    return out


def time_round(
    run: Callable[[], Any],
    sync: Callable[[Any], None],
    calls: int,
    setup: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[Any, float]:
    """One timed round: `setup` (untimed), then `calls` calls each completed on the device, on one clock.
    The last result, and the seconds per call. The paired rounds and the gate's re-measure use it."""
    if setup is not None:
        setup()
    out = None
    t0 = clock()
    for _ in range(calls):
        out = run()
        sync(out)
    return out, (clock() - t0) / calls


def time_rounds(prepared: Prepared, sync: Callable[[Any], None], warmup: int = 0) -> list[float]:
    """`prepared.rounds` rounds of the calls per round calibrated for it (`inner_iterations`), each timed by
    `time_round`, after `warmup` untimed calls: the seconds per call (the gate's re-measure, and the overhead
    tool's reference loop)."""
    n = int(prepared.info.get("inner_iterations", 1))
    warm_up(prepared.run, sync, warmup)
    return [time_round(prepared.run, sync, n, prepared.setup)[1] for _ in range(prepared.rounds)]
