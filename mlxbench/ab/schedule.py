"""Who may go on, in a time-paired A/B (mlxbench.ab.coordinator): the decisions, made only while every live
worker is blocked. A worker is told to time a round only while the other is blocked; both are let go
together at START, at END and when a benchmark's rounds are over (their untimed work overlaps); rounds go
A B B A ... or B A A B ..., the first arm alternating between benchmarks and pairs. With --draws D both arms
prepare each benchmark D times in a pair (together, untimed), each preparation followed by its share of rounds:
on a GPU part of a worker's lasting speed is drawn again with each preparation."""

from __future__ import annotations

import json
import subprocess
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from mlxbench.measure.baton import END, START
from mlxbench.measure.timing import iterations_for

BARRIERS = (START, END)
GO: dict[str, Any] = {"go": True}
STOP: dict[str, Any] = {"go": False}
AGAIN: dict[str, Any] = {"go": False, "again": True}  # prepare the benchmark again (untimed), then more rounds
REWARM_BELOW_S = 0.1  # re-warm calls (--rewarm) only for calls shorter than this


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
    at: str = "its start"  # the last point it reached (what it is doing now, while it runs)
    running: bool = True
    finished: bool = False
    timing: bool = False  # its last order was a timed round (of `at`): what the rounds seen of `at` explain
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
            facts = msg.get("round")  # what the worker read right after the round (mlxbench.measure.roundfacts)
            record(self.arm, str(msg["done"]), float(msg["s"]), facts if isinstance(facts, dict) else {})
        elif "wait" in msg:
            self.waiting, self.running = str(msg["wait"]), False
            self.at = {START: "its start", END: "its session end"}.get(self.waiting, self.waiting)
            facts = {k: v for k, v in msg.items() if k != "wait"}
            if facts:
                self.facts[self.waiting] = facts

    def order(self, order: dict[str, Any]) -> None:
        self.waiting, self.running, self.timing = None, True, bool(order.get("n"))
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
    draws: int = 1  # preparations of each benchmark per pair (--draws; 1 for rounds that build on each other)
    granted: dict[str, dict[str, int]] = field(default_factory=dict)
    starts: dict[str, list[int]] = field(default_factory=dict)  # per benchmark: the round of each re-preparation
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

    @staticmethod
    def builds_on(nodeid: str, workers: Mapping[str, Worker]) -> bool:
        """Whether `nodeid`'s rounds build on each other (epochs): the profile's rounds, one preparation."""
        return any(w.facts.get(nodeid, {}).get("cumulative") for w in workers.values())

    def quota(self, nodeid: str, workers: Mapping[str, Worker]) -> int:
        facts = [w.facts.get(nodeid, {}) for w in workers.values()]
        planned = min((int(f["planned"]) for f in facts if f.get("planned")), default=1)
        if self.builds_on(nodeid, workers):
            return planned  # rounds that build on each other (epochs): exactly the profile's
        return max(1, int(self.rounds.get(nodeid, planned)))

    def draws_of(self, nodeid: str, workers: Mapping[str, Worker]) -> int:
        """Preparations of `nodeid` in this pair: --draws, or 1 for rounds that build on each other (a new
        preparation would train from the start again)."""
        return 1 if self.builds_on(nodeid, workers) else max(1, self.draws)

    def calls_for(self, nodeid: str, workers: Mapping[str, Worker]) -> int:
        if nodeid not in self.calls:
            self.calls[nodeid] = iterations_for(self.call(nodeid, workers))
        return self.calls[nodeid]

    def first(self, nodeid: str, workers: Mapping[str, Worker]) -> str:
        """The arm that leads this benchmark in this pair: alternating from pair to pair for each benchmark
        (keyed on its name, not its position, which shifts as decided benchmarks leave)."""
        return "A" if (self.pair + zlib.crc32(nodeid.encode())) % 2 == 0 else "B"

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
        starts = self.starts.setdefault(nodeid, [])
        upto = q * (len(starts) + 1)  # rounds per arm by the end of this preparation
        if got["A"] >= upto and got["B"] >= upto:
            if len(starts) + 1 < self.draws_of(nodeid, workers):
                starts.append(upto)  # both prepare it again at once, untimed, then time q more rounds each
                return [("A", AGAIN), ("B", AGAIN)]
            return [("A", STOP), ("B", STOP)]  # both go on to their untimed work at once
        block, second = divmod(got["A"] + got["B"], 2)
        lead = self.first(nodeid, workers) if block % 2 == 0 else other(self.first(nodeid, workers))
        arm = lead if not second else other(lead)
        if got[arm] >= upto:  # an arm ran ahead alone before (the other had crashed): finish the other
            arm = other(arm)
        return [(arm, self.grant(arm, nodeid, workers))]

    def alone(self, worker: Worker, workers: Mapping[str, Worker]) -> dict[str, Any]:
        nodeid = worker.waiting
        if nodeid in BARRIERS or nodeid is None:
            return GO
        if self.granted.get(nodeid, {}).get(worker.arm, 0) >= self.quota(nodeid, workers):
            return STOP
        return self.grant(worker.arm, nodeid, workers)
