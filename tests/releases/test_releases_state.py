"""What `mlxbench releases` reads back from its output folder, and who may write there: a run that a killed
session's pytest saved after state.json stopped recording (adopted or set aside, never measured again
silently), a damaged state.json (named, kept aside, started afresh, before anything is measured), a recorded
run gone or damaged, a damaged A/B file, another selection's state, and one writer per folder (the lock)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_releases import MLX, environment_of, junit

from conftest import make_run, said
from mlxbench import cli
from mlxbench.ab import venvs
from mlxbench.releases import history, index, lock, state, steps

A, B = "benchmarks/test_workloads.py::test_workload[a]", "benchmarks/test_workloads.py::test_workload[b]"


class Killed(BaseException):
    """What SIGKILL does to `mlxbench releases`: it stops where it is, and nothing after runs."""


class Sessions:
    """Pretend releases' pytest sessions: each saves a run (recording its release's version, as a real session in
    that environment does) of the tests that pass; `kill_after` names a release whose session saves its run
    and then takes `mlxbench releases` down with it, before state.json records the run."""

    def __init__(self, fail: dict[str, str] | None = None, kill_after: str | None = None):
        self.fail, self.kill_after, self.calls = fail or {}, kill_after, []

    def __call__(self, cmd: list[str], log: Path) -> int:
        version = log.name.split("-")[0]
        self.calls.append(version)
        log.write_text("collected\n")
        arg = {c.split("=", 1)[0]: c.split("=", 1)[1] for c in cmd if c.startswith("--") and "=" in c}
        deselected = {c.split("=", 1)[1] for c in cmd if c.startswith("--deselect=")}
        cases = {n: "pass" for n in ("test_workload[a]", "test_workload[b]")}
        if version in self.fail:
            cases["test_workload[b]"] = f"fail:{self.fail[version]}"
        cases = {n: h for n, h in cases.items() if not any(d.endswith(n) for d in deselected)}
        junit(Path(arg["--junitxml"]), cases)
        if any(h.startswith("fail") for h in cases.values()):
            return 1
        store = Path(arg["--benchmark-storage"]) / "machine"
        store.mkdir(parents=True, exist_ok=True)
        benches = {f"benchmarks/test_workloads.py::{n}": ([1.0, 1.01, 1.02], {"workload": "linreg"}) for n in cases}
        facts = {"versions": {"mlx": version}}
        number = len(list(store.glob("*.json"))) + 1
        (store / f"{number:04d}_{arg['--benchmark-save']}.json").write_text(json.dumps(make_run(benches, facts)))
        if version == self.kill_after:
            raise Killed
        return 0


def build(out: Path, sessions: Sessions, versions=("0.1.0", "0.2.0", "0.3.0")) -> history.History:
    return history.build(MLX, list(versions), ["benchmarks"], out, environment_of(set()), sessions)


def killed_at(out: Path, version: str, sessions: Sessions | None = None) -> None:
    with pytest.raises(Killed):
        build(out, sessions or Sessions(kill_after=version))


def test_a_run_saved_after_releases_was_killed_is_adopted_not_measured_again(tmp_path, capsys):
    killed_at(tmp_path, "0.2.0")
    recorded = json.loads((tmp_path / "state.json").read_text())
    assert list(recorded["releases"]) == ["0.1.0"] and recorded["measuring"]["version"] == "0.2.0"
    again = Sessions()
    hist = build(tmp_path, again)
    assert again.calls == ["0.3.0"]  # 0.2.0's run, saved by the killed session's pytest, is its release's run
    assert [(r.version, r.status) for r in hist.releases] == [
        ("0.1.0", "timed"),
        ("0.2.0", "timed"),
        ("0.3.0", "timed"),
    ]
    assert Path(hist.releases[1].run).name == "0002_mlx-0.2.0.json"
    assert "0.2.0: timed: adopted machine/0002_mlx-0.2.0.json" in said(capsys.readouterr().out)
    recorded = json.loads((tmp_path / "state.json").read_text())
    assert "measuring" not in recorded and recorded["releases"]["0.2.0"]["run"].endswith("0002_mlx-0.2.0.json")
    assert sorted(p.name for p in (tmp_path / "runs" / "machine").iterdir()) == [
        "0001_mlx-0.1.0.json",
        "0002_mlx-0.2.0.json",
        "0003_mlx-0.3.0.json",
    ]


def test_an_adopted_run_of_the_second_attempt_is_partly_timed_with_the_failed_test_named(tmp_path):
    killed_at(tmp_path, "0.2.0", Sessions(fail={"0.2.0": "accuracy gate: loss 9.1"}, kill_after="0.2.0"))
    hist = build(tmp_path, Sessions(fail={"0.2.0": "accuracy gate: loss 9.1"}))
    r = hist.releases[1]
    assert (r.status, r.failed) == ("partly timed", [B]) and "accuracy gate: loss 9.1" in r.reason
    assert list(hist.runs["0.2.0"].benchmarks) == [A]


def damage_newest_run(out: Path) -> Path:
    newest = sorted((out / "runs" / "machine").glob("*.json"))[-1]
    newest.write_text(newest.read_text()[:200])
    return newest


def test_an_unrecorded_run_that_cannot_be_adopted_is_set_aside_said_and_measured_again(tmp_path, capsys):
    """Damaged (the disk filled while it was written), of an unrecorded session (state.json written by an
    mlxbench before it recorded what it was measuring, as in the sweep), or of another release: set aside into
    OUT/set-aside/, named on stderr, and the release measured again; the file is kept as it was."""
    killed_at(tmp_path, "0.2.0")
    damaged = damage_newest_run(tmp_path)
    text = damaged.read_text()
    again = Sessions()
    hist = build(tmp_path, again)
    err = said(capsys.readouterr().err)
    assert again.calls == ["0.2.0", "0.3.0"] and hist.releases[1].status == "timed"
    kept = tmp_path / "set-aside" / "machine" / "0002_mlx-0.2.0.json"
    assert kept.read_text() == text
    assert "machine/0002_mlx-0.2.0.json is a saved run state.json does not record (it is not a complete, valid " in err
    assert f"set aside as {kept}; 0.2.0 is measured again" in err

    old = tmp_path / "old"  # the sweep: a state.json that never said 0.2.0 was being measured
    killed_at(old, "0.2.0")
    doc = json.loads((old / "state.json").read_text())
    (old / "state.json").write_text(json.dumps({"key": doc["key"], "releases": doc["releases"]}))
    again = Sessions()
    build(old, again)
    assert again.calls == ["0.2.0", "0.3.0"]
    assert "state.json does not say that this release was being measured" in said(capsys.readouterr().err)
    assert (old / "set-aside" / "machine" / "0002_mlx-0.2.0.json").is_file()


def test_a_run_of_another_release_is_not_adopted(tmp_path, capsys):
    killed_at(tmp_path, "0.2.0")
    run = tmp_path / "runs" / "machine" / "0002_mlx-0.2.0.json"
    doc = json.loads(run.read_text())
    doc["machine_info"]["mlxbench"]["versions"]["mlx"] = "0.3.0"
    run.write_text(json.dumps(doc))
    again = Sessions()
    build(tmp_path, again)
    assert again.calls == ["0.2.0", "0.3.0"]
    assert "(it measured mlx 0.3.0, not 0.2.0)" in said(capsys.readouterr().err)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's")
def test_sigkill_to_releases_takes_its_pytest_session_with_it(tmp_path):
    """The sweep's case as a user meets it: `mlxbench releases` SIGKILLed while a release's pytest runs. The
    session dies with it (it saved nothing), and the next invocation measures that release once."""
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "test_slow.py").write_text(
        textwrap.dedent(f"""
        import os, time

        def test_slow(benchmark):
            open({str(tmp_path / "child.pid")!r}, "w").write(str(os.getpid()))
            time.sleep(20)
            benchmark(sum, range(10))
    """)
    )
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from mlxbench import cli
        from mlxbench.ab import venvs
        from mlxbench.releases import index
        index.pip_versions = lambda dist: "Available versions: 0.2.0, 0.1.0\\n"
        venvs.environment = lambda wanted, log=None: Path(sys.executable)
        sys.exit(cli.main(["releases", "mlx", "--out", {str(out)!r}, "--confirm", "none", "--", {str(bench)!r}]))
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid_file = tmp_path / "child.pid"
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline and parent.poll() is None, "the release's pytest session never started"
        time.sleep(0.1)
    child = int(pid_file.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while alive(child):
        assert time.monotonic() < deadline, f"pytest session {child} outlived the SIGKILLed mlxbench releases"
        time.sleep(0.05)
    recorded = json.loads((out / "state.json").read_text())
    assert recorded["releases"] == {} and recorded["measuring"]["version"] == "0.1.0"
    assert not list((out / "runs").glob("*/*.json"))


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has died; only its exit status is left to collect


DAMAGED = {
    "empty": (b"", "it is empty"),
    "NUL-filled": (b"\0" * 4096, "it holds NUL bytes (4096 of 4096 bytes"),
    "truncated": (None, "truncated: it ends at byte 150, inside its JSON (Unterminated string starting at: line"),
    "status a number": ("status", "'releases.0.1.0.status' is 5, not a string"),
    "a list": (b"[]", "it holds list, not a mapping"),
    "nested deep": (b"[" * 100_000, "not valid JSON (nested too deeply"),
    "an unknown field": ("extra", "'releases.0.1.0' holds 'colour', which mlxbench never writes there"),
}


@pytest.mark.parametrize("kind", list(DAMAGED))
def test_a_damaged_state_is_named_kept_aside_and_started_afresh_before_anything_is_measured(kind, tmp_path, capsys):
    build(tmp_path, Sessions(), versions=("0.1.0", "0.2.0"))
    path = tmp_path / "state.json"
    content, message = DAMAGED[kind]
    if content is None:
        content = path.read_bytes()[:150]
    elif content == "status":
        doc = json.loads(path.read_text())
        doc["releases"]["0.1.0"]["status"] = 5
        content = json.dumps(doc).encode()
    elif content == "extra":
        doc = json.loads(path.read_text())
        doc["releases"]["0.1.0"]["colour"] = "red"
        content = json.dumps(doc).encode()
    path.write_bytes(content)
    capsys.readouterr()
    sessions = Sessions()

    def first_measurement(cmd, log):
        assert list(tmp_path.glob("state.json.damaged-*")), "measured before state.json was read back"
        return sessions(cmd, log)

    hist = history.build(MLX, ["0.1.0", "0.2.0"], ["benchmarks"], tmp_path, environment_of(set()), first_measurement)
    err = said(capsys.readouterr().err)
    assert f"{path} is damaged ({message}" in err, err
    assert "starting afresh, so every release is measured again; the 2 saved runs in" in err
    (kept,) = tmp_path.glob("state.json.damaged-*")
    assert kept.read_bytes() == content  # history is never deleted
    assert sessions.calls == ["0.1.0", "0.2.0"] and len(hist.timed) == 2
    assert len(list((tmp_path / "runs" / "machine").glob("*.json"))) == 4  # the earlier runs left as they are


def test_the_command_reads_state_back_before_it_measures(tmp_path, monkeypatch, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "state.json").write_bytes(b"\0" * 64)
    monkeypatch.setattr(index, "pip_versions", lambda dist: "Available versions: 0.2.0, 0.1.0")

    def environment(wanted, log=None):
        assert list(out.glob("state.json.damaged-*")), "measured before state.json was read back"
        raise index.BadRun(f"could not install {wanted[0]}: no network")

    monkeypatch.setattr(venvs, "environment", environment)
    assert cli.main(["releases", "mlx", "--out", str(out)]) == 2
    err = said(capsys.readouterr().err)
    assert "state.json is damaged (it holds NUL bytes" in err and "no release could be timed" in err
    (out / "state.json").unlink()
    (out / "state.json").mkdir()
    assert cli.main(["releases", "mlx", "--out", str(out)]) == 2
    err = said(capsys.readouterr().err)
    assert "state.json is a folder, not the state file of mlxbench releases: move it away" in err


def test_a_recorded_run_gone_or_damaged_is_said_and_measured_again(tmp_path, capsys):
    build(tmp_path, Sessions())
    runs = sorted((tmp_path / "runs" / "machine").glob("*.json"))
    runs[0].unlink()
    runs[1].write_text("{")
    capsys.readouterr()
    again = Sessions()
    hist = build(tmp_path, again)
    err = said(capsys.readouterr().err)
    assert again.calls == ["0.1.0", "0.2.0"] and len(hist.timed) == 3
    assert f"mlx 0.1.0: its saved run {runs[0]} is gone; it is measured again" in err
    assert "mlx 0.2.0: its saved run cannot be read (" in err and "set aside as" in err
    assert (tmp_path / "set-aside" / "machine" / runs[1].name).read_text() == "{"


def test_another_selection_keeps_its_state_aside_and_takes_it_back(tmp_path, capsys):
    first = Sessions()
    build(tmp_path, first)
    other = Sessions()
    history.build(MLX, ["0.1.0", "0.2.0"], ["benchmarks", "-k", "a"], tmp_path, environment_of(set()), other)
    assert other.calls == ["0.1.0", "0.2.0"]
    kept = list(tmp_path.glob("state-*.json"))
    assert len(kept) == 1 and "was of another selection" in said(capsys.readouterr().err)
    again = Sessions()
    hist = build(tmp_path, again)
    assert again.calls == [] and len(hist.timed) == 3  # the first selection's releases, reused
    assert "took back this selection's state" in capsys.readouterr().out
    assert not (tmp_path / "set-aside").exists()  # the other selection's runs are not orphans


def test_a_damaged_ab_file_is_named_kept_aside_and_made_again(tmp_path, capsys):
    hist = build(tmp_path, Sessions())
    made = []

    def ab(python_a, python_b, pytest_args, budget, out, target):
        made.append(target)
        verdict = {"name": A, "verdict": "regressed", "ratio": 1.3, "ci_low": 1.2, "ci_high": 1.4, "mde": 0.05}
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps({"verdicts": [verdict | {"threshold": 0.1}]}))
        return 1

    step = steps.Step(A, "linreg a", "0.1.0", "0.2.0", 1.3, "moved 30%")
    steps.confirm(hist, [step], 1.0, ab)
    assert step.outcome == "confirmed" and len(made) == 1
    made[0].write_text(json.dumps({"verdicts": [{"name": A, "verdict": "regressed", "ratio": "x1.3"}]}))
    again = steps.Step(A, "linreg a", "0.1.0", "0.2.0", 1.3, "moved 30%")
    steps.confirm(hist, [again], 1.0, ab)
    err = said(capsys.readouterr().err)
    assert len(made) == 2 and again.outcome == "confirmed"
    assert "is damaged (benchmarks/test_workloads.py::test_workload[a]: 'ratio' is \"x1.3\", not a number)" in err
    assert len(list((tmp_path / "ab").glob("*.json.damaged-*"))) == 1


def holder_process(out: Path) -> subprocess.Popen:
    """Another process holding OUT's lock until its stdin closes."""
    code = (
        "import sys\nfrom pathlib import Path\nfrom mlxbench.releases import lock\n"
        f"with lock.holding(Path({str(out)!r}), 'mlxbench releases mlx'):\n"
        "    print('held', flush=True)\n    sys.stdin.read()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_one_writer_per_output_folder_the_second_is_refused_with_who_holds_it(tmp_path, monkeypatch, capsys):
    out = tmp_path / "o"
    monkeypatch.setattr(index, "pip_versions", lambda dist: "Available versions: 0.2.0, 0.1.0")
    monkeypatch.setattr(venvs, "environment", lambda wanted, log=None: pytest.fail("measured in a held folder"))
    first = holder_process(out)
    try:
        for argv in (["releases", "mlx"], ["bisect", "mlx", "0.1.0", "0.2.0"]):
            assert cli.main([*argv, "--out", str(out)]) == 2
            err = said(capsys.readouterr().err)
            assert f"mlxbench: {out} is in use by another mlxbench releases or bisect (pid {first.pid} on " in err
            assert "started 20" in err and " UTC: mlxbench releases mlx)" in err
            assert f"Wait for it to end, stop it (kill {first.pid}), or give this one another folder with --out" in err
        assert not (out / "state.json").exists()  # nothing measured, nothing recorded
    finally:
        first.kill()  # SIGKILL: the kernel lets go of the lock, whatever the file says
        first.wait()
    with lock.holding(out, "mlxbench releases mlx"):
        assert json.loads((out / lock.NAME).read_text())["pid"] == os.getpid()


def test_the_lock_is_not_inherited_by_a_child_process(tmp_path):
    out = tmp_path / "o"
    with lock.holding(out, "mlxbench releases mlx"):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with lock.holding(out, "mlxbench releases mlx"):  # the child of a killed holder does not keep the folder
            pass
    finally:
        child.kill()
        child.wait()


def test_state_problem_names_each_damage():
    good = {"key": "0123456789abcdef", "releases": {}}
    assert state.problem(good) is None
    assert state.problem(good | {"key": 5}) == "'key' is 5, not a selection key (16 hexadecimal digits)"
    release = {
        "version": "0.1.0",
        "status": "timed",
        "reason": "",
        "run": None,
        "python": None,
        "failed": [],
        "seconds": 1.0,
    }
    assert "names no saved run" in state.problem(good | {"releases": {"0.1.0": release}})
    bad_time = release | {"run": "x.json", "seconds": float("nan")}
    assert "'releases.0.1.0.seconds' is nan" in state.problem(good | {"releases": {"0.1.0": bad_time}})
    assert "'measuring' lacks 'before'" in state.problem(good | {"measuring": {"version": "0.1.0", "deselected": {}}})
