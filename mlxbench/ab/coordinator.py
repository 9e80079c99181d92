"""Time-paired A/B, the coordinator's side: one pair of workers (mlxbench.measure.baton), and who may go on when.

The rule every decision keeps: a worker is told to time a round only while the other worker is
blocked (waiting for a decision, or gone), so nothing the other arm does outside its timed rounds
(its untimed work between rounds, its next benchmark's preparation and warm-up, its metrics and
gate, its session end) overlaps a timed round. Untimed work of both arms may overlap: both start,
import and collect at once, and when a benchmark's rounds are over both are let go together, so
they prepare (and warm up) the next benchmark side by side; a pair's fixed cost is paid once, not
twice.

The order of rounds within a benchmark is A B B A A B ... or B A A B B A ..., the first arm
alternating between benchmarks and between pairs, so no position (first round after the arms'
preparation, last round, a round after a hand-over) falls more often to one arm. Calls per round are
the same in both arms (from the faster of their calibration calls); rounds per arm are the plan's
(mlxbench.verdicts.paired.allocate), else the profile's. The re-warm calls (`--rewarm`) are made only
by a round that follows a switch (the other arm ran since), not by the second round of a run of two,
and only for calls under REWARM_BELOW_S: on the H200 a re-warm of linreg's 1.3 s torch-cuda call cost
as much as its timed rounds.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mlxbench.measure.baton import END, ENV, START
from mlxbench.measure.runner import iterations_for

BARRIERS = (START, END)
GO: dict[str, Any] = {"go": True}
REWARM_BELOW_S = 0.1  # re-warm calls (--rewarm) only for calls shorter than this
STOP: dict[str, Any] = {"go": False}


def other(arm: str) -> str:
    return "B" if arm == "A" else "A"


@dataclass
class Worker:
    """The coordinator's end of one worker process."""

    arm: str
    proc: subprocess.Popen
    inbox: IO[str]  # what the worker says
    outbox: IO[str]  # where orders go
    items: list[str] = field(default_factory=list)
    waiting: str | None = None  # where it is blocked; None while it runs
    running: bool = True
    finished: bool = False
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # per benchmark, from its first wait

    def position(self, nodeid: str | None) -> int | None:
        """Where `nodeid` comes in this worker's order (START before all, END after all); None if it never runs it."""
        if nodeid == START:
            return -1
        if nodeid == END:
            return len(self.items)
        try:
            return self.items.index(nodeid) if nodeid is not None else None
        except ValueError:
            return None

    def take(self, msg: dict[str, Any] | None, record) -> None:
        """What the worker said (None: it exited)."""
        if msg is None:
            self.finished, self.running, self.waiting = True, False, None
        elif "items" in msg:
            self.items = [str(n) for n in msg["items"]]
        elif "done" in msg:
            record(self.arm, str(msg["done"]), float(msg["s"]))
        elif "wait" in msg:
            self.waiting, self.running = str(msg["wait"]), False
            facts = {k: v for k, v in msg.items() if k != "wait"}
            if facts:
                self.facts[self.waiting] = facts

    def order(self, order: dict[str, Any]) -> None:
        self.waiting, self.running = None, True
        try:
            self.outbox.write(json.dumps(order) + "\n")
            self.outbox.flush()
        except OSError:
            pass  # it is exiting: its pipe's end arrives as its last message


@dataclass
class Schedule:
    """Who goes on, decided only while every live worker is blocked."""

    pair: int  # 0-based index of this pair in the run: the first arm of each benchmark alternates with it
    rounds: Mapping[str, int] = field(default_factory=dict)  # rounds per arm per benchmark (else the profile's)
    granted: dict[str, dict[str, int]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    last: str | None = None  # the arm that timed the last round, while the other has not run since

    def decide(self, workers: Mapping[str, Worker]) -> list[tuple[str, dict[str, Any]]]:
        orders = self.choose(workers)
        if any(not o.get("n") for _, o in orders):
            self.last = None  # someone runs untimed work: the next round comes after a switch
        return orders

    def choose(self, workers: Mapping[str, Worker]) -> list[tuple[str, dict[str, Any]]]:
        live = [w for w in workers.values() if not w.finished]
        if len(live) == 1:
            return [(live[0].arm, self.alone(live[0], workers))]
        a, b = workers["A"], workers["B"]
        if a.waiting in BARRIERS and b.waiting in BARRIERS:
            return [("A", GO), ("B", GO)]  # both start (or end) together: nothing of either is timed
        if a.waiting == b.waiting:
            return self.together(a.waiting or "", workers)
        arm = self.behind(a, b)
        return [(arm, self.alone(workers[arm], workers))]

    @staticmethod
    def behind(a: Worker, b: Worker) -> str:
        """The arm that has not reached the other's point yet (it runs alone until it does)."""
        x, y = a.waiting, b.waiting
        bx, by = b.position(x), b.position(y)
        if bx is not None and by is not None and by < bx:
            return "B"
        ax, ay = a.position(x), a.position(y)
        if ax is not None and ay is not None and ax < ay:
            return "A"
        return "A"  # neither order says: either keeps the arms exclusive

    def quota(self, nodeid: str, workers: Mapping[str, Worker]) -> int:
        facts = [w.facts.get(nodeid, {}) for w in workers.values()]
        planned = min((int(f["planned"]) for f in facts if f.get("planned")), default=1)
        if any(f.get("cumulative") for f in facts):
            return planned  # rounds that build on each other (epochs): exactly the profile's
        return max(1, int(self.rounds.get(nodeid, planned)))

    def calls_for(self, nodeid: str, workers: Mapping[str, Worker]) -> int:
        if nodeid not in self.calls:
            self.calls[nodeid] = iterations_for(self.call(nodeid, workers))
        return self.calls[nodeid]

    def first(self, nodeid: str, workers: Mapping[str, Worker]) -> str:
        index = next((p for p in (w.position(nodeid) for w in workers.values()) if p is not None), 0)
        return "A" if (self.pair + index) % 2 == 0 else "B"

    def grant(self, arm: str, nodeid: str, workers: Mapping[str, Worker]) -> dict[str, Any]:
        self.granted.setdefault(nodeid, {"A": 0, "B": 0})[arm] += 1
        switched, self.last = self.last != arm, arm
        call = self.call(nodeid, workers)
        short = call is None or call < REWARM_BELOW_S  # a long call dilutes what the switch costs its first one
        return {"go": True, "n": self.calls_for(nodeid, workers), "rewarm": switched and short}

    @staticmethod
    def call(nodeid: str, workers: Mapping[str, Worker]) -> float | None:
        found = [w.facts.get(nodeid, {}).get("call") for w in workers.values()]
        calls = [float(c) for c in found if isinstance(c, (int, float))]
        return min(calls) if calls else None

    def together(self, nodeid: str, workers: Mapping[str, Worker]) -> list[tuple[str, dict[str, Any]]]:
        got = self.granted.setdefault(nodeid, {"A": 0, "B": 0})
        q = self.quota(nodeid, workers)
        if got["A"] >= q and got["B"] >= q:
            return [("A", STOP), ("B", STOP)]  # both go on to their untimed work at once
        block, second = divmod(got["A"] + got["B"], 2)
        lead = self.first(nodeid, workers) if block % 2 == 0 else other(self.first(nodeid, workers))
        arm = lead if not second else other(lead)
        if got[arm] >= q:  # an arm ran ahead alone before (the other had crashed): finish the other
            arm = other(arm)
        return [(arm, self.grant(arm, nodeid, workers))]

    def alone(self, worker: Worker, workers: Mapping[str, Worker]) -> dict[str, Any]:
        nodeid = worker.waiting
        if nodeid in BARRIERS or nodeid is None:
            return GO
        if self.granted.get(nodeid, {}).get(worker.arm, 0) >= self.quota(nodeid, workers):
            return STOP
        return self.grant(worker.arm, nodeid, workers)


@dataclass
class PairResult:
    """What one pair of workers measured: per benchmark, each arm's per-call times in round order."""

    times: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    clock: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # each round's end (s from the run's start)
    spans: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # each round's go-to-done seconds
    calls: dict[str, int] = field(default_factory=dict)  # calls per round
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # planned rounds, cumulative, threshold
    order: list[tuple[str, str]] = field(default_factory=list)  # (arm, nodeid) of every round, in time order
    rounds: list[tuple[str, str, float, float]] = field(default_factory=list)  # (arm, nodeid, go, done): epoch s
    exit_codes: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0  # seconds from starting the workers to both exiting

    @property
    def timed(self) -> float:
        """Seconds spent inside timed rounds, both arms."""
        return sum(s * self.calls.get(n, 1) for n, arms in self.times.items() for t in arms.values() for s in t)

    def as_dict(self) -> dict:
        return {
            "times": self.times, "clock": self.clock, "spans": self.spans, "calls": self.calls, "facts": self.facts,
            "order": self.order, "rounds": self.rounds, "exit_codes": self.exit_codes, "wall": round(self.wall, 3),
            "timed": round(self.timed, 3),
        }  # fmt: skip


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


def listen(worker: Worker, inbox: queue.Queue) -> None:
    """A thread per worker: each line it says, as (arm, message); (arm, None) when its pipe closes."""
    try:
        for line in worker.inbox:
            try:
                msg = json.loads(line)
            except ValueError:
                continue  # not the protocol: nothing else writes to this pipe
            if isinstance(msg, dict):
                inbox.put((worker.arm, msg))
    except (OSError, ValueError):
        pass
    inbox.put((worker.arm, None))


def run_pair(
    commands: dict[str, tuple[Sequence[str], dict[str, str]]], folder: Path, started: float,
    schedule: Schedule | None = None,
) -> PairResult:  # fmt: skip
    """Start one worker per arm and decide for them, point by point, until both exit."""
    result = PairResult()
    schedule = schedule or Schedule(pair=0)
    went: dict[str, tuple[float, float]] = {}  # arm -> (perf_counter, epoch) of its last round's go

    def record(arm: str, nodeid: str, seconds: float) -> None:
        now, epoch = time.perf_counter(), time.time()
        go, go_epoch = went.get(arm, (now, epoch))
        result.times.setdefault(nodeid, {"A": [], "B": []})[arm].append(seconds)
        result.clock.setdefault(nodeid, {"A": [], "B": []})[arm].append(round(now - started, 3))
        result.spans.setdefault(nodeid, {"A": [], "B": []})[arm].append(round(now - go, 6))
        result.order.append((arm, nodeid))
        result.rounds.append((arm, nodeid, round(go_epoch, 6), round(epoch, 6)))

    t0 = time.perf_counter()
    workers = {arm: start_worker(arm, cmd, env, folder / f"{arm}.log") for arm, (cmd, env) in commands.items()}
    inbox: queue.Queue = queue.Queue()
    for worker in workers.values():
        threading.Thread(target=listen, args=(worker, inbox), daemon=True).start()
    try:
        while not all(w.finished for w in workers.values()):
            while any(w.running for w in workers.values()):
                arm, msg = inbox.get()
                workers[arm].take(msg, record)
            if all(w.finished for w in workers.values()):
                break
            for arm, order in schedule.decide(workers):
                if order.get("n"):
                    went[arm] = (time.perf_counter(), time.time())
                workers[arm].order(order)
    finally:
        for worker in workers.values():
            try:
                worker.outbox.close()
            except OSError:
                pass
        for arm, worker in workers.items():
            result.exit_codes[arm] = worker.proc.wait()
        result.wall = time.perf_counter() - t0
    result.calls = dict(schedule.calls)
    for worker in workers.values():
        for nodeid, facts in worker.facts.items():
            result.facts.setdefault(nodeid, facts)
    return result
