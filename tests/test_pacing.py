"""The pacing scheduler in virtual time: message rate, IB's historical rules, FIFO, visibility."""

from __future__ import annotations

import asyncio

import pytest

from livedesk.backend.broker.pacing import PacingScheduler


class VirtualTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class GatedSleep:
    """A sleep that holds until the test opens the gate, then advances the virtual clock."""

    def __init__(self, vt: VirtualTime) -> None:
        self.vt = vt
        self.requested: list[float] = []
        self.gate = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.requested.append(seconds)
        wake_at = self.vt.now + seconds
        await self.gate.wait()
        self.vt.now = max(self.vt.now, wake_at)


def make(vt: VirtualTime, **kw) -> PacingScheduler:
    return PacingScheduler(clock=vt.clock, sleep=kw.pop("sleep", vt.sleep), **kw)


def max_in_window(times: list[float], window: float) -> int:
    return max(sum(1 for u in times if t <= u < t + window - 1e-9) for t in times)


async def test_messages_stay_below_the_rate_in_every_second():
    vt = VirtualTime()
    pacer = make(vt)
    granted = []
    for _ in range(100):
        await pacer.acquire()
        granted.append(vt.now)
    assert max_in_window(granted, 1.0) == 45
    # no needless waiting: 45 at t0, 45 one second later, the rest after two seconds
    assert granted[44] == granted[0]
    assert granted[45] == pytest.approx(granted[0] + 1.0)
    assert granted[-1] == pytest.approx(granted[0] + 2.0)


async def test_concurrent_messages_are_served_fifo():
    vt = VirtualTime()
    pacer = make(vt, max_messages_per_second=10)
    order: list[int] = []

    async def request(i: int) -> None:
        await pacer.acquire()
        order.append(i)

    await asyncio.gather(*(request(i) for i in range(35)))
    assert order == list(range(35))
    assert vt.now == pytest.approx(100.0 + 3.0)
    assert pacer.waiting == 0


async def test_identical_historical_request_waits_15_seconds():
    vt = VirtualTime()
    waits: list[tuple[str, float]] = []
    pacer = make(vt, on_wait=lambda kind, s: waits.append((kind, s)))
    key = (265598, "", "1 D", "1 min", "TRADES", True)
    assert await pacer.acquire_historical(key) == 0.0
    vt.now += 4.0
    waited = await pacer.acquire_historical(key)
    assert waited == pytest.approx(11.0)
    assert waits == [("historical", pytest.approx(11.0))]
    # a different request for the same contract is not held back by the 15 s rule
    assert await pacer.acquire_historical((265598, "", "2 D", "1 min", "TRADES", True)) == 0.0


async def test_six_requests_for_one_contract_within_two_seconds_wait():
    vt = VirtualTime()
    pacer = make(vt)
    start = vt.now
    for i in range(5):
        assert await pacer.acquire_historical((8314, i)) == 0.0
        vt.now += 0.1
    waited = await pacer.acquire_historical((8314, 5))
    assert waited == pytest.approx(2.0 - 0.5)
    assert vt.now == pytest.approx(start + 2.0)
    # another contract is unaffected
    assert await pacer.acquire_historical((9999, 0)) == 0.0


async def test_contract_group_can_be_given_explicitly():
    vt = VirtualTime()
    pacer = make(vt)
    for i in range(5):
        await pacer.acquire_historical(("req", i), contract=("AAPL", "SMART", "TRADES"))
    assert await pacer.acquire_historical(("req", 9), contract=("AAPL", "SMART", "BID")) == 0.0
    waited = await pacer.acquire_historical(("req", 10), contract=("AAPL", "SMART", "TRADES"))
    assert waited == pytest.approx(2.0)


async def test_at_most_60_historical_requests_in_ten_minutes():
    vt = VirtualTime()
    pacer = make(vt)
    start = vt.now
    granted = []
    for i in range(130):
        await pacer.acquire_historical((i, "1 D"))
        granted.append(vt.now)
        vt.now += 1.0  # a steady one per second would be 600 per 10 minutes
    assert max_in_window(granted, 600.0) == 60
    assert granted[60] == pytest.approx(start + 600.0)
    assert granted[120] == pytest.approx(start + 1200.0)


async def test_historical_requests_also_take_message_slots():
    vt = VirtualTime()
    pacer = make(vt, max_messages_per_second=2)
    await pacer.acquire()
    await pacer.acquire()
    waited = await pacer.acquire_historical(("x", 1))
    assert waited == pytest.approx(1.0)


async def test_waiting_is_visible_and_orders_are_not_blocked_by_history():
    vt = VirtualTime()
    gated = GatedSleep(vt)
    seen: list[tuple[str, float]] = []
    pacer = make(vt, sleep=gated, on_wait=lambda kind, s: seen.append((kind, s)))
    key = ("SPY", "1 D")
    await pacer.acquire_historical(key)
    pending = asyncio.create_task(pacer.acquire_historical(key))
    await asyncio.sleep(0)
    assert pacer.waiting == 1
    assert pacer.current_wait == pytest.approx(15.0)
    assert seen == [("historical", pytest.approx(15.0))]
    # an order message goes straight through while history waits
    assert await asyncio.wait_for(pacer.acquire("order"), timeout=1) == 0.0
    vt.now += 5.0
    assert pacer.current_wait == pytest.approx(10.0)
    gated.gate.set()
    assert await pending == pytest.approx(15.0)
    assert pacer.waiting == 0 and pacer.current_wait == 0.0


async def test_historical_lane_is_fifo():
    vt = VirtualTime()
    pacer = make(vt)
    await pacer.acquire_historical(("A", 1))
    order: list[str] = []

    async def request(name: str, key: tuple) -> None:
        await pacer.acquire_historical(key)
        order.append(name)

    # the first waits 15 s for its identical twin; the second, queued behind it, keeps its place
    await asyncio.gather(request("A-again", ("A", 1)), request("B", ("B", 1)))
    assert order == ["A-again", "B"]


async def test_cancelled_waiter_leaves_the_queue():
    vt = VirtualTime()
    gated = GatedSleep(vt)
    pacer = make(vt, sleep=gated)
    await pacer.acquire_historical(("k",))
    task = asyncio.create_task(pacer.acquire_historical(("k",)))
    await asyncio.sleep(0)
    assert pacer.waiting == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pacer.waiting == 0 and pacer.current_wait == 0.0
    assert await pacer.acquire_historical(("other",)) == 0.0


async def test_real_clock_default_grants_immediately_when_idle():
    pacer = PacingScheduler()
    assert await pacer.acquire() == 0.0
    assert await pacer.acquire_historical(("AAPL", "1 D")) == 0.0
