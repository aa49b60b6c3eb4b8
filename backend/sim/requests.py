"""Parsing of client -> server requests as ``ib_async.client.Client`` 2.1.0 sends them.

``parse_request(fields)`` turns one decoded frame into a typed, frozen request object, or
raises ``RequestError`` carrying the IB error to answer with. Layouts follow ``client.py``
at server version 178, including every version- and value-dependent branch of
``placeOrder``, so the whole order (not only its prefix) is recovered.

Empty numeric fields take the ib_async default (the client sends unset values as "");
anything else that is not a finite number raises ``RequestError`` (code 320).

Note for answering: ib_async treats codes 105, 110, 165, 321, 329, 399, 404, 434, 492,
10167 and 2100-2199 as warnings that do *not* end a pending request; use another code
(e.g. 320, 200, 162) to make a request fail fast.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from ib_async import ComboLeg, Contract, Order
from ib_async.contract import DeltaNeutralContract, TagValue
from ib_async.objects import ExecutionFilter
from ib_async.order import OrderComboLeg, OrderCondition

from livedesk.backend.sim.wire import UNSET_DOUBLE, UNSET_INT

READ_ERROR = 320
UNKNOWN_ID = 505

_INT_RE = re.compile(r"[+-]?\d{1,30}", re.ASCII)
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
"""TWS reads integer fields as signed 32-bit; anything outside is refused (320)."""
_FLOAT_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)


class RequestError(Exception):
    """A request that cannot be served; answer with ``error(req_id, code, msg)``."""

    def __init__(self, code: int, msg: str, req_id: int = -1) -> None:
        super().__init__(f"{code}: {msg} (reqId {req_id})")
        self.code = code
        self.msg = msg
        self.req_id = req_id


class _Cursor:
    """Reads typed fields in order; the first id read becomes the error's reqId."""

    def __init__(self, fields: list[str], start: int) -> None:
        self._f = fields
        self._i = start
        self.req_id = -1

    def fail(self, what: str) -> RequestError:
        return RequestError(READ_ERROR, f"Error reading request: {what}", self.req_id)

    def text(self, name: str) -> str:
        if self._i >= len(self._f):
            raise self.fail(f"missing field {name}")
        v = self._f[self._i]
        self._i += 1
        return v

    def integer(self, name: str, default: int = 0, bounded: bool = True) -> int:
        v = self.text(name)
        if v == "":
            return default
        if _INT_RE.fullmatch(v):
            n = int(v)
        elif _FLOAT_RE.fullmatch(v) and float(v).is_integer():
            n = int(float(v))
        else:
            raise self.fail(f"{name}={v!r} is not an integer")
        if bounded and not INT_MIN <= n <= INT_MAX:
            raise self.fail(f"{name}={v} is outside the 32-bit integer range")
        return n

    def number(self, name: str, default: float = 0.0) -> float:
        v = self.text(name)
        if v == "":
            return default
        if v == "Infinite":
            return math.inf
        if _FLOAT_RE.fullmatch(v):
            x = float(v)
            if math.isfinite(x):
                return x
        raise self.fail(f"{name}={v!r} is not a finite number")

    def flag(self, name: str, default: bool = False) -> bool:
        v = self.text(name)
        if v == "":
            return default
        if _INT_RE.fullmatch(v):
            return int(v) != 0
        raise self.fail(f"{name}={v!r} is not a boolean")

    def req(self, name: str = "reqId", bounded: bool = True) -> int:
        """Read the request (or order) id and remember it for error reports.

        ``bounded=False`` (placeOrder's id) leaves the range check to order validation,
        which answers an out-of-range order id with 103 as TWS does.
        """
        self.req_id = self.integer(name, -1, bounded)
        return self.req_id

    def count(self, name: str, limit: int = 10_000) -> int:
        n = self.integer(name)
        if not 0 <= n <= limit:
            raise self.fail(f"{name}={n} out of range")
        return n

    def tag_values(self, name: str) -> tuple[TagValue, ...]:
        """A "tag=value;tag=value;" list sent as one field."""
        out = []
        for item in self.text(name).split(";"):
            if not item:
                continue
            tag, sep, value = item.partition("=")
            if not sep:
                raise self.fail(f"{name} entry {item!r} has no '='")
            out.append(TagValue(tag, value))
        return tuple(out)

    def tag_value_pairs(self, name: str) -> list[TagValue]:
        """A count followed by that many (tag, value) field pairs."""
        return [
            TagValue(self.text(f"{name}.tag"), self.text(f"{name}.value"))
            for _ in range(self.count(name))
        ]

    def contract(self) -> Contract:
        """The 12 contract fields Client.send writes for a Contract."""
        kw = dict(
            conId=self.integer("conId"),
            symbol=self.text("symbol"),
            secType=self.text("secType"),
            lastTradeDateOrContractMonth=self.text("lastTradeDateOrContractMonth"),
            strike=self.number("strike"),
            right=self.text("right"),
            multiplier=self.text("multiplier"),
            exchange=self.text("exchange"),
            primaryExchange=self.text("primaryExchange"),
            currency=self.text("currency"),
            localSymbol=self.text("localSymbol"),
            tradingClass=self.text("tradingClass"),
        )
        return Contract.create(**kw)

    def short_legs(self) -> list[ComboLeg]:
        """BAG legs as reqMktData / reqHistoricalData send them (4 fields each)."""
        return [
            ComboLeg(
                conId=self.integer("leg.conId"),
                ratio=self.integer("leg.ratio"),
                action=self.text("leg.action"),
                exchange=self.text("leg.exchange"),
            )
            for _ in range(self.count("comboLegs"))
        ]

    def delta_neutral(self) -> DeltaNeutralContract | None:
        if not self.flag("deltaNeutralContract"):
            return None
        return DeltaNeutralContract(
            self.integer("dnc.conId"), self.number("dnc.delta"), self.number("dnc.price")
        )

    def end(self) -> None:
        if self._i != len(self._f):
            raise self.fail(f"{len(self._f) - self._i} unexpected trailing field(s)")


# --- request types ---------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """Base of all parsed requests; ``MSG_ID`` is the wire message id."""

    MSG_ID: ClassVar[int] = 0


@dataclass(frozen=True)
class StartApi(Request):
    MSG_ID: ClassVar[int] = 71
    client_id: int
    optional_capabilities: str


@dataclass(frozen=True)
class ReqMktData(Request):
    """Contract carries comboLegs (BAG) and deltaNeutralContract when sent."""

    MSG_ID: ClassVar[int] = 1
    req_id: int
    contract: Contract
    generic_ticks: str
    snapshot: bool
    regulatory_snapshot: bool
    options: tuple[TagValue, ...]


@dataclass(frozen=True)
class CancelMktData(Request):
    MSG_ID: ClassVar[int] = 2
    req_id: int


@dataclass(frozen=True)
class PlaceOrder(Request):
    """A new order or a modification (same order_id); ``order.whatIf`` marks a what-if."""

    MSG_ID: ClassVar[int] = 3
    order_id: int
    contract: Contract
    order: Order


@dataclass(frozen=True)
class CancelOrder(Request):
    MSG_ID: ClassVar[int] = 4
    order_id: int
    manual_cancel_time: str


@dataclass(frozen=True)
class ReqOpenOrders(Request):
    MSG_ID: ClassVar[int] = 5


@dataclass(frozen=True)
class ReqAccountUpdates(Request):
    MSG_ID: ClassVar[int] = 6
    subscribe: bool
    account: str


@dataclass(frozen=True)
class ReqExecutions(Request):
    MSG_ID: ClassVar[int] = 7
    req_id: int
    exec_filter: ExecutionFilter


@dataclass(frozen=True)
class ReqIds(Request):
    MSG_ID: ClassVar[int] = 8
    num_ids: int


@dataclass(frozen=True)
class ReqContractDetails(Request):
    """includeExpired, secIdType, secId and issuerId are set on the contract."""

    MSG_ID: ClassVar[int] = 9
    req_id: int
    contract: Contract


@dataclass(frozen=True)
class ReqAutoOpenOrders(Request):
    MSG_ID: ClassVar[int] = 15
    auto_bind: bool


@dataclass(frozen=True)
class ReqAllOpenOrders(Request):
    MSG_ID: ClassVar[int] = 16


@dataclass(frozen=True)
class ReqManagedAccts(Request):
    MSG_ID: ClassVar[int] = 17


@dataclass(frozen=True)
class ReqHistoricalData(Request):
    """end_date_time is "" (now) or e.g. "20240102 16:00:00 UTC"; format_date 1 or 2."""

    MSG_ID: ClassVar[int] = 20
    req_id: int
    contract: Contract
    end_date_time: str
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool
    chart_options: tuple[TagValue, ...]


@dataclass(frozen=True)
class CancelHistoricalData(Request):
    MSG_ID: ClassVar[int] = 25
    req_id: int


@dataclass(frozen=True)
class ReqCurrentTime(Request):
    MSG_ID: ClassVar[int] = 49


@dataclass(frozen=True)
class ReqGlobalCancel(Request):
    MSG_ID: ClassVar[int] = 58


@dataclass(frozen=True)
class ReqMarketDataType(Request):
    MSG_ID: ClassVar[int] = 59
    data_type: int


@dataclass(frozen=True)
class ReqPositions(Request):
    MSG_ID: ClassVar[int] = 61


@dataclass(frozen=True)
class ReqAccountSummary(Request):
    MSG_ID: ClassVar[int] = 62
    req_id: int
    group: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class CancelAccountSummary(Request):
    MSG_ID: ClassVar[int] = 63
    req_id: int


@dataclass(frozen=True)
class CancelPositions(Request):
    MSG_ID: ClassVar[int] = 64


@dataclass(frozen=True)
class ReqPositionsMulti(Request):
    MSG_ID: ClassVar[int] = 74
    req_id: int
    account: str
    model_code: str


@dataclass(frozen=True)
class CancelPositionsMulti(Request):
    MSG_ID: ClassVar[int] = 75
    req_id: int


@dataclass(frozen=True)
class ReqAccountUpdatesMulti(Request):
    MSG_ID: ClassVar[int] = 76
    req_id: int
    account: str
    model_code: str
    ledger_and_nlv: bool


@dataclass(frozen=True)
class CancelAccountUpdatesMulti(Request):
    MSG_ID: ClassVar[int] = 77
    req_id: int


@dataclass(frozen=True)
class ReqSecDefOptParams(Request):
    MSG_ID: ClassVar[int] = 78
    req_id: int
    underlying_symbol: str
    fut_fop_exchange: str
    underlying_sec_type: str
    underlying_con_id: int


@dataclass(frozen=True)
class ReqHeadTimestamp(Request):
    MSG_ID: ClassVar[int] = 87
    req_id: int
    contract: Contract
    use_rth: bool
    what_to_show: str
    format_date: int


@dataclass(frozen=True)
class CancelHeadTimestamp(Request):
    MSG_ID: ClassVar[int] = 90
    req_id: int


@dataclass(frozen=True)
class ReqPnL(Request):
    MSG_ID: ClassVar[int] = 92
    req_id: int
    account: str
    model_code: str


@dataclass(frozen=True)
class CancelPnL(Request):
    MSG_ID: ClassVar[int] = 93
    req_id: int


@dataclass(frozen=True)
class ReqPnLSingle(Request):
    MSG_ID: ClassVar[int] = 94
    req_id: int
    account: str
    model_code: str
    con_id: int


@dataclass(frozen=True)
class CancelPnLSingle(Request):
    MSG_ID: ClassVar[int] = 95
    req_id: int


@dataclass(frozen=True)
class ReqCompletedOrders(Request):
    MSG_ID: ClassVar[int] = 99
    api_only: bool


@dataclass(frozen=True)
class ReqUserInfo(Request):
    MSG_ID: ClassVar[int] = 104
    req_id: int


# --- parsers ---------------------------------------------------------------------------

# Requests whose layout is "[version,] ids..." only; (class, has version field, id names).
_SIMPLE: dict[int, tuple[type[Request], bool, tuple[str, ...]]] = {
    2: (CancelMktData, True, ("req_id",)),
    5: (ReqOpenOrders, True, ()),
    16: (ReqAllOpenOrders, True, ()),
    17: (ReqManagedAccts, True, ()),
    25: (CancelHistoricalData, True, ("req_id",)),
    49: (ReqCurrentTime, True, ()),
    58: (ReqGlobalCancel, True, ()),
    61: (ReqPositions, True, ()),
    63: (CancelAccountSummary, True, ("req_id",)),
    64: (CancelPositions, True, ()),
    75: (CancelPositionsMulti, True, ("req_id",)),
    77: (CancelAccountUpdatesMulti, True, ("req_id",)),
    90: (CancelHeadTimestamp, False, ("req_id",)),
    93: (CancelPnL, False, ("req_id",)),
    95: (CancelPnLSingle, False, ("req_id",)),
    104: (ReqUserInfo, False, ("req_id",)),
}


def _start_api(c: _Cursor) -> Request:
    c.integer("version")
    return StartApi(c.integer("clientId"), c.text("optionalCapabilities"))


def _req_mkt_data(c: _Cursor) -> Request:
    c.integer("version")
    req_id = c.req()
    contract = c.contract()
    if contract.secType == "BAG":
        contract.comboLegs = c.short_legs()
    contract.deltaNeutralContract = c.delta_neutral()
    return ReqMktData(
        req_id,
        contract,
        c.text("genericTickList"),
        c.flag("snapshot"),
        c.flag("regulatorySnapshot"),
        c.tag_values("mktDataOptions"),
    )


def _cancel_order(c: _Cursor) -> Request:
    c.integer("version")
    return CancelOrder(c.req("orderId"), c.text("manualCancelOrderTime"))


def _req_account_updates(c: _Cursor) -> Request:
    c.integer("version")
    return ReqAccountUpdates(c.flag("subscribe"), c.text("acctCode"))


def _req_executions(c: _Cursor) -> Request:
    c.integer("version")
    req_id = c.req()
    f = ExecutionFilter(
        clientId=c.integer("clientId"),
        acctCode=c.text("acctCode"),
        time=c.text("time"),
        symbol=c.text("symbol"),
        secType=c.text("secType"),
        exchange=c.text("exchange"),
        side=c.text("side"),
    )
    return ReqExecutions(req_id, f)


def _req_ids(c: _Cursor) -> Request:
    c.integer("version")
    return ReqIds(c.integer("numIds"))


def _req_contract_details(c: _Cursor) -> Request:
    c.integer("version")
    req_id = c.req()
    contract = c.contract()
    contract.includeExpired = c.flag("includeExpired")
    contract.secIdType = c.text("secIdType")
    contract.secId = c.text("secId")
    contract.issuerId = c.text("issuerId")
    return ReqContractDetails(req_id, contract)


def _req_auto_open_orders(c: _Cursor) -> Request:
    c.integer("version")
    return ReqAutoOpenOrders(c.flag("autoBind"))


def _req_historical_data(c: _Cursor) -> Request:
    req_id = c.req()
    contract = c.contract()
    contract.includeExpired = c.flag("includeExpired")
    end = c.text("endDateTime")
    bar_size = c.text("barSizeSetting")
    duration = c.text("durationStr")
    use_rth = c.flag("useRTH")
    what = c.text("whatToShow")
    fmt_date = c.integer("formatDate", 1)
    if contract.secType == "BAG":
        contract.comboLegs = c.short_legs()
    return ReqHistoricalData(
        req_id,
        contract,
        end,
        bar_size,
        duration,
        use_rth,
        what,
        fmt_date,
        c.flag("keepUpToDate"),
        c.tag_values("chartOptions"),
    )


def _req_market_data_type(c: _Cursor) -> Request:
    c.integer("version")
    return ReqMarketDataType(c.integer("marketDataType"))


def _req_account_summary(c: _Cursor) -> Request:
    c.integer("version")
    req_id = c.req()
    group = c.text("groupName")
    tags = tuple(t for t in c.text("tags").split(",") if t)
    return ReqAccountSummary(req_id, group, tags)


def _req_positions_multi(c: _Cursor) -> Request:
    c.integer("version")
    return ReqPositionsMulti(c.req(), c.text("account"), c.text("modelCode"))


def _req_account_updates_multi(c: _Cursor) -> Request:
    c.integer("version")
    return ReqAccountUpdatesMulti(
        c.req(), c.text("account"), c.text("modelCode"), c.flag("ledgerAndNLV")
    )


def _req_sec_def_opt_params(c: _Cursor) -> Request:
    return ReqSecDefOptParams(
        c.req(),
        c.text("underlyingSymbol"),
        c.text("futFopExchange"),
        c.text("underlyingSecType"),
        c.integer("underlyingConId"),
    )


def _req_head_timestamp(c: _Cursor) -> Request:
    req_id = c.req()
    contract = c.contract()
    contract.includeExpired = c.flag("includeExpired")
    return ReqHeadTimestamp(
        req_id, contract, c.flag("useRTH"), c.text("whatToShow"), c.integer("formatDate", 1)
    )


def _req_pnl(c: _Cursor) -> Request:
    return ReqPnL(c.req(), c.text("account"), c.text("modelCode"))


def _req_pnl_single(c: _Cursor) -> Request:
    return ReqPnLSingle(c.req(), c.text("account"), c.text("modelCode"), c.integer("conId"))


def _req_completed_orders(c: _Cursor) -> Request:
    return ReqCompletedOrders(c.flag("apiOnly"))


# --- placeOrder ------------------------------------------------------------------------

_D = UNSET_DOUBLE
_I = UNSET_INT


def _set(c: _Cursor, o: object, spec: str) -> None:
    """Read space-separated ``name:type`` fields (s, i, f, b, F=unset double, I=unset int)."""
    readers: dict[str, Callable[[str], object]] = {
        "s": c.text,
        "i": c.integer,
        "f": c.number,
        "b": c.flag,
        "F": lambda n: c.number(n, _D),
        "I": lambda n: c.integer(n, _I),
    }
    for item in spec.split():
        name, kind = item.split(":")
        setattr(o, name, readers[kind](name))


def _order_prefix(c: _Cursor, o: Order) -> None:
    _set(
        c,
        o,
        "action:s totalQuantity:f orderType:s lmtPrice:F auxPrice:F tif:s ocaGroup:s "
        "account:s openClose:s origin:i orderRef:s transmit:b parentId:i blockOrder:b "
        "sweepToFill:b displaySize:i triggerMethod:i outsideRth:b hidden:b",
    )


def _order_bag(c: _Cursor, contract: Contract, o: Order) -> None:
    contract.comboLegs = [
        ComboLeg(
            conId=c.integer("leg.conId"),
            ratio=c.integer("leg.ratio"),
            action=c.text("leg.action"),
            exchange=c.text("leg.exchange"),
            openClose=c.integer("leg.openClose"),
            shortSaleSlot=c.integer("leg.shortSaleSlot"),
            designatedLocation=c.text("leg.designatedLocation"),
            exemptCode=c.integer("leg.exemptCode", -1),
        )
        for _ in range(c.count("comboLegs"))
    ]
    o.orderComboLegs = [
        OrderComboLeg(c.number("orderComboLeg.price", _D)) for _ in range(c.count("orderComboLegs"))
    ]
    o.smartComboRoutingParams = c.tag_value_pairs("smartComboRoutingParams")


def _order_conditions(c: _Cursor, o: Order) -> None:
    n = c.count("conditions", 100)
    for _ in range(n):
        cond_type = c.integer("condType")
        try:
            cls = OrderCondition.createClass(cond_type)
        except KeyError:
            raise c.fail(f"unknown condition type {cond_type}") from None
        cond = cls()
        readers = {int: c.integer, float: c.number, bool: c.flag, str: c.text}
        for f in dataclasses.fields(cls)[1:]:
            setattr(cond, f.name, readers[type(f.default)](f"condition.{f.name}"))
        o.conditions.append(cond)
    if n:
        _set(c, o, "conditionsIgnoreRth:b conditionsCancelOrder:b")


def _order_tail(c: _Cursor, contract: Contract, o: Order) -> None:
    c.text("sharesAllocation")  # deprecated, always empty
    _set(
        c,
        o,
        "discretionaryAmt:f goodAfterTime:s goodTillDate:s faGroup:s faMethod:s "
        "faPercentage:s modelCode:s shortSaleSlot:i designatedLocation:s exemptCode:i "
        "ocaType:i rule80A:s settlingFirm:s allOrNone:b minQty:I percentOffset:F "
        "eTradeOnly:b firmQuoteOnly:b nbboPriceCap:F auctionStrategy:i startingPrice:F "
        "stockRefPrice:F delta:F stockRangeLower:F stockRangeUpper:F "
        "overridePercentageConstraints:b volatility:F volatilityType:I "
        "deltaNeutralOrderType:s deltaNeutralAuxPrice:F",
    )
    if o.deltaNeutralOrderType:
        _set(
            c,
            o,
            "deltaNeutralConId:i deltaNeutralSettlingFirm:s deltaNeutralClearingAccount:s "
            "deltaNeutralClearingIntent:s deltaNeutralOpenClose:s deltaNeutralShortSale:b "
            "deltaNeutralShortSaleSlot:i deltaNeutralDesignatedLocation:s",
        )
    _set(
        c,
        o,
        "continuousUpdate:b referencePriceType:I trailStopPrice:F trailingPercent:F "
        "scaleInitLevelSize:I scaleSubsLevelSize:I scalePriceIncrement:F",
    )
    if 0 < o.scalePriceIncrement < UNSET_DOUBLE:
        _set(
            c,
            o,
            "scalePriceAdjustValue:F scalePriceAdjustInterval:I scaleProfitOffset:F "
            "scaleAutoReset:b scaleInitPosition:I scaleInitFillQty:I scaleRandomPercent:b",
        )
    _set(c, o, "scaleTable:s activeStartTime:s activeStopTime:s hedgeType:s")
    if o.hedgeType:
        _set(c, o, "hedgeParam:s")
    _set(c, o, "optOutSmartRouting:b clearingAccount:s clearingIntent:s notHeld:b")
    contract.deltaNeutralContract = c.delta_neutral()
    _set(c, o, "algoStrategy:s")
    if o.algoStrategy:
        o.algoParams = c.tag_value_pairs("algoParams")
    _set(c, o, "algoId:s whatIf:b")
    o.orderMiscOptions = list(c.tag_values("orderMiscOptions"))
    _set(c, o, "solicited:b randomizeSize:b randomizePrice:b")
    if o.orderType in {"PEG BENCH", "PEGBENCH"}:
        _set(
            c,
            o,
            "referenceContractId:i isPeggedChangeAmountDecrease:b peggedChangeAmount:f "
            "referenceChangeAmount:f referenceExchangeId:s",
        )
    _order_conditions(c, o)
    _set(
        c,
        o,
        "adjustedOrderType:s triggerPrice:F lmtPriceOffset:F adjustedStopPrice:F "
        "adjustedStopLimitPrice:F adjustedTrailingAmount:F adjustableTrailingUnit:i "
        "extOperator:s",
    )
    o.softDollarTier.name = c.text("softDollarTier.name")
    o.softDollarTier.val = c.text("softDollarTier.val")
    _set(
        c,
        o,
        "cashQty:F mifid2DecisionMaker:s mifid2DecisionAlgo:s mifid2ExecutionTrader:s "
        "mifid2ExecutionAlgo:s dontUseAutoPriceForHedge:b isOmsContainer:b "
        "discretionaryUpToLimitPrice:b usePriceMgmtAlgo:b duration:I postToAts:I "
        "autoCancelParent:b advancedErrorOverride:s manualOrderTime:s",
    )
    if contract.exchange == "IBKRATS":
        _set(c, o, "minTradeQty:I")
    if o.orderType in {"PEG BEST", "PEGBEST"}:
        _set(c, o, "minCompeteSize:I competeAgainstBestOffset:F")
        if o.competeAgainstBestOffset == math.inf:
            _set(c, o, "midOffsetAtWhole:F midOffsetAtHalf:F")
    elif o.orderType in {"PEG MID", "PEGMID"}:
        _set(c, o, "midOffsetAtWhole:F midOffsetAtHalf:F")


def _place_order(c: _Cursor) -> Request:
    order_id = c.req("orderId", bounded=False)
    contract = c.contract()
    contract.secIdType = c.text("secIdType")
    contract.secId = c.text("secId")
    o = Order(orderId=order_id)
    _order_prefix(c, o)
    if contract.secType == "BAG":
        _order_bag(c, contract, o)
    _order_tail(c, contract, o)
    return PlaceOrder(order_id, contract, o)


_PARSERS: dict[int, Callable[[_Cursor], Request]] = {
    1: _req_mkt_data,
    3: _place_order,
    4: _cancel_order,
    6: _req_account_updates,
    7: _req_executions,
    8: _req_ids,
    9: _req_contract_details,
    15: _req_auto_open_orders,
    20: _req_historical_data,
    59: _req_market_data_type,
    62: _req_account_summary,
    71: _start_api,
    74: _req_positions_multi,
    76: _req_account_updates_multi,
    78: _req_sec_def_opt_params,
    87: _req_head_timestamp,
    92: _req_pnl,
    94: _req_pnl_single,
    99: _req_completed_orders,
}

SUPPORTED_MSG_IDS: frozenset[int] = frozenset(_PARSERS) | frozenset(_SIMPLE)


def _parse_simple(c: _Cursor, cls: type[Request], versioned: bool, ids: tuple[str, ...]):
    if versioned:
        c.integer("version")
    return cls(*(c.req() for _ in ids))


def parse_request(fields: list[str]) -> Request:
    """Parse one client message (its fields, message id first) into a typed request.

    Raises RequestError: 505 for a missing or unsupported message id, 320 for a
    malformed request (with the request's id when it was read before the fault).
    """
    if not fields or not _INT_RE.fullmatch(fields[0]):
        raise RequestError(UNKNOWN_ID, "Fatal Error: Unknown message id.")
    msg_id = int(fields[0])
    c = _Cursor(fields, 1)
    if msg_id in _SIMPLE:
        req = _parse_simple(c, *_SIMPLE[msg_id])
    elif msg_id in _PARSERS:
        req = _PARSERS[msg_id](c)
    else:
        raise RequestError(UNKNOWN_ID, f"Fatal Error: Unknown message id {msg_id}.")
    c.end()
    return req
