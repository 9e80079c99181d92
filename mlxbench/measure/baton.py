"""Time-paired A/B: two live pytest workers, one per arm, that hand a baton to each other every round.

On a machine whose speed drifts from minute to minute (a shared GPU), two whole processes run far
apart in time differ by the drift between them. Here the arms' workers run the same benchmarks in
the same order, and the coordinator (`mlxbench ab`) lets exactly one of them run at a time: a worker
works (collects, arranges, warms up, times one round, gates) until it reaches the start of its next
measured round, says so (`wait`), and blocks until it is handed the baton (`go`). Rounds of one
benchmark alternate A B B A A B ..., so each pair of adjacent rounds shares the machine's state of
that moment, and the arms never run at the same time (a GPU is never shared between them).

Protocol, one JSON object per line over two pipes whose numbers the worker finds in
`MLXBENCH_BATON=<read fd>,<write fd>`:

    worker -> coordinator   {"items": [nodeid, ...]}           once, after collection
                            {"wait": nodeid}                   at the start of each measured round
                            {"done": nodeid, "s": seconds}     after it, per call (inner iterations divided out)
    coordinator -> worker   "go"                               the baton: run until your next wait

A worker that exits closes its pipe; the coordinator then runs the other one alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ENV = "MLXBENCH_BATON"
START = ""  # what a worker waits at once collected, before it arranges or runs anything
REWARM_ENV = "MLXBENCH_BATON_REWARM"  # untimed calls after each hand-over (see measure_paired)


class Baton:
    """The worker's end: blocks at the start of every measured round until the coordinator says go."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.inbox: IO[str] = os.fdopen(read_fd, "r", buffering=1)
        self.outbox: IO[str] = os.fdopen(write_fd, "w", buffering=1)

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

    def items(self, nodeids: Sequence[str]) -> None:
        """Say what this worker will run, then wait for the baton before arranging anything."""
        self.send({"items": list(nodeids)})
        self.wait(START)

    def wait(self, nodeid: str) -> None:
        self.send({"wait": nodeid})
        line = self.inbox.readline()
        if line.strip() != "go":
            raise RuntimeError(f"mlxbench ab: the coordinator went away ({line!r} instead of 'go')")

    def done(self, nodeid: str, seconds: float) -> None:
        self.send({"done": nodeid, "s": seconds})

    def close(self) -> None:
        for stream in (self.outbox, self.inbox):
            try:
                stream.close()
            except OSError:
                pass


def measure_paired(
    baton: Baton, nodeid: str, run: Callable[[], Any], sync: Callable[[Any], None], *,
    rounds: int, warmup_rounds: int, iterations: int, setup: Callable[[], None] | None = None, rewarm: int = 0,
) -> tuple[Any, list[float]]:  # fmt: skip
    """`rounds` measured rounds of `iterations` synced calls, each started only once this worker holds
    the baton; warm-up before the first wait. After each hand-over, `rewarm` untimed calls first: the
    other arm just had the device, and the first call after a switch pays for it (on the H200, one
    such call halved the round-to-round spread of MLX linreg and placement: shared/notes/paired-rounds).
    Returns the last result and the per-call times."""
    out = None
    for _ in range(warmup_rounds):
        out = run()
        sync(out)
    times = []
    for _ in range(rounds):
        baton.wait(nodeid)
        for _ in range(rewarm):
            sync(run())
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        for _ in range(iterations):
            out = run()
            sync(out)
        seconds = (time.perf_counter() - t0) / iterations
        baton.done(nodeid, seconds)
        times.append(seconds)
    return out, times


@dataclass
class Worker:
    """The coordinator's end of one worker process."""

    arm: str
    proc: subprocess.Popen
    inbox: IO[str]  # what the worker says
    outbox: IO[str]  # where "go" goes
    items: list[str] = field(default_factory=list)
    waiting: str | None = None  # the benchmark whose round it waits to start; None while it runs
    finished: bool = False

    def position(self, nodeid: str | None) -> int | None:
        """Where `nodeid` comes in this worker's order (START: before all); None if it never runs it."""
        if nodeid == START:
            return -1
        try:
            return self.items.index(nodeid) if nodeid is not None else None
        except ValueError:
            return None

    def read_until_wait(self, record: Callable[[str, str, float], None]) -> None:
        """Read what the worker says until it waits for the baton, or exits."""
        while True:
            line = self.inbox.readline()
            if not line:
                self.finished, self.waiting = True, None
                return
            msg = json.loads(line)
            if "items" in msg:
                self.items = list(msg["items"])
            elif "done" in msg:
                record(self.arm, msg["done"], float(msg["s"]))
            elif "wait" in msg:
                self.waiting = msg["wait"]
                return

    def go(self) -> None:
        self.waiting = None
        self.outbox.write("go\n")
        self.outbox.flush()


def start_worker(arm: str, cmd: Sequence[str], env: dict[str, str], log: Path) -> Worker:
    to_worker_r, to_worker_w = os.pipe()
    from_worker_r, from_worker_w = os.pipe()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            list(cmd),
            env={**os.environ, **env, ENV: f"{to_worker_r},{from_worker_w}"},
            pass_fds=(to_worker_r, from_worker_w),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    os.close(to_worker_r)
    os.close(from_worker_w)
    return Worker(arm, proc, os.fdopen(from_worker_r, "r"), os.fdopen(to_worker_w, "w"))


def next_arm(workers: dict[str, Worker], granted: dict[str, int]) -> str:
    """Who gets the baton. Both at the same benchmark: alternate A B B A ... (each adjacent pair of
    rounds close in time, the first of a pair alternating so that neither arm always goes first).
    At different benchmarks: the arm that has not reached the other's yet (it ran no round of it);
    one arm left: that one."""
    a, b = workers["A"], workers["B"]
    if a.finished or b.finished:
        return "B" if a.finished else "A"
    x, y = a.waiting, b.waiting
    assert x is not None and y is not None
    if x == y:
        k = granted.get(x, 0)
        pair, second = divmod(k, 2)
        first = "A" if pair % 2 == 0 else "B"
        return first if not second else ("B" if first == "A" else "A")
    bx, by = b.position(x), b.position(y)
    if bx is not None and by is not None and by < bx:
        return "B"  # B has yet to reach A's benchmark
    ax, ay = a.position(x), a.position(y)
    if ax is not None and ay is not None and ax < ay:
        return "A"
    return "A"  # they run different benchmarks: any order keeps them exclusive


@dataclass
class PairResult:
    """What one pair of workers measured: per benchmark, each arm's per-call times in round order."""

    times: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    clock: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # when each round ended (s)
    order: list[tuple[str, str]] = field(default_factory=list)  # (arm, nodeid) of every round, in time order
    exit_codes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"times": self.times, "clock": self.clock, "order": self.order, "exit_codes": self.exit_codes}


def run_pair(commands: dict[str, tuple[Sequence[str], dict[str, str]]], folder: Path, started: float) -> PairResult:
    """Start one worker per arm, hand the baton round by round until both exit."""
    result = PairResult()

    def record(arm: str, nodeid: str, seconds: float) -> None:
        result.times.setdefault(nodeid, {"A": [], "B": []})[arm].append(seconds)
        result.clock.setdefault(nodeid, {"A": [], "B": []})[arm].append(round(time.perf_counter() - started, 3))
        result.order.append((arm, nodeid))

    workers = {arm: start_worker(arm, cmd, env, folder / f"{arm}.log") for arm, (cmd, env) in commands.items()}
    try:
        for worker in workers.values():  # both start and collect; each then waits before running anything
            worker.read_until_wait(record)
        granted: dict[str, int] = {}
        while not all(w.finished for w in workers.values()):
            arm = next_arm(workers, granted)
            worker = workers[arm]
            nodeid = worker.waiting
            if nodeid is not None:
                other = workers["B" if arm == "A" else "A"]
                if other.waiting == nodeid:
                    granted[nodeid] = granted.get(nodeid, 0) + 1
                worker.go()
            worker.read_until_wait(record)
    finally:
        for worker in workers.values():
            for stream in (worker.outbox, worker.inbox):
                try:
                    stream.close()
                except OSError:
                    pass
        for arm, worker in workers.items():
            result.exit_codes[arm] = worker.proc.wait()
    return result
