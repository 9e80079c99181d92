"""The A/B folder's files, each with one owner: pair.json (mlxbench.measure.pairfile.PairResult: its bytes by
dumps, read back and checked by read, whoever reads it) and verdicts.json (mlxbench.ab.verdictsfile: written
whole by the one function `mlxbench ab` and `ab merge` call)."""

from __future__ import annotations

import json
import os
import re

import pytest

from mlxbench.ab import merge, verdictsfile
from mlxbench.ab.coordinator import PairResult as CoordinatorsPairResult
from mlxbench.measure.pairfile import PairResult
from mlxbench.reports import abreport
from mlxbench.runs import BadRun
from mlxbench.timings import Timings, Unit

NODE = "b::t[x]"


def measured() -> PairResult:
    """A pair as the coordinator leaves it: two rounds per arm, A B B A, each with its worker's facts."""
    return PairResult(
        times={NODE: {"A": [0.011, 0.025], "B": [0.012, 0.011]}},
        clock={NODE: {"A": [1.5, 1.9], "B": [1.6, 1.8]}},
        spans={NODE: {"A": [0.1, 0.2], "B": [0.1, 0.1]}},
        calls={NODE: 3},
        facts={NODE: {"planned": 2, "call": 0.01, "cumulative": False, "threshold": None}},
        order=[("A", NODE), ("B", NODE), ("B", NODE), ("A", NODE)],
        rounds=[("A", NODE, 10.0, 10.1), ("B", NODE, 10.1, 10.2), ("B", NODE, 10.2, 10.3), ("A", NODE, 10.3, 10.5)],
        round_facts=[
            {"cpu": 1, "uptime": 2.5, "sm_mhz": 1980, "mem_mhz": 2619, "gpu_c": 40},
            {"cpu": 0, "uptime": 2.4},
            {"cpu": 0, "uptime": 2.5},
            {"cpu": 3, "uptime": 2.9, "sm_mhz": 1410, "mem_mhz": 2619, "gpu_c": 52},
        ],
        exit_codes={"A": 0, "B": -9},
        wall=12.345,
    )


def test_a_pair_reads_back_as_it_was_written(tmp_path):
    pair = measured()
    path = tmp_path / "pair.json"
    path.write_bytes(pair.dumps(allocation={NODE: {"rounds": 2}}))  # as mlxbench ab writes it
    back = PairResult.read(path)
    assert back == pair and back.timed == pytest.approx(pair.timed)
    assert CoordinatorsPairResult is PairResult  # the coordinator's, where tests and the A/B import it from


def test_a_pair_file_from_before_a_field_existed_reads_with_that_field_empty(tmp_path):
    path = tmp_path / "pair.json"
    path.write_text(json.dumps({"times": {NODE: {"A": [1.0], "B": [2.0]}}, "facts": {NODE: {"threshold": 0.2}}}))
    back = PairResult.read(path)
    assert back.times == {NODE: {"A": [1.0], "B": [2.0]}} and back.facts == {NODE: {"threshold": 0.2}}
    assert back.rounds == back.round_facts == [] and back.calls == {} and back.wall == 0.0


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"times": {"b::t[x]": {"A": [0.01', "not a readable pair file (Expecting"),  # cut short
        ("[" * 100_000, "not a readable pair file (nested too deeply"),
        ("[1, 2]", "not a pair file (no 'times' of benchmarks and arms)"),
        ('{"runs": []}', "not a pair file (no 'times' of benchmarks and arms)"),  # another tool's JSON
        ('{"times": {"b::t[x]": {"A": [1, -2], "B": [1]}}}', "b::t[x] arm A holds a time that is not a positive"),
        ('{"times": {"b::t[x]": {"A": ["a"]}}}', "'times' holds \"a\" where a number belongs"),
        ('{"times": {"b::t[x]": [1]}}', "'times' of b::t[x] is not a list of numbers per arm"),
        (
            '{"times": {}, "rounds": [["A", "x", 1]]}',
            '\'rounds\' holds ["A", "x", 1] where an arm, a benchmark and two',
        ),
        ('{"times": {}, "rounds": [["A", "x", 1, 2]], "round_facts": [{}, {}]}', "'round_facts' holds 2 rounds' facts"),
        ('{"times": {}, "round_facts": [3]}', "'round_facts' holds something other than one object per round"),
        ('{"times": {}, "calls": {"x": 0}}', "'calls' holds 0 where a whole number belongs"),
        ('{"times": {}, "facts": []}', "'facts' is not an object"),
    ],
)
def test_a_damaged_or_foreign_pair_file_is_refused_naming_the_file_and_what_is_wrong(tmp_path, text, said):
    path = tmp_path / "pair-03" / "pair.json"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(BadRun) as refused:
        PairResult.read(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: ") and said in message, message
    assert message.endswith("leave it out or run the A/B again")


def test_every_reader_of_pair_files_reads_through_the_one_reader(tmp_path):
    """ab merge refuses a pair file that PairResult.read refuses, with its words; the A/B report leaves its
    samples out and shows the others."""
    good, bad = tmp_path / "pair-01" / "pair.json", tmp_path / "pair-02" / "pair.json"
    for path in (good, bad):
        path.parent.mkdir()
    good.write_text(json.dumps(measured().as_dict()))
    bad.write_text('{"times": {"b::t[x]": {"A": [1, -2], "B": [1]}}}')
    pair, mark = merge.read_marked_pair(good)
    assert pair == measured() and mark == merge.read_marked_pair(good)[1]
    with pytest.raises(BadRun, match="arm A holds a time that is not a positive number of seconds"):
        merge.read_marked_pair(bad)
    assert abreport.read_samples(tmp_path) == {NODE: Timings(NODE, "pairs", (Unit(1, (0.011, 0.025), (0.012, 0.011)),))}


DOCUMENT = {"design": "paired", "pairs": 3, "verdicts": [{"name": NODE, "verdict": "unchanged"}]}


def test_verdicts_json_is_written_whole_and_read_back(tmp_path):
    path = verdictsfile.write(tmp_path, DOCUMENT)
    assert path == tmp_path / "verdicts.json" and path.read_bytes() == verdictsfile.dumps(DOCUMENT)
    assert verdictsfile.read(tmp_path) == DOCUMENT and verdictsfile.read(tmp_path / "nothing") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["verdicts.json"]  # no temporary file left beside it


def test_verdicts_json_that_cannot_be_written_leaves_no_file_at_all(tmp_path, monkeypatch):
    """A document that does not serialise, a disk that fails while the file is written, a verdicts.json already
    there: no verdicts.json (or the one there, untouched) and nothing half-written beside it."""
    with pytest.raises(TypeError):
        verdictsfile.write(tmp_path, {**DOCUMENT, "when": object()})
    assert list(tmp_path.iterdir()) == []

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "fsync", full_disk)
        with pytest.raises(OSError, match="No space left"):
            verdictsfile.write(tmp_path, DOCUMENT)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "verdicts.json").write_text("theirs")
    with pytest.raises(FileExistsError):
        verdictsfile.write(tmp_path, DOCUMENT)
    assert [(p.name, p.read_text()) for p in tmp_path.iterdir()] == [("verdicts.json", "theirs")]


@pytest.mark.parametrize(("text", "said"), [("{", "not valid JSON"), ("[]", "not an A/B's verdicts (no object)")])
def test_a_damaged_verdicts_json_is_refused_naming_it(tmp_path, text, said):
    (tmp_path / "verdicts.json").write_text(text)
    with pytest.raises(BadRun, match=re.escape(said)) as refused:
        verdictsfile.read(tmp_path)
    assert str(refused.value).startswith(str(tmp_path / "verdicts.json"))
