"""`mlxbench ab`'s options, checked before any work starts: each in its meaningful range, output paths
writable, and none given that the chosen design would ignore (they were silently dropped); and which of
the pytest arguments names the test path."""

from __future__ import annotations

import argparse
from pathlib import Path

from mlxbench.paths import output_file_problem, output_folder_problem
from mlxbench.runs import BadRun
from mlxbench.verdicts import evidence
from mlxbench.verdicts.paired import MIN_PAIRS

DESIGN_OPTIONS = {  # option: (attribute, default); given for the other design, an option would do nothing
    "paired": {
        "--time-budget": ("time_budget", 20.0),
        "--rewarm": ("rewarm", 1),
        "--pairs": ("pairs", None),
        "--worker-timeout": ("worker_timeout", 600.0),
    },
    "processes": {
        "--processes": ("processes", 6),
        "--order": ("order", "alternate"),
        "--seed": ("seed", 0),
        "--target-effect": ("target_effect", None),
    },
}


def check_design(args: argparse.Namespace) -> None:
    """Refuse an option the chosen design would ignore (it was silently dropped), then fill in the defaults."""
    other = "processes" if args.design == "paired" else "paired"
    given = [name for name, (attr, _) in DESIGN_OPTIONS[other].items() if getattr(args, attr) is not None]
    if given:
        raise BadRun(
            f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to --design {other} only; this run's design "
            f"is {args.design}: leave {'it' if len(given) == 1 else 'them'} out, or add --design {other}"
        )
    if args.seed is not None and args.order != "random":
        raise BadRun(f"--seed {args.seed} seeds --order random only; leave it out, or add --order random")
    for options in DESIGN_OPTIONS.values():
        for attr, default in options.values():
            if getattr(args, attr) is None:
                setattr(args, attr, default)


def check_options(args: argparse.Namespace) -> None:
    """Every option meaningful for the design and in its range, before any work starts."""
    check_design(args)
    checks = [
        ("--alpha", args.alpha, 0 < args.alpha < 1, "a family-wise false-alarm rate between 0 and 1, e.g. 0.05"),
        (
            "--processes",
            args.processes,
            args.processes >= evidence.MIN_PROCESSES,
            f"at least {evidence.MIN_PROCESSES} processes per arm",
        ),
        ("--rewarm", args.rewarm, 0 <= args.rewarm <= 100, "a count of calls from 0 to 100"),
        ("--time-budget", args.time_budget, 0 < args.time_budget < 24 * 60, "minutes, above 0 (e.g. 20)"),
        ("--worker-timeout", args.worker_timeout, 0 < args.worker_timeout <= 24 * 3600, "seconds, above 0 (e.g. 600)"),
    ]
    if args.threshold is not None:
        checks.append(("--threshold", args.threshold, 0 < args.threshold <= 1, "a fraction in (0, 1], e.g. 0.1"))
    if args.target_effect is not None:
        checks.append(("--target-effect", args.target_effect, 0 < args.target_effect <= 1, "a fraction in (0, 1]"))
    if args.pairs is not None:
        checks.append(("--pairs", args.pairs, args.pairs >= MIN_PAIRS, f"at least {MIN_PAIRS}"))
    for name, value, ok, want in checks:
        if not ok or value != value:
            raise BadRun(f"{name} {value}: give {want}")
    if args.json is not None and (problem := output_file_problem(args.json, "--json")):
        raise BadRun(problem)
    if problem := output_folder_problem(args.out, "--out"):
        raise BadRun(problem)


VALUE_OPTIONS = {  # pytest and mlxbench options whose value is the next argument (a path among them is no test path)
    "-k",
    "-m",
    "-p",
    "-o",
    "-c",
    "-W",
    "--data-dir",
    "--backend",
    "--profile",
    "--seed",
    "--rootdir",
    "--basetemp",
    "--confcutdir",
    "--ignore",
    "--ignore-glob",
    "--deselect",
    "--junitxml",
    "--junit-xml",
    "--benchmark-storage",
    "--benchmark-compare",
    "--regression-threshold",
    "--override-ini",
    "--maxfail",
    "--tb",
    "--durations",
}


def is_test_path(arg: str) -> bool:
    """A test file (.py) or a folder holding one (test_*.py, *_test.py or a conftest.py), as pytest collects."""
    path = Path(arg.split("::")[0])
    if path.is_file():
        return path.suffix == ".py"
    if not path.is_dir():
        return False
    return any(next(path.rglob(pattern), None) is not None for pattern in ("test_*.py", "*_test.py", "conftest.py"))


def with_test_path(pytest_args: list[str]) -> list[str]:
    """The pytest arguments, with `benchmarks` in front when none of them names a test path (the value of an
    option, such as `--data-dir DIR`, is not one)."""
    args = [a for a in pytest_args if a != "--"]
    named = any(
        not a.startswith("-") and (i == 0 or args[i - 1] not in VALUE_OPTIONS) and is_test_path(a)
        for i, a in enumerate(args)
    )
    return args if named else ["benchmarks", *args]


def on_nodeids(pytest_args: list[str], nodeids: list[str]) -> list[str]:
    """The pytest arguments with their test paths replaced by `nodeids` (the other options kept): the same
    selection, narrowed to those benchmarks."""
    args = with_test_path(pytest_args)
    kept = [
        a
        for i, a in enumerate(args)
        if a.startswith("-") or (i and args[i - 1] in VALUE_OPTIONS) or not is_test_path(a.split("::")[0])
    ]
    return [*nodeids, *kept]
