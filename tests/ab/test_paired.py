"""Time-paired A/B: two real worker processes alternating rounds under the baton, the paired
statistics, the group-sequential stopping rule, and one verdict rule for every path."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import mlxbench_main, said
from mlxbench.ab.coordinator import PairResult
from mlxbench.measure import pairfile
from mlxbench.timings import Timings, Unit
from mlxbench.verdicts import evidence
from mlxbench.verdicts import paired as stats


def estimates(results):
    """The paired design's estimates of the pairs `results`, as `mlxbench ab` makes them."""
    return stats.estimate_all(pairfile.timings(results)).estimates


def mlxbench_cli(*args, cwd=None, env=None, timeout=None):
    """`python -m mlxbench ARGS` in a new interpreter: for A/Bs (their workers, signals); a command's checks and
    reports run here (conftest.mlxbench_main)."""
    return subprocess.run(
        [sys.executable, "-m", "mlxbench", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


BUSY_END = """
import os, time

def pytest_sessionfinish(session):
    # untimed work at a worker's session end (what pytest, junit and an interpreter's exit cost)
    log = os.environ.get("FAKE_END_LOG")
    if log:
        t0 = time.time()
        while time.time() - t0 < 0.15:
            pass
        with open(log, "a") as f:
            f.write(f"{t0} {time.time()}\\n")
"""


def intervals(path) -> list[tuple[float, float]]:
    return [tuple(map(float, line.split())) for line in path.read_text().splitlines()] if path.exists() else []


def test_two_workers_alternate_rounds_and_nothing_overlaps_a_timed_round(project, tmp_path):
    """Two live pytest workers, one per arm: no call of one arm and none of its session-end work overlaps a
    timed round of the other; the rounds of a benchmark go A B B A ... or B A A B ..., the first arm
    alternating between pairs (first and last rounds fall to each arm equally often over an even number of
    pairs); calls per round are the same in both arms; B's calls, ten times slower or more, are found.
    Pipelined (`--pipeline on`), as on a machine with cores to spare: each pair's workers were started before
    the pair before it timed its first round, and let go at START only after both of that pair's workers had
    exited, so no call, warm-up or session end of theirs (all in the logs) overlaps a timed round either."""
    from conftest import write_bench

    write_bench(project)
    (project.path / "conftest.py").write_text('pytest_plugins = ["mlxbench.plugin", "busy_end"]\n')
    (project.path / "site" / "busy_end.py").write_text(BUSY_END)
    out, logs = tmp_path / "ab", {arm: (tmp_path / f"{arm}.calls", tmp_path / f"{arm}.end") for arm in "AB"}
    env = {
        "PYTHONPATH": str(project.path / "site"),
        "FAKE_DELAY": "0.002",
        "FAKE_CALL_LOG": str(logs["A"][0]),
        "FAKE_END_LOG": str(logs["A"][1]),
        "FAKE_THRESHOLD": "0.25",
    }
    proc = mlxbench_cli(
        "ab",
        "--pairs",
        "4",
        "--pipeline",
        "on",
        "--b-env",
        "FAKE_DELAY=0.02",  # ten times slower: what load makes of a 2 ms sleep is less
        "--b-env",
        f"FAKE_CALL_LOG={logs['B'][0]}",
        "--b-env",
        f"FAKE_END_LOG={logs['B'][1]}",
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
    pairs = [json.loads(p.read_text()) for p in sorted(run.glob("pair-*/pair.json"))]
    assert len(pairs) == 4
    firsts, lasts = [], []
    lead = pairs[0]["order"][0][0]
    for k, pair in enumerate(pairs):
        order = [arm for arm, _ in pair["order"]]
        first = lead if k % 2 == 0 else ("B" if lead == "A" else "A")  # alternating from pair to pair
        second = "B" if first == "A" else "A"
        assert order == [first, second, second, first] * (len(order) // 4) + [first, second][: len(order) % 4]
        assert len(order) >= 4 and order.count("A") == order.count("B")
        firsts.append(order[0])
        lasts.append(order[-1])
        assert len(set(pair["calls"].values())) == 1
        timed = {arm: [(go, done) for a, _, go, done in pair["rounds"] if a == arm] for arm in "AB"}
        for arm, other in (("A", "B"), ("B", "A")):
            busy = intervals(logs[other][0]) + intervals(logs[other][1])
            for go, done in timed[arm]:
                assert not any(b0 < done and go < b1 for b0, b1 in busy), f"{other} ran during a round of {arm}"
    assert firsts.count("A") == firsts.count("B") == 2 and lasts.count("A") == lasts.count("B") == 2
    for before, pair in itertools.pairwise(pairs):  # the clocks of a pipelined A/B
        assert pair["launched"] < min(go for _, _, go, _ in before["rounds"])  # started while the last one timed
        last = max(done for _, _, _, done in before["rounds"])
        assert last <= before["ended"] <= pair["released"] <= min(go for _, _, go, _ in pair["rounds"])
    assert sorted(p.name for p in run.glob("pair-*")) == [f"pair-0{k}" for k in range(1, 5)]  # none started ahead
    assert len(intervals(logs["A"][1])) == len(intervals(logs["B"][1])) == 4  # the session-end work ran
    result = json.loads((tmp_path / "v.json").read_text())
    (v,) = result["verdicts"]
    assert v["verdict"] == "regressed" and v["ratio"] > 2 and v["units"] == [4, 4]
    assert v["threshold"] == 0.25  # the workload's own threshold, in the paired design too
    assert result["design"] == "paired" and result["pairs"] == 4 and "pairs of workers" in v["method"]
    assert "process_design" in result and "spreads" in result and 0 < result["timed_share"] < 1
    assert [p["pair"] for p in result["allocation"]] == [1, 2, 3, 4] and result["allocation"][2]["rounds"]
    assert result["pipeline"]["setting"] == "on" and result["pipeline"]["on"] is True
    assert "1 regressed" in proc.stdout and "4 pairs of workers" in proc.stdout and "timed rounds" in proc.stdout


def test_under_cpu_load_an_unchanged_ab_favours_no_arm(project, tmp_path):
    """Two real workers of the same code while two CPU-bound processes of another program run (a 2-core CI
    runner with a neighbour): no call of one arm and none of its session-end work overlaps a timed round of
    the other (where the last design let A's session end run during B's last round), and the A/A reports no
    change (alpha 0.001 here, so that this test does not fail 5% of the time by design)."""
    from conftest import write_bench

    write_bench(project)
    (project.path / "conftest.py").write_text('pytest_plugins = ["mlxbench.plugin", "busy_end"]\n')
    (project.path / "site" / "busy_end.py").write_text(BUSY_END)
    logs = {arm: (tmp_path / f"{arm}.calls", tmp_path / f"{arm}.end") for arm in "AB"}
    env = {
        "PYTHONPATH": str(project.path / "site"),
        "FAKE_CALL_LOG": str(logs["A"][0]),
        "FAKE_END_LOG": str(logs["A"][1]),
    }
    load = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        proc = mlxbench_cli(
            "ab",
            "--pairs",
            "3",
            "--alpha",
            "0.001",
            "--b-env",
            f"FAKE_CALL_LOG={logs['B'][0]}",
            "--b-env",
            f"FAKE_END_LOG={logs['B'][1]}",
            "--out",
            str(tmp_path / "ab"),
            "--json",
            str(tmp_path / "v.json"),
            "--",
            "test_fake.py",
            "--backend",
            "numpy",
            cwd=project.path,
            env=env,
        )
    finally:
        for p in load:
            p.kill()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run,) = (tmp_path / "ab").iterdir()
    for path in sorted(run.glob("pair-*/pair.json")):
        pair_ = json.loads(path.read_text())
        for arm, other in (("A", "B"), ("B", "A")):
            busy = intervals(logs[other][0]) + intervals(logs[other][1])
            for a, _, go, done in pair_["rounds"]:
                if a == arm:
                    assert not any(b0 < done and go < b1 for b0, b1 in busy), f"{other} ran during a round of {arm}"
    (v,) = json.loads((tmp_path / "v.json").read_text())["verdicts"]
    assert v["verdict"] in ("unchanged", "inconclusive"), v


def test_a_silent_worker_is_named_and_stopped_with_everything_it_started(project, tmp_path):
    """B's worker hangs (each call sleeps 60 s): past --worker-timeout it is named with where it was, both
    workers are stopped (no process of the A/B left), and with no complete pair the A/B is one message, exit 2."""
    from conftest import write_bench

    write_bench(project)
    out = tmp_path / "ab"
    proc = mlxbench_cli(
        "ab",
        "--worker-timeout",
        "2",
        "--b-env",
        "FAKE_DELAY=60",
        "--out",
        str(out),
        "--",
        "test_fake.py",
        "--backend",
        "numpy",
        cwd=project.path,
        env={"PYTHONPATH": str(project.path / "site")},
        timeout=120,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    message = said(proc.stderr)
    assert "arm B's worker has sent nothing for" in message and "in its start" in message, message
    assert "before any pair was complete" in message and "Traceback" not in proc.stderr
    left = subprocess.run(["pgrep", "-f", str(out)], capture_output=True, text=True)
    assert left.stdout.strip() == "", "a worker of the A/B is still running"


def test_an_interrupted_ab_leaves_no_worker_running(project, tmp_path):
    """Ctrl-C to the coordinator (its workers run in their own process groups, so the terminal's signal does
    not reach them): it stops both workers, says so, exit 130; the pairs measured so far stay."""
    import signal
    import time

    from conftest import write_bench

    write_bench(project)
    out = tmp_path / "ab"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlxbench",
            "ab",
            "--pairs",
            "3",
            "--out",
            str(out),
            "--",
            "test_fake.py",
            "--backend",
            "numpy",
        ],
        cwd=project.path,
        env={**os.environ, "PYTHONPATH": str(project.path / "site"), "FAKE_DELAY": "0.5"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as a terminal delivers it: a suite started in the background (`pytest &` in a script) passes
        # SIGINT on ignored, Python then leaves it ignored, and the A/B ran to its end (exit 0, not 130)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 60
    while time.time() < deadline and not list(out.glob("*/pair-01/A.log")):
        time.sleep(0.2)
    time.sleep(3)  # the workers are inside their rounds now
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err, err
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", str(out)], capture_output=True, text=True)
    assert left.stdout.strip() == "", "a worker of the interrupted A/B is still running"


def test_ab_without_a_test_path_runs_the_benchmarks_folder():
    from mlxbench.ab.command import with_test_path

    assert with_test_path(["--", "--profile", "ci", "-k", "linreg"]) == [
        "benchmarks",
        "--profile",
        "ci",
        "-k",
        "linreg",
    ]
    assert with_test_path(["tests/ab/test_paired.py", "-k", "x"]) == ["tests/ab/test_paired.py", "-k", "x"]
    data = str(Path(__file__).resolve().parents[1] / "data")  # a folder that exists, given as an option's value
    assert with_test_path(["--data-dir", data, "-k", "x"]) == ["benchmarks", "--data-dir", data, "-k", "x"]


@pytest.mark.parametrize(
    "args, named",
    [
        (["--alpha", "5"], "--alpha 5.0"),
        (["--alpha", "nan"], "--alpha nan"),
        (["--design", "processes", "--target-effect", "-1"], "--target-effect -1.0"),
        (["--design", "processes", "--processes", "1"], "--processes 1: give at least"),
        (["--processes", "3"], "--processes applies to --design processes only; this run's design is paired"),
        (["--b-env", "OMP_NUM_THREADS=4"], "sets OMP_NUM_THREADS itself in every run"),
        (["--worker-timeout", "0"], "--worker-timeout 0.0: give seconds"),
        (["--design", "processes", "--rewarm", "2", "--pairs", "4"], "--rewarm, --pairs apply to --design paired only"),
        (["--design", "processes", "--seed", "3"], "--seed 3 seeds --order random only"),
        (["--time-budget", "0"], "--time-budget 0.0"),
        (["--pairs", "2"], "--pairs 2"),
        (["--rewarm", "-1"], "--rewarm -1"),
        (["--draws", "0"], "--draws 0: give a count of preparations"),
        (["--design", "processes", "--draws", "2"], "--draws applies to --design paired only"),
        (["--threshold", "2"], "--threshold 2.0"),
    ],
)
def test_ab_checks_every_number_before_any_work(tmp_path, args, named):
    proc = mlxbench_main("ab", *args, "--out", str(tmp_path / "ab"))
    assert proc.returncode == 2 and named in " ".join(proc.stderr.split()) and "Traceback" not in proc.stderr
    assert not (tmp_path / "ab").exists()


def test_ab_checks_its_output_paths_before_any_work(tmp_path):
    """A --json that cannot be written once failed after the whole A/B had run (30 s here, hours on a Mac)."""
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    out = ["--out", str(tmp_path / "ab")]
    for args, named in (
        (["--json", str(tmp_path / "adir"), *out], "that is a folder; name a file in it"),
        (["--json", str(tmp_path / "afile" / "v.json"), *out], "is a file, not a folder"),
        (["--out", str(tmp_path / "afile")], "that is a file, not a folder; choose a folder"),
    ):
        proc = mlxbench_main("ab", *args)
        assert proc.returncode == 2 and named in " ".join(proc.stderr.split()), proc.stderr
        assert "Traceback" not in proc.stderr and not (tmp_path / "ab").exists()
    assert (tmp_path / "afile").read_text() == "x"


def pair(rng, n_rounds: int, shift: float, pair_sd: float, round_sd: float, drift_sd: float = 0.2) -> dict:
    """One pair of workers: both see the same drift each round; each has its own process offset."""
    drift = rng.normal(0, drift_sd, n_rounds)
    a = np.exp(rng.normal(0, pair_sd / math.sqrt(2)) + drift + rng.normal(0, round_sd, n_rounds))
    b = np.exp(math.log1p(shift) + rng.normal(0, pair_sd / math.sqrt(2)) + drift + rng.normal(0, round_sd, n_rounds))
    return {"A": list(a), "B": list(b)}


def test_pairing_removes_a_drift_that_process_medians_keep():
    """A drift 10x the process spread, shared by adjacent rounds: the paired estimate sees a 10% slowdown
    with 8 pairs; the same workers judged by their medians (the process design) cannot."""
    rng = np.random.default_rng(0)
    pairs = [pair(rng, 6, 0.10, 0.01, 0.01, drift_sd=0.0) for _ in range(8)]
    for p in pairs:  # each pair of workers ran at another time of the machine's day
        level = math.exp(rng.normal(0, 0.3))
        p["A"], p["B"] = [x * level for x in p["A"]], [x * level for x in p["B"]]
    results = [PairResult(times={"t": p}) for p in pairs]
    (v,) = evidence.judge(estimates(results), {"t": 0.10})
    (old,) = evidence.judge(stats.process_estimates(pairfile.timings(results)), {"t": 0.10})
    assert v.verdict == "regressed" and v.mde < 0.10
    assert old.verdict == "inconclusive" and old.mde > 0.5


def test_paired_false_alarms_and_power_by_simulation():
    """20 benchmarks, 8 pairs, pair spread 2%: unchanged code reports a change in at most ~alpha of runs;
    a true 10% slowdown is caught where the stated minimum detectable effect is below 10%."""
    rng = np.random.default_rng(1)
    any_false, caught, seen = 0, 0, 0
    for _ in range(200):
        runs = [PairResult(times={f"b{i}": pair(rng, 5, 0.0, 0.02, 0.03) for i in range(20)}) for _ in range(8)]
        verdicts = evidence.judge(estimates(runs))
        any_false += any(v.verdict in ("regressed", "improved") for v in verdicts)
    assert any_false <= 200 * 0.05 * 2  # alpha = 0.05 family-wise, with room for simulation error
    for _ in range(100):
        runs = [PairResult(times={"s": pair(rng, 5, 0.10, 0.02, 0.03)}) for _ in range(8)]
        (v,) = evidence.judge(estimates(runs), family=20)
        if v.mde <= 0.10:
            seen += 1
            caught += v.regressed
    assert seen > 50 and caught / seen >= 0.93


def test_more_pairs_follows_the_budget():
    assert stats.more_pairs(0, 0.0, 60, None) and stats.more_pairs(2, 500, 60, None)  # at least MIN_PAIRS
    assert stats.more_pairs(3, 30, 60, None) and not stats.more_pairs(3, 50, 60, None)
    assert not stats.more_pairs(4, 1, 600, 4)


def test_every_verdict_path_gives_the_same_verdict_on_the_same_samples(tmp_path):
    """One rule: the A/B engine, the history gate (in pytest and offline), `mlxbench compare` and
    `mlxbench report` agree on the same saved runs."""
    from conftest import make_run
    from mlxbench.reports import report
    from mlxbench.runs import load_run
    from mlxbench.verdicts import gate, verdict

    rng = np.random.default_rng(3)
    names = {f"t::b{i}[numpy]": 1.3 if i == 0 else (0.7 if i == 1 else 1.0) for i in range(4)}
    info = {"workload": "w", "variant": "v", "backend": "numpy"}
    folder = tmp_path / "Test-Box"
    folder.mkdir()
    for k in range(5):  # four saved runs, then the current one
        level = float(np.exp(rng.normal(0, 0.02)))
        runs = {n: (list(level * (f if k == 4 else 1.0) * rng.lognormal(0, 0.01, 6)), info) for n, f in names.items()}
        (folder / f"000{k + 1}_x_20261101_00000{k}.json").write_text(json.dumps(make_run(runs)))
    saved = [load_run(p) for p in sorted(folder.glob("*.json"))]
    g = gate.RegressionGate.from_runs(saved[3], saved[:3], None)
    offline = {r.name: r.verdict for r in gate.judge_run(g, saved[4])}
    assert offline["t::b0[numpy]"] == "regressed" and offline["t::b1[numpy]"] == "improved"
    rep = report.build(saved, baseline=saved[3])
    assert {r.name: r.verdict for r in rep.verdicts} == offline
    for name, res in zip(offline, g.results, strict=True):  # the engine on the same estimate
        hist = [np.log(np.median(r.benchmarks[name]["stats"]["data"])) for r in saved[:4]]
        d = float(np.log(np.median(saved[4].benchmarks[name]["stats"]["data"])) - np.mean(hist))
        spread = max(float(np.std(hist, ddof=1)), 1e-6) * math.sqrt(1 + 1 / 4)
        est = evidence.Estimate(d, spread, 3, 1.0, 1.0, (4, 1), spread, "history")
        if spread >= res.ci_high:  # only where the run's own sampling error did not floor the spread
            continue
        (ab,) = evidence.judge({name: est}, alpha=verdict.ALPHA, family=4)
        assert ab.verdict == offline[name]
    proc = mlxbench_main("compare", str(saved[3].path), str(saved[4].path))
    assert proc.returncode == 1, proc.stderr
    for name, v in offline.items():
        line = next(line for line in proc.stdout.splitlines() if name.split("::")[1] in line)
        assert v in line


def test_the_slowdown_plugin_slows_a_real_benchmark_end_to_end(project, tmp_path):
    """`-p mlxbench.tools.slowdown` through pytest: the slowed arm's calls read about 1.5x slower."""
    from conftest import write_bench

    write_bench(project)
    out = {}
    plugin = "mlxbench.tools.slowdown"
    for label, spec in (("plain", ""), ("slow", "fakesum=0.5")):
        json_path = tmp_path / f"{label}.json"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                plugin,
                "test_fake.py",
                "--backend",
                "numpy",
                "-p",
                "no:cacheprovider",
                f"--benchmark-json={json_path}",
            ],
            cwd=project.path,
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "PYTHONPATH": str(project.path / "site"),
                "FAKE_DELAY": "0.01",
                "MLXBENCH_SLOWDOWN": spec,
            },
        )
        assert proc.returncode == 0, proc.stdout[-2000:]
        (b,) = json.loads(json_path.read_text())["benchmarks"]
        out[label] = b["stats"]["median"]
    assert 1.35 < out["slow"] / out["plain"] < 1.8
    bad = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "mlxbench.tools.slowdown", "test_fake.py", "-p", "no:cacheprovider"],
        cwd=project.path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(project.path / "site"), "MLXBENCH_SLOWDOWN": "sum=fast"},
    )
    assert bad.returncode == 4 and "MLXBENCH_SLOWDOWN" in bad.stderr and "Traceback" not in bad.stderr
    unknown = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "mlxbench.tools.slowdown",
            "test_fake.py",
            "--backend",
            "numpy",
            "-p",
            "no:cacheprovider",
            "--benchmark-disable",
        ],
        cwd=project.path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(project.path / "site"), "MLXBENCH_SLOWDOWN": "linreg=0.1"},
    )
    assert "MLXBENCH_SLOWDOWN slowed no benchmark of: linreg" in unknown.stdout


def test_pair_log_ratios_match_rounds_and_drop_unusable_times():
    r = Unit(1, (1.0, 2.0, math.nan, 4.0), (2.0, 4.0, 8.0)).log_ratios()
    assert np.allclose(r, [math.log(2)] * 2)  # three matched rounds, the first left out
    assert np.allclose(Unit(1, (1.0, 2.0), (3.0, 4.0)).log_ratios(), [math.log(3), math.log(2)])
    assert "need >= 3 pairs" in str(estimates([PairResult(times={"t": {"A": [1.0], "B": [1.0]}})])["t"])


def test_report_renders_an_ab_folder_in_every_format(tmp_path):
    """`mlxbench report AB_FOLDER`: verdicts, intervals, what each benchmark sees, a plot of the samples;
    the same command again succeeds and changes nothing; a file that differs is never overwritten."""
    from mlxbench.reports import abreport

    folder = tmp_path / "ab" / "20261130-000000"
    rng = np.random.default_rng(4)
    results = []
    for k in range(3):
        (folder / f"pair-0{k + 1}").mkdir(parents=True)
        times = {"b::t[x-<1>]": pair(rng, 5, 0.5, 0.01, 0.01), "b::t[y]": pair(rng, 5, 0.0, 0.01, 0.01)}
        results.append(PairResult(times=times))
        (folder / f"pair-0{k + 1}" / "pair.json").write_text(json.dumps(results[-1].as_dict()))
    verdicts = evidence.judge(estimates(results))
    doc = {
        "design": "paired",
        "pairs": 3,
        "stopped": "--pairs reached",
        "alpha": 0.05,
        "pytest_args": ["benchmarks"],
        "a": {"python": "py", "env": {}},
        "b": {"python": "py", "env": {}},
        "spreads": stats.spreads(pairfile.timings(results)),
        "verdicts": [v.as_dict() for v in verdicts],
    }
    (folder / "verdicts.json").write_text(json.dumps(doc))
    proc = mlxbench_main("report", str(folder))
    assert proc.returncode == 0, proc.stderr
    out = folder / "report"
    assert sorted(p.name for p in out.iterdir()) == sorted([*abreport.FILES.values(), abreport.PLOT])
    md = (out / "ab.md").read_text()
    assert "1 regressed" in md and "3 pairs of workers" in md and "x-<1>" in md and "sees" in md  # plain in Markdown
    assert "![" not in (out / "ab-summary.md").read_text()
    assert "<img" in (out / "ab.html").read_text() and "&lt;1&gt;" in (out / "ab.html").read_text()
    assert json.loads((out / "ab.json").read_text())["counts"]["regressed"] == 1
    assert (out / abreport.PLOT).read_bytes()[:4] == b"\x89PNG"
    again = mlxbench_main("report", str(folder))  # the same report again: nothing changes, nothing fails
    assert again.returncode == 0 and again.stdout.count("unchanged ") == 5 and "wrote" not in again.stdout
    (out / "ab.md").write_text("my notes")  # a file that differs is never overwritten
    third = mlxbench_main("report", str(folder))
    assert third.returncode == 2 and "already exist" in third.stderr and (out / "ab.md").read_text() == "my notes"
    (folder / "verdicts.json").write_text('{"verdicts": "no"}')
    bad = mlxbench_main("report", str(folder), "--out", str(tmp_path / "r2"))
    assert bad.returncode == 2 and "no 'verdicts' list" in said(bad.stderr) and "Traceback" not in bad.stderr


def test_a_damaged_pair_file_leaves_out_its_samples_only(tmp_path):
    """pair.json files cut short or damaged (any shape) are left out of the plot; the others are read."""
    from mlxbench.reports import abreport

    good = {"times": {"b::t[x]": {"A": [1.0, 2.0], "B": [3.0]}}}
    for k, doc in enumerate(
        [good, [1, 2], {"times": "x"}, {"times": {"b::t[x]": [1]}}, {"times": {"b::t[x]": {"A": ["a"]}}}]
    ):
        (tmp_path / f"pair-0{k}").mkdir()
        (tmp_path / f"pair-0{k}" / "pair.json").write_text(json.dumps(doc))
    (tmp_path / "pair-09").mkdir()
    (tmp_path / "pair-09" / "pair.json").write_text("[" * 100_000)
    assert abreport.read_samples(tmp_path) == {"b::t[x]": Timings("b::t[x]", "pairs", (Unit(0, (1.0, 2.0), (3.0,)),))}
