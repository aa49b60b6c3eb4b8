"""Pane 2, Orders: working orders and today's orders with slippage vs the arrival mid."""

from __future__ import annotations

from livedesk.backend.console.views import ny_time
from livedesk.tui import format as fmt
from livedesk.tui.bindings import bindings
from livedesk.tui.widgets.line_table import Column, Row
from livedesk.tui.widgets.pane import TablePane

COLUMNS = (
    Column("time", "Time", 8),
    Column("strategy", "Strategy", 12),
    Column("contract", "Contract", 14),
    Column("side", "Side", 4),
    Column("qty", "Qty", 6, "right", True),
    Column("fill", "Fill/Rem", 9, "right"),
    Column("type", "Type", 7),
    Column("limit", "Limit", 8, "right", True),
    Column("status", "Status", 10),
    Column("avg", "Avg fill", 8, "right", True),
    Column("slip", "Slip", 8, "right", True),
)

STATUS_STYLE = {
    "Filled": "good",
    "Cancelled": "dim",
    "ApiCancelled": "dim",
    "Inactive": "bad",
    "PendingCancel": "warn",
}


def slip_cell(o) -> fmt.Cell:
    """``+11.1bp`` (of the notional at the arrival mid) or ``$+2.00/u``; + is a cost."""
    s = o.slippage
    if s is None:
        bps = o.slippage_bps
        return (fmt.bps(bps) + "bp", "down" if bps > 0 else "up") if fmt.ok(bps) else ("", "")
    if fmt.ok(s.bps):
        return (f"{s.bps:+.1f}bp", "down" if s.bps > 0 else "up")
    if fmt.ok(s.per_unit):
        return (f"${s.per_unit:+.2f}/u", "down" if s.per_unit > 0 else "up")
    return ("", "")


def order_table_rows(orders) -> list[Row]:
    """Table rows from :class:`~livedesk.backend.console.views.OrderRow` objects."""
    rows = []
    for o in orders:
        rows.append(
            Row(
                o.order_id,
                (
                    fmt.plain(ny_time(o.time)),
                    fmt.plain(o.strategy),
                    fmt.plain(o.contract),
                    (o.side, "up" if o.side == "BUY" else "down"),
                    fmt.plain(fmt.qty(o.quantity)),
                    fmt.plain(f"{fmt.qty(o.filled) or 0}/{fmt.qty(o.remaining) or 0}"),
                    fmt.plain(o.order_type),
                    fmt.plain(fmt.price(o.limit)),
                    (o.status, STATUS_STYLE.get(o.status, "bold")),
                    fmt.plain(fmt.price(o.avg_fill)),
                    slip_cell(o),
                ),
                (
                    o.time,
                    o.strategy,
                    o.contract,
                    o.side,
                    o.quantity,
                    o.filled,
                    o.order_type,
                    o.limit,
                    o.status,
                    o.avg_fill,
                    o.slippage_bps if fmt.ok(o.slippage_bps) else _per_unit(o),
                ),
            )
        )
    return rows


def _per_unit(o) -> float:
    return o.slippage.per_unit if o.slippage is not None else o.slippage_bps


class OrdersPane(TablePane):
    """Working orders and today's fills."""

    pane_id = "orders"
    COLUMNS = COLUMNS
    EMPTY = "no orders today"
    BINDINGS = bindings("orders")
    HELP = (
        "Working orders and today's orders: time (New York), strategy, contract, side, "
        "quantity, filled/remaining, type, limit, status, average fill and slippage against "
        "the mid when the order was sent: bps of the order's notional at that mid (a combo: "
        "its net mid × multiplier × quantity), or $ per unit when the net mid is too small "
        "for bps (|mid| < 0.10); positive is a cost, for buys and sells, credits and debits. "
        "x cancels the selected "
        "order (asks first), C cancels every working order (type CANCEL to confirm), "
        "m modifies the selected working order's price and/or quantity (previewed, same id)."
    )

    def refresh_from(self, session, force: bool = False) -> None:
        v = session.versions["orders"]
        if not force and self.versions.get("orders") == v:
            return
        self.versions["orders"] = v
        orders = session.orders()
        widest = max((len(o.contract) for o in orders), default=0)  # sized to its content
        self.table.set_column_width(2, max(COLUMNS[2].width, min(widest, 48)))
        self.table.set_rows(order_table_rows(orders))

    def action_cancel_order(self) -> None:
        self.app.run_worker(self.app.cancel_selected_order(), exclusive=False)

    def action_cancel_all(self) -> None:
        self.app.run_worker(self.app.cancel_all_orders(), exclusive=False)

    def action_modify_order(self) -> None:
        self.app.run_worker(self.app.modify_selected_order(), exclusive=False)
