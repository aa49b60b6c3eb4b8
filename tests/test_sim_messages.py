"""Conformance of the simulated gateway's server messages with the real ib_async decoder.

Every encoder's output is framed, unframed and handed to ``ib_async.decoder.Decoder``
(server version 178) wired to the real ``Wrapper`` of a real ``IB``; the tests then read
the ib_async objects (tickers, trades, fills, positions, ...) the way an application would.
``ib_log_guard`` fails a test whose message ib_async dropped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import math
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from ib_async import (
    IB,
    Bag,
    ComboLeg,
    Contract,
    ContractDetails,
    Execution,
    LimitOrder,
    MarketOrder,
    Option,
    Order,
    OrderState,
    Stock,
    TagValue,
)
from ib_async.contract import DeltaNeutralContract
from ib_async.decoder import Decoder
from ib_async.objects import BarData, BarDataList, OptionChain, PnL, PnLSingle
from ib_async.order import OrderComboLeg, PriceCondition, TimeCondition, VolumeCondition

from livedesk.backend.sim.protocol import messages as m
from livedesk.backend.sim.protocol.versions import LATEST
from livedesk.backend.sim.protocol.wire import (
    SERVER_VERSION,
    UNSET_DOUBLE,
    UNSET_INT,
    FrameDecoder,
    FrameError,
    encode_frame,
    fmt,
)

pytestmark = pytest.mark.usefixtures("ib_log_guard")

ACCOUNT = "DU0000001"
AAPL = Stock("AAPL", "SMART", "USD", conId=265598, primaryExchange="NASDAQ", localSymbol="AAPL")


class Env:
    """A real IB whose wrapper is fed by a real Decoder, without a socket."""

    def __init__(self) -> None:
        self.ib = IB()
        self.wrapper = self.ib.wrapper
        self.decoder = Decoder(self.wrapper, SERVER_VERSION)
        self.frames = FrameDecoder()
        self.sent: list[list[str]] = []

    def feed(self, *messages: list) -> None:
        """Frame each message, unframe it and let ib_async interpret it."""
        data = b"".join(encode_frame(msg) for msg in messages)
        self.wrapper.tcpDataArrived()
        for fields in self.frames.feed(data):
            self.sent.append(fields)
            self.decoder.interpret(fields)
        self.wrapper.tcpDataProcessed()

    def spy(self, name: str) -> list[tuple]:
        """Record the arguments of a wrapper method while still running it."""
        calls: list[tuple] = []
        original = getattr(self.wrapper, name)

        def record(*args):
            calls.append(args)
            return original(*args)

        setattr(self.wrapper, name, record)
        return calls

    def ticker(self, req_id: int, contract: Contract = AAPL):
        return self.wrapper.startTicker(req_id, contract, "mktData")


@pytest.fixture
def env() -> Env:
    return Env()


def _wrap_arity(decoder: Decoder, msg_id: int) -> int | None:
    """Number of fields a ``Decoder.wrap`` handler consumes, None for custom handlers."""
    handler = decoder.handlers[msg_id]
    if not getattr(handler, "__closure__", None):
        return None
    names = inspect.getclosurevars(handler).nonlocals
    if "types" not in names:
        return None
    return names["skip"] + len(names["types"])


# --- wire -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "1"),
        (False, "0"),
        (42, "42"),
        (-7, "-7"),
        (100.0, "100"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (1e-7, "1e-07"),
        (1e20, "1e+20"),
        (UNSET_DOUBLE, "1.7976931348623157E308"),
        (UNSET_INT, "2147483647"),
        (math.nan, ""),
        (Decimal("1.25"), "1.25"),
        (np.float64(3.5), "3.5"),
        (np.int64(12), "12"),
        ("text", "text"),
    ],
)
def test_fmt(value, text):
    assert fmt(value) == text


@pytest.mark.parametrize("x", [0.1, 1 / 3, 123456.789, 1e-300, 2.0**60, -99.99])
def test_fmt_float_round_trips(x):
    assert float(fmt(x)) == x


def test_fmt_rejects_unknown_types():
    with pytest.raises(TypeError):
        fmt(object())


def test_frames_round_trip_byte_by_byte():
    msgs = [[1, 2, "a b", ""], ["x"], [], [3.5, None, True]]
    data = b"".join(encode_frame(msg) for msg in msgs)
    dec = FrameDecoder()
    got = []
    for i in range(len(data)):
        got += dec.feed(data[i : i + 1])
    assert got == [["1", "2", "a b", ""], ["x"], [], ["3.5", "", "1"]]
    assert dec.pending == 0


def test_frame_layout_is_length_prefixed_nul_terminated():
    assert encode_frame([15, 1, "DU1"]) == b"\x00\x00\x00\x0915\x001\x00DU1\x00"


def test_frame_decoder_rejects_absurd_lengths():
    with pytest.raises(FrameError):
        FrameDecoder().feed(b"\x7f\xff\xff\xff")


def test_encode_frame_rejects_nul_inside_a_field():
    with pytest.raises(ValueError):
        encode_frame(["a\0b"])


# --- generic field-count check for wrap-based handlers -----------------------------------

WRAPPED_SAMPLES = [
    m.next_valid_id(7),
    m.managed_accounts([ACCOUNT]),
    m.current_time(1_700_000_000),
    m.market_data_type(3, 3),
    m.tick_size(3, 8, 1500.0, proto=LATEST),
    m.tick_string(3, 84, "Q"),
    m.tick_generic(3, 46, 3.0),
    m.tick_req_params(3, 0.01, "9c0001", 3),
    m.tick_snapshot_end(3),
    m.contract_details_end(4),
    m.position_end(),
    m.position_multi_end(5),
    m.account_value("NetLiquidation", "100000", "USD", ACCOUNT),
    m.account_update_time("10:15"),
    m.account_download_end(ACCOUNT),
    m.account_update_multi(6, ACCOUNT, "", "CashBalance", "5000", "USD"),
    m.account_update_multi_end(6),
    m.account_summary(7, ACCOUNT, "NetLiquidation", "100000", "USD"),
    m.account_summary_end(7),
    m.pnl(8, 1.5, 2.5, 3.5),
    m.pnl_single(9, 100, 1.5, 2.5, 3.5, 15000),
    m.open_order_end(),
    m.completed_orders_end(),
    m.order_status(1, "Submitted", 0, 100, 0, 1001, 0, 0, 1),
    m.exec_details_end(10),
    m.head_timestamp(11, "20040102"),
    m.sec_def_opt_params_end(12),
    m.user_info(13, "brand", proto=LATEST),
]


@pytest.mark.parametrize("fields", WRAPPED_SAMPLES, ids=lambda f: str(f[0]))
def test_wrapped_messages_have_exact_field_count(env, fields):
    arity = _wrap_arity(env.decoder, fields[0])
    assert arity is not None, "expected a Decoder.wrap handler"
    assert len(fields) == arity


# --- connection, time, errors ------------------------------------------------------------


def test_managed_accounts_and_next_valid_id(env):
    ids = env.spy("nextValidId")
    env.feed(m.managed_accounts([ACCOUNT, "DU0000002"]), m.next_valid_id(42))
    assert env.wrapper.accounts == [ACCOUNT, "DU0000002"]
    assert ids == [(42,)]


def test_managed_accounts_must_not_be_empty():
    with pytest.raises(ValueError):
        m.managed_accounts([])


async def test_current_time_resolves_request(env):
    fut = env.wrapper.startReq("currentTime")
    env.feed(m.current_time(1_700_000_000))
    assert fut.result() == dt.datetime.fromtimestamp(1_700_000_000, dt.UTC)


async def test_error_fails_pending_request_and_reports(env):
    env.ib.RaiseRequestErrors = True
    errors = []
    env.ib.errorEvent += lambda *args: errors.append(args[:3])
    fut = env.wrapper.startReq(5)
    env.feed(m.error(5, 200, "No security definition has been found", proto=LATEST))
    assert errors == [(5, 200, "No security definition has been found")]
    with pytest.raises(Exception, match="200"):
        fut.result()


def test_error_carries_advanced_reject_json(env):
    calls = env.spy("error")
    env.feed(m.error(-1, 2104, "Market data farm connection is OK:usfarm", '{"a":1}', proto=LATEST))
    assert calls == [(-1, 2104, "Market data farm connection is OK:usfarm", '{"a":1}')]


# --- market data ------------------------------------------------------------------------


def test_tick_price_and_size_update_ticker(env):
    t = env.ticker(3)
    env.feed(
        m.tick_price(3, 1, 189.5, 300, proto=LATEST),
        m.tick_price(3, 2, 189.52, 200, 0, proto=LATEST),
        m.tick_price(3, 4, 189.51, 50, proto=LATEST),
        m.tick_price(3, 9, 187.0, proto=LATEST),
        m.tick_price(3, 6, 190.25, proto=LATEST),
        m.tick_price(3, 7, 186.5, proto=LATEST),
        m.tick_size(3, 8, 1_234_567, proto=LATEST),
        m.tick_size(3, 0, 400, proto=LATEST),
    )
    assert (t.bid, t.bidSize, t.ask, t.askSize) == (189.5, 400, 189.52, 200)
    assert (t.last, t.lastSize, t.close, t.high, t.low) == (189.51, 50, 187.0, 190.25, 186.5)
    assert t.volume == 1_234_567


def test_tick_string_generic_and_params(env):
    t = env.ticker(3)
    env.feed(
        m.tick_string(3, 45, "1700000000"),
        m.tick_string(3, 84, "Q"),
        m.tick_string(3, 48, "189.5;100;1700000000123;5000;189.4;true"),
        m.tick_generic(3, 46, 3.0),
        m.tick_req_params(3, 0.01, "9c0001", 3),
        m.market_data_type(3, 3),
    )
    assert t.lastTimestamp == dt.datetime.fromtimestamp(1_700_000_000, dt.UTC)
    assert t.lastExchange == "Q"
    assert (t.rtVolume, t.vwap, t.last, t.lastSize) == (5000, 189.4, 189.5, 100)
    assert t.shortable == 3.0
    assert (t.minTick, t.bboExchange, t.snapshotPermissions) == (0.01, "9c0001", 3)
    assert t.marketDataType == 3


async def test_tick_snapshot_end_finishes_snapshot(env):
    fut = env.wrapper.startReq(3)
    env.feed(m.tick_snapshot_end(3))
    assert fut.done()


def test_tick_option_computation(env):
    opt = Option("AAPL", "20250117", 190, "C", "SMART", conId=555)
    t = env.ticker(4, opt)
    env.feed(
        m.tick_option_computation(4, 13, 0, 0.25, 0.55, 7.5, 0.1, 0.03, 0.2, -0.05, 189.5),
        m.tick_option_computation(4, 10, 1, None, math.nan, 7.4, None, None, 0.2, -0.05, None),
    )
    g = t.modelGreeks
    assert (g.tickAttrib, g.impliedVol, g.delta, g.optPrice) == (0, 0.25, 0.55, 7.5)
    assert (g.pvDividend, g.gamma, g.vega, g.theta, g.undPrice) == (0.1, 0.03, 0.2, -0.05, 189.5)
    b = t.bidGreeks
    assert (b.tickAttrib, b.impliedVol, b.delta, b.optPrice, b.undPrice) == (
        1,
        None,
        None,
        7.4,
        None,
    )


# --- contract details -------------------------------------------------------------------


def _full_details() -> ContractDetails:
    c = Contract(
        secType="FUT",
        conId=495512563,
        symbol="ES",
        lastTradeDateOrContractMonth="20240315",
        strike=0.0,
        right="",
        multiplier="50",
        exchange="CME",
        primaryExchange="CME",
        currency="USD",
        localSymbol="ESH4",
        tradingClass="ES",
    )
    return ContractDetails(
        contract=c,
        marketName="ES",
        minTick=0.25,
        orderTypes="ACTIVETIM,AD,LMT,MKT,STP",
        validExchanges="CME,QBALGO",
        priceMagnifier=1,
        underConId=11004968,
        longName="E-mini S&P 500 \u2013 Société \\ test",
        contractMonth="202403",
        industry="",
        category="",
        subcategory="",
        timeZoneId="US/Central",
        tradingHours="20240102:1700-20240103:1600;20240106:CLOSED",
        liquidHours="20240103:0830-20240103:1600",
        evRule="",
        evMultiplier=0,
        aggGroup=2147483647,
        underSymbol="ES",
        underSecType="IND",
        marketRuleIds="67,67",
        secIdList=[TagValue("ISIN", "US0000000001"), TagValue("CUSIP", "000000000")],
        realExpirationDate="20240315",
        lastTradeTime="08:30",
        stockType="",
        minSize=1.0,
        sizeIncrement=1.0,
        suggestedSizeIncrement=1.0,
    )


async def test_contract_details_round_trip_every_field(env):
    cd = _full_details()
    fut = env.wrapper.startReq(4)
    env.feed(m.contract_details(4, cd, proto=LATEST), m.contract_details_end(4))
    [got] = fut.result()
    for f in dataclasses.fields(ContractDetails):
        if f.name != "contract":
            assert getattr(got, f.name) == getattr(cd, f.name), f.name
    assert dataclasses.asdict(got.contract) == dataclasses.asdict(cd.contract)


async def test_contract_details_for_plain_stock(env):
    c = Stock("MSFT", "SMART", "USD", conId=272093, primaryExchange="NASDAQ", tradingClass="NMS")
    cd = ContractDetails(contract=c, minTick=0.01, longName="MICROSOFT CORP", stockType="COMMON")
    fut = env.wrapper.startReq(8)
    env.feed(m.contract_details(8, cd, proto=LATEST), m.contract_details_end(8))
    [got] = fut.result()
    assert got.contract.conId == 272093 and got.contract.primaryExchange == "NASDAQ"
    assert (got.longName, got.stockType, got.minTick, got.lastTradeTime) == (
        "MICROSOFT CORP",
        "COMMON",
        0.01,
        "",
    )
    assert got.secIdList == []


# --- positions, account, portfolio, pnl ---------------------------------------------------


async def test_positions(env):
    fut = env.wrapper.startReq("positions")
    opt = Option("SPY", "20250117", 480.5, "P", "", "100", "USD", conId=777, localSymbol="SPY  X")
    env.feed(
        m.position(ACCOUNT, AAPL, 100, 150.25),
        m.position(ACCOUNT, opt, -2, 310.0),
        m.position_end(),
    )
    positions = fut.result()
    assert [(p.account, p.contract.conId, p.position, p.avgCost) for p in positions] == [
        (ACCOUNT, 265598, 100.0, 150.25),
        (ACCOUNT, 777, -2.0, 310.0),
    ]
    o = positions[1].contract
    assert (o.secType, o.strike, o.right, o.multiplier, o.localSymbol) == (
        "OPT",
        480.5,
        "P",
        "100",
        "SPY  X",
    )
    assert {p.contract.conId for p in env.ib.positions(ACCOUNT)} == {265598, 777}


def test_position_multi(env):
    calls = env.spy("positionMulti")
    env.feed(m.position_multi(5, ACCOUNT, "MODEL1", AAPL, 10, 101.5), m.position_multi_end(5))
    [(req_id, account, model, contract, pos, cost)] = calls
    assert (req_id, account, model, contract.conId, pos, cost) == (
        5,
        ACCOUNT,
        "MODEL1",
        265598,
        10.0,
        101.5,
    )
    assert contract.symbol == "AAPL" and contract.exchange == "SMART"


async def test_account_updates_portfolio_and_download_end(env):
    fut = env.wrapper.startReq("accountValues")
    env.feed(
        m.account_value("NetLiquidation", "100123.45", "USD", ACCOUNT),
        m.account_value("AccountType", "INDIVIDUAL", "", ACCOUNT),
        m.portfolio_value(AAPL, 100, 151.0, 15100.0, 150.25, 75.0, 12.5, ACCOUNT),
        m.account_update_time("10:15"),
        m.account_download_end(ACCOUNT),
    )
    assert fut.done()
    values = {(v.tag, v.currency): v.value for v in env.ib.accountValues(ACCOUNT)}
    assert values == {("NetLiquidation", "USD"): "100123.45", ("AccountType", ""): "INDIVIDUAL"}
    [item] = env.ib.portfolio(ACCOUNT)
    assert item.contract.conId == 265598 and item.contract.primaryExchange == "NASDAQ"
    assert (item.position, item.marketPrice, item.marketValue, item.averageCost) == (
        100.0,
        151.0,
        15100.0,
        150.25,
    )
    assert (item.unrealizedPNL, item.realizedPNL, item.account) == (75.0, 12.5, ACCOUNT)


def test_portfolio_value_rejects_nan():
    with pytest.raises(ValueError, match="unrealized_pnl"):
        m.portfolio_value(AAPL, 1, 1.0, 1.0, 1.0, math.nan, 0.0, ACCOUNT)


async def test_account_update_multi(env):
    fut = env.wrapper.startReq(6)
    env.feed(
        m.account_update_multi(6, ACCOUNT, "", "CashBalance", "5000", "USD"),
        m.account_update_multi_end(6),
    )
    assert fut.done()
    [v] = env.ib.accountValues(ACCOUNT)
    assert (v.account, v.tag, v.value, v.currency, v.modelCode) == (
        ACCOUNT,
        "CashBalance",
        "5000",
        "USD",
        "",
    )


async def test_account_summary(env):
    fut = env.wrapper.startReq(7)
    env.feed(
        m.account_summary(7, ACCOUNT, "BuyingPower", "400000", "USD"),
        m.account_summary_end(7),
    )
    assert fut.done()
    [v] = env.wrapper.acctSummary.values()
    assert (v.account, v.tag, v.value, v.currency) == (ACCOUNT, "BuyingPower", "400000", "USD")


def test_pnl_and_pnl_single(env):
    env.wrapper.reqId2PnL[8] = pnl = PnL(ACCOUNT, "")
    env.wrapper.reqId2PnlSingle[9] = single = PnLSingle(ACCOUNT, "", 265598)
    env.feed(m.pnl(8, -12.5, 300.25, 44.0), m.pnl_single(9, 100, 5.5, 75.0, 0.0, 15100.0))
    assert (pnl.dailyPnL, pnl.unrealizedPnL, pnl.realizedPnL) == (-12.5, 300.25, 44.0)
    assert (single.position, single.dailyPnL, single.unrealizedPnL) == (100, 5.5, 75.0)
    assert (single.realizedPnL, single.value) == (0.0, 15100.0)


# --- orders -----------------------------------------------------------------------------


def _order(order: Order, order_id: int, perm_id: int, client_id: int = 1) -> Order:
    order.orderId, order.permId, order.clientId = order_id, perm_id, client_id
    order.account = ACCOUNT
    return order


def test_fill_sequence_yields_trade_with_fill_and_commission(env):
    order = _order(MarketOrder("BUY", 100), 1, 1001)
    order.orderRef = "strat-a"
    filled_events, commission_events = [], []
    env.feed(m.open_order(AAPL, order, OrderState(status="Submitted"), proto=LATEST))
    [trade] = env.ib.trades()
    trade.filledEvent += filled_events.append
    trade.commissionReportEvent += lambda t, f, r: commission_events.append(r)
    assert (trade.order.orderId, trade.order.permId, trade.order.orderRef) == (1, 1001, "strat-a")
    assert trade.contract.conId == 265598

    env.feed(m.order_status(1, "Submitted", 0, 100, 0, 1001, 0, 0, 1))
    assert trade.orderStatus.status == "Submitted" and trade.orderStatus.remaining == 100

    when = dt.datetime(2024, 1, 2, 10, 0, 1, tzinfo=ZoneInfo("US/Eastern"))
    execution = Execution(
        execId="0000e0d5.6571c2a1.01.01",
        time=when,
        acctNumber=ACCOUNT,
        exchange="ISLAND",
        side="BOT",
        shares=100,
        price=150.25,
        permId=1001,
        clientId=1,
        orderId=1,
        cumQty=100,
        avgPrice=150.25,
        orderRef="strat-a",
        lastLiquidity=2,
    )
    env.feed(
        m.exec_details(-1, AAPL, execution, proto=LATEST),
        m.open_order(AAPL, order, OrderState(status="Filled"), proto=LATEST),
        m.order_status(1, "Filled", 100, 0, 150.25, 1001, 0, 150.25, 1),
        m.commission_report(execution.execId, 1.0, "USD", None),
    )
    assert trade.orderStatus.status == "Filled"
    assert (trade.orderStatus.filled, trade.orderStatus.avgFillPrice) == (100, 150.25)
    assert filled_events == [trade]
    [fill] = trade.fills
    ex = fill.execution
    assert (ex.execId, ex.side, ex.shares, ex.price, ex.permId, ex.clientId, ex.orderId) == (
        execution.execId,
        "BOT",
        100,
        150.25,
        1001,
        1,
        1,
    )
    assert (ex.acctNumber, ex.exchange, ex.cumQty, ex.avgPrice, ex.orderRef) == (
        ACCOUNT,
        "ISLAND",
        100,
        150.25,
        "strat-a",
    )
    assert ex.lastLiquidity == 2 and ex.pendingPriceRevision is False
    assert ex.time == when
    report = fill.commissionReport
    assert (report.execId, report.commission, report.currency) == (execution.execId, 1.0, "USD")
    assert (report.realizedPNL, report.yield_) == (0.0, 0.0)
    assert commission_events == [report]
    assert env.ib.fills() == [fill]


def test_commission_report_with_realized_pnl(env):
    calls = env.spy("commissionReport")
    env.feed(m.commission_report("x1", 0.35, "USD", 42.5, 0.0, 20240102))
    [(r,)] = calls
    assert (r.execId, r.commission, r.currency, r.realizedPNL, r.yieldRedemptionDate) == (
        "x1",
        0.35,
        "USD",
        42.5,
        20240102,
    )


@pytest.mark.parametrize(
    "order",
    [
        LimitOrder("SELL", 25, 191.5, tif="GTC", outsideRth=True),
        Order(orderType="STP", action="SELL", totalQuantity=10, auxPrice=140.0, parentId=3),
        Order(
            orderType="STP LMT",
            action="BUY",
            totalQuantity=Decimal("7"),
            lmtPrice=Decimal("155.5"),
            auxPrice=155.0,
            ocaGroup="oca1",
            ocaType=1,
            goodTillDate="20240105 16:00:00 US/Eastern",
        ),
    ],
    ids=["LMT", "STP", "STP LMT"],
)
def test_open_order_common_types(env, order):
    order = _order(order, 12, 2012, client_id=3)
    env.feed(m.open_order(AAPL, order, OrderState(status="PreSubmitted"), proto=LATEST))
    [trade] = env.ib.trades()
    got = trade.order
    for name in ("orderType", "action", "tif", "outsideRth", "parentId", "ocaGroup", "ocaType"):
        assert getattr(got, name) == getattr(order, name), name
    assert got.goodTillDate == order.goodTillDate
    assert got.totalQuantity == float(order.totalQuantity)
    assert got.lmtPrice == float(order.lmtPrice) and got.auxPrice == float(order.auxPrice)
    assert (got.orderId, got.clientId, got.permId) == (12, 3, 2012)
    assert trade.orderStatus.status == "PreSubmitted"


def _bag() -> tuple[Contract, Order]:
    bag = Bag(
        symbol="SPY",
        exchange="SMART",
        currency="USD",
        comboLegsDescrip="111|1,222|-1",
        comboLegs=[
            ComboLeg(conId=111, ratio=1, action="BUY", exchange="SMART"),
            ComboLeg(conId=222, ratio=2, action="SELL", exchange="CBOE", openClose=1),
        ],
    )
    order = _order(LimitOrder("BUY", 3, 1.25), 21, 3021)
    order.orderComboLegs = [OrderComboLeg(1.1), OrderComboLeg(UNSET_DOUBLE)]
    order.smartComboRoutingParams = [TagValue("NonGuaranteed", "1")]
    return bag, order


def test_bag_open_order_with_legs_and_leg_prices(env):
    bag, order = _bag()
    env.feed(m.open_order(bag, order, OrderState(status="Submitted"), proto=LATEST))
    [trade] = env.ib.trades()
    assert trade.contract.secType == "BAG" and trade.contract.comboLegsDescrip == "111|1,222|-1"
    assert trade.contract.comboLegs == bag.comboLegs
    assert [leg.price for leg in trade.order.orderComboLegs] == [1.1, UNSET_DOUBLE]
    assert trade.order.smartComboRoutingParams == [TagValue("NonGuaranteed", "1")]
    assert trade.order.lmtPrice == 1.25


async def test_open_orders_request_and_end(env):
    fut = env.wrapper.startReq("openOrders")
    bag, order = _bag()
    stock_order = _order(MarketOrder("SELL", 5), 22, 3022)
    env.feed(
        m.open_order(bag, order, OrderState(status="Submitted"), proto=LATEST),
        m.open_order(AAPL, stock_order, OrderState(status="PreSubmitted"), proto=LATEST),
        m.open_order_end(),
    )
    trades = fut.result()
    assert [(t.order.orderId, t.orderStatus.status) for t in trades] == [
        (21, "Submitted"),
        (22, "PreSubmitted"),
    ]


async def test_what_if_open_order_resolves_margin_request(env):
    order = _order(MarketOrder("BUY", 100), 30, 0)
    order.whatIf = True
    fut = env.wrapper.startReq(30)
    state = OrderState(
        status="PreSubmitted",
        initMarginChange="3750.0",
        maintMarginChange="3400.0",
        equityWithLoanChange="-1.0",
        initMarginAfter="3750.0",
        commission=1.0,
        minCommission=1.0,
        maxCommission=1.5,
        commissionCurrency="USD",
    )
    env.feed(m.open_order(AAPL, order, state, proto=LATEST))
    got = fut.result()
    assert (got.initMarginChange, got.maintMarginChange, got.initMarginAfter) == (
        "3750.0",
        "3400.0",
        "3750.0",
    )
    assert got.initMarginBefore == "1.7976931348623157E308"
    assert (got.commission, got.minCommission, got.maxCommission) == (1.0, 1.0, 1.5)
    assert env.ib.trades() == []


# Order fields that openOrder / completedOrder do not carry.
NOT_IN_OPEN_ORDER = {
    "transmit",
    "activeStartTime",
    "activeStopTime",
    "overridePercentageConstraints",
    "scaleTable",
    "algoId",
    "orderMiscOptions",
    "extOperator",
    "mifid2DecisionMaker",
    "mifid2DecisionAlgo",
    "mifid2ExecutionTrader",
    "mifid2ExecutionAlgo",
    "autoCancelDate",
    "filledQuantity",
    "refFuturesConId",
    "shareholder",
    "imbalanceOnly",
    "routeMarketableToBbo",
    "parentPermId",
    "advancedErrorOverride",
    "manualOrderTime",
    "faProfile",
}
NOT_IN_COMPLETED_ORDER = {
    "orderId",
    "clientId",
    "transmit",
    "activeStartTime",
    "activeStopTime",
    "blockOrder",
    "auctionStrategy",
    "eTradeOnly",
    "firmQuoteOnly",
    "nbboPriceCap",
    "parentId",
    "deltaNeutralSettlingFirm",
    "deltaNeutralClearingAccount",
    "deltaNeutralClearingIntent",
    "deltaNeutralOpenClose",
    "basisPoints",
    "basisPointsType",
    "optOutSmartRouting",
    "whatIf",
    "overridePercentageConstraints",
    "scaleTable",
    "algoId",
    "orderMiscOptions",
    "adjustedOrderType",
    "triggerPrice",
    "adjustedStopPrice",
    "adjustedStopLimitPrice",
    "adjustedTrailingAmount",
    "adjustableTrailingUnit",
    "softDollarTier",
    "extOperator",
    "mifid2DecisionMaker",
    "mifid2DecisionAlgo",
    "mifid2ExecutionTrader",
    "mifid2ExecutionAlgo",
    "discretionaryUpToLimitPrice",
    "usePriceMgmtAlgo",
    "duration",
    "postToAts",
    "advancedErrorOverride",
    "manualOrderTime",
    "faProfile",
}


def _distinct_order() -> Order:
    """An order with a distinct non-default value in every field, all branches taken."""
    o = Order()
    text_values = iter(range(1, 1000))
    for f in dataclasses.fields(Order):
        v = getattr(o, f.name)
        if isinstance(v, bool):
            setattr(o, f.name, not v)
        elif isinstance(v, int):
            setattr(o, f.name, 100 + next(text_values))
        elif isinstance(v, float):
            setattr(o, f.name, next(text_values) + 0.25)
        elif isinstance(v, str):
            setattr(o, f.name, f"{f.name}-{next(text_values)}")
    o.orderType = "PEG BENCH"
    o.openClose = "C"
    o.scalePriceIncrement = 0.05
    o.algoParams = [TagValue("maxPctVol", "0.1"), TagValue("noTakeLiq", "1")]
    o.smartComboRoutingParams = [TagValue("NonGuaranteed", "1")]
    o.orderComboLegs = [OrderComboLeg(1.5), OrderComboLeg(-0.5)]
    o.conditions = [
        PriceCondition(1, "o", False, 101.5, 265598, "SMART", 2),
        TimeCondition(3, "a", True, "20240102 10:00:00 US/Eastern"),
        VolumeCondition(6, "a", False, 5000, 265598, "ISLAND"),
    ]
    o.softDollarTier.name, o.softDollarTier.val = "tier", "v1"
    o.softDollarTier.displayName = "Tier One"
    return o


def _distinct_contract() -> Contract:
    return Bag(
        conId=28812380,
        symbol="SPY",
        exchange="SMART",
        currency="USD",
        lastTradeDateOrContractMonth="20250117",
        strike=12.5,
        right="C",
        multiplier="100",
        localSymbol="SPY-BAG",
        tradingClass="SPY",
        comboLegsDescrip="legs",
        comboLegs=[
            ComboLeg(11, 1, "BUY", "SMART", 0, 0, "", -1),
            ComboLeg(12, 2, "SELL", "CBOE", 1, 2, "loc", 3),
        ],
        deltaNeutralContract=DeltaNeutralContract(99, 0.5, 101.25),
    )


def _assert_order_fields(got: Order, sent: Order, skip: set[str]) -> None:
    for f in dataclasses.fields(Order):
        if f.name in skip:
            continue
        a, b = getattr(got, f.name), getattr(sent, f.name)
        assert a == b or (isinstance(b, list) and list(a) == list(b)), (f.name, a, b)


def _assert_contract_fields(got: Contract, sent: Contract) -> None:
    for name in (
        "conId",
        "symbol",
        "secType",
        "lastTradeDateOrContractMonth",
        "strike",
        "right",
        "multiplier",
        "exchange",
        "currency",
        "localSymbol",
        "tradingClass",
        "comboLegsDescrip",
        "comboLegs",
        "deltaNeutralContract",
    ):
        assert getattr(got, name) == getattr(sent, name), name


def test_open_order_round_trips_every_field(env):
    calls = env.spy("openOrder")
    order, contract = _distinct_order(), _distinct_contract()
    order.whatIf = False
    state = OrderState(
        status="Submitted",
        initMarginBefore="1",
        maintMarginBefore="2",
        equityWithLoanBefore="3",
        initMarginChange="4",
        maintMarginChange="5",
        equityWithLoanChange="6",
        initMarginAfter="7",
        maintMarginAfter="8",
        equityWithLoanAfter="9",
        commission=1.5,
        minCommission=1.0,
        maxCommission=2.0,
        commissionCurrency="USD",
        warningText="careful",
    )
    env.feed(m.open_order(contract, order, state, proto=LATEST))
    [(order_id, got_contract, got, got_state)] = calls
    assert order_id == order.orderId
    _assert_order_fields(got, order, NOT_IN_OPEN_ORDER)
    _assert_contract_fields(got_contract, contract)
    for f in dataclasses.fields(OrderState):
        if f.name not in {"completedTime", "completedStatus"}:
            assert getattr(got_state, f.name) == getattr(state, f.name), f.name


async def test_completed_order_round_trips_every_field(env):
    fut = env.wrapper.startReq("completedOrders")
    order, contract = _distinct_order(), _distinct_contract()
    state = OrderState(status="Filled", completedTime="20240102 10:00:02", completedStatus="Done")
    env.feed(m.completed_order(contract, order, state, proto=LATEST), m.completed_orders_end())
    [trade] = fut.result()
    _assert_order_fields(trade.order, order, NOT_IN_COMPLETED_ORDER)
    _assert_contract_fields(trade.contract, contract)
    assert trade.orderStatus.status == "Filled"
    assert env.wrapper.permId2Trade[order.permId] is trade


async def test_completed_plain_order(env):
    fut = env.wrapper.startReq("completedOrders")
    order = _order(LimitOrder("SELL", 10, 200.0), 0, 4040)
    env.feed(
        m.completed_order(
            AAPL, order, OrderState(status="Cancelled", completedStatus="x"), proto=LATEST
        ),
        m.completed_orders_end(),
    )
    [trade] = fut.result()
    assert (trade.order.permId, trade.order.lmtPrice, trade.orderStatus.status) == (
        4040,
        200.0,
        "Cancelled",
    )


async def test_exec_details_answer_reqexecutions(env):
    fut = env.wrapper.startReq(10)
    ex = Execution(
        execId="e1",
        time=dt.datetime(2024, 1, 2, 15, 0, 0, tzinfo=dt.UTC),
        acctNumber=ACCOUNT,
        exchange="ARCA",
        side="SLD",
        shares=5,
        price=99.5,
        permId=77,
        clientId=2,
        orderId=9,
        liquidation=0,
        cumQty=5,
        avgPrice=99.5,
        evRule="r",
        evMultiplier=1.5,
        modelCode="M",
        pendingPriceRevision=True,
    )
    naive = dataclasses.replace(ex, execId="e2", time=dt.datetime(2024, 1, 2, 15, 0, 0))
    env.feed(
        m.exec_details(10, AAPL, ex, proto=LATEST),
        m.exec_details(10, AAPL, naive, proto=LATEST),
        m.exec_details_end(10),
    )
    fills = fut.result()
    assert [f.execution.execId for f in fills] == ["e1", "e2"]
    got = fills[0].execution
    for name in ("side", "shares", "price", "permId", "clientId", "orderId", "evRule"):
        assert getattr(got, name) == getattr(ex, name), name
    assert (got.evMultiplier, got.modelCode, got.pendingPriceRevision) == (1.5, "M", True)
    assert got.time == ex.time and fills[1].execution.time == ex.time
    assert fills[0].time == ex.time


# --- historical data ---------------------------------------------------------------------


async def test_historical_data_daily_and_intraday(env):
    daily = [("20240102", 187.15, 188.44, 183.89, 185.64, 82488700, 185.9, 1009074)]
    intraday = [
        ("20240102 09:30:00", 187.15, 187.5, 186.9, 187.2, 1200, 187.1, 50),
        ("20240102 09:35:00", 187.2, 187.9, 187.0, 187.8, 900, 187.5, 40),
    ]
    fut_d = env.wrapper.startReq(11)
    fut_i = env.wrapper.startReq(12)
    env.feed(
        m.historical_data(11, "20231201", "20240103", daily, proto=LATEST),
        m.historical_data(12, "20240102 09:30:00", "20240102 09:40:00", intraday, proto=LATEST),
    )
    [bar] = fut_d.result()
    assert bar == BarData(
        dt.date(2024, 1, 2), 187.15, 188.44, 183.89, 185.64, 82488700, 185.9, 1009074
    )
    bars = fut_i.result()
    assert [b.date for b in bars] == [
        dt.datetime(2024, 1, 2, 9, 30),
        dt.datetime(2024, 1, 2, 9, 35),
    ]
    assert [(b.open, b.high, b.low, b.close, b.volume, b.average, b.barCount) for b in bars] == [
        t[1:] for t in intraday
    ]


async def test_historical_data_empty_and_nan(env):
    fut = env.wrapper.startReq(13)
    env.feed(m.historical_data(13, "a", "b", [], proto=LATEST))
    assert fut.result() == []
    with pytest.raises(ValueError, match="close"):
        m.historical_data(13, "", "", [("20240102", 1, 1, 1, math.nan, 1, 1, 1)], proto=LATEST)


def test_historical_data_update_keeps_bars_current(env):
    bars = BarDataList([BarData(dt.datetime(2024, 1, 2, 9, 30), 1, 2, 0.5, 1.5, 100, 1.2, 10)])
    bars.reqId = 14
    env.wrapper.startSubscription(14, bars, AAPL)
    updates = []
    bars.updateEvent += lambda b, new: updates.append(new)
    env.feed(
        m.historical_data_update(
            14, 12, ("20240102 09:30:00", 1, 2.5, 0.5, 2.0, 150, 1.4, 12), proto=LATEST
        ),
        m.historical_data_update(
            14, 3, ("20240102 09:35:00", 2.0, 2.2, 1.9, 2.1, 30, 2.05, 3), proto=LATEST
        ),
    )
    assert updates == [False, True]
    assert bars[0] == BarData(dt.datetime(2024, 1, 2, 9, 30), 1, 2.5, 0.5, 2.0, 150, 1.4, 12)
    assert bars[1] == BarData(dt.datetime(2024, 1, 2, 9, 35), 2.0, 2.2, 1.9, 2.1, 30, 2.05, 3)


async def test_head_timestamp(env):
    fut = env.wrapper.startReq(15)
    env.feed(m.head_timestamp(15, "19801212 14:30:00"))
    assert fut.result() == dt.datetime(1980, 12, 12, 14, 30)


# --- option chains -----------------------------------------------------------------------


async def test_sec_def_opt_params(env):
    fut = env.wrapper.startReq(16)
    exps = ["20240119", "20240216"]
    strikes = [180.0, 182.5, 185.0]
    env.feed(
        m.sec_def_opt_params(16, "SMART", 265598, "AAPL", "100", exps, strikes),
        m.sec_def_opt_params(16, "CBOE", 265598, "AAPL", "100", [], []),
        m.sec_def_opt_params_end(16),
    )
    chains = fut.result()
    assert chains[0] == OptionChain("SMART", "265598", "AAPL", "100", exps, strikes)
    assert (chains[1].exchange, chains[1].expirations, chains[1].strikes) == ("CBOE", [], [])


async def test_user_info_resolves_request(env):
    calls = env.spy("userInfo")
    fut = env.wrapper.startReq(13)
    env.feed(m.user_info(13, "brand", proto=LATEST))
    assert fut.done() and calls == [(13, "brand")]


def test_ib_log_guard_catches_dropped_message(ib_log_guard, env):
    env.decoder.interpret(["59", "1", "e", "1.0"])  # truncated commissionReport
    assert any("Error handling fields" in f for f in ib_log_guard.failures)
    ib_log_guard.clear()
