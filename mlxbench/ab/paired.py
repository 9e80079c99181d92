"""The pieces of the time-paired design that mlxbench.ab.engine's loop puts together, and that `ab merge`, the
replay tool and the tests use alone: a worker's command line, a pair's benchmarks and thresholds, the judging
of pairs (spreads moderated across benchmarks, levels as two tests), the costs the allocation reads, and a
crashed worker or a failed test read from its files.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mlxbench.ab.coordinator import PairResult
from mlxbench.measure.pairfile import timings
from mlxbench.reports.plural import nouns
from mlxbench.runs import BadRun
from mlxbench.verdicts import allocation as allocation_
from mlxbench.verdicts import evidence, levels
from mlxbench.verdicts import paired as stats
from mlxbench.verdicts.verdict import DEFAULT_THRESHOLD, Result

LAUNCH = ("-m", "pytest")  # how a worker starts pytest, unless its arm runs a revision (mlxbench.ab.revisions)


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
) -> tuple[list[Result], stats.Findings]:
    """The verdicts of `names` (default: all) from the pairs, spreads moderated across every benchmark. A
    benchmark whose rounds come in levels is two tests (at like levels, and its level mix: mlxbench.verdicts.levels),
    both counted in the family."""
    found = stats.estimate_all(timings(results))
    chosen = {n: e for n, e in found.estimates.items() if names is None or n in names}
    tests = max(family or 0, len(chosen)) + len(found.levels)
    results_ = evidence.judge(chosen, thresholds, level, family=tests)
    mixes = {n: e for n, e in found.mixes.items() if n in chosen}
    mix_results = {r.name: r for r in evidence.judge(mixes, thresholds, level, family=tests)}
    for i, r in enumerate(results_):
        r.reasons += [u.line() for u in found.unstable if u.benchmark == r.name]
        if r.name in mix_results:
            results_[i] = levels.combine(r, mix_results[r.name])
            results_[i].reasons.insert(0, found.levels[r.name].line(found.timings[r.name].units))
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


def per_arm(draws: int) -> str:
    """What an allocation's round count is of: per arm, or per arm and preparation (--draws)."""
    return "rounds per arm" if draws <= 1 else f"rounds per arm and preparation ({draws} a pair)"


def describe(allocation: Mapping[str, allocation_.Allocation], draws: int = 1) -> str:
    rounds = sorted(a.rounds for a in allocation.values())
    if not rounds:
        return "nothing to allocate"
    over = nouns(len(rounds), "benchmark")
    return f"{per_arm(draws)} {rounds[0]}-{rounds[-1]} (median {rounds[len(rounds) // 2]}) over {over}"


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
