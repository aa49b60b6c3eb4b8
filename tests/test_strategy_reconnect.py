"""The strategy controller across faults: decisions pause while the broker link is down, not
reconciled, halted by a failed reconciliation, or while data is stale; they resume after."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

import pytest

from livedesk.backend.broker.session import DISCONNECTED
from livedesk.backend.contracts import stock
from livedesk.backend.events import EventBus
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.strategies import (
    Decision,
    Event,
    GatewayClock,
    Strategy,
    StrategyController,
    StrategyStatus,
)
from livedesk.backend.trading.orders import market as mkt
from tests.conftest import until
from tests.reliability_helpers import assert_books


@dataclass(frozen=True)
class NoParams:
    pass


class Counting(Strategy):
    """Decides every gateway second; counts its runs."""

    name: ClassVar[str] = "counting"
    Params: ClassVar[type] = NoParams
    runs = 0

    def make_schedule(self):
        return Event(poll_interval=1, market_hours=False)

    async def run_once(self, ctx) -> Decision:
        Counting.runs += 1
        return Decision(await ctx.now(), "tick", {})


def make(app, journal) -> StrategyController:
    ctl = StrategyController(
        app,
        bus=EventBus(),
        journal=journal,
        strategies=[Counting()],
        clock=GatewayClock.of(app.ib, max_age=0, max_sleep=0.02),
    )
    ctl.pause_poll = 0.02
    return ctl


async def tick(gw: SimGateway, seconds: int) -> None:
    for _ in range(seconds):
        gw.advance(1)
        await asyncio.sleep(0.03)


async def runs_while(gw: SimGateway, seconds: int) -> int:
    before = Counting.runs
    await tick(gw, seconds)
    return Counting.runs - before


async def test_decisions_pause_on_stale_data_and_resume_on_ok(gw, app, journal) -> None:
    ctl = make(app, journal)
    await ctl.start("counting")
    assert await runs_while(gw, 3) >= 1
    gw.faults.send_error(2103)
    await until(lambda: "paused" in ctl.info("counting").last_decision or not app.data_ok)
    await until(lambda: ctl.paused_reason() != "")
    await asyncio.sleep(0.1)  # a decision already running finishes
    assert "2103" in ctl.paused_reason()
    assert await runs_while(gw, 4) == 0  # no decision while the farm is down
    assert ctl.info("counting").status == StrategyStatus.WAITING
    with pytest.raises(RuntimeError, match="2103"):
        await ctl.run_now("counting")
    skips = [
        d for d in journal.decisions(journal.runs("counting")[-1]["id"]) if d["kind"] == "skip"
    ]
    assert skips and "2103" in skips[-1]["detail"]["paused"]
    gw.faults.send_error(2104)
    await until(lambda: ctl.paused_reason() == "")
    assert await runs_while(gw, 4) >= 1
    await ctl.close()


async def test_decisions_resume_only_after_reconciliation(gw, app, journal) -> None:
    ctl = make(app, journal)
    await ctl.start("counting")
    assert await runs_while(gw, 2) >= 1
    gw.faults.drop_all()
    await until(lambda: app.session.state == DISCONNECTED)
    assert "DISCONNECTED" in ctl.paused_reason()
    await until(lambda: app.session.ready, timeout=5)
    await until(lambda: ctl.paused_reason() == "")
    assert await runs_while(gw, 4) >= 1  # the same controller and app, after the reconnect
    await ctl.close()


async def test_failed_reconciliation_halts_until_the_trader_accepts(gw, app, journal) -> None:
    c = await app.resolve_contract(stock("AAPL"))
    first = await app.order_target_quantity(c, mkt, 10)
    await until(lambda: first.trade.isDone())
    await until(lambda: c.conId in app.positions)
    ctl = make(app, journal)
    # a position changes outside LiveDesk and without an execution the journal could see
    q = gw.market.quote(c.conId, gw.now())
    gw.broker.account.apply_fill(c.conId, 7, q.ask, 1.0, 0.0)
    gw.faults.drop_all()
    await until(lambda: app.session.state == DISCONNECTED)
    await until(lambda: app.session.halt_reason != "", timeout=5)
    assert "positions do not match the journal" in app.session.halt_reason
    assert "halted" in ctl.paused_reason()
    await ctl.start("counting")
    assert await runs_while(gw, 3) == 0
    with pytest.raises(Exception, match="halted"):
        await app.order_target_quantity(c, mkt, 20)
    report = await app.session.accept_positions()
    assert report is not None and app.session.ready and ctl.paused_reason() == ""
    assert await runs_while(gw, 3) >= 1
    await ctl.close()
    held = await app.order_target_quantity(c, mkt, 17, dry_run=True)
    assert held.plan is None or held.plan.quantity == 0  # 10 + 7 held: nothing to do
    assert app.positions[c.conId].position == 17
    assert_books_ok = gw.broker.account.holdings[c.conId].qty == 17
    assert assert_books_ok
    _ = assert_books


class TimesOutOnce(Strategy):
    """Its second decision meets a request that times out (a silent link), then recovers."""

    name: ClassVar[str] = "times-out-once"
    Params: ClassVar[type] = NoParams
    calls = 0

    def make_schedule(self):
        return Event(poll_interval=1, market_hours=False)

    async def run_once(self, ctx) -> Decision:
        TimesOutOnce.calls += 1
        if TimesOutOnce.calls == 2:
            raise TimeoutError("reqHistoricalData timed out")
        return Decision(await ctx.now(), "tick", {})


async def test_a_request_timeout_skips_one_decision_and_is_not_an_error(gw, app, journal) -> None:
    ctl = StrategyController(
        app,
        bus=EventBus(),
        journal=journal,
        strategies=[TimesOutOnce()],
        clock=GatewayClock.of(app.ib, max_age=0, max_sleep=0.02),
    )
    ctl.pause_poll = 0.02
    await ctl.start("times-out-once")
    for _ in range(40):
        if TimesOutOnce.calls >= 3:
            break
        await tick(gw, 1)
    assert TimesOutOnce.calls >= 3  # it went on deciding after the timeout
    assert ctl.info("times-out-once").status != StrategyStatus.ERROR
    decisions = journal.decisions(journal.runs("times-out-once")[-1]["id"])
    skipped = [d for d in decisions if "timed out" in str(d["detail"])]
    assert skipped, decisions
    await ctl.close()
