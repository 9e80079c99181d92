"""The pytest plugin: options, backend parametrization, the `bench` fixture, run metadata.

Importing this module imports neither MLX nor PyTorch; backends import their framework when a
test first uses them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from mlxbench import machine
from mlxbench.registry import Registry
from mlxbench.runner import Bench, RunContext
from mlxbench.runs import BadRun, load_folder, load_run, runs_before
from mlxbench.verdict import threshold_problem
from mlxbench.workload import PROFILES

PROFILE_ENV = "MLXBENCH_PROFILE"
DATA_DIR_ENV = "MLXBENCH_DATA_DIR"
DEFAULT_STORAGE = "file://./.benchmarks"  # pytest-benchmark's default, which we redirect

registry_key = pytest.StashKey[Registry]()
context_key = pytest.StashKey[RunContext]()
selected_key = pytest.StashKey[list]()
patched_key = pytest.StashKey[tuple]()
unreadable_key = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlxbench", "mlxbench: ML workloads across MLX, NumPy and PyTorch")
    group.addoption(
        "--backend",
        action="append",
        default=None,
        metavar="NAME",
        help="run only this backend (repeatable): mlx-cpu, mlx-gpu, numpy, torch-cpu, torch-mps, torch-cuda, "
        "or a third-party one. Default: all.",
    )
    group.addoption(
        "--profile",
        default=None,
        metavar="NAME",
        help=f"workload sizes: 'seed' (the seed documents' sizes, default) or 'ci' (same code, smaller counts). "
        f"Env: {PROFILE_ENV}.",
    )
    group.addoption(
        "--data-dir",
        default=None,
        metavar="PATH",
        help=f"directory holding datasets (e.g. the four MNIST .gz files). Env: {DATA_DIR_ENV}.",
    )
    group.addoption(
        "--strict-data",
        action="store_true",
        default=False,
        help="fail, instead of skip, benchmarks whose dataset is unavailable (for CI)",
    )
    group.addoption(
        "--seed",
        type=int,
        default=None,
        metavar="N",
        help="override the workloads' random seed (data, initial weights, shuffles): for robustness sweeps",
    )
    group.addoption(
        "--regression-gate",
        action="store_true",
        default=False,
        help="judge every benchmark against the baseline (--benchmark-compare, default: last saved run of this "
        "machine and profile): statistics plus a threshold; a confirmed regression fails the test",
    )
    group.addoption(
        "--regression-threshold",
        type=float,
        default=None,
        metavar="FRACTION",
        help="smallest slowdown that counts, e.g. 0.1 for 10%% (default: each workload's own, else 10%%)",
    )
    group.addoption(
        "--allow-version-change",
        action="store_true",
        default=False,
        help="let a baseline made with other framework versions gate this run (nightly release checks)",
    )
    parser.addini("mlxbench_baselines", "folder (relative to rootdir) for saved runs", default="baselines")


def _resolve_options(config: pytest.Config, registry: Registry) -> tuple[RunContext, list[str]]:
    profile = config.getoption("profile") or os.environ.get(PROFILE_ENV) or "seed"
    if profile not in PROFILES:
        raise pytest.UsageError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    names = registry.backend_names
    chosen: list[str] = []
    for raw in config.getoption("backend") or []:
        for name in filter(None, (n.strip() for n in raw.split(","))):
            if name not in names:
                raise pytest.UsageError(f"unknown backend {name!r}; valid backends: {', '.join(names)}")
            if name not in chosen:
                chosen.append(name)
    data_dir = config.getoption("data_dir") or os.environ.get(DATA_DIR_ENV) or None
    if data_dir is not None and not Path(data_dir).is_dir():
        raise pytest.UsageError(
            f"data directory {data_dir!r} does not exist; pass --data-dir (or {DATA_DIR_ENV}) pointing at a folder "
            "that holds the datasets, or leave it unset to use the download cache"
        )
    ctx = RunContext(
        profile=profile, data_dir=data_dir, strict_data=config.getoption("strict_data"), seed=config.getoption("seed")
    )
    problem = threshold_problem(config.getoption("regression_threshold"))
    if problem:
        raise pytest.UsageError(f"--regression-threshold: {problem}")
    return ctx, chosen or names


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "workload(name): the mlxbench workload a benchmark measures")
    registry = Registry.load()
    ctx, selected = _resolve_options(config, registry)
    config.stash[registry_key] = registry
    config.stash[context_key] = ctx
    config.stash[selected_key] = selected

    if not hasattr(config.option, "benchmark_storage"):  # pytest-benchmark disabled (-p no:benchmark)
        return
    # Baselines go to <rootdir>/baselines/<machine id>/, unless the user chose a storage.
    if getattr(config.option, "benchmark_storage", None) == DEFAULT_STORAGE:
        config.option.benchmark_storage = str(config.rootpath / config.getini("mlxbench_baselines"))
    config.option.benchmark_save_data = True  # verdicts need the per-round samples
    # pytest-benchmark names the folder by OS + Python only; ours tells hardware apart. It reads
    # the id while configuring (after us), so swap its function for the session and restore it.
    import pytest_benchmark.session as bsession

    config.stash[patched_key] = (bsession, bsession.get_machine_id)
    bsession.get_machine_id = machine.machine_id
    gating = config.getoption("regression_gate")
    if gating and not config.option.benchmark_compare:
        config.option.benchmark_compare = True
    if not config.option.benchmark_compare:
        return  # the saved runs are only read when something is compared with them
    folder = storage_folder(config)
    saved, unreadable = load_folder(folder)  # every saved run read once, for all uses below
    config.stash[unreadable_key] = unreadable
    if config.option.benchmark_compare is True:
        # "compare with the last run" means the last run of this profile: a seed run saved after a
        # ci run must not leave the ci benchmarks with nothing to compare against.
        same = [r for r in saved if r.profile == ctx.profile]
        config.option.benchmark_compare = str(same[-1].path) if same else f"no-saved-{ctx.profile}-run"
    if gating and machine.is_virtual_apple_gpu():
        ctx.extra["not_gating"] = "a paravirtual GPU (hosted macOS VM): its timings are recorded but do not gate"
    elif gating:
        ctx.gate = make_gate(config, folder, saved)


def make_gate(config: pytest.Config, folder: Path, saved: list):
    from mlxbench.gate import RegressionGate
    from mlxbench.runs import comparability, resolve

    ref = str(config.option.benchmark_compare)
    if ref.startswith("no-saved-"):
        return None  # first run of this machine and profile: nothing to gate against (said at the end)
    try:
        path = resolve(ref, folder).resolve()
        baseline = next((r for r in saved if r.path.resolve() == path), None) or load_run(path)
    except BadRun as exc:
        raise pytest.UsageError(f"--regression-gate: {exc}") from None
    gate = RegressionGate.from_runs(baseline, runs_before(baseline, saved), config.getoption("regression_threshold"))
    why = comparability(baseline.facts, machine.stable_facts(), config.getoption("allow_version_change"))
    if why:
        raise pytest.UsageError(f"--regression-gate: baseline {baseline.path} cannot gate this run: {why}")
    return gate


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if not config.getoption("regression_gate", False):
        return
    ctx = config.stash.get(context_key, None)
    gate = ctx.gate if ctx else None
    if ctx and ctx.extra.get("not_gating"):
        terminalreporter.write_line(f"mlxbench: no regression verdicts: {ctx.extra['not_gating']}", yellow=True)
        return
    if gate is None:
        terminalreporter.write_line(
            "mlxbench: no saved run of this machine and profile to gate against; save this one "
            "(--benchmark-autosave) to make it the baseline",
            yellow=True,
        )
        return
    from mlxbench.gate import summary_lines

    terminalreporter.section("mlxbench regression verdicts")
    for line in summary_lines(gate.results, str(gate.baseline.path)):
        terminalreporter.write_line(line)


def storage_folder(config: pytest.Config) -> Path:
    storage = str(config.option.benchmark_storage)
    path = Path(storage.removeprefix("file://"))
    return (path if path.is_absolute() else Path.cwd() / path) / machine.machine_id()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Name every saved run that could not be read; it stays untouched and is skipped."""
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    for exc in session.config.stash.get(unreadable_key, []):
        problem = f"mlxbench: unreadable baseline, ignored for comparison and left as is: {exc}"
        if tr is not None:
            tr.write_line(problem, yellow=True)
        else:
            print(problem, file=sys.stderr)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    config = metafunc.config
    if "extension_workload" in metafunc.fixturenames:
        registry = config.stash[registry_key]
        params = [
            pytest.param((name, variant), id=f"{name}-{variant}")
            for name in registry.extension_workloads
            for variant in registry.workload(name).variants
        ]
        if not params:  # one skip that says why, not one per backend
            reason = "no third-party workloads registered (entry point group 'mlxbench.workloads')"
            names = ["backend_name", "extension_workload"]
            metafunc.parametrize(names, [pytest.param(None, None, id="none", marks=pytest.mark.skip(reason=reason))])
            return
        metafunc.parametrize("extension_workload", params)
    if "backend_name" in metafunc.fixturenames:
        metafunc.parametrize("backend_name", config.stash[selected_key], ids=str)
    if "mlxbench_profile" in metafunc.fixturenames:
        # The profile is part of every benchmark's name, so a saved seed run is never compared with a ci run.
        profile = config.stash[context_key].profile
        metafunc.parametrize("mlxbench_profile", [profile], ids=[profile])


@pytest.fixture
def mlxbench_context(request: pytest.FixtureRequest) -> RunContext:
    return request.config.stash[context_key]


@pytest.fixture
def mlxbench_registry(request: pytest.FixtureRequest) -> Registry:
    return request.config.stash[registry_key]


@pytest.fixture
def bench(
    request: pytest.FixtureRequest, backend_name: str, mlxbench_profile: str, mlxbench_context, mlxbench_registry
) -> Bench:
    """One backend, ready to run a workload; skips with the reason when the backend is unavailable here."""
    backend = mlxbench_registry.backends[backend_name]
    reason = backend.unavailable_reason()
    if reason:
        pytest.skip(f"{backend_name}: {reason}")
    return Bench(backend=backend, request=request, context=mlxbench_context)


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    machine_info["mlxbench"] = machine.stable_facts()


def pytest_benchmark_update_json(config: pytest.Config, benchmarks, output_json: dict) -> None:
    ctx = config.stash.get(context_key, None)
    output_json["mlxbench"] = {
        "format": 1,
        "machine_id": machine.machine_id(),
        "profile": ctx.profile if ctx else None,
        "backends": config.stash.get(selected_key, None),
        "gating": not machine.is_virtual_apple_gpu(),  # paravirtual GPUs: correctness only
        "environment": machine.runtime_facts(),  # BLAS and threads, known once the frameworks ran
    }
