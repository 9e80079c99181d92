"""Calibrate `mlxbench ab` on this machine: false alarms, detection and the smallest change it sees.

    python -m mlxbench.tools.calibrate_ab --unchanged 10 --slowed 4 --slowdowns 0.05,0.10,0.25 --processes 4 \\
        --threads-check 2 --out calibration-ab -- benchmarks --profile ci --backend numpy,torch-cpu,mlx-cpu

One pool of fresh `pytest` processes is run, the conditions interleaved (so drifts of the machine
hit all of them alike): `--unchanged` processes of the code as it is, `--slowed` processes per
slowdown with every measured call made slower by that fraction (mlxbench.tools.slowdown, which scales
the synced duration), and optionally `--threads-check` processes with a different thread count
(MLXBENCH_THREADS) to show what the thread policy does to the process-to-process spread.

A/B comparisons are then formed from the pool, each exactly as `mlxbench ab` judges one
(mlxbench.verdicts.evidence.judge_ab, K processes per arm, Bonferroni across all benchmarks):
- unchanged vs unchanged (disjoint random halves, `--comparisons` of them): every `regressed` is a
  false alarm;
- unchanged vs slowed, per slowdown: the share of benchmarks called `regressed`, per workload, and
  on the benchmarks whose minimum detectable effect is at most 10%.
pytest-benchmark's `--benchmark-compare-fail=median:10%` rule is scored on single-process pairs
of the same pool. Writes calibration.json into --out; prints the tables.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from mlxbench.ab.processes import run_process
from mlxbench.runs import BadRun, load_run
from mlxbench.samples import parse
from mlxbench.timings import Timings
from mlxbench.verdicts import evidence
from mlxbench.verdicts.verdict import Result


def medians(path: Path) -> dict[str, tuple[float, str]]:
    run = load_run(path)
    return {
        n: (float(b["stats"]["median"]), (b.get("extra_info") or {}).get("workload", "?"))
        for n, b in run.benchmarks.items()
    }


def judge(a: list[dict], b: list[dict]) -> list[Result]:
    names = sorted(set.intersection(*(set(p) for p in a + b)))
    samples = {n: Timings.processes(n, [[p[n][0]] for p in a], [[p[n][0]] for p in b]) for n in names}
    return evidence.judge_ab(samples)


def spread(pool: list[dict], name: str) -> float:
    import numpy as np

    logs = np.log([p[name][0] for p in pool if name in p])
    return float(logs.std(ddof=1)) if logs.size > 1 else float("nan")


def main(argv: list[str] | None = None) -> int:
    try:
        return calibrate(argv)
    except BadRun as exc:  # a benchmark process that failed: one message, exit 2
        print(f"mlxbench.tools.calibrate_ab: {exc}", file=sys.stderr)
        return 2


def calibrate(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(prog="python -m mlxbench.tools.calibrate_ab", description=__doc__.split("\n\n")[0])
    p.add_argument("--unchanged", type=int, default=10)
    p.add_argument("--slowed", type=int, default=4, help="processes per slowdown")
    p.add_argument("--slowdowns", default="0.05,0.10,0.25")
    p.add_argument("--processes", type=int, default=4, help="K per arm in each formed comparison")
    p.add_argument("--comparisons", type=int, default=20, help="A/B comparisons to form per condition")
    p.add_argument("--threads-check", type=int, default=0, metavar="N", help="processes with MLXBENCH_THREADS=2")
    p.add_argument("--out", type=Path, default=Path("calibration-ab"))
    p.add_argument(
        "--analyze",
        action="store_true",
        help="measure nothing: judge the pool already in --out again (for example with other --processes)",
    )
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    check(p, args)
    extra = [a for a in args.pytest_args if a != "--"] or ["benchmarks"]
    pools, facts = read_pool(args.out) if args.analyze else measure(args, extra)
    result = {"pytest_args": facts["pytest_args"], **analyze(pools, facts["walls"], args.processes, args.comparisons)}
    name = f"calibration-k{args.processes}.json" if args.analyze else "calibration.json"
    (args.out / name).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in HIDDEN}, indent=2))
    return 0


def check(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every count and fraction in its range before anything runs (p.error: exit 2 with the usage)."""
    try:
        slowdowns = [float(s) for s in args.slowdowns.split(",") if s.strip()]
    except ValueError:
        slowdowns = []
    if not slowdowns or not all(0 < s and math.isfinite(s) for s in slowdowns):
        p.error(f"--slowdowns {args.slowdowns!r}: give fractions above 0, comma-separated, e.g. 0.05,0.10,0.25")
    from mlxbench.paths import output_folder_problem

    if problem := output_folder_problem(args.out, "--out"):
        p.error(problem)
    if args.processes < 2:
        p.error(f"--processes {args.processes}: give 2 or more (a spread needs two processes per arm)")
    if args.comparisons < 1 or args.threads_check < 0:
        p.error(f"--comparisons {args.comparisons} --threads-check {args.threads_check}: give >= 1 and >= 0")
    if not args.analyze and (args.unchanged < 2 * args.processes or args.slowed < args.processes):
        p.error(
            f"--unchanged {args.unchanged} --slowed {args.slowed}: a comparison of --processes {args.processes} per "
            f"arm needs --unchanged >= {2 * args.processes} and --slowed >= {args.processes}"
        )


HIDDEN = ("mde", "spread_by_threads", "processes_for_10")
COUNTS = ("caught", "of", "caught_mde_le_10", "of_mde_le_10")
POOL_FACTS = "pool.json"


def measure(args: argparse.Namespace, extra: list[str]) -> tuple[dict[str, list[dict]], dict]:
    if args.out.exists() and any(args.out.iterdir()):
        raise BadRun(f"{args.out} is not empty; give a new --out folder (or --analyze to judge it again)")
    args.out.mkdir(parents=True, exist_ok=True)
    slowdowns = [float(s) for s in args.slowdowns.split(",") if s]
    conditions = [("unchanged", {})] * args.unchanged
    for s in slowdowns:
        conditions += [(f"slowed-{s:g}", {"MLXBENCH_SLOWDOWN": f"*={s}"})] * args.slowed
    conditions += [("threads-2", {"MLXBENCH_THREADS": "2"})] * args.threads_check
    random.Random(0).shuffle(conditions)  # interleaved: drifts hit every condition alike
    pools: dict[str, list[dict]] = defaultdict(list)
    walls = []
    for i, (name, env) in enumerate(conditions):
        out = args.out / f"{i:03d}-{name}.json"
        walls.append(run_process(sys.executable, env, ["-p", "mlxbench.tools.slowdown", *extra], out)[1])
        pools[name].append(medians(out))
        print(f"process {i + 1}/{len(conditions)} ({name}): {walls[-1]:.1f} s", flush=True)
    facts = {"pytest_args": extra, "walls": walls}  # what --analyze needs besides the process files
    (args.out / POOL_FACTS).write_text(json.dumps(facts))
    return pools, facts


def read_pool(folder: Path) -> tuple[dict[str, list[dict]], dict]:
    """The processes a measuring run left in `folder` (NNN-<condition>.json), in their order."""
    pools: dict[str, list[dict]] = defaultdict(list)
    for path in sorted(folder.glob("[0-9][0-9][0-9]-*.json")):
        pools[path.stem.partition("-")[2]].append(medians(path))
    if not pools.get("unchanged"):
        raise BadRun(f"{folder} holds no unchanged processes (NNN-unchanged.json) to judge")
    facts = folder / POOL_FACTS
    if not facts.exists():
        return pools, {"pytest_args": None, "walls": []}
    try:
        doc = parse(facts.read_bytes())
    except (OSError, ValueError) as exc:
        raise BadRun(f"{facts} cannot be read ({exc}); move it away to judge the pool without it") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("walls", []), list):
        raise BadRun(f"{facts} is not what a measuring run writes; move it away to judge the pool without it")
    return pools, {"pytest_args": doc.get("pytest_args"), "walls": doc.get("walls", [])}


def analyze(pools: dict[str, list[dict]], walls: list[float], k: int, comparisons: int) -> dict:
    rng = random.Random(1)
    unchanged = pools["unchanged"]
    if len(unchanged) < 2 * k:
        raise BadRun(f"{len(unchanged)} unchanged processes cannot form two disjoint arms of --processes {k}")
    names = sorted(set.intersection(*(set(p) for p in unchanged)))
    workload = {n: unchanged[0][n][1] for n in names}
    false, total, runs_with_alarm = 0, 0, 0
    mdes: dict[str, list[float]] = defaultdict(list)
    for _ in range(comparisons):
        picked = rng.sample(unchanged, 2 * k)
        res = judge(picked[:k], picked[k:])
        found = sum(r.regressed for r in res)
        false, total, runs_with_alarm = false + found, total + len(res), runs_with_alarm + (found > 0)
        for r in res:
            mdes[r.name].append(r.mde)
    mde = {n: statistics.median(v) for n, v in mdes.items()}  # over the unchanged comparisons
    slowdowns = sorted(float(c.partition("-")[2]) for c in pools if c.startswith("slowed-"))
    detection: dict[str, dict[str, dict[str, int]]] = {}
    slowed_k = {}
    for s in slowdowns:
        slowed = pools[f"slowed-{s:g}"]
        slowed_k[f"{s:.0%}"] = kb = min(k, len(slowed))
        per: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
        for _ in range(comparisons):
            for r in judge(rng.sample(unchanged, k), rng.sample(slowed, kb)):
                c = per[workload[r.name]]
                c["caught"] += r.regressed
                c["of"] += 1
                if mde.get(r.name, 1.0) <= 0.10:
                    c["caught_mde_le_10"] += r.regressed
                    c["of_mde_le_10"] += 1
        detection[f"{s:.0%}"] = dict(per)
    # pytest-benchmark's median:10% rule on single-process pairs
    rule_false = rule_total = 0
    for i, a in enumerate(unchanged):
        for b in unchanged[i + 1 :]:
            rule_false += sum(b[n][0] > 1.10 * a[n][0] for n in names)
            rule_total += len(names)
    rule_caught = {}
    for s in slowdowns:
        slowed = pools[f"slowed-{s:g}"]
        hits = sum(b[n][0] > 1.10 * a[n][0] for a in unchanged for b in slowed for n in names)
        rule_caught[f"{s:.0%}"] = hits / max(len(unchanged) * len(slowed) * len(names), 1)
    spreads = {n: spread(unchanged, n) for n in names}
    threads = {}
    if pools.get("threads-2"):
        threads = {n: {"threads_1": spreads[n], "threads_2": spread(pools["threads-2"], n)} for n in names}
    by_workload: dict[str, list[float]] = defaultdict(list)
    for n, v in mde.items():
        by_workload[workload[n]].append(v)
    return {
        "processes_per_arm": k,
        "slowed_processes_per_arm": slowed_k,
        "pool": {name: len(pool) for name, pool in pools.items()},
        "process_wall_seconds_median": statistics.median(walls) if walls else None,
        "one_ab_run_minutes_from_process_walls": 2 * k * statistics.median(walls) / 60 if walls else None,
        "unchanged_comparisons": comparisons,
        "false_regressed": false,
        "verdicts_in_unchanged_comparisons": total,
        "false_regressed_rate": false / max(total, 1),
        "comparisons_with_any_false_regressed": runs_with_alarm,
        "detection": detection,
        "mde_by_workload": {
            w: {
                "median": statistics.median(v),
                "min": min(v),
                "max": max(v),
                "at_most_10": sum(x <= 0.10 for x in v),
                "of": len(v),
            }
            for w, v in sorted(by_workload.items())
        },
        "process_spread_median": statistics.median(spreads.values()),
        "median10_rule": {"false_rate": rule_false / max(rule_total, 1), "caught": rule_caught},
        "mde": mde,
        "processes_for_10": {n: evidence.processes_needed(s, 0.10, len(names)) for n, s in spreads.items()},
        "spread_by_threads": threads,
    }


if __name__ == "__main__":
    sys.exit(main())
