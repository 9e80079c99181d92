"""Calibrate the regression gate on this machine, end to end, as a nightly job would use it.

    python -m mlxbench.tools.calibrate --history 3 --unchanged 8 --slowed 5 --workload linreg --factor 0.25 \\
        -- --profile ci --backend numpy --backend torch-cpu --backend mlx-cpu -k "not mnist"

1. `--history` runs are saved into a scratch baseline folder (the last one is the baseline, all of
   them are the history that sizes each benchmark's band).
2. `--unchanged` runs of the same code go through `--regression-gate` (re-measuring suspects, as
   in real use): every "regressed" verdict there is a false alarm.
3. `--slowed` runs have one workload made slower by `--factor` (mlxbench.tools.slowdown, inside the
   clock): every benchmark of that workload not called "regressed" is a miss.
pytest-benchmark's `--benchmark-compare-fail=median:10%` rule is scored on the very same runs.
Each run is a fresh `pytest benchmarks` process. Writes calibration.json into --out.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

GATED_ERR = 1  # pytest exit code when a gated benchmark failed


def run_suite(out: Path, storage: Path, args: list[str], env_extra: dict[str, str]) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "benchmarks",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "mlxbench.tools.slowdown",
        f"--benchmark-storage={storage}",
        f"--benchmark-json={out}",
        *args,
    ]
    proc = subprocess.run(cmd, env={**os.environ, **env_extra}, capture_output=True, text=True)
    from mlxbench.runs import BadRun

    if proc.returncode not in (0, GATED_ERR) or not out.exists():
        raise BadRun(f"benchmark run failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return json.loads(out.read_text())


def score(runs: list[dict], baseline: dict, workload: str | None) -> dict:
    base = {b["fullname"]: b["stats"]["median"] for b in baseline["benchmarks"]}
    n = ours = theirs = missing = 0
    verdicts: dict[str, int] = {}
    for run in runs:
        for b in run["benchmarks"]:
            info = b.get("extra_info") or {}
            if workload is not None and info.get("workload") != workload:
                continue
            v = (info.get("verdict") or {}).get("verdict")
            if v is None:
                missing += 1
                continue
            n += 1
            verdicts[v] = verdicts.get(v, 0) + 1
            ours += v == "regressed"
            theirs += b["stats"]["median"] > 1.10 * base[b["fullname"]]
    return {
        "comparisons": n,
        "verdicts": verdicts,
        "mlxbench_regressed": ours,
        "median10_regressed": theirs,
        "mlxbench_rate": ours / max(n, 1),
        "median10_rate": theirs / max(n, 1),
        "without_verdict": missing,
    }


def main(argv: list[str] | None = None) -> int:
    from mlxbench.runs import BadRun

    try:
        return calibrate(argv)
    except BadRun as exc:  # a benchmark run that failed: its message, exit 2 (as calibrate_ab)
        print(f"mlxbench.tools.calibrate: {exc}", file=sys.stderr)
        return 2


def calibrate(argv: list[str] | None) -> int:
    p = argparse.ArgumentParser(prog="python -m mlxbench.tools.calibrate", description=__doc__.split("\n\n")[0])
    p.add_argument("--history", type=int, default=3)
    p.add_argument("--unchanged", type=int, default=8)
    p.add_argument("--slowed", type=int, default=5)
    p.add_argument("--workload", default="linreg")
    p.add_argument("--factor", type=float, default=0.25)
    p.add_argument("--out", type=Path, default=Path("calibration"))
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    from mlxbench.paths import output_folder_problem
    from mlxbench.registry import Registry
    from mlxbench.verdicts.gate import MIN_HISTORY

    if args.history < MIN_HISTORY:  # checked before hours of runs, not after them
        p.error(
            f"--history {args.history}: the gate judges from {MIN_HISTORY} saved runs on; give {MIN_HISTORY} or more"
        )
    if args.unchanged < 0 or args.slowed < 0 or args.unchanged + args.slowed < 1:
        p.error(f"--unchanged {args.unchanged} --slowed {args.slowed}: give counts >= 0, at least one run in all")
    if not (args.factor > 0 and math.isfinite(args.factor)):
        p.error(f"--factor {args.factor}: give the slowdown as a fraction above 0, e.g. 0.25 for 25%")
    if problem := output_folder_problem(args.out, "--out"):
        p.error(problem)
    names = Registry.load().workload_names
    if args.workload not in names:
        p.error(f"--workload {args.workload!r}: not a registered workload; give one of {', '.join(names)}")
    extra = [a for a in args.pytest_args if a != "--"]
    storage = args.out / "baselines"
    if storage.exists() and any(storage.rglob("*.json")):
        p.error(f"{storage} already holds runs; give a new --out folder")
    args.out.mkdir(parents=True, exist_ok=True)
    history = [
        run_suite(args.out / f"history_{i:02d}.json", storage, [*extra, "--benchmark-autosave"], {})
        for i in range(args.history)
    ]
    gated = [*extra, "--regression-gate"]
    plain = [run_suite(args.out / f"unchanged_{i:02d}.json", storage, gated, {}) for i in range(args.unchanged)]
    slowdown = {"MLXBENCH_SLOWDOWN": f"{args.workload}={args.factor}"}
    slow = [run_suite(args.out / f"slowed_{i:02d}.json", storage, gated, slowdown) for i in range(args.slowed)]
    result = {
        "method": "end to end: saved history runs, then gated runs (--regression-gate, suspects re-measured)",
        "history_runs": args.history,
        "pytest_args": extra,
        "slowdown": f"{args.workload} +{args.factor:.0%}",
        "unchanged": score(plain, history[-1], None),
        "slowed": score(slow, history[-1], args.workload),
    }
    (args.out / "calibration.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
