"""The fault matrix of RELIABILITY.md, one test per row, against the simulated gateway's fault
hooks over a real socket. Each test asserts the state the backend ends in and the books:
journal executions = gateway executions, positions reconcile, no order duplicated."""

from __future__ import annotations

import asyncio
import math

import pytest

from livedesk.backend.broker.session import CONNECTED, DEGRADED, DISCONNECTED, RESTORED
from livedesk.backend.broker.tracking import NOT_RECEIVED, UNKNOWN
from livedesk.backend.contracts import stock
from livedesk.backend.events import Alert, ConnectionState
from livedesk.backend.journal import Journal
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.trading.app import OrderRefused, TradingApp
from livedesk.backend.trading.orders import limit
from livedesk.backend.trading.orders import market as mkt
from tests.conftest import until
from tests.reliability_helpers import assert_books, connect


def recorder(app: TradingApp) -> tuple[list[ConnectionState], list[Alert]]:
    states: list[ConnectionState] = []
    alerts: list[Alert] = []

    def on(ev) -> None:
        if isinstance(ev, ConnectionState):
            states.append(ev)
        elif isinstance(ev, Alert):
            alerts.append(ev)

    app.bus.subscribe(on)
    return states, alerts


async def filled(app: TradingApp, result) -> None:
    """The order is done and the broker position reflects it."""
    await until(lambda: result.trade.isDone())
    c = result.trade.contract
    await until(lambda: app.exposure(c).held == getattr(app.positions.get(c.conId), "position", 0))


async def barrier(app: TradingApp) -> None:
    """Everything sent so far has reached the gateway and been answered."""
    await app.ib.reqCurrentTimeAsync()


def far_limit(gw: SimGateway, con_id: int, action: str):
    q = gw.market.quote(con_id, gw.now())
    price = round(q.ask * 1.04, 2) if action == "SELL" else round(q.bid * 0.96, 2)
    return lambda a, n: limit(a, n, price)


# ---- 1100 / 1101 / 1102 ----------------------------------------------------------------
async def test_1100_degraded_blocks_new_orders_leaves_working_ones_one_alert(
    app: TradingApp, gw: SimGateway, journal: Journal
) -> None:
    c = await app.resolve_contract(stock("AAPL"))
    resting = await app.order_target_quantity(c, far_limit(gw, c.conId, "BUY"), 10)
    await until(lambda: resting.trade.orderStatus.status == "Submitted")
    states, alerts = recorder(app)
    for _ in range(3):
        gw.faults.send_error(1100)
    await until(lambda: app.session.state == DEGRADED)
    await barrier(app)
    assert sum(1 for a in alerts if a.code == 1100) == 1  # one alert, not one per repeat
    assert [s.state for s in states] == [DEGRADED]
    with pytest.raises(OrderRefused, match="1100"):
        await app.order_target_quantity(c, mkt, 20)
    await barrier(app)
    working = [so for so in gw.broker.orders.values() if so.is_working]
    assert len(working) == 1 and working[0].order.orderRef == resting.order.orderRef
    assert resting.trade.orderStatus.status == "Submitted"  # untouched
    assert_books(app, gw, journal, orders=1)


async def test_1101_resubscribes_prices_stale_until_first_tick(
    app: TradingApp, gw: SimGateway, journal: Journal
) -> None:
    c = await app.resolve_contract(stock("MSFT"))
    first = await app.ticker(c)
    gw.advance(1)
    await until(lambda: first.bid > 0)
    sess = gw.sessions[1]
    lines = set(sess.mkt)
    push = sess._push_ticks
    sess._push_ticks = lambda *a: None  # hold the first ticks of the new lines back
    states, _ = recorder(app)
    gw.faults.send_error(1101)
    await until(lambda: app.session.state == CONNECTED and states)
    assert [s.state for s in states][:1] == [RESTORED]
    assert set(sess.mkt) != lines and len(sess.mkt) == 1  # resubscribed: a new line, one only
    # until the first tick arrives the price is unusable and decisions pause
    assert not app.data_ok and "stale until the first tick" in app.data_stale_reason
    assert math.isnan(app.market_data.tickers[c.conId].bid)
    with pytest.raises(OrderRefused, match="stale"):
        await app.order_target_quantity(c, mkt, 5)
    sess._push_ticks = push
    gw.advance(1)
    await until(lambda: app.data_ok)
    assert app.market_data.tickers[c.conId].bid > 0
    result = await app.order_target_quantity(c, mkt, 5)
    await filled(app, result)
    assert_books(app, gw, journal, orders=1)


async def test_1102_reconciles_fills_made_in_the_gap(
    app: TradingApp, gw: SimGateway, journal: Journal
) -> None:
    c = await app.resolve_contract(stock("XOM"))
    resting = await app.order_target_quantity(c, far_limit(gw, c.conId, "BUY"), 40)
    await until(lambda: resting.trade.orderStatus.status == "Submitted")
    gw.faults.go_silent()  # the gap: the gateway fills the order but tells nobody
    so = next(iter(gw.broker.orders.values()))
    so.order.orderType, so.order.lmtPrice = "MKT", 0.0
    gw.advance(1)
    assert so.filled == 40
    gw.faults.go_silent(False)
    assert not any(f["exec_id"] for f in journal.fills())
    states, _ = recorder(app)
    gw.faults.send_error(1102)
    await until(lambda: states and app.session.ready)
    assert states[0].state == RESTORED and states[-1].state == CONNECTED
    assert app.session.last_report is not None
    assert len(app.session.last_report.missed_fills) == 1
    assert_books(app, gw, journal, orders=1)


# ---- data farms and delayed data ----------------------------------------------------------
@pytest.mark.parametrize(("broken", "ok"), [(2103, 2104), (2105, 2106), (2110, 2104)])
async def test_data_farm_broken_pauses_decisions_until_ok(
    app: TradingApp, gw: SimGateway, broken: int, ok: int
) -> None:
    assert app.data_ok and app.data_stale_reason == ""
    gw.faults.send_error(broken)
    await until(lambda: not app.data_ok)
    assert str(broken) in app.data_stale_reason
    gw.faults.send_error(ok)
    await until(lambda: app.data_ok)
    assert app.data_stale_reason == ""


@pytest.mark.parametrize("mode", ["delayed", "no-permission"])
async def test_delayed_data_labelled_and_blocks_live_orders(
    app: TradingApp, gw: SimGateway, journal: Journal, mode: str
) -> None:
    gw.faults.set_market_data_fault(mode, ["KO"])
    c = await app.resolve_contract(stock("KO"))
    await app.ticker(c)
    gw.advance(1)
    await until(lambda: not app.data_ok)
    assert "delayed" in app.data_stale_reason and "KO" in app.data_stale_reason
    from livedesk.backend.errors import PriceUnavailable

    app.price_timeout = 0.2
    # delayed prices size nothing live; with no data at all (354) there is no price either
    with pytest.raises(OrderRefused if mode == "delayed" else PriceUnavailable):
        await app.order_target_quantity(c, mkt, 10)
    await barrier(app)
    assert_books(app, gw, journal, orders=0)


def limit_at(price: float):
    return lambda a, n: limit(a, n, price)


# ---- socket drop, restart, silence, 326 ---------------------------------------------------
async def test_gateway_restart_reconnects_resyncs_and_relinks(
    app: TradingApp, gw: SimGateway, journal: Journal
) -> None:
    c = await app.resolve_contract(stock("AAPL"))
    bought = await app.order_target_quantity(c, mkt, 50, strategy="s1")
    await filled(app, bought)
    ticker = await app.ticker(c)
    resting = await app.send_order(c, far_limit(gw, c.conId, "SELL")("SELL", 10), strategy="s1")
    await until(lambda: resting.trade.orderStatus.status == "Submitted")
    states, _ = recorder(app)
    await gw.faults.restart(downtime=0.1)
    await until(lambda: app.session.ready, timeout=5)
    names = [s.state for s in states]
    assert DISCONNECTED in names and names[-1] == CONNECTED
    relinked = app.session.trade_of(resting.order.orderRef)
    assert relinked is not None and relinked is not resting.trade  # a new Trade object
    assert relinked.orderStatus.status == "Submitted"
    gw.advance(1)
    await until(lambda: app.market_data.tickers[c.conId] is not ticker)
    await until(lambda: app.data_ok and app.market_data.tickers[c.conId].bid > 0)
    # held 50, working sell 10: a target of 60 buys 20 (nothing doubled after the resync)
    more = await app.order_target_quantity(c, mkt, 60, strategy="s1")
    assert more.order.totalQuantity == 20
    await filled(app, more)
    assert_books(app, gw, journal, orders=3)
    assert app.session.stats.reconnects == 1


async def test_restart_with_state_file_keeps_positions(market, tmp_path, journal) -> None:
    state = tmp_path / "sim.json"
    start = market.session_open() + 3600
    gw = SimGateway(port=0, market=market, speed=0, state_file=state, start_time=start,
                    tick_interval=0.02)  # fmt: skip
    await gw.start()
    app = await connect(gw, journal)
    try:
        c = await app.resolve_contract(stock("JPM"))
        await filled(app, await app.order_target_quantity(c, mkt, 30))
        port = gw.port
        await gw.stop()
        await until(lambda: app.session.state == DISCONNECTED)
        gw = SimGateway("127.0.0.1", port, market=market, speed=0, state_file=state,
                        start_time=start, tick_interval=0.02)  # fmt: skip
        await gw.start()
        await until(lambda: app.session.ready, timeout=5)
        assert app.positions[c.conId].position == 30
        assert_books(app, gw, journal)  # the new gateway keeps working orders, not done ones
        assert len(journal.orders()) == 1 and journal.orders()[0]["status"] == "Filled"
    finally:
        app.disconnect()
        await gw.stop()


async def test_socket_drop_order_in_flight_is_unknown_then_settled(
    app: TradingApp, gw: SimGateway, journal: Journal
) -> None:
    c = await app.resolve_contract(stock("PG"))
    sess = gw.sessions[1]
    sess.send_order = lambda so: None  # the gateway takes the order; its status never leaves
    sent = await app.order_target_quantity(c, far_limit(gw, c.conId, "BUY"), 15)
    await until(lambda: len(gw.broker.orders) == 1)
    gw.faults.drop_all()  # right after placeOrder, before any status came back
    await until(lambda: app.session.state == DISCONNECTED)
    tracked = app.session.tracker.orders[sent.order.orderRef.split("#")[1]]
    seen = tracked.status
    assert seen == UNKNOWN
    with pytest.raises(OrderRefused):
        await app.order_target_quantity(c, mkt, 15)
    await until(lambda: app.session.ready, timeout=5)
    assert tracked.status == "Submitted"  # the gateway had it: settled, not re-sent
    again = await app.order_target_quantity(c, far_limit(gw, c.conId, "BUY"), 15)
    assert not again.sent  # held 0 + working 15 = target
    assert_books(app, gw, journal, orders=1)


async def test_order_lost_in_flight_is_not_resent(
    app: TradingApp, gw: SimGateway, journal: Journal
) -> None:
    c = await app.resolve_contract(stock("PG"))
    await app.quote(c)
    gw.faults.go_silent()  # the order leaves but the gateway never sees it
    sent = await app.order_target_quantity(c, mkt, 15)
    await asyncio.sleep(0.05)
    gw.faults.go_silent(False)
    gw.faults.drop_all()
    await until(lambda: app.session.state == DISCONNECTED)
    await until(lambda: app.session.ready, timeout=5)
    key = sent.order.orderRef.split("#")[1]
    assert app.session.tracker.orders[key].status == NOT_RECEIVED
    await barrier(app)
    assert_books(app, gw, journal, orders=0)  # never blindly re-sent


async def test_silent_socket_detected_by_heartbeat(gw: SimGateway) -> None:
    from tests.reliability_helpers import FAST

    quick = {**FAST, "heartbeat_interval": 0.1, "heartbeat_timeout": 0.3}
    app = await connect(gw, None, session_options=quick)
    cfg = app.session.config
    loop = asyncio.get_running_loop()
    gw.faults.go_silent()
    t0 = loop.time()
    await until(lambda: app.session.state == DISCONNECTED, timeout=5)
    took = loop.time() - t0
    assert took <= cfg.heartbeat_interval + cfg.heartbeat_timeout + 0.5
    assert app.session.stats.heartbeat_failures == 1
    gw.faults.go_silent(False)
    await until(lambda: app.session.ready, timeout=5)
    assert app.ib.isConnected()
    app.disconnect()


async def test_client_id_in_use_takes_the_fallback_id(gw: SimGateway, ib, journal) -> None:
    # ``ib`` holds client id 1
    app = await connect(gw, journal, client_id=1, fallback_client_ids=(11,))
    try:
        assert app.session.client_id == 11 and app.ib.client.clientId == 11
        assert any(a["code"] == 326 for a in journal.alerts())
    finally:
        app.disconnect()
    with pytest.raises(ConnectionError, match="326"):
        await connect(gw, None, client_id=1)


# ---- orders ------------------------------------------------------------------------------
async def test_pacing_162_history_empty_is_no_data(app: TradingApp, gw: SimGateway) -> None:
    c = await app.resolve_contract(stock("AAPL"))
    bars = await app.ib.reqHistoricalDataAsync(c, "", "1 D", "1 min", "TRADES", True)
    assert bars
    again = await app.ib.reqHistoricalDataAsync(c, "", "1 D", "1 min", "TRADES", True)
    assert len(again) == 0  # "no data", never a signal
    assert app.session.ready  # a pacing error does not break the link


async def test_rejected_order_marked_with_reason(
    app: TradingApp, gw: SimGateway, journal: Journal
) -> None:
    c = await app.resolve_contract(stock("IBM"))
    gw.faults.reject_next_order("simulated margin check")
    sent = await app.order_target_quantity(c, mkt, 10)
    await until(lambda: sent.trade.isDone())
    key = sent.order.orderRef.split("#")[1]
    tracked = app.session.tracker.orders[key]
    await until(lambda: "margin" in tracked.reason)
    assert tracked.status in ("Cancelled", "Inactive")
    again = await app.order_target_quantity(c, mkt, 10, dry_run=True)
    assert again.order.totalQuantity == 10  # the target loop sees nothing held or working
    assert_books(app, gw, journal, orders=0)


async def test_duplicate_order_id_103_blocks_until_reconciled(
    app: TradingApp, gw: SimGateway, journal: Journal
) -> None:
    c = await app.resolve_contract(stock("AAPL"))
    done = await app.order_target_quantity(c, mkt, 5)
    await filled(app, done)
    gw.faults.send_error(103, "Duplicate order id")
    await until(lambda: app.session.halt_reason or app.session.ready)
    await until(lambda: app.session.ready)  # reconciliation clears the halt
    more = await app.order_target_quantity(c, mkt, 8)
    assert more.order.orderId != done.order.orderId
    await filled(app, more)
    assert_books(app, gw, journal, orders=2)


async def test_partial_fills_counted_once_by_exec_id(
    app: TradingApp, gw: SimGateway, journal: Journal
) -> None:
    c = await app.resolve_contract(stock("CVX"))
    gw.faults.force_partial_fills(1)
    sent = await app.order_target_quantity(c, mkt, 30)
    await until(lambda: len(gw.broker.orders) == 1)
    for _ in range(5):
        gw.advance(1)
    await filled(app, sent)
    assert len(journal.fills()) == 3
    # a reconnect replays today's executions: still counted once
    gw.faults.drop_all()
    await until(lambda: app.session.state == DISCONNECTED)
    await until(lambda: app.session.ready, timeout=5)
    assert len(journal.fills()) == 3
    assert app.exposure(c).held == 30
    assert_books(app, gw, journal, orders=1)


async def test_cancel_racing_a_fill_counts_the_fill(
    app: TradingApp, gw: SimGateway, journal: Journal
) -> None:
    c = await app.resolve_contract(stock("CVX"))
    gw.faults.force_partial_fills(1)
    sent = await app.order_target_quantity(c, mkt, 30)
    await until(lambda: sent.trade.orderStatus.filled > 0)
    app.ib.cancelOrder(sent.order)
    gw.advance(1)
    await until(lambda: sent.trade.isDone())
    await barrier(app)
    so = next(iter(gw.broker.orders.values()))
    await until(lambda: app.exposure(c).held == so.filled)
    assert_books(app, gw, journal, orders=1)


# ---- prices and account values -----------------------------------------------------------
@pytest.mark.parametrize("bad", [-1.0, math.nan, 1.7976931348623157e308, 0.0])
async def test_missing_prices_never_size_an_order(
    app: TradingApp, gw: SimGateway, journal: Journal, bad: float
) -> None:
    from livedesk.backend.errors import PriceUnavailable

    c = await app.resolve_contract(stock("T"))
    t = await app.ticker(c)
    app.price_timeout = 0.05
    gw.faults.go_silent()
    for name in ("bid", "ask", "last", "close"):
        setattr(t, name, bad)
    with pytest.raises(PriceUnavailable):
        await app.order_value(c, mkt, 5_000)
    gw.faults.go_silent(False)
    await barrier(app)
    assert_books(app, gw, journal, orders=0)


@pytest.mark.parametrize("nlv", ["0", "nan", None])
async def test_bad_net_liquidation_refuses_percent_orders(
    app: TradingApp, gw: SimGateway, journal: Journal, nlv: str | None
) -> None:
    from livedesk.backend.errors import AccountValueUnavailable

    c = await app.resolve_contract(stock("T"))
    await app.quote(c)
    gw.faults.go_silent()  # no account push replaces the value meanwhile
    values = app.ib.wrapper.accountValues
    for k in [k for k in values if k[1] == "NetLiquidation"]:
        if nlv is None:
            del values[k]
        else:
            values[k] = values[k]._replace(value=nlv)
    with pytest.raises(AccountValueUnavailable, match="NetLiquidation"):
        await app.order_percent(c, mkt, 0.01)
    gw.faults.go_silent(False)
    await barrier(app)
    assert_books(app, gw, journal, orders=0)


async def test_positions_request_failure_is_not_no_positions(
    app: TradingApp, gw: SimGateway, journal: Journal
) -> None:
    c = await app.resolve_contract(stock("AAPL"))
    await filled(app, await app.order_target_quantity(c, mkt, 20))
    app.session.reconciler.timeout = 0.2
    from livedesk.backend.sim.protocol import requests as rq

    handlers = gw.sessions[1]._handlers
    handler = handlers[rq.ReqPositions]
    handlers[rq.ReqPositions] = lambda req: None  # the request times out
    try:
        report = await app.session.reconcile()
    finally:
        handlers[rq.ReqPositions] = handler
    assert report is None and "positions request failed" in app.session.halt_reason
    with pytest.raises(OrderRefused, match="positions request failed"):
        await app.rebalance({c: 0.0})
    await barrier(app)
    assert_books(app, gw, journal, orders=1)
    app.session.reconciler.timeout = 3.0
    assert await app.session.reconcile() is not None and app.session.ready


async def test_unknown_contract_blocks_the_trade(app: TradingApp, gw: SimGateway) -> None:
    from livedesk.backend.contracts import AmbiguousContract, UnknownContract

    with pytest.raises(UnknownContract):
        await app.resolve_contract(stock("NOPE1"))
    with pytest.raises(AmbiguousContract) as err:
        await app.resolve_contract(stock("SHOP", currency=""))
    assert "NYSE" in str(err.value) and "TSE" in str(err.value)  # the candidates listed
    assert not gw.broker.orders


async def test_bad_combo_legs_rejected_locally(app: TradingApp, gw: SimGateway) -> None:
    from ib_async import ComboLeg, Contract

    from livedesk.backend.contracts import ContractError

    bag = Contract(secType="BAG", symbol="SPY", exchange="SMART", currency="USD")
    bag.comboLegs = [ComboLeg(conId=0, ratio=1, action="BUY", exchange="SMART")]
    with pytest.raises((ContractError, ValueError)):
        await app.send_order(bag, limit("BUY", 1, 1.0))
    await barrier(app)
    assert not gw.broker.orders


async def test_live_account_refused_and_read_only_sends_nothing(market) -> None:
    start = market.session_open() + 3600
    async with SimGateway(port=0, market=market, speed=0, account="U1234567",
                          start_time=start) as gw:  # fmt: skip
        app = await connect(gw, None)
        try:
            c = await app.resolve_contract(stock("AAPL"))
            with pytest.raises(OrderRefused, match="live account"):
                await app.order_target_quantity(c, mkt, 1)
        finally:
            app.disconnect()
        app = await connect(gw, None, live=True, confirm_account="U1234567")
        try:
            c = await app.resolve_contract(stock("AAPL"))
            assert (await app.order_target_quantity(c, mkt, 1)).sent
        finally:
            app.disconnect()
        app = await connect(gw, None, readonly=True, client_id=2)
        try:
            with pytest.raises(OrderRefused, match="read-only"):
                await app.order_target_quantity(c, mkt, 2)
            with pytest.raises(OrderRefused, match="read-only"):
                await app.cancel_all()
        finally:
            app.disconnect()
        assert len(gw.broker.orders) == 1
