"""Parsing of client -> server requests as ``ib_async.client.Client`` 2.1.0 sends them.

``parse_request(fields, proto=...)`` turns one decoded frame into a typed, frozen request
object, or raises ``RequestError`` carrying the IB error to answer with. Layouts follow the
clients' ``client.py`` (``ib_async``, ``ib_insync``, ``ibapi``) at the session's negotiated
version (:class:`~livedesk.backend.sim.protocol.versions.Protocol`), including every version- and
value-dependent branch of ``placeOrder``, so the whole order (not only its prefix) is
recovered (``order_requests``). Gated fields are read under a ``proto`` flag or from the
``*_GATED`` tables, one row per gate; the field cursor lives in ``request_base``.

Empty numeric fields take the ib_async default (the client sends unset values as "");
anything else that is not a finite number raises ``RequestError`` (code 320).

Note for answering: ib_async treats codes 105, 110, 165, 321, 329, 399, 404, 434, 492,
10167 and 2100-2199 as warnings that do *not* end a pending request; use another code
(e.g. 320, 200, 162) to make a request fail fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from ib_async import Contract
from ib_async.contract import TagValue
from ib_async.objects import ExecutionFilter

from livedesk.backend.sim.protocol.data_requests import PARSERS as DATA_PARSERS
from livedesk.backend.sim.protocol.order_requests import PlaceOrder, parse_place_order
from livedesk.backend.sim.protocol.request_base import (
    INT_RE,
    READ_ERROR,
    UNKNOWN_ID,
    Cursor,
    Request,
    RequestError,
)
from livedesk.backend.sim.protocol.versions import REQUEST_GATES, Protocol

__all__ = ["READ_ERROR", "UNKNOWN_ID", "PlaceOrder", "Request", "RequestError", "parse_request"]

# --- request types (PlaceOrder: order_requests) -----------------------------------------


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


def _start_api(c: Cursor) -> Request:
    c.integer("version")
    return StartApi(c.integer("clientId"), c.text("optionalCapabilities"))


def _req_mkt_data(c: Cursor) -> Request:
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


def _cancel_order(c: Cursor) -> Request:
    c.integer("version")
    order_id = c.req("orderId")
    manual = c.text("manualCancelOrderTime") if c.proto.manual_order_time else ""
    return CancelOrder(order_id, manual)


def _req_account_updates(c: Cursor) -> Request:
    c.integer("version")
    return ReqAccountUpdates(c.flag("subscribe"), c.text("acctCode"))


def _req_executions(c: Cursor) -> Request:
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


def _req_ids(c: Cursor) -> Request:
    c.integer("version")
    return ReqIds(c.integer("numIds"))


def _req_contract_details(c: Cursor) -> Request:
    c.integer("version")
    req_id = c.req()
    contract = c.contract()
    contract.includeExpired = c.flag("includeExpired")
    contract.secIdType = c.text("secIdType")
    contract.secId = c.text("secId")
    if c.proto.issuer_id:
        contract.issuerId = c.text("issuerId")
    return ReqContractDetails(req_id, contract)


def _req_auto_open_orders(c: Cursor) -> Request:
    c.integer("version")
    return ReqAutoOpenOrders(c.flag("autoBind"))


def _req_historical_data(c: Cursor) -> Request:
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


def _req_market_data_type(c: Cursor) -> Request:
    c.integer("version")
    return ReqMarketDataType(c.integer("marketDataType"))


def _req_account_summary(c: Cursor) -> Request:
    c.integer("version")
    req_id = c.req()
    group = c.text("groupName")
    tags = tuple(t for t in c.text("tags").split(",") if t)
    return ReqAccountSummary(req_id, group, tags)


def _req_positions_multi(c: Cursor) -> Request:
    c.integer("version")
    return ReqPositionsMulti(c.req(), c.text("account"), c.text("modelCode"))


def _req_account_updates_multi(c: Cursor) -> Request:
    c.integer("version")
    return ReqAccountUpdatesMulti(
        c.req(), c.text("account"), c.text("modelCode"), c.flag("ledgerAndNLV")
    )


def _req_sec_def_opt_params(c: Cursor) -> Request:
    return ReqSecDefOptParams(
        c.req(),
        c.text("underlyingSymbol"),
        c.text("futFopExchange"),
        c.text("underlyingSecType"),
        c.integer("underlyingConId"),
    )


def _req_head_timestamp(c: Cursor) -> Request:
    req_id = c.req()
    contract = c.contract()
    contract.includeExpired = c.flag("includeExpired")
    return ReqHeadTimestamp(
        req_id, contract, c.flag("useRTH"), c.text("whatToShow"), c.integer("formatDate", 1)
    )


def _req_pnl(c: Cursor) -> Request:
    return ReqPnL(c.req(), c.text("account"), c.text("modelCode"))


def _req_pnl_single(c: Cursor) -> Request:
    return ReqPnLSingle(c.req(), c.text("account"), c.text("modelCode"), c.integer("conId"))


def _req_completed_orders(c: Cursor) -> Request:
    return ReqCompletedOrders(c.flag("apiOnly"))


_PARSERS: dict[int, Callable[[Cursor], Request]] = {
    1: _req_mkt_data,
    3: parse_place_order,
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
    **DATA_PARSERS,
}

SUPPORTED_MSG_IDS: frozenset[int] = frozenset(_PARSERS) | frozenset(_SIMPLE)


def _parse_simple(c: Cursor, cls: type[Request], versioned: bool, ids: tuple[str, ...]):
    if versioned:
        c.integer("version")
    return cls(*(c.req() for _ in ids))


def parse_request(fields: list[str], *, proto: Protocol) -> Request:
    """Parse one client message (its fields, message id first) by ``proto``'s layout.

    Raises RequestError: 505 for a missing or unsupported message id (or one that does
    not exist at the negotiated version), 320 for a malformed request (with the
    request's id when it was read before the fault).
    """
    if not fields or not INT_RE.fullmatch(fields[0]):
        raise RequestError(UNKNOWN_ID, "Fatal Error: Unknown message id.")
    msg_id = int(fields[0])
    gate = REQUEST_GATES.get(msg_id)
    if gate is not None and not proto.has(gate):
        raise RequestError(
            UNKNOWN_ID,
            f"Fatal Error: Unknown message id {msg_id} at server version {proto.version}.",
        )
    c = Cursor(fields, 1, proto)
    if msg_id in _SIMPLE:
        req = _parse_simple(c, *_SIMPLE[msg_id])
    elif msg_id in _PARSERS:
        req = _PARSERS[msg_id](c)
    else:
        raise RequestError(UNKNOWN_ID, f"Fatal Error: Unknown message id {msg_id}.")
    c.end()
    return req
