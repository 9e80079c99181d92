"""The facts read after each timed round of a paired A/B (mlxbench.measure.roundfacts): carried by the worker's
`done` message into pair.json, one set per round; and the readers where their libraries are absent."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

import pytest

from mlxbench.measure import roundfacts
from mlxbench.measure.roundfacts import NVML_LIBRARY, Nvml, RoundFacts, cpu_reader, visible_gpu


def test_every_timed_round_in_pair_json_carries_its_cpu_and_the_workers_uptime(project, tmp_path):
    from conftest import write_bench

    write_bench(project)
    out = tmp_path / "ab"
    ab = ["ab", "--pairs", "3", "--out", str(out), "--", "test_fake.py", "--backend", "numpy"]
    proc = subprocess.run(
        [sys.executable, "-m", "mlxbench", *ab],
        capture_output=True,
        text=True,
        cwd=project.path,
        env={**os.environ, "PYTHONPATH": str(project.path / "site")},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (run,) = out.iterdir()
    pairs = [json.loads(p.read_text()) for p in sorted(run.glob("pair-*/pair.json"))]
    assert len(pairs) == 3
    for pair in pairs:
        rounds, facts = pair["rounds"], pair["round_facts"]
        assert len(rounds) >= 4 and len(facts) == len(rounds)  # one set per round, in the rounds' order
        for arm in "AB":
            mine = [f for (a, *_), f in zip(rounds, facts, strict=True) if a == arm]
            uptimes = [f["uptime"] for f in mine]
            assert uptimes == sorted(uptimes) and len(set(uptimes)) == len(uptimes) and uptimes[0] > 0, uptimes
            for f in mine:
                if sys.platform.startswith("linux"):
                    assert isinstance(f["cpu"], int) and 0 <= f["cpu"] < (os.cpu_count() or 1) * 64
                else:
                    assert f["cpu"] is None or isinstance(f["cpu"], int)
                assert all(isinstance(f[k], int) for k in ("sm_mhz", "mem_mhz", "gpu_c") if k in f)


def test_no_nvml_library_gives_no_gpu_facts(monkeypatch):
    """Where libnvidia-ml does not load (no NVIDIA driver, a Mac), NVML gives nothing and the facts have no
    GPU keys; the CPU and uptime are still read."""
    real = ctypes.CDLL
    asked: list[str | None] = []

    def load(name, *args, **kwargs):
        asked.append(name)
        if name == NVML_LIBRARY:
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(ctypes, "CDLL", load)
    assert Nvml.open(env={}) is None and NVML_LIBRARY in asked
    facts = RoundFacts.open()
    assert facts.gpu is None
    read = facts.read()
    assert set(read) == {"cpu", "uptime"} and read["uptime"] >= 0
    facts.close()  # nothing to shut down


class Fn:
    """A C function as ctypes shows one: called with its arguments, and given `argtypes`."""

    def __init__(self, body) -> None:
        self.body = body

    def __call__(self, *args):
        return self.body(*args)


class FakeNvml:
    """libnvidia-ml as ctypes shows it: functions returning NVML_SUCCESS (0) or an error code; `init` and
    `temperature` are the codes those give."""

    def __init__(self, init: int = 0, temperature: int = 0) -> None:
        self.shut = 0
        self.handles: list[object] = []
        self.nvmlInit_v2 = Fn(lambda: init)
        self.nvmlShutdown = Fn(self.shutdown)
        self.nvmlDeviceGetHandleByIndex_v2 = Fn(lambda index, ref: self.handle(index.value))
        self.nvmlDeviceGetHandleByUUID = Fn(lambda uuid, ref: self.handle(uuid))
        self.nvmlDeviceGetClockInfo = Fn(lambda h, kind, ref: self.put(ref, {1: 1980, 2: 2619}[kind]))
        self.nvmlDeviceGetTemperature = Fn(lambda h, kind, ref: temperature or self.put(ref, 41))

    def handle(self, which: object) -> int:
        self.handles.append(which)
        return 0

    @staticmethod
    def put(ref, value: int) -> int:
        ref._obj.value = value  # ctypes.byref's object
        return 0

    def shutdown(self) -> int:
        self.shut += 1
        return 0


def test_nvml_gives_the_first_visible_gpus_clocks_and_temperature_and_leaves_out_what_it_does_not_give():
    lib = FakeNvml()
    gpu = Nvml.open(load=lambda name: lib, env={"CUDA_VISIBLE_DEVICES": "3,1"})
    assert gpu is not None and lib.handles == [3]
    assert gpu.read() == {"sm_mhz": 1980, "mem_mhz": 2619, "gpu_c": 41}
    facts = RoundFacts(cpu=lambda: 5, gpu=gpu)
    assert facts.read()["cpu"] == 5 and facts.read()["gpu_c"] == 41
    facts.close()
    facts.close()
    assert lib.shut == 1  # shut down once
    hot = FakeNvml(temperature=999)  # a reading NVML refuses is left out, not made up
    assert Nvml.open(load=lambda name: hot, env={}).read() == {"sm_mhz": 1980, "mem_mhz": 2619}
    assert Nvml.open(load=lambda name: FakeNvml(init=9), env={}) is None  # NVML does not start
    uuid = FakeNvml()
    assert Nvml.open(load=lambda name: uuid, env={"CUDA_VISIBLE_DEVICES": "GPU-8e1c"}) and uuid.handles == [b"GPU-8e1c"]
    hidden = FakeNvml()
    assert Nvml.open(load=lambda name: hidden, env={"CUDA_VISIBLE_DEVICES": ""}) is None and not hidden.handles


@pytest.mark.parametrize(
    ("value", "gpu"),
    [(None, 0), ("2", 2), ("2,0", 2), (" 1 ", 1), ("", None), ("-1", None), ("GPU-ab", "GPU-ab"), ("MIG-x", None)],
)
def test_the_first_visible_gpu_as_nvml_names_it(value, gpu):
    assert visible_gpu({} if value is None else {"CUDA_VISIBLE_DEVICES": value}) == gpu


def test_the_cpu_is_none_where_it_cannot_be_read(monkeypatch):
    def no_libc(name, *args, **kwargs):
        raise OSError("no libc")

    assert cpu_reader(load=no_libc) is None
    monkeypatch.setattr(roundfacts.sys, "platform", "darwin")
    assert cpu_reader() is None
    assert RoundFacts(cpu=lambda: -1).read()["cpu"] is None  # sched_getcpu's error
    assert RoundFacts().read()["cpu"] is None


def test_uptime_counts_from_the_readers_creation():
    now = [10.0]
    facts = RoundFacts(clock=lambda: now[0])
    now[0] = 12.5
    assert facts.read() == {"cpu": None, "uptime": 2.5}
