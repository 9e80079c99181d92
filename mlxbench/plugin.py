"""The pytest plugin: options, backend parametrization, the `bench` fixture, run metadata.

Importing this module imports neither MLX nor PyTorch; backends import their framework when a
test first uses them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from mlxbench import cancel, datasets
from mlxbench.measure import compat, machine
from mlxbench.measure.baton import Baton, keep_undecided
from mlxbench.measure.pointguard import PointGuard
from mlxbench.measure.runner import Bench
from mlxbench.measure.threads import ThreadPolicy
from mlxbench.registry import Registry
from mlxbench.reports import verdictlines
from mlxbench.runs import BadRun, baseline_run, load_folder, runs_before, split_by_host
from mlxbench.session import bridge, closing, options, outcome, saving
from mlxbench.session.closing import say
from mlxbench.session.context import RunContext
from mlxbench.session.saving import storage_folder
from mlxbench.session.settings import Settings
from mlxbench.units import fit, usage_text
from mlxbench.verdicts.gate import RegressionGate
from mlxbench.verdicts.gate import young as gate_young
from mlxbench.workload import variants_for


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    options.add(parser)
    if not bridge.parse_json_as_path(parser) and not pluginmanager.has_plugin("mlxbench-json-option"):
        pluginmanager.register(bridge.JsonOptionWatch(parser), "mlxbench-json-option")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    try:
        configure(config)
    except pytest.UsageError as exc:  # pytest prints it after "ERROR: ": fitted to 120 columns with that prefix
        raise pytest.UsageError(usage_text(str(exc))) from None


def configure(config: pytest.Config) -> None:
    compat.check(config)  # a pytest/pytest-benchmark pair that cannot time: one usage error before anything runs
    config.addinivalue_line("markers", "workload(name): the mlxbench workload a benchmark measures")
    registry = Registry.load()
    ctx = RunContext(settings=Settings.from_config(config, registry), registry=registry)
    ctx.attach(config)
    ctx.threads = ThreadPolicy.apply(ctx.settings.threads)  # put back at unconfigure
    if not config.pluginmanager.has_plugin("mlxbench-session-watch"):
        config.pluginmanager.register(saving.SessionWatch(ctx), "mlxbench-session-watch")
    try:
        ctx.baton = Baton.from_env()  # one arm's worker of a time-paired `mlxbench ab`
        ctx.points = PointGuard()  # reads MLXBENCH_POINT_BUDGET: a bad value stops the run before it starts
        datasets.download_timeout()  # MLXBENCH_DOWNLOAD_TIMEOUT too (it was a skip of every dataset benchmark)
    except (ValueError, datasets.DatasetUnavailable) as exc:  # BadBudget too
        raise pytest.UsageError(str(exc)) from None
    previous = datasets.set_progress(lambda message: say(config, message))
    ctx.undo.append(lambda: datasets.set_progress(previous))
    ctx.undo.append(cancel.install(seen=lambda signum: setattr(ctx, "signal", signum)))  # SIGTERM/SIGHUP as Ctrl-C

    if not hasattr(config.option, "benchmark_storage"):  # pytest-benchmark disabled (-p no:benchmark)
        return
    if config.getini("mlxbench_baselines"):
        # Baselines go to <rootdir>/<mlxbench_baselines>/<machine id>/, unless the user chose a storage.
        if config.option.benchmark_storage == bridge.DEFAULT_STORAGE:
            config.option.benchmark_storage = str(config.rootpath / config.getini("mlxbench_baselines"))
    # pytest-benchmark names the folder by OS + Python only; ours tells hardware apart (with or without the ini
    # setting: the folder saved into is the one the closing lines name). It reads the id while configuring
    # (after us), so swap its function and restore it at unconfigure.
    ctx.undo.append(bridge.swap_machine_id(machine.machine_id))
    ctx.notes += [n for n in (machine.set_by_hand_note(), ctx.threads.overridden()) if n]
    config.option.benchmark_save_data = True  # verdicts need the per-round samples
    bridge.hide_machine_info_warning()  # 5 KB of JSON; pytest_benchmark_compare_machine_info says it in a line
    ctx.undo.append(bridge.mend_storage_location())  # storage outside the working directory: no INTERNALERROR
    if problem := saving.output_problem(config):
        raise pytest.UsageError(problem)  # before anything runs, not a lost run at the end
    if ctx.settings.regression_gate and not config.option.benchmark_compare:
        config.option.benchmark_compare = True
    if not config.option.benchmark_compare:
        return  # the saved runs are only read when something is compared with them
    folder = storage_folder(config)
    saved, ctx.unreadable = load_folder(folder)  # every saved run read once, for all uses below
    ctx.saved = saved
    ref = config.option.benchmark_compare
    if ref is True:
        # "compare with the last run" means the last run of this profile made by this host: a seed run
        # saved after a ci run must not leave the ci benchmarks with nothing to compare against, and a
        # run committed by another host of this machine type is a reference, not this host's history.
        own, others = split_by_host([r for r in saved if r.profile == ctx.profile], machine.host_id())
        if own:
            ctx.baseline = own[-1]
            config.option.benchmark_compare = str(own[-1].path)
        else:
            config.option.benchmark_compare = False  # nothing to load; said at the end of the run
            ctx.no_baseline = outcome.no_history(folder, ctx.profile, others)
            ctx.reference = others[-1] if others else None
    else:  # a run named: read once here (gate and summary use it), and it must exist and be readable
        try:
            ctx.baseline = baseline_run(str(ref), folder, saved)
        except BadRun as exc:
            raise pytest.UsageError(f"--benchmark-compare={ref}: {exc}") from None
    if ctx.settings.regression_gate and machine.is_virtual_apple_gpu():
        ctx.not_gating = "a paravirtual GPU (hosted macOS VM): its timings are recorded but do not gate"
    elif ctx.settings.regression_gate and config.option.benchmark_compare:
        ctx.gate = make_gate(ctx)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Put back every global this plugin changed."""
    ctx = RunContext.of(config)
    if ctx is None:
        return
    if ctx.threads is not None:
        ctx.threads.restore()
        ctx.threads = None
    if ctx.baton is not None:
        ctx.baton.close()
        ctx.baton = None
    while ctx.undo:
        ctx.undo.pop()()


def make_gate(ctx: RunContext) -> Any:
    """The regression gate against the session's baseline (read once at configure), its host's earlier runs
    as history; a usage error when that baseline cannot gate this machine's run."""
    from mlxbench.runs import comparability

    baseline, settings = ctx.baseline, ctx.settings
    gate = RegressionGate.from_runs(baseline, runs_before(baseline, ctx.saved), settings.regression_threshold)
    distributions = ctx.registry.distributions
    why = comparability(
        baseline.facts, machine.stable_facts(distributions), settings.allow_version_change, distributions
    )
    if why:
        raise pytest.UsageError(f"--regression-gate: baseline {baseline.path} cannot gate this run: {why}")
    return gate


# below pytest-benchmark's tables, however the plugins were loaded (this checkout's conftest, or the entry point)
@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    ctx = RunContext.of(config)
    if ctx is None:
        return
    closing.report_incomplete(terminalreporter, ctx)
    closing.write_summary(terminalreporter, config)
    if ctx.settings.regression_gate and ctx.not_gating:
        closing.write(terminalreporter, [f"mlxbench: no regression verdicts: {ctx.not_gating}"], yellow=True)
    elif ctx.settings.regression_gate and ctx.gate is not None:
        terminalreporter.section("mlxbench regression verdicts")
        for line in verdictlines.gate_summary(ctx.gate, bridge.held_count(config)):
            error = line.startswith("mlxbench: ERROR")
            closing.write(terminalreporter, [line], red=error, bold=error)
    closing.write_outcome(terminalreporter, config)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int):
    """Before pytest-benchmark saves: a gate that judged nothing fails the session, and a session
    that did not end cleanly is not saved as a run (mlxbench.session.saving)."""
    config = session.config
    ctx = RunContext.of(config)
    if ctx is None:
        yield
        return
    if ctx.baton is not None:  # an A/B worker: blocked until the other arm has no round left to time
        ctx.baton.end()
    gate = ctx.gate
    young = gate is not None and gate_young(gate.not_judged)  # too few saved runs yet: said, not failed
    if gate is not None and gate.problem(bridge.held_count(config)) and not young and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # as loud as a failure
    bridge.keep_only(config, saving.has_timings)  # a benchmark interrupted before its first round has nothing
    reason = saving.incomplete_reason(ctx, bridge.held(config))  # what the suite knows, not only the exit status
    clean = session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) or (
        session.exitstatus == pytest.ExitCode.TESTS_FAILED
        and not (session.shouldfail or session.shouldstop)  # -x, --maxfail: the rest never ran
        and saving.failed_only_by_verdicts(ctx.failed, bridge.held(config))
    )  # a run the gate judged regressed (or could not judge) is complete: saved, and history keeps it
    bsession = bridge.benchmark_session(config)
    if bsession is not None and (reason or not clean):
        folder = storage_folder(config) if bridge.is_file_storage(config) else Path.cwd()
        status = pytest.ExitCode.INTERRUPTED if reason == "interrupted" else session.exitstatus
        ctx.diverted = (status, saving.divert_incomplete(bsession, status, folder, reason, ctx.written))
    yield
    if ctx.signal is not None:  # the shell's convention for a signal: 143 for SIGTERM, 129 for SIGHUP
        session.exitstatus = 128 + ctx.signal
    elif session.exitstatus == 0 and any(line.startswith("could not") for line in ctx.written):
        session.exitstatus = saving.UNSAVED  # the run is not where history is read: never a green exit


def pytest_sessionstart(session: pytest.Session) -> None:
    """Name every saved run that could not be read; it stays untouched and is skipped. Make run files atomic."""
    ctx = RunContext.of(session.config)
    bsession = bridge.benchmark_session(session.config)
    if bsession is not None and ctx is not None:
        saving.install(bsession, ctx.written)  # --benchmark-json atomic; file storage atomic, never overwritten
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    closing.start(session.config, tr)
    for note in ctx.notes if ctx is not None else ():
        if tr is not None:
            closing.write(tr, [note], yellow=True)
    for exc in ctx.unreadable if ctx is not None else ():
        problem = f"mlxbench: unreadable baseline, ignored for comparison and left as is: {exc}"
        if tr is not None:
            closing.write(tr, [problem], yellow=True)
        else:
            print("\n".join(fit(problem)), file=sys.stderr)


def pytest_collection_finish(session: pytest.Session) -> None:
    """A paired A/B worker tells the coordinator which benchmarks it collected, in order, waits for its pair's turn
    and keeps those the coordinator has not decided yet; the gate learns how many benchmarks it judges together."""
    ctx = RunContext.of(session.config)
    if ctx is not None and ctx.baton is not None:
        order = ctx.baton.items([item.nodeid for item in session.items])
        keep_undecided(session.items, order.get("only"), lambda out: session.config.hook.pytest_deselected(items=out))
    if ctx is not None:  # a benchmark is a test that uses `bench`, in this repository or any other
        ctx.benchmarks = {item.nodeid for item in session.items if "bench" in getattr(item, "fixturenames", ())}
    if ctx is not None and ctx.gate is not None:  # the family its verdicts are judged in (Bonferroni)
        ctx.gate.family = max(1, len(ctx.benchmarks))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = metafunc.config
    ctx = RunContext.of(config)
    registry = ctx.registry
    profile = ctx.profile  # part of every benchmark's name: a saved seed run is never compared with a ci run
    if "mlxbench_case" in metafunc.fixturenames:  # every registered workload x variant x selected backend
        params = []
        for name in registry.workload_names:
            workload = registry.workload(name)
            mark = pytest.mark.workload(name)
            for backend in ctx.settings.backends:
                for variant in variants_for(workload, profile):
                    case = (name, variant)
                    params.append(
                        pytest.param(case, backend, profile, id=f"{name}-{backend}-{profile}-{variant}", marks=mark)
                    )
        metafunc.parametrize(["mlxbench_case", "backend_name", "mlxbench_profile"], params)
        return
    if "backend_name" in metafunc.fixturenames:
        metafunc.parametrize("backend_name", ctx.settings.backends, ids=str)
    if "mlxbench_profile" in metafunc.fixturenames:
        metafunc.parametrize("mlxbench_profile", [profile], ids=[profile])


@pytest.fixture
def mlxbench_context(request: pytest.FixtureRequest) -> RunContext:
    return RunContext.of(request.config)


@pytest.fixture
def mlxbench_registry(request: pytest.FixtureRequest) -> Registry:
    return RunContext.of(request.config).registry


@pytest.fixture
def bench(
    request: pytest.FixtureRequest, backend_name: str, mlxbench_profile: str, mlxbench_context, mlxbench_registry
) -> Bench:
    """One backend, ready to run a workload; skips with the reason when the backend is unavailable here."""
    backend = mlxbench_registry.backends[backend_name]
    reason = backend.unavailable_reason()
    if reason:
        pytest.skip(f"{backend_name}: {reason}")
    if mlxbench_context.threads is not None:
        mlxbench_context.threads.limit_backend(backend)
    return Bench(backend=backend, request=request, context=mlxbench_context, registry=mlxbench_registry)


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    ctx = RunContext.of(config)
    registry = ctx.registry if ctx else None
    machine_info["mlxbench"] = machine.stable_facts(registry.distributions if registry else ())


def pytest_benchmark_update_json(config: pytest.Config, benchmarks, output_json: dict) -> None:
    ctx = RunContext.of(config)
    output_json["mlxbench"] = {
        "format": 1,
        "machine_id": machine.machine_id(),
        "host": machine.host_id(),  # which host: its runs are its history (mlxbench.runs.runs_before)
        "profile": ctx.profile if ctx else None,
        "backends": list(ctx.settings.backends) if ctx else None,
        "gating": not machine.is_virtual_apple_gpu(),  # paravirtual GPUs: correctness only
        "environment": ctx.runtime_facts() if ctx else machine.runtime_facts(),  # BLAS, threads: known once run
        "threads": ctx.threads.facts() if ctx and ctx.threads else None,
    }


def pytest_benchmark_compare_machine_info(config: pytest.Config, benchmarksession, machine_info, compared_benchmark):
    """pytest-benchmark's warning is two JSON dumps (5 KB); this is one line naming what differs."""
    ctx = RunContext.of(config)
    saved = compared_benchmark.get("machine_info") if isinstance(compared_benchmark, dict) else None
    if ctx is None or not isinstance(saved, dict):
        return
    keys = bridge.differing_facts(machine_info, saved)
    if keys:
        shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
        ctx.notes.append(f"mlxbench: the baseline's machine_info differs from this machine's in: {shown}")
