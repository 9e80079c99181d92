"""Runs of another host of the same machine type are a reference shown beside this run, never the history
this host's changes are judged by; and pytest-benchmark's 5 KB machine_info warning is one line."""

from __future__ import annotations

import json

from conftest import make_run, write_bench
from mlxbench.measure import machine
from mlxbench.runs import load_run, runs_before, split_by_host


def test_a_host_is_named_explicitly_or_by_a_hash_that_reveals_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("MLXBENCH_HOST", "ci runners/macs")
    assert machine.host_id() == "ci_runners_macs"
    monkeypatch.delenv("MLXBENCH_HOST")
    first, again = machine.host_id(), machine.host_id()
    assert first == again and first.startswith("h-") and len(first) == 14
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            assert open(path).read().strip() not in first
        except OSError:
            pass


def test_history_is_the_same_hosts_earlier_runs(tmp_path):
    runs = []
    for i, host in enumerate(["a", "b", "a", None, "a"], start=1):
        path = tmp_path / f"{i:04}_x.json"
        path.write_text(json.dumps(make_run({"t::x": ([1.0, 1.1, 1.2], {})}, host=host)))
        runs.append(load_run(path))
    assert [r.path.name[:4] for r in runs_before(runs[4], runs)] == ["0001", "0003"]
    assert [r.path.name[:4] for r in runs_before(runs[3], runs)] == []  # a run without a host has no history
    own, others = split_by_host(runs, "a")
    assert len(own) == 3 and [r.host for r in others] == ["b", None]


def saved_run(project) -> tuple:
    result = project.runpytest("--backend", "numpy", "--benchmark-autosave")
    result.assert_outcomes(passed=1)
    (path,) = (project.path / "baselines" / "T").glob("0001_*.json")
    return path, json.loads(path.read_text())


def test_another_hosts_committed_run_is_a_reference_not_a_baseline(project, monkeypatch):
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "T")
    write_bench(project)
    path, data = saved_run(project)
    assert data["mlxbench"]["host"] == "test-host"
    data["mlxbench"]["host"] = "another-vm"  # committed a week ago by another VM of this type
    path.write_text(json.dumps(data))
    result = project.runpytest("--backend", "numpy", "--benchmark-compare")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert "no saved seed-profile run of this host" in out and "MLXBENCH_HOST" in out
    result.stdout.fnmatch_lines(
        ["mlxbench: reference (not judged): this run against 0001_*", "  1 of 1 benchmarks in common: median ratio x*"]
    )
    assert "what changed" not in out and "Comparing against benchmarks from" not in out
    monkeypatch.setenv("MLXBENCH_HOST", "another-vm")  # hosts that share one history name it alike
    shared = project.runpytest("--backend", "numpy", "--benchmark-compare")
    assert "what changed against 0001_" in shared.stdout.str() and "reference (not judged)" not in shared.stdout.str()


def test_a_baseline_of_other_machine_facts_is_said_in_one_line(project, monkeypatch):
    monkeypatch.setenv("MLXBENCH_MACHINE_ID", "T")
    write_bench(project)
    path, data = saved_run(project)
    data["machine_info"]["node"] = "elsewhere"
    data["machine_info"].setdefault("cpu", {})["hz_actual"] = [1, 0]
    path.write_text(json.dumps(data))
    result = project.runpytest("--backend", "numpy", "--benchmark-compare", "-W", "error::UserWarning")
    result.assert_outcomes(passed=1)
    out = result.stdout.str() + result.stderr.str()
    assert "Benchmark machine_info is different" not in out
    (line,) = [ln for ln in out.splitlines() if "machine_info differs" in ln]
    assert line == "mlxbench: the baseline's machine_info differs from this machine's in: cpu.hz_actual, node"


def test_runs_that_recorded_no_host_are_not_said_to_come_from_another_host(tmp_path):
    """Runs saved before hosts were recorded are a reference too, but what is said of them must be true."""
    from mlxbench.session.outcome import no_history, reference_lines

    runs = []
    for i, host in enumerate([None, "b"], start=1):
        path = tmp_path / f"{i:04}_x.json"
        path.write_text(json.dumps(make_run({"t::x": ([1.0, 1.1, 1.2], {})}, host=host)))
        runs.append(load_run(path))
    said = " ".join(no_history(tmp_path, "seed", runs[:1]).split())
    assert "its 1 run names no host (saved before runs recorded their host)" in said and "another host" not in said
    both = " ".join(no_history(tmp_path, "seed", runs).split())
    assert "came from another host of this machine type or name none (1 saved before runs recorded it)" in both
    assert "another host" in " ".join(no_history(tmp_path, "seed", runs[1:]).split())
    current = [runs[0].benchmarks["t::x"]]
    assert "(its host not recorded, " in reference_lines(runs[0], current)[0]
    assert "(another host, " in reference_lines(runs[1], current)[0]
