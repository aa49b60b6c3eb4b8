"""One clock: IB's server time (``reqCurrentTime``), never the wall clock.

Unit tests of the estimator on hand-made answers, then a gateway whose clock sits on another
day than the wall clock (2026-11-20 10:30 ET, frozen; the wall is elsewhere): the app, the
journal, the strategies and ``livedesk strategies`` all follow the gateway.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import time
from dataclasses import dataclass
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest

from livedesk.backend.broker.clock import GatewayClock, from_reading
from livedesk.backend.broker.session import CLOCK_STATE
from livedesk.backend.contracts import stock
from livedesk.backend.events import EventBus, StrategyState
from livedesk.backend.journal import Journal
from livedesk.backend.strategies import Decision, Event, Strategy, StrategyController
from livedesk.backend.trading.app import TradingApp
from livedesk.backend.trading.orders import market as mkt
from tests.conftest import TEST_SESSION, until

NY = ZoneInfo("America/New_York")
GATEWAY_START = dt.datetime(2026, 11, 20, 10, 30, tzinfo=NY).timestamp()


class Fake:
    """A gateway answering in whole seconds at ``speed``, on a hand-driven monotonic clock."""

    def __init__(self, start: float, speed: float) -> None:
        self.start, self.speed, self.mono = start, speed, 100.0

    def gateway(self) -> float:
        return self.start + (self.mono - 100.0) * self.speed

    async def answer(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(int(self.gateway()), dt.UTC)


async def test_reads_the_wall_clock_only_before_the_first_answer() -> None:
    f = Fake(GATEWAY_START, 1.0)
    clock = GatewayClock(f.answer, mono=lambda: f.mono, wall=lambda: 1_000.0)
    assert clock.time() == 1_000.0 and not clock.synced
    await clock.refresh()
    assert clock.synced and clock.time() == int(GATEWAY_START)
    assert clock.offset == int(GATEWAY_START) - 1_000.0


async def test_follows_a_gateway_at_speed_60_between_whole_second_answers() -> None:
    f = Fake(GATEWAY_START + 0.7, 60.0)
    clock = GatewayClock(f.answer, mono=lambda: f.mono)
    for _ in range(4):  # answers 1 s apart: the rate is known after 2 s
        await clock.refresh()
        f.mono += 1.0
    # hand: answers floor(start+0.7)=start, start+60, +120, +180 at mono 100..103
    assert clock.rate == pytest.approx(60.0)
    f.mono += 0.25  # between answers: extrapolated at 60x
    assert abs(clock.time() - f.gateway()) <= 1.0
    assert clock.datetime().date() == dt.date(2026, 11, 20)


async def test_a_restarted_gateway_on_an_earlier_clock_re_anchors() -> None:
    f = Fake(GATEWAY_START, 1.0)
    clock = GatewayClock(f.answer, mono=lambda: f.mono)
    for _ in range(3):
        await clock.refresh()
        f.mono += 1.5
    f.start -= 86_400  # a new gateway, one day earlier
    await clock.refresh()
    assert abs(clock.time() - f.gateway()) <= 1.0


async def test_a_request_lost_with_the_link_is_a_connection_error_not_a_cancellation() -> None:
    """A reconnect resets the clock and drops the request in flight: a schedule sleeping on
    it gets ConnectionError (it waits for the link and goes on). It used to get
    CancelledError, which ended the strategy's loop for good while it still read "waiting".
    Cancelling the waiter itself still cancels it."""
    never = asyncio.Event()

    async def source() -> dt.datetime:
        await never.wait()
        raise AssertionError("unreachable")

    clock = GatewayClock(source)
    waiter = asyncio.ensure_future(clock.refresh())
    await asyncio.sleep(0.01)
    clock.reset()
    with pytest.raises(ConnectionError, match="lost with the link"):
        await waiter
    waiter = asyncio.ensure_future(clock.refresh())
    await asyncio.sleep(0.01)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter


def test_a_saved_reading_extrapolates_at_its_rate() -> None:
    t = from_reading({"t": GATEWAY_START, "wall": 5_000.0, "rate": 60.0}, 5_010.0)
    assert t == dt.datetime(2026, 11, 20, 10, 40, tzinfo=NY)  # 10 s real x 60 = 10 min
    assert from_reading(None, 0.0) is None


@dataclass(frozen=True)
class NoParams:
    pass


class Ticking(Strategy):
    name: ClassVar[str] = "ticking"
    Params: ClassVar[type] = NoParams

    def make_schedule(self):
        return Event(poll_interval=1, market_hours=False)

    async def run_once(self, ctx) -> Decision:
        return Decision(await ctx.now(), "tick")


async def test_app_journal_and_strategies_follow_the_gateway_day(gw, tmp_path) -> None:
    assert gw.now() == pytest.approx(GATEWAY_START)
    assert abs(time.time() - gw.now()) > 3_600  # the wall clock is elsewhere
    journal = Journal(tmp_path / "j.sqlite3")
    app = await TradingApp.connect("127.0.0.1", gw.port, 1, journal=journal)
    try:
        assert abs(app.clock.time() - gw.now()) < 3.0
        assert app.today() == TEST_SESSION
        c = await app.resolve_contract(stock("AAPL"))
        await app.order_target_quantity(c, mkt, 5)
        gw.advance(2)
        await until(lambda: journal.fills(), 5)
        stamps = [r[k] for r in journal.orders() for k in ("submitted_at", "updated_at")]
        days = {dt.datetime.fromtimestamp(t, NY).date() for t in stamps}
        days |= {dt.datetime.fromtimestamp(r["t"], NY).date() for r in journal.fills()}
        assert days == {TEST_SESSION}
        events: list = []
        bus = EventBus()
        bus.subscribe(events.append)
        ctl = StrategyController(app, bus=bus, journal=journal, strategies=[Ticking()])
        assert ctl.clock is app.clock  # one clock, the app's
        await ctl.run_now("ticking")
        run = journal.runs("ticking")[-1]
        decided = journal.decisions(run["id"])
        assert [dt.datetime.fromtimestamp(d["t"], NY).date() for d in decided] == [TEST_SESSION]
        assert dt.datetime.fromtimestamp(run["started_at"], NY).date() == TEST_SESSION
        states = [e for e in events if isinstance(e, StrategyState)]
        assert states and all(abs(e.t - gw.now()) < 5 for e in states)
        await ctl.close()
        await asyncio.sleep(0)
        saved = journal.state(CLOCK_STATE)  # for `livedesk strategies`, offline
        assert saved is not None and abs(saved["t"] - GATEWAY_START) < 5
    finally:
        app.disconnect()
        journal.close()


async def test_a_gateway_at_speed_60_is_followed(market) -> None:
    from livedesk.backend.sim.gateway import SimGateway

    gw = SimGateway(port=0, market=market, speed=60.0, start_time=GATEWAY_START)
    await gw.start()
    app = await TradingApp.connect("127.0.0.1", gw.port, 1)
    try:
        await until(lambda: app.clock.rate is not None, 6)
        assert app.clock.rate == pytest.approx(60.0, rel=0.05)
        assert abs(app.clock.time() - gw.now()) < 4.0  # gateway seconds: < 0.07 s real
    finally:
        app.disconnect()
        await gw.stop()


def test_livedesk_strategies_uses_the_journaled_broker_clock(tmp_path) -> None:
    from livedesk.backend.config import Settings
    from livedesk.backend.strategies import runner

    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:  # the console saw the gateway at 2026-11-20 10:30 ET just now
        j.save_state(CLOCK_STATE, {"t": GATEWAY_START, "wall": time.time(), "rate": 1.0})
    out = io.StringIO()
    runner.print_strategies(Settings(), out=out, journal_path=path)
    row = next(line for line in out.getvalue().splitlines() if line.startswith("monthly-factor"))
    # month-end close (16:00) + 30 min after Friday 2026-11-20: Monday 2026-11-30, not December
    assert "2026-11-30 16:30 EST" in row, row


async def test_console_on_a_gateway_on_another_day_shows_and_journals_its_time(
    gw, market, tmp_path
) -> None:
    """The console is pointed at the gateway as at any TWS (no in-process reading)."""
    import re

    from livedesk.backend.console.session import Target
    from livedesk.backend.console.views import ny_time
    from tests.console_helpers import buy, connected, make_app, make_session

    session, _ = make_session(
        market, tmp_path, gw=gw, target=Target(host="127.0.0.1", port=gw.port)
    )
    app = make_app(session, tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await connected(pilot)
        assert session.app.clock.exact is None  # read over the wire, like TWS
        await buy(session, "AAPL", 10, "alpha")
        gw.advance(2)
        await until(lambda: session.orders() and session.orders()[0].status == "Filled", 5)
        await pilot.pause(0.6)
        header = str(app.query_one("HeaderBar").render())
        # 2026-11-20 10:30 ET is within the session: open, 5 h 30 min to the 16:00 close
        assert re.search(r"10:30:0\d ET open, closes in 5h(29|30)m", header), header
        assert ny_time(session.orders()[0].time).startswith("10:30:0")
        assert session.logs and all(
            dt.datetime.fromtimestamp(e.t, NY).date() == TEST_SESSION for e in session.logs
        )
        fills = session.journal.fills()
        assert fills and {dt.datetime.fromtimestamp(f["t"], NY).date() for f in fills} == {
            TEST_SESSION
        }
        await until(lambda: session.journal.samples("account").t.size > 0, 5)
        samples = session.journal.samples("account")
        assert all(
            dt.datetime.fromtimestamp(float(t), NY).date() == TEST_SESSION for t in samples.t
        )
