"""`mlxbench ab --design processes`: K fresh whole processes per arm, in the order A B B A A B ... (or
shuffled, `--order random`), so drifts of the machine hit both arms alike (asv's interleaved rounds, pyperf's
worker processes, duet benchmarking); each benchmark judged from its K-vs-K process medians
(mlxbench.verdicts.evidence). Every process writes pytest-benchmark JSON into OUT/A or OUT/B."""

from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

from mlxbench.ab import paired, revisions
from mlxbench.runs import BadRun, load_run
from mlxbench.timings import Timings
from mlxbench.units import echo
from mlxbench.verdicts import evidence
from mlxbench.verdicts.verdict import Result


def schedule(k: int, order: str, seed: int = 0) -> list[str]:
    """The arm of each of the 2k processes: ABBA... (alternate) or a shuffle with k of each."""
    if order == "random":
        arms = ["A", "B"] * k
        random.Random(seed).shuffle(arms)
        return arms
    return [arm for i in range(k) for arm in (("A", "B") if i % 2 == 0 else ("B", "A"))]


def run_process(
    python: str, env: dict[str, str], pytest_args: list[str], out: Path, launch=paired.LAUNCH, cwd: Path | None = None
) -> tuple[int, float]:
    junit = out.with_suffix(".xml")
    cmd = [python, *launch, "-q", "-p", "no:cacheprovider", f"--benchmark-json={out}", f"--junitxml={junit}"]
    cmd += pytest_args
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, cwd=cwd)
    if proc.returncode not in (0, 1) or not out.exists():
        tail = (proc.stdout[-2000:] + proc.stderr[-2000:]).strip()
        raise BadRun(f"a benchmark process failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc.returncode, time.perf_counter() - t0


def collect(folder: Path) -> tuple[dict[str, list[list[float]]], dict[str, float], set[str]]:
    """(fullname -> each process's rounds (its median alone where it kept none), fullname -> the workload's
    threshold, names of failed tests)."""
    rounds: dict[str, list[list[float]]] = {}
    thresholds: dict[str, float] = {}
    for path in sorted(folder.glob("*.json")):
        run = load_run(path)
        for name, b in run.benchmarks.items():
            rounds.setdefault(name, []).append(list(b["stats"].get("data") or [b["stats"]["median"]]))
            t = (b.get("extra_info") or {}).get("regression_threshold")
            if t is not None:
                thresholds[name] = float(t)
    return rounds, thresholds, failed_tests(folder)


def failed_tests(folder: Path) -> set[str]:
    """Test names (`test_workload[...]`) that failed in any process of an arm (from its JUnit XML)."""
    return set().union(*(paired.failures_in(path) for path in sorted(folder.glob("*.xml"))))


def refuse_broken_revision(arms: dict[str, dict], out: Path) -> None:
    """Once each arm has run its first process, what mlxbench.ab.revisions.refuse_half refuses (nothing before)."""
    first = {x: out / x / "01.xml" for x in ("A", "B")}
    if all(path.exists() for path in first.values()):
        revisions.refuse_half({x: paired.failures_in(path) for x, path in first.items()}, arms, out, "process")


def run_processes(args, arms, pytest_args, out) -> tuple[list[Result], dict]:
    """The process design: K fresh processes per arm, A B B A ..., judged from process medians."""
    for arm in arms:
        (out / arm).mkdir()
    order = schedule(args.processes, args.order, args.seed)
    counts = {"A": 0, "B": 0}
    for i, arm in enumerate(order):
        counts[arm] += 1
        target = out / arm / f"{counts[arm]:02d}.json"
        echo(f"mlxbench ab: process {i + 1}/{len(order)} (arm {arm})", flush=True)
        facts = arms[arm]
        env = {**facts["env"], **facts.get("worker_env", {})}
        launch = facts.get("launch", paired.LAUNCH)
        try:
            code, took = run_process(facts["python"], env, pytest_args, target, launch, facts.get("cwd"))
        except BadRun:  # no run file: every benchmark failed; a revision broken at run time is named as such
            refuse_broken_revision(arms, out)
            raise
        echo(f"  {took:.1f} s" + (" (some tests failed)" if code == 1 else ""), flush=True)
        if counts[arm] == 1:  # an arm's first process: checked once the other arm's first has run too
            refuse_broken_revision(arms, out)
    a, thresholds, failed_a = collect(out / "A")
    b, thresholds_b, failed_b = collect(out / "B")
    thresholds.update(thresholds_b)
    if args.threshold is not None:
        thresholds = {name: args.threshold for name in a}
    common = sorted(set(a) & set(b))
    if not common:
        raise BadRun(f"the arms share no benchmark (A ran {len(a)}, B ran {len(b)}): check the pytest arguments")
    results = evidence.judge_ab({n: Timings.processes(n, a[n], b[n]) for n in common}, thresholds, alpha=args.alpha)
    return results, {
        "processes": args.processes,
        "order": "".join(order),
        "only_in_a": sorted(set(a) - set(b)),
        "only_in_b": sorted(set(b) - set(a)),
        "failed_only_in_b": sorted(failed_b - failed_a),
        "failed_in_both": sorted(failed_a & failed_b),
    }
