"""Running the time-paired design: pairs of live workers (mlxbench.ab.coordinator) while the budget holds.

At pair counts growing geometrically from MIN_PAIRS (3, 5, 8, 12, ...: mlxbench.verdicts.paired.look_number),
an interim look judges the benchmarks still undecided; those it decides keep their verdict and leave: later
pairs run only the rest (the workers deselect the others). Before each pair, the rounds per arm of every
benchmark come from the cost model (`allocate`: its variance parts and its costs, measured on the pairs so
far); the first two pairs use the profile's rounds. `verdicts.json` records each pair's allocation and why, the timed
share of the run's wall time, the shared spread prior, and every worker named unstable.

A worker that hangs or dies ends the A/B with its complete pairs, judged; how long a worker may say nothing
is the coordinator's (mlxbench.ab.coordinator.silence_limit: inside a timed round, what the slowest round of
its benchmark seen so far, either arm, explains). `pairs_asked` in verdicts.json is `--pairs`, else
MIN_PAIRS (the fewest a paired A/B runs whatever its budget): an A/B that ends with fewer complete pairs is
incomplete (mlxbench.ab.command exits INCOMPLETE); one stopped by its time budget never is.
"""

from __future__ import annotations

import json
import math
import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlxbench.ab import revisions
from mlxbench.ab.coordinator import PairResult, Schedule, SilentWorker, run_pair
from mlxbench.measure.baton import ONLY_ENV, REWARM_ENV
from mlxbench.reports.plural import nouns
from mlxbench.runs import BadRun
from mlxbench.session.saving import atomic_write
from mlxbench.units import echo
from mlxbench.verdicts import allocation as allocation_
from mlxbench.verdicts import evidence, levels
from mlxbench.verdicts import forecast as forecast_
from mlxbench.verdicts import paired as stats
from mlxbench.verdicts.paired import MIN_PAIRS
from mlxbench.verdicts.verdict import DEFAULT_THRESHOLD, Result
from mlxbench.verdicts.words import change

PILOT_PAIRS = 2  # pairs run with the profile's rounds before the cost model allocates
LAUNCH = ("-m", "pytest")  # how a worker starts pytest, unless its arm runs a revision (mlxbench.ab.revisions)


def by_benchmark(results: Sequence[PairResult]) -> dict[str, list[dict[str, Any]]]:
    """nodeid -> one {"A": times, "B": times, "pair": its 1-based number} per pair of workers that ran it."""
    out: dict[str, list[dict[str, Any]]] = {}
    for number, pair in enumerate(results, 1):
        for nodeid, times in pair.times.items():
            out.setdefault(nodeid, []).append(
                {"A": list(times.get("A", [])), "B": list(times.get("B", [])), "pair": number}
            )
    return out


def thresholds_for(threshold: float | None, results: Sequence[PairResult]) -> dict[str, float]:
    """Each benchmark's threshold: --threshold if given, else its workload's (as the workers said), else 10%."""
    names = {n for p in results for n in p.times}
    if threshold is not None:
        return {n: threshold for n in names}
    out = {n: DEFAULT_THRESHOLD for n in names}
    for pair in results:
        for name, facts in pair.facts.items():
            if name in out and isinstance(facts.get("threshold"), (int, float)):
                out[name] = float(facts["threshold"])
    return out


def judge_pairs(
    results: Sequence[PairResult],
    thresholds: Mapping[str, float],
    level: float,
    names: set[str] | None = None,
    family: int | None = None,
) -> tuple[list[Result], stats.Evidence]:
    """The verdicts of `names` (default: all) from the pairs, spreads moderated across every benchmark. A
    benchmark whose rounds come in levels is two tests (at like levels, and its level mix: mlxbench.verdicts.levels),
    both counted in the family."""
    by_bench = by_benchmark(results)
    found = stats.estimate_all(by_bench)
    chosen = {n: e for n, e in found.estimates.items() if names is None or n in names}
    tests = max(family or 0, len(chosen)) + len(found.levels)
    results_ = evidence.judge(chosen, thresholds, level, family=tests)
    mixes = {n: e for n, e in found.mixes.items() if n in chosen}
    mix_results = {r.name: r for r in evidence.judge(mixes, thresholds, level, family=tests)}
    for i, r in enumerate(results_):
        r.reasons += [u.line() for u in found.unstable if u.benchmark == r.name]
        if r.name in mix_results:
            results_[i] = levels.combine(r, mix_results[r.name])
            results_[i].reasons.insert(0, found.levels[r.name].line(by_bench[r.name]))
    return results_, found


def costs(results: Sequence[PairResult]) -> tuple[dict[str, float], dict[str, float], float]:
    """(seconds of one round of both arms, per benchmark; a pair's untimed seconds, each benchmark's share;
    the last pair's untimed seconds in all)."""
    spans: dict[str, dict[str, list[float]]] = {}
    for pair in results:
        for name, arms in pair.spans.items():
            for arm, s in arms.items():
                spans.setdefault(name, {"A": [], "B": []})[arm].extend(s)
    round_costs = {n: float(np.mean(a["A"]) + np.mean(a["B"])) for n, a in spans.items() if a["A"] and a["B"]}
    last = results[-1]
    untimed = max(last.wall - sum(s for arms in last.spans.values() for t in arms.values() for s in t), 0.0)
    share = untimed / max(len(last.spans), 1)
    return round_costs, {n: share for n in round_costs}, untimed


def worker_command(python: str, pytest_args: list[str], junit: Path, launch: Sequence[str] = LAUNCH) -> list[str]:
    """A worker's command line; `launch` starts pytest (mlxbench.ab.revisions.launcher for a revision's arm)."""
    return [
        python,
        *launch,
        "-q",
        "-p",
        "no:cacheprovider",
        f"--junitxml={junit}",
        "-W",
        "ignore::pytest_benchmark.logger.PytestBenchmarkWarning",
        *pytest_args,
    ]


def describe(allocation: Mapping[str, allocation_.Allocation]) -> str:
    rounds = sorted(a.rounds for a in allocation.values())
    if not rounds:
        return "nothing to allocate"
    over = nouns(len(rounds), "benchmark")
    return f"rounds per arm {rounds[0]}-{rounds[-1]} (median {rounds[len(rounds) // 2]}) over {over}"


def run(args, arms, pytest_args, out, started) -> tuple[list[Result], dict]:
    """The paired design: pairs of live workers, as many as the time budget holds, undecided benchmarks only."""
    budget = args.time_budget * 60
    pairs: list[PairResult] = []
    failed: dict[str, set[str]] = {"A": set(), "B": set()}
    decided: dict[str, Result] = {}
    looks, family = 0, 0
    stopped = "time budget"
    allocation: dict[str, allocation_.Allocation] = {}
    plans: list[dict[str, Any]] = []
    forecasts: list[forecast_.Forecast] = []  # what the budget can see, said after the first look
    slowest: dict[str, float] = {}  # each benchmark's slowest round so far, either arm: what bounds a silent worker
    while stats.more_pairs(
        len(pairs), time.perf_counter() - started, budget, args.pairs, pairs[-1].wall if pairs else None
    ):
        number = len(pairs) + 1
        folder = out / f"pair-{number:02d}"
        folder.mkdir()
        env: dict[str, str] = {REWARM_ENV: str(args.rewarm)}
        names = sorted({n for p in pairs for n in p.times})
        if decided:
            only = folder / "undecided.txt"
            only.write_text("".join(f"{n}\n" for n in names if n not in decided))
            env[ONLY_ENV] = str(only)
        left = "" if not decided else f", {nouns(len(names) - len(decided), 'undecided benchmark')}"
        echo(f"mlxbench ab: pair of workers {number} (A and B alternating rounds{left})", flush=True)
        commands = {
            arm: (
                worker_command(
                    arms[arm]["python"], pytest_args, folder / f"{arm}.xml", arms[arm].get("launch", LAUNCH)
                ),
                {**arms[arm]["env"], **arms[arm].get("worker_env", {}), **env},
            )
            for arm in ("A", "B")
        }
        cwds = {arm: arms[arm].get("cwd") for arm in ("A", "B")}
        schedule = Schedule(pair=len(pairs), rounds={n: a.rounds for n, a in allocation.items()})
        try:
            result = run_pair(commands, folder, started, schedule, args.worker_timeout, slowest, cwds)
        except SilentWorker as exc:  # both workers stopped; the A/B ends with its complete pairs
            if not pairs:
                raise BadRun(
                    f"{exc}: stopped it before any pair was complete, so nothing was judged (a verdict needs "
                    f"{MIN_PAIRS} complete pairs); see {folder}"
                ) from None
            stopped = f"{exc}: stopped it"
            echo(f"mlxbench ab: {stopped}; {judged(len(pairs))} (logs: {folder})", flush=True)
            break
        for name, by_arm in result.spans.items():
            slowest[name] = max([slowest.get(name, 0.0), *(s for spans in by_arm.values() for s in spans)])
        record = result.as_dict()
        record["allocation"] = {n: a.as_dict() for n, a in allocation.items()}
        atomic_write(folder / "pair.json", json.dumps(record).encode())
        try:
            check_workers(result, folder)
        except BadRun as exc:  # a worker crashed: the first pair's crash is bad input; a later one ends the run
            if not pairs:
                raise
            stopped = str(exc)
            echo(f"mlxbench ab: {stopped}; {judged(len(pairs))}", flush=True)
            break
        pairs.append(result)
        plans.append(
            {
                "pair": number,
                "wall": round(result.wall, 3),
                "timed": round(result.timed, 3),
                "rounds": {n: a.rounds for n, a in allocation.items()},
            }
        )
        failures = {arm: failures_in(folder / f"{arm}.xml") for arm in ("A", "B")}
        if number == 1 and any("revision" in arms[arm] for arm in failures):
            revisions.refuse_half(failures, {arm: arms[arm].get("revision") for arm in failures}, folder)
        for arm, found in failures.items():
            failed[arm] |= set(found)
        share = result.timed / result.wall if result.wall else 0.0
        echo(
            f"  {result.wall:.1f} s, {nouns(len(result.times), 'benchmark')}, timed rounds {share:.0%} of it",
            flush=True,
        )
        family = max(family, len({n for p in pairs for n in p.times}))
        thresholds = thresholds_for(args.threshold, pairs)
        if args.pairs is None and (look := stats.look_number(len(pairs))) is not None:
            looks = look
            level = stats.interim_alpha(args.alpha, look)
            undecided = {n for p in pairs for n in p.times} - set(decided)
            interim, found = judge_pairs(pairs, thresholds, level, undecided, family)
            for r in interim:
                if r.verdict != "inconclusive":
                    r.reasons.append(
                        f"decided at the interim look after {len(pairs)} pairs (level {level:.3g}); "
                        "it left the later pairs"
                    )
                    decided[r.name] = r
            now = [r.name for r in interim if r.name in decided]
            if now:
                echo(
                    f"  interim look: {len(now)} decided ({len(decided)} of {family} so far), "
                    + ("it leaves" if len(now) == 1 else "they leave"),
                    flush=True,
                )
            if len(decided) >= family:
                stopped = "every benchmark decided at an interim look"
                break
            if look == 1:
                left_s = budget - (time.perf_counter() - started)
                pair_s = sum(p.wall for p in pairs) / len(pairs)
                forecasts = forecast_.plan(
                    found, set(decided), thresholds, args.alpha, family, len(pairs), pair_s, left_s
                )
                for line in forecast_.lines(forecasts, len(pairs), pair_s, args.time_budget):
                    echo(line, flush=True)
        if len(pairs) >= PILOT_PAIRS:
            round_costs, fixed_costs, untimed = costs(pairs)
            facts = {n: f for p in pairs for n, f in p.facts.items()}
            planned = {n: int(f.get("planned") or 1) for n, f in facts.items() if n not in decided}
            cumulative = {n for n, f in facts.items() if f.get("cumulative")}
            allocation = allocation_.allocate(
                by_benchmark(pairs),
                round_costs,
                fixed_costs,
                planned,
                cumulative,
                budget - (time.perf_counter() - started),
                untimed,
            )
            echo(f"  next pair: {describe(allocation)} (cost model; verdicts.json says why)", flush=True)
    else:
        stopped = "--pairs reached" if args.pairs is not None and len(pairs) >= args.pairs else stopped
    if not any(p.times for p in pairs):
        raise BadRun(
            f"the workers collected no benchmark with these pytest arguments ({' '.join(pytest_args)}); "
            f"see {out}/pair-01/A.log"
        )
    thresholds = thresholds_for(args.threshold, pairs)
    level = stats.final_alpha(args.alpha, looks > 0)
    names = {n for p in pairs for n in p.times}
    family = max(family, len(names))
    final, found = judge_pairs(pairs, thresholds, level, names - set(decided), family)
    results = sorted([*decided.values(), *final], key=lambda r: r.name)
    by_bench = by_benchmark(pairs)
    process_view = evidence.judge(stats.process_estimates(by_bench), thresholds, level)
    only_a = sorted({n for p in pairs for n, t in p.times.items() if t["A"] and not t["B"]})
    only_b = sorted({n for p in pairs for n, t in p.times.items() if t["B"] and not t["A"]})
    wall = time.perf_counter() - started
    timed = sum(p.timed for p in pairs)
    echo(
        f"mlxbench ab: stopped after {len(pairs)} pairs ({stopped}); final look at alpha {level:.3g}"
        + (f", {nouns(len(decided), 'benchmark')} decided earlier" if decided else "")
    )
    echo(
        f"mlxbench ab: timed rounds {timed:.0f} s of {wall:.0f} s ({timed / wall:.0%}); spread prior shared by "
        f"{nouns(found.prior.benchmarks, 'benchmark')}: {found.prior.df:.1f} degrees of freedom"
    )
    for u in found.unstable:
        echo(f"mlxbench ab: {u.line()}")
    if allocation:
        echo("mlxbench ab: the last allocation, rounds per arm (why: verdicts.json allocation_why):")
        width = max(len(n.rsplit("::", 1)[-1]) for n in allocation)
        for name, a in sorted(allocation.items()):
            parts = (
                f"round noise {a.round_noise:.1%}, lasting state {a.lasting_state:.1%}"
                if a.round_noise == a.round_noise
                else a.why
            )
            echo(f"  {a.rounds:>4}  {name.rsplit('::', 1)[-1]:<{width}}  {parts}")
    mdes = sorted(r.mde for r in results if r.mde == r.mde)
    if mdes:
        proc = sorted(r.mde for r in process_view)
        echo(
            f"mlxbench ab: smallest change each benchmark can see: median {change(mdes[len(mdes) // 2], 1)}, "
            f"largest {change(mdes[-1], 1)}, at most 10% on {sum(m <= 0.10 for m in mdes)} of {len(mdes)}; "
            f"judged as separate processes on the same workers: median {change(proc[len(proc) // 2], 1)}"
        )
    return results, {
        "pairs": len(pairs),
        "pairs_asked": args.pairs or MIN_PAIRS,
        "pairs_option": args.pairs,
        "time_budget_min": args.time_budget,
        "stopped": stopped,
        "final_alpha": level,
        "interim_looks": looks,
        "decided_early": sorted(decided),
        "timed_seconds": round(timed, 3),
        "timed_share": round(timed / wall, 4) if wall else math.nan,
        "allocation": plans,
        "allocation_why": {n: a.as_dict() for n, a in allocation.items()},
        "forecast": [f.as_dict() for f in forecasts],
        "prior": found.prior.as_dict(),
        "levels": {n: lv.as_dict(by_bench[n]) for n, lv in found.levels.items()},
        "unstable": [u.__dict__ for u in found.unstable],
        "spreads": stats.spreads(by_bench),
        "process_design": [r.as_dict() for r in process_view],
        "only_in_a": only_a,
        "only_in_b": only_b,
        "failed_only_in_b": sorted(failed["B"] - failed["A"]),
        "failed_in_both": sorted(failed["A"] & failed["B"]),
    }


def judged(complete: int) -> str:
    """What the A/B judges once it ended early: `the 2 complete pairs are judged`."""
    return f"the {nouns(complete, 'complete pair')} {'is' if complete == 1 else 'are'} judged"


def check_workers(result: PairResult, folder: Path) -> None:
    """A worker that crashed, was killed or could not start is one line: which arm, its exit (or the signal that
    killed it), its log's last line."""
    for arm, code in result.exit_codes.items():
        if code in (0, 1):
            continue
        log = folder / f"{arm}.log"
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()] if log.exists() else []
        last = lines[-1][:300] if lines else "(no output)"
        if code < 0:  # Popen's way of saying a signal ended it: no pytest exit status at all
            said = f"its last output: {lines[-1][:300]}" if lines else "it printed nothing"
            why = f"arm {arm}'s worker was killed by {signal_name(-code)} ({said})"
            raise BadRun(f"{why}; full log: {log}")
        if code == 5:
            raise BadRun(f"arm {arm}'s worker collected no benchmark (pytest exit 5); see {log}")
        raise BadRun(f"arm {arm}'s worker failed (pytest exit {code}): {last}; full log: {log}")


def signal_name(number: int) -> str:
    """`SIGKILL` for 9 (`signal 77` for a number this platform does not name)."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def failures_in(path: Path) -> dict[str, str]:
    """The tests a worker's JUnit file says failed or errored, each with its message's first line."""
    from xml.etree import ElementTree

    if not path.exists():
        return {}
    found = {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        bad = case.find("failure")
        bad = case.find("error") if bad is None else bad
        if bad is not None:
            message = (bad.get("message") or bad.text or "").strip().splitlines()
            found[case.get("name", "?")] = message[0] if message else "(no message)"
    return found
