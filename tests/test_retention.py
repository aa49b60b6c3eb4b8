"""Memory stays bounded over a long session: earlier broker days' finished trades and fills
leave ib_async (and the ledger's and tracker's links to them), and a streaming bar feed holds a
bounded number of bars. Each bound is checked against a hand count."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from ib_async import (
    IB,
    BarData,
    CommissionReport,
    Contract,
    Execution,
    Fill,
    Order,
    OrderStatus,
    Trade,
)

from livedesk.backend.contracts import stock
from livedesk.backend.journal import Journal
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.strategies.bars import MIN_KEEP, BarFeed
from livedesk.backend.trading.orders import limit
from livedesk.backend.trading.orders import market as mkt
from livedesk.backend.trading.retention import SessionRetention
from tests.conftest import until
from tests.reliability_helpers import FAST, connect

NY = ZoneInfo("America/New_York")
TUE, WED = dt.date(2026, 11, 17), dt.date(2026, 11, 18)


# ---- the rule, on ib_async's own objects -------------------------------------------------
def _fill(order_id: int, i: int, when: dt.datetime, con_id: int = 1) -> Fill:
    ex = Execution(
        execId=f"e{order_id}.{i}", time=when, shares=1, side="BOT", orderId=order_id, clientId=1
    )
    return Fill(Contract(conId=con_id, secType="STK"), ex, CommissionReport(), when)


def _trade(ib: IB, order_id: int, status: str, fill_times: list[dt.datetime]) -> Trade:
    order = Order(orderId=order_id, clientId=1, permId=900 + order_id, action="BUY")
    order.totalQuantity = max(len(fill_times), 1)
    trade = Trade(
        Contract(conId=1, secType="STK", symbol="X"),
        order,
        OrderStatus(orderId=order_id, status=status, filled=len(fill_times)),
    )
    trade.fills = [_fill(order_id, i, t) for i, t in enumerate(fill_times)]
    ib.wrapper.trades[(1, order_id)] = trade
    ib.wrapper.permId2Trade[order.permId] = trade
    for f in trade.fills:
        ib.wrapper.fills[f.execution.execId] = f
    return trade


def test_a_new_broker_day_drops_finished_reflected_trades_and_older_fills() -> None:
    ib = IB()
    yesterday = dt.datetime(2026, 11, 17, 14, 30, tzinfo=dt.UTC)
    late_yesterday_ny = dt.datetime(2026, 11, 18, 3, 0, tzinfo=dt.UTC)  # 22:00 on TUE in NY
    today = dt.datetime(2026, 11, 18, 14, 31, tzinfo=dt.UTC)
    filled_old = _trade(ib, 1, "Filled", [yesterday, late_yesterday_ny])
    cancelled = _trade(ib, 2, "Cancelled", [])
    working = _trade(ib, 3, "Submitted", [yesterday])  # a GTC order, partly filled on TUE
    filled_today = _trade(ib, 4, "Filled", [today])
    unreflected = _trade(ib, 5, "Filled", [yesterday])  # its position message is not in yet
    for exec_id, t in (("other-tue", yesterday), ("other-wed", today)):  # another client's
        ib.wrapper.fills[exec_id] = _fill(99, 0, t)
        ib.wrapper.fills[exec_id].execution.execId = exec_id
    day = [TUE]
    forgotten: list[list[Trade]] = []
    retention = SessionRetention(
        ib, lambda: day[0], settled=lambda t: t is not unreflected, forget=[forgotten.append]
    )

    assert retention.check() is None  # the first reading only sets the day
    assert retention.check() is None and len(ib.wrapper.trades) == 5  # same day: nothing
    day[0] = WED
    report = retention.check()

    assert (report.trades, report.fills) == (2, 3)  # trades 1, 2; fills e1.0, e1.1, other-tue
    assert {id(t) for t in ib.wrapper.trades.values()} == set(
        map(id, (working, filled_today, unreflected))
    )
    assert set(ib.wrapper.permId2Trade) == {903, 904, 905}
    assert set(ib.wrapper.fills) == {"e3.0", "e4.0", "e5.0", "other-wed"}
    assert [set(map(id, f)) for f in forgotten] == [{id(filled_old), id(cancelled)}]
    assert all(t is not filled_old for t in ib.trades()) and len(ib.fills()) == 4

    day[0] = TUE  # a gateway restarted on an earlier clock: never a second prune for WED
    assert retention.check() is None
    day[0] = WED
    assert retention.check() is None
    assert retention.dropped.trades == 2 and retention.dropped.fills == 3


# ---- over several simulated days on the gateway -----------------------------------------
@pytest.mark.slow
async def test_days_of_trading_keep_only_todays_trades_and_the_working_ones(
    tmp_path, ib_log_guard
) -> None:
    """K sessions of N market orders each, with a GTC order working throughout: after every
    roll ib_async holds only the GTC order; positions, the ledger and the journal agree."""
    k_days, n_orders = 3, 3
    gw = SimGateway(
        port=0, seed=7, speed=0, start="2026-11-16T10:00", tick_interval=0.02, account_interval=0.05
    )
    await gw.start()
    journal = Journal(tmp_path / "j.sqlite3", synchronous="NORMAL")
    # no reconnect may reset ib_async's lists behind the test's back (asserted at the end)
    app = await connect(gw, journal, session_options={**FAST, "heartbeat_timeout": 30.0})
    try:
        c = await app.resolve_contract(stock("AAPL"))
        low = round(gw.market.quote(c.conId, gw.now()).bid * 0.955, 2)  # inside the collar

        def gtc(action: str, qty: float):
            order = limit(action, qty, low)
            order.tif = "GTC"
            return order

        resting = await app.send_order(c, gtc("BUY", 10), strategy="t")
        await until(lambda: resting.trade.orderStatus.status == "Submitted")
        held = 0
        for day in range(k_days):
            for _ in range(n_orders):
                r = await app.send_order(c, mkt("BUY", 1), strategy="t")
                await until(lambda r=r: r.trade.orderStatus.status == "Filled")
                held += 1
            await until(lambda h=held: getattr(app.positions.get(c.conId), "position", 0) == h)
            await until(lambda h=held: app.exposure(c).held == h)
            # today: the GTC order and this session's N orders, each with its fill
            assert len(app.ib.trades()) == 1 + n_orders
            nxt = gw.market.next_session_open()
            gw.advance(nxt - gw.now() + 600, step=60.0)
            await asyncio.sleep(0.05)
            await app.clock.refresh()  # a clock reading (as the heartbeat's): a new date
            assert app.retention.day == dt.datetime.fromtimestamp(gw.now(), NY).date()
            assert [t.order.orderId for t in app.ib.trades()] == [resting.trade.order.orderId]
            assert app.ib.fills() == []
            assert app.retention.dropped.trades == n_orders * (day + 1)
            # nothing the books need was lost
            assert app.exposure(c).held == held == gw.broker.account.holdings[c.conId].qty
            assert app.exposure(c).working == 10
            assert journal.net_fills()[c.conId] == held
        assert len(journal.fills()) == k_days * n_orders  # the history stays in the journal
        finished = [t for t in app.session.tracker.orders.values() if t.status == "Filled"]
        assert len(finished) == k_days * n_orders
        assert all(t.trade is None for t in finished)  # no link keeps a forgotten Trade alive
        # the next target after the rolls still nets correctly (the GTC order counts)
        r = await app.order_target_quantity(c, mkt, held + 10 + 2, strategy="t")
        await until(lambda: r.trade.orderStatus.status == "Filled")
        await until(lambda: app.exposure(c).held == held + 2)
        assert r.trade.order.totalQuantity == 2
        assert app.session.stats.drops == 0
    finally:
        app.disconnect()
        await gw.stop()
        journal.close()


# ---- bar feeds ---------------------------------------------------------------------------
T0 = dt.datetime(2026, 11, 16, 14, 30, tzinfo=dt.UTC)


def _bar(i: int) -> BarData:
    return BarData(date=T0 + dt.timedelta(minutes=i), open=i, high=i, low=i, close=float(i))


def test_a_streaming_feed_holds_at_most_its_warm_up_plus_a_tenth() -> None:
    warm, streamed, n = 1200, 5000, 100
    feed = BarFeed(Contract(conId=1), [_bar(i) for i in range(warm)], "1 min")
    assert feed.max_bars == warm
    peak = 0
    for i in range(warm, warm + streamed):
        feed.bars.append(_bar(i))  # as ib_async appends a keepUpToDate bar
        now = (T0 + dt.timedelta(minutes=i + 1)).timestamp()
        times, closes = feed.tail(now, n)
        # the n bars before the newest (in progress), whatever was trimmed
        assert closes.tolist() == [float(k) for k in range(i - n, i)]
        peak = max(peak, len(feed.bars))
    assert peak <= warm + warm // 10 == 1320
    assert feed.bars[-1].close == warm + streamed - 1


def test_a_feed_keeps_what_its_owner_needs_and_a_minimum() -> None:
    short = BarFeed(Contract(conId=1), [_bar(i) for i in range(50)], "1 min")
    assert short.max_bars == MIN_KEEP == 1000
    wide = BarFeed(Contract(conId=1), [_bar(i) for i in range(50)], "1 min", keep=3000)
    for i in range(50, 3000):
        wide.bars.append(_bar(i))
        wide.trim()
    assert len(wide.bars) == 3000 and wide.bars[0].close == 0  # nothing dropped below keep
    for i in range(3000, 3400):
        wide.bars.append(_bar(i))
        wide.trim()
        assert len(wide.bars) <= 3300
    assert wide.bars[-1].close == 3399 and wide.bars[0].close >= 3399 - 3300


def test_a_failing_pass_is_logged_never_raised_into_the_heartbeat(caplog) -> None:
    ib = IB()
    _trade(ib, 1, "Filled", [dt.datetime(2026, 11, 17, 14, 30, tzinfo=dt.UTC)])

    def broken() -> dt.date:
        raise RuntimeError("no clock")

    retention = SessionRetention(ib, broken)
    assert retention.check() is None
    assert "retention pass failed" in caplog.text and len(ib.wrapper.trades) == 1
