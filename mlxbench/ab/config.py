"""What one `mlxbench ab` is, typed and checked once: `ABConfig`, made from the command line (`from_args`) or
in Python (releases' steps, a test), and `alpha_problem`, the one check of `--alpha` that the A/B, its merge
and the replay tool share.

    config = ABConfig(a=".venv-old/bin/python", pytest_args=("benchmarks", "-k", "linreg"), pairs=4)
    code = mlxbench.ab.command.run(config)  # the exit code `mlxbench ab` would give

Every check is made when a config is made, before any work: each value in its range, no option the chosen
design would ignore (they were silently dropped), output paths writable, no pytest option that would write
an arm's JSON elsewhere. A problem is one BadRun naming the option as typed on the command line (the field
`time_budget` is `--time-budget`), which the CLI says in one line, exit 2. A design's options left None take
the design's defaults (`--seed` only with `--order random`); the other design's stay None, so that a copy
(`dataclasses.replace`) passes the same checks.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from mlxbench.paths import output_file_problem, output_folder_problem
from mlxbench.runs import BadRun
from mlxbench.verdicts import evidence
from mlxbench.verdicts.paired import MIN_PAIRS
from mlxbench.verdicts.verdict import threshold_problem

Design = Literal["paired", "processes"]
Order = Literal["alternate", "random"]
Pipeline = Literal["auto", "on", "off"]
PIPELINES: tuple[Pipeline, ...] = ("auto", "on", "off")  # --pipeline's choices

DESIGN_OPTIONS: dict[str, dict[str, tuple[str, Any]]] = {  # option: (field, default); only its design reads it
    "paired": {
        "--time-budget": ("time_budget", 20.0),
        "--rewarm": ("rewarm", 1),
        "--pairs": ("pairs", None),
        "--worker-timeout": ("worker_timeout", 600.0),
        "--pipeline": ("pipeline", "auto"),
        "--draws": ("draws", 1),
    },
    "processes": {
        "--processes": ("processes", 6),
        "--order": ("order", "alternate"),
        "--seed": ("seed", 0),
        "--target-effect": ("target_effect", None),
    },
}
RANGES: dict[str, tuple[str, Callable[[Any], bool], str]] = {  # field: (option, in range, what to give)
    "processes": (
        "--processes",
        lambda k: k >= evidence.MIN_PROCESSES,
        f"at least {evidence.MIN_PROCESSES} processes per arm",
    ),
    "rewarm": ("--rewarm", lambda n: 0 <= n <= 100, "a count of calls from 0 to 100"),
    "time_budget": ("--time-budget", lambda m: 0 < m < 24 * 60, "minutes, above 0 (e.g. 20)"),
    "worker_timeout": ("--worker-timeout", lambda s: 0 < s <= 24 * 3600, "seconds, above 0 (e.g. 600)"),
    "target_effect": ("--target-effect", lambda f: 0 < f <= 1, "a fraction in (0, 1]"),
    "pairs": ("--pairs", lambda p: p >= MIN_PAIRS, f"at least {MIN_PAIRS}"),
    "pipeline": ("--pipeline", lambda s: s in PIPELINES, "auto, on or off"),
    "draws": ("--draws", lambda d: 1 <= d <= 20, "a count of preparations per pair from 1 to 20"),
}
FORBIDDEN = ("--benchmark-autosave", "--benchmark-save", "--benchmark-json", "--regression-gate", "--benchmark-disable")


def alpha_problem(alpha: float) -> str | None:
    """Why `--alpha` cannot be a family-wise false-alarm rate (it is not strictly between 0 and 1), or None."""
    if 0 < alpha < 1:
        return None
    return f"--alpha {alpha}: give a rate between 0 and 1, the family-wise false-alarm rate (e.g. 0.05)"


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    """`--a-env`/`--b-env` values (NAME=VALUE, repeated) as a mapping."""
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise BadRun(f"--a-env/--b-env {pair!r}: give NAME=VALUE")
        env[name] = value
    return env


def env_problem(env: Mapping[str, str]) -> str | None:
    """Why an arm's environment would measure nothing (a variable the thread policy sets in every worker), or
    None."""
    from mlxbench.measure.threads import ENV_VARS, THREADS_ENV

    for name, value in env.items():
        if name in ENV_VARS:  # the thread policy sets these in every worker: the value would be overwritten
            return (
                f"--a-env/--b-env {name}={value}: the suite's thread policy sets {name} itself in every run (it "
                f"would measure nothing); to compare thread counts give {THREADS_ENV}={value or 'N'}"
            )
    return None


@dataclass(frozen=True)
class ABConfig:
    """One A/B: its arms, its design and that design's budget, how it judges, and where it writes."""

    pytest_args: Sequence[str] = ()  # the selection (no test path: `benchmarks`)
    a: str | None = None  # arm A's interpreter (None: this one)
    b: str | None = None  # arm B's interpreter
    a_rev: str | None = None  # arm A runs this git revision (mlxbench.ab.revisions)
    b_rev: str | None = None  # with a_rev: B's revision (None: the working tree as it is)
    a_env: Mapping[str, str] = field(default_factory=dict)  # environment for arm A
    b_env: Mapping[str, str] = field(default_factory=dict)
    baseline_run: Path | None = None  # arm A: an environment with this saved run's framework versions
    design: Design = "paired"
    time_budget: float | None = None  # paired: minutes to add pairs in (20)
    rewarm: int | None = None  # paired: untimed calls after each hand-over (1)
    pairs: int | None = None  # paired: exactly this many pairs (None: as the budget and the looks decide)
    worker_timeout: float | None = None  # paired: seconds a worker may stay silent (600)
    pipeline: Pipeline | None = None  # paired: start the next pair's workers while a pair times (auto)
    draws: int | None = None  # paired: preparations of each benchmark per pair of workers (1)
    processes: int | None = None  # processes: fresh processes per arm (6)
    order: Order | None = None  # processes: alternate (A B B A ...) or random
    seed: int | None = None  # processes: the seed of order random (0)
    target_effect: float | None = None  # processes: also say how many processes would see this change
    alpha: float = evidence.ALPHA  # family-wise false-alarm rate
    threshold: float | None = None  # smallest change that counts (None: each workload's, else 10%)
    json: Path | None = None  # also write the verdicts here
    out: Path = Path("ab-runs")  # each A/B writes into a new folder under this one

    def __post_init__(self) -> None:
        for name in ("pytest_args", "a_env", "b_env"):  # copies: a caller's list or dict cannot change this one
            value = getattr(self, name)
            object.__setattr__(self, name, tuple(value) if name == "pytest_args" else dict(value))
        for name in ("baseline_run", "json", "out"):
            if (value := getattr(self, name)) is not None:
                object.__setattr__(self, name, Path(value))
        self._check_design()
        for attr, default in DESIGN_OPTIONS[self.design].values():  # order before seed
            if getattr(self, attr) is None and (attr != "seed" or self.order == "random"):
                object.__setattr__(self, attr, default)  # a seed only to a random order: a copy checks again
        if problem := self._problem():
            raise BadRun(problem)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ABConfig:
        """The config of a parsed `mlxbench ab` command line (mlxbench.ab.command.add_parser)."""
        given = {f.name: getattr(args, f.name) for f in fields(cls)}
        return cls(**given | {"a_env": parse_env(args.a_env), "b_env": parse_env(args.b_env)})

    def _check_design(self) -> None:
        """Refuse a design's option given to the other design (it was silently dropped)."""
        if self.design not in DESIGN_OPTIONS:
            raise BadRun(f"--design {self.design!r}: give paired or processes")
        other = "processes" if self.design == "paired" else "paired"
        given = [name for name, (attr, _) in DESIGN_OPTIONS[other].items() if getattr(self, attr) is not None]
        if given:
            one = len(given) == 1
            raise BadRun(
                f"{', '.join(given)} appl{'ies' if one else 'y'} to --design {other} only; this run's design "
                f"is {self.design}: leave {'it' if one else 'them'} out, or add --design {other}"
            )
        if self.order not in (None, "alternate", "random"):
            raise BadRun(f"--order {self.order!r}: give alternate or random")
        if self.seed is not None and self.order != "random":
            raise BadRun(f"--seed {self.seed} seeds --order random only; leave it out, or add --order random")

    def _problem(self) -> str | None:
        """The first value out of its range or unusable, in words; None when every one is fine."""
        if problem := alpha_problem(self.alpha):
            return problem
        for attr, (option, ok, want) in RANGES.items():  # the other design's are None
            value = getattr(self, attr)
            if value is not None and (not ok(value) or value != value):
                return f"{option} {value}: give {want}"
        if problem := threshold_problem(self.threshold):
            return f"--{problem}"
        if self.json is not None and (problem := output_file_problem(self.json, "--json")):
            return problem
        if problem := output_folder_problem(self.out, "--out"):
            return problem
        if bad := [a for a in self.pytest_args if a.split("=")[0] in FORBIDDEN]:
            return f"{', '.join(bad)} cannot be used inside an A/B run: each process's JSON goes to its arm's folder"
        if self.baseline_run is not None and self.a:
            return "give either --a or --baseline-run (which makes arm A's environment), not both"
        return env_problem(self.a_env) or env_problem(self.b_env)
