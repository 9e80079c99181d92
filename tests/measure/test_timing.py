"""How a round is timed (mlxbench.measure.timing): calls per round from a call's length, the untimed warm-up,
and a round's seconds per call, on a fake clock that only the fake calls move."""

from __future__ import annotations

import pytest

from mlxbench.measure import timing
from mlxbench.measure.timing import MAX_ITERATIONS, ROUND_TARGET_S, iterations_for, synced, time_round, warm_up


class FakeDevice:
    """A call that takes `call_s` on a clock of its own, a sync that records what it completed, and a log
    of everything in order (to see what falls inside the timed window)."""

    def __init__(self, call_s: float) -> None:
        self.now = 100.0
        self.call_s = call_s
        self.calls = 0
        self.log: list[str] = []

    def clock(self) -> float:
        self.log.append("clock")
        return self.now

    def run(self) -> int:
        self.calls += 1
        self.now += self.call_s
        self.log.append("run")
        return self.calls

    def sync(self, out: int) -> None:
        self.log.append(f"sync {out}")


@pytest.mark.parametrize(
    ("call", "calls"),
    [
        (None, 1),  # rounds that build on each other, or need a hook between calls: one call each
        (0.5, 1),
        (timing.MICRO_CALL_S, 1),  # a millisecond is long enough alone
        (0.0009, 12),  # under it: enough calls to fill ROUND_TARGET_S (ceil(0.01 / 0.0009))
        (0.0001, 100),
        (1e-9, MAX_ITERATIONS),  # a call too short to see is capped, not divided by ~0
    ],
)
def test_calls_per_round_follow_the_length_of_a_call(call, calls):
    assert iterations_for(call) == calls
    if call is not None and call < timing.MICRO_CALL_S and calls < MAX_ITERATIONS:
        assert calls * call >= ROUND_TARGET_S > (calls - 1) * call  # the fewest calls that last the target


def test_the_warm_up_makes_its_calls_untimed_and_completes_each():
    device = FakeDevice(0.25)
    assert warm_up(device.run, device.sync, 3) == 3
    assert device.log == ["run", "sync 1", "run", "sync 2", "run", "sync 3"]  # no clock read: nothing timed
    assert warm_up(device.run, device.sync, 0) is None and device.calls == 3


def test_a_round_is_its_calls_on_one_clock_each_completed_inside_it():
    device = FakeDevice(0.004)
    setups: list[int] = []
    out, per_call = time_round(
        device.run, device.sync, 5, setup=lambda: setups.append(device.calls), clock=device.clock
    )
    assert out == 5 and setups == [0]
    assert per_call == pytest.approx(0.004)  # 5 calls of 4 ms: 20 ms on the clock, 4 ms per call
    assert device.log == ["clock", *[x for k in range(1, 6) for x in ("run", f"sync {k}")], "clock"]


def test_a_setup_runs_before_the_clock_starts():
    device = FakeDevice(0.001)

    def setup() -> None:
        device.now += 7.0  # a slow setup: none of it is timed
        device.log.append("setup")

    _, per_call = time_round(device.run, device.sync, 2, setup=setup, clock=device.clock)
    assert per_call == pytest.approx(0.001) and device.log[:2] == ["setup", "clock"]


def test_a_synced_call_returns_its_result_once_completed():
    device = FakeDevice(0.01)
    call = synced(device.run, device.sync)
    assert call() == 1 and call() == 2
    assert device.log == ["run", "sync 1", "run", "sync 2"]
