"""Encoders for the order and execution messages: openOrder, completedOrder, orderStatus,
execDetails and commissionReport, each laid out by the negotiated version's rules.

Every function returns the message's fields (message id first) for ``wire.encode_frame``.
Gated fields come from :class:`~livedesk.backend.sim.protocol.versions.Protocol` flags; each row
of the ``*_GATED`` tables is one ``MIN_SERVER_VER_*`` addition, in wire order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import astuple
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ib_async import ComboLeg, Contract, Execution, Order, OrderState

from livedesk.backend.sim.protocol.message_fields import contract11, tag_values
from livedesk.backend.sim.protocol.versions import Protocol
from livedesk.backend.sim.protocol.wire import UNSET_DOUBLE, UNSET_DOUBLE_TEXT

Fields = list
GatedRows = tuple[tuple[str, bool, Callable[[Order], list]], ...]
"""(gate name, fields sent while the gate is open?, fields of the order) rows."""


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
    return [o.algoStrategy, *tag_values(o.algoParams)] if o.algoStrategy else [""]


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


def _fa_profile(o: Order) -> list:
    return [o.faProfile]


_FA_GATED: GatedRows = (
    # (gate, sent while the gate is open?, fields): faProfile is sent until 177
    ("fa_profile_desupport", False, _fa_profile),
)

OPEN_ORDER_TAIL_GATED: GatedRows = (
    ("order_duration", True, lambda o: [o.duration]),
    ("post_to_ats", True, lambda o: [o.postToAts]),
    ("auto_cancel_parent", True, lambda o: [o.autoCancelParent]),
    ("peg_best_mid_offsets", True, _peg_best_mid),
)
"""openOrder's closing fields, one row per gate, in wire order."""

COMPLETED_ORDER_TAIL_GATED: GatedRows = (("peg_best_mid_offsets", True, _peg_best_mid),)
"""completedOrder's closing fields (its autoCancelParent is not gated)."""


def _gated(proto: Protocol, rows: GatedRows, o: Order) -> list:
    """The fields of each row whose gate is in the wanted state at this version."""
    out: list = []
    for gate, when_open, fields in rows:
        if proto.has(gate) == when_open:
            out += fields(o)
    return out


def _margin(text: str) -> str:
    """OrderState margin strings: TWS sends the unset double when there is no value."""
    return text if text else UNSET_DOUBLE_TEXT


def open_order(contract: Contract, order: Order, state: OrderState, *, proto: Protocol) -> Fields:
    """openOrder (5): the full order as TWS echoes it (orderId, clientId, permId from order)."""
    o, c, st = order, contract, state
    fields: list = [
        5,
        int(o.orderId),
        *contract11(c, c.exchange),
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
        *_gated(proto, _FA_GATED, o),
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
        *tag_values(o.smartComboRoutingParams),
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
        *_gated(proto, OPEN_ORDER_TAIL_GATED, o),
    ]
    return fields


def open_order_end() -> Fields:
    """openOrderEnd (53): ends reqOpenOrders / reqAllOpenOrders."""
    return [53, 1]


def completed_order(
    contract: Contract, order: Order, state: OrderState, *, proto: Protocol
) -> Fields:
    """completedOrder (101): a filled or cancelled order (state.completedTime/Status)."""
    o, c, st = order, contract, state
    fields: list = [
        101,
        *contract11(c, c.exchange),
        *_order_head(o),
        int(o.permId),
        o.outsideRth,
        o.hidden,
        o.discretionaryAmt,
        o.goodAfterTime,
        o.faGroup,
        o.faMethod,
        o.faPercentage,
        *_gated(proto, _FA_GATED, o),
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
        *tag_values(o.smartComboRoutingParams),
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
        *_gated(proto, COMPLETED_ORDER_TAIL_GATED, o),
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


def exec_details(
    req_id: int, contract: Contract, execution: Execution, *, proto: Protocol
) -> Fields:
    """execDetails (11); req_id -1 for live fills, the reqExecutions id otherwise."""
    ex = execution
    fields: list = [
        11,
        int(req_id),
        int(ex.orderId),
        *contract11(contract, contract.exchange),
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
    ]
    if proto.pending_price_revision:
        fields.append(ex.pendingPriceRevision)
    return fields


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
