"""Order semantics as TWS has them, through unmodified ib_async over a real socket:
transmit groups, brackets, OCA groups, every order type, time in force and algo, what-if.

Expected prices come from the market model's quotes and bars (the price source), computed
here by hand — never from the matching code under test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Order, Stock, StopOrder, TagValue

from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.sim.market.model import MarketModel
from tests.conftest import until

NY = ZoneInfo("America/New_York")
SYMBOL = "AAPL"


async def aapl(ib: IB):
    [c] = await ib.qualifyContractsAsync(Stock(SYMBOL, "SMART", "USD"))
    return c


def executions_of(gw: SimGateway, order_id: int) -> list:
    return [fe for fe in gw.broker.executions if fe.execution.orderId == order_id]


async def settle(ib: IB) -> None:
    """Let every message the gateway sent reach the client (one round trip)."""
    await asyncio.wait_for(ib.reqCurrentTimeAsync(), 5)


def ceil_tick(x: float, tick: float = 0.01) -> float:
    return round(math.ceil(x / tick - 1e-9) * tick, 2)


def floor_tick(x: float, tick: float = 0.01) -> float:
    return round(math.floor(x / tick + 1e-9) * tick, 2)


# ---- brackets, transmit, OCA -------------------------------------------------------------
async def test_bracket_children_wait_for_the_parent_then_one_cancels_the_other(
    gw: SimGateway, ib: IB
) -> None:
    c = await aapl(ib)
    q = gw.market.quote(c.conId, gw.now())
    last = gw.market.last_price(c.conId, gw.now())
    # a resting parent; a take-profit below the bid and a stop above the last: both would
    # trade at once if they were live
    bracket = ib.bracketOrder(
        "BUY", 10, floor_tick(q.bid * 0.9), floor_tick(q.bid * 0.95), ceil_tick(last * 1.05)
    )
    parent, tp, sl = (ib.placeOrder(c, o) for o in bracket)
    await until(lambda: parent.orderStatus.status == "Submitted")
    await until(lambda: {tp.orderStatus.status, sl.orderStatus.status} == {"PreSubmitted"})
    gw.advance(5)
    await settle(ib)
    assert not gw.broker.executions
    assert tp.orderStatus.status == sl.orderStatus.status == "PreSubmitted"
    assert not tp.fills and not sl.fills
    # the parent becomes marketable: it fills, the children go live, the take-profit
    # (marketable) fills and the stop-loss is cancelled with it
    bracket.parent.lmtPrice = ceil_tick(gw.market.quote(c.conId, gw.now()).ask * 1.02)
    bracket.parent.transmit = True
    ib.placeOrder(c, bracket.parent)
    await until(lambda: parent.orderStatus.status == "Filled")
    await until(lambda: tp.orderStatus.status == "Filled")
    await until(lambda: sl.orderStatus.status == "Cancelled")
    assert [fe.execution.side for fe in gw.broker.executions] == ["BOT", "SLD"]
    assert not executions_of(gw, bracket.stopLoss.orderId)
    assert gw.broker.account.position(c.conId) == 0


async def test_cancelling_the_parent_cancels_its_children(gw: SimGateway, ib: IB) -> None:
    c = await aapl(ib)
    q = gw.market.quote(c.conId, gw.now())
    bracket = ib.bracketOrder(
        "BUY", 5, floor_tick(q.bid * 0.9), ceil_tick(q.ask * 1.2), floor_tick(q.bid * 0.8)
    )
    trades = [ib.placeOrder(c, o) for o in bracket]
    await until(lambda: trades[2].orderStatus.status == "PreSubmitted")
    ib.cancelOrder(bracket.parent)
    await until(lambda: all(t.orderStatus.status == "Cancelled" for t in trades))
    assert not gw.broker.working() and not gw.broker.executions


async def test_untransmitted_order_is_held_until_its_group_transmits(
    gw: SimGateway, ib: IB
) -> None:
    c = await aapl(ib)
    q = gw.market.quote(c.conId, gw.now())
    held = LimitOrder("BUY", 3, ceil_tick(q.ask * 1.02), transmit=False)  # marketable
    trade = ib.placeOrder(c, held)
    await until(lambda: trade.orderStatus.status == "PreSubmitted")
    gw.advance(5)
    await settle(ib)
    assert not gw.broker.executions and trade.orderStatus.filled == 0
    so = gw.broker.orders[(1, held.orderId)]
    assert so.held == "transmit" and so.status == "PreSubmitted"
    # a transmitting child of it releases the group: the parent fills, the child goes live
    child = LimitOrder("SELL", 3, ceil_tick(q.ask * 1.3), parentId=held.orderId)
    child_trade = ib.placeOrder(c, child)
    await until(lambda: trade.orderStatus.status == "Filled")
    await until(lambda: child_trade.orderStatus.status == "Submitted")
    assert gw.broker.account.position(c.conId) == 3


async def test_child_of_an_unknown_parent_is_refused(gw: SimGateway, ib: IB) -> None:
    c = await aapl(ib)
    codes = []
    ib.errorEvent += lambda req_id, code, msg, con: codes.append(code)
    ib.placeOrder(c, LimitOrder("SELL", 1, 500.0, parentId=999_999))
    await until(lambda: 135 in codes)
    assert not gw.broker.orders


async def test_oca_type_1_cancels_the_others_on_a_fill(gw: SimGateway, ib: IB) -> None:
    c = await aapl(ib)
    q = gw.market.quote(c.conId, gw.now())
    resting = LimitOrder("BUY", 5, floor_tick(q.bid * 0.9))
    marketable = LimitOrder("BUY", 5, ceil_tick(q.ask * 1.02))
    ib.oneCancelsAll([resting, marketable], "grp-1", 1)
    r = ib.placeOrder(c, resting)
    await until(lambda: r.orderStatus.status == "Submitted")
    m = ib.placeOrder(c, marketable)
    await until(lambda: m.orderStatus.status == "Filled")
    await until(lambda: r.orderStatus.status == "Cancelled")
    assert r.orderStatus.filled == 0 and gw.broker.account.position(c.conId) == 5


@pytest.mark.parametrize("oca_type", [2, 3])
async def test_oca_types_2_and_3_reduce_the_others(gw: SimGateway, ib: IB, oca_type: int) -> None:
    c = await aapl(ib)
    q = gw.market.quote(c.conId, gw.now())
    resting = LimitOrder("BUY", 10, floor_tick(q.bid * 0.9))
    marketable = LimitOrder("BUY", 4, ceil_tick(q.ask * 1.02))
    ib.oneCancelsAll([resting, marketable], f"grp-{oca_type}", oca_type)
    r = ib.placeOrder(c, resting)
    await until(lambda: r.orderStatus.status == "Submitted")
    m = ib.placeOrder(c, marketable)
    await until(lambda: m.orderStatus.status == "Filled")
    await until(lambda: r.orderStatus.remaining == 6)  # 10 - 4
    assert r.orderStatus.status == "Submitted"
    assert gw.broker.orders[(1, resting.orderId)].order.totalQuantity == 6


# ---- order types -------------------------------------------------------------------------
def _typed(kind: str, action: str, q, last: float, qty: int = 4) -> Order:
    """An order of ``kind`` whose trigger / peg is already reached at quote ``q``."""
    o = Order(action=action, totalQuantity=qty, orderType=kind)
    if kind == "TRAIL":
        o.auxPrice = 1.0
        o.trailStopPrice = ceil_tick(last * 1.02)  # a sell stop above the last: hit
    elif kind == "TRAIL LIMIT":
        o.auxPrice = 1.0
        o.trailStopPrice = floor_tick(last * 0.99)  # a buy stop below the last: hit
        o.lmtPriceOffset = round(last * 0.03, 2)  # limit above the ask
    elif kind == "MIT":
        o.auxPrice = ceil_tick(last * 1.01)  # a buy touched from above
    elif kind == "LIT":
        o.auxPrice = ceil_tick(last * 1.01)
        o.lmtPrice = ceil_tick(q.ask * 1.01)
    elif kind == "REL":
        o.auxPrice = round(q.ask - q.bid + 0.05, 2)  # peg bid + offset above the ask
    return o


@pytest.mark.parametrize(
    ("kind", "action"),
    [("TRAIL", "SELL"), ("TRAIL LIMIT", "BUY"), ("MIT", "BUY"), ("LIT", "BUY"), ("REL", "BUY")],
)
async def test_triggered_order_types_fill(gw: SimGateway, ib: IB, kind: str, action: str) -> None:
    c = await aapl(ib)
    q = gw.market.quote(c.conId, gw.now())
    last = gw.market.last_price(c.conId, gw.now())
    order = _typed(kind, action, q, last)
    trade = ib.placeOrder(c, order)
    await until(lambda: trade.orderStatus.status == "Filled")
    price = trade.fills[-1].execution.price
    if action == "BUY":
        assert price >= q.ask  # marketable: the ask plus impact
        if kind == "LIT":
            assert price <= order.lmtPrice
    else:
        assert price <= q.bid


async def test_trailing_stop_ratchets_with_the_last_trade(gw: SimGateway, ib: IB) -> None:
    c = await aapl(ib)
    t0 = gw.now()
    amount = 5.0  # wide: it will not trigger within a minute
    order = Order(action="SELL", totalQuantity=2, orderType="TRAIL", auxPrice=amount)
    trade = ib.placeOrder(c, order)
    await until(lambda: trade.orderStatus.status == "Submitted")
    gw.advance(60)
    await settle(ib)
    lasts = [gw.market.last_price(c.conId, t0 + k) for k in range(0, 61)]
    expected = ceil_tick(max(lasts) - amount)  # a sell stop only moves up
    so = gw.broker.orders[(1, order.orderId)]
    assert so.filled == 0 and not so.triggered
    assert so.order.trailStopPrice == pytest.approx(expected, abs=1e-9)


async def test_pegged_to_midpoint_fills_at_the_mid(gw: SimGateway, ib: IB) -> None:
    c = await aapl(ib)
    order = Order(action="BUY", totalQuantity=3, orderType="PEG MID")
    trade = ib.placeOrder(c, order)
    for _ in range(120):
        if trade.orderStatus.status == "Filled":
            break
        gw.advance(1)
        await settle(ib)
    assert trade.orderStatus.status == "Filled"
    fe = executions_of(gw, order.orderId)[0]
    t = fe.execution.time.timestamp()
    q = gw.market.quote(c.conId, t)
    assert fe.execution.price == pytest.approx((q.bid + q.ask) / 2)
    assert gw.market.last_price(c.conId, t) <= (q.bid + q.ask) / 2  # the last reached it


# ---- time in force -----------------------------------------------------------------------
async def test_ioc_fills_what_it_can_and_cancels_the_rest(gw: SimGateway, ib: IB) -> None:
    c = await aapl(ib)
    q = gw.market.quote(c.conId, gw.now())
    big = MarketOrder("BUY", q.ask_size * 5, tif="IOC")
    trade = ib.placeOrder(c, big)
    await until(lambda: trade.orderStatus.status == "Cancelled")
    assert trade.orderStatus.filled == q.ask_size  # one second's displayed size
    passive = ib.placeOrder(c, LimitOrder("BUY", 1, floor_tick(q.bid * 0.9), tif="IOC"))
    await until(lambda: passive.orderStatus.status == "Cancelled")
    assert passive.orderStatus.filled == 0


async def test_fok_fills_all_or_nothing(gw: SimGateway, ib: IB) -> None:
    c = await aapl(ib)
    q = gw.market.quote(c.conId, gw.now())
    too_big = ib.placeOrder(c, MarketOrder("BUY", q.ask_size * 5, tif="FOK"))
    await until(lambda: too_big.orderStatus.status == "Cancelled")
    assert too_big.orderStatus.filled == 0 and not gw.broker.executions
    small = ib.placeOrder(c, MarketOrder("BUY", 10, tif="FOK"))
    await until(lambda: small.orderStatus.status == "Filled")
    assert small.orderStatus.filled == 10


async def test_gtd_expires_at_its_time_and_a_past_one_is_refused(gw: SimGateway, ib: IB) -> None:
    c = await aapl(ib)
    q = gw.market.quote(c.conId, gw.now())
    until_ = dt.datetime.fromtimestamp(gw.now() + 120, NY)
    order = LimitOrder("BUY", 1, floor_tick(q.bid * 0.9), tif="GTD")
    order.goodTillDate = until_.strftime("%Y%m%d %H:%M:%S US/Eastern")
    trade = ib.placeOrder(c, order)
    await until(lambda: trade.orderStatus.status == "Submitted")
    gw.advance(100)
    await settle(ib)
    assert trade.orderStatus.status == "Submitted"
    gw.advance(25)
    await until(lambda: trade.orderStatus.status == "Cancelled")
    codes = []
    ib.errorEvent += lambda req_id, code, msg, con: codes.append(code)
    past = LimitOrder("BUY", 1, floor_tick(q.bid * 0.9), tif="GTD")
    past.goodTillDate = (until_ - dt.timedelta(hours=2)).strftime("%Y%m%d %H:%M:%S US/Eastern")
    ib.placeOrder(c, past)
    await until(lambda: 201 in codes)
    assert (1, past.orderId) not in gw.broker.orders


@pytest.fixture
async def evening():
    """A gateway of its own (it crosses the close and the next open), 5 minutes before
    the close of Friday 20 November 2026."""
    market = MarketModel(seed=3, session=dt.date(2026, 11, 20), history_sessions=40)
    gateway = SimGateway(
        port=0, market=market, speed=0.0, start_time=market.session_close() - 300,
        tick_interval=0.02, account_interval=0.1,
    )  # fmt: skip
    await gateway.start()
    client = IB()
    await client.connectAsync("127.0.0.1", gateway.port, clientId=1, timeout=5)
    yield gateway, client
    client.disconnect()
    await gateway.stop()


async def test_closing_and_opening_auctions(evening) -> None:
    gw, ib = evening
    c = await aapl(ib)
    m = gw.market
    friday = m.session
    moc = ib.placeOrder(c, Order(action="BUY", totalQuantity=7, orderType="MOC"))
    loc_in = ib.placeOrder(
        c, Order(action="BUY", totalQuantity=2, orderType="LOC", lmtPrice=9999.0)
    )
    loc_out = ib.placeOrder(
        c, Order(action="SELL", totalQuantity=2, orderType="LOC", lmtPrice=9999.0)
    )
    q = m.quote(c.conId, gw.now())
    opg = ib.placeOrder(c, MarketOrder("BUY", 3, tif="OPG"))  # during the session: next open
    loo_out = ib.placeOrder(c, LimitOrder("BUY", 3, floor_tick(q.bid * 0.5), tif="OPG"))
    await until(lambda: moc.orderStatus.status == "Submitted")
    gw.advance(200)
    await settle(ib)
    assert moc.orderStatus.filled == 0  # not before the close
    close_price = float(m.minute_bars(c.conId, friday)[-1]["close"])
    gw.advance(m.session_close() - gw.now() + 1)
    await until(lambda: moc.orderStatus.status == "Filled")
    assert moc.fills[0].execution.price == pytest.approx(close_price)
    assert moc.fills[0].execution.shares == 7  # the whole order in the auction
    await until(lambda: loc_in.orderStatus.status == "Filled")
    await until(lambda: loc_out.orderStatus.status == "Cancelled")  # sell limit above close
    assert opg.orderStatus.status == "PreSubmitted" and not opg.fills
    gw.advance(m.next_session_open() - gw.now() + 1, step=60)
    monday = m.session
    assert monday > friday
    open_price = float(m.minute_bars(c.conId, monday)[0]["open"])
    await until(lambda: opg.orderStatus.status == "Filled")
    assert opg.fills[0].execution.price == pytest.approx(open_price)
    await until(lambda: loo_out.orderStatus.status == "Cancelled")


# ---- algos -------------------------------------------------------------------------------
def _algo(strategy: str, qty: int, **params: str) -> Order:
    return Order(
        action="BUY", totalQuantity=qty, orderType="MKT", algoStrategy=strategy,
        algoParams=[TagValue(k, v) for k, v in params.items()],
    )  # fmt: skip


def _ny(t: float) -> str:
    return dt.datetime.fromtimestamp(t, NY).strftime("%H:%M:%S US/Eastern")


async def test_twap_slices_evenly_over_its_window(gw: SimGateway, ib: IB) -> None:
    c = await aapl(ib)
    t0 = int(gw.now())
    order = _algo("Twap", 100, startTime=_ny(t0), endTime=_ny(t0 + 100))
    trade = ib.placeOrder(c, order)
    await until(lambda: trade.orderStatus.status == "Submitted")
    gw.advance(50)
    await settle(ib)
    assert trade.orderStatus.filled == 50  # 100 x 50/100 of the window
    gw.advance(51)
    await until(lambda: trade.orderStatus.status == "Filled")


async def test_vwap_follows_the_volume_curve(gw: SimGateway, ib: IB) -> None:
    c = await aapl(ib)
    t0 = int(gw.now())
    end = t0 + 600
    order = _algo("Vwap", 1000, startTime=_ny(t0), endTime=_ny(end))
    trade = ib.placeOrder(c, order)
    await until(lambda: trade.orderStatus.status == "Submitted")
    gw.advance(200)
    await settle(ib)
    vol = [gw.market.quote(c.conId, t).volume for t in (t0, t0 + 200, end)]
    expected = math.floor(1000 * (vol[1] - vol[0]) / (vol[2] - vol[0]) + 1e-9)
    assert trade.orderStatus.filled == expected and 0 < expected < 1000


async def test_adaptive_fills_and_an_unknown_algo_is_refused(gw: SimGateway, ib: IB) -> None:
    c = await aapl(ib)
    q = gw.market.quote(c.conId, gw.now())
    trade = ib.placeOrder(c, _algo("Adaptive", 5, adaptivePriority="Patient"))
    await until(lambda: trade.orderStatus.status == "Filled")
    assert q.bid <= trade.fills[0].execution.price <= q.ask
    codes = []
    ib.errorEvent += lambda req_id, code, msg, con: codes.append(code)
    bad = _algo("Sniper", 5)
    ib.placeOrder(c, bad)
    await until(lambda: 201 in codes)
    assert (1, bad.orderId) not in gw.broker.orders


# ---- what-if -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda q, last: MarketOrder("BUY", 10),
        lambda q, last: LimitOrder("BUY", 10, floor_tick(q.bid)),
        lambda q, last: StopOrder("BUY", 10, ceil_tick(last * 1.1)),
        lambda q, last: Order(action="BUY", totalQuantity=10, orderType="STP LMT",
                              auxPrice=ceil_tick(last * 1.1), lmtPrice=ceil_tick(last * 1.11)),
        lambda q, last: _typed("TRAIL", "SELL", q, last, qty=10),
        lambda q, last: _typed("TRAIL LIMIT", "BUY", q, last, qty=10),
        lambda q, last: Order(action="BUY", totalQuantity=10, orderType="MOC"),
        lambda q, last: Order(action="BUY", totalQuantity=10, orderType="LOC", lmtPrice=floor_tick(q.bid)),
        lambda q, last: _typed("MIT", "BUY", q, last, qty=10),
        lambda q, last: _typed("LIT", "BUY", q, last, qty=10),
        lambda q, last: _typed("REL", "BUY", q, last, qty=10),
        lambda q, last: Order(action="BUY", totalQuantity=10, orderType="PEG MID"),
        lambda q, last: MarketOrder("BUY", 10, tif="OPG"),
        lambda q, last: MarketOrder("BUY", 10, tif="IOC"),
        lambda q, last: MarketOrder("BUY", 10, tif="FOK"),
        lambda q, last: MarketOrder("BUY", 10, tif="GTC"),
        lambda q, last: _algo("Vwap", 10),
    ],
)  # fmt: skip
async def test_what_if_for_every_type(gw: SimGateway, ib: IB, make) -> None:
    c = await aapl(ib)
    q = gw.market.quote(c.conId, gw.now())
    last = gw.market.last_price(c.conId, gw.now())
    state = await asyncio.wait_for(ib.whatIfOrderAsync(c, make(q, last)), 5)
    # 10 shares at the mark, Reg-T 50 %: the initial margin grows by half their value
    assert float(state.initMarginChange) == pytest.approx(0.5 * 10 * last, rel=1e-6, abs=0.02)
    assert not gw.broker.orders and not gw.broker.executions


# ---- refusals ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"orderType": "LIT", "auxPrice": 100.001, "lmtPrice": 100.0}, 110),  # off the tick
        ({"orderType": "TRAIL", "trailStopPrice": 100.004, "auxPrice": 1.0}, 110),
        ({"orderType": "TRAIL"}, 201),  # no trailing amount or percent
        ({"orderType": "TRAIL LIMIT", "auxPrice": 1.0}, 201),  # no limit offset
        ({"orderType": "MOC", "tif": "GTC"}, 201),
        ({"orderType": "STP", "auxPrice": 100.0, "tif": "OPG"}, 201),
        ({"orderType": "LMT", "lmtPrice": 100.0, "tif": "GTD", "goodTillDate": "tomorrow"}, 201),
        ({"orderType": "MKT", "tif": "GTX"}, 387),
        ({"orderType": "PEG BENCH"}, 387),
        ({"orderType": "REL", "auxPrice": -0.05}, 201),
        ({"orderType": "LMT", "lmtPrice": 100.0, "algoStrategy": "Twap",
          "algoParams": [TagValue("startTime", "25:99")]}, 201),
    ],
)  # fmt: skip
async def test_bad_orders_are_refused_and_change_nothing(
    gw: SimGateway, ib: IB, fields: dict, code: int
) -> None:
    c = await aapl(ib)
    codes = []
    ib.errorEvent += lambda req_id, err, msg, con: codes.append(err)
    trade = ib.placeOrder(c, Order(action="BUY", totalQuantity=1, **fields))
    await until(lambda: code in codes)
    await until(lambda: trade.isDone())
    assert not gw.broker.orders and not gw.broker.executions


async def test_held_bracket_survives_a_restart_with_state(market, tmp_path) -> None:
    state = tmp_path / "sim-state.sqlite"
    start = market.session_open() + 600
    async with SimGateway(port=0, market=market, speed=0, state_file=state, start_time=start) as gw:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gw.port, clientId=1, timeout=5)
        c = await aapl(ib)
        q = gw.market.quote(c.conId, gw.now())
        bracket = ib.bracketOrder(
            "BUY", 2, floor_tick(q.bid * 0.9), floor_tick(q.bid * 0.95), floor_tick(q.bid * 0.8)
        )
        trades = [ib.placeOrder(c, o) for o in bracket]
        await until(lambda: trades[2].orderStatus.status == "PreSubmitted")
        ib.disconnect()
    async with SimGateway(
        port=0, market=market, speed=0, state_file=state, start_time=start
    ) as gw2:
        held = {so.order_id: so.held for so in gw2.broker.working()}
        assert held == {
            bracket.parent.orderId: "",
            bracket.takeProfit.orderId: "parent",
            bracket.stopLoss.orderId: "parent",
        }
        gw2.advance(3)
        assert not gw2.broker.executions  # the take-profit is marketable but still held


def test_ib_time_formats() -> None:
    from livedesk.backend.sim.broker.order_types import parse_good_till, parse_time

    day = dt.date(2026, 11, 20)
    ten_ny = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC).timestamp()  # EST = UTC-5
    assert parse_time("10:00:00 US/Eastern", day) == ten_ny
    assert parse_time("20261120 10:00:00", day) == ten_ny  # New York without a zone
    assert parse_time("20261120-15:00:00", day) == ten_ny  # IB's dash form is UTC
    assert parse_time("20261120 07:00:00 America/Los_Angeles", day) == ten_ny
    assert (
        parse_good_till("20261231") == dt.datetime(2027, 1, 1, 4, 59, 59, tzinfo=dt.UTC).timestamp()
    )
    for bad in ("25:99", "tomorrow", "10:00 Mars/Olympus", ""):
        assert parse_time(bad, day) is None
