"""Verdicts from time-paired rounds (mlxbench.measure.baton), and how many worker pairs a run spends.

Within one pair of workers, round i of A and round i of B ran next to each other in time, so their
log ratio is free of the machine's drift; it still carries the two processes' own states (memory
layout, core placement), which every round of that pair shares. So the unit of evidence is the pair
of workers: its mean log ratio over its rounds is one sample, and a benchmark's estimate is the mean
over P pairs with a t interval on P - 1 degrees of freedom (mlxbench.verdicts.evidence.judge turns it into a
verdict, like every other path).

How many pairs: as many as the time budget holds (the time per pair is measured as the run goes),
at least MIN_PAIRS. The run may stop earlier when every benchmark is decided: after each pair from
MIN_PAIRS on, an interim look judges at level alpha * INTERIM_SHARE / MAX_LOOKS; the final look at
alpha * (1 - INTERIM_SHARE). By the union bound over at most MAX_LOOKS + 1 looks, unchanged code
reports a change in at most alpha of runs, however the run stops (a group-sequential design with
Bonferroni-split alpha: simple to state and exactly conservative; a stop decided by the time budget
alone does not look at the data at all).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mlxbench.measure import baton
from mlxbench.measure.baton import PairResult
from mlxbench.runs import BadRun
from mlxbench.units import echo
from mlxbench.verdicts import evidence
from mlxbench.verdicts.evidence import Estimate, welch_estimate
from mlxbench.verdicts.verdict import Result

MIN_PAIRS = 3  # the fewest pairs a t interval over pairs can use (2 degrees of freedom)
INTERIM_SHARE = 0.1  # of alpha, spent on the interim looks together
MAX_LOOKS = 10  # interim looks at most (one after each pair from MIN_PAIRS on)


def pair_log_ratios(times: Mapping[str, Sequence[float]]) -> np.ndarray:
    """log(B_i / A_i) of the rounds of one pair of workers, matched by round (adjacent in time)."""
    a = np.asarray([t for t in times.get("A", []) if t > 0 and math.isfinite(t)], dtype=float)
    b = np.asarray([t for t in times.get("B", []) if t > 0 and math.isfinite(t)], dtype=float)
    n = min(a.size, b.size)
    return np.log(b[:n] / a[:n])


def paired_estimate(pairs: Sequence[Mapping[str, Sequence[float]]]) -> Estimate | str:
    """The estimate of log(B / A) over pairs of workers (each: {"A": times, "B": times}), or why none."""
    means = [r.mean() for r in (pair_log_ratios(p) for p in pairs) if r.size]
    if len(means) < MIN_PAIRS:
        return f"need >= {MIN_PAIRS} pairs of workers that both ran it ({len(means)} did)"
    d = np.asarray(means)
    spread = float(d.std(ddof=1))
    a = [t for p in pairs for t in p.get("A", [])]
    b = [t for p in pairs for t in p.get("B", [])]
    return Estimate(
        float(d.mean()), spread / math.sqrt(d.size), float(d.size - 1), float(np.median(a)), float(np.median(b)),
        (d.size, d.size), spread, "pairs of workers alternating rounds, t on mean log ratios",
    )  # fmt: skip


def by_benchmark(results: Sequence[PairResult]) -> dict[str, list[dict[str, list[float]]]]:
    """nodeid -> one {"A": times, "B": times} per pair of workers that ran it."""
    out: dict[str, list[dict[str, list[float]]]] = {}
    for pair in results:
        for nodeid, times in pair.times.items():
            out.setdefault(nodeid, []).append(times)
    return out


def estimates(results: Sequence[PairResult]) -> dict[str, Estimate | str]:
    return {name: paired_estimate(pairs) for name, pairs in sorted(by_benchmark(results).items())}


def process_estimates(results: Sequence[PairResult]) -> dict[str, Estimate | str]:
    """The same workers judged as the process design judges: each worker's median is one sample,
    A's against B's (Welch): what pairing buys, measured on the very same processes."""
    out: dict[str, Estimate | str] = {}
    for name, pairs in sorted(by_benchmark(results).items()):
        a = [float(np.median(p["A"])) for p in pairs if p.get("A")]
        b = [float(np.median(p["B"])) for p in pairs if p.get("B")]
        out[name] = welch_estimate(a, b)
    return out


def spreads(results: Sequence[PairResult]) -> dict[str, dict[str, float]]:
    """Per benchmark: the sd of a worker's log median (process spread), of a pair's mean log ratio
    (pair spread), and of one round's log ratio inside a pair (round spread)."""
    out = {}
    for name, pairs in by_benchmark(results).items():
        medians = [math.log(np.median(p[arm])) for p in pairs for arm in ("A", "B") if p.get(arm)]
        ratios = [pair_log_ratios(p) for p in pairs]
        means = [r.mean() for r in ratios if r.size]
        within = [float(r.std(ddof=1)) for r in ratios if r.size > 1]
        out[name] = {
            "process": float(np.std(medians, ddof=1)) if len(medians) > 1 else math.nan,
            "pair": float(np.std(means, ddof=1)) if len(means) > 1 else math.nan,
            "round": float(np.median(within)) if within else math.nan,
        }
    return out


def interim_alpha(alpha: float) -> float:
    return alpha * INTERIM_SHARE / MAX_LOOKS


def final_alpha(alpha: float, looked: bool) -> float:
    """The level of the last look: all of alpha when no interim look was taken."""
    return alpha * (1 - INTERIM_SHARE) if looked else alpha


def more_pairs(done: int, elapsed: float, budget: float, max_pairs: int | None) -> bool:
    """Whether another pair fits: at least MIN_PAIRS; then while the mean time per pair so far still
    fits in what is left of the budget, up to `max_pairs`."""
    if max_pairs is not None and done >= max_pairs:
        return False
    if done < MIN_PAIRS:
        return True
    return elapsed + elapsed / done <= budget


# Running the paired design: pairs of workers while the budget holds, then the verdicts.


def worker_command(python: str, pytest_args: list[str], junit: Path) -> list[str]:
    return [
        python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
        "-W", "ignore::pytest_benchmark.logger.PytestBenchmarkWarning", *pytest_args,
    ]  # fmt: skip


def run(args, arms, pytest_args, out, started) -> tuple[list[Result], dict]:
    """The paired design: pairs of live workers hand a baton every round (mlxbench.measure.baton), as many
    pairs as the time budget holds (mlxbench.ab.paired)."""
    budget = args.time_budget * 60
    pairs: list[baton.PairResult] = []
    failed = {"A": set(), "B": set()}
    looked = False
    stopped = "time budget"
    while more_pairs(len(pairs), time.perf_counter() - started, budget, args.pairs):
        folder = out / f"pair-{len(pairs) + 1:02d}"
        folder.mkdir()
        echo(f"mlxbench ab: pair of workers {len(pairs) + 1} (A and B alternating rounds)", flush=True)
        t0 = time.perf_counter()
        commands = {
            arm: (
                worker_command(arms[arm]["python"], pytest_args, folder / f"{arm}.xml"),
                {**arms[arm]["env"], baton.REWARM_ENV: str(args.rewarm)},
            )
            for arm in ("A", "B")
        }
        result = baton.run_pair(commands, folder, started)
        (folder / "pair.json").write_text(json.dumps(result.as_dict()))
        check_workers(result, folder)
        pairs.append(result)
        for arm in ("A", "B"):
            failed[arm] |= failed_tests_in(folder / f"{arm}.xml")
        echo(f"  {time.perf_counter() - t0:.1f} s, {len(result.times)} benchmarks", flush=True)
        if len(pairs) >= MIN_PAIRS and args.pairs is None and len(pairs) - MIN_PAIRS < MAX_LOOKS:
            looked = True
            interim = evidence.judge(estimates(pairs), thresholds_for(args, pairs), interim_alpha(args.alpha))
            if all(r.verdict != "inconclusive" for r in interim):
                stopped = "every benchmark decided at an interim look"
                break
    else:
        stopped = "--pairs reached" if args.pairs is not None and len(pairs) >= args.pairs else stopped
    if not any(p.times for p in pairs):
        raise BadRun(
            f"the workers collected no benchmark with these pytest arguments ({' '.join(pytest_args)}); "
            f"see {out}/pair-01/A.log"
        )
    thresholds = thresholds_for(args, pairs)
    level = final_alpha(args.alpha, looked)
    results = evidence.judge(estimates(pairs), thresholds, level)
    process_view = evidence.judge(process_estimates(pairs), thresholds, level)
    only_a = sorted({n for p in pairs for n, t in p.times.items() if t["A"] and not t["B"]})
    only_b = sorted({n for p in pairs for n, t in p.times.items() if t["B"] and not t["A"]})
    echo(f"mlxbench ab: stopped after {len(pairs)} pairs ({stopped}); final look at alpha {level:.3g}")
    mdes = sorted(r.mde for r in results if r.mde == r.mde)
    if mdes:
        echo(f"mlxbench ab: smallest change each benchmark can see: median {mdes[len(mdes) // 2]:.1%}, "
              f"largest {mdes[-1]:.1%}; judged as separate processes (the previous design) on the same workers: "
              f"median {sorted(r.mde for r in process_view)[len(process_view) // 2]:.1%}")  # fmt: skip
    return results, {
        "pairs": len(pairs),
        "time_budget_min": args.time_budget,
        "stopped": stopped,
        "final_alpha": level,
        "spreads": spreads(pairs),
        "process_design": [r.as_dict() for r in process_view],
        "only_in_a": only_a,
        "only_in_b": only_b,
        "failed_only_in_b": sorted(failed["B"] - failed["A"]),
        "failed_in_both": sorted(failed["A"] & failed["B"]),
    }


def thresholds_for(args, pairs) -> dict[str, float]:
    return {n: args.threshold for p in pairs for n in p.times} if args.threshold is not None else {}


def check_workers(result: baton.PairResult, folder: Path) -> None:
    """A worker that crashed or could not start is one line: which arm, its exit, its log's last line."""
    for arm, code in result.exit_codes.items():
        if code in (0, 1):
            continue
        log = folder / f"{arm}.log"
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()] if log.exists() else []
        if code == 5:
            raise BadRun(f"arm {arm}'s worker collected no benchmark (pytest exit 5); see {log}")
        last = lines[-1][:300] if lines else "(no output)"
        raise BadRun(f"arm {arm}'s worker failed (pytest exit {code}): {last}; full log: {log}")


def failed_tests_in(path: Path) -> set[str]:
    from xml.etree import ElementTree

    if not path.exists():
        return set()
    cases = ElementTree.parse(path).getroot().iter("testcase")
    return {c.get("name", "?") for c in cases if c.find("failure") is not None or c.find("error") is not None}
