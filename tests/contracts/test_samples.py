"""Run files with millions of per-round samples are read into float64 arrays, chunk by chunk; the result
is the same document json.loads gives, and a damaged array falls back to json.loads and its checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlxbench import samples
from mlxbench.runs import BadRun, load_run


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setattr(samples, "LARGE", 0)  # every file read the large way
    monkeypatch.setattr(samples, "CHUNK", 64)  # arrays cut into many slices


def run_text(data_a, data_b) -> str:
    doc = {
        "machine_info": {"mlxbench": {}},
        "benchmarks": [
            {"fullname": "t::a", "stats": {"median": 1.0, "rounds": len(data_a), "data": data_a}},
            {"fullname": "t::b", "stats": {"median": 1.0, "rounds": len(data_b), "data": data_b}, "extra_info": {}},
        ],
    }
    return json.dumps(doc, indent=4).encode()  # pytest-benchmark writes one number per line


def test_arrays_read_in_chunks_equal_what_json_reads(small_limits):
    values = [*np.random.default_rng(0).random(1000).tolist(), 0, 1e-07, 12]
    text = run_text(values, [])
    doc, plain = samples.loads(text), json.loads(text)
    a, b = (doc["benchmarks"][i]["stats"]["data"] for i in (0, 1))
    assert isinstance(a, samples.Samples) and np.array_equal(a, plain["benchmarks"][0]["stats"]["data"])
    assert bool(a) and not bool(b) and list(b or []) == []  # true when not empty, like a list
    assert {k: v for k, v in doc.items() if k != "benchmarks"} == {"machine_info": {"mlxbench": {}}}


def test_a_damaged_array_is_left_to_json_and_its_checks(small_limits, tmp_path):
    text = run_text([1.0, 2.0, 3.0], [1.0, 2.0]).replace(b"2.0", b'"two"', 1)
    doc = samples.loads(text)
    assert doc["benchmarks"][0]["stats"]["data"] == [1.0, "two", 3.0]  # json's list: the checks name it
    path = tmp_path / "0001_x.json"
    path.write_bytes(text)
    with pytest.raises(BadRun, match="holds 1 bad per-round time"):
        load_run(path)
    path.write_bytes(run_text([1.0, -2.0], []))
    with pytest.raises(BadRun, match=r"e\.g\. -2\.0"):
        load_run(path)
