"""Send exactly a previewed ticket: every order through ``TradingApp.send_order`` (the guard,
the pacing scheduler, the write-ahead journal), tagged ``manual#<key>``.

A bracket goes parent first (held: ``transmit=False``), then each child with the parent's id
as ``parentId``, the last one transmitting the group. When a child is refused after the parent
was placed, the parent is cancelled: nothing of a half bracket ever goes live.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from livedesk.backend.broker.orderref import make_ref, new_key
from livedesk.backend.manual.ticket import OrderTicket, Preview

if TYPE_CHECKING:
    from ib_async import Contract

    from livedesk.backend.trading.app import TradingApp
    from livedesk.backend.trading.results import OrderResult

MANUAL = "manual"
"""The strategy name of orders placed by hand (``orderRef`` ``manual#<key>``)."""


class PreviewNotSendable(RuntimeError):
    """The preview is stale or expired; nothing was sent."""


async def send_preview(
    app: TradingApp,
    contract: Contract,
    ticket: OrderTicket,
    preview: Preview,
    now: float,
    *,
    dry_run: bool = False,
) -> list[OrderResult]:
    """Send the previewed orders (parent, then bracket children); raises PreviewNotSendable,
    or the guard's OrderRefused, with nothing live left behind."""
    why = preview.why_not_sendable(ticket, now)
    if why is not None:
        raise PreviewNotSendable(why)
    orders = preview.copies()
    for order in orders:
        order.orderRef = make_ref(MANUAL, new_key())
    parent, children = orders[0], orders[1:]
    results = [await app.send_order(contract, parent, strategy=MANUAL, dry_run=dry_run)]
    try:
        for child in children:
            child.parentId = parent.orderId
            results.append(await app.send_order(contract, child, strategy=MANUAL, dry_run=dry_run))
    except BaseException:
        if results[0].sent:
            app.ib.cancelOrder(parent)  # held (transmit=False): cancelling it ends the group
        raise
    return results
