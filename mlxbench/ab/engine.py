"""The time-paired A/B as a Python object: `PairedRun` steps one pair of workers, looks, allocates and documents.

`run` is the loop `mlxbench ab` drives (releases and bisect through the same command): pairs of live workers
(mlxbench.ab.coordinator) while the budget holds. At pair counts growing geometrically from MIN_PAIRS (3, 5, 8,
12, ...: mlxbench.verdicts.paired.look_number), an interim look judges the benchmarks still undecided; those it
decides keep their verdict and leave: later pairs run only the rest (the workers deselect the others). Before
each pair, the rounds per arm of every benchmark come from the cost model (`allocate`: its variance parts and
its costs, measured on the pairs so far); the first PILOT_PAIRS pairs use the profile's rounds. `verdicts.json`
records each pair's allocation and why, the timed share of the run's wall time, the shared spread prior, and
every worker named unstable.

A worker that hangs or dies ends the A/B with its complete pairs, judged; how long a worker may say nothing
is the coordinator's (mlxbench.ab.coordinator.silence_limit: inside a timed round, what the slowest round of
its benchmark seen so far, either arm, explains). `pairs_asked` in verdicts.json is `--pairs`, else
MIN_PAIRS (the fewest a paired A/B runs whatever its budget): an A/B that ends with fewer complete pairs is
incomplete (mlxbench.ab.command exits INCOMPLETE); one stopped by its time budget never is.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlxbench.ab import revisions
from mlxbench.ab.config import ABConfig
from mlxbench.ab.coordinator import Launch, PairResult, Schedule, SilentWorker, launch, run_pair
from mlxbench.ab.paired import (
    LAUNCH,
    check_workers,
    costs,
    describe,
    failures_in,
    judge_pairs,
    judged,
    per_arm,
    thresholds_for,
    worker_command,
)
from mlxbench.measure import pairfile
from mlxbench.measure.baton import REWARM_ENV
from mlxbench.reports.plural import nouns
from mlxbench.runs import BadRun
from mlxbench.session import saving
from mlxbench.units import echo
from mlxbench.verdicts import allocation as allocation_
from mlxbench.verdicts import evidence
from mlxbench.verdicts import forecast as forecast_
from mlxbench.verdicts import paired as stats
from mlxbench.verdicts.paired import MIN_PAIRS
from mlxbench.verdicts.verdict import Result
from mlxbench.verdicts.words import change

PILOT_PAIRS = 2  # pairs run with the profile's rounds before the cost model allocates
PIPELINE_MIN_CORES = 8  # --pipeline auto starts the next pair's workers early on a machine with this many cores


def run(config: ABConfig, arms: Mapping[str, dict], pytest_args: Sequence[str], out: Path, started: float):
    """The paired design: pairs of live workers, as many as the time budget holds, undecided benchmarks only.
    (the verdicts, the facts verdicts.json records of the design)."""
    ab = PairedRun(config, arms, list(pytest_args), out, started)
    try:
        while ab.more():
            if not ab.step() or ab.look():
                break
            ab.allocate()
        else:
            ab.ran_out()
    finally:
        ab.discard()  # the next pair's workers, started ahead where the A/B pipelines, had no turn
    return ab.document()


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity where the system says, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def pipelines(setting: str, cores: int) -> bool:
    """Whether the next pair's workers start while this pair times: `--pipeline on`, or auto with at least
    PIPELINE_MIN_CORES cores (two timing workers, two importing and the coordinator leave most idle); on fewer
    cores their imports would take CPU from the timed rounds, so each pair starts after the last ends."""
    return setting == "on" or (setting == "auto" and cores >= PIPELINE_MIN_CORES)


class PairedRun:
    """One paired A/B in progress: its complete pairs, the benchmarks decided so far and what stopped it."""

    def __init__(self, config: ABConfig, arms: Mapping[str, dict], pytest_args: list[str], out: Path, started: float):
        self.config, self.arms, self.pytest_args, self.out, self.started = config, arms, pytest_args, out, started
        self.budget = float(config.time_budget or 0) * 60
        self.pairs: list[PairResult] = []
        self.failed: dict[str, set[str]] = {"A": set(), "B": set()}
        self.decided: dict[str, Result] = {}
        self.looks = self.family = 0
        self.stopped = "time budget"
        self.allocation: dict[str, allocation_.Allocation] = {}
        self.plans: list[dict[str, Any]] = []  # each pair's rounds, wall and timed seconds
        self.forecasts: list[forecast_.Forecast] = []  # what the budget can see, said after the first look
        self.slowest: dict[str, float] = {}  # each benchmark's slowest round, either arm: what bounds a silent worker
        self.cores = usable_cores()
        self.pipeline = pipelines(config.pipeline or "off", self.cores)
        self.ahead: Launch | None = None  # the next pair's workers, started while this pair times (pipelined)
        self.draws = config.draws or 1  # preparations of each benchmark per pair (--draws)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def names(self) -> set[str]:
        return {n for p in self.pairs for n in p.times}

    def more(self) -> bool:
        """Whether another pair fits the budget and --pairs."""
        last = self.pairs[-1].wall if self.pairs else None
        return stats.more_pairs(len(self.pairs), self.elapsed(), self.budget, self.config.pairs, last)

    def ran_out(self) -> None:
        if self.config.pairs is not None and len(self.pairs) >= self.config.pairs:
            self.stopped = "--pairs reached"

    def commands(self, folder: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
        """Each arm's worker command line and environment for the pair in `folder` (which benchmarks it runs is
        said when it is let go: `run_pair`'s `only`)."""
        env = {REWARM_ENV: str(self.config.rewarm)}
        return {
            arm: (
                worker_command(facts["python"], self.pytest_args, folder / f"{arm}.xml", facts.get("launch", LAUNCH)),
                {**facts["env"], **facts.get("worker_env", {}), **env},
            )
            for arm, facts in self.arms.items()
        }

    def cwds(self) -> dict[str, Path | None]:
        return {arm: facts.get("cwd") for arm, facts in self.arms.items()}

    def folder(self, number: int) -> Path:
        folder = self.out / f"pair-{number:02d}"
        folder.mkdir()
        return folder

    def launch_next(self) -> None:
        """Start the next pair's workers now (called once this pair's are let go): they import and collect while
        this pair times, and wait at START for their turn. Not where --pairs says this pair is the last."""
        if self.config.pairs is not None and len(self.pairs) + 1 >= self.config.pairs:
            return
        folder = self.folder(len(self.pairs) + 2)
        self.ahead = launch(self.commands(folder), folder, self.cwds())

    def discard(self) -> None:
        """Stop the workers started ahead for a pair that gets no turn, and remove its folder (their logs of an
        import and a collection): no pair folder is left that a reader could take for a pair not run."""
        if self.ahead is not None:
            self.ahead.stop()
            shutil.rmtree(self.ahead.folder, ignore_errors=True)
            self.ahead = None

    def step(self) -> bool:
        """Run the next pair of workers and keep it; False when the A/B ends here with the pairs it has (a worker
        went silent or crashed after the first pair). A first pair that cannot be judged is BadRun."""
        number = len(self.pairs) + 1
        ahead, self.ahead = self.ahead, None
        folder = ahead.folder if ahead is not None else self.folder(number)
        left = f", {nouns(len(self.names()) - len(self.decided), 'undecided benchmark')}" if self.decided else ""
        echo(f"mlxbench ab: pair of workers {number} (A and B alternating rounds{left})", flush=True)
        rounds = {n: a.rounds for n, a in self.allocation.items()}
        schedule = Schedule(pair=len(self.pairs), rounds=rounds, draws=self.draws)
        only = self.names() - set(self.decided) if self.decided else None
        after = self.launch_next if self.pipeline else None
        try:
            timeout = self.config.worker_timeout
            pair = ahead if ahead is not None else self.commands(folder)
            result = run_pair(pair, folder, self.started, schedule, timeout, self.slowest, self.cwds(), only, after)
        except SilentWorker as exc:  # both workers stopped; the A/B ends with its complete pairs
            if not self.pairs:
                raise BadRun(
                    f"{exc}: stopped it before any pair was complete, so nothing was judged (a verdict needs "
                    f"{MIN_PAIRS} complete pairs); see {folder}"
                ) from None
            return self.end(f"{exc}: stopped it", f" (logs: {folder})")
        for name, by_arm in result.spans.items():
            self.slowest[name] = max([self.slowest.get(name, 0.0), *(s for t in by_arm.values() for s in t)])
        allocation = {n: a.as_dict() for n, a in self.allocation.items()}
        saving.atomic_write(folder / pairfile.FILE, result.dumps(allocation=allocation))  # whole, never overwritten
        try:
            check_workers(result, folder)
        except BadRun as exc:  # a worker crashed: the first pair's crash is bad input; a later one ends the run
            if not self.pairs:
                raise
            return self.end(str(exc), "")
        self.keep(result, folder)
        return True

    def end(self, why: str, where: str) -> bool:
        self.stopped = why
        echo(f"mlxbench ab: {why}; {judged(len(self.pairs))}{where}", flush=True)
        return False

    def keep(self, result: PairResult, folder: Path) -> None:
        """A complete pair joins the evidence; a revision A/B's first pair refuses a revision broken at run time."""
        self.pairs.append(result)
        rounds = {n: a.rounds for n, a in self.allocation.items()}
        self.plans.append(
            {"pair": len(self.pairs), "wall": round(result.wall, 3), "timed": round(result.timed, 3), "rounds": rounds}
        )
        failures = {arm: failures_in(folder / f"{arm}.xml") for arm in ("A", "B")}
        if len(self.pairs) == 1:
            revisions.refuse_half(failures, self.arms, folder, "worker")
        for arm, found in failures.items():
            self.failed[arm] |= set(found)
        share = result.timed / result.wall if result.wall else 0.0
        count = nouns(len(result.times), "benchmark")
        echo(f"  {result.wall:.1f} s, {count}, timed rounds {share:.0%} of it", flush=True)
        self.family = max(self.family, len(self.names()))

    def look(self) -> bool:
        """The interim look due after this many pairs, if one is: what it decides leaves the later pairs; after the
        first, what the budget can see is said. True when every benchmark is decided."""
        look = stats.look_number(len(self.pairs)) if self.config.pairs is None else None
        if look is None:
            return False
        self.looks = look
        level = stats.interim_alpha(self.config.alpha, look)
        thresholds = thresholds_for(self.config.threshold, self.pairs)
        undecided = self.names() - set(self.decided)
        interim, found = judge_pairs(self.pairs, thresholds, level, undecided, self.family)
        now = [r for r in interim if r.verdict != "inconclusive"]
        for r in now:
            r.reasons.append(
                f"decided at the interim look after {len(self.pairs)} pairs (level {level:.3g}); "
                "it left the later pairs"
            )
            self.decided[r.name] = r
        if now:
            leave = "it leaves" if len(now) == 1 else "they leave"
            echo(
                f"  interim look: {len(now)} decided ({len(self.decided)} of {self.family} so far), {leave}", flush=True
            )
        if len(self.decided) >= self.family:
            self.stopped = "every benchmark decided at an interim look"
            return True
        if look == 1:
            pair_s = sum(p.wall for p in self.pairs) / len(self.pairs)
            left_s = self.budget - self.elapsed()
            alpha, decided = self.config.alpha, set(self.decided)
            self.forecasts = forecast_.plan(
                found, decided, thresholds, alpha, self.family, len(self.pairs), pair_s, left_s
            )
            for line in forecast_.lines(self.forecasts, len(self.pairs), pair_s, self.config.time_budget):
                echo(line, flush=True)
        return False

    def allocate(self) -> None:
        """The next pair's rounds per arm from the cost model, once the pilot pairs are in."""
        if len(self.pairs) < PILOT_PAIRS:
            return
        round_costs, fixed_costs, untimed = costs(self.pairs)
        facts = {n: f for p in self.pairs for n, f in p.facts.items()}
        planned = {n: int(f.get("planned") or 1) for n, f in facts.items() if n not in self.decided}
        cumulative = {n for n, f in facts.items() if f.get("cumulative")}
        left = self.budget - self.elapsed()
        by_bench = pairfile.timings(self.pairs)
        self.allocation = allocation_.allocate(
            by_bench, round_costs, fixed_costs, planned, cumulative, left, untimed, self.draws
        )
        said = describe(self.allocation, self.draws)
        echo(f"  next pair: {said} (cost model; verdicts.json says why)", flush=True)

    def document(self) -> tuple[list[Result], dict[str, Any]]:
        """The final look over what is still undecided, said, with the facts verdicts.json records."""
        if not any(p.times for p in self.pairs):
            raise BadRun(
                f"the workers collected no benchmark with these pytest arguments ({' '.join(self.pytest_args)}); "
                f"see {self.out}/pair-01/A.log"
            )
        thresholds = thresholds_for(self.config.threshold, self.pairs)
        level = stats.final_alpha(self.config.alpha, self.looks > 0)
        self.family = max(self.family, len(self.names()))
        final, found = judge_pairs(self.pairs, thresholds, level, self.names() - set(self.decided), self.family)
        results = sorted([*self.decided.values(), *final], key=lambda r: r.name)
        by_bench = found.timings  # every benchmark's pairs, the decided ones' too (judge_pairs reads them all)
        process_view = evidence.judge(stats.process_estimates(by_bench), thresholds, level)
        wall, timed = self.elapsed(), sum(p.timed for p in self.pairs)
        self.say(results, found, process_view, level, wall, timed)
        return results, {
            "pairs": len(self.pairs),
            "pairs_asked": self.config.pairs or MIN_PAIRS,
            "pairs_option": self.config.pairs,
            "time_budget_min": self.config.time_budget,
            "stopped": self.stopped,
            "final_alpha": level,
            "interim_looks": self.looks,
            "decided_early": sorted(self.decided),
            "pipeline": {"setting": self.config.pipeline, "on": self.pipeline, "cores": self.cores},
            "draws": self.draws,
            "timed_seconds": round(timed, 3),
            "timed_share": round(timed / wall, 4) if wall else math.nan,
            "allocation": self.plans,
            "allocation_why": {n: a.as_dict() for n, a in self.allocation.items()},
            "forecast": [f.as_dict() for f in self.forecasts],
            "prior": found.prior.as_dict(),
            "levels": {n: lv.as_dict(by_bench[n].units) for n, lv in found.levels.items()},
            "unstable": [u.__dict__ for u in found.unstable],
            "spreads": stats.spreads(by_bench),
            "process_design": [r.as_dict() for r in process_view],
            "only_in_a": sorted({n for p in self.pairs for n, t in p.times.items() if t["A"] and not t["B"]}),
            "only_in_b": sorted({n for p in self.pairs for n, t in p.times.items() if t["B"] and not t["A"]}),
            "failed_only_in_b": sorted(self.failed["B"] - self.failed["A"]),
            "failed_in_both": sorted(self.failed["A"] & self.failed["B"]),
        }

    def say(
        self,
        results: Sequence[Result],
        found: stats.Findings,
        process_view: Sequence[Result],
        level: float,
        wall: float,
        timed: float,
    ) -> None:
        """How the A/B ended, what its time went to, the last allocation and what it could see."""
        early = f", {nouns(len(self.decided), 'benchmark')} decided earlier" if self.decided else ""
        outliers = found.prior.outliers
        fewer = f" (fewer for {outliers} whose spread is an outlier)" if outliers else ""
        stopped = f"stopped after {len(self.pairs)} pairs ({self.stopped})"
        echo(f"mlxbench ab: {stopped}; final look at alpha {level:.3g}{early}")
        echo(
            f"mlxbench ab: timed rounds {timed:.0f} s of {wall:.0f} s ({timed / wall:.0%}); spread prior shared by "
            f"{nouns(found.prior.benchmarks, 'benchmark')}: {found.prior.df:.1f} degrees of freedom{fewer}"
        )
        for u in found.unstable:
            echo(f"mlxbench ab: {u.line()}")
        if self.allocation:
            of = per_arm(self.draws)
            echo(f"mlxbench ab: the last allocation, {of} (why: verdicts.json allocation_why):")
            width = max(len(n.rsplit("::", 1)[-1]) for n in self.allocation)
            for name, a in sorted(self.allocation.items()):
                noise = a.round_noise == a.round_noise
                parts = f"round noise {a.round_noise:.1%}, lasting state {a.lasting_state:.1%}" if noise else a.why
                echo(f"  {a.rounds:>4}  {name.rsplit('::', 1)[-1]:<{width}}  {parts}")
        mdes = sorted(r.mde for r in results if r.mde == r.mde)
        if mdes:
            proc = sorted(r.mde for r in process_view)
            echo(
                f"mlxbench ab: smallest change each benchmark can see: median {change(mdes[len(mdes) // 2], 1)}, "
                f"largest {change(mdes[-1], 1)}, at most 10% on {sum(m <= 0.10 for m in mdes)} of {len(mdes)}; "
                f"judged as separate processes on the same workers: median {change(proc[len(proc) // 2], 1)}"
            )
