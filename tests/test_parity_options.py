"""Parity: options-combo live on the stepped simulated gateway over five sessions, and its
backtest over the same five sessions.

The gateway (seed 7) starts at the open of 2026-11-13 with its clock stepped by hand a
minute at a time (a pulse at every whole minute: resting orders are matched there, as the
backtest checks them). The controller decides at every time of the strategy's schedule
(every 300 s in regular hours); every order is acknowledged before the clock moves on.
NVDA, with a low threshold and a tight target and stop, so that the five sessions hold an
entry cancelled after ``entry_timeout``, a filled entry, an exit and a second entry. Then the backtest (``strategy.backtest``, on a fresh connection, no
costs) replays the same five sessions from the gateway's history.

Expectations:

* the same decisions: every order at the same time with the same side, kind, expiry,
  strikes, quantity and limit; the same number of polls;
* each live limit is the legs' mid at the decision time from the gateway's own quotes
  (computed here from ``market.quote``, rounded to the cent), and each live fill is at
  its limit: a limit at the mid costs nothing but the rounding, so the backtest's fills
  (at its limits, ``cost_bps`` 0) equal live's — time (to the minute) and price.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from livedesk.backend.demo.fastforward import acknowledged, decide, jump
from livedesk.backend.journal import Journal
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.strategies import GatewayClock, StrategyController, create_strategy
from livedesk.backend.strategies.context import StrategyContext
from livedesk.backend.trading.app import TradingApp

pytestmark = pytest.mark.slow
FIRST = dt.date(2026, 11, 13)
SESSIONS = 5
NAME = "options-combo"
PARAMS = {"underlying": "NVDA", "threshold": 0.005, "profit_target": 0.2, "straddle_stop": 0.1}


def legs_of(gw: SimGateway, contract) -> tuple[str, tuple]:
    """(expiry, ((strike, right, action), ...)) of a BAG, from the gateway's registry."""
    out, expiry = [], ""
    for leg in contract.comboLegs:
        inst = gw.market.registry.by_con_id(leg.conId)
        expiry = inst.last_trade_date
        out.append((inst.strike, inst.right, leg.action))
    return expiry, tuple(out)


def mid_now(gw: SimGateway, contract) -> float:
    """The BAG's mid at the gateway's clock: the signed sum of its legs' (bid + ask) / 2."""
    total = 0.0
    for leg in contract.comboLegs:
        q = gw.market.quote(leg.conId, gw.now())
        total += (q.bid + q.ask) / 2 * (1 if leg.action == "BUY" else -1)
    return total


async def run_live(gw: SimGateway, tmp_path) -> tuple[int, list[dict]]:
    """Five sessions of the live strategy; its polls and its orders with their fills."""
    app = await TradingApp.connect("127.0.0.1", gw.port, 51)
    journal = Journal(tmp_path / "journal.sqlite3")
    ctl = StrategyController(
        app,
        bus=app.bus,
        journal=journal,
        strategies=[create_strategy(NAME, PARAMS)],
        clock=GatewayClock.of(app.ib, max_age=0, max_sleep=0.02),
    )
    fills: dict[int, list] = {}
    app.ib.execDetailsEvent += lambda trade, fill: fills.setdefault(trade.order.orderId, []).append(
        fill.execution.time.timestamp()
    )
    orders: list[dict] = []
    polls = 0
    schedule = ctl.strategy(NAME).schedule
    try:
        for _ in range(SESSIONS):
            m = gw.market
            open_, close = m.session_open(), m.session_close()
            times, at = set(), schedule.next_run(dt.datetime.fromtimestamp(open_, dt.UTC))
            while at is not None and at.timestamp() < close:
                times.add(at.timestamp())
                at = schedule.next_run(at)
            t = open_
            while t < close:
                await jump(gw, t)
                if t in times:
                    d = await decide(ctl, NAME)
                    polls += 1
                    sent = [o["order_id"] for o in d.orders if o.get("sent")]
                    trades = [x for x in app.ib.trades() if x.order.orderId in sent]
                    assert await acknowledged(trades)
                    for x in trades:
                        orders.append(
                            {
                                "sent": t,
                                "trade": x,
                                "legs": legs_of(gw, x.contract),
                                "mid": mid_now(gw, x.contract),
                            }
                        )
                t += 60
            await jump(gw, m.next_session_open())  # the close runs; the next session opens
        await asyncio.sleep(0.2)
        for o in orders:
            x = o.pop("trade")
            o |= {
                "action": x.order.action,
                "quantity": int(x.order.totalQuantity),
                "limit": float(x.order.lmtPrice),
                "status": x.orderStatus.status,
                "fill_price": float(x.orderStatus.avgFillPrice or 0.0),
                "fill_times": sorted(set(fills.get(x.order.orderId, []))),
            }
    finally:
        await ctl.close()
        app.disconnect()
        journal.close()
    return polls, orders


async def test_options_combo_live_and_backtest_decide_the_same_over_five_sessions(
    tmp_path, ib_log_guard
) -> None:
    from livedesk.backend.sim.market.model import MarketModel

    market = MarketModel(seed=7, session=FIRST)
    gw = SimGateway(
        port=0,
        market=market,
        speed=0.0,
        start_time=market.session_open() - 60,
        tick_interval=60.0,  # no free-running pulses: the test steps the clock
        account_interval=0.1,
    )
    await gw.start()
    try:
        polls, live = await run_live(gw, tmp_path)
        app = await TradingApp.connect("127.0.0.1", gw.port, 52)
        try:
            strategy = create_strategy(NAME, PARAMS)
            ctx = StrategyContext(app, NAME, dry_run=True)
            result = await strategy.backtest(ctx, SESSIONS, 0.0, None)
        finally:
            app.disconnect()
    finally:
        await gw.stop()

    run = result.notes["intraday"]
    assert run["sessions"] == SESSIONS and run["first"] == FIRST.isoformat()
    assert run["polls"] == polls == SESSIONS * 77  # 09:35 .. 15:55 every 5 minutes
    # the run is not trivial: an entry cancelled unfilled, a filled entry and an exit
    statuses = [(o["action"], o["status"]) for o in live]
    assert ("BUY", "Cancelled") in statuses and ("BUY", "Filled") in statuses, live
    assert ("SELL", "Filled") in statuses, live

    for o in live:
        # the limit is the mid of the legs' quotes at the decision, rounded to the cent
        assert o["limit"] == pytest.approx(round(o["mid"], 2), abs=1e-9)
        if o["status"] == "Filled":  # at its limit, at one time, at or after the decision
            assert o["fill_price"] == pytest.approx(o["limit"], abs=1e-9)
            assert len(o["fill_times"]) == 1 and o["fill_times"][0] >= o["sent"]
        else:
            assert not o["fill_times"]

    backtest = run["orders"]
    assert len(backtest) == len(live)
    for b, o in zip(backtest, live, strict=True):
        expiry, legs = o["legs"]
        assert b["sent"] == o["sent"], (b, o)
        assert (b["action"], b["expiry"], b["quantity"]) == (o["action"], expiry, o["quantity"])
        assert tuple(tuple(leg) for leg in b["legs"]) == legs
        assert b["limit"] == pytest.approx(o["limit"], abs=1e-9)
        assert b["status"] == o["status"]
        if o["status"] == "Filled":  # the same minute, the same price: no modelled cost
            assert b["fill_time"] == o["fill_times"][0] - o["fill_times"][0] % 60
            assert b["fill_price"] == pytest.approx(o["fill_price"], abs=1e-9)
