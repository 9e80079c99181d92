"""`mlxbench ab`: the same benchmarks in two environments, alternating.

    mlxbench ab --a .venv-old/bin/python --b .venv/bin/python -- benchmarks --profile ci
    mlxbench ab --baseline-run baselines/<machine>/0004_x.json --time-budget 40 -- benchmarks --profile ci
    mlxbench ab --design processes --processes 6 --b-env MLXBENCH_THREADS=4 -- benchmarks -k linreg
    mlxbench ab --a-rev main -- benchmarks --profile ci -k linreg      # is my branch slower? (docs/branches.md)

Paired (default, mlxbench.ab.paired): pairs of live workers, one per arm, alternating rounds within
`--time-budget`. Processes: whole fresh processes in the order A B B A A B ... (or shuffled,
`--order random`), so drifts of the machine hit both arms alike (asv's interleaved rounds, pyperf's
worker processes, duet benchmarking), each benchmark judged from its K-vs-K process medians
(mlxbench.verdicts.evidence). Every process writes pytest-benchmark JSON into OUT/, never into a
machine's saved history. `run(config)` is the A/B in Python (mlxbench.ab.config.ABConfig, whose making
checks every option before any work); the CLI's `run(args)` makes that config from its command line. Each arm
records in verdicts.json what makes it the same experiment wherever its interpreter lives (`identity`: the
Python implementation and version, the versions of the distributions that move a time), which is
what `mlxbench ab merge` compares between shards. Each A/B writes into a folder of its own under `--out`,
named after its start and claimed by creating it (claim_folder): two A/Bs started in the same second get two
folders, never one.
Exit codes: 0 no regression, 1 a regression (or a test that failed only in B), 2 bad input, 7 (INCOMPLETE) a
paired A/B that ended with fewer complete pairs than asked for (`--pairs`, else the MIN_PAIRS every paired A/B
runs; a stop by the time budget is never one): a worker hung or died; the complete pairs' verdicts are printed
and saved, and a regression among them still exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlxbench.ab import engine, processes, revisions, venvs, verdictsfile
from mlxbench.ab.config import PIPELINES, ABConfig
from mlxbench.ab.coordinator import ROUND_FACTOR, ROUND_FLOOR_S
from mlxbench.ab.engine import PIPELINE_MIN_CORES
from mlxbench.ab.options import with_test_path
from mlxbench.reports import abreport
from mlxbench.reports.plural import nouns
from mlxbench.reports.table import Table
from mlxbench.runs import BadRun, load_run
from mlxbench.session import saving
from mlxbench.units import echo
from mlxbench.verdicts import evidence
from mlxbench.verdicts.paired import MIN_PAIRS
from mlxbench.verdicts.verdict import Result
from mlxbench.verdicts.words import counted

INCOMPLETE = 7  # exit: fewer complete pairs than asked for (1 stays a regression, 2 bad input, 3 a bug)
SUITE = ("scipy", "pytest", "pytest-benchmark", "mlxbench")  # beyond the backends' frameworks: what else moves a time
QUERY = """
import json, platform, sys
from importlib import metadata
found = {}
for dist in sys.argv[1:]:
    try:
        found[dist] = metadata.version(dist)
    except metadata.PackageNotFoundError:
        pass
print(json.dumps({"implementation": platform.python_implementation(), "python_version": platform.python_version(),
                  "versions": found}))
"""  # run by an arm's interpreter: importlib.metadata only, no framework imported


def distributions() -> list[str]:
    """The distributions whose versions make an arm what it is: the backends' (Registry.distributions) and SUITE."""
    from mlxbench.registry import Registry

    return list(dict.fromkeys([*Registry.load().distributions, *SUITE]))


def identity(arm: str, python: str, env: dict[str, str], dists: Sequence[str] | None = None) -> dict[str, Any]:
    """What makes an arm the same experiment wherever its interpreter lives: its Python implementation and
    version, and the installed versions of the backends' distributions (Registry.distributions: numpy, torch,
    mlx, jax, ...) and of SUITE, read by that interpreter (QUERY) in one short process."""
    cmd = [python, "-c", QUERY, *(distributions() if dists is None else dists)]
    try:
        proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BadRun(f"arm {arm}: {python} did not say its Python and package versions ({exc})") from None
    lines = proc.stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1]) if proc.returncode == 0 and lines else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        last = ([x.strip() for x in proc.stderr.splitlines() if x.strip()] or [f"exit {proc.returncode}"])[-1]
        raise BadRun(f"arm {arm}: {python} did not say its Python and package versions ({last[:200]})")
    return found


def check_arms(arms: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each arm's interpreter checked (venvs.arm_problem: BadRun with the first arm's problem) and its identity,
    the four short processes run side by side: an A/B starts a second or two sooner than one after another."""
    dists = distributions()  # the registry read once, not by each arm's thread
    with ThreadPoolExecutor(max_workers=2 * len(arms)) as pool:
        problems = {arm: pool.submit(venvs.arm_problem, arm, f["python"], f["env"]) for arm, f in arms.items()}
        identities = {arm: pool.submit(identity, arm, f["python"], f["env"], dists) for arm, f in arms.items()}
        for problem in problems.values():
            if why := problem.result():
                raise BadRun(why)
        return {arm: found.result() for arm, found in identities.items()}


RATIO = {
    "paired": "ratio: B / A as the pairs of workers estimate it (their mean log ratio), not B's median over A's",
    "processes": "ratio: the geometric mean of B's process medians over A's, not B's median over A's",
}


def table(results: list[Result], design: str = "paired") -> list[str]:
    """The verdicts as the one verdict table prints them, arms A and B, and what the ratio is."""
    return Table.of(results, arms=("A", "B")).terminal() + ([f"  {RATIO[design]}"] if results else [])


def run(config: ABConfig | argparse.Namespace) -> int:
    """The A/B `config` describes, start to end: its verdicts printed and written into a new folder under its
    `out`; the exit code of `mlxbench ab`. A parsed command line is made an ABConfig first, which checks it."""
    if not isinstance(config, ABConfig):
        config = ABConfig.from_args(config)
    pytest_args = with_test_path(list(config.pytest_args))
    a_python = config.a
    if config.baseline_run:
        a_python = str(venvs.environment_for(load_run(config.baseline_run), log=print))
    arms = {
        "A": {"python": a_python or sys.executable, "env": dict(config.a_env)},
        "B": {"python": config.b or sys.executable, "env": dict(config.b_env)},
    }
    found = check_arms(arms)
    revs = revisions.arms(config.a_rev, config.b_rev)  # checked out (or reused) before any worker starts
    if revs:
        pytest_args = revisions.absolute_paths(pytest_args, Path.cwd())
        for arm, rev in revs.items():
            launch = revisions.launcher(rev.checkout)
            arms[arm].update(launch=launch, cwd=rev.checkout, worker_env=revisions.worker_env(rev), revision=rev)
        echo(f"mlxbench ab: A runs {revs['A'].label()}, B runs {revs['B'].label()}", flush=True)
    for arm, facts in arms.items():
        facts.update(found[arm])
    if revs:
        python = {arm: facts["python"] for arm, facts in arms.items()}
        revisions.preflight(python, revs, {arm: facts["env"] for arm, facts in arms.items()}, pytest_args)
    root = config.out.resolve() if revs else config.out  # the workers run in the checkouts: their files go here
    out = claim_folder(root, datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S"))
    started = time.perf_counter()
    recorded = {
        arm: {k: v for k, v in facts.items() if k not in ("launch", "worker_env", "revision")}
        for arm, facts in arms.items()
    }
    for arm, rev in (revs or {}).items():
        recorded[arm].update(cwd=str(rev.checkout), revision=rev.as_dict())
    meta = {"a": recorded["A"], "b": recorded["B"], "design": config.design, "alpha": config.alpha}
    meta["pytest_args"] = pytest_args
    if config.design == "paired":
        results, extra = engine.run(config, arms, pytest_args, out, started)
    else:
        results, extra = processes.run_processes(config, arms, pytest_args, out)
    wall = time.perf_counter() - started
    meta.update(extra, wall_seconds=round(wall, 1))
    document = {**meta, "verdicts": [r.as_dict() for r in results]}
    verdictsfile.write(out, document)
    md = abreport.markdown(abreport.ABReport.of(out, document), None)
    if revs:
        md += "\nRevisions:\n\n" + revisions.note(revs)
    saving.atomic_write(out / "verdicts.md", md.encode())
    if config.json:
        saving.replace_atomically(config.json, verdictsfile.dumps(document))
    echo(
        f"\nmlxbench ab: {counted(results)} ({nouns(len(results), 'benchmark')}, "
        f"{units_line(meta)}, {wall / 60:.1f} min)"
    )
    echo("\n".join(table(results, config.design)))
    if config.target_effect and config.design == "processes":
        m = len(results)
        need = {r.name: evidence.processes_needed(r.spread, config.target_effect, m, config.alpha) for r in results}
        worst = max(need.values())
        echo(
            f"\nto see a {config.target_effect:.0%} change on every benchmark: --processes {worst} "
            f"(median benchmark: {sorted(need.values())[len(need) // 2]})"
        )
    for name in meta["failed_only_in_b"]:
        echo(f"  regressed    {name}: failed in arm B (accuracy gate or error), passed in A")
    echo(f"\nsamples and verdicts: {out}", flush=True)
    regressed = meta["failed_only_in_b"] or any(r.regressed for r in results)
    if short := incomplete(meta):
        echo(f"mlxbench ab: INCOMPLETE: {short}", file=sys.stderr)
    return 1 if regressed else INCOMPLETE if short else 0


def incomplete(meta: dict[str, Any]) -> str | None:
    """What a paired A/B lacks when it ended with fewer complete pairs than asked for (`pairs_asked`: --pairs,
    else MIN_PAIRS), in one line; None when it has them (a stop by the time budget comes after MIN_PAIRS)."""
    done, asked = meta.get("pairs", 0), meta.get("pairs_asked", 0)
    if meta.get("design") != "paired" or done >= asked:
        return None
    what = f"--pairs {asked}" if meta.get("pairs_option") else "the fewest a paired A/B runs"
    these = "that pair" if done == 1 else f"those {done}"
    few = f" (a verdict needs {MIN_PAIRS})" if done < MIN_PAIRS else ""
    return (
        f"{done} of the {asked} pairs asked for ({what}) {'is' if done == 1 else 'are'} complete: "
        f"{meta.get('stopped')}. The verdicts above judge {these} only{few}: exit {INCOMPLETE}, or 1 where they "
        "show a regression"
    )


def claim_folder(root: Path, stamp: str) -> Path:
    """A new folder for one A/B under `root`, named `stamp` (its start), else `stamp-2`, `stamp-3`, ... where
    another A/B took the name (started in the same second): creating it is the claim, so two A/Bs never write
    into one folder; a taken name is said."""
    root.mkdir(parents=True, exist_ok=True)
    for k in range(1, 1000):
        out = root / (stamp if k == 1 else f"{stamp}-{k}")
        try:
            out.mkdir()
        except FileExistsError:
            continue
        if k > 1:
            echo(
                f"mlxbench ab: {root / stamp} is taken (an A/B started in the same second): this one writes into {out}"
            )
        return out
    raise BadRun(f"--out {root}: {stamp} and 998 more names after it are taken; choose another --out")


def units_line(meta: dict) -> str:
    if meta["design"] == "paired":
        draws = meta.get("draws", 1)
        each = f", each benchmark prepared {draws} times a pair" if draws > 1 else ""
        return f"{meta['pairs']} pairs of workers alternating rounds{each}, budget {meta['time_budget_min']:g} min"
    return f"{meta['processes']} processes per arm"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ab",
        help="run benchmarks in two environments, alternating (paired workers, or fresh processes); exit 1 on a "
        "regression",
        description=__doc__.split("\n\n")[0],
    )
    add_arm_options(p.add_argument_group("arms"))
    add_design_options(p.add_argument_group("design and budget"))
    add_output_options(p.add_argument_group("verdicts and output"))
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="-- then the pytest arguments (default: benchmarks)")
    p.set_defaults(func=run)


def add_arm_options(p: argparse._ArgumentGroup) -> None:
    """What each arm runs: an interpreter, a revision, an environment, a saved run's framework versions."""
    p.add_argument("--a", default=None, metavar="PYTHON", help="arm A's interpreter (default: this one)")
    p.add_argument("--b", default=None, metavar="PYTHON", help="arm B's interpreter (default: this one)")
    p.add_argument(
        "--a-rev",
        default=None,
        metavar="REV",
        help="arm A runs this git revision of the repository holding the benchmarks (checked out once into a cache; "
        "the running mlxbench drives it)",
    )
    p.add_argument(
        "--b-rev",
        default=None,
        metavar="REV",
        help="arm B runs this git revision (default, with --a-rev: the working tree as it is, uncommitted changes "
        "included)",
    )
    p.add_argument("--a-env", action="append", default=[], metavar="NAME=VALUE", help="environment for arm A")
    p.add_argument("--b-env", action="append", default=[], metavar="NAME=VALUE", help="environment for arm B")
    p.add_argument(
        "--baseline-run",
        type=Path,
        default=None,
        metavar="RUN.json",
        help="arm A: a cached virtual environment with the framework versions this saved run recorded",
    )


def add_design_options(p: argparse._ArgumentGroup) -> None:
    """How the arms are run: paired workers within a time budget, or fresh processes."""
    p.add_argument(
        "--design",
        choices=("paired", "processes"),
        default="paired",
        help="paired (default): pairs of live workers, one per arm, alternating rounds; processes: K fresh "
        "processes per arm, A B B A ..., judged from process medians",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        default=None,
        metavar="MIN",
        help="paired: add pairs of workers while the next one fits in this many minutes (default 20; at least "
        f"{MIN_PAIRS} pairs run)",
    )
    p.add_argument(
        "--rewarm",
        type=int,
        default=None,
        metavar="N",
        help="paired: untimed calls after each hand-over, before the timed round (default 1; not for rounds that "
        "build on each other, such as training epochs)",
    )
    p.add_argument(
        "--pairs",
        type=int,
        default=None,
        metavar="P",
        help="paired: exactly this many pairs of workers (an A/B that ends with fewer, "
        f"a worker hung or dead, exits {INCOMPLETE})",
    )
    p.add_argument(
        "--worker-timeout",
        type=float,
        default=None,
        metavar="S",
        help="paired: a worker that sends nothing for S seconds (default 600) is named and both workers are stopped; "
        f"the A/B judges its complete pairs. Inside a timed round the limit is {ROUND_FACTOR} times the slowest round "
        f"seen of its benchmark (either arm, from the first pair on), at least {ROUND_FLOOR_S:g} s (or S, if less)",
    )
    p.add_argument(
        "--pipeline",
        choices=PIPELINES,
        default=None,
        help="paired: start the next pair's workers (import and collect, nothing on the device) while a pair times; "
        f"auto (default): on a machine with at least {PIPELINE_MIN_CORES} cores",
    )
    p.add_argument(
        "--draws",
        type=int,
        default=None,
        metavar="D",
        help="paired: prepare each benchmark D times in each pair of workers (both arms at once, untimed), each "
        "preparation followed by its rounds (default 1; rounds that build on each other, such as training epochs, "
        "keep 1). On a GPU part of a worker's lasting speed is drawn again with each preparation",
    )
    p.add_argument(
        "--processes", type=int, default=None, metavar="K", help="processes design: fresh processes per arm (default 6)"
    )
    p.add_argument(
        "--order",
        choices=("alternate", "random"),
        default=None,
        help="processes design: A B B A ... (default), or random",
    )
    p.add_argument("--seed", type=int, default=None, help="seed of --order random (default 0)")
    p.add_argument(
        "--target-effect",
        type=float,
        default=None,
        metavar="F",
        help="also say how many processes per arm would see a change of F on every benchmark",
    )


def add_output_options(p: argparse._ArgumentGroup) -> None:
    """How the arms are judged, and where the verdicts go."""
    p.add_argument("--alpha", type=float, default=evidence.ALPHA, help="family-wise false-alarm rate (default 0.05)")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="smallest change that counts (default: each workload's, else 10%%)",
    )
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the verdicts here")
    p.add_argument("--out", type=Path, default=Path("ab-runs"), help="folder for the samples (default ab-runs/)")
