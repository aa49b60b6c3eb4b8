"""Modify a working order (price and/or quantity) as the same orderId, previewed like a ticket.

Pure helpers plus the send: the working order becomes an :class:`OrderTicket` (so the preview,
the collar and the problems are the ticket's own), the modified order is a copy of the working
one (same ``orderId``, ``permId``, ``orderRef``, ``parentId``) with only the price and quantity
changed, and sending places that copy again: IB (and the simulated gateway) modify the order in
place, no new order exists.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace
from typing import TYPE_CHECKING

from ib_async import Order

from livedesk.backend.manual.sender import MANUAL, PreviewNotSendable
from livedesk.backend.manual.ticket import OrderTicket, Preview

if TYPE_CHECKING:
    from ib_async import Contract, Trade

    from livedesk.backend.trading.app import TradingApp

DONE = ("Filled", "Cancelled", "ApiCancelled", "Inactive")
PRICE_FIELD = {"LMT": "limit", "LOC": "limit", "STP LMT": "limit", "STP": "stop"}
"""Which price a modification changes, by order type (MKT, MOC and TRAIL have none)."""


class ModifyError(ValueError):
    """The modification cannot be made (in words); nothing was sent."""


def _set(x: float) -> float | None:
    return x if x is not None and math.isfinite(x) and 0 < x < 1e300 else None


def ticket_of_order(order: Order, contract: Contract, label: str) -> OrderTicket:
    """The ticket a working order would have been entered with."""
    return OrderTicket(
        contract=contract,
        label=label,
        action=order.action,
        size=float(order.totalQuantity),
        order_type=order.orderType,
        limit=_set(order.lmtPrice),
        stop=_set(order.auxPrice) if order.orderType in ("STP", "STP LMT") else None,
        trail_amount=_set(order.auxPrice) if order.orderType == "TRAIL" else None,
        trail_percent=_set(order.trailingPercent) if order.orderType == "TRAIL" else None,
        tif=order.tif or "DAY",
        outside_rth=bool(order.outsideRth),
    )


def check_modification(trade: Trade, quantity: float | None, price: float | None) -> list[str]:
    """Why ``trade`` cannot be modified to ``quantity`` / ``price`` (empty: it can)."""
    o, status = trade.order, trade.orderStatus
    if status.status in DONE:
        return [f"order #{o.orderId} is {status.status}: only a working order can be modified"]
    out = []
    if quantity is None and price is None:
        out.append("give a new price or a new quantity")
    if quantity is not None:
        if not (math.isfinite(quantity) and quantity == int(quantity) and quantity >= 1):
            out.append(f"quantity must be a whole number of 1 or more, got {quantity:g}")
        elif quantity <= float(status.filled or 0):
            out.append(
                f"quantity {quantity:g} is not above the {float(status.filled):g} already filled"
            )
    if price is not None:
        if o.orderType not in PRICE_FIELD:
            out.append(f"a {o.orderType} order has no price to modify (only its quantity)")
        elif not (math.isfinite(price) and price > 0):
            out.append(f"price must be positive, got {price:g}")
    return out


def modify_ticket(ticket: OrderTicket, quantity: float | None, price: float | None) -> None:
    """Edit ``ticket`` to the new quantity / price (the one the order type has)."""
    changes: dict = {}
    if quantity is not None:
        changes["size"] = float(quantity)
    if price is not None:
        changes[PRICE_FIELD[ticket.order_type]] = float(price)
    ticket.edit(**changes)


def modified_order(working: Order, ticket: OrderTicket) -> Order:
    """A copy of the working order carrying the ticket's quantity and price, nothing else."""
    order = Order(**{f.name: getattr(working, f.name) for f in fields(Order)})  # a plain Order
    order.totalQuantity = float(ticket.size)
    if ticket.order_type in ("LMT", "LOC", "STP LMT"):
        order.lmtPrice = float(ticket.limit)
    if ticket.order_type in ("STP", "STP LMT"):
        order.auxPrice = float(ticket.stop)
    order.transmit = True
    return order


def modification_preview(working: Order, ticket: OrderTicket, now: float) -> Preview:
    """The preview of the modification: exactly the order that will be placed again."""
    return Preview(ticket.version, now, int(ticket.size), (modified_order(working, ticket),))


async def send_modification(
    app: TradingApp, contract: Contract, ticket: OrderTicket, preview: Preview, now: float
) -> Trade:
    """Place the previewed modification (same orderId): the guard checks it first, the pacing
    scheduler paces it; PreviewNotSendable / OrderRefused leave the working order as it was."""
    why = preview.why_not_sendable(ticket, now)
    if why is not None:
        raise PreviewNotSendable(why)
    order = preview.copies()[0]
    await app.send_order(contract, replace(order), strategy=MANUAL, dry_run=True)
    await app.pacing.acquire()
    return app.ib.placeOrder(contract, order)
