"""The end-of-run summary, the first- and second-run messages, ignored options, progress lines."""

from __future__ import annotations

import re

import pytest

from conftest import said, write_bench
from mlxbench.measure import machine
from mlxbench.measure.progress import Progress
from mlxbench.session import ignored, summary
from mlxbench.workload import Prepared


def bench(workload, variant, backend, median, passed=True, peak=None):
    info = {"workload": workload, "variant": variant, "backend": backend, "gates": [{"passed": passed}]}
    if peak is not None:
        info["peak_memory"] = {"bytes": peak}
    return {"fullname": f"t::w[{workload}-{backend}-{variant}]", "stats": {"median": median}, "extra_info": info}


def test_human_units():
    assert summary.human(20.916) == "20.92 s"
    assert summary.human(0.1396) == "139.6 ms"
    assert summary.human(12.1e-6) == "12.1 µs"
    assert summary.human(850e-9) == "850 ns"
    assert summary.human(float("nan")) == "n/a"


def test_speed_in_words():
    assert summary.ratio_words(3.17, 0.1) == "31.7x slower"
    assert summary.ratio_words(0.05, 0.1) == "2x faster"
    assert summary.ratio_words(0.1, 0.1) == "same"


def test_matrix_marks_fastest_and_compares_with_numpy():
    lines = summary.render(
        [
            bench("mnist_mlp", "eager", "mlx-cpu", 3.17, peak=45 * 2**20),
            bench("mnist_mlp", "eager", "numpy", 0.1),
            bench("mnist_mlp", "eager", "torch-cpu", 0.2, passed=False),
        ]
    )
    text = "\n".join(lines)
    assert "100 ms *" in text and "3.17 s " in text
    assert "31.7x slower" in text and "2x slower" in text and "reference" in text
    assert "FAIL" in text and "pass" in text
    assert "45 MiB" in text


def test_wide_matrices_are_split_to_fit():
    backends = [f"backend-number-{i}" for i in range(12)]
    lines = summary.render([bench("w", "v", b, 0.001 * (i + 1)) for i, b in enumerate(backends)], width=120)
    assert max(map(len, lines)) <= 120
    assert sum(line.strip().startswith("backend-number-0") for line in lines) == 1
    assert all(any(b in line for line in lines) for b in backends)


def test_closest_machine_id_names_what_differs():
    mine = "Linux-x86_64-Intel_R_Xeon_R_Processor-2c-nogpu-CPython-3.11"
    others = ["Linux-x86_64-AMD_EPYC-2c-nogpu-CPython-3.11", "Darwin-arm64-Apple_M3_Pro-12c-CPython-3.12", "by-hand"]
    assert machine.closest_machine_id(mine, others) == ("Linux-x86_64-AMD_EPYC-2c-nogpu-CPython-3.11", ["CPU model"])
    py = machine.closest_machine_id("Darwin-arm64-Apple_M3_Pro-12c-CPython-3.13", others)
    assert py == ("Darwin-arm64-Apple_M3_Pro-12c-CPython-3.12", ["Python version"])
    assert machine.closest_machine_id(mine, []) is None
    # an id given by hand that only starts like ours is not read as ours (it named a GPU "nogpu-CPython")
    assert machine.id_fields(f"{mine}-xxxxx") is None and machine.id_fields(mine)["GPU"] == "nogpu"
    closest = machine.closest_machine_id(f"{mine}-xxxxx", others)
    assert closest is not None and [why.split(" (")[0] for why in closest[1]] == ["machine id"]


def test_ignored_options_are_named():
    args = ["benchmarks", "--benchmark-min-rounds=15", "--benchmark-max-time", "2", "--benchmark-autosave"]
    found = ignored.given(args)
    assert found == ["--benchmark-min-rounds", "--benchmark-max-time"]
    assert "--profile" in ignored.warning(found)
    assert ignored.warning([]) is None


def test_progress_counts_rounds_and_rate_limits():
    now = [0.0]
    lines = []
    progress = Progress(lines.append, every=5.0, clock=lambda: now[0])
    prepared = Prepared(run=lambda: 1, rounds=10, state=None, warmup_rounds=0, cumulative=True)
    tick = progress.watch(prepared, "mnist_mlp[eager] on mlx-cpu")
    for _ in range(10):  # the harness ticks before each round; each round takes 2 s
        tick()
        now[0] += 2.0
    assert lines[0] == "  mnist_mlp[eager] on mlx-cpu: round 4/10, ~14 s left"
    assert len(lines) == 3  # rounds 4, 7 and 10: never more than one line per 5 s


def test_progress_never_runs_inside_the_timed_call():
    """The ticker is called from the untimed per-round hook: the measured function is the workload's own."""
    from types import SimpleNamespace

    from mlxbench.backends.numpy import NumpyBackend
    from mlxbench.measure.runner import Bench

    ticks, calls = [], []

    class FakeBenchmark:  # pytest-benchmark's fixture with --benchmark-disable: setup, then the target
        disabled, extra_info = True, {}

        def pedantic(self, target, setup=None, rounds=1, warmup_rounds=0, iterations=1):
            setup()
            return target()

    request = SimpleNamespace(getfixturevalue=lambda name: FakeBenchmark())
    bench = Bench(NumpyBackend(), request, context=None, registry=None)
    prepared = Prepared(run=lambda: calls.append(len(ticks)), rounds=3, state=None, cumulative=True)
    bench.measure(prepared, tick=lambda: ticks.append(1))
    assert len(ticks) == 3 and calls == [1, 2, 3]  # every round's tick came before its call, none during it


FAST_DEFAULTS = "[pytest]\naddopts = -rs -p no:cacheprovider\nmlxbench_baselines = baselines\n"


def test_progress_appears_on_a_slow_workload_when_forced(project, monkeypatch):
    monkeypatch.setenv("FAKE_DELAY", "0.05")
    project.makeini(FAST_DEFAULTS + "mlxbench_progress_every = 0.1\n")
    write_bench(project, "epochs")
    result = project.runpytest("--backend", "numpy", "--mlxbench-progress")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*fakesum[[]epochs] on numpy: round */6, ~* s left*"])
    # the results go on below the progress lines: pytest does not print the file's name again for them, and no
    # empty line comes between two progress lines (each ends its own line)
    assert [line for line in result.stdout.lines if line.startswith("test_fake.py")] == ["test_fake.py "], result.stdout
    lines = result.stdout.lines
    shown = [i for i, line in enumerate(lines) if "s left" in line]
    assert len(shown) >= 2 and all(lines[i + 1].strip() for i in shown[:-1]), result.stdout
    quiet = project.runpytest("--backend", "numpy")  # not a terminal, not forced
    assert "s left" not in quiet.stdout.str()


def test_warning_for_an_ignored_benchmark_option(project):
    write_bench(project)
    result = project.runpytest("--backend", "numpy", "--benchmark-min-rounds=15")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert "mlxbench: --benchmark-min-rounds has no effect on mlxbench benchmarks" in said(out) and "--profile" in out
    assert all(len(line) <= 120 for line in out.splitlines() if line.startswith(("mlxbench", "  ")))


def test_mlxbench_options_that_act_on_nothing_are_named(project, monkeypatch):
    """--regression-threshold without anything compared, --allow-version-change without the gate: each was
    silently ignored. With --benchmark-compare, --regression-threshold sets the verdicts' threshold."""
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "T")
    write_bench(project)
    result = project.runpytest("--backend", "numpy", "--regression-threshold", "0.3", "--allow-version-change")
    result.assert_outcomes(passed=1)
    out = said(result.stdout.str())
    assert "--regression-threshold has no effect without --benchmark-compare or --regression-gate" in out
    assert "--allow-version-change has no effect without --regression-gate" in out
    first = project.runpytest("--backend", "numpy", "--regression-gate", "--regression-threshold", "0.3")
    assert "has no effect" not in first.stdout.str()  # asked to compare, with nothing saved yet: said otherwise
    monkeypatch.setenv("FAKE_DELAY", "0.02")  # long enough that a loaded machine's scheduling jitter is small
    for _ in range(3):
        project.runpytest("--backend", "numpy", "--benchmark-autosave").assert_outcomes(passed=1)
    monkeypatch.setenv("FAKE_DELAY", "0.03")  # 50% slower: far past the default 10%, far within 90%
    default = said(project.runpytest("--backend", "numpy", "--benchmark-compare").stdout.str())
    wider = said(
        project.runpytest("--backend", "numpy", "--benchmark-compare", "--regression-threshold", "0.9").stdout.str()
    )
    # which verdict a 50% slowdown gets from three saved runs depends on this machine's spread (under load the
    # runs may see no 90% change at all); what the option changes is the threshold each verdict is judged at
    # at 10% a 50% slowdown is never unchanged; at 90% never regressed (unchanged, or a 90% change not seen)
    assert "0 improved, 0 inconclusive, 1 unchanged" not in default and "1 improved" not in default, default[-1500:]
    assert "0 regressed, 0 improved" in wider, wider[-1500:]
    assert "1 unchanged of 1" in wider or "cannot see a 90% change" in wider, wider[-1500:]
    assert "has no effect" not in wider


def test_summary_in_the_terminal(project):
    write_bench(project)
    result = project.runpytest("--backend", "numpy,fake-rec")
    result.assert_outcomes(passed=2)
    # which of the two is faster is the machine's to say (their medians differ by a few microseconds): the
    # fastest of the row is marked, the other is said slower or faster than the reference, whichever it is
    result.stdout.re_match_lines(
        [
            r".*= mlxbench summary =",
            r"fakesum \(median per round; \* fastest of its row; against numpy\)$",
            r" +numpy +fake-rec$",
            r"  ok +[\d.]+ [nµm]?s( \*)? +[\d.]+ [nµm]?s( \*)?$",
            r"    vs numpy +reference +[\d.]+x (slower|faster)$",
            r"    accuracy gate +pass +pass$",
        ]
    )
    ok = next(line for line in result.stdout.lines if line.startswith("  ok "))
    assert ok.count("*") == 1  # exactly one fastest


def test_first_run_says_what_was_saved_later_ones_say_what_changed(project, monkeypatch):
    """The first run says what it saved; the second that rounds of one process judge nothing, and why;
    the fourth (three saved runs before it) says what changed, on the evidence of the saved runs."""
    monkeypatch.setenv("FAKE_DELAY", "0.003")  # steady times
    write_bench(project)
    first = project.runpytest("--backend", "numpy", "--benchmark-autosave", "--benchmark-compare")
    first.assert_outcomes(passed=1)
    out = first.stdout.str()
    assert "nothing compared: no saved seed-profile run of this machine" in out
    # the folder (the machine id: 80 characters and more on some machines) may wrap onto a line of its own
    assert re.search(
        r"mlxbench: saved this run \(1 benchmark, seed profile\) in baselines/[^ ]+/ 0001_[^ ]+\.json "
        r"the next seed-profile run of this host with --benchmark-compare compares with it",
        said(out),
    )
    ours = [line for line in first.stdout.lines if line.startswith(("mlxbench:", "  "))]
    assert not [line for line in ours if len(line) > 120 and " " in line.strip()]  # only a lone long path may
    second = project.runpytest("--backend", "numpy", "--benchmark-autosave", "--benchmark-compare")
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(
        [
            "mlxbench: what changed against 0001_*:",
            "  0 regressed, 0 improved, 0 inconclusive, 0 unchanged of 1",
            "  not judged (1 benchmark): rounds of one process only: a verdict needs 3 saved runs of this profile*",
        ]
    )
    assert re.search(r"mlxbench: saved this run .* in baselines/[^ ]+/ 0002_[^ ]+\.json", said(second.stdout.str()))
    out = second.stdout.str()
    assert "verdicts against" not in out and "evidence:" not in out  # no verdict in the matrix, none implied
    project.runpytest("--backend", "numpy", "--benchmark-autosave").assert_outcomes(passed=1)
    fourth = project.runpytest("--backend", "numpy", "--benchmark-autosave", "--benchmark-compare")
    fourth.assert_outcomes(passed=1)
    fourth.stdout.fnmatch_lines(
        [
            "  verdicts against 0003_*",
            "  evidence: saved runs, one process each",
            "    verdict  *x*",
            "mlxbench: what changed against 0003_* and the saved runs before it:",
            "  * regressed, * improved, * inconclusive, * unchanged of 1",
            "  evidence: saved runs, one process each (this run's median against their geometric mean and spread;*",
        ]
    )
    assert re.search(r"mlxbench: saved this run .* in baselines/[^ ]+/ 0004_[^ ]+\.json", said(fourth.stdout.str()))
    assert "not judged" not in fourth.stdout.str()


def test_unsaved_run_says_how_to_keep_it(project):
    write_bench(project)
    result = project.runpytest("--backend", "numpy")
    result.stdout.fnmatch_lines(["mlxbench: this run was not saved; add --benchmark-autosave*"])


def test_no_history_names_the_closest_machine(project, monkeypatch):
    write_bench(project)
    other = project.path / "baselines" / "Linux-x86_64-AMD_EPYC-2c-nogpu-CPython-3.11"
    other.mkdir(parents=True)
    (other / "0001_x.json").write_text("{}")
    monkeypatch.setenv(machine.MACHINE_ID_ENV, "Linux-x86_64-Intel_Xeon-2c-nogpu-CPython-3.11")
    result = project.runpytest("--backend", "numpy", "--benchmark-compare")
    text = " ".join(" ".join(result.stdout.lines).split())  # mlxbench's lines wrap at 120 columns
    assert "no saved runs for Linux-x86_64-Intel_Xeon-2c-nogpu-CPython-3.11 at all" in text
    assert "closest with history: Linux-x86_64-AMD_EPYC-2c-nogpu-CPython-3.11 (differs in: CPU model)" in text


def test_run_names_from_unmerged_nightly_prs_resolve_unambiguously(tmp_path):
    import json

    from conftest import make_run
    from mlxbench.runs import BadRun, load_folder, resolve

    for name in ("0005_nightly-1111-1", "0005_nightly-2222-1"):
        (tmp_path / f"{name}.json").write_text(json.dumps(make_run({"t::a": ([1.0] * 5, {})})))
    assert resolve("0005_nightly-2222-1", tmp_path).name == "0005_nightly-2222-1.json"
    runs, bad = load_folder(tmp_path)
    assert [r.label for r in runs] == ["0005_nightly-1111-1", "0005_nightly-2222-1"] and not bad
    try:
        resolve("0005", tmp_path)
    except BadRun as exc:
        assert "0005_nightly-1111-1, 0005_nightly-2222-1" in str(exc)
    else:
        raise AssertionError("an ambiguous run number must be refused")


def test_summary_carries_the_gates_verdicts(project, monkeypatch):
    monkeypatch.setenv("FAKE_DELAY", "0.003")  # steady times
    write_bench(project)
    for _ in range(3):  # three saved runs: the evidence a verdict needs
        project.runpytest("--backend", "numpy", "--benchmark-autosave").assert_outcomes(passed=1)
    result = project.runpytest("--backend", "numpy", "--regression-gate")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*= mlxbench summary =*",
            "  verdicts against 0003_*",
            "  evidence: saved runs, one process each",
            "    verdict  *x*",
            "*mlxbench regression verdicts*",
            "mlxbench verdicts against*",
        ]
    )
    said = " ".join(result.stdout.str().split())  # mlxbench's own lines are wrapped at 120 columns
    assert re.search(r"mlxbench verdicts against \S*0003_\S*: .* \(judged 1 of 1 benchmark\)", said)


def test_timing_disabled_prints_no_matrix_and_still_runs(project, monkeypatch):
    monkeypatch.setenv("FAKE_DELAY", "0.05")
    project.makeini(FAST_DEFAULTS + "mlxbench_progress_every = 0.1\n")
    write_bench(project, "epochs")
    result = project.runpytest("--backend", "numpy", "--benchmark-disable", "--mlxbench-progress")
    result.assert_outcomes(passed=1)
    assert "mlxbench summary" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*fakesum[[]epochs] on numpy: round */6*"])  # all epochs run for the gate


def test_a_workload_of_many_variants_is_one_row_per_variant_within_120_columns():
    """lazy_eval's 18 variants x 4 backends took ~110 lines in blocks; condensed they take 21."""
    benchmarks = []
    for i in range(18):
        for j, backend in enumerate(("mlx-cpu", "numpy", "torch-cpu", "jax-cpu")):
            benchmarks.append(
                bench("lazy", f"indep-{4**i}-each", backend, 1e-4 * (1 + j) * (1 + i), passed=(i, j) != (3, 2))
            )
    benchmarks[5]["extra_info"]["verdict"] = {"verdict": "regressed", "ratio": 1.31, "method": "history"}
    lines = summary.render(benchmarks)
    assert len(lines) == 2 + 2 + 1 + 18 and max(len(line) for line in lines) <= 120
    assert lines[1] == "  fastest of 18 variants: mlx-cpu 18; 71 of 72 accuracy gates pass"
    row = {line.split()[0]: line for line in lines[5:]}
    assert "100 µs * 2x faster  200 µs  " in row["indep-1-each"] and "400 µs 2x slower" in row["indep-1-each"]
    assert "FAIL" in row["indep-64-each"] and "regressed x1.31" in row["indep-4-each"]
    assert "peak memory" not in "\n".join(lines[2:]) and "accuracy gate " not in "\n".join(lines[2:])


def test_skipped_benchmarks_are_summarized_per_reason_and_other_tests_are_not_counted():
    from types import SimpleNamespace

    from mlxbench.session.closing import skipped_lines

    def report(why, workload=True):
        return SimpleNamespace(
            longrepr=("f.py", 1, f"Skipped: linreg[eager-step] {why}"),
            keywords={"workload": 1} if workload else {"test_x": 1},
        )

    mnist = "mnist: could not download train-images; put the files in a folder and pass --data-dir"
    tr = SimpleNamespace(stats={"skipped": [report(mnist), report(mnist), report("root writes", workload=False)]})
    assert skipped_lines(tr) == [f"mlxbench: skipped 2 benchmarks: {mnist}"]
    many = SimpleNamespace(stats={"skipped": [report(f"reason {i}") for i in range(11)] + [report("reason 0")]})
    lines = skipped_lines(many)  # every skip is counted: 8 reasons named, the other 3 counted
    assert len(lines) == 9 and lines[0] == "mlxbench: skipped 2 benchmarks: reason 0"
    assert lines[-1] == "mlxbench: skipped 3 more benchmarks for 3 other reasons (pytest -rs lists each)"


@pytest.mark.parametrize("loaded_by", ["conftest", "entry point"])
def test_the_closing_lines_come_last_with_skip_reasons_however_the_plugin_was_loaded(project, loaded_by, monkeypatch):
    """As in another repository: the plugin from its entry point (no conftest naming it), no -rs in addopts. The
    summary and the saved-run lines follow pytest-benchmark's table, and a benchmark skipped for its backend
    says why in mlxbench's own lines."""
    monkeypatch.setenv("PYTHONPATH", str(project.path / "site"))  # the fake extension, for the subprocess
    if loaded_by == "entry point":
        project.makeconftest("")
    project.makeini("[pytest]\naddopts = -p no:cacheprovider\nmlxbench_baselines = baselines\n")
    write_bench(project)
    result = project.runpytest_subprocess("--backend", "numpy,fake-missing")  # plugins loaded as pytest loads them
    result.assert_outcomes(passed=1, skipped=1)
    lines = result.stdout.lines
    table = next(i for i, line in enumerate(lines) if "benchmark 'fakesum'" in line)
    summary = next(i for i, line in enumerate(lines) if "mlxbench summary" in line)
    assert table < summary
    assert any(line.startswith("mlxbench: skipped 1 benchmark: fake-missing:") for line in lines)
    assert not any(line.startswith("SKIPPED") for line in lines)
