"""Scenario tests: the unmodified ib_async client against the simulated gateway over a real socket."""

from __future__ import annotations

import asyncio
import math

import pytest
from ib_async import IB, Contract, ExecutionFilter, LimitOrder, MarketOrder, Order, Stock, StopOrder

from livedesk.backend.sim.gateway import SimGateway
from tests.conftest import until


async def qualified(ib: IB, symbol: str) -> Contract:
    [c] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    assert c is not None and c.conId > 0
    return c


def position_of(ib: IB, con_id: int) -> float:
    return sum(p.position for p in ib.positions() if p.contract.conId == con_id)


async def test_connect_and_sync(gw: SimGateway, ib: IB) -> None:
    assert ib.isConnected()
    assert ib.managedAccounts() == ["DU0000001"]
    values = {v.tag: v.value for v in ib.accountValues() if v.currency == "USD"}
    assert float(values["NetLiquidation"]) == pytest.approx(1_000_000.0)
    assert float(values["BuyingPower"]) == pytest.approx(2_000_000.0)
    assert ib.positions() == []
    assert ib.openTrades() == []


async def test_qualify_unknown_and_ambiguous(gw: SimGateway, ib: IB) -> None:
    aapl = await qualified(ib, "AAPL")
    assert aapl.primaryExchange in ("NASDAQ", "NYSE")
    errors = []
    ib.errorEvent += lambda req_id, code, msg, c: errors.append(code)
    [missing] = await ib.qualifyContractsAsync(Stock("NOPE1", "SMART", "USD"))
    assert missing is None and 200 in errors
    [ambiguous] = await ib.qualifyContractsAsync(Stock("SHOP", "SMART"), returnAll=True)
    assert isinstance(ambiguous, list) and len(ambiguous) == 2
    [details] = await ib.reqContractDetailsAsync(aapl)
    assert details.minTick == 0.01 and details.tradingHours and details.timeZoneId == "US/Eastern"


async def test_market_buy_fills_with_commission_and_position(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "AAPL")
    quote = gw.market.quote(c.conId, gw.now())
    trade = ib.placeOrder(c, MarketOrder("BUY", 100))
    await until(lambda: trade.isDone())
    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.filled == 100
    assert len(trade.fills) == 1
    fill = trade.fills[0]
    assert fill.execution.price >= quote.ask  # a buy pays at least the ask
    assert fill.commissionReport.commission == pytest.approx(1.0)  # IB minimum
    await until(lambda: position_of(ib, c.conId) == 100)
    [pos] = [p for p in ib.positions() if p.contract.conId == c.conId]
    assert pos.avgCost == pytest.approx(fill.execution.price + 0.01)  # commission per share
    await until(lambda: any(i.contract.conId == c.conId for i in ib.portfolio()))


async def test_sell_short_and_cover(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "MSFT")
    for action, qty, expected in (("BUY", 50, 50), ("SELL", 150, -100), ("BUY", 100, 0)):
        trade = ib.placeOrder(c, MarketOrder(action, qty))
        await until(lambda t=trade: t.isDone())
        assert trade.orderStatus.status == "Filled"
        await until(lambda e=expected: position_of(ib, c.conId) == e)
    fills = ib.fills()
    assert [f.execution.side for f in fills] == ["BOT", "SLD", "BOT"]
    sells = [f for f in fills if f.execution.side == "SLD"]
    assert sells[0].execution.price <= gw.market.quote(c.conId, gw.now()).bid


async def test_limit_orders_passive_then_marketable(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "JPM")
    q = gw.market.quote(c.conId, gw.now())
    passive = ib.placeOrder(c, LimitOrder("BUY", 10, round(q.bid * 0.9, 2)))
    await until(lambda: passive.orderStatus.status == "Submitted")
    gw.advance(5)
    so = gw.broker.orders[(1, passive.order.orderId)]  # the gateway's own log, after advance
    assert so.status == "Submitted" and so.filled == 0
    assert not [e for e in gw.broker.executions if e.order is so]
    await ib.reqCurrentTimeAsync()  # every message sent before the answer has been read
    assert passive.orderStatus.status == "Submitted" and passive.orderStatus.filled == 0
    marketable = ib.placeOrder(c, LimitOrder("BUY", 10, round(q.ask * 1.02, 2)))
    await until(lambda: marketable.isDone())
    assert marketable.orderStatus.status == "Filled"
    assert marketable.fills[0].execution.price <= round(q.ask * 1.02, 2)


async def test_cancel_and_modify(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "XOM")
    q = gw.market.quote(c.conId, gw.now())
    order = LimitOrder("BUY", 10, round(q.bid * 0.8, 2))
    trade = ib.placeOrder(c, order)
    await until(lambda: trade.orderStatus.status == "Submitted")
    order.lmtPrice = round(q.bid * 0.85, 2)
    order.totalQuantity = 20
    ib.placeOrder(c, order)
    await until(lambda: trade.orderStatus.remaining == 20)
    assert gw.broker.orders[(1, order.orderId)].order.lmtPrice == pytest.approx(order.lmtPrice)
    ib.cancelOrder(order)
    await until(lambda: trade.orderStatus.status == "Cancelled")
    assert not gw.broker.working()


async def test_large_order_fills_in_partials(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "PSX")
    q = gw.market.quote(c.conId, gw.now())
    qty = int(q.ask_size * 3 + 100)
    trade = ib.placeOrder(c, MarketOrder("BUY", qty))
    await until(lambda: trade.orderStatus.filled > 0)
    assert trade.orderStatus.filled < qty  # limited by displayed size
    for _ in range(20):
        if trade.isDone():
            break
        gw.advance(1)
        await asyncio.sleep(0.02)
    await until(lambda: trade.isDone())
    assert len(trade.fills) >= 2
    assert sum(f.execution.shares for f in trade.fills) == qty
    assert trade.fills[-1].execution.cumQty == qty
    avg = sum(f.execution.shares * f.execution.price for f in trade.fills) / qty
    assert trade.orderStatus.avgFillPrice == pytest.approx(avg, rel=1e-9)


async def test_forced_partial_fills(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "SPY")
    gw.faults.force_partial_fills(1)
    trade = ib.placeOrder(c, MarketOrder("BUY", 9))
    await until(lambda: trade.orderStatus.filled == 3)
    assert trade.orderStatus.status == "Submitted"
    for _ in range(3):
        gw.advance(1)
    await until(lambda: trade.isDone())
    assert [f.execution.shares for f in trade.fills] == [3, 3, 3]
    assert all(f.commissionReport.commission > 0 for f in trade.fills)


async def test_stop_order_triggers(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "AMZN")
    last = gw.market.last_price(c.conId, gw.now())
    trade = ib.placeOrder(c, StopOrder("BUY", 5, round(last * 0.5, 2)))  # already through: triggers
    await until(lambda: trade.isDone())
    assert trade.orderStatus.status == "Filled"
    far = ib.placeOrder(c, StopOrder("BUY", 5, round(last * 3, 2)))
    await until(lambda: far.orderStatus.status == "Submitted")
    gw.advance(3)
    so = gw.broker.orders[(1, far.order.orderId)]
    assert so.status == "Submitted" and not so.triggered and so.filled == 0
    assert not [e for e in gw.broker.executions if e.order is so]
    await ib.reqCurrentTimeAsync()
    assert far.orderStatus.filled == 0 and not far.fills


async def test_buying_power_rejection(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "AAPL")
    errors = []
    ib.errorEvent += lambda req_id, code, msg, con: errors.append((code, msg))
    trade = ib.placeOrder(c, MarketOrder("BUY", 100_000))
    await until(lambda: trade.isDone())
    assert trade.orderStatus.status == "Cancelled"
    assert errors and errors[-1][0] == 201 and "INITIAL MARGIN" in errors[-1][1]
    assert position_of(ib, c.conId) == 0 and not gw.broker.executions


async def test_reject_next_order_hook(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "AAPL")
    gw.faults.reject_next_order("simulated margin check")
    trade = ib.placeOrder(c, MarketOrder("BUY", 1))
    await until(lambda: trade.isDone())
    assert trade.orderStatus.status == "Cancelled"
    assert any("simulated margin check" in e.message for e in trade.log)
    ok = ib.placeOrder(c, MarketOrder("BUY", 1))
    await until(lambda: ok.isDone())
    assert ok.orderStatus.status == "Filled"


@pytest.mark.parametrize(
    ("order", "code"),
    [
        (MarketOrder("BUY", 0), 434),
        (LimitOrder("BUY", 10, math.nan), 320),  # TWS cannot even read "nan"
        (LimitOrder("BUY", 10, -5.0), 110),
        (Order(action="HOLD", totalQuantity=1, orderType="MKT"), 321),
    ],
)
async def test_impossible_orders_get_ib_errors(
    gw: SimGateway, ib: IB, order: Order, code: int
) -> None:
    c = await qualified(ib, "AAPL")
    errors = []
    ib.errorEvent += lambda req_id, err, msg, con: errors.append(err)
    ib.placeOrder(c, order)
    await until(lambda: code in errors)
    assert not gw.broker.orders and not gw.broker.executions


async def test_unknown_con_id_rejected(gw: SimGateway, ib: IB) -> None:
    errors = []
    ib.errorEvent += lambda req_id, err, msg, con: errors.append(err)
    trade = ib.placeOrder(Contract(conId=987654321, exchange="SMART"), MarketOrder("BUY", 1))
    await until(lambda: trade.isDone())
    assert 200 in errors and not gw.broker.orders


async def test_executions_filter_and_global_cancel(gw: SimGateway, ib: IB) -> None:
    a, m = await qualified(ib, "AAPL"), await qualified(ib, "MSFT")
    for c in (a, m):
        t = ib.placeOrder(c, MarketOrder("BUY", 10))
        await until(lambda t=t: t.isDone())
    fills = await ib.reqExecutionsAsync(ExecutionFilter(symbol="MSFT"))
    assert [f.contract.symbol for f in fills] == ["MSFT"]
    [known] = [f for f in ib.fills() if f.execution.execId == fills[0].execution.execId]
    assert known.commissionReport.commission == pytest.approx(1.0)
    q = gw.market.quote(a.conId, gw.now())
    resting = [ib.placeOrder(a, LimitOrder("BUY", 1, round(q.bid * 0.7, 2))) for _ in range(3)]
    await until(lambda: all(t.orderStatus.status == "Submitted" for t in resting))
    ib.reqGlobalCancel()
    await until(lambda: all(t.orderStatus.status == "Cancelled" for t in resting))


async def test_market_data_streams(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "SPY")
    ticker = ib.reqMktData(c)
    await until(lambda: ticker.bid > 0 and ticker.ask > 0 and ticker.last > 0 and ticker.close > 0)
    assert ticker.bid < ticker.ask and ticker.bidSize > 0 and ticker.volume > 0
    first = (ticker.bid, ticker.ask, ticker.last)
    gw.clock.set_speed(60.0)
    await until(lambda: (ticker.bid, ticker.ask, ticker.last) != first)
    gw.clock.set_speed(0.0)
    q = gw.market.quote(c.conId, gw.now())
    await until(lambda: (ticker.bid, ticker.ask) == (q.bid, q.ask))


async def test_historical_bars(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "AAPL")
    daily = await ib.reqHistoricalDataAsync(c, "", "1 Y", "1 day", "TRADES", True)
    assert 240 <= len(daily) <= 260
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in daily)
    minutes = await ib.reqHistoricalDataAsync(c, "", "1 D", "5 mins", "MIDPOINT", True)
    assert len(minutes) == 12  # one hour into the session
    assert minutes[-1].close == pytest.approx(gw.market.last_price(c.conId, gw.now()))
    live = await ib.reqHistoricalDataAsync(
        c, "", "1800 S", "1 min", "TRADES", True, keepUpToDate=True
    )
    first = live[-1].date
    gw.advance(61)
    minute = gw.now() // 60 * 60
    await until(lambda: live[-1].date.timestamp() == minute)
    assert live[-1].date.timestamp() - first.timestamp() >= 60
    assert live[-1].close == pytest.approx(gw.market.last_price(c.conId, gw.now()))


async def test_account_summary_and_pnl(gw: SimGateway, ib: IB) -> None:
    summary = await ib.accountSummaryAsync()
    tags = {v.tag: float(v.value) for v in summary if v.currency == "USD"}
    assert tags["NetLiquidation"] == pytest.approx(1_000_000)
    c = await qualified(ib, "AAPL")
    trade = ib.placeOrder(c, MarketOrder("BUY", 100))
    await until(lambda: trade.isDone())
    pnl = ib.reqPnL("DU0000001")
    single = ib.reqPnLSingle("DU0000001", "", c.conId)
    await until(lambda: not math.isnan(pnl.dailyPnL) and single.position == 100)
    gw.advance(600)
    await until(
        lambda: single.value == pytest.approx(100 * gw.market.last_price(c.conId, gw.now()))
    )
    assert pnl.unrealizedPnL == pytest.approx(single.unrealizedPnL, abs=0.01)


async def test_message_pacing_error_100(gw: SimGateway, ib: IB) -> None:
    errors = []
    ib.errorEvent += lambda req_id, code, msg, con: errors.append(code)
    ib.client.MaxRequests = 0  # switch off ib_async's own throttle to provoke the gateway
    for _ in range(80):
        ib.client.reqCurrentTime()
    await until(lambda: 100 in errors)
    assert ib.isConnected()


async def test_historical_pacing_error_162(gw: SimGateway, ib: IB, ib_log_guard) -> None:
    c = await qualified(ib, "AAPL")
    errors = []
    ib.errorEvent += lambda req_id, code, msg, con: errors.append(code)
    await ib.reqHistoricalDataAsync(c, "", "1 D", "1 min", "TRADES", True)
    again = await ib.reqHistoricalDataAsync(c, "", "1 D", "1 min", "TRADES", True)
    assert len(again) == 0 and 162 in errors


async def test_duplicate_client_id_refused(gw: SimGateway, ib: IB) -> None:
    other = IB()
    errors = []
    other.errorEvent += lambda req_id, code, msg, con: errors.append(code)
    with pytest.raises((ConnectionError, TimeoutError, asyncio.TimeoutError)):
        await other.connectAsync("127.0.0.1", gw.port, clientId=1, timeout=2)
    assert 326 in errors
    other.disconnect()
    assert ib.isConnected()


async def test_read_only_gateway(market) -> None:
    async with SimGateway(
        port=0, market=market, speed=0, read_only=True, start_time=market.session_open() + 60
    ) as gw:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gw.port, clientId=3)
        errors = []
        ib.errorEvent += lambda req_id, code, msg, con: errors.append(code)
        c = await qualified(ib, "AAPL")
        ib.placeOrder(c, MarketOrder("BUY", 1))
        await until(lambda: 321 in errors)
        assert not gw.broker.orders
        ib.disconnect()


async def test_fault_hooks(gw: SimGateway, ib: IB, ib_log_guard) -> None:
    codes = []
    ib.errorEvent += lambda req_id, code, msg, con: codes.append(code)
    for code in (1100, 1101, 1102, 2103, 2104, 10167):
        gw.faults.send_error(code)
    await until(lambda: codes[-6:] == [1100, 1101, 1102, 2103, 2104, 10167])
    gw.faults.go_silent()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ib.reqCurrentTimeAsync(), 0.3)
    gw.faults.go_silent(False)
    assert await ib.reqCurrentTimeAsync()
    dropped = asyncio.Event()
    ib.disconnectedEvent += dropped.set
    gw.faults.drop_all()
    await asyncio.wait_for(dropped.wait(), 2)
    await gw.faults.restart(downtime=0.05)
    again = IB()
    await again.connectAsync("127.0.0.1", gw.port, clientId=1)
    assert again.isConnected()
    again.disconnect()


async def test_restart_with_state_file(market, tmp_path) -> None:
    state = tmp_path / "sim-state.json"
    start = market.session_open() + 600
    async with SimGateway(port=0, market=market, speed=0, state_file=state, start_time=start) as gw:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gw.port, clientId=1)
        c = await qualified(ib, "AAPL")
        t = ib.placeOrder(c, MarketOrder("BUY", 30))
        await until(lambda: t.isDone())
        q = gw.market.quote(c.conId, gw.now())
        resting = ib.placeOrder(c, LimitOrder("SELL", 10, round(q.ask * 1.5, 2)))
        await until(lambda: resting.orderStatus.status == "Submitted")
        used = resting.order.orderId
        ib.disconnect()
    async with SimGateway(
        port=0, market=market, speed=0, state_file=state, start_time=start
    ) as gw2:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gw2.port, clientId=1)
        assert position_of(ib, c.conId) == 30
        assert [t.order.orderId for t in ib.openTrades()] == [used]
        fills = await ib.reqExecutionsAsync()
        assert [f.execution.shares for f in fills] == [30]
        assert ib.client.getReqId() > used
        ib.disconnect()


async def test_garbage_frames_do_not_hurt_the_gateway(gw: SimGateway, ib: IB) -> None:
    import random
    import struct

    rnd = random.Random(5)
    for _ in range(30):
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        payload = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 200)))
        if rnd.random() < 0.5:
            payload = b"API\0" + struct.pack(">I", 8) + b"v157..178" + payload
        writer.write(payload)
        await writer.drain()
        writer.close()
    assert await ib.reqCurrentTimeAsync()
    c = await qualified(ib, "AAPL")
    trade = ib.placeOrder(c, MarketOrder("BUY", 1))
    await until(lambda: trade.isDone())
    assert trade.orderStatus.status == "Filled"


async def test_stop_limit_and_day_orders_expire_at_the_close_gtc_survive(
    gw: SimGateway, ib: IB
) -> None:
    c = await qualified(ib, "MSFT")
    last = gw.market.last_price(c.conId, gw.now())
    q = gw.market.quote(c.conId, gw.now())
    stop_limit = Order(
        action="BUY",
        totalQuantity=5,
        orderType="STP LMT",
        auxPrice=round(last * 0.9, 2),
        lmtPrice=round(q.ask * 1.01, 2),
    )
    sl = ib.placeOrder(c, stop_limit)  # trigger already passed: trades as a marketable limit
    await until(lambda: sl.isDone())
    assert sl.orderStatus.status == "Filled" and sl.fills[0].execution.price <= stop_limit.lmtPrice
    day = ib.placeOrder(c, LimitOrder("BUY", 1, round(q.bid * 0.96, 2)))
    gtc_order = LimitOrder("BUY", 1, round(q.bid * 0.96, 2), tif="GTC")
    gtc = ib.placeOrder(c, gtc_order)
    await until(
        lambda: day.orderStatus.status == "Submitted" and gtc.orderStatus.status == "Submitted"
    )
    gw.clock.advance(gw.market.session_close() - gw.now() + 1)
    gw.pulse()
    await until(lambda: day.orderStatus.status == "Cancelled")
    assert gtc.orderStatus.status == "Submitted"
    assert [o.order.tif for o in gw.broker.working()] == ["GTC"]


async def test_repeated_pacing_violations_disconnect(gw: SimGateway, ib: IB, ib_log_guard) -> None:
    codes = []
    ib.errorEvent += lambda req_id, code, msg, con: codes.append(code)
    dropped = asyncio.Event()
    ib.disconnectedEvent += dropped.set
    ib.client.MaxRequests = 0
    for _ in range(3):
        for _ in range(60):
            ib.client.reqCurrentTime()
        await asyncio.sleep(1.05)
    await asyncio.wait_for(dropped.wait(), 3)
    assert codes.count(100) >= 2
    assert 1 not in gw.sessions
