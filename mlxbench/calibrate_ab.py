"""Calibrate `mlxbench ab` on this machine: false alarms, detection and the smallest change it sees.

    python -m mlxbench.calibrate_ab --unchanged 10 --slowed 4 --slowdowns 0.05,0.10,0.25 --processes 4 \\
        --threads-check 2 --out calibration-ab -- benchmarks --profile ci --backend numpy,torch-cpu,mlx-cpu

One pool of fresh `pytest` processes is run, the conditions interleaved (so drifts of the machine
hit all of them alike): `--unchanged` processes of the code as it is, `--slowed` processes per
slowdown with every measured call made slower by that fraction (mlxbench.slowdown, which scales
the synced duration), and optionally `--threads-check` processes with a different thread count
(MLXBENCH_THREADS) to show what the thread policy does to the process-to-process spread.

A/B comparisons are then formed from the pool, each exactly as `mlxbench ab` judges one
(mlxbench.evidence.judge_ab, K processes per arm, Holm across all benchmarks):
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
import random
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from mlxbench import ab, evidence
from mlxbench.runs import BadRun, load_run


def medians(path: Path) -> dict[str, tuple[float, str]]:
    run = load_run(path)
    return {
        n: (float(b["stats"]["median"]), (b.get("extra_info") or {}).get("workload", "?"))
        for n, b in run.benchmarks.items()
    }


def judge(a: list[dict], b: list[dict]) -> list[evidence.ProcessVerdict]:
    names = sorted(set.intersection(*(set(p) for p in a + b)))
    samples = {n: ([p[n][0] for p in a], [p[n][0] for p in b]) for n in names}
    return evidence.judge_ab(samples)


def spread(pool: list[dict], name: str) -> float:
    import numpy as np

    logs = np.log([p[name][0] for p in pool if name in p])
    return float(logs.std(ddof=1)) if logs.size > 1 else float("nan")


def main(argv: list[str] | None = None) -> int:
    try:
        return calibrate(argv)
    except BadRun as exc:  # a benchmark process that failed: one message, exit 2
        print(f"mlxbench.calibrate_ab: {exc}", file=sys.stderr)
        return 2


def calibrate(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(prog="python -m mlxbench.calibrate_ab", description=__doc__.split("\n\n")[0])
    p.add_argument("--unchanged", type=int, default=10)
    p.add_argument("--slowed", type=int, default=4, help="processes per slowdown")
    p.add_argument("--slowdowns", default="0.05,0.10,0.25")
    p.add_argument("--processes", type=int, default=4, help="K per arm in each formed comparison")
    p.add_argument("--comparisons", type=int, default=20, help="unchanged A/B comparisons to form")
    p.add_argument("--threads-check", type=int, default=0, metavar="N", help="processes with MLXBENCH_THREADS=2")
    p.add_argument("--out", type=Path, default=Path("calibration-ab"))
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    extra = [a for a in args.pytest_args if a != "--"] or ["benchmarks"]
    if args.out.exists() and any(args.out.iterdir()):
        raise SystemExit(f"{args.out} is not empty; give a new --out folder")
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
        walls.append(ab.run_process(sys.executable, env, ["-p", "mlxbench.slowdown", *extra], out)[1])
        pools[name].append(medians(out))
        print(f"process {i + 1}/{len(conditions)} ({name}): {walls[-1]:.1f} s", flush=True)
    rng = random.Random(1)
    k = args.processes
    unchanged = pools["unchanged"]
    false, total, runs_with_alarm = 0, 0, 0
    for _ in range(args.comparisons):
        picked = rng.sample(unchanged, 2 * k)
        res = judge(picked[:k], picked[k:])
        found = sum(r.regressed for r in res)
        false, total, runs_with_alarm = false + found, total + len(res), runs_with_alarm + (found > 0)
    baseline_mde = {r.name: r.mde for r in judge(*(lambda s: (s[:k], s[k : 2 * k]))(rng.sample(unchanged, 2 * k)))}
    detection: dict[str, dict[str, list[int]]] = {}
    for s in slowdowns:
        slowed = pools[f"slowed-{s:g}"]
        per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # caught, total, caught|mde<=10%, total|mde<=10%
        for _ in range(args.comparisons):
            res = judge(rng.sample(unchanged, k), rng.sample(slowed, min(k, len(slowed))))
            for r in res:
                w = unchanged[0][r.name][1]
                c = per[w]
                c[0] += r.regressed
                c[1] += 1
                if baseline_mde.get(r.name, 1.0) <= 0.10:
                    c[2] += r.regressed
                    c[3] += 1
        detection[f"{s:.0%}"] = dict(per)
    # pytest-benchmark's median:10% rule on single-process pairs
    names = sorted(set.intersection(*(set(p) for p in unchanged)))
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
    threads = {}
    if pools.get("threads-2"):
        for n in names:
            threads[n] = {"threads_1": spread(unchanged, n), "threads_2": spread(pools["threads-2"], n)}
    result = {
        "pytest_args": extra,
        "processes_per_arm": k,
        "pool": {name: len(pool) for name, pool in pools.items()},
        "process_wall_seconds_median": statistics.median(walls),
        "one_ab_run_minutes": 2 * k * statistics.median(walls) / 60,
        "unchanged_comparisons": args.comparisons,
        "false_regressed": false,
        "verdicts_in_unchanged_comparisons": total,
        "false_regressed_rate": false / max(total, 1),
        "comparisons_with_any_false_regressed": runs_with_alarm,
        "detection": {
            s: {w: {"caught": c[0], "of": c[1], "caught_mde_le_10": c[2], "of_mde_le_10": c[3]} for w, c in per.items()}
            for s, per in detection.items()
        },
        "mde": baseline_mde,
        "median10_rule": {"false_rate": rule_false / max(rule_total, 1), "caught": rule_caught},
        "spread_by_threads": threads,
    }
    (args.out / "calibration.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("mde", "spread_by_threads")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
