"""`mlxbench ab` from start to end: no worker outlives its coordinator, a worker killed by a signal is named
as killed, an A/B with fewer complete pairs than asked for does not exit 0, a worker that hangs in a round is
stopped by what the rounds of its benchmark explain (from the first pair on, either arm), one writer per
output folder, `ab merge` counts each pair once however its folder was copied, and verdicts.json is written
whole or not at all."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from test_merge_replay import cli, shard, synthetic_pair

from conftest import ENTRY_POINTS, FAKES, said, scratch_folder
from mlxbench.ab import command, engine, merge, paired
from mlxbench.ab.coordinator import ROUND_FACTOR, ROUND_FLOOR_S, PairResult, silence_limit
from mlxbench.ab.schedule import Worker
from mlxbench.runs import BadRun
from mlxbench.session import saving
from mlxbench.verdicts.paired import MIN_PAIRS

LINUX_ONLY = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="a worker dies with its SIGKILLed coordinator through PR_SET_PDEATHSIG, which only Linux has (elsewhere "
    "the coordinator's handlers stop its workers on Ctrl-C, SIGTERM and SIGHUP only)",
)

FAULTY = '''
import os
import signal
import time

import mlxbench_fake


class Faulty(type(mlxbench_fake.WORKLOAD)):
    """The fake workload with faults: HANG_AT_CALL=N hangs this process's Nth call (a worker that never reports
    its round; its pid goes into HANG_NOTE, if set); KILL_IN_PROCESS=K with KILL_COUNT=FILE kills the K-th
    process (counted in FILE) by SIGKILL."""

    def prepare(self, backend, spec, variant, context, impl):
        prepared = super().prepare(backend, spec, variant, context, impl)
        count = os.environ.get("KILL_COUNT")
        if count:
            with open(count, "a") as f:
                f.write(f"{os.getpid()}\\n")
            with open(count) as f:
                if len(f.read().split()) == int(os.environ["KILL_IN_PROCESS"]):
                    os.kill(os.getpid(), signal.SIGKILL)
        hang_at, calls, inner = int(os.environ.get("HANG_AT_CALL", "0")), [], prepared.run

        def run():
            calls.append(1)
            if hang_at and len(calls) >= hang_at:
                if os.environ.get("HANG_NOTE"):
                    with open(os.environ["HANG_NOTE"], "a") as f:
                        f.write(f"{os.getpid()}\\n")
                time.sleep(3600)
            return inner()

        prepared.run = run
        return prepared


WORKLOAD = Faulty()


def test_sum(bench):
    bench.run(WORKLOAD, "ok")
'''


def faulty(project) -> dict[str, str]:
    """The scratch project with the faulty benchmark; the environment its A/B runs in."""
    project.makepyfile(test_faulty=textwrap.dedent(FAULTY))
    return {**os.environ, "PYTHONPATH": str(project.path / "site"), "FAKE_DELAY": "0.01"}


def ab(*args: str) -> list[str]:
    """`mlxbench ab ARGS` of the faulty benchmark."""
    return [sys.executable, "-m", "mlxbench", "ab", *args, "--", "test_faulty.py", "--backend", "numpy"]


def marked(mark: str, workers_only: bool = False) -> list[int]:
    """The live processes whose environment holds AB_MARK=mark (the workers: those with MLXBENCH_BATON too)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes().split(b"\0")  # empty for a zombie: it runs nothing
        except OSError:
            continue
        if f"AB_MARK={mark}".encode() in env and (
            not workers_only or any(v.startswith(b"MLXBENCH_BATON=") for v in env)
        ):
            found.append(int(entry.name))
    return found


@LINUX_ONLY
def test_a_sigkilled_coordinator_leaves_no_worker_running(project, tmp_path):
    """SIGKILL reaches no handler: while B's worker hangs in a call (it would sleep an hour; A waits for an
    order), `mlxbench ab` is SIGKILLed; its workers (in their own process groups, so no signal to the
    coordinator's group reaches them) die with it: none is left running."""
    env, mark, note = faulty(project), uuid.uuid4().hex, tmp_path / "hanging"
    coordinator = subprocess.Popen(
        ab("--b-env", "HANG_AT_CALL=1", "--b-env", f"HANG_NOTE={note}", "--out", str(tmp_path / "ab")),
        cwd=project.path,
        env={**env, "AB_MARK": mark},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (note.exists() and note.read_text().strip()):
            time.sleep(0.2)
        assert note.exists(), "B's worker did not reach its hanging call within 60 s"
        hanging = int(note.read_text().split()[0])
        assert hanging in marked(mark, workers_only=True) and len(marked(mark, workers_only=True)) == 2
        coordinator.kill()
        coordinator.wait(timeout=30)
        deadline = time.time() + 15
        while time.time() < deadline and marked(mark):
            time.sleep(0.2)
        assert marked(mark) == [], f"processes of the SIGKILLed A/B still run (B's hanging worker: {hanging})"
    finally:
        if coordinator.poll() is None:
            coordinator.kill()
        for pid in marked(mark):  # only where the test failed: leave nothing of it running
            os.kill(pid, signal.SIGKILL)


def test_a_worker_killed_by_a_signal_is_named_and_too_few_pairs_are_not_exit_0(project, tmp_path):
    """B's worker is SIGKILLed in the second of `--pairs 4`: it is named as killed by SIGKILL (not as a pytest
    exit of -9), the verdicts of the one complete pair are printed and saved, and the A/B exits INCOMPLETE,
    saying how many pairs it has of how many asked."""
    env, out = faulty(project), tmp_path / "ab"
    proc = subprocess.run(
        ab(
            "--pairs",
            "4",
            "--b-env",
            "KILL_IN_PROCESS=2",
            "--b-env",
            f"KILL_COUNT={tmp_path / 'count'}",
            "--out",
            str(out),
        ),
        cwd=project.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == command.INCOMPLETE == 7, proc.stdout + proc.stderr
    printed = said(proc.stdout + proc.stderr)
    assert "arm B's worker was killed by SIGKILL" in printed and "exit -9" not in printed, printed
    assert "the 1 complete pair is judged" in printed
    assert "INCOMPLETE: 1 of the 4 pairs asked for (--pairs 4) is complete: arm B's worker was killed" in printed
    assert "inconclusive" in proc.stdout and "Traceback" not in proc.stderr  # the verdict of the complete pair
    (run,) = out.iterdir()
    document = json.loads((run / "verdicts.json").read_text())
    assert document["pairs"] == 1 and document["pairs_asked"] == 4 and len(document["verdicts"]) == 1


HANGS = "test_a_worker_that_hangs_in_a_round_of_the_first_pair_is_stopped_by_what_its_rounds_explain"


@pytest.fixture(scope="session", autouse=True)
def hanging_ab(request, tmp_path_factory):
    """The A/B of HANGS, started with the first test of this module (the session's first, in the default order)
    when HANGS is to run; HANGS is marked `last` (conftest), so the half minute its coordinator waits out runs
    beside the rest of the session: (its exit status, its stdout, its stderr, seconds from its start to its
    exit), read by HANGS. Its scratch checkout and environment are the `project` fixture's
    (conftest.scratch_folder; HOME and PY_COLORS as pytester sets them)."""
    if not any(item.name == HANGS for item in request.session.items):
        yield None
        return
    folder = tmp_path_factory.mktemp("hangs")
    site = scratch_folder(folder, "mlxbench_fake", {"mlxbench_fake": FAKES}, ENTRY_POINTS)
    (folder / "test_faulty.py").write_text(textwrap.dedent(FAULTY))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "TOX_ENV_DIR")}
    env.update(PYTHONPATH=str(site), FAKE_DELAY="0.01", HOME=str(folder), PY_COLORS="0")
    out, err = folder / "stdout", folder / "stderr"
    ended: list[float] = []
    with out.open("w") as stdout, err.open("w") as stderr:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            ab("--b-env", "HANG_AT_CALL=6", "--out", str(folder / "ab")),
            cwd=folder,
            env=env,
            stdout=stdout,
            stderr=stderr,
            text=True,
        )

    def wait() -> None:
        proc.wait()
        ended.append(time.monotonic())

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()

    def result() -> tuple[int, str, str, float]:
        waiter.join(timeout=300)
        assert ended, "the A/B whose worker hangs was still running 300 s after its test began"
        return proc.returncode, out.read_text(), err.read_text(), ended[0] - t0

    yield result
    if proc.poll() is None:  # HANGS failed before its A/B ended: leave nothing of it running
        proc.kill()
        proc.wait()


@pytest.mark.last
def test_a_worker_that_hangs_in_a_round_of_the_first_pair_is_stopped_by_what_its_rounds_explain(hanging_ab):
    """B hangs in its second or third timed round of the first pair (the default --worker-timeout, 600 s): its
    benchmark's rounds so far (either arm) take milliseconds, so it is stopped after the floor (30 s), not after
    600 s; the message says what bounded it and the default, and that nothing was judged (no "0 complete
    pairs are judged"). The A/B runs from the module's start (hanging_ab)."""
    returncode, stdout, stderr, took = hanging_ab()
    assert returncode == 2, stdout + stderr
    message = said(stderr)
    assert "arm B's worker has sent nothing for" in message and "in a timed round of test_faulty.py::" in message
    assert f"the limit in a round is {ROUND_FACTOR} times that, at least {ROUND_FLOOR_S:g} s" in message, message
    assert "--worker-timeout: 600 s, the default" in message
    assert "before any pair was complete, so nothing was judged" in message and "complete pairs are judged" not in (
        stdout + message
    )
    assert ROUND_FLOOR_S < took < ROUND_FLOOR_S + 90, took


def worker(arm: str, at: str, timing: bool, call: float | None = None) -> Worker:
    w = Worker(arm, None, None, None)  # type: ignore[arg-type]  # no process: only its state is read
    w.at, w.timing, w.running = at, timing, True
    if call is not None:
        w.facts[at] = {"call": call}
    return w


def test_the_silence_limit_comes_from_the_rounds_of_either_arm_from_the_first_pair_on():
    nodeid = "t.py::test_x[numpy]"
    a_timed = PairResult(spans={nodeid: {"A": [0.02, 0.05], "B": []}})  # A's rounds of this pair, none of B's
    b = worker("B", nodeid, timing=True)
    limit = silence_limit(a_timed, b, 600.0)
    assert limit.seconds == ROUND_FLOOR_S and "took 50 ms" in limit.why and "600 s, the default" in limit.why
    slow = silence_limit(PairResult(), b, 600.0, seen={nodeid: 4.0})  # an earlier pair's slowest round: 4 s
    assert slow.seconds == ROUND_FACTOR * 4.0
    calibrated = [worker("A", nodeid, False, call=0.5), worker("B", nodeid, True, call=0.2)]
    assert silence_limit(PairResult(), b, 600.0, workers=calibrated, calls={nodeid: 10}).seconds == 20 * 5.0
    assert silence_limit(PairResult(), b, 600.0).seconds == 600.0  # nothing known of its rounds yet
    preparing = worker("B", nodeid, timing=False)  # its untimed work (after its rounds): --worker-timeout
    assert silence_limit(a_timed, preparing, 600.0).seconds == 600.0
    assert silence_limit(a_timed, b, 5.0).seconds == 5.0  # a --worker-timeout below the floor lowers it


def test_asked_for_means_pairs_or_the_fewest_a_paired_ab_runs():
    meta = {"design": "paired", "pairs": 3, "pairs_asked": MIN_PAIRS, "pairs_option": None, "stopped": "time budget"}
    assert command.incomplete(meta) is None  # stopped by the budget after MIN_PAIRS: all it asked for
    assert command.incomplete({**meta, "pairs": 7, "stopped": "arm A's worker was killed by SIGKILL"}) is None
    short = command.incomplete({**meta, "pairs": 3, "pairs_asked": 8, "pairs_option": 8, "stopped": "it hung"})
    assert short is not None and short.startswith("3 of the 8 pairs asked for (--pairs 8) are complete: it hung")
    assert "needs" not in short
    two = command.incomplete({**meta, "pairs": 2, "stopped": "it hung"})
    assert two is not None and "(the fewest a paired A/B runs)" in two and f"a verdict needs {MIN_PAIRS}" in two
    assert command.incomplete({"design": "processes", "processes": 6}) is None


def test_two_abs_claiming_one_folder_name_get_two_folders(tmp_path, capsys):
    claimed: list[Path] = []
    threads = [
        threading.Thread(target=lambda: claimed.append(command.claim_folder(tmp_path, "20261203-020000")))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(claimed)) == 8 and all(p.is_dir() for p in claimed)
    assert sorted(p.name for p in claimed)[:3] == ["20261203-020000", "20261203-020000-2", "20261203-020000-3"]
    assert "20261203-020000 is taken (an A/B started in the same second): this one writes into" in said(
        capsys.readouterr().out
    )


def fake_ab(monkeypatch, tmp_path, pairs: int, asked: int | None) -> tuple[argparse.Namespace, list[Path]]:
    """`mlxbench ab` in this process, its measuring replaced by pairs made up (engine.run's result), its arms
    by this interpreter; the files it writes atomically are listed."""
    rng = np.random.default_rng(7)
    made = [PairResult.of(synthetic_pair(rng, 0.0)["times"]) for _ in range(pairs)]

    def measured(args, arms, pytest_args, out, started):
        results, _ = paired.judge_pairs(made, paired.thresholds_for(None, made), 0.05)
        stopped = "arm B's worker was killed by SIGKILL" if pairs < (asked or MIN_PAIRS) else "--pairs reached"
        return results, {
            "pairs": pairs,
            "pairs_asked": asked or MIN_PAIRS,
            "pairs_option": asked,
            "stopped": stopped,
            "time_budget_min": 20.0,
            "failed_only_in_b": [],
        }

    written: list[Path] = []
    real = saving.atomic_write
    monkeypatch.setattr(saving, "atomic_write", lambda target, data: (written.append(target), real(target, data)))
    monkeypatch.setattr(engine, "run", measured)
    monkeypatch.setattr(command, "identity", lambda arm, python, env, dists=None: {})
    monkeypatch.setattr(command.venvs, "arm_problem", lambda arm, python, env: None)
    parser = argparse.ArgumentParser()  # the options and their defaults, as the CLI reads them
    command.add_parser(parser.add_subparsers())
    extra = ["--pairs", str(asked)] if asked else []
    return parser.parse_args(["ab", *extra, "--out", str(tmp_path / "ab"), "--", "benchmarks"]), written


def test_an_ab_with_fewer_pairs_than_asked_exits_incomplete_and_writes_its_verdicts_whole(
    monkeypatch, tmp_path, capsys
):
    """The one complete pair's verdicts, printed and in verdicts.json (written atomically), then the line on
    stderr; exit INCOMPLETE. The taken name of this second's folder gives a fresh one."""
    now = datetime.now(timezone.utc)
    for k in range(10):  # another A/B's folder, whatever second this one starts in
        taken = tmp_path / "ab" / (now + timedelta(seconds=k)).strftime("%Y%m%d-%H%M%S")
        taken.mkdir(parents=True)
        (taken / "theirs").write_text("x")
    args, written = fake_ab(monkeypatch, tmp_path, pairs=1, asked=4)
    assert command.run(args) == command.INCOMPLETE
    out, err = capsys.readouterr()
    assert "3 inconclusive" in out and "is taken (an A/B started in the same second)" in said(out), out
    assert said(err).startswith("mlxbench ab: INCOMPLETE: 1 of the 4 pairs asked for (--pairs 4) is complete")
    (mine,) = [p for p in (tmp_path / "ab").iterdir() if (p / "verdicts.json").exists()]
    assert mine.name.endswith("-2") and [p.name for p in written] == ["verdicts.json", "verdicts.md"]
    assert all(p.parent == mine for p in written) and json.loads((mine / "verdicts.json").read_text())["pairs"] == 1
    assert all(sorted(p.name for p in f.iterdir()) == ["theirs"] for f in (tmp_path / "ab").iterdir() if f != mine)
    args, _ = fake_ab(monkeypatch, tmp_path / "again", pairs=3, asked=None)
    assert command.run(args) == 0 and "INCOMPLETE" not in capsys.readouterr().err


def test_merge_recognises_a_copied_folder_by_its_pairs_not_its_path(tmp_path):
    """A copy of one A/B folder (another name, its JSON re-indented) is refused naming both folders; it counted
    its pairs twice ("6 pairs from 2 folders"). So is a pair file copied within one folder."""
    rng = np.random.default_rng(30)
    original = shard(tmp_path / "r1" / "20261203-020000", [synthetic_pair(rng, 0.0) for _ in range(3)], ["benchmarks"])
    copy = tmp_path / "r2" / "20261203-020000"
    shutil.copytree(original, copy)
    for path in copy.glob("pair-*/pair.json"):
        path.write_text(json.dumps(json.loads(path.read_text()), indent=4))
    proc = cli("ab", "merge", str(original), str(copy), "--json", str(tmp_path / "m.json"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert said(proc.stderr) == (
        f"mlxbench: {original} and {copy} hold the same 3 pairs (pair-01 as pair-01, pair-02 as pair-02, pair-03 as "
        "pair-03: the same rounds at the same times): one is a copy of the other, and each pair counts once; merge "
        "only one of them"
    )
    assert "pairs of workers" not in proc.stdout and not (tmp_path / "m.json").exists()
    shutil.copytree(original / "pair-02", original / "pair-04")
    within = cli("ab", "merge", str(original))
    assert within.returncode == 2 and f"{original} holds 1 pair twice (pair-02 as pair-04" in said(within.stderr)
    other = shard(tmp_path / "r3", [synthetic_pair(rng, 0.0) for _ in range(3)], ["benchmarks"])
    shutil.rmtree(original / "pair-04")
    fine = cli("ab", "merge", str(original), str(other))
    assert fine.returncode == 0 and "6 pairs of workers from 2 folders" in said(fine.stdout), fine.stderr


def test_merge_writes_its_out_folder_whole_and_never_over_another_writer(monkeypatch, tmp_path):
    rng = np.random.default_rng(31)
    folder = shard(tmp_path / "r1", [synthetic_pair(rng, 0.0) for _ in range(3)], ["benchmarks"])
    written: list[Path] = []
    real = saving.atomic_write
    monkeypatch.setattr(saving, "atomic_write", lambda target, data: (written.append(target), real(target, data)))
    args = argparse.Namespace(folders=[folder], alpha=0.05, threshold=None, json=None, out=tmp_path / "merged")
    assert merge.run(args) == 0
    assert [p.name for p in written] == ["verdicts.json", "ab-summary.md"]
    assert json.loads((tmp_path / "merged" / "verdicts.json").read_text())["pairs"] == 3
    other = tmp_path / "raced"
    other.mkdir()
    (other / "verdicts.json").write_text("theirs")  # written after the empty-folder check, by another merge
    with pytest.raises(BadRun, match=r"another command wrote verdicts\.json there meanwhile"):
        merge.write_out(other, {"verdicts": [], "design": "paired", "pairs": 3})
    assert (other / "verdicts.json").read_text() == "theirs" and sorted(p.name for p in other.iterdir()) == [
        "verdicts.json"
    ]


@LINUX_ONLY
def test_a_pipelined_ab_that_ends_leaves_no_pair_started_ahead(project, tmp_path):
    """Pipelined (`--pipeline on`), each pair starts the next one's workers while it times. B is 3x slower, so the
    look after the third pair decides the one benchmark and the A/B stops: the fourth pair's workers, started
    ahead and waiting at START, are stopped, and their folder (logs of an import and a collection) is removed, so
    no pair folder is left without its pair.json and no process of the A/B is left running."""
    env, mark, out = faulty(project), uuid.uuid4().hex, tmp_path / "ab"
    args = ab("--pipeline", "on", "--time-budget", "5", "--b-env", "FAKE_DELAY=0.03", "--out", str(out))
    proc = subprocess.run(args, cwd=project.path, env={**env, "AB_MARK": mark}, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (run,) = out.iterdir()
    document = json.loads((run / "verdicts.json").read_text())
    assert document["stopped"] == "every benchmark decided at an interim look" and document["pipeline"]["on"]
    folders = sorted(p.name for p in run.glob("pair-*"))
    assert folders == [f"pair-0{k}" for k in range(1, document["pairs"] + 1)], folders
    assert all((run / name / "pair.json").is_file() for name in folders)
    assert marked(mark) == [], "a worker started ahead is still running"
