"""Options that cannot act on this run, named instead of ignored: pytest-benchmark's calibration options
(on every mlxbench benchmark), and mlxbench's own given without what they act on.

Every mlxbench benchmark is timed with `benchmark.pedantic`, whose rounds and warm-up come from the
workload's profile; pytest-benchmark's calibration options only steer its automatic mode.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from typing import Any

NO_EFFECT = (
    "--benchmark-min-rounds",
    "--benchmark-max-time",
    "--benchmark-min-time",
    "--benchmark-warmup",
    "--benchmark-warmup-iterations",
    "--benchmark-calibration-precision",
)


def given(args: Sequence[str]) -> list[str]:
    """The NO_EFFECT options among command-line arguments (`--opt VALUE` or `--opt=VALUE`), in order."""
    found = []
    for arg in args:
        name = arg.split("=", 1)[0]
        if name in NO_EFFECT and name not in found:
            found.append(name)
    return found


def all_args(invocation: Sequence[str], addopts: Sequence[str]) -> list[str]:
    """The arguments pytest acted on: its ini `addopts`, PYTEST_ADDOPTS, then the command line."""
    return [*addopts, *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")), *invocation]


def warning(options: Sequence[str]) -> str | None:
    """One line naming the options and why they do nothing here, or None."""
    if not options:
        return None
    names = ", ".join(options)
    verb = "has" if len(options) == 1 else "have"
    return (
        f"mlxbench: {names} {verb} no effect on mlxbench benchmarks: each is timed with benchmark.pedantic, its "
        "rounds and warm-up set by the workload's profile; choose them with --profile (seed: full sizes, ci: "
        "fewer rounds)"
    )


def idle(settings: Any, comparing: bool) -> list[str]:
    """mlxbench's own options given where they act on nothing, one line each (they were silently ignored)."""
    lines = []
    if settings.regression_threshold is not None and not comparing:
        lines.append(
            "mlxbench: --regression-threshold has no effect without --benchmark-compare or --regression-gate: it is "
            "the smallest slowdown their verdicts count, and nothing is compared in this run"
        )
    if settings.allow_version_change and not settings.regression_gate:
        lines.append(
            "mlxbench: --allow-version-change has no effect without --regression-gate: only the gate refuses a "
            "baseline of other framework versions (the --benchmark-compare summary compares across them)"
        )
    return lines
