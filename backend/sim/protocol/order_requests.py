"""Parsing of placeOrder (3): the 35-field prefix, BAG legs and the long version-dependent tail.

Layouts follow the clients' ``placeOrder`` (``ib_async``, ``ib_insync``, ``ibapi``) at the
session's negotiated version; the fields added by a ``MIN_SERVER_VER_*`` gate are the rows
of ``FA_GATED`` and ``ORDER_END_GATED`` (and the peg-best/peg-mid block from its gate on).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from ib_async import ComboLeg, Contract, Order
from ib_async.order import OrderComboLeg, OrderCondition

from livedesk.backend.sim.protocol.request_base import Cursor, Request
from livedesk.backend.sim.protocol.wire import UNSET_DOUBLE, UNSET_INT


@dataclass(frozen=True)
class PlaceOrder(Request):
    """A new order or a modification (same order_id); ``order.whatIf`` marks a what-if."""

    MSG_ID: ClassVar[int] = 3
    order_id: int
    contract: Contract
    order: Order


_D = UNSET_DOUBLE
_I = UNSET_INT


def _set(c: Cursor, o: object, spec: str) -> None:
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


def _order_prefix(c: Cursor, o: Order) -> None:
    _set(
        c,
        o,
        "action:s totalQuantity:f orderType:s lmtPrice:F auxPrice:F tif:s ocaGroup:s "
        "account:s openClose:s origin:i orderRef:s transmit:b parentId:i blockOrder:b "
        "sweepToFill:b displaySize:i triggerMethod:i outsideRth:b hidden:b",
    )


def _order_bag(c: Cursor, contract: Contract, o: Order) -> None:
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


def _order_conditions(c: Cursor, o: Order) -> None:
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


FA_GATED: tuple[tuple[str, bool, str], ...] = (
    # (gate, read while the gate is open?, fields): faProfile is sent until 177
    ("fa_profile_desupport", False, "faProfile:s"),
)

ORDER_END_GATED: tuple[tuple[str, bool, str], ...] = (
    ("order_duration", True, "duration:I"),
    ("post_to_ats", True, "postToAts:I"),
    ("auto_cancel_parent", True, "autoCancelParent:b"),
    ("advanced_order_reject", True, "advancedErrorOverride:s"),
    ("manual_order_time", True, "manualOrderTime:s"),
)
"""placeOrder's closing fields before the peg-best/peg-mid block, in wire order."""


def _set_gated(c: Cursor, o: object, rows: tuple[tuple[str, bool, str], ...]) -> None:
    for gate, when_open, spec in rows:
        if c.proto.has(gate) == when_open:
            _set(c, o, spec)


def _order_tail(c: Cursor, contract: Contract, o: Order) -> None:
    c.text("sharesAllocation")  # deprecated, always empty
    _set(
        c,
        o,
        "discretionaryAmt:f goodAfterTime:s goodTillDate:s faGroup:s faMethod:s faPercentage:s",
    )
    _set_gated(c, o, FA_GATED)
    _set(
        c,
        o,
        "modelCode:s shortSaleSlot:i designatedLocation:s exemptCode:i "
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
        "discretionaryUpToLimitPrice:b usePriceMgmtAlgo:b",
    )
    _set_gated(c, o, ORDER_END_GATED)
    if c.proto.peg_best_mid_offsets:
        _peg_best_mid(c, contract, o)


def _peg_best_mid(c: Cursor, contract: Contract, o: Order) -> None:
    """The peg-best / peg-mid offsets block (from its gate on; value-dependent)."""
    if contract.exchange == "IBKRATS":
        _set(c, o, "minTradeQty:I")
    if o.orderType in {"PEG BEST", "PEGBEST"}:
        _set(c, o, "minCompeteSize:I competeAgainstBestOffset:F")
        if o.competeAgainstBestOffset == math.inf:
            _set(c, o, "midOffsetAtWhole:F midOffsetAtHalf:F")
    elif o.orderType in {"PEG MID", "PEGMID"}:
        _set(c, o, "midOffsetAtWhole:F midOffsetAtHalf:F")


def parse_place_order(c: Cursor) -> Request:
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
