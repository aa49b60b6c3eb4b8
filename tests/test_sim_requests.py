"""Parsing of what the real ``ib_async`` client sends, recorded from a fake connection.

The real ``ib_async.client.Client`` (server version 178) serialises each request; the
recorded bytes go through ``FrameDecoder`` and ``parse_request`` and the parsed values
must equal what the client was given. A small in-process responder built from the
message encoders also carries a full ``IB.connectAsync`` start-up without a socket.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import math
import struct
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ib_async import (
    IB,
    Bag,
    ComboLeg,
    Contract,
    LimitOrder,
    MarketOrder,
    Order,
    Stock,
    StopLimitOrder,
    StopOrder,
    TagValue,
)
from ib_async.client import Client
from ib_async.contract import DeltaNeutralContract
from ib_async.objects import ExecutionFilter
from ib_async.order import OrderComboLeg, PriceCondition, TimeCondition, VolumeCondition

from livedesk.backend.sim.protocol import messages as m
from livedesk.backend.sim.protocol import requests as rq
from livedesk.backend.sim.protocol.versions import LATEST
from livedesk.backend.sim.protocol.wire import (
    SERVER_VERSION,
    UNSET_DOUBLE,
    FrameDecoder,
    FrameError,
    encode_frame,
    handshake_reply,
    parse_handshake,
)

ACCOUNT = "DU0000001"
AAPL = Stock("AAPL", "SMART", "USD", conId=265598, primaryExchange="NASDAQ")
CONTRACT_FIELDS = (
    "conId",
    "symbol",
    "secType",
    "lastTradeDateOrContractMonth",
    "strike",
    "right",
    "multiplier",
    "exchange",
    "primaryExchange",
    "currency",
    "localSymbol",
    "tradingClass",
)


class Recorder:
    """Stands in for ib_async's Connection and records every byte written."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.numBytesSent = 0
        self.numMsgSent = 0

    def sendMsg(self, msg: bytes) -> None:  # noqa: N802 - ib_async's name
        self.data += msg
        self.numBytesSent += len(msg)
        self.numMsgSent += 1

    def disconnect(self) -> None:
        pass


@pytest.fixture
def ib() -> Iterator[IB]:
    """An IB whose client believes it is connected to a v178 server (shadows conftest `ib`)."""
    ib = IB()
    client = ib.client
    client.conn = Recorder()
    client.connState = Client.CONNECTED
    client._serverVersion = SERVER_VERSION
    client.decoder.serverVersion = SERVER_VERSION
    client._apiReady = True
    client.MaxRequests = 0
    yield ib
    client.reset()


def sent(ib: IB) -> list[rq.Request]:
    """Parse everything the client has sent so far."""
    frames = FrameDecoder().feed(bytes(ib.client.conn.data))
    ib.client.conn.data.clear()
    return [rq.parse_request(f, proto=LATEST) for f in frames]


def only(ib: IB) -> rq.Request:
    [req] = sent(ib)
    return req


def assert_contract(got: Contract, want: Contract, extra: tuple[str, ...] = ()) -> None:
    for name in CONTRACT_FIELDS + extra:
        assert getattr(got, name) == getattr(want, name), name


# --- placeOrder --------------------------------------------------------------------------

PREFIX_FIELDS = (
    "action",
    "totalQuantity",
    "orderType",
    "lmtPrice",
    "auxPrice",
    "tif",
    "ocaGroup",
    "account",
    "orderRef",
    "transmit",
    "parentId",
    "outsideRth",
    "goodTillDate",
    "goodAfterTime",
    "whatIf",
    "hidden",
    "displaySize",
)


@pytest.mark.parametrize(
    "order",
    [
        MarketOrder("BUY", 100),
        LimitOrder("SELL", 25.5, 191.37, tif="GTC", outsideRth=True, orderRef="strat-a"),
        StopOrder("SELL", 10, 140.0, parentId=7, transmit=False, ocaGroup="oca-1"),
        StopLimitOrder("BUY", 3, 155.5, 155.0, goodTillDate="20240105 16:00:00 US/Eastern"),
    ],
    ids=["MKT", "LMT", "STP", "STP LMT"],
)
def test_place_order_simple_types(ib, order):
    order.account = ACCOUNT
    trade = ib.placeOrder(AAPL, order)
    req = only(ib)
    assert isinstance(req, rq.PlaceOrder)
    assert req.order_id == trade.order.orderId == req.order.orderId
    for name in PREFIX_FIELDS:
        assert getattr(req.order, name) == getattr(order, name), name
    assert_contract(req.contract, AAPL)
    assert req.order.volatility == UNSET_DOUBLE
    assert req.order.orderComboLegs == [] and req.contract.comboLegs == []


def test_place_order_unset_prices_come_back_unset(ib):
    ib.placeOrder(AAPL, MarketOrder("BUY", 1))
    req = only(ib)
    assert req.order.lmtPrice == UNSET_DOUBLE and req.order.auxPrice == UNSET_DOUBLE
    assert req.order.minQty == 2**31 - 1 and req.order.whatIf is False


def test_place_bag_order_with_leg_prices_what_if(ib):
    bag = Bag(
        symbol="SPY",
        exchange="SMART",
        currency="USD",
        comboLegs=[
            ComboLeg(conId=111, ratio=1, action="BUY", exchange="SMART"),
            ComboLeg(conId=222, ratio=2, action="SELL", exchange="CBOE", openClose=1),
        ],
    )
    order = LimitOrder("BUY", 3, 1.25, account=ACCOUNT, whatIf=True)
    order.orderComboLegs = [OrderComboLeg(1.1), OrderComboLeg(UNSET_DOUBLE)]
    order.smartComboRoutingParams = [TagValue("NonGuaranteed", "1")]
    ib.client.placeOrder(40, bag, order)
    req = only(ib)
    assert req.order_id == 40 and req.order.whatIf is True
    assert req.contract.secType == "BAG" and req.contract.comboLegs == bag.comboLegs
    assert [leg.price for leg in req.order.orderComboLegs] == [1.1, UNSET_DOUBLE]
    assert req.order.smartComboRoutingParams == [TagValue("NonGuaranteed", "1")]
    assert req.order.lmtPrice == 1.25 and req.order.totalQuantity == 3


async def test_what_if_order_request(ib):
    fut = ib.whatIfOrderAsync(AAPL, MarketOrder("SELL", 10))
    req = only(ib)
    assert req.order.whatIf is True and req.order.action == "SELL"
    fut.cancel()


# Fields placeOrder never sends (or sends only under branches covered separately).
NOT_SENT = {
    "orderId",
    "clientId",
    "permId",
    "faProfile",
    "basisPoints",
    "basisPointsType",
    "autoCancelDate",
    "filledQuantity",
    "refFuturesConId",
    "shareholder",
    "imbalanceOnly",
    "routeMarketableToBbo",
    "parentPermId",
    "softDollarTier",
    "volatility",
}
PEG_BEST_ONLY = {
    "minCompeteSize",
    "competeAgainstBestOffset",
    "midOffsetAtWhole",
    "midOffsetAtHalf",
}
PEG_BENCH_ONLY = {
    "referenceContractId",
    "isPeggedChangeAmountDecrease",
    "peggedChangeAmount",
    "referenceChangeAmount",
    "referenceExchangeId",
}


def _distinct_order(order_type: str) -> Order:
    """Every field non-default and distinct, every placeOrder branch taken."""
    o = Order()
    n = iter(range(1, 1000))
    for f in dataclasses.fields(Order):
        v = getattr(o, f.name)
        if isinstance(v, bool):
            setattr(o, f.name, not v)
        elif isinstance(v, int):
            setattr(o, f.name, 100 + next(n))
        elif isinstance(v, float):
            setattr(o, f.name, next(n) + 0.25)
        elif isinstance(v, str):
            setattr(o, f.name, f"{f.name}-{next(n)}")
    o.orderType = order_type
    o.scalePriceIncrement = 0.05
    o.competeAgainstBestOffset = math.inf
    o.algoParams = [TagValue("maxPctVol", "0.1"), TagValue("noTakeLiq", "1")]
    o.smartComboRoutingParams = [TagValue("NonGuaranteed", "1")]
    o.orderMiscOptions = [TagValue("a", "1"), TagValue("b", "x=y")]
    o.orderComboLegs = [OrderComboLeg(1.5), OrderComboLeg(-0.5)]
    o.conditions = [
        PriceCondition(1, "o", False, 101.5, 265598, "SMART", 2),
        TimeCondition(3, "a", True, "20240102 10:00:00 US/Eastern"),
        VolumeCondition(6, "a", False, 5000, 265598, "ISLAND"),
    ]
    o.softDollarTier.name, o.softDollarTier.val = "tier", "v1"
    return o


def _distinct_bag(exchange: str) -> Contract:
    return Bag(
        conId=28812380,
        symbol="SPY",
        exchange=exchange,
        primaryExchange="ARCA",
        currency="USD",
        lastTradeDateOrContractMonth="20250117",
        strike=12.5,
        right="C",
        multiplier="100",
        localSymbol="SPY-BAG",
        tradingClass="SPY",
        secIdType="ISIN",
        secId="US78462F1030",
        comboLegs=[
            ComboLeg(11, 1, "BUY", "SMART", 0, 0, "", -1),
            ComboLeg(12, 2, "SELL", "CBOE", 1, 2, "loc", 3),
        ],
        deltaNeutralContract=DeltaNeutralContract(99, 0.5, 101.25),
    )


@pytest.mark.parametrize(
    ("order_type", "exchange", "skip"),
    [
        ("PEG BENCH", "SMART", PEG_BEST_ONLY | {"minTradeQty"}),
        ("PEG BEST", "IBKRATS", PEG_BENCH_ONLY),
        ("PEG MID", "SMART", PEG_BENCH_ONLY | {"minTradeQty", "minCompeteSize"}),
    ],
)
def test_place_order_round_trips_every_field(ib, order_type, exchange, skip):
    order, contract = _distinct_order(order_type), _distinct_bag(exchange)
    if order_type == "PEG MID":
        skip = skip | {"competeAgainstBestOffset"}
    ib.client.placeOrder(77, contract, copy.copy(order))
    req = only(ib)
    assert req.order_id == 77
    for f in dataclasses.fields(Order):
        if f.name in NOT_SENT | skip:
            continue
        a, b = getattr(req.order, f.name), getattr(order, f.name)
        assert a == b or list(a) == list(b), (f.name, a, b)
    assert (req.order.softDollarTier.name, req.order.softDollarTier.val) == ("tier", "v1")
    assert_contract(req.contract, contract, ("secIdType", "secId", "comboLegs"))
    assert req.contract.deltaNeutralContract == contract.deltaNeutralContract


def test_place_volatility_order_keeps_volatility(ib):
    order = Order(orderType="VOL", action="BUY", totalQuantity=1, volatility=0.3, volatilityType=2)
    ib.client.placeOrder(5, AAPL, order)
    req = only(ib)
    assert (req.order.volatility, req.order.volatilityType) == (0.3, 2)


# --- market data, history, other requests -------------------------------------------------


def test_req_mkt_data_plain_and_bag(ib):
    ticker = ib.reqMktData(AAPL, "233,236", False, False, [TagValue("k", "v")])
    bag = Bag(
        symbol="SPY",
        exchange="SMART",
        currency="USD",
        comboLegs=[ComboLeg(conId=1, ratio=1, action="BUY", exchange="SMART")],
        deltaNeutralContract=DeltaNeutralContract(3, 0.4, 99.5),
    )
    ib.client.reqMktData(50, bag, "", True, True, [])
    plain, combo = sent(ib)
    assert plain.req_id == ib.wrapper.ticker2ReqId["mktData"][ticker]
    assert_contract(plain.contract, AAPL)
    assert (plain.generic_ticks, plain.snapshot, plain.regulatory_snapshot) == (
        "233,236",
        False,
        False,
    )
    assert plain.options == (TagValue("k", "v"),)
    assert plain.contract.deltaNeutralContract is None
    assert combo.req_id == 50 and combo.snapshot and combo.regulatory_snapshot
    assert combo.contract.comboLegs == [ComboLeg(conId=1, ratio=1, action="BUY", exchange="SMART")]
    assert combo.contract.deltaNeutralContract == DeltaNeutralContract(3, 0.4, 99.5)


async def test_req_historical_data_keep_up_to_date(ib):
    task = asyncio.ensure_future(
        ib.reqHistoricalDataAsync(
            AAPL, "", "2 D", "5 mins", "TRADES", True, 2, True, [TagValue("opt", "1")]
        )
    )
    await asyncio.sleep(0)
    [bars] = ib.wrapper.reqId2Subscriber.values()
    req = only(ib)
    task.cancel()
    assert isinstance(req, rq.ReqHistoricalData)
    assert req.req_id == bars.reqId
    assert (req.end_date_time, req.duration, req.bar_size, req.what_to_show) == (
        "",
        "2 D",
        "5 mins",
        "TRADES",
    )
    assert (req.use_rth, req.format_date, req.keep_up_to_date) == (True, 2, True)
    assert req.chart_options == (TagValue("opt", "1"),)
    assert_contract(req.contract, AAPL)


def test_req_historical_data_bag_with_end_time(ib):
    bag = Bag(
        symbol="SPY", exchange="SMART", currency="USD", comboLegs=[ComboLeg(1, 1, "BUY", "SMART")]
    )
    ib.client.reqHistoricalData(
        9, bag, "20240102 16:00:00 UTC", "1 M", "1 day", "MIDPOINT", False, 1, False, []
    )
    req = only(ib)
    assert req.contract.comboLegs == [ComboLeg(1, 1, "BUY", "SMART")]
    assert (req.end_date_time, req.bar_size, req.duration) == (
        "20240102 16:00:00 UTC",
        "1 day",
        "1 M",
    )
    assert not req.keep_up_to_date and req.chart_options == ()


def test_req_executions_with_filter(ib):
    f = ExecutionFilter(
        clientId=3,
        acctCode=ACCOUNT,
        time="20240102 09:00:00",
        symbol="AAPL",
        secType="STK",
        exchange="SMART",
        side="BUY",
    )
    ib.client.reqExecutions(12, f)
    req = only(ib)
    assert req == rq.ReqExecutions(12, f)


def test_req_contract_details_carries_lookup_fields(ib):
    c = Contract(
        secType="FUT",
        symbol="ES",
        exchange="CME",
        currency="USD",
        includeExpired=True,
        secIdType="ISIN",
        secId="X1",
        issuerId="I9",
    )
    ib.client.reqContractDetails(4, c)
    req = only(ib)
    assert req.req_id == 4
    assert_contract(req.contract, c, ("includeExpired", "secIdType", "secId", "issuerId"))


def test_req_head_timestamp(ib):
    ib.client.reqHeadTimeStamp(11, AAPL, "TRADES", True, 2)
    req = only(ib)
    assert (req.req_id, req.use_rth, req.what_to_show, req.format_date) == (11, True, "TRADES", 2)
    assert_contract(req.contract, AAPL)


SIMPLE_CASES = [
    (lambda c: c.startApi(), rq.StartApi(-1, "")),
    (lambda c: c.cancelMktData(3), rq.CancelMktData(3)),
    (lambda c: c.cancelOrder(5, "20240102 10:00:00"), rq.CancelOrder(5, "20240102 10:00:00")),
    (lambda c: c.reqOpenOrders(), rq.ReqOpenOrders()),
    (lambda c: c.reqAccountUpdates(True, ACCOUNT), rq.ReqAccountUpdates(True, ACCOUNT)),
    (lambda c: c.reqIds(1), rq.ReqIds(1)),
    (lambda c: c.reqAutoOpenOrders(True), rq.ReqAutoOpenOrders(True)),
    (lambda c: c.reqAllOpenOrders(), rq.ReqAllOpenOrders()),
    (lambda c: c.reqManagedAccts(), rq.ReqManagedAccts()),
    (lambda c: c.cancelHistoricalData(7), rq.CancelHistoricalData(7)),
    (lambda c: c.reqCurrentTime(), rq.ReqCurrentTime()),
    (lambda c: c.reqGlobalCancel(), rq.ReqGlobalCancel()),
    (lambda c: c.reqMarketDataType(3), rq.ReqMarketDataType(3)),
    (lambda c: c.reqPositions(), rq.ReqPositions()),
    (
        lambda c: c.reqAccountSummary(8, "All", "NetLiquidation,BuyingPower,$LEDGER:ALL"),
        rq.ReqAccountSummary(8, "All", ("NetLiquidation", "BuyingPower", "$LEDGER:ALL")),
    ),
    (lambda c: c.cancelAccountSummary(8), rq.CancelAccountSummary(8)),
    (lambda c: c.cancelPositions(), rq.CancelPositions()),
    (lambda c: c.reqPositionsMulti(6, ACCOUNT, "M1"), rq.ReqPositionsMulti(6, ACCOUNT, "M1")),
    (lambda c: c.cancelPositionsMulti(6), rq.CancelPositionsMulti(6)),
    (
        lambda c: c.reqAccountUpdatesMulti(9, ACCOUNT, "", False),
        rq.ReqAccountUpdatesMulti(9, ACCOUNT, "", False),
    ),
    (lambda c: c.cancelAccountUpdatesMulti(9), rq.CancelAccountUpdatesMulti(9)),
    (
        lambda c: c.reqSecDefOptParams(10, "AAPL", "", "STK", 265598),
        rq.ReqSecDefOptParams(10, "AAPL", "", "STK", 265598),
    ),
    (lambda c: c.cancelHeadTimeStamp(11), rq.CancelHeadTimestamp(11)),
    (lambda c: c.reqPnL(12, ACCOUNT, ""), rq.ReqPnL(12, ACCOUNT, "")),
    (lambda c: c.cancelPnL(12), rq.CancelPnL(12)),
    (lambda c: c.reqPnLSingle(13, ACCOUNT, "", 265598), rq.ReqPnLSingle(13, ACCOUNT, "", 265598)),
    (lambda c: c.cancelPnLSingle(13), rq.CancelPnLSingle(13)),
    (lambda c: c.reqCompletedOrders(False), rq.ReqCompletedOrders(False)),
    (lambda c: c.reqUserInfo(14), rq.ReqUserInfo(14)),
]


@pytest.mark.parametrize(
    ("call", "expected"), SIMPLE_CASES, ids=lambda x: getattr(x, "__name__", "")
)
def test_simple_requests(ib, call, expected):
    call(ib.client)
    req = only(ib)
    assert req == expected
    assert req.MSG_ID in rq.SUPPORTED_MSG_IDS


# --- malformed input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "code", "req_id"),
    [
        ([], 505, -1),
        (["abc"], 505, -1),
        (["999"], 505, -1),
        (["60", "5", "1"], 505, -1),  # no request has id 60
        (["10", "5", "1"], 320, 1),  # reqMktDepth cut short after its reqId
        (["2", "2"], 320, -1),
        (["2", "2", "x"], 320, -1),
        (["2", "2", "3", "extra"], 320, 3),
        (["92", "7", "acct"], 320, 7),
        (["94", "7", "acct", "", "nan"], 320, 7),
        (["1", "11", "4", "0", "AAPL", "STK", "", "inf"], 320, 4),
        (["62", "1", "5", "All", "Tags", "x"], 320, 5),
    ],
)
def test_malformed_requests_raise_request_error(fields, code, req_id):
    with pytest.raises(rq.RequestError) as info:
        rq.parse_request(fields, proto=LATEST)
    assert (info.value.code, info.value.req_id) == (code, req_id)


def test_bad_price_in_order_names_order_id(ib):
    ib.client.placeOrder(31, AAPL, LimitOrder("BUY", 1, 10.0))
    [fields] = FrameDecoder().feed(bytes(ib.client.conn.data))
    fields[19] = "nan"  # lmtPrice
    with pytest.raises(rq.RequestError) as info:
        rq.parse_request(fields, proto=LATEST)
    assert (info.value.code, info.value.req_id) == (320, 31)
    assert "lmtPrice" in info.value.msg


def test_empty_numbers_take_defaults():
    req = rq.parse_request(["94", "7", "", "", ""], proto=LATEST)
    assert req == rq.ReqPnLSingle(7, "", "", 0)


# --- handshake and a whole IB.connectAsync start-up ---------------------------------------


@pytest.mark.parametrize(
    ("payload", "want"),
    [(b"v157..178", (157, 178)), (b"v100..178 +PACEAPI", (100, 178)), (b"v176", (176, 176))],
)
def test_parse_handshake(payload, want):
    buf = struct.pack(">I", len(payload)) + payload + b"\x00\x00"
    assert parse_handshake(buf[:3]) is None
    assert parse_handshake(buf[: 4 + len(payload) - 1]) is None
    assert parse_handshake(buf) == (*want, b"\x00\x00")


@pytest.mark.parametrize(
    "buf",
    [
        b"\x00\x00\x00\x00",
        b"\x00\x10\x00\x00",
        b"\x00\x00\x00\x04junk",
        b"\x00\x00\x00\x07v178..1",
        b"\x00\x00\x00\x02\xff\xfe",
    ],
)
def test_parse_handshake_rejects_garbage(buf):
    with pytest.raises(FrameError):
        parse_handshake(buf)


class MiniGateway:
    """Answers the start-up requests with the encoders, through the client's own parser."""

    def __init__(self, ib: IB) -> None:
        self.client = ib.client
        self.buf = b""
        self.frames = FrameDecoder()
        self.handshook = False
        self.requests: list[rq.Request] = []
        conn = ib.client.conn

        async def no_socket(host, port):
            return None

        conn.connectAsync = no_socket
        conn.sendMsg = self.on_bytes

    def reply(self, *msgs: list | bytes) -> None:
        data = b"".join(x if isinstance(x, bytes) else encode_frame(x) for x in msgs)
        asyncio.get_running_loop().call_soon(self.client._onSocketHasData, data)

    def on_bytes(self, data: bytes) -> None:
        if not self.handshook:
            assert data.startswith(b"API\0")
            lo, hi, rest = parse_handshake(data[4:])
            assert lo <= SERVER_VERSION <= hi and rest == b""
            self.handshook = True
            self.reply(handshake_reply(SERVER_VERSION, "20240102 10:00:00 UTC"))
            return
        for fields in self.frames.feed(data):
            req = rq.parse_request(fields, proto=LATEST)
            self.requests.append(req)
            self.reply(*self.answer(req))

    def answer(self, req: rq.Request) -> list[list]:
        match req:
            case rq.StartApi():
                return [
                    m.managed_accounts([ACCOUNT]),
                    m.next_valid_id(1),
                    m.error(-1, 2104, "Market data farm connection is OK:usfarm", proto=LATEST),
                ]
            case rq.ReqPositions():
                return [m.position(ACCOUNT, AAPL, 100, 150.0), m.position_end()]
            case rq.ReqOpenOrders():
                return [m.open_order_end()]
            case rq.ReqCompletedOrders():
                return [m.completed_orders_end()]
            case rq.ReqAccountUpdates(subscribe=True, account=account):
                return [
                    m.account_value("NetLiquidation", "100000", "USD", account),
                    m.portfolio_value(AAPL, 100, 151.0, 15100.0, 150.0, 100.0, 0.0, account),
                    m.account_update_time("10:00"),
                    m.account_download_end(account),
                ]
            case rq.ReqAccountUpdatesMulti(req_id=req_id, account=account):
                return [
                    m.account_update_multi(req_id, account, "", "CashBalance", "5000", "USD"),
                    m.account_update_multi_end(req_id),
                ]
            case rq.ReqExecutions(req_id=req_id):
                return [m.exec_details_end(req_id)]
            case _:
                return []


async def test_ib_connect_async_start_up_is_fully_answered(ib_log_guard):
    ib = IB()
    gw = MiniGateway(ib)
    await asyncio.wait_for(ib.connectAsync("127.0.0.1", 4002, clientId=0, timeout=2), 5)
    ib_log_guard.assert_clean()
    assert ib.client.isReady() and ib.managedAccounts() == [ACCOUNT]
    kinds = [type(r).__name__ for r in gw.requests]
    assert kinds[0] == "StartApi" and kinds[-1] == "ReqExecutions"
    assert set(kinds) == {
        "StartApi",
        "ReqAutoOpenOrders",
        "ReqPositions",
        "ReqOpenOrders",
        "ReqCompletedOrders",
        "ReqAccountUpdates",
        "ReqAccountUpdatesMulti",
        "ReqExecutions",
    }
    assert gw.requests[0] == rq.StartApi(0, "")
    [pos] = ib.positions()
    assert (pos.contract.conId, pos.position) == (265598, 100)
    assert ib.portfolio()[0].marketValue == 15100.0
    ib.disconnect()


# --- fuzzing ---------------------------------------------------------------------------

ids = st.sampled_from(sorted(rq.SUPPORTED_MSG_IDS | {10, 0, -1}))
field_text = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "-1",
            "2",
            "BAG",
            "STK",
            "nan",
            "inf",
            "Infinite",
            "1e999",
            "3.5",
            "x=y;",
            "PEG BEST",
            "IBKRATS",
            "1_0",
            " 1",
        ]
    ),
    st.text(max_size=8),
)


@settings(max_examples=400, deadline=None)
@given(ids, st.lists(field_text, max_size=60))
def test_fuzz_parse_request_only_raises_request_error(msg_id, rest):
    try:
        rq.parse_request([str(msg_id), *rest], proto=LATEST)
    except rq.RequestError:
        pass


def _real_place_order_fields() -> list[str]:
    ib = IB()
    ib.client.conn = Recorder()
    ib.client.connState = Client.CONNECTED
    ib.client._serverVersion = SERVER_VERSION
    ib.client.MaxRequests = 0
    ib.client.placeOrder(77, _distinct_bag("IBKRATS"), _distinct_order("PEG BEST"))
    [fields] = FrameDecoder().feed(bytes(ib.client.conn.data))
    ib.client.reset()
    return fields


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutated_place_order(data):
    fields = _real_place_order_fields()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(1, len(fields) - 1))
        op = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        if op == "delete":
            del fields[i]
        else:
            value = data.draw(field_text)
            fields[i : i + (op == "replace")] = [value]
    try:
        rq.parse_request(fields, proto=LATEST)
    except rq.RequestError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(1, 16))
def test_fuzz_frame_decoder_and_handshake(data, chunk):
    dec = FrameDecoder(max_frame=1 << 16)
    try:
        for i in range(0, len(data), chunk):
            for fields in dec.feed(data[i : i + chunk]):
                assert all(isinstance(f, str) for f in fields)
                try:
                    rq.parse_request(fields, proto=LATEST)
                except rq.RequestError:
                    pass
    except FrameError:
        pass
    try:
        parse_handshake(data)
    except FrameError:
        pass
