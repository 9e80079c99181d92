"""The report's data model: a workloads x backends matrix of cells, the gate's verdicts, change points.

Built from saved runs only; its document (render), plots (plots) and file writing (publish)
in mlxbench.reports depend on this module, never the other way round. Verdicts come
from the regression gate (mlxbench.verdicts.gate.judge_run) for the table and the history plots alike.

A long history costs a bounded amount: the history plots carry the gate's verdicts on the latest
VERDICT_RUNS runs (each one a gate of its own, on the runs that judge it: at most the gate's HISTORY per
benchmark), and change points are searched in the latest changepoints.SEARCH_RUNS; the report says so in
a note where it shows more runs than that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from mlxbench.reports.plural import nouns
from mlxbench.reports.table import Table
from mlxbench.runs import BadRun, Run, runs_before
from mlxbench.units import fmt_bytes, slower_or_faster
from mlxbench.verdicts import changepoints, verdict
from mlxbench.verdicts.changepoints import Change, find_changes
from mlxbench.verdicts.gate import RegressionGate, judge_run
from mlxbench.verdicts.history import HISTORY
from mlxbench.verdicts.words import counts

MEMORY_KINDS = {"peak": "peak (allocator)", "current": "held after the call", "process_peak": "process peak RSS growth"}
UNIT_WORDS = {"it": "step", "steps": "step", "ops": "op", "exp": "exp"}
VERDICT_RUNS = 20  # the latest runs whose gate verdicts the history plots mark: one gate each (~0.15 s on a 2-core VM)


@dataclass
class Cell:
    name: str  # the benchmark's full name
    workload: str
    variant: str
    backend: str
    median: float
    ci: tuple[float, float]
    rounds: int
    accuracy: str = ""  # "metric=value" of the first gate
    gates_passed: bool | None = None
    speedup: float | None = None  # reference backend's median / this median
    rate: str = ""  # e.g. "10,498 it/s"
    label: str = ""  # what the number measures, when a workload says (e.g. "eager execution")
    execution: str = ""  # "eager" | "lazy" | "async" | "" (unknown)
    cadence: str = ""  # "step" | "end" for training variants
    per_unit: float = math.nan  # seconds per unit of work (1 / rate)
    unit: str = ""  # what per_unit counts ("step", "op", ...)
    memory: dict[str, Any] | None = None  # extra_info["peak_memory"]: bytes, kind, source, over
    fastest: bool = False  # the fastest backend of its (workload, variant) row


@dataclass
class Report:
    runs: list[Run]
    reference: str
    cells: list[Cell] = field(default_factory=list)
    verdicts: list[verdict.Result] = field(default_factory=list)
    not_judged: dict[str, str] = field(default_factory=dict)  # fullname -> why it got no verdict
    baseline: str | None = None
    notes: list[str] = field(default_factory=list)
    # one {fullname: verdict} per run, runs[0]'s empty: run i judged against run i-1 by the gate
    history_verdicts: list[dict[str, verdict.Result]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    sweep: Sweep | None = None  # the size sweep in the current run, if it holds one
    table: Table | None = None  # the verdict table: every benchmark of the current run against the baseline
    searched: int = 0  # the latest runs the change-point search read
    judged: int = 0  # the latest runs whose gate verdicts the history plots mark (the current run's: the table's)

    @property
    def current(self) -> Run:
        return self.runs[-1]

    @property
    def counts(self) -> dict[str, int]:
        return counts(self.verdicts)

    @property
    def title(self) -> str:
        """'mlxbench report — <machine id>, <profile> profile, <date>'."""
        when = run_time(self.current)
        date = when.strftime("%Y-%m-%d %H:%M") if when else self.current.label
        machine = self.current.facts.get("machine_id", "unknown machine")
        return f"mlxbench report — {machine}, {self.current.profile or 'unknown'} profile, {date}"

    def short(self, name: str) -> str:
        """'linreg/mlx-cpu eager-step' for a benchmark of the current run (its full name otherwise)."""
        for c in self.cells:
            if c.name == name and c.workload != "?":
                return f"{c.workload}/{c.backend} {c.variant}".rstrip()
        return name

    def sorted_verdicts(self) -> list[verdict.Result]:
        return sorted(self.verdicts, key=verdict.verdict_order)


def run_time(run: Run) -> datetime | None:
    """When the run was made (its JSON's "datetime"), or None if it does not say."""
    try:
        return datetime.fromisoformat(str(run.data.get("datetime")))
    except ValueError:
        return None


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def make_cell(b: dict) -> Cell:
    """One matrix cell; a time that is NaN or negative shows as 'n/a', a missing one is a BadRun."""
    name = b.get("fullname", "?")
    info = b.get("extra_info") or {}
    st = b.get("stats")
    if not isinstance(st, dict) or "median" not in st:
        raise BadRun(f"benchmark {name!r} has no median time in its stats: the run is damaged; rerun the benchmarks")
    median = float(st["median"]) if finite(st["median"]) and st["median"] >= 0 else math.nan
    data = st.get("data") if isinstance(st.get("data"), (list, np.ndarray)) else []
    gates = [g for g in info.get("gates") or [] if isinstance(g, dict)]
    acc = ""
    if gates:
        g = gates[0]
        metric = str(g.get("metric", "?"))
        acc = f"{metric}={g['value']:.4g}" if finite(g.get("value")) else metric
    rate, per_unit, unit = "", math.nan, ""
    for key, value in info.items():
        if key.endswith("_per_s") and finite(value) and value > 0:
            work = key.removesuffix("_per_s")
            rate, per_unit, unit = f"{value:,.0f} {work}/s", 1.0 / value, UNIT_WORDS.get(work, work)
            break
    memory = info.get("peak_memory")
    variant = str(info.get("variant", b.get("param") or ""))
    cadence = str(info.get("cadence") or "")
    if not cadence and variant.rpartition("-")[2] in ("step", "end") and variant.count("-") == 1:
        cadence = variant.rpartition("-")[2]
    return Cell(
        name=name,
        workload=info.get("workload", b.get("group") or "?"),
        variant=variant,
        backend=info.get("backend", "?"),
        median=median,
        ci=verdict.median_ci(data, median) if math.isfinite(median) else (math.nan, math.nan),
        rounds=int(st["rounds"]) if finite(st.get("rounds")) else len(data),
        accuracy=acc,
        gates_passed=all(g.get("passed") for g in gates) if gates else None,
        rate=rate,
        label=" / ".join(str(info[k]) for k in ("execution", "placement", "memory") if isinstance(info.get(k), str)),
        execution=str(info.get("execution") or ""),
        cadence=cadence,
        per_unit=per_unit,
        unit=unit,
        memory=memory if isinstance(memory, dict) and finite(memory.get("bytes")) else None,
    )


def mark_fastest(cells: Sequence[Cell]) -> None:
    rows: dict[tuple[str, str], list[Cell]] = {}
    for c in cells:
        if finite(c.median) and c.median > 0:
            rows.setdefault((c.workload, c.variant), []).append(c)
    for row in rows.values():
        if len(row) > 1:
            min(row, key=lambda c: c.median).fastest = True


def history_verdicts(runs: Sequence[Run], latest: int = VERDICT_RUNS) -> list[dict[str, verdict.Result]]:
    """Each of the `latest` last runs judged by the gate against the run of its host before it (that host's
    earlier runs that judge it as its history); an earlier run, and a run with no earlier run of its host, get
    none. One entry per run."""
    out: list[dict[str, verdict.Result]] = [{} for _ in runs]
    for i in range(max(len(runs) - latest, 0), len(runs)):
        mine = [r for r in runs[:i] if r.host == runs[i].host]
        if mine:
            gate = RegressionGate.from_runs(mine[-1], judging(mine[:-1], mine[-1]), None)
            out[i] = {r.name: r for r in judge_run(gate, runs[i])}
    return out


def judging(earlier: Sequence[Run], baseline: Run) -> list[Run]:
    """The latest of `earlier` (oldest first) that the gate of `baseline` reads: back to where each of the
    baseline's benchmarks has the gate's HISTORY runs of its profile with times (it reads no further back),
    so one gate costs the same after 10 runs or 1,000. Each benchmark is judged on the same runs as with all
    of `earlier`; only the shared spread no longer counts benchmarks that left the suite before them."""
    need = {name: HISTORY for name in baseline.benchmarks}
    for k in range(len(earlier) - 1, -1, -1):
        if not need:
            return list(earlier[k + 1 :])
        if earlier[k].profile != baseline.profile:
            continue
        for name, b in earlier[k].benchmarks.items():
            if name in need and (b.get("stats") or {}).get("data"):
                need[name] -= 1
                if not need[name]:
                    del need[name]
    return list(earlier)


def build(
    runs: Sequence[Run], reference: str = "numpy", baseline: Run | None = None, saved: Sequence[Run] = ()
) -> Report:
    """The report of `runs` (the last is the current run). Its verdicts judge the current run against
    `baseline` (default: the run of its host before it), with the baseline's history from `saved` where
    given (the runs of its folder, as `mlxbench compare` judges), else from `runs`."""
    rep = Report(list(runs), reference)
    try:
        rep.cells = [make_cell(b) for b in rep.current.data["benchmarks"]]
    except BadRun as exc:
        raise BadRun(f"{rep.current.path}: {exc}") from None
    ref = {(c.workload, c.variant): c.median for c in rep.cells if c.backend == reference}
    for c in rep.cells:
        if (c.workload, c.variant) in ref and c.median > 0:
            c.speedup = ref[(c.workload, c.variant)] / c.median
    mark_fastest(rep.cells)
    if rep.current.facts.get("virtual_gpu"):
        rep.notes.append("These timings come from a paravirtual GPU (a hosted macOS VM): correctness only, not gating.")
    rep.history_verdicts = history_verdicts(rep.runs[:-1], VERDICT_RUNS - 1) if len(rep.runs) > 1 else []
    others = [r.label for r in runs[:-1] if r.host != rep.current.host]
    if others:
        rep.notes.append(
            f"{', '.join(others)}: made by another host of this machine type, shown but never judged against (a "
            "host's history is its own runs; hosts that should share one set the same MLXBENCH_HOST)"
        )
    if baseline is None:
        mine = [r for r in runs[:-1] if r.host == rep.current.host]
        baseline = mine[-1] if mine else None
    if baseline is not None:
        rep.baseline = baseline.label
        if saved:
            earlier = runs_before(baseline, saved)
        else:
            given = [r for r in runs if r.host == baseline.host]
            earlier = given[: given.index(baseline)] if baseline in given else []
        gate = RegressionGate.from_runs(baseline, judging(earlier, baseline), None)  # as the history plots' gates
        rep.verdicts = judge_run(gate, rep.current)
        rep.not_judged = dict(gate.not_judged)
        rep.table = Table.of(rep.verdicts, rep.not_judged, lambda n: (baseline.median(n), rep.current.median(n)))
    if len(rep.runs) > 1:
        rep.history_verdicts.append({v.name: v for v in rep.verdicts})  # the table's verdicts, for the last run
    rep.judged = min(len(rep.runs), VERDICT_RUNS)
    rep.changes = find_changes(rep.runs)
    rep.searched = changepoints.searched(rep.runs)
    rep.notes += bounds_notes(rep)
    rep.sweep = Sweep.of([rep.current])
    return rep


def bounds_notes(rep: Report) -> list[str]:
    """What a long history's report looked at, where it shows more runs than that."""
    notes, shown = [], len(rep.runs)
    if rep.judged < shown:
        first = rep.runs[-rep.judged].label
        notes.append(
            f"The history plots mark the gate's verdicts on the latest {rep.judged} of the {shown} runs (from "
            f"{first} on): each is a gate of its own, so older runs are shown unmarked"
        )
    if rep.searched < shown and rep.searched >= changepoints.MIN_RUNS:
        first = rep.runs[-rep.searched].label
        notes.append(
            f"Change points were searched in the latest {rep.searched} of the {shown} runs (from {first} on); a "
            f"change before them is not looked for (the search grows with the square of the runs it reads)"
        )
    return notes


@dataclass
class Sweep:
    """The size-sweep points of a run: per-backend lines, where they cross, how they scale."""

    lines: list[Any]
    crossovers: list[Any]
    exponents: list[Any]

    @classmethod
    def of(cls, runs: Sequence[Run]) -> Sweep | None:
        from mlxbench.reports import sweep

        found = sweep.lines_from_runs(runs)
        if not found:
            return None
        return cls(found, sweep.all_crossovers(found), sweep.exponents(found))


def memory_words(memory: dict[str, Any] | None) -> str:
    """'12.3 MiB peak (allocator)', '' when nothing was recorded."""
    if not memory:
        return ""
    return f"{fmt_bytes(memory['bytes'])} {MEMORY_KINDS.get(str(memory.get('kind')), str(memory.get('kind', '')))}"


def speed_words(speedup: float | None, reference: str) -> str:
    """'2.1x faster than numpy' / '31.7x slower than numpy' / 'as fast as numpy'."""
    if speedup is None or not finite(speedup) or speedup <= 0:
        return ""
    words = slower_or_faster(1 / speedup)
    return f"{words} than {reference}" if words else f"as fast as {reference}"


def change_words(ratio: float) -> str:
    """'31% slower', '2.1x faster' (a factor from 1.5x on), 'no change'."""
    if not finite(ratio) or ratio <= 0:
        return "n/a"
    if 1 / 1.005 <= ratio <= 1.005:
        return "no change"
    factor = ratio if ratio > 1 else 1 / ratio
    size = f"{factor - 1:.0%}" if factor < 1.5 else f"{factor:.3g}x"
    return f"{size} {'slower' if ratio > 1 else 'faster'}"


def machine_rows(run: Run) -> list[tuple[str, str]]:
    f, mi = run.facts, run.data.get("machine_info") or {}
    blas = f.get("blas") or {}
    commit = (run.data.get("commit_info") or {}).get("id", "?")
    threads = {**(f.get("thread_env") or f.get("threads") or {}), "torch": f.get("torch_threads")}
    for pool in (f.get("blas") or {}).get("threadpools") or []:
        threads[pool.get("internal_api") or "?"] = pool.get("num_threads")
    return [
        ("machine id", f.get("machine_id", "?")),
        ("CPU", f"{f.get('cpu_model', mi.get('processor', '?'))} ({nouns(f.get('cpu_count', '?'), 'core')})"),
        ("GPU", ", ".join(f.get("gpus") or []) or "none"),
        ("frameworks", ", ".join(f"{k} {v}" for k, v in (f.get("versions") or {}).items())),
        (
            "BLAS",
            "; ".join(
                f"{k}: {v.get('blas') if isinstance(v, dict) else v}"
                for k, v in blas.items()
                if k in ("numpy", "torch", "mlx") and v
            ),
        ),
        ("threads", ", ".join(f"{k}={v}" for k, v in threads.items() if v is not None) or "defaults"),
        ("python", mi.get("python_version", "?")),
        ("profile", run.profile or "?"),
        ("run", f"{run.label} ({run.data.get('datetime', '?')}, commit {commit})"),
    ]


def safe_name(name: str) -> str:
    """A file-name-safe form of a workload name (for plot files)."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


def image_name(kind: str, workload: str) -> str:
    """The one place plot file names are made: bars_<workload>.png, history_<workload>.png, ..."""
    return f"{kind}_{safe_name(workload)}.png"
