"""StrategyController against the simulated gateway: states, isolation, stop, halt, catch-up."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.contracts import stock
from livedesk.backend.errors import PriceUnavailable
from livedesk.backend.events import Alert, EventBus, StrategyState
from livedesk.backend.strategies import (
    Decision,
    Event,
    GatewayClock,
    Monthly,
    Strategy,
    StrategyController,
    StrategyStatus,
)
from livedesk.backend.trading.app import TradingApp
from livedesk.backend.trading.guard import TradingState
from livedesk.backend.trading.orders import limit
from tests.conftest import until

NY = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class NoParams:
    pass


class Ticking(Strategy):
    """Decides every gateway second; counts its runs."""

    name: ClassVar[str] = "ticking"
    Params: ClassVar[type] = NoParams

    def make_schedule(self):
        return Event(poll_interval=1, market_hours=False)

    async def run_once(self, ctx) -> Decision:
        now = await ctx.now()
        return Decision(now, "tick", {"t": now.timestamp()})


class Exploding(Ticking):
    name: ClassVar[str] = "exploding"

    async def run_once(self, ctx) -> Decision:
        raise RuntimeError("boom in the signal")


class Resting(Ticking):
    """Places a far-away limit buy of SPY (it rests) on each run."""

    name: ClassVar[str] = "resting"

    async def run_once(self, ctx) -> Decision:
        spy = await ctx.resolve(stock("SPY"), "spy")
        price = (await ctx.quote(spy)).price
        await ctx.send_order(spy, limit("BUY", 1, round(price * 0.97, 2)))
        return Decision(await ctx.now(), "rest a bid", {"limit": round(price * 0.97, 2)})


class Triggered(Ticking):
    """Polled every gateway second; runs only when its trigger fires (every other poll)."""

    name: ClassVar[str] = "triggered"
    polls = 0

    def make_schedule(self):
        async def every_other(ctx) -> bool:
            Triggered.polls += 1
            return Triggered.polls % 2 == 0

        return Event(poll_interval=1, trigger=every_other, market_hours=False)


class MonthEnd(Ticking):
    name: ClassVar[str] = "month-end"

    def make_schedule(self):
        return Monthly(offset_minutes=30)


@pytest.fixture
async def app(gw, ib_log_guard):
    a = await TradingApp.connect("127.0.0.1", gw.port, 1)
    yield a
    a.disconnect()


def controller(app, journal, strategies, events=None, clock=None) -> StrategyController:
    bus = EventBus()
    if events is not None:
        bus.subscribe(events.append)
    return StrategyController(
        app,
        bus=bus,
        journal=journal,
        strategies=strategies,
        clock=clock or GatewayClock.of(app.ib, max_age=0, max_sleep=0.02),
    )


async def tick(gw, seconds: int) -> None:
    for _ in range(seconds):
        gw.advance(1)
        await asyncio.sleep(0.03)


async def test_one_strategy_raising_leaves_the_others_running(gw, app, journal) -> None:
    events: list = []
    ctl = controller(app, journal, [Ticking(), Exploding()], events)
    await ctl.start("ticking")
    await ctl.start("exploding")
    await tick(gw, 5)
    await until(lambda: len(ctl.recent_decisions("ticking")) >= 3, timeout=10)
    bad, good = ctl.info("exploding"), ctl.info("ticking")
    assert bad.status == StrategyStatus.ERROR
    assert "boom in the signal" in bad.last_error
    assert good.status in (StrategyStatus.WAITING, StrategyStatus.RUNNING)
    assert good.last_decision == "tick" and good.last_error is None
    assert set(good.last_values) == {"t"} and good.last_orders == ()
    # journaled: the error decision (with its traceback) and an alert
    run = journal.runs("exploding")[-1]
    kinds = [d["kind"] for d in journal.decisions(run["id"])]
    assert kinds == ["error"]
    assert "RuntimeError" in journal.decisions(run["id"])[0]["detail"]["traceback"]
    assert any(a["source"] == "strategy:exploding" for a in journal.alerts())
    assert any(isinstance(e, Alert) and "exploding" in e.message for e in events)
    # the good one keeps deciding after the failure
    before = len(ctl.recent_decisions("ticking"))
    await tick(gw, 3)
    await until(lambda: len(ctl.recent_decisions("ticking")) > before, timeout=10)
    await ctl.close()
    assert journal.runs("ticking")[-1]["status"] == "stopped"
    assert journal.runs("exploding")[-1]["status"] == "error"


async def test_event_trigger_gates_the_runs(gw, app, journal) -> None:
    ctl = controller(app, journal, [Triggered()])
    await ctl.start("triggered")
    await tick(gw, 6)
    await until(lambda: Triggered.polls >= 4, timeout=10)
    await ctl.stop("triggered")
    runs = len(ctl.recent_decisions("triggered"))
    # one run per firing (the stop may cut the last one short)
    assert Triggered.polls // 2 - 1 <= runs <= Triggered.polls // 2 and runs >= 1


async def test_every_state_change_is_an_event(gw, app, journal) -> None:
    events: list = []
    ctl = controller(app, journal, [Ticking()], events)
    await ctl.start("ticking")
    await tick(gw, 2)
    await until(lambda: ctl.recent_decisions("ticking"), timeout=10)
    await ctl.stop("ticking")
    states = [e.status for e in events if isinstance(e, StrategyState)]
    assert states[0] == "waiting" and states[-1] == "stopped"
    assert "running" in states
    i = states.index("running")
    assert states[i + 1] == "waiting"  # back to waiting after the decision
    info = ctl.info("ticking")
    assert info.status == StrategyStatus.STOPPED and info.next_run is None
    assert info.last_run is not None and info.schedule.startswith("event")


async def test_stop_cancels_only_this_strategys_orders(gw, app, journal) -> None:
    ctl = controller(app, journal, [Resting()])
    d = await ctl.run_now("resting")
    assert d.orders and d.orders[0]["sent"]
    spy = await app.resolve_contract(stock("SPY"))
    price = (await app.quote(spy)).price
    other = await app.send_order(spy, limit("BUY", 2, round(price * 0.96, 2)), strategy="other")
    await until(lambda: sum(1 for o in gw.broker.orders.values() if o.status == "Submitted") == 2)
    await ctl.stop("resting")
    mine = [o for o in gw.broker.orders.values() if strategy_of(o.order.orderRef) == "resting"]
    await until(lambda: mine[0].status == "Cancelled")
    assert other.trade.orderStatus.status not in ("Cancelled", "ApiCancelled")
    theirs = [o for o in gw.broker.orders.values() if strategy_of(o.order.orderRef) == "other"]
    assert theirs[0].status == "Submitted"
    assert app.positions.get(spy.conId) is None  # positions left alone


async def test_halt_all_halts_everything(gw, app, journal) -> None:
    ctl = controller(app, journal, [Ticking(), Resting()])
    await ctl.run_now("resting")
    await ctl.start("ticking")
    await until(lambda: any(o.status == "Submitted" for o in gw.broker.orders.values()))
    cancelled = await ctl.halt_all("test kill switch")
    assert cancelled == 1
    assert all(i.status == StrategyStatus.HALTED for i in ctl.infos())
    assert app.trading_state == TradingState.HALTED
    with pytest.raises(RuntimeError, match="halted"):
        await ctl.start("ticking")
    with pytest.raises(RuntimeError, match="halted"):
        await ctl.run_now("resting")
    await until(lambda: all(o.status == "Cancelled" for o in gw.broker.orders.values()))


async def test_a_kill_switch_pressed_elsewhere_halts_running_strategies(gw, app, journal) -> None:
    ctl = controller(app, journal, [Ticking()])
    await ctl.start("ticking")
    await tick(gw, 2)
    await until(lambda: ctl.recent_decisions("ticking"), timeout=10)
    await app.kill_switch("pressed in the console")
    await tick(gw, 2)
    await until(lambda: ctl.info("ticking").status == StrategyStatus.HALTED, timeout=10)
    n = len(ctl.recent_decisions("ticking"))
    await tick(gw, 2)
    assert len(ctl.recent_decisions("ticking")) == n
    assert journal.runs("ticking")[-1]["status"] == "halted"


async def test_missed_month_end_runs_once_on_start(app, journal) -> None:
    # the process was down over November's month end (Mon 2026-11-30 16:30); now 12-01 10:00
    prior = journal.start_run("month-end", {})
    journal.record_decision(
        prior,
        "decision",
        {"summary": "October"},
        t=dt.datetime(2026, 10, 30, 16, 30, tzinfo=NY).timestamp(),
    )
    journal.end_run(prior)

    async def fixed() -> dt.datetime:
        return dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY)

    events: list = []
    clock = GatewayClock(fixed, max_age=0, max_sleep=0.02)
    ctl = controller(app, journal, [MonthEnd()], events, clock=clock)
    assert ctl.info("month-end").last_run == dt.datetime(2026, 10, 30, 16, 30, tzinfo=NY)
    await ctl.start("month-end")
    await until(lambda: ctl.recent_decisions("month-end")[-1]["kind"] == "decision", timeout=10)
    await until(lambda: ctl.info("month-end").next_run is not None, timeout=10)
    assert ctl.info("month-end").next_run == dt.datetime(2026, 12, 31, 16, 30, tzinfo=NY)
    missed = [e for e in events if isinstance(e, Alert) and "missed" in e.message]
    assert len(missed) == 1 and "2026-11-30 16:30" in missed[0].message
    run = journal.runs("month-end")[-1]
    assert [d["kind"] for d in journal.decisions(run["id"])] == ["decision"]
    await ctl.close()
    # a second start does not run it again: the catch-up is recorded
    ctl2 = controller(app, journal, [MonthEnd()], clock=clock)
    assert ctl2.info("month-end").last_run == dt.datetime(2026, 12, 1, 10, 0, tzinfo=NY)
    await ctl2.start("month-end")
    await asyncio.sleep(0.2)
    assert journal.decisions(journal.runs("month-end")[-1]["id"]) == []
    await ctl2.close()


class Unpriced(Ticking):
    """Its first two runs find no usable price (a quote not in yet), then it decides."""

    name: ClassVar[str] = "unpriced"
    runs = 0

    async def run_once(self, ctx) -> Decision:
        Unpriced.runs += 1
        if Unpriced.runs <= 2:
            raise PriceUnavailable("no usable price for SPY STK: bid NaN, ask NaN, last NaN")
        return await super().run_once(ctx)


async def test_no_usable_price_is_a_skipped_decision_not_a_failure(gw, app, journal) -> None:
    # the 20-day soak's options-combo stopped for good on its first poll: "PriceUnavailable:
    # no usable price for SPY STK" (ERROR, no decision in 20 days)
    Unpriced.runs = 0
    events: list = []
    ctl = controller(app, journal, [Unpriced()], events)
    await ctl.start("unpriced")
    await tick(gw, 6)
    await until(lambda: Unpriced.runs >= 3, timeout=10)
    await until(lambda: ctl.info("unpriced").last_decision == "tick", timeout=10)
    info = ctl.info("unpriced")
    assert info.status in (StrategyStatus.WAITING, StrategyStatus.RUNNING)
    assert info.last_error is None
    run = journal.runs("unpriced")[-1]
    kinds = [
        (d["kind"], (d["detail"] or {}).get("skipped_reason")) for d in journal.decisions(run["id"])
    ]
    assert (
        kinds[:2]
        == [
            (
                "skip",
                "no usable market data: no usable price for SPY STK: bid NaN, ask NaN, last NaN",
            )
        ]
        * 2
    )
    assert kinds[2][0] == "decision"
    assert not [e for e in events if isinstance(e, Alert) and "stopped on an error" in e.message]
    await ctl.close()
