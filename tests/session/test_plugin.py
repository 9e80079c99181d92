"""The pytest plugin as a user meets it: options, ids, skips, sync, JSON, extension points."""

from __future__ import annotations

import json
from fnmatch import fnmatch

import pytest

from conftest import said, write_bench


def test_unknown_backend_is_a_usage_error_listing_valid_names(project):
    write_bench(project)
    result = project.runpytest("--backend", "mlx-tpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert (
        "unknown backend 'mlx-tpu'; valid backends: mlx-cpu, mlx-gpu, numpy, torch-cpu, torch-mps, torch-cuda, "
        "fake-rec, fake-missing" in said(result.stderr.str())
    )
    assert all(len(line) <= 120 for line in result.stderr.lines)  # pytest's "ERROR: " included


def test_unknown_profile_is_a_usage_error(project):
    write_bench(project)
    result = project.runpytest("--profile", "huge")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown profile 'huge'; valid profiles: seed, ci*"])


def test_missing_data_dir_is_a_usage_error(project):
    write_bench(project)
    result = project.runpytest("--data-dir", "/nonexistent/mnist")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*data directory '/nonexistent/mnist' does not exist*"])


def test_tests_are_parametrized_by_backend_name(project):
    write_bench(project)
    result = project.runpytest("--collect-only", "-q")
    ids = [line for line in result.outlines if "::" in line]
    builtin = ("mlx-cpu", "mlx-gpu", "numpy", "torch-cpu", "torch-mps", "torch-cuda")
    assert ids[:6] == [f"test_fake.py::test_sum[{b}-seed]" for b in builtin]
    # then every installed third-party backend (ours, and any other package installed here)
    assert {"test_fake.py::test_sum[fake-rec-seed]", "test_fake.py::test_sum[fake-missing-seed]"} <= set(ids[6:])


def test_backend_option_selects_and_repeats(project):
    write_bench(project)
    result = project.runpytest("--collect-only", "-q", "--backend", "fake-rec", "--backend", "numpy,fake-rec")
    assert [line for line in result.outlines if "::" in line] == [
        "test_fake.py::test_sum[fake-rec-seed]",
        "test_fake.py::test_sum[numpy-seed]",
    ]


def test_unavailable_backend_skips_with_its_reason(project):
    write_bench(project)
    result = project.runpytest("--backend", "fake-missing")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*fake-missing: fakelib is not installed (pip install fakelib)*"])
    assert "Benchmark fixture was not used" not in result.stdout.str()


def test_unsupported_variant_skips_with_its_reason(project):
    write_bench(project, variant="nope")
    result = project.runpytest("--backend", "numpy")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*fakesum[[]nope[]] does not apply to numpy: nothing to see*"])


def test_sync_is_called_inside_every_round_and_device_restored(project, monkeypatch):
    monkeypatch.setenv("FAKE_DELAY", "0.002")  # 2 ms a call: one call per round
    write_bench(project)
    project.makepyfile(
        test_zcalls="""
        import mlxbench_fake

        def test_zz_calls():
            calls = mlxbench_fake.CALLS
            # one calibration call (2 ms: no more needed), one warm-up round and six measured rounds, each
            # synced; all inside activate()
            assert calls == [("enter", "fake-rec")] + [("sync", 8.0)] * 8 + [("exit", "fake-rec")], calls
    """
    )
    result = project.runpytest("--backend", "fake-rec", "-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_a_sub_millisecond_call_is_timed_in_calibrated_inner_iterations(project):
    write_bench(project)
    out = project.path / "run.json"
    result = project.runpytest("--backend", "numpy", f"--benchmark-json={out}")
    result.assert_outcomes(passed=1)
    (b,) = json.loads(out.read_text())["benchmarks"]
    n = b["extra_info"]["inner_iterations"]
    assert n > 1 and b["stats"]["iterations"] == n  # many calls per round ...
    assert b["stats"]["median"] < 1e-3  # ... and the figure is still one call's time


def test_a_slow_call_is_timed_once_per_round(project, monkeypatch):
    monkeypatch.setenv("FAKE_DELAY", "0.002")
    write_bench(project)
    out = project.path / "run.json"
    project.runpytest("--backend", "numpy", f"--benchmark-json={out}").assert_outcomes(passed=1)
    (b,) = json.loads(out.read_text())["benchmarks"]
    assert b["extra_info"]["inner_iterations"] == 1 and b["stats"]["iterations"] == 1


def test_device_restored_when_the_measured_call_raises(project):
    write_bench(project, variant="broken")
    project.makepyfile(
        test_zcalls="""
        import mlxbench_fake

        def test_zz_calls():
            assert mlxbench_fake.CALLS == [("enter", "fake-rec"), ("exit", "fake-rec")]
    """
    )
    result = project.runpytest("--backend", "fake-rec")
    result.assert_outcomes(passed=1, failed=1)


def test_framework_error_fails_the_test_never_nan_or_skip(project):
    write_bench(project, variant="broken")
    out = project.path / "run.json"
    result = project.runpytest("--backend", "numpy", f"--benchmark-json={out}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: kernel exploded on purpose*"])
    assert not out.exists() or json.loads(out.read_text())["benchmarks"] == []  # no timing was recorded


def test_benchmark_disable_still_runs_every_round_of_a_cumulative_workload(project):
    write_bench(project, variant="epochs")
    project.makepyfile(
        test_zcalls="""
        import mlxbench_fake

        def test_zz_calls():
            assert [c for c in mlxbench_fake.CALLS if c[0] == "sync"] == [("sync", 8.0)] * 6
    """
    )
    result = project.runpytest("--backend", "fake-rec", "--benchmark-disable")
    result.assert_outcomes(passed=2)


def test_accuracy_gate_failure_names_backend_and_numbers(project):
    write_bench(project, variant="wrong")
    result = project.runpytest("--backend", "numpy")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*accuracy gate failed for fakesum[[]wrong[]] on numpy:*", "*total = 16, needs <= 8 (sum of ones)*"]
    )


def test_gate_runs_with_benchmark_disable(project):
    write_bench(project, variant="wrong")
    result = project.runpytest("--backend", "numpy", "--benchmark-disable")
    result.assert_outcomes(failed=1)


def test_run_json_holds_backend_name_metrics_and_machine_facts(project):
    write_bench(project)
    out = project.path / "run.json"
    result = project.runpytest("--backend", "numpy", "--profile", "ci", f"--benchmark-json={out}")
    result.assert_outcomes(passed=1)
    run = json.loads(out.read_text())
    (b,) = run["benchmarks"]
    assert b["params"] == {"backend_name": "numpy", "mlxbench_profile": "ci"}
    assert b["name"] == "test_sum[numpy-ci]"  # the profile is in the name: seed and ci runs never mix
    info = b["extra_info"]
    assert (info["backend"], info["workload"], info["variant"], info["profile"]) == ("numpy", "fakesum", "ok", "ci")
    assert info["metrics"] == {"total": 4.0, "expected": 4.0}
    assert info["gates"][0]["passed"] is True
    assert info["it_per_s"] > 0
    assert len(b["stats"]["data"]) == 6  # per-round samples are stored
    facts = run["machine_info"]["mlxbench"]
    assert facts["machine_id"] == run["mlxbench"]["machine_id"]
    assert {"cpu_model", "cpu_count", "gpus", "versions", "thread_env"} <= facts.keys()
    assert {"blas"} <= run["mlxbench"]["environment"].keys()  # BLAS in use, known once frameworks ran
    assert "UNSERIALIZABLE" not in out.read_text()


def test_autosave_goes_to_a_folder_named_by_hardware(project, monkeypatch):
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "Test-M9-Ultra")
    write_bench(project)
    result = project.runpytest("--backend", "numpy", "--benchmark-autosave")
    result.assert_outcomes(passed=1)
    saved = list((project.path / "baselines" / "Test-M9-Ultra").glob("0001_*.json"))
    assert len(saved) == 1
    result = project.runpytest("--backend", "numpy", "--benchmark-autosave", "--benchmark-compare")
    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(["*Comparing against benchmarks from: Test-M9-Ultra/0001_*"])
    assert len(list((project.path / "baselines" / "Test-M9-Ultra").glob("*.json"))) == 2
    # the facts saved with a run equal those seen when the next run starts: no spurious warning
    assert "machine_info is different" not in result.stdout.str() + result.stderr.str()


def test_corrupt_baseline_is_named_left_alone_and_the_run_goes_on(project, monkeypatch):
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "Test-M9-Ultra")
    folder = project.path / "baselines" / "Test-M9-Ultra"
    folder.mkdir(parents=True)
    bad = folder / "0001_broken.json"
    bad.write_text('{"benchmarks": [')
    write_bench(project)
    result = project.runpytest("--backend", "numpy", "--benchmark-compare")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    shown = bad.relative_to(project.path)  # paths under the working directory are shown relative to it
    assert f"unreadable baseline, ignored for comparison and left as is: {shown}: not valid JSON" in said(out)
    ours = [line for line in out.splitlines() if line.startswith(("mlxbench", "  "))]
    assert all(len(line) <= 120 or len(line.split()) == 1 for line in ours)  # a long path stays whole
    assert bad.read_text() == '{"benchmarks": ['


def test_extension_workload_runs_from_entry_point(project):
    project.makepyfile(
        test_ext="""
        def test_workload(bench, mlxbench_registry, mlxbench_case):
            name, variant = mlxbench_case
            bench.run(mlxbench_registry.workload(name), variant)
    """
    )
    result = project.runpytest("--backend", "numpy", "-v", "-k", "fakesum")
    result.stdout.fnmatch_lines(
        [
            "*test_workload[[]fakesum-numpy-seed-ok[]] PASSED*",
            "*test_workload[[]fakesum-numpy-seed-wrong[]] FAILED*",
            "*test_workload[[]fakesum-numpy-seed-nope[]] SKIPPED*",
        ]
    )


MNIST_BENCH = """
from workloads import mnist

def test_mnist(bench):
    bench.run(mnist.WORKLOAD, "eager-step")
"""


def test_missing_dataset_skips_with_how_to_provide_it(project, tmp_path):
    project.makepyfile(test_mnist=MNIST_BENCH)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = project.runpytest("--backend", "numpy", f"--data-dir={empty}")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["*mnist_mlp: dataset unavailable: mnist: train-images-idx3-ubyte.gz, *not found in data directory*--data-dir*"]
    )


def test_strict_data_turns_the_skip_into_a_failure(project, tmp_path):
    project.makepyfile(test_mnist=MNIST_BENCH)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = project.runpytest("--backend", "numpy", f"--data-dir={empty}", "--strict-data")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*dataset unavailable (--strict-data)*"])


def test_compare_picks_the_last_run_of_the_same_profile(project, monkeypatch):
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "Test-M9-Ultra")
    write_bench(project)
    project.runpytest("--backend", "numpy", "--profile", "ci", "--benchmark-save=ci").assert_outcomes(passed=1)
    project.runpytest("--backend", "numpy", "--benchmark-save=seed").assert_outcomes(passed=1)
    result = project.runpytest("--backend", "numpy", "--profile", "ci", "--benchmark-compare")
    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(["*Comparing against benchmarks from: Test-M9-Ultra/0001_ci.json*"])
    out = result.stdout.str()  # the table sorts rows by speed, so check each row on its own
    assert "test_sum[numpy-ci] (0001_ci)" in out and "test_sum[numpy-ci] (NOW)" in out


def test_regression_gate_flags_a_slowdown_and_summarizes(project, monkeypatch):
    """Three saved runs, then the same code (0 regressed) and code ten times slower (regressed, and regressed again
    when re-measured). Ten times, and a threshold of 50% for both checks: on a loaded machine a 3 ms sleep may take
    longer in one run than in another, but not ten times as long, nor 50% longer in every process."""
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "Test-M9-Ultra")
    write_bench(project)
    monkeypatch.setenv("FAKE_THRESHOLD", "0.5")
    monkeypatch.setenv("FAKE_DELAY", "0.003")
    for _ in range(3):  # three saved runs: three processes, the evidence a failing verdict needs
        project.runpytest("--backend", "numpy", "--benchmark-autosave").assert_outcomes(passed=1)
    same = project.runpytest("--backend", "numpy", "--regression-gate")
    same.assert_outcomes(passed=1)
    same.stdout.fnmatch_lines(["*mlxbench regression verdicts*", "*0 regressed*"])
    monkeypatch.setenv("FAKE_DELAY", "0.03")  # ten times slower: more than load makes of a 3 ms sleep
    slow = project.runpytest("--backend", "numpy", "--regression-gate")
    slow.assert_outcomes(failed=1)
    slow.stdout.fnmatch_lines(
        ["*regression in fakesum[[]ok[]] on numpy against 0003_*", "*re-measured: regressed*", "*1 regressed*"]
    )


def test_a_run_the_gate_calls_regressed_is_complete_and_saved(project, monkeypatch):
    """Failing on a verdict is not failing to measure: the run is saved and written like any other, so the
    history (and `mlxbench.tools.calibrate`, which scores these runs) keeps what was measured."""
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "Test-M9-Ultra")
    write_bench(project)
    monkeypatch.setenv("FAKE_DELAY", "0.003")
    for _ in range(3):
        project.runpytest("--backend", "numpy", "--benchmark-autosave").assert_outcomes(passed=1)
    monkeypatch.setenv("FAKE_DELAY", "0.03")  # ten times slower: more than load makes of a 3 ms sleep
    slow = project.runpytest(
        "--backend", "numpy", "--regression-gate", "--benchmark-autosave", "--benchmark-json=r.json"
    )
    slow.assert_outcomes(failed=1)
    assert slow.ret == pytest.ExitCode.TESTS_FAILED
    folder = project.path / "baselines" / "Test-M9-Ultra"
    assert len(list(folder.glob("0004_*.json"))) == 1 and not list(folder.glob("*.partial"))
    (bench,) = json.loads((project.path / "r.json").read_text())["benchmarks"]
    assert bench["extra_info"]["verdict"]["verdict"] == "regressed"
    said = " ".join(slow.stdout.str().split())
    assert "did not finish cleanly" not in said
    assert "it holds 1 benchmark the gate called regressed: to keep comparing with the run before, pass " in said
    keep = said.split("--benchmark-compare=")[-1].split()[0]
    assert keep.startswith("0003_")
    again = project.runpytest("--backend", "numpy", f"--benchmark-compare={keep}", "--regression-gate")
    again.assert_outcomes(failed=1)  # still regressed against the run before


def test_a_gated_run_on_one_saved_run_says_the_gate_judged_nothing_and_why(project, monkeypatch):
    """One saved run is one process: a benchmark ten times slower gets no verdict and fails nothing. The
    gate says loudly that it checked nothing, why, and the way out; the run itself is saved (it is complete),
    so a gated, autosaving job builds the history it needs instead of staying stuck."""
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "Test-M9-Ultra")
    write_bench(project)
    monkeypatch.setenv("FAKE_DELAY", "0.003")
    project.runpytest("--backend", "numpy", "--benchmark-autosave").assert_outcomes(passed=1)
    monkeypatch.setenv("FAKE_DELAY", "0.03")  # ten times slower, but one saved run is one process
    slow = project.runpytest("--backend", "numpy", "--regression-gate", "--benchmark-autosave")
    slow.assert_outcomes(passed=1)  # no test fails on rounds of one process
    assert slow.ret == pytest.ExitCode.OK
    assert len(list((project.path / "baselines" / "Test-M9-Ultra").glob("000[12]_*.json"))) == 2
    why = "rounds of one process only: a verdict needs 3 saved runs of this profile (there are 1) or an A/B run"
    out = slow.stdout.str()
    ours = [line for line in out.splitlines() if line.startswith(("mlxbench", "  "))]
    assert all(len(line) <= 120 or len(line.split()) == 1 for line in ours)  # a long path stays whole
    said = " ".join(out.split())  # mlxbench's lines are wrapped at 120 columns
    for part in (
        "mlxbench regression verdicts",
        f"mlxbench: NOT GATED: the regression gate judged none of the 1 benchmark (1 {why} (mlxbench ab))",
        "nothing was checked. To gate: let this profile's saved runs reach 3",
        "mlxbench verdicts against",
        "0 regressed, 0 improved, 0 inconclusive, 0 unchanged (judged 0 of 1 benchmark; not judged: 1 rounds",
        f"not judged (1 benchmark): {why} (mlxbench ab) test_fake.py::test_sum[numpy-seed]",
    ):
        assert part in said, part
    assert "what changed against" not in said  # the gate's verdicts are printed once, in its own section
    assert "regression in fakesum" not in out and "point to" not in out and "(rounds only)" not in out


def test_regression_gate_refuses_other_framework_versions(project, monkeypatch):
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "Test-M9-Ultra")
    folder = project.path / "baselines" / "Test-M9-Ultra"
    folder.mkdir(parents=True)
    from conftest import make_run
    from mlxbench.measure import machine
    from mlxbench.registry import Registry

    # this machine, as it is now (MLXBENCH_MACHINE_ID is set above)
    old = machine.stable_facts(Registry.load().distributions)
    old["versions"] = {**old["versions"], "numpy": "1.0.0"}  # ... but with another NumPy
    (folder / "0001_old.json").write_text(json.dumps(make_run({"x": ([1.0] * 6, {})}, old, profile="seed")))
    write_bench(project)
    result = project.runpytest("--backend", "numpy", "--regression-gate")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert fnmatch(
        said(result.stderr.str()),
        "*cannot gate this run: framework versions differ (numpy 1.0.0 -> *): pass --allow-version-change*",
    )
    result = project.runpytest("--backend", "numpy", "--regression-gate", "--allow-version-change")
    result.assert_outcomes(passed=1)


def test_regression_gate_without_baseline_says_so(project):
    write_bench(project)
    result = project.runpytest("--backend", "numpy", "--regression-gate")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*nothing compared: no saved seed-profile run of this machine in*"])
