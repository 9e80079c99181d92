"""Calibrate the regression gate on this machine: false alarms on unchanged code, and how often a
real slowdown is caught; pytest-benchmark's `--benchmark-compare-fail=median:10%` rule beside it.

    python -m mlxbench.calibrate --unchanged 10 --slowed 6 --workload linreg --factor 0.25 \\
        -- --profile ci --backend numpy --backend torch-cpu --backend mlx-cpu -k "not mnist"

Each run is a fresh `pytest benchmarks` process writing its JSON to --out. Every ordered pair of
unchanged runs (baseline, current) is one comparison per benchmark; every (unchanged baseline,
slowed run) pair tests detection on the slowed workload's benchmarks.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

from mlxbench import verdict
from mlxbench.runs import load_run


def run_suite(out: Path, pytest_args: list[str], env_extra: dict[str, str]) -> Path:
    env = {**os.environ, **env_extra}
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "benchmarks",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "mlxbench.slowdown",
        f"--benchmark-json={out}",
        *pytest_args,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark run failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return out


def judge(base: dict, cur: dict, name: str) -> tuple[bool, bool]:
    """(mlxbench says regressed, pytest-benchmark's median:10% rule says regressed)."""
    info = cur.get("extra_info") or {}
    res = verdict.compare_samples(
        name,
        base["stats"]["data"],
        cur["stats"]["data"],
        threshold=info.get("regression_threshold") or verdict.DEFAULT_THRESHOLD,
    )
    return res.regressed, cur["stats"]["median"] > 1.10 * base["stats"]["median"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mlxbench.calibrate", description=__doc__.split("\n\n")[0])
    p.add_argument("--unchanged", type=int, default=10)
    p.add_argument("--slowed", type=int, default=6)
    p.add_argument("--workload", default="linreg")
    p.add_argument("--factor", type=float, default=0.25)
    p.add_argument("--out", type=Path, default=Path("calibration"))
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    extra = [a for a in args.pytest_args if a != "--"]
    args.out.mkdir(parents=True, exist_ok=True)
    plain = [run_suite(args.out / f"unchanged_{i:02d}.json", extra, {}) for i in range(args.unchanged)]
    slow = [
        run_suite(args.out / f"slowed_{i:02d}.json", extra, {"MLXBENCH_SLOWDOWN": f"{args.workload}={args.factor}"})
        for i in range(args.slowed)
    ]
    plain_runs = [load_run(x).benchmarks for x in plain]
    slow_runs = [load_run(x).benchmarks for x in slow]

    fp = [0, 0]
    n_null = 0
    for base, cur in itertools.permutations(plain_runs, 2):
        for name in base.keys() & cur.keys():
            ours, theirs = judge(base[name], cur[name], name)
            fp[0] += ours
            fp[1] += theirs
            n_null += 1
    tp = [0, 0]
    n_alt = 0
    for base, cur in itertools.product(plain_runs, slow_runs):
        for name in base.keys() & cur.keys():
            if (cur[name].get("extra_info") or {}).get("workload") != args.workload:
                continue
            ours, theirs = judge(base[name], cur[name], name)
            tp[0] += ours
            tp[1] += theirs
            n_alt += 1
    result = {
        "unchanged_runs": args.unchanged,
        "slowed_runs": args.slowed,
        "benchmarks_per_run": len(plain_runs[0]),
        "null_comparisons": n_null,
        "alt_comparisons": n_alt,
        "slowdown": f"{args.workload} +{args.factor:.0%}",
        "mlxbench_false_regression_rate": fp[0] / max(n_null, 1),
        "median10_false_regression_rate": fp[1] / max(n_null, 1),
        "mlxbench_detection_rate": tp[0] / max(n_alt, 1),
        "median10_detection_rate": tp[1] / max(n_alt, 1),
        "pytest_args": extra,
    }
    (args.out / "calibration.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
