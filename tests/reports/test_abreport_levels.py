"""The A/B report's strip plot shows where a benchmark's rounds split into two levels (verdicts.json `levels`)."""

from __future__ import annotations

import json

from mlxbench.measure.pairfile import PairResult
from mlxbench.reports import abreport


def folder_with(tmp_path, levels: dict) -> abreport.ABReport:
    folder = tmp_path / ("with" if levels else "without")
    for k in range(3):
        (folder / f"pair-0{k + 1}").mkdir(parents=True)
        times = {"b::t[x]": {"A": [0.011, 0.012, 0.026, 0.025, 0.011], "B": [0.012, 0.011, 0.011, 0.027, 0.026]}}
        (folder / f"pair-0{k + 1}" / "pair.json").write_text(json.dumps(PairResult(times=times).as_dict()))
    verdict = {"name": "b::t[x]", "verdict": "inconclusive", "ratio": 1.0, "ci_low": 0.8, "ci_high": 1.2}
    doc = {"design": "paired", "pairs": 3, "levels": levels, "verdicts": [verdict]}
    (folder / "verdicts.json").write_text(json.dumps(doc))
    return abreport.ABReport.load(folder)


def test_the_levels_split_is_drawn_where_verdicts_json_keeps_it(tmp_path):
    leveled = folder_with(tmp_path, {"b::t[x]": {"cut_s": 0.018, "ratio": 2.2, "slow_share": 0.3}})
    plain = folder_with(tmp_path, {})
    assert abreport.level_split(leveled, "b::t[x]") == 0.018
    assert abreport.level_split(plain, "b::t[x]") is None
    assert abreport.level_split(folder_with(tmp_path / "bad", {"b::t[x]": {"cut_s": "x"}}), "b::t[x]") is None
    drawn, bare = abreport.plot(leveled), abreport.plot(plain)
    assert drawn[:4] == bare[:4] == b"\x89PNG" and drawn != bare  # the split line and its title word
