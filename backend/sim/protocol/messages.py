"""Encoders for server -> client messages, laid out by the negotiated server version.

Each function returns the message's fields (message id first) for ``wire.encode_frame``.
Encoders whose layout changes within the supported range take the session's
:class:`~livedesk.backend.sim.protocol.versions.Protocol` as the keyword ``proto``; the others are
the same at every supported version. Layouts mirror the clients' decoders (``ib_async``,
``ib_insync``, ``ibapi``) field for field: a handler whose unpacking does not match drops
the message silently, so every encoder has a conformance test per version that feeds it
through the real decoders.

Numbers that the decoder converts without a fallback (``float(x)`` rather than
``float(x or 0)``) must not be NaN; those encoders raise ValueError instead of emitting
a message the client would drop. The order and execution encoders live in
``order_messages`` and are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ib_async import Contract, ContractDetails

from livedesk.backend.sim.protocol.message_fields import contract11, strict, tag_values
from livedesk.backend.sim.protocol.order_messages import (  # noqa: F401  (re-exported)
    commission_report,
    completed_order,
    completed_orders_end,
    exec_details,
    exec_details_end,
    format_exec_time,
    open_order,
    open_order_end,
    order_status,
)
from livedesk.backend.sim.protocol.versions import Protocol

Bar = tuple[str, float, float, float, float, float, float, int]
"""(date, open, high, low, close, volume, wap, count) of one historical bar."""

Fields = list


# --- connection and errors -------------------------------------------------------------


def next_valid_id(order_id: int) -> Fields:
    """nextValidId (9): the next order id the client may use."""
    return [9, 1, int(order_id)]


def managed_accounts(accounts: list[str]) -> Fields:
    """managedAccounts (15): comma-separated account list (must be non-empty)."""
    if not accounts:
        raise ValueError("managedAccounts needs at least one account")
    return [15, 1, ",".join(accounts)]


def error(
    req_id: int, code: int, msg: str, advanced_json: str = "", *, proto: Protocol | None
) -> Fields:
    """errorMsg (4); req_id -1 for notices not tied to a request or order.

    ``proto`` None is the layout before any version is agreed (a handshake refusal):
    the clients' decoders then read it with server version 0, without the json field.
    """
    fields: list = [4, 2, int(req_id), int(code), msg]
    if proto is not None and proto.advanced_order_reject:
        fields.append(advanced_json)
    return fields


def current_time(epoch: int) -> Fields:
    """currentTime (49): server time in epoch seconds."""
    return [49, 1, int(epoch)]


def market_data_type(req_id: int, data_type: int) -> Fields:
    """marketDataType (58): 1 live, 2 frozen, 3 delayed, 4 delayed-frozen."""
    return [58, 1, int(req_id), int(data_type)]


# --- market data ticks -----------------------------------------------------------------


def tick_price(
    req_id: int,
    tick_type: int,
    price: float,
    size: float = 0.0,
    attrib_mask: int = 0,
    *,
    proto: Protocol,
    sec_type: str = "",
) -> Fields:
    """tickPrice (1) with its size in shares (sent in the version's size unit)."""
    wire_size = proto.tick_size(size, sec_type)
    return [1, 6, int(req_id), int(tick_type), price, wire_size, int(attrib_mask)]


def tick_size(
    req_id: int, tick_type: int, size: float, *, proto: Protocol, sec_type: str = ""
) -> Fields:
    """tickSize (2), ``size`` in shares (sent in the version's size unit)."""
    return [2, 6, int(req_id), int(tick_type), proto.tick_size(size, sec_type)]


def tick_string(req_id: int, tick_type: int, value: str) -> Fields:
    """tickString (46), e.g. lastTimestamp (45) or RT volume (48)."""
    return [46, 6, int(req_id), int(tick_type), value]


def tick_generic(req_id: int, tick_type: int, value: float) -> Fields:
    """tickGeneric (45), e.g. halted (49) or shortable (46)."""
    return [45, 6, int(req_id), int(tick_type), value]


def tick_req_params(
    req_id: int, min_tick: float, bbo_exchange: str, snapshot_permissions: int
) -> Fields:
    """tickReqParams (81), sent once after reqMktData."""
    return [81, int(req_id), min_tick, bbo_exchange, int(snapshot_permissions)]


def tick_snapshot_end(req_id: int) -> Fields:
    """tickSnapshotEnd (57): ends a snapshot reqMktData."""
    return [57, 1, int(req_id)]


def _greek(x: float | None, sentinel: int) -> float:
    return sentinel if x is None or math.isnan(x) else x


def tick_option_computation(
    req_id: int,
    tick_type: int,
    tick_attrib: int,
    implied_vol: float | None,
    delta: float | None,
    opt_price: float | None,
    pv_dividend: float | None,
    gamma: float | None,
    vega: float | None,
    theta: float | None,
    und_price: float | None,
) -> Fields:
    """tickOptionComputation (21); None/NaN become TWS's "not computed" sentinels."""
    return [
        21,
        int(req_id),
        int(tick_type),
        int(tick_attrib),
        _greek(implied_vol, -1),
        _greek(delta, -2),
        _greek(opt_price, -1),
        _greek(pv_dividend, -1),
        _greek(gamma, -2),
        _greek(vega, -2),
        _greek(theta, -2),
        _greek(und_price, -1),
    ]


# --- contract details ------------------------------------------------------------------


def contract_details(req_id: int, cd: ContractDetails, *, proto: Protocol) -> Fields:
    """contractDetails (10) for a non-bond contract.

    Before size rules (164) the message carries a version field and the market-data size
    multiplier, and at 163 a size tick; from 164 on minSize, sizeIncrement and
    suggestedSizeIncrement close it.
    """
    c = cd.contract
    if c is None:
        raise ValueError("ContractDetails.contract is required")
    last = c.lastTradeDateOrContractMonth
    if last and cd.lastTradeTime:
        last = f"{last} {cd.lastTradeTime}"
        if cd.timeZoneId:
            last = f"{last} {cd.timeZoneId}"
    fields: list = [10] if proto.size_rules else [10, 8]
    fields += [
        int(req_id),
        c.symbol,
        c.secType,
        last,
        c.strike,
        c.right,
        c.exchange,
        c.currency,
        c.localSymbol,
        cd.marketName,
        c.tradingClass,
        int(c.conId),
        cd.minTick,
    ]
    if not proto.size_rules:
        fields.append(proto.md_size_multiplier(c.secType))
    fields += [
        c.multiplier,
        cd.orderTypes,
        cd.validExchanges,
        int(cd.priceMagnifier),
        int(cd.underConId),
        # the decoder unicode-unescapes longName, so escape it here
        cd.longName.encode("unicode_escape").decode("ascii"),
        c.primaryExchange,
        cd.contractMonth,
        cd.industry,
        cd.category,
        cd.subcategory,
        cd.timeZoneId,
        cd.tradingHours,
        cd.liquidHours,
        cd.evRule,
        cd.evMultiplier,
    ]
    fields += tag_values(cd.secIdList)
    fields += [
        int(cd.aggGroup),
        cd.underSymbol,
        cd.underSecType,
        cd.marketRuleIds,
        cd.realExpirationDate,
        cd.stockType,
    ]
    if proto.size_rules:
        fields += [cd.minSize, cd.sizeIncrement, cd.suggestedSizeIncrement]
    elif proto.fractional_size:
        fields.append(cd.sizeIncrement)  # the size tick of version 163
    return fields


def contract_details_end(req_id: int) -> Fields:
    """contractDetailsEnd (52)."""
    return [52, 1, int(req_id)]


# --- positions and account -------------------------------------------------------------


def position(account: str, contract: Contract, pos: float, avg_cost: float) -> Fields:
    """position (61): one row of the reqPositions answer."""
    return [61, 3, account, *contract11(contract, contract.exchange), pos, avg_cost]


def position_end() -> Fields:
    """positionEnd (62)."""
    return [62, 1]


def position_multi(
    req_id: int, account: str, model_code: str, contract: Contract, pos: float, avg_cost: float
) -> Fields:
    """positionMulti (71)."""
    return [
        71,
        1,
        int(req_id),
        account,
        *contract11(contract, contract.exchange),
        pos,
        avg_cost,
        model_code,
    ]


def position_multi_end(req_id: int) -> Fields:
    """positionMultiEnd (72)."""
    return [72, 1, int(req_id)]


def account_value(key: str, value: str, currency: str, account: str) -> Fields:
    """updateAccountValue (6)."""
    return [6, 2, key, value, currency, account]


def portfolio_value(
    contract: Contract,
    position: float,
    market_price: float,
    market_value: float,
    avg_cost: float,
    unrealized_pnl: float,
    realized_pnl: float,
    account: str,
) -> Fields:
    """updatePortfolio (7); the exchange slot carries contract.primaryExchange."""
    nums = {
        "position": position,
        "market_price": market_price,
        "market_value": market_value,
        "avg_cost": avg_cost,
        "unrealized_pnl": unrealized_pnl,
        "realized_pnl": realized_pnl,
    }
    return [
        7,
        8,
        *contract11(contract, contract.primaryExchange),
        *(strict(v, k) for k, v in nums.items()),
        account,
    ]


def account_update_time(hhmm: str) -> Fields:
    """updateAccountTime (8), "HH:MM"."""
    return [8, 1, hhmm]


def account_download_end(account: str) -> Fields:
    """accountDownloadEnd (54): ends the reqAccountUpdates snapshot."""
    return [54, 1, account]


def account_update_multi(
    req_id: int, account: str, model_code: str, key: str, value: str, currency: str
) -> Fields:
    """accountUpdateMulti (73)."""
    return [73, 1, int(req_id), account, model_code, key, value, currency]


def account_update_multi_end(req_id: int) -> Fields:
    """accountUpdateMultiEnd (74)."""
    return [74, 1, int(req_id)]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Fields:
    """accountSummary (63)."""
    return [63, 1, int(req_id), account, tag, value, currency]


def account_summary_end(req_id: int) -> Fields:
    """accountSummaryEnd (64)."""
    return [64, 1, int(req_id)]


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> Fields:
    """pnl (94) for a reqPnL subscription."""
    return [94, int(req_id), daily, unrealized, realized]


def pnl_single(
    req_id: int, pos: float, daily: float, unrealized: float, realized: float, value: float
) -> Fields:
    """pnlSingle (95) for a reqPnLSingle subscription."""
    return [95, int(req_id), pos, daily, unrealized, realized, value]


# --- historical data -------------------------------------------------------------------


def _bar_numbers(bar: Bar, proto: Protocol, sec_type: str) -> list:
    """Validate one bar's numbers (the decoder has no fallback for empty ones)."""
    date, *nums, count = bar
    names = ("open", "high", "low", "close", "volume", "wap")
    o, h, low, c, volume, wap = (
        strict(v, f"bar {date} {n}") for n, v in zip(names, nums, strict=True)
    )
    return [date, o, h, low, c, proto.bar_volume(volume, sec_type), wap, int(count)]


def historical_data(
    req_id: int,
    start: str,
    end: str,
    bars: Iterable[Bar],
    *,
    proto: Protocol,
    sec_type: str = "",
) -> Fields:
    """historicalData (17): all bars at once (volumes in shares, sent in the version's unit)."""
    bars = list(bars)
    fields: list = [17, int(req_id), start, end, len(bars)]
    for bar in bars:
        fields += _bar_numbers(bar, proto, sec_type)
    return fields


def historical_data_update(
    req_id: int, bar_count: int, bar: Bar, *, proto: Protocol, sec_type: str = ""
) -> Fields:
    """historicalDataUpdate (90) for keepUpToDate.

    ``bar_count`` fills the wire's barCount slot (ib_async's ``BarData.barCount``);
    the tuple's own count element is not sent.
    """
    date, o, h, low, c, volume, wap, _count = _bar_numbers(bar, proto, sec_type)
    return [90, int(req_id), int(bar_count), date, o, c, h, low, wap, volume]


def head_timestamp(req_id: int, ts: str) -> Fields:
    """headTimestamp (88): earliest data point, ``YYYYmmdd[ HH:MM:SS]`` or epoch text."""
    return [88, int(req_id), ts]


# --- option chains ---------------------------------------------------------------------


def sec_def_opt_params(
    req_id: int,
    exchange: str,
    underlying_con_id: int,
    trading_class: str,
    multiplier: str,
    expirations: list[str],
    strikes: list[float],
) -> Fields:
    """securityDefinitionOptionParameter (75): one option chain per exchange."""
    return [
        75,
        int(req_id),
        exchange,
        int(underlying_con_id),
        trading_class,
        multiplier,
        len(expirations),
        *expirations,
        len(strikes),
        *(strict(s, "strike") for s in strikes),
    ]


def sec_def_opt_params_end(req_id: int) -> Fields:
    """securityDefinitionOptionParameterEnd (76)."""
    return [76, int(req_id)]


def user_info(req_id: int, white_branding_id: str = "", *, proto: Protocol) -> Fields:
    """userInfo (107): answer to reqUserInfo (a message that exists from version 167)."""
    if not proto.user_info:
        raise ValueError(f"userInfo does not exist at server version {proto.version}")
    return [107, int(req_id), white_branding_id]
