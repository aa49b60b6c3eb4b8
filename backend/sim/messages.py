"""Encoders for server -> client messages at server version 178.

Each function returns the message's fields (message id first) for ``wire.encode_frame``.
Layouts mirror ``ib_async.decoder.Decoder`` 2.1.0 field for field: a handler whose
unpacking does not match drops the message silently, so every encoder here has a
conformance test that feeds it through the real decoder.

Numbers that the decoder converts without a fallback (``float(x)`` rather than
``float(x or 0)``) must not be NaN; those encoders raise ValueError instead of emitting
a message ib_async would drop.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import astuple
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ib_async import ComboLeg, Contract, ContractDetails, Execution, Order, OrderState
from ib_async.contract import TagValue

from livedesk.backend.sim.wire import UNSET_DOUBLE, UNSET_DOUBLE_TEXT

Bar = tuple[str, float, float, float, float, float, float, int]
"""(date, open, high, low, close, volume, wap, count) of one historical bar."""

Fields = list


def _strict(x: float, what: str) -> float:
    """A float for a field the decoder parses without a fallback for empty text."""
    if x is None or math.isnan(x):
        raise ValueError(f"{what} must be a number, got {x!r}")
    return x


def _contract11(c: Contract, exchange: str) -> list:
    """The 11 contract fields shared by position, portfolio, execution messages."""
    return [
        int(c.conId),
        c.symbol,
        c.secType,
        c.lastTradeDateOrContractMonth,
        c.strike,
        c.right,
        c.multiplier,
        exchange,
        c.currency,
        c.localSymbol,
        c.tradingClass,
    ]


def _order_head(o: Order) -> list:
    """The order fields that follow the contract in openOrder and completedOrder."""
    return [
        o.action,
        o.totalQuantity,
        o.orderType,
        o.lmtPrice,
        o.auxPrice,
        o.tif,
        o.ocaGroup,
        o.account,
        o.openClose,
        int(o.origin),
        o.orderRef,
    ]


def _tag_values(params: Sequence[TagValue] | None) -> list:
    params = params or []
    out: list = [len(params)]
    for p in params:
        out += [p.tag, p.value]
    return out


# --- connection and errors -------------------------------------------------------------


def next_valid_id(order_id: int) -> Fields:
    """nextValidId (9): the next order id the client may use."""
    return [9, 1, int(order_id)]


def managed_accounts(accounts: list[str]) -> Fields:
    """managedAccounts (15): comma-separated account list (must be non-empty)."""
    if not accounts:
        raise ValueError("managedAccounts needs at least one account")
    return [15, 1, ",".join(accounts)]


def error(req_id: int, code: int, msg: str, advanced_json: str = "") -> Fields:
    """errorMsg (4); req_id -1 for notices not tied to a request or order."""
    return [4, 2, int(req_id), int(code), msg, advanced_json]


def current_time(epoch: int) -> Fields:
    """currentTime (49): server time in epoch seconds."""
    return [49, 1, int(epoch)]


def market_data_type(req_id: int, data_type: int) -> Fields:
    """marketDataType (58): 1 live, 2 frozen, 3 delayed, 4 delayed-frozen."""
    return [58, 1, int(req_id), int(data_type)]


# --- market data ticks -----------------------------------------------------------------


def tick_price(
    req_id: int, tick_type: int, price: float, size: float = 0.0, attrib_mask: int = 0
) -> Fields:
    """tickPrice (1) with its size; ib_async combines both into one priceSizeTick."""
    return [1, 6, int(req_id), int(tick_type), price, size, int(attrib_mask)]


def tick_size(req_id: int, tick_type: int, size: float) -> Fields:
    """tickSize (2)."""
    return [2, 6, int(req_id), int(tick_type), size]


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


def contract_details(req_id: int, cd: ContractDetails) -> Fields:
    """contractDetails (10) for a non-bond contract."""
    c = cd.contract
    if c is None:
        raise ValueError("ContractDetails.contract is required")
    last = c.lastTradeDateOrContractMonth
    if last and cd.lastTradeTime:
        last = f"{last} {cd.lastTradeTime}"
        if cd.timeZoneId:
            last = f"{last} {cd.timeZoneId}"
    fields: list = [
        10,
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
    fields += _tag_values(cd.secIdList)
    fields += [
        int(cd.aggGroup),
        cd.underSymbol,
        cd.underSecType,
        cd.marketRuleIds,
        cd.realExpirationDate,
        cd.stockType,
        cd.minSize,
        cd.sizeIncrement,
        cd.suggestedSizeIncrement,
    ]
    return fields


def contract_details_end(req_id: int) -> Fields:
    """contractDetailsEnd (52)."""
    return [52, 1, int(req_id)]


# --- positions and account -------------------------------------------------------------


def position(account: str, contract: Contract, pos: float, avg_cost: float) -> Fields:
    """position (61): one row of the reqPositions answer."""
    return [61, 3, account, *_contract11(contract, contract.exchange), pos, avg_cost]


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
        *_contract11(contract, contract.exchange),
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
        *_contract11(contract, contract.primaryExchange),
        *(_strict(v, k) for k, v in nums.items()),
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


# --- orders ----------------------------------------------------------------------------


def _combo_legs(c: Contract) -> list:
    legs: list[ComboLeg] = c.comboLegs or []
    out: list = [len(legs)]
    for leg in legs:
        out += [
            int(leg.conId),
            int(leg.ratio),
            leg.action,
            leg.exchange,
            int(leg.openClose),
            int(leg.shortSaleSlot),
            leg.designatedLocation,
            int(leg.exemptCode),
        ]
    return out


def _order_combo_legs(o: Order) -> list:
    legs = o.orderComboLegs or []
    return [len(legs), *(leg.price for leg in legs)]


def _scale(o: Order) -> list:
    out: list = [o.scaleInitLevelSize, o.scaleSubsLevelSize, o.scalePriceIncrement]
    if 0 < o.scalePriceIncrement < UNSET_DOUBLE:
        out += [
            o.scalePriceAdjustValue,
            o.scalePriceAdjustInterval,
            o.scaleProfitOffset,
            o.scaleAutoReset,
            o.scaleInitPosition,
            o.scaleInitFillQty,
            o.scaleRandomPercent,
        ]
    return out


def _hedge(o: Order) -> list:
    return [o.hedgeType, o.hedgeParam] if o.hedgeType else [o.hedgeType]


def _delta_neutral_contract(c: Contract) -> list:
    dnc = c.deltaNeutralContract
    return [True, int(dnc.conId), dnc.delta, dnc.price] if dnc else [False]


def _algo(o: Order) -> list:
    return [o.algoStrategy, *_tag_values(o.algoParams)] if o.algoStrategy else [""]


def _pegged(o: Order) -> list:
    if o.orderType not in {"PEG BENCH", "PEGBENCH"}:
        return []
    return [
        int(o.referenceContractId),
        o.isPeggedChangeAmountDecrease,
        o.peggedChangeAmount,
        o.referenceChangeAmount,
        o.referenceExchangeId,
    ]


def _conditions(o: Order) -> list:
    out: list = [len(o.conditions)]
    if o.conditions:
        for cond in o.conditions:
            out += list(astuple(cond))
        out += [o.conditionsIgnoreRth, o.conditionsCancelOrder]
    return out


def _peg_best_mid(o: Order) -> list:
    return [
        o.minTradeQty,
        o.minCompeteSize,
        o.competeAgainstBestOffset,
        o.midOffsetAtWhole,
        o.midOffsetAtHalf,
    ]


def _margin(text: str) -> str:
    """OrderState margin strings: TWS sends the unset double when there is no value."""
    return text if text else UNSET_DOUBLE_TEXT


def open_order(contract: Contract, order: Order, state: OrderState) -> Fields:
    """openOrder (5): the full order as TWS echoes it (orderId, clientId, permId from order)."""
    o, c, st = order, contract, state
    fields: list = [
        5,
        int(o.orderId),
        *_contract11(c, c.exchange),
        *_order_head(o),
        int(o.clientId),
        int(o.permId),
        o.outsideRth,
        o.hidden,
        o.discretionaryAmt,
        o.goodAfterTime,
        "",  # deprecated sharesAllocation
        o.faGroup,
        o.faMethod,
        o.faPercentage,
        o.modelCode,
        o.goodTillDate,
        o.rule80A,
        o.percentOffset,
        o.settlingFirm,
        int(o.shortSaleSlot),
        o.designatedLocation,
        int(o.exemptCode),
        int(o.auctionStrategy),
        o.startingPrice,
        o.stockRefPrice,
        o.delta,
        o.stockRangeLower,
        o.stockRangeUpper,
        o.displaySize,
        o.blockOrder,
        o.sweepToFill,
        o.allOrNone,
        o.minQty,
        o.ocaType,
        o.eTradeOnly,
        o.firmQuoteOnly,
        o.nbboPriceCap,
        int(o.parentId),
        o.triggerMethod,
        o.volatility,
        o.volatilityType,
        o.deltaNeutralOrderType,
        o.deltaNeutralAuxPrice,
    ]
    if o.deltaNeutralOrderType:
        fields += [
            int(o.deltaNeutralConId),
            o.deltaNeutralSettlingFirm,
            o.deltaNeutralClearingAccount,
            o.deltaNeutralClearingIntent,
            o.deltaNeutralOpenClose,
            o.deltaNeutralShortSale,
            int(o.deltaNeutralShortSaleSlot),
            o.deltaNeutralDesignatedLocation,
        ]
    fields += [
        o.continuousUpdate,
        o.referencePriceType,
        o.trailStopPrice,
        o.trailingPercent,
        o.basisPoints,
        o.basisPointsType,
        c.comboLegsDescrip,
        *_combo_legs(c),
        *_order_combo_legs(o),
        *_tag_values(o.smartComboRoutingParams),
        *_scale(o),
        *_hedge(o),
        o.optOutSmartRouting,
        o.clearingAccount,
        o.clearingIntent,
        o.notHeld,
        *_delta_neutral_contract(c),
        *_algo(o),
        o.solicited,
        o.whatIf,
        st.status,
        _margin(st.initMarginBefore),
        _margin(st.maintMarginBefore),
        _margin(st.equityWithLoanBefore),
        _margin(st.initMarginChange),
        _margin(st.maintMarginChange),
        _margin(st.equityWithLoanChange),
        _margin(st.initMarginAfter),
        _margin(st.maintMarginAfter),
        _margin(st.equityWithLoanAfter),
        st.commission,
        st.minCommission,
        st.maxCommission,
        st.commissionCurrency,
        st.warningText,
        o.randomizeSize,
        o.randomizePrice,
        *_pegged(o),
        *_conditions(o),
        o.adjustedOrderType,
        o.triggerPrice,
        o.trailStopPrice,
        o.lmtPriceOffset,
        o.adjustedStopPrice,
        o.adjustedStopLimitPrice,
        o.adjustedTrailingAmount,
        int(o.adjustableTrailingUnit),
        o.softDollarTier.name,
        o.softDollarTier.val,
        o.softDollarTier.displayName,
        o.cashQty,
        o.dontUseAutoPriceForHedge,
        o.isOmsContainer,
        o.discretionaryUpToLimitPrice,
        o.usePriceMgmtAlgo,
        o.duration,
        o.postToAts,
        o.autoCancelParent,
        *_peg_best_mid(o),
    ]
    return fields


def open_order_end() -> Fields:
    """openOrderEnd (53): ends reqOpenOrders / reqAllOpenOrders."""
    return [53, 1]


def completed_order(contract: Contract, order: Order, state: OrderState) -> Fields:
    """completedOrder (101): a filled or cancelled order (state.completedTime/Status)."""
    o, c, st = order, contract, state
    fields: list = [
        101,
        *_contract11(c, c.exchange),
        *_order_head(o),
        int(o.permId),
        o.outsideRth,
        o.hidden,
        o.discretionaryAmt,
        o.goodAfterTime,
        o.faGroup,
        o.faMethod,
        o.faPercentage,
        o.modelCode,
        o.goodTillDate,
        o.rule80A,
        o.percentOffset,
        o.settlingFirm,
        int(o.shortSaleSlot),
        o.designatedLocation,
        int(o.exemptCode),
        o.startingPrice,
        o.stockRefPrice,
        o.delta,
        o.stockRangeLower,
        o.stockRangeUpper,
        o.displaySize,
        o.sweepToFill,
        o.allOrNone,
        o.minQty,
        o.ocaType,
        o.triggerMethod,
        o.volatility,
        o.volatilityType,
        o.deltaNeutralOrderType,
        o.deltaNeutralAuxPrice,
    ]
    if o.deltaNeutralOrderType:
        fields += [
            int(o.deltaNeutralConId),
            o.deltaNeutralShortSale,
            int(o.deltaNeutralShortSaleSlot),
            o.deltaNeutralDesignatedLocation,
        ]
    fields += [
        o.continuousUpdate,
        o.referencePriceType,
        o.trailStopPrice,
        o.trailingPercent,
        c.comboLegsDescrip,
        *_combo_legs(c),
        *_order_combo_legs(o),
        *_tag_values(o.smartComboRoutingParams),
        *_scale(o),
        *_hedge(o),
        o.clearingAccount,
        o.clearingIntent,
        o.notHeld,
        *_delta_neutral_contract(c),
        *_algo(o),
        o.solicited,
        st.status,
        o.randomizeSize,
        o.randomizePrice,
        *_pegged(o),
        *_conditions(o),
        o.trailStopPrice,
        o.lmtPriceOffset,
        o.cashQty,
        o.dontUseAutoPriceForHedge,
        o.isOmsContainer,
        o.autoCancelDate,
        o.filledQuantity,
        int(o.refFuturesConId),
        o.autoCancelParent,
        o.shareholder,
        o.imbalanceOnly,
        o.routeMarketableToBbo,
        int(o.parentPermId),
        st.completedTime,
        st.completedStatus,
        *_peg_best_mid(o),
    ]
    return fields


def completed_orders_end() -> Fields:
    """completedOrdersEnd (102)."""
    return [102]


def order_status(
    order_id: int,
    status: str,
    filled: float,
    remaining: float,
    avg_fill_price: float,
    perm_id: int,
    parent_id: int,
    last_fill_price: float,
    client_id: int,
    why_held: str = "",
    mkt_cap_price: float = 0.0,
) -> Fields:
    """orderStatus (3); no version field at this server version."""
    return [
        3,
        int(order_id),
        status,
        filled,
        remaining,
        avg_fill_price,
        int(perm_id),
        int(parent_id),
        last_fill_price,
        int(client_id),
        why_held,
        mkt_cap_price,
    ]


# --- executions ------------------------------------------------------------------------


def format_exec_time(t: datetime) -> str:
    """``YYYYmmdd HH:MM:SS <IANA zone>``; naive datetimes are taken as UTC."""
    tz = t.tzinfo
    if isinstance(tz, ZoneInfo):
        return f"{t:%Y%m%d %H:%M:%S} {tz.key}"
    utc = t.replace(tzinfo=UTC) if tz is None else t.astimezone(UTC)
    return f"{utc:%Y%m%d %H:%M:%S} UTC"


def exec_details(req_id: int, contract: Contract, execution: Execution) -> Fields:
    """execDetails (11); req_id -1 for live fills, the reqExecutions id otherwise."""
    ex = execution
    return [
        11,
        int(req_id),
        int(ex.orderId),
        *_contract11(contract, contract.exchange),
        ex.execId,
        format_exec_time(ex.time),
        ex.acctNumber,
        ex.exchange,
        ex.side,
        ex.shares,
        ex.price,
        int(ex.permId),
        int(ex.clientId),
        int(ex.liquidation),
        ex.cumQty,
        ex.avgPrice,
        ex.orderRef,
        ex.evRule,
        ex.evMultiplier,
        ex.modelCode,
        int(ex.lastLiquidity),
        ex.pendingPriceRevision,
    ]


def exec_details_end(req_id: int) -> Fields:
    """execDetailsEnd (55)."""
    return [55, 1, int(req_id)]


def commission_report(
    exec_id: str,
    commission: float,
    currency: str,
    realized_pnl: float | None = None,
    yield_: float = UNSET_DOUBLE,
    yield_redemption_date: int = 0,
) -> Fields:
    """commissionReport (59); realized_pnl None (an opening fill) is sent as unset.

    ib_async turns an unset realizedPNL or yield into 0.0.
    """
    realized = UNSET_DOUBLE if realized_pnl is None else realized_pnl
    return [59, 1, exec_id, commission, currency, realized, yield_, int(yield_redemption_date)]


# --- historical data -------------------------------------------------------------------


def _bar_numbers(bar: Bar) -> list:
    """Validate one bar's numbers (the decoder has no fallback for empty ones)."""
    date, *nums, count = bar
    names = ("open", "high", "low", "close", "volume", "wap")
    return [
        date,
        *(_strict(v, f"bar {date} {n}") for n, v in zip(names, nums, strict=True)),
        int(count),
    ]


def historical_data(req_id: int, start: str, end: str, bars: Iterable[Bar]) -> Fields:
    """historicalData (17): all bars at once; ib_async ends the request on it."""
    bars = list(bars)
    fields: list = [17, int(req_id), start, end, len(bars)]
    for bar in bars:
        fields += _bar_numbers(bar)
    return fields


def historical_data_update(req_id: int, bar_count: int, bar: Bar) -> Fields:
    """historicalDataUpdate (90) for keepUpToDate.

    ``bar_count`` fills the wire's barCount slot (ib_async's ``BarData.barCount``);
    the tuple's own count element is not sent.
    """
    date, o, h, low, c, volume, wap, _count = bar
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
        *(_strict(s, "strike") for s in strikes),
    ]


def sec_def_opt_params_end(req_id: int) -> Fields:
    """securityDefinitionOptionParameterEnd (76)."""
    return [76, int(req_id)]


def user_info(req_id: int, white_branding_id: str = "") -> Fields:
    """userInfo (107): answer to reqUserInfo."""
    return [107, int(req_id), white_branding_id]
