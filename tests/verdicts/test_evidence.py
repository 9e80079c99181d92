"""Process-level verdicts: synthetic process medians with known truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlxbench.timings import Timings
from mlxbench.verdicts import evidence


def processes(by: dict[str, tuple[list[float], list[float]]]) -> dict[str, Timings]:
    """Each benchmark's process medians (A's, B's) as the evidence of one-round processes."""
    return {n: Timings.processes(n, [[m] for m in a], [[m] for m in b]) for n, (a, b) in by.items()}


def medians(rng, k, spread, shift=0.0, base=0.01):
    """k process medians with lognormal process-to-process spread, slowed by `shift`."""
    return list(base * (1 + shift) * np.exp(rng.normal(0, spread, k)))


def test_a_known_slowdown_is_found():
    rng = np.random.default_rng(1)
    (r,) = evidence.judge_ab(processes({"b": (medians(rng, 8, 0.02), medians(rng, 8, 0.02, shift=0.25))}))
    assert r.verdict == "regressed" and 1.18 < r.ratio < 1.32
    assert r.ci_low > 1.1


def test_no_shift_is_not_called_a_change():
    rng = np.random.default_rng(2)
    (r,) = evidence.judge_ab(processes({"b": (medians(rng, 8, 0.02), medians(rng, 8, 0.02))}))
    assert r.verdict == "unchanged" and r.mde < 0.10


def test_a_noisy_benchmark_is_inconclusive_with_what_it_can_see():
    rng = np.random.default_rng(3)
    (r,) = evidence.judge_ab(processes({"b": (medians(rng, 4, 0.30), medians(rng, 4, 0.30))}))
    assert r.verdict == "inconclusive" and r.mde > 0.10
    assert f"can only see changes >={r.mde:.0%}, more than the 10% threshold" in r.reasons[0]


def test_too_few_processes_are_inconclusive():
    (r,) = evidence.judge_ab(processes({"b": ([0.01, 0.011], [0.02, 0.021])}))
    assert r.verdict == "inconclusive" and "need >= 3 processes per arm" in r.reasons[0]


def test_a_zero_median_is_left_out_not_taken_for_no_change():
    (r,) = evidence.judge_ab(processes({"b": ([0.01, 0.0, 0.01, 0.01], [0.02, 0.021, 0.0, 0.0])}))
    assert r.verdict == "inconclusive" and "need >= 3 processes per arm (A 3, B 2)" in r.reasons[0]


def test_false_alarms_are_controlled_across_many_benchmarks():
    """300 runs of 40 unchanged benchmarks each: the family-wise rate of any 'regressed' stays near alpha,
    while per benchmark it is far below it (the more benchmarks, the stricter each test)."""
    rng = np.random.default_rng(4)
    runs_with_alarm, alarms = 0, 0
    for _ in range(300):
        samples = {f"b{i}": (medians(rng, 6, 0.05), medians(rng, 6, 0.05)) for i in range(40)}
        found = sum(r.regressed for r in evidence.judge_ab(processes(samples), {n: 0.0 for n in samples}))
        runs_with_alarm += found > 0
        alarms += found
    assert runs_with_alarm / 300 <= 0.05 + 0.03  # alpha plus three standard errors of 300 runs
    assert alarms / (300 * 40) < 0.005


def test_minimum_detectable_effect_matches_a_simulation():
    """A shift equal to the stated minimum detectable effect is caught in about 95% of simulated runs."""
    rng = np.random.default_rng(5)
    k, spread = 6, 0.04
    se = spread * np.sqrt(2 / k)
    mde = evidence.minimum_detectable_effect(se, 2 * k - 2, evidence.ALPHA)
    hits = 0
    for _ in range(2000):
        (r,) = evidence.judge_ab(
            processes({"b": (medians(rng, k, spread), medians(rng, k, spread, shift=mde))}), {"b": 0.0}
        )
        hits += r.verdict == "regressed"
    assert 0.90 < hits / 2000 < 0.985  # 95% power by construction; the estimated spread adds some slack


def test_a_slowdown_the_size_of_the_threshold_is_caught_when_the_test_can_see_it():
    """With the default 10% threshold and a spread that lets the test see 10% (mde <= threshold), a
    true 10% slowdown is `regressed` in about 95% of simulated runs. A rule on the point estimate
    alone (ratio > 1.10) catches it only when the estimate lands above 10%: about half the time."""
    rng = np.random.default_rng(6)
    k, spread = 8, 0.025
    hits = estimate_above = 0
    for _ in range(1000):
        (r,) = evidence.judge_ab(processes({"b": (medians(rng, k, spread), medians(rng, k, spread, shift=0.10))}))
        assert r.mde <= 0.12
        hits += r.verdict == "regressed"
        estimate_above += r.ratio > 1.10
    assert hits / 1000 >= 0.93
    assert 0.35 < estimate_above / 1000 < 0.65


def test_a_real_but_small_change_is_unchanged_and_said_to_be_real():
    rng = np.random.default_rng(7)
    (r,) = evidence.judge_ab(processes({"b": (medians(rng, 8, 0.003), medians(rng, 8, 0.003, shift=0.02))}))
    assert r.verdict == "unchanged" and r.p_adjusted < 0.05
    assert "a real change of +2" in r.reasons[0] and r.ci_high < 1.10


def test_a_significant_slowdown_that_may_reach_the_threshold_is_a_regression():
    """x1.06, significant, but the interval reaches past 1.10: not shown to be small, so regressed
    (the point-estimate rule would have called it unchanged)."""
    noise = np.array([1.00, 1.06, 0.94, 1.03, 0.97, 1.05, 0.95, 1.00])
    a, b = 0.01 * noise, 0.0106 * noise[::-1]
    (r,) = evidence.judge_ab(processes({"b": (list(a), list(b))}))
    assert r.ratio == pytest.approx(1.06) and r.p_adjusted < 0.05 and r.ci_high > 1.10
    assert r.verdict == "regressed" and "cannot be ruled out" in r.reasons[0]


def test_processes_needed_grow_with_spread_and_shrink_with_effect():
    assert evidence.processes_needed(0.02, 0.10, m=40) < evidence.processes_needed(0.08, 0.10, m=40)
    assert evidence.processes_needed(0.05, 0.25, m=40) < evidence.processes_needed(0.05, 0.05, m=40)
    k = evidence.processes_needed(0.05, 0.10, m=40)
    se = 0.05 * np.sqrt(2 / k)
    assert evidence.minimum_detectable_effect(se, 2 * k - 2, evidence.ALPHA / 40) <= 0.10


def test_injected_slowdown_scales_the_synced_duration_of_a_lazy_call():
    """A lazy backend's run() returns at once and its sync does the work: the slowdown must scale
    the whole synced duration (issue: it used to scale only the dispatch)."""
    import time

    from mlxbench.tools.slowdown import Slowed

    def lazy_run():
        return "graph"  # returns at once, as a lazy framework's call does

    def sync(out):
        time.sleep(0.02)  # the work happens when it is forced

    slow = Slowed(0.5)
    run, synced = slow.run(lazy_run), slow.sync(sync)
    t0 = time.perf_counter()
    synced(run())
    took = time.perf_counter() - t0
    assert took >= 0.02 * 1.5  # the 20 ms of forced work, plus half of it


def test_ab_alternates_arms_and_shuffles_evenly():
    from mlxbench.ab.processes import schedule

    assert schedule(3, "alternate") == list("ABBAAB")
    shuffled = schedule(4, "random", seed=1)
    assert sorted(shuffled) == list("AAAABBBB") and shuffled != schedule(4, "alternate")


def test_ab_refuses_arguments_that_would_save_into_history(tmp_path):
    proc = _mlxbench(
        "ab",
        "--design",
        "processes",
        "--processes",
        "3",
        "--out",
        str(tmp_path),
        "--",
        "benchmarks",
        "--benchmark-autosave",
    )
    assert proc.returncode == 2 and "--benchmark-autosave cannot be used inside an A/B run" in proc.stderr
    assert "Traceback" not in proc.stderr and list(tmp_path.iterdir()) == []


def _mlxbench(*args, cwd=None, env=None, module="mlxbench"):
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def test_ab_finds_a_slower_arm_from_fresh_processes(project, tmp_path):
    """Six fresh pytest processes (three per arm, alternating); arm B sleeps ten times as long or more (a loaded
    machine lengthens a 2 ms sleep less than that)."""
    from conftest import write_bench

    write_bench(project)
    out = tmp_path / "ab"
    env = {"PYTHONPATH": str(project.path / "site"), "FAKE_DELAY": "0.002"}
    proc = _mlxbench(
        "ab",
        "--design",
        "processes",
        "--processes",
        "3",
        "--b-env",
        "FAKE_DELAY=0.02",
        "--out",
        str(out),
        "--json",
        str(tmp_path / "v.json"),
        "--",
        "test_fake.py",
        "--backend",
        "numpy",
        cwd=project.path,
        env=env,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (run,) = out.iterdir()
    assert sorted(p.name for p in (run / "A").glob("*.json")) == ["01.json", "02.json", "03.json"]
    assert len(list((run / "B").glob("*.json"))) == 3 and (run / "verdicts.md").exists()
    verdicts = json.loads((tmp_path / "v.json").read_text())
    (v,) = verdicts["verdicts"]
    assert v["verdict"] == "regressed" and v["ratio"] > 2 and verdicts["order"] == "ABBAAB"
    assert "1 regressed" in proc.stdout and not list((project.path / "baselines").glob("*/*.json"))


def test_calibrate_ab_measures_a_pool_of_fresh_processes(project, tmp_path):
    """The measuring run: fresh pytest processes, interleaved, some slowed by the slowdown plugin; judged."""
    from conftest import write_bench

    write_bench(project)
    out = tmp_path / "pool"
    pool = ["--unchanged", "4", "--slowed", "2", "--slowdowns", "1.0", "--processes", "2", "--comparisons", "2"]
    selection = ["--", "test_fake.py", "--backend", "numpy"]
    proc = _mlxbench(
        *pool,
        *["--out", str(out), *selection],
        cwd=project.path,
        env={"PYTHONPATH": str(project.path / "site"), "FAKE_DELAY": "0.002"},
        module="mlxbench.tools.calibrate_ab",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        sorted(p.name.split("-", 1)[1] for p in out.glob("0*.json")) == ["slowed-1.json"] * 2 + ["unchanged.json"] * 4
    )
    assert "process 6/6 (" in proc.stdout
    assert json.loads((out / "pool.json").read_text())["pytest_args"] == ["test_fake.py", "--backend", "numpy"]


def test_calibrate_ab_judges_a_measured_pool_again(tmp_path):
    """--analyze reads the process files and pool.json a measuring run left and judges them at another K."""
    from conftest import make_run
    from mlxbench.tools import calibrate_ab

    rng = np.random.default_rng(9)
    names = [f"benchmarks/test_workloads.py::test_workload[linreg-numpy-ci-v{i}]" for i in range(3)]
    conditions = ["unchanged"] * 8 + ["slowed-0.25"] * 4
    for i, cond in enumerate(conditions):
        shift = 0.25 if cond.startswith("slowed") else 0.0
        run = {n: (medians(rng, 5, 0.01, shift), {"workload": "linreg"}) for n in names}
        (tmp_path / f"{i:03d}-{cond}.json").write_text(json.dumps(make_run(run)))
    (tmp_path / "pool.json").write_text(
        json.dumps({"pytest_args": ["benchmarks", "-k", "linreg"], "walls": [60.0] * 12})
    )
    assert calibrate_ab.main(["--analyze", "--out", str(tmp_path), "--processes", "4", "--comparisons", "5"]) == 0
    result = json.loads((tmp_path / "calibration-k4.json").read_text())
    assert result["pytest_args"] == ["benchmarks", "-k", "linreg"] and result["pool"] == {
        "unchanged": 8,
        "slowed-0.25": 4,
    }
    assert result["false_regressed"] == 0 and result["verdicts_in_unchanged_comparisons"] == 15
    assert result["detection"]["25%"]["linreg"]["caught"] == result["detection"]["25%"]["linreg"]["of"] == 15
    assert result["one_ab_run_minutes_from_process_walls"] == 8.0
