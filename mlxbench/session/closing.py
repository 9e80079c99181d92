"""The plugin's first and last words in the terminal: a warning for pytest-benchmark options that
cannot act, progress lines while benchmarks run, and at the end the summary matrices, what was saved
and what changed (mlxbench.session.summary, mlxbench.measure.progress, mlxbench.session.outcome do the work)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from mlxbench.measure import machine
from mlxbench.measure.progress import Progress
from mlxbench.paths import relative_text
from mlxbench.session import bridge, ignored, outcome, summary
from mlxbench.session.context import RunContext
from mlxbench.session.saving import storage_folder
from mlxbench.units import fit

QUIET_EVERY = 60.0  # seconds between progress lines when stdout is not a terminal


def start(config: pytest.Config, tr: Any) -> None:
    """At session start: the ignored-options warning, and progress lines of long benchmarks: every
    mlxbench_progress_every seconds on a terminal (or with --mlxbench-progress), once a minute otherwise (a CI
    log never goes quiet for the minutes an MNIST epoch takes)."""
    ctx = RunContext.of(config)
    warning = ignored.warning(ignored.given(ignored.all_args(config.invocation_params.args, config.getini("addopts"))))
    if warning and tr is not None:
        write(tr, [warning], yellow=True)
    if ctx is None or tr is None:
        return
    asked = bool(getattr(config.option, "benchmark_compare", None)) or ctx.no_baseline is not None  # none saved yet
    write(tr, ignored.idle(ctx.settings, asked or ctx.settings.regression_gate), yellow=True)
    try:
        every = float(config.getini("mlxbench_progress_every"))
    except ValueError:
        raise pytest.UsageError(
            f"mlxbench_progress_every = {config.getini('mlxbench_progress_every')!r}: give seconds, e.g. 5"
        ) from None
    if not (config.option.mlxbench_progress or getattr(tr, "isatty", False)):
        every = max(every, QUIET_EVERY)
    progress = Progress(lambda line: say(config, line), every=every)
    disabled = bool(getattr(config.option, "benchmark_disable", False))
    ctx.watch = lambda prepared, label: progress.watch(prepared, label, disabled)


def current(config: pytest.Config) -> list[dict]:
    """This session's benchmarks as pytest-benchmark saves them, serialized once (read at the end only)."""
    ctx = RunContext.of(config)
    if ctx.current is None:
        ctx.current = [b.as_dict(include_data=True) for b in bridge.held(config) if getattr(b, "stats", None)]
    return ctx.current


def compared(config: pytest.Config) -> tuple[Any, list[Any], str | None, dict[str, str]]:
    """(baseline Run, its verdicts for this run, why there are none, the benchmarks not judged and why)
    when a baseline was compared."""
    ctx = RunContext.of(config)
    if ctx.compared is None:
        ctx.compared = judge(config)
    return ctx.compared


def judge(config: pytest.Config) -> tuple[Any, list[Any], str | None, dict[str, str]]:
    from mlxbench.runs import comparability

    ctx = RunContext.of(config)
    baseline = ctx.baseline  # read once at configure
    if baseline is None or not getattr(config.option, "benchmark_compare", None):
        return None, [], None, {}
    gate = ctx.gate
    if gate is not None:
        return gate.baseline, list(gate.results), None, dict(gate.not_judged)
    saved = ctx.saved
    distributions = ctx.registry.distributions
    why = comparability(baseline.facts, machine.stable_facts(distributions), True, distributions)
    if why:
        return baseline, [], f"no verdicts against {baseline.label}: {why}", {}
    results, not_judged = outcome.judge_offline(baseline, saved, current(config), ctx.settings.regression_threshold)
    return baseline, results, None, not_judged


def write_summary(tr: Any, config: pytest.Config) -> None:
    benchmarks = current(config)
    if not benchmarks:
        return
    baseline, results, _, _ = compared(config)
    verdicts = {r.name: r.as_dict() for r in results}
    lines = summary.render(benchmarks, verdicts, baseline.label if baseline else None, width=summary.WIDTH)
    from mlxbench.reports import sweep, sweeptables

    if found := sweep.lines(benchmarks):
        lines += ["", *sweeptables.terminal_lines(sweep.all_crossovers(found), sweep.exponents(found))]
    if lines:
        tr.section("mlxbench summary")
        for line in lines:
            tr.write_line(line)


SKIP_REASONS = 8  # skip reasons named one per line in the closing lines; the rest are counted


def skipped_lines(tr: Any, benchmarks: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The skipped benchmarks (tests of a workload, or tests that use `bench`: node ids in `benchmarks`), one
    line per reason (most first), so that a missing dataset or backend is said in the summary, in this
    repository or any other, without pytest's -rs and its one long SKIPPED line per test."""
    reasons: dict[str, int] = {}
    for report in (getattr(tr, "stats", None) or {}).get("skipped", []):
        workload = "workload" in (getattr(report, "keywords", None) or {})
        if not workload and getattr(report, "nodeid", None) not in benchmarks:
            continue  # a test that measures nothing (a unit test's own skip) is not a skipped benchmark
        longrepr = getattr(report, "longrepr", None)
        why = str(longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr or "?")
        why = re.sub(r"^\S+\[[^\]]*\] ", "", why.removeprefix("Skipped: ").split("\n")[0])  # the test's own name
        why = why if len(why) <= 200 else why[:197] + "..."
        reasons[why] = reasons.get(why, 0) + 1
    ranked = sorted(reasons.items(), key=lambda kv: -kv[1])
    lines = [f"mlxbench: skipped {n} benchmark{'s' * (n != 1)}: {why}" for why, n in ranked[:SKIP_REASONS]]
    if rest := ranked[SKIP_REASONS:]:
        n = sum(count for _, count in rest)
        lines.append(
            f"mlxbench: skipped {n} more benchmark{'s' * (n != 1)} for {len(rest)} other "
            f"reason{'s' * (len(rest) != 1)} (pytest -rs lists each)"
        )
    return lines


def write_outcome(tr: Any, config: pytest.Config) -> None:
    """The last lines: what was saved and where, what the next run compares with, what changed."""
    ctx = RunContext.of(config)
    benchmarks = current(config)
    write(tr, skipped_lines(tr, ctx.benchmarks), yellow=True)
    if ctx.no_baseline:
        write(tr, [f"mlxbench: nothing compared: {ctx.no_baseline}"], yellow=True)
    if ctx.reference is not None and benchmarks:
        write(tr, outcome.reference_lines(ctx.reference, benchmarks))
    baseline, results, why, not_judged = compared(config)
    if why:
        write(tr, [f"mlxbench: {why}"], yellow=True)
    elif baseline is not None and (results or not_judged) and not (ctx.settings.regression_gate and ctx.gate):
        write(tr, outcome.changed_lines(results, baseline, benchmarks, not_judged))  # the gate printed its own
    written = ctx.written
    for line in written:  # exactly the files this session wrote or kept (not those of a session beside it)
        if not line.startswith("saved "):
            write(tr, [f"mlxbench: {line}"], yellow=line.startswith("could not"))
    if not benchmarks or ctx.diverted[1] or not bridge.is_file_storage(config):
        return
    if any(line.startswith("could not save") for line in written):  # said above, with where it is and what to do
        return
    folder = storage_folder(config)
    new = [Path(line.removeprefix("saved ")).name for line in written if line.startswith("saved ")]
    regressed = sum(
        ((b.get("extra_info") or {}).get("verdict") or {}).get("verdict") == "regressed" for b in benchmarks
    )
    before = None
    if ctx.baseline is not None:  # its id when it lies in this storage folder, else its path
        before = (
            ctx.baseline.label if ctx.baseline.path.parent.resolve() == folder.resolve() else str(ctx.baseline.path)
        )
    write(tr, outcome.saved_line(folder, new, ctx.profile, len(benchmarks), regressed, before), green=bool(new))


def write(tr: Any, lines: list[str], **markup: bool) -> None:
    """mlxbench's own lines in pytest's terminal, each within 120 columns (mlxbench.units.fit), paths under the
    working directory relative to it."""
    for line in lines:
        for part in fit(relative_text(line)):
            tr.write_line(part, **markup)


def say(config: pytest.Config, message: str) -> None:
    """A progress line in pytest's terminal (within 120 columns), even while output is captured."""
    tr = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")
    lines = fit(message)
    if tr is None:
        print("\n".join(lines), file=sys.stderr)
        return
    path = getattr(tr, "currentfspath", None)  # the test file whose results pytest's line is printing
    if getattr(getattr(tr, "_tw", None), "width_of_current_line", None) == 0:
        tr.currentfspath = None  # nothing on this line yet (a progress line just ended it): no empty line first
    if capman is not None:
        with capman.global_and_fixture_disabled():
            for line in lines:
                tr.write_line(line)
    else:
        for line in lines:
            tr.write_line(line)
    if path is not None:  # the results go on below the progress lines without printing the file's name again
        tr.currentfspath = path


def report_incomplete(terminalreporter, ctx: RunContext) -> None:
    exitstatus, diverted = ctx.diverted
    if not diverted:
        return
    from mlxbench.session import saving

    why = saving.REASONS.get(exitstatus, f"exit {int(exitstatus)}")
    kept = [p for p in diverted if p.is_file()]  # pytest-benchmark writes nothing when no benchmark was timed
    where = (
        f"its data is kept in: {', '.join(str(p) for p in kept)}"
        if kept
        else "no benchmark recorded a time, so there was no data to keep"
    )
    write(
        terminalreporter,
        [
            f"mlxbench: this session did not finish cleanly ({why}): it was NOT saved as a run, so no comparison, "
            f"gate or history reads it; {where}"
        ],
        yellow=True,
    )
