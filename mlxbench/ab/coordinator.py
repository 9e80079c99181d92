"""Time-paired A/B, the coordinator's side: one pair of workers (mlxbench.measure.baton), and who may go on when.

The rule every decision keeps: a worker is told to time a round only while the other worker is
blocked (waiting for a decision, or gone), so nothing the other arm does outside its timed rounds
(its untimed work between rounds, its next benchmark's preparation and warm-up, its metrics and
gate, its session end) overlaps a timed round. Untimed work of both arms may overlap: both start,
import and collect at once, and when a benchmark's rounds are over both are let go together, so
they prepare (and warm up) the next benchmark side by side; a pair's fixed cost is paid once, not
twice. Where the A/B pipelines (mlxbench.ab.engine), the next pair's workers are started (`launch`)
once this pair's are let go at START: they import and collect on the CPU while this pair times, and
wait at START, where nothing of theirs has touched the device, until this pair's workers have exited
(pair.json's `launched`, `released` and `ended` say when).

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
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlxbench import cancel
from mlxbench.ab.schedule import GO, Schedule, Worker
from mlxbench.measure.baton import ENV, START
from mlxbench.measure.pairfile import PairResult  # what run_pair returns, and pair.json's format
from mlxbench.units import fmt_time

SILENT_LIMIT_S = 600.0  # how long a worker may say nothing where no timed round explains the wait (--worker-timeout)
ROUND_FACTOR = 20  # inside a timed round: this many times the slowest round seen of its benchmark, either arm, any pair
POLL_S = 5.0  # how often, at most, the coordinator checks for a silent worker while it hears nothing
ROUND_FLOOR_S = 30.0  # ... and never less than this (or --worker-timeout, if less): a stall of the machine is no hang


class SilentWorker(RuntimeError):
    """A worker that sent nothing for longer than its work can explain: named, and both workers stopped."""


def start_worker(arm: str, cmd: Sequence[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> Worker:
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
            cwd=cwd,  # a revision's checkout (mlxbench.ab.revisions), else the coordinator's
            start_new_session=True,  # its own process group: stopped with everything it started
            preexec_fn=cancel.die_with_parent(),  # and killed with the coordinator, even a SIGKILLed one (Linux)
        )
    os.close(to_worker_r)
    os.close(from_worker_w)
    return Worker(arm, proc, os.fdopen(from_worker_r, "r"), os.fdopen(to_worker_w, "w"))


def stop(worker: Worker) -> None:
    """End a worker's whole process group (it and whatever it started)."""
    try:
        os.killpg(worker.proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


@dataclass(frozen=True)
class Limit:
    """How long a worker may say nothing now, and what sets it (said when the worker is stopped)."""

    seconds: float
    why: str


def slowest_round(
    nodeid: str,
    result: PairResult,
    seen: Mapping[str, float],
    workers: Iterable[Worker],
    calls: Mapping[str, int],
) -> float | None:
    """The longest a round of `nodeid` is known to take: the slowest of its rounds so far in either arm, in this
    pair and the earlier ones (`seen`), and its calls per round times the slower arm's calibration call (known
    before its first round); None where nothing is known."""
    known = [s for spans in (result.spans.get(nodeid) or {}).values() for s in spans]
    known += [seen[nodeid]] if nodeid in seen else []
    found = [w.facts.get(nodeid, {}).get("call") for w in workers]
    call = [float(c) for c in found if isinstance(c, (int, float)) and c > 0]
    if call and calls.get(nodeid):
        known.append(calls[nodeid] * max(call))
    return max(known) if known else None


def silence_limit(
    result: PairResult,
    worker: Worker,
    limit: float,
    seen: Mapping[str, float] | None = None,
    workers: Iterable[Worker] = (),
    calls: Mapping[str, int] | None = None,
) -> Limit:
    """How long this worker may say nothing: inside a timed round, ROUND_FACTOR times the slowest round known of
    its benchmark (slowest_round: either arm, from the first pair on), at least ROUND_FLOOR_S (or `limit`, if
    less); elsewhere (its start, a benchmark's preparation, its session end), or before anything is known of
    the benchmark's rounds, `limit` (--worker-timeout)."""
    default = ", the default" if limit == SILENT_LIMIT_S else ""
    slowest = slowest_round(worker.at, result, seen or {}, workers, calls or {}) if worker.timing else None
    if slowest is None:
        return Limit(
            limit, f"where no timed round explains a wait, the limit is --worker-timeout: {limit:g} s{default}"
        )
    floor = min(ROUND_FLOOR_S, limit)
    return Limit(
        max(floor, ROUND_FACTOR * slowest),
        f"its slowest round so far, either arm, took {fmt_time(slowest)}: the limit in a round is {ROUND_FACTOR} "
        f"times that, at least {floor:g} s; where no round explains a wait, --worker-timeout: {limit:g} s{default}",
    )


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


@dataclass
class Launch:
    """A pair's workers, started (where the A/B pipelines, while the pair before it still times), each heard by a
    thread of its own; they wait at START until `run_pair` gives the pair its turn."""

    workers: dict[str, Worker]
    inbox: queue.Queue
    folder: Path
    launched: float  # epoch s

    def stop(self) -> None:
        """End both workers (a launch that never got its turn, or an A/B that ends)."""
        for w in self.workers.values():
            stop(w)
            for stream in (w.outbox, w.inbox):
                try:
                    stream.close()
                except OSError:
                    pass
            w.proc.wait()


def launch(
    commands: Mapping[str, tuple[Sequence[str], dict[str, str]]], folder: Path, cwds: Mapping[str, Path | None]
) -> Launch:
    """One worker per arm, its output to `folder`/<arm>.log, and a thread listening to each; none left running
    if one cannot start."""
    epoch = time.time()
    workers: dict[str, Worker] = {}
    try:
        for arm, (cmd, env) in commands.items():
            workers[arm] = start_worker(arm, cmd, env, folder / f"{arm}.log", cwds.get(arm))
    except BaseException:
        for w in workers.values():
            stop(w)
        raise
    inbox: queue.Queue = queue.Queue()
    for worker in workers.values():
        threading.Thread(target=listen, args=(worker, inbox), daemon=True).start()
    return Launch(workers, inbox, folder, epoch)


def check_silence(
    workers: Mapping[str, Worker],
    heard: Mapping[str, float],
    result: PairResult,
    silent_limit: float,
    seen: Mapping[str, float] | None,
    calls: Mapping[str, int],
) -> None:
    """SilentWorker, every worker stopped first, when a running worker has said nothing for longer than
    `silence_limit` allows."""
    for w in workers.values():
        quiet = time.perf_counter() - heard[w.arm]
        limit = silence_limit(result, w, silent_limit, seen, workers.values(), calls)
        if w.running and quiet > limit.seconds:
            for x in workers.values():
                stop(x)
            where = f"a timed round of {w.at}" if w.timing else w.at
            raise SilentWorker(f"arm {w.arm}'s worker has sent nothing for {quiet:.0f} s in {where} ({limit.why})")


@dataclass
class Rounds:
    """A pair's timed rounds as its workers report them: per round its time, when it ended (s from the run's
    `started`), how long from its go to its report, who timed it and when, and what was read right after it."""

    result: PairResult
    started: float  # perf_counter at the run's start
    went: dict[str, tuple[float, float]] = field(default_factory=dict)  # arm -> (perf_counter, epoch) of its go

    def go(self, arm: str) -> None:
        """`arm` is told to time a round now."""
        self.went[arm] = (time.perf_counter(), time.time())

    def record(self, arm: str, nodeid: str, seconds: float, facts: dict[str, Any]) -> None:
        now, epoch = time.perf_counter(), time.time()
        go, go_epoch = self.went.get(arm, (now, epoch))
        result = self.result
        result.times.setdefault(nodeid, {"A": [], "B": []})[arm].append(seconds)
        result.clock.setdefault(nodeid, {"A": [], "B": []})[arm].append(round(now - self.started, 3))
        result.spans.setdefault(nodeid, {"A": [], "B": []})[arm].append(round(now - go, 6))
        result.order.append((arm, nodeid))
        result.rounds.append((arm, nodeid, round(go_epoch, 6), round(epoch, 6)))
        result.round_facts.append(facts)


def run_pair(
    commands: dict[str, tuple[Sequence[str], dict[str, str]]] | Launch,
    folder: Path,
    started: float,
    schedule: Schedule | None = None,
    silent_limit: float = SILENT_LIMIT_S,
    seen: Mapping[str, float] | None = None,
    cwds: Mapping[str, Path | None] | None = None,
    only: Iterable[str] | None = None,
    on_release: Callable[[], None] | None = None,
) -> PairResult:
    """Give a pair of workers its turn (a `Launch` already started, else one started now from `commands`, in its
    folder of `cwds`, else this one) and decide for them, point by point, until both exit. `only`: the benchmarks
    they are to run (the undecided ones; None: all), said with the order that lets them go at START;
    `on_release`: called once both are let go at START (where the A/B starts the next pair's workers). A worker
    that says nothing for longer than `silence_limit` allows (`seen`: the slowest round of each benchmark in the
    earlier pairs) raises SilentWorker (both workers stopped first)."""
    schedule = schedule or Schedule(pair=0)
    rounds = Rounds(PairResult(), started)
    result, record = rounds.result, rounds.record
    t0 = time.perf_counter()
    pair = commands if isinstance(commands, Launch) else launch(commands, folder, cwds or {})
    workers, inbox = pair.workers, pair.inbox
    result.launched = pair.launched
    keep = set(only) if only is not None else None
    start = {**GO, **({"only": sorted(keep)} if keep is not None else {})}
    released: set[str] = set()
    heard = {arm: time.perf_counter() for arm in workers}
    poll = min(POLL_S, silent_limit / 4)  # a silence past the limit is seen within a quarter of it
    try:
        while not all(w.finished for w in workers.values()):
            while any(w.running for w in workers.values()):
                try:
                    arm, msg = inbox.get(timeout=poll)
                except queue.Empty:
                    check_silence(workers, heard, result, silent_limit, seen, schedule.calls)
                    continue
                heard[arm] = time.perf_counter()
                workers[arm].take(msg, record)
            if all(w.finished for w in workers.values()):
                break
            for arm, order in schedule.decide(workers):
                if order.get("n"):
                    rounds.go(arm)
                heard[arm] = time.perf_counter()
                if workers[arm].waiting == START:
                    order = start
                    released.add(arm)
                    if keep is not None:  # what it will run: the coordinator's view of its order
                        workers[arm].items = [n for n in workers[arm].items if n in keep]
                workers[arm].order(order)
            if released and not result.released and released >= {a for a, w in workers.items() if not w.finished}:
                result.released = time.time()
                if on_release is not None:
                    on_release()
    except BaseException:  # Ctrl-C, SIGTERM's exit, a bug: no worker goes on preparing benchmarks alone
        for w in workers.values():
            stop(w)
        raise
    finally:
        for worker in workers.values():
            try:
                worker.outbox.close()
            except OSError:
                pass
        for arm, worker in workers.items():
            result.exit_codes[arm] = worker.proc.wait()
        result.wall = time.perf_counter() - t0
        result.ended = time.time()
    result.calls = dict(schedule.calls)
    result.draws = {nodeid: list(starts) for nodeid, starts in schedule.starts.items() if starts}
    for worker in workers.values():
        for nodeid, facts in worker.facts.items():
            result.facts.setdefault(nodeid, facts)
    return result
