"""Tests of the simulated wall clock (backend.sim.clock)."""

from __future__ import annotations

import time

import pytest

from livedesk.backend.sim.market.clock import SimClock

START = 1_795_185_000.0  # an arbitrary simulated epoch


class FakeTime:
    """A real-time source the test moves by hand."""

    def __init__(self) -> None:
        self.now = 50_000.0

    def __call__(self) -> float:
        return self.now


def test_runs_at_speed_times_real_time() -> None:
    real = FakeTime()
    clock = SimClock(START, speed=60.0, time_fn=real)
    assert clock.now() == START and clock.speed == 60.0 and not clock.manual
    real.now += 2.5
    assert clock.now() == START + 150.0


def test_manual_clock_moves_only_when_stepped() -> None:
    real = FakeTime()
    clock = SimClock(START, speed=0, time_fn=real)
    assert clock.manual
    real.now += 1000.0
    assert clock.now() == START
    clock.advance(30.0)
    clock.advance(0.5)
    assert clock.now() == START + 30.5


def test_advance_also_works_while_running() -> None:
    real = FakeTime()
    clock = SimClock(START, speed=2.0, time_fn=real)
    clock.advance(100.0)
    real.now += 10.0
    assert clock.now() == START + 120.0


def test_set_speed_is_continuous() -> None:
    real = FakeTime()
    clock = SimClock(START, speed=1.0, time_fn=real)
    real.now += 10.0
    clock.set_speed(10.0)
    assert clock.now() == START + 10.0
    real.now += 3.0
    assert clock.now() == START + 40.0
    clock.set_speed(0.0)
    assert clock.manual
    real.now += 100.0
    assert clock.now() == START + 40.0
    clock.set_speed(1.0)
    real.now += 5.0
    assert clock.now() == START + 45.0


def test_rejects_negative_speed_and_going_backwards() -> None:
    clock = SimClock(START, speed=1.0, time_fn=FakeTime())
    with pytest.raises(ValueError):
        SimClock(START, speed=-1.0)
    with pytest.raises(ValueError):
        clock.set_speed(-0.5)
    with pytest.raises(ValueError):
        clock.advance(-1.0)


def test_default_time_source_is_real_time() -> None:
    clock = SimClock(START, speed=1000.0)
    first = clock.now()
    time.sleep(0.01)
    assert clock.now() - first >= 5.0  # at least 10 ms of real time at 1000x
