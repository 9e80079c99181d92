"""--draws: a paired A/B prepares each benchmark several times in each pair of workers (both arms at once, untimed),
each preparation followed by its rounds; the first round after each preparation is left out as a pair's first is;
rounds that build on each other (epochs) keep one preparation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_paired import mlxbench_cli

from mlxbench.ab.schedule import AGAIN, STOP, Schedule, Worker
from mlxbench.measure import pairfile
from mlxbench.measure.pairfile import PairResult
from mlxbench.runs import BadRun
from mlxbench.timings import Unit


def waiting(arm: str, nodeid: str, **facts) -> Worker:
    w = Worker(arm, proc=None, inbox=None, outbox=None, items=[nodeid])  # type: ignore[arg-type]
    w.waiting, w.running, w.facts = nodeid, False, {nodeid: {"planned": 9, "call": 0.01, **facts}}
    return w


def orders(schedule: Schedule, workers: dict[str, Worker]) -> list[tuple[str, dict]]:
    """Every order the schedule gives while both workers wait at one benchmark, up to its STOP."""
    out = []
    while True:
        given = schedule.decide(workers)
        out.extend(given)
        if given[0][1] is STOP:
            return out


@pytest.mark.parametrize("cumulative", [False, True])
def test_the_schedule_prepares_again_between_blocks_of_rounds(cumulative):
    workers = {arm: waiting(arm, "t::x", cumulative=cumulative) for arm in "AB"}
    schedule = Schedule(pair=0, rounds={"t::x": 3}, draws=3)
    given = orders(schedule, workers)
    agains = [i for i, (_, o) in enumerate(given) if o is AGAIN]
    timed = [(arm, o) for arm, o in given if o.get("n")]
    if cumulative:  # epochs: the profile's 9 rounds per arm, one preparation
        assert not agains and len(timed) == 18 and not schedule.starts.get("t::x")
        return
    assert len(timed) == 18 and [arm for arm, _ in timed].count("A") == 9  # 3 rounds per arm per preparation
    assert [given[i][0] for i in agains] == ["A", "B", "A", "B"]  # both arms told at once, twice
    assert schedule.starts["t::x"] == [3, 6]
    rounds_before = [sum(1 for _, o in given[:i] if o.get("n")) for i in agains[::2]]
    assert rounds_before == [6, 12]  # each arm's 3 rounds, then both prepare again
    assert timed[6][1]["rewarm"]  # the round after a preparation follows a switch: re-warmed
    assert schedule.draws_of("t::x", workers) == 3


def test_the_first_round_after_each_preparation_is_left_out():
    unit = Unit(1, (1.0, 2.0, 2.0, 5.0, 2.0, 2.0), (1.0, 4.0, 4.0, 1.0, 4.0, 4.0), draws=(3,))
    assert np.allclose(unit.log_ratios(), np.log(2.0) * np.ones(4))
    assert np.allclose(unit.arm_logs("A"), np.log(2.0) * np.ones(4))
    plain = Unit(1, (1.0, 2.0, 2.0, 5.0), (1.0, 4.0, 4.0, 1.0))
    assert plain.log_ratios().size == 3  # without draws only the pair's first round goes
    assert Unit(1, (1.0, 2.0), (1.0, 2.0), draws=(1,)).log_ratios().size == 2  # fewer than 3: all kept


def test_pair_files_keep_where_each_preparation_began(tmp_path):
    pair = PairResult.of({"t::x": {"A": [1.0] * 6, "B": [2.0] * 6}})
    pair.draws = {"t::x": [3]}
    path = tmp_path / "pair.json"
    path.write_bytes(pair.dumps())
    back = PairResult.read(path)
    assert back.draws == {"t::x": [3]}
    (unit,) = pairfile.timings([back])["t::x"].units
    assert unit.draws == (3,) and unit.log_ratios().size == 4
    for bad in ([3, 1], ["3"], 0, [0]):
        path.write_text(json.dumps({**pair.as_dict(), "draws": {"t::x": bad}}))
        with pytest.raises(BadRun, match="'draws'"):
            PairResult.read(path)
    doc = pair.as_dict()
    del doc["draws"]  # written before draws existed: one preparation
    path.write_text(json.dumps(doc))
    assert PairResult.read(path).draws == {}


def test_an_ab_with_draws_prepares_each_benchmark_again_in_both_arms(project, tmp_path):
    """Real workers: each arm prepares the plain benchmark --draws times per pair, the epochs benchmark once; no
    preparation of one arm falls inside a timed round of the other; pair.json says where each preparation began,
    and the verdict is read from the rounds of all preparations."""
    from conftest import write_bench

    write_bench(project)
    write_bench(project, "epochs", "test_epochs")
    out = tmp_path / "ab"
    logs = {arm: tmp_path / f"{arm}.prep" for arm in "AB"}
    proc = mlxbench_cli(
        "ab",
        "--pairs",
        "3",
        "--draws",
        "3",
        "--a-env",
        f"FAKE_PREP_LOG={logs['A']}",
        "--b-env",
        f"FAKE_PREP_LOG={logs['B']}",
        "--b-env",
        "FAKE_DELAY=0.02",
        "--out",
        str(out),
        "--json",
        str(tmp_path / "v.json"),
        "--",
        "test_fake.py",
        "test_epochs.py",
        "--backend",
        "numpy",
        cwd=project.path,
        env={"PYTHONPATH": str(project.path / "site"), "FAKE_DELAY": "0.002", "FAKE_THRESHOLD": "0.25"},
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (run,) = out.iterdir()
    preps = {arm: [line.split() for line in logs[arm].read_text().splitlines()] for arm in "AB"}
    for arm in "AB":
        assert [v for v, _ in preps[arm]].count("ok") == 9 and [v for v, _ in preps[arm]].count("epochs") == 3
    for path in sorted(run.glob("pair-*/pair.json")):
        pair = json.loads(path.read_text())
        (plain,) = [n for n in pair["times"] if "test_fake" in n]
        (epochs,) = [n for n in pair["times"] if "test_epochs" in n]
        q = len(pair["times"][plain]["A"]) // 3
        assert q >= 1 and pair["draws"] == {plain: [q, 2 * q]}
        assert len(pair["times"][plain]["B"]) == 3 * q and len(pair["times"][epochs]["A"]) == 6
        for arm, other in (("A", "B"), ("B", "A")):
            made = [float(t) for _, t in preps[other]]
            for a, _, go, done in pair["rounds"]:
                assert a != arm or not any(go < t < done for t in made), f"{other} prepared during a round of {arm}"
    printed = " ".join(proc.stdout.split())
    assert "3 pairs of workers alternating rounds, each benchmark prepared 3 times a pair" in printed
    assert "next pair: rounds per arm and preparation (3 a pair)" in printed  # the cost model's rounds, per draw
    result = json.loads((tmp_path / "v.json").read_text())
    assert result["draws"] == 3
    verdicts = {v["name"].split("::")[0]: v for v in result["verdicts"]}
    assert verdicts["test_fake.py"]["verdict"] == "regressed" and verdicts["test_fake.py"]["ratio"] > 2


def test_a_preparation_of_one_round_keeps_it():
    """Three preparations of one round each: nothing is left out (each round is its preparation's only one)."""
    assert Unit(1, (1.0, 2.0, 3.0), (1.0, 2.0, 3.0), draws=(1, 2)).log_ratios().size == 3
    assert [b.size for b in Unit(1, (1.0,) * 7, (2.0,) * 7, draws=(3, 4)).blocks()] == [2, 1, 2]


def test_round_noise_is_read_inside_each_preparation():
    """Preparations that differ by a lasting offset, rounds steady inside each: the allocation sees lasting state,
    not round noise (rounds cannot average away what differs between preparations)."""
    from mlxbench.verdicts.allocation import components

    rng = np.random.default_rng(3)
    units = []
    for k in range(6):
        offsets = np.repeat(rng.normal(0, 0.2, 3), 5)  # 3 preparations of 5 rounds, each at its own speed
        b = np.exp(offsets + rng.normal(0, 0.005, 15))
        units.append(Unit(k + 1, (1.0,) * 15, tuple(b), draws=(5, 10)))
    parts = components(units)
    assert parts is not None and np.sqrt(parts.round) < 0.01 and np.sqrt(parts.state) > 0.05


def test_replays_keep_where_each_preparation_began():
    from mlxbench.tools.replay import draw

    pair = PairResult.of({"t::x": {"A": [1.0] * 9, "B": [1.0] * 9}})
    pair.draws = {"t::x": [3, 6]}
    (whole,) = draw([pair], np.random.default_rng(0), 1, None, False, 0.0, None)
    (cut,) = draw([pair], np.random.default_rng(0), 1, 5, False, 0.0, None)
    assert whole.draws == {"t::x": [3, 6]} and cut.draws == {"t::x": [3]}
