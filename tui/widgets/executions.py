"""The Executions view of pane 2: every fill (the journal's and this session's), by ``e``.

:class:`OrdersExecutionsPane` is the Orders pane with a second table: ``e`` swaps the
pane's table between the orders and the executions, so sort, filter and follow work on
whichever is shown.
"""

from __future__ import annotations

import datetime as dt

from textual.app import ComposeResult

from livedesk.backend.console.market_clock import NEW_YORK
from livedesk.tui import format as fmt
from livedesk.tui.widgets.line_table import Column, LineTable, Row
from livedesk.tui.widgets.orders import OrdersPane

COLUMNS = (
    Column("time", "Time", 8),
    Column("strategy", "Strategy", 10),
    Column("contract", "Contract", 14),
    Column("side", "Side", 4),
    Column("qty", "Qty", 6, "right", True),
    Column("price", "Price", 9, "right", True),
    Column("commission", "Comm", 10, "right", True),
    Column("slip", "Slip", 8, "right", True),
)


def exec_time(t: float, today: dt.date | None = None) -> str:
    """New York time: ``10:31:02`` today, ``04DEC 10:31:02`` on an earlier day."""
    if not fmt.ok(t):
        return ""
    when = dt.datetime.fromtimestamp(t, NEW_YORK)
    if today is None or when.date() == today:
        return when.strftime("%H:%M:%S")
    return when.strftime("%d%b %H:%M:%S").upper()


def slip_text(s) -> fmt.Cell:
    """The Orders pane's slippage cell: ``+11.1bp`` or ``$+2.00/u``; + is a cost."""
    if fmt.ok(s.bps):
        return (f"{s.bps:+.1f}bp", "down" if s.bps > 0 else "up")
    if fmt.ok(s.per_unit):
        return (f"${s.per_unit:+.2f}/u", "down" if s.per_unit > 0 else "up")
    return ("", "")


def execution_table_rows(executions, today: dt.date | None = None) -> list[Row]:
    """Table rows from :class:`~livedesk.backend.console.executions.ExecutionRow` objects."""
    rows = []
    for e in executions:
        commission = ""
        if fmt.ok(e.commission):
            commission = f"{e.commission:,.2f}" + (f" {e.currency}" if e.currency else "")
        slip = slip_text(e.slippage)
        rows.append(
            Row(
                e.exec_id,
                (
                    fmt.plain(exec_time(e.time, today)),
                    fmt.plain(e.strategy),
                    fmt.plain(e.contract),
                    (e.side, "up" if e.side == "BUY" else "down"),
                    fmt.plain(fmt.qty(e.quantity)),
                    fmt.plain(fmt.price(e.price)),
                    fmt.plain(commission),
                    slip,
                ),
                (
                    e.time,
                    e.strategy,
                    e.contract,
                    e.side,
                    e.quantity,
                    e.price,
                    e.commission,
                    e.slippage.bps if fmt.ok(e.slippage.bps) else e.slippage.per_unit,
                ),  # fmt: skip
            )
        )
    return rows


class OrdersExecutionsPane(OrdersPane):
    """The Orders pane; ``e`` toggles Orders / Executions (see the module docstring)."""

    HELP = OrdersPane.HELP + (
        " e shows the executions instead (and back): every fill of the account with its "
        "time (New York, broker time; the date for an earlier day), strategy, contract, "
        "side, quantity, price, commission and slippage (the Orders figure, on the fill's "
        "own price), the journal's fills of earlier runs included."
    )

    def __init__(self) -> None:
        super().__init__()
        self.orders_table = self.table
        self.executions_table = LineTable(
            COLUMNS, empty_text="no executions", id="executions-table"
        )
        self.executions_table.display = False
        self.showing_executions = False

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield self.executions_table

    def refresh_from(self, session, force: bool = False) -> None:
        if not self.showing_executions:
            super().refresh_from(session, force)
            return
        v = session.versions["orders"]
        if not force and self.versions.get("executions") == v:
            return
        self.versions["executions"] = v
        rows = execution_table_rows(session.executions(), session.today())
        table = self.executions_table
        for i in (0, 2):  # time (a date on earlier days) and contract: sized to their content
            widest = max((len(r.cells[i][0]) for r in rows), default=0)
            table.set_column_width(i, max(COLUMNS[i].width, min(widest, 48)))
        table.set_rows(rows)

    def action_toggle_executions(self) -> None:
        """``e``: Orders ⇄ Executions."""
        self.showing_executions = not self.showing_executions
        shown = self.executions_table if self.showing_executions else self.orders_table
        hidden = self.orders_table if self.showing_executions else self.executions_table
        had_focus = hidden.has_focus
        hidden.display, shown.display = False, True
        self.table = shown
        self.border_title = self._view_title()
        self.refresh_from(self.app.session, True)
        if had_focus:
            shown.focus()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """A selected execution is not an order: x (and m) work in the Orders view only."""
        if self.showing_executions and action in ("cancel_order", "modify_order"):
            return False
        return super().check_action(action, parameters)

    def _view_title(self) -> str:
        from livedesk.backend.console.actions import PANES

        number = PANES.index(self.pane_id) + 1
        return f"{number} Executions" if self.showing_executions else f"{number} Orders"
