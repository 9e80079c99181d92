"""What a run left behind, said at its end: the file it saved, what the next run compares with,
what changed against the previous saved run, and, on a machine with no history, the closest
machine id that has some.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlxbench.measure import machine
from mlxbench.reports.table import Table
from mlxbench.reports.verdictlines import unjudged_lines
from mlxbench.runs import SAVED_RUN_GLOB, Run, runs_before
from mlxbench.verdicts import words
from mlxbench.verdicts.gate import RegressionGate, judge_benchmarks, unseen
from mlxbench.verdicts.verdict import Result

LISTED = 10  # changed benchmarks named one by one


def saved_names(folder: Path) -> set[str]:
    return {p.name for p in folder.glob(SAVED_RUN_GLOB)} if folder.is_dir() else set()


def no_history(folder: Path, profile: str, others: Sequence[Run] = ()) -> str:
    """Why nothing was compared: no run of this host (`others`: those of other hosts of this machine
    type); on a machine with no saved run at all, the closest machine id that has one."""
    if others:
        unnamed = sum(r.host is None for r in others)
        came = (
            "came from another host of this machine type"
            if not unnamed
            else f"name{'s' * (unnamed == 1)} no host (saved before runs recorded their host)"
            if unnamed == len(others)
            else f"came from another host of this machine type or name none ({unnamed} saved before runs recorded it)"
        )
        return (
            f"no saved {profile}-profile run of this host in {folder}; its {len(others)} "
            f"run{'s' * (len(others) != 1)} {came} "
            f"(hosts are told apart by {machine.HOST_ENV}, else the system's install id): a reference, not this "
            f"host's history. Hosts that should share history set the same {machine.HOST_ENV}"
        )
    line = f"no saved {profile}-profile run of this machine in {folder}"
    if saved_names(folder):
        return line
    root = folder.parent
    others_ids = [p.name for p in root.iterdir() if p.is_dir() and saved_names(p)] if root.is_dir() else []
    closest = machine.closest_machine_id(folder.name, others_ids)
    line += f" (no saved runs for {folder.name} at all)"
    if closest is None:
        return line
    other, diff = closest
    line += f"; closest with history: {other} (differs in: {', '.join(diff)})"
    if diff == ["Python version"]:
        line += "; the machine id names the Python minor version: pin it, or set MLXBENCH_MACHINE_ID"
    return line


def reference_lines(reference: Run, current: Sequence[Mapping[str, Any]]) -> list[str]:
    """This run beside another host's last run of the same machine type: how far apart, never a verdict."""
    import math
    import statistics

    theirs = {name: b["stats"]["median"] for name, b in reference.benchmarks.items()}  # names as this suite's
    ratios = sorted(
        b["stats"]["median"] / theirs[b["fullname"]]
        for b in current
        if theirs.get(b["fullname"], 0) > 0 and b["stats"].get("median", 0) > 0
    )
    when = str(reference.data.get("datetime", ""))[:10] or "?"
    who = "another host" if reference.host is not None else "its host not recorded"
    head = f"mlxbench: reference (not judged): this run against {reference.label} ({who}, {when})"
    if not ratios:
        return [head, f"  no benchmark in common (it holds {len(theirs)}, this run {len(current)})"]
    mid = math.exp(statistics.median(math.log(r) for r in ratios))
    q1, q3 = ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]
    return [
        head,
        f"  {len(ratios)} of {len(current)} benchmarks in common: median ratio x{mid:.2f} this / theirs "
        f"(middle half x{q1:.2f} to x{q3:.2f}, all x{ratios[0]:.2f} to x{ratios[-1]:.2f})",
    ]


def saved_line(
    folder: Path, new: Sequence[str], profile: str, count: int, regressed: int = 0, before: str | None = None
) -> list[str]:
    """What this session saved (the files it wrote itself), within 120 columns; when the gate called some
    of its benchmarks regressed, how to keep comparing with the run `before` it."""
    if not new:
        return [
            "mlxbench: this run was not saved; add --benchmark-autosave to keep it and compare the next run with it"
        ]
    lines = [
        f"mlxbench: saved this run ({count} benchmark{'' if count == 1 else 's'}, {profile} profile) in "
        f"{folder}{os.sep}",  # the folder on its own line, so the long file name (a commit id) fits 120 columns
        *(f"  {n}" for n in sorted(new)),
        f"  the next {profile}-profile run of this host with --benchmark-compare compares with it",
    ]
    if regressed:
        keep = f"--benchmark-compare={before}" if before else "--benchmark-compare=NNNN (a run before it)"
        lines.append(
            f"  it holds {regressed} benchmark{'' if regressed == 1 else 's'} the gate called regressed: to keep "
            f"comparing with the run before, pass {keep}"
        )
    return lines


def judge_offline(
    baseline: Run, saved: Sequence[Run], current: Sequence[Mapping[str, Any]], threshold: float | None = None
) -> tuple[list[Result], dict[str, str]]:
    """The gate's verdicts for `current` against `baseline` (history: the saved runs before it),
    nothing re-measured and nothing failed: what changed, for the summary. `threshold`
    (--regression-threshold) overrides every workload's own, as it does in the gate."""
    gate = RegressionGate.from_runs(baseline, runs_before(baseline, list(saved)), threshold)
    return judge_benchmarks(gate, {b["fullname"]: b for b in current}), gate.not_judged


def label(b: Mapping[str, Any]) -> str:
    info = b.get("extra_info") or {}
    if "workload" in info:
        return f"{info['workload']}[{info.get('variant', '')}] on {info.get('backend', '?')}"
    return str(b.get("name") or b["fullname"])


def changed_lines(
    results: Sequence[Result], baseline: Run, current: Sequence[Mapping[str, Any]], not_judged: Mapping[str, str]
) -> list[str]:
    """'what changed' against `baseline`: counts, the evidence, and each benchmark that moved."""
    counted = words.counted(results)
    total = len(results) + len(not_judged)
    history = [r for r in results if r.method == "history"]
    runs = f"{baseline.label} and the saved runs before it" if history else baseline.label
    lines = [f"mlxbench: what changed against {runs}:", f"  {counted} of {total}"]
    if history:
        lines.append(
            "  evidence: saved runs, one process each (this run's median against their geometric mean and spread; "
            f"intervals at alpha 0.05 over {total} benchmark{'' if total == 1 else 's'})"
        )
    lines += unjudged_lines(not_judged)
    lines += Table.of(results).terminal(only_changed=True, limit=LISTED)  # names as the gate's table and -k write them
    if results and not any(r.verdict in words.MOVED for r in results):
        lines.append("  nothing moved beyond what its evidence can tell apart")
    if blind := unseen(results, baseline.profile):
        lines.append(f"  {blind}")
    return lines
