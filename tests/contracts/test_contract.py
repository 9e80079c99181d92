"""The typed contract: implementations checked against their workload's interface, third-party
frameworks adding implementations of built-in workloads, and a plugin that leaves nothing behind."""

from __future__ import annotations

import types
from typing import Protocol

import pytest

from mlxbench.implementations import ImplementationError, check, interface_members, problems
from mlxbench.registry import Registry
from mlxbench.workload import Unsupported


class Interface(Protocol):
    def make(self, backend, spec, compiled: bool): ...

    def snapshot(self): ...


def test_interface_members_are_the_protocols_own():
    assert sorted(interface_members(Interface)) == ["make", "snapshot"]


def test_a_missing_function_and_a_wrong_signature_are_named():
    impl = types.SimpleNamespace(make=lambda backend, spec: None)
    assert problems(impl, Interface) == [
        "make(backend, spec) cannot be called as make(backend, spec, compiled)",
        "missing 'snapshot'",
    ]
    with pytest.raises(ImplementationError, match=r"the jax implementation of workload 'w' \(here\) does not"):
        check(impl, Interface, workload="w", framework="jax", source="here")


def test_a_complete_implementation_passes():
    impl = types.SimpleNamespace(make=lambda backend, spec, compiled=False: None, snapshot=lambda: None)
    assert check(impl, Interface, workload="w", framework="jax", source="here") is impl


def test_every_builtin_implementation_satisfies_its_workload():
    registry = Registry.load()
    checked = 0
    for name in registry.workload_names:
        workload = registry.workload(name)
        for framework in ("mlx", "numpy", "torch"):
            if workload.interface is None or framework not in registry.frameworks:
                continue
            try:
                registry.implementation(workload, framework)
            except ModuleNotFoundError as exc:  # the framework itself is not installed here
                pytest.skip(f"{exc.name} not installed")
            checked += 1
    assert checked == 9  # linreg, mnist_mlp, placement x mlx, numpy, torch


def test_a_framework_without_implementation_is_unsupported():
    registry = Registry.load()
    with pytest.raises(Unsupported, match="linreg has no nofw implementation"):
        registry.implementation(registry.workload("linreg"), "nofw")


def test_workloads_and_backends_are_found_without_a_list():
    registry = Registry.load()
    assert {"linreg", "mnist_mlp", "lazy_eval", "placement"} <= set(registry.workload_names)
    assert {"mlx", "numpy", "torch"} <= set(registry.frameworks)
    assert {"mlx", "numpy", "torch"} <= set(registry.distributions)


def test_third_party_framework_runs_builtin_workloads(framework_project):
    result = framework_project.runpytest("--backend", "fakefw-cpu", "--profile", "ci", "-v", "-k", "linreg or lazy")
    result.stdout.fnmatch_lines(
        [
            "*test_workload[[]lazy_eval-fakefw-cpu-ci-seed-lazy[]] PASSED*",
            "*test_workload[[]linreg-fakefw-cpu-ci-eager-step[]] PASSED*",
            "*test_workload[[]linreg-fakefw-cpu-ci-eager-end[]] SKIPPED*",
            "*test_workload[[]linreg-fakefw-cpu-ci-compiled-step[]] SKIPPED*",
        ]
    )
    assert result.ret == 0


def test_incomplete_third_party_implementation_fails_with_what_is_missing(framework_project):
    result = framework_project.runpytest(
        "--backend", "fakefw-cpu", "--profile", "ci", "-k", "placement-fakefw-cpu-ci-finite-to-cpu"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the fakefw implementation of workload 'placement' (entry point placement.fakefw = "
            "mlxbench_fakefw_placement) does not satisfy mlxbench_workloads.placement.Implementation: "
            "missing 'make_fun'*"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_workload_without_implementation_for_a_framework_skips_with_why(framework_project):
    result = framework_project.runpytest(
        "--backend", "fakefw-cpu", "--profile", "ci", "-k", "mnist_mlp-fakefw-cpu-ci-eager-step"
    )
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*mnist_mlp has no fakefw implementation (neither mlxbench_workloads.mnist.impl_fakefw nor*"]
    )


def test_the_plugin_leaves_no_patched_global_behind(project):
    import pytest_benchmark.session as bsession

    from conftest import write_bench

    original = bsession.get_machine_id
    write_bench(project)
    for _ in range(2):  # two sessions in one process, as pytest.main twice
        project.runpytest_inprocess("--backend", "numpy", "--benchmark-autosave").assert_outcomes(passed=1)
        assert bsession.get_machine_id is original
    assert len(list((project.path / "baselines").glob("*/0002_*.json"))) == 1  # both runs used our machine id


def test_the_plugin_is_registered_once(project):
    project.makepyfile(
        test_plugins="""
        import mlxbench.plugin

        def test_once(request):
            plugins = [p for p in request.config.pluginmanager.get_plugins() if p is mlxbench.plugin]
            assert len(plugins) == 1
            assert request.config.pluginmanager.get_plugin("mlxbench.plugin") is mlxbench.plugin
        """
    )
    result = project.runpytest("-k", "test_once")
    result.assert_outcomes(passed=1)


def test_the_installed_entry_point_is_named_after_the_module():
    from importlib.metadata import entry_points

    ours = [ep for ep in entry_points(group="pytest11") if ep.value == "mlxbench.plugin"]
    if not ours:
        pytest.skip("mlxbench is not installed (pip install -e .): the checkout's conftest.py loads the plugin")
    assert [ep.name for ep in ours] == ["mlxbench.plugin"]  # so conftest's pytest_plugins finds it loaded


@pytest.mark.parametrize(("variant", "forces_per_call"), [("eager-step", 2_000), ("eager-end", 0)])
def test_cadence_forces_every_step_or_once_per_call(framework_project, tmp_path, monkeypatch, variant, forces_per_call):
    log = tmp_path / "forces.log"
    monkeypatch.setenv("FAKE_FORCE_LOG", str(log))
    result = framework_project.runpytest(
        "--backend", "fakefw-async", "--profile", "ci", "-k", f"linreg-fakefw-async-ci-{variant}]", "-v"
    )
    result.stdout.fnmatch_lines([f"*test_workload[[]linreg-fakefw-async-ci-{variant}[]] PASSED*"])
    calls = [int(n) for n in log.read_text().split()]
    # one calibration call (a 2,000-step training takes over a millisecond), one warm-up call and five
    # measured ones (the ci profile's rounds), each ended by one sync; `step` forces after each of the
    # 2,000 steps, `end` never inside the call
    assert calls == [forces_per_call] * 7


def test_eager_backend_gets_one_benchmark_per_mode(framework_project):
    result = framework_project.runpytest("--backend", "fakefw-cpu", "--profile", "ci", "-k", "linreg", "-rs")
    result.assert_outcomes(passed=1, skipped=3)  # eager-step runs; eager-end is the same program: skipped
    result.stdout.fnmatch_lines(
        ["*linreg[[]eager-end[]] does not apply to fakefw-cpu: fakefw on cpu executes eagerly*"]
    )
