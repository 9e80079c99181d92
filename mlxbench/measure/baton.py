"""Time-paired A/B, the worker's side: one arm's pytest process, blocked wherever the other arm may time.

On a machine whose speed drifts from minute to minute (a shared GPU), two whole processes run far
apart in time differ by the drift between them. In a time-paired A/B (`mlxbench ab`, whose
coordinator is mlxbench.ab.coordinator) the arms' workers run the same benchmarks in the same order
and the coordinator decides, at every point where a worker could start to time something or could
disturb the other's timing, whether it may go on. The rule it keeps: while one worker times a round,
the other is blocked at one of these points, so nothing of the other arm (its untimed work between
rounds, its next benchmark's preparation, its metrics, its session end) overlaps a timed round; both
workers may do untimed work at the same time (their start and imports, each benchmark's preparation
and warm-up), which is what keeps the timed rounds a large share of a pair's wall time.

Protocol, one JSON object per line over two pipes whose numbers the worker finds in
`MLXBENCH_BATON=<read fd>,<write fd>`:

    worker -> coordinator   {"items": [nodeid, ...]}              once, after collection
                            {"wait": ""}                          then, before anything runs (START)
                            {"wait": nodeid, ...facts}            before each measured round; the first of a
                                                                  benchmark carries its facts: planned rounds,
                                                                  the fastest calibration call (s) or null,
                                                                  cumulative, the workload's threshold
                            {"done": nodeid, "s": seconds,        after the round (per call, inner calls divided out),
                             "round": {"cpu": ..., "uptime": ...}} with what was read right after it, before this
                                                                  message (mlxbench.measure.roundfacts): the CPU
                                                                  the timed thread was on (null where unknown), the
                                                                  worker's age (s since its Baton was made) and,
                                                                  where NVML answers, sm_mhz, mem_mhz and gpu_c
                            {"wait": "<end>"}                     at session finish, before the session's teardown (END)
    coordinator -> worker   {"go": true, "n": calls, "rewarm": b}  time one round of `calls` calls (after
                                                                  the re-warm calls if b: the other arm ran last)
                            {"go": false}                         this benchmark's rounds are over: go on
                            {"go": false, "again": true}          prepare this benchmark again (untimed, both arms
                                                                  at once: --draws), then wait for more rounds
                            {"go": true, "only": [nodeid, ...]}   (at START) go on, running only these (the
                                                                  undecided; without "only": all it collected)
                            {"go": true}                          (at END) go on

A worker may be started while the pair before it still times (the A/B pipelines: mlxbench.ab.engine): it
imports and collects, then waits at START, before any benchmark has touched a device, for its pair's turn.

How many rounds a benchmark gets in a pair, and the calls per round (the same for both arms), are the
coordinator's: the round count comes from its allocation (mlxbench.verdicts.paired), the calls from
the faster of the two arms' calibration calls. A worker whose coordinator went away stops with an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import IO, Any

from mlxbench.measure.roundfacts import RoundFacts
from mlxbench.measure.timing import time_round, warm_up

ENV = "MLXBENCH_BATON"
REWARM_ENV = "MLXBENCH_BATON_REWARM"  # untimed calls before each timed round (see measure_paired)
START = ""  # what a worker waits at once collected, before it arranges or runs anything
END = "<end>"  # what it waits at when its tests are over, before its session's teardown and exit


class Baton:
    """The worker's end: blocks at every point where the coordinator decides."""

    def __init__(self, read_fd: int, write_fd: int, facts: RoundFacts | None = None) -> None:
        self.inbox: IO[str] = os.fdopen(read_fd, "r", buffering=1)
        self.outbox: IO[str] = os.fdopen(write_fd, "w", buffering=1)
        self.ended = False
        self.facts = RoundFacts.open() if facts is None else facts  # its uptime counts from here

    @classmethod
    def from_env(cls, value: str | None = None) -> Baton | None:
        value = os.environ.get(ENV, "") if value is None else value
        if not value:
            return None
        try:
            read_fd, write_fd = (int(part) for part in value.split(","))
        except ValueError:
            raise ValueError(f"{ENV}={value!r}: expected '<read fd>,<write fd>' (set by mlxbench ab)") from None
        return cls(read_fd, write_fd)

    def send(self, message: dict[str, Any]) -> None:
        self.outbox.write(json.dumps(message) + "\n")
        self.outbox.flush()

    def items(self, nodeids: list[str]) -> dict[str, Any]:
        """Say what this worker could run, then wait until the coordinator lets both arms start; its order (with
        `only`, the benchmarks to run, once some are decided)."""
        self.send({"items": list(nodeids)})
        return self.wait(START)

    def wait(self, nodeid: str, **facts: Any) -> dict[str, Any]:
        """Block until the coordinator decides; its order ({"go": ..., "n": ...})."""
        self.send({"wait": nodeid, **facts})
        line = self.inbox.readline()
        try:
            order = json.loads(line)
        except ValueError:
            order = None
        if not isinstance(order, dict) or "go" not in order:
            raise RuntimeError(f"mlxbench ab: the coordinator went away ({line!r} instead of an order)")
        return order

    def done(self, nodeid: str, seconds: float) -> None:
        """Report a timed round, with its facts read now: call it right after the round, in the thread that
        timed it (the CPU read is that thread's)."""
        self.send({"done": nodeid, "s": seconds, "round": self.facts.read()})

    def end(self) -> None:
        """The tests are over: wait (once) until the other arm has no round left to time."""
        if self.ended:
            return
        self.ended = True
        try:
            self.wait(END)
        except (OSError, RuntimeError, ValueError):
            pass  # the coordinator is gone: nothing left to disturb

    def close(self) -> None:
        self.facts.close()
        for stream in (self.outbox, self.inbox):
            try:
                stream.close()
            except OSError:
                pass


def keep_undecided(items: list[Any], only: Any, deselected: Callable[[list[Any]], None]) -> None:
    """Keep in `items` (pytest's, in place) only the benchmarks the coordinator named when it let this worker go
    (`only` of its START order: the undecided ones; None: all)."""
    if not isinstance(only, list):
        return
    named = {str(n) for n in only}
    dropped = [item for item in items if item.nodeid not in named]
    if dropped:
        deselected(dropped)
        items[:] = [item for item in items if item.nodeid in named]


def measure_paired(
    baton: Baton,
    nodeid: str,
    run: Callable[[], Any],
    sync: Callable[[Any], None],
    *,
    planned: int,
    warmup_rounds: int,
    call: float | None,
    setup: Callable[[], None] | None = None,
    rewarm: int = 0,
    cumulative: bool = False,
    threshold: float | None = None,
) -> tuple[Any, list[float], bool]:
    """One arm's rounds of one benchmark: warm-up (untimed, while the other arm may work too), then a
    round each time the coordinator says go, with the number of calls it names. Before each timed
    round that follows a switch, `rewarm` untimed calls: the other arm just had the device, and the first call after a
    switch pays for it (on the H200, one such call halved the round-to-round spread of MLX linreg and
    placement in a first measurement of paired rounds). Each round's facts (mlxbench.measure.roundfacts) are read
    after its clock stops and go with its time. Returns the last result, the per-call times and whether the
    coordinator asked for the benchmark to be prepared again (its caller does that and calls this again)."""
    out = warm_up(run, sync, warmup_rounds)
    facts: dict[str, Any] = {"planned": planned, "call": call, "cumulative": cumulative, "threshold": threshold}
    times: list[float] = []
    while True:
        order = baton.wait(nodeid, **facts)
        facts = {}
        if not order.get("go"):
            if order.get("again"):
                return out, times, True
            break
        warm_up(run, sync, rewarm if order.get("rewarm", True) else 0)
        out, seconds = time_round(run, sync, max(1, int(order.get("n", 1))), setup)
        baton.done(nodeid, seconds)
        times.append(seconds)
    if out is None:  # no warm-up and no round granted: the metrics still need a result of this process
        out = warm_up(run, sync, 1)
    return out, times, False
