"""Pane 1, Positions: keyed by conId; combo legs grouped under their combo."""

from __future__ import annotations

import math

from livedesk.tui import format as fmt
from livedesk.tui.bindings import bindings
from livedesk.tui.widgets.line_table import Column, Row
from livedesk.tui.widgets.pane import TablePane

COLUMNS = (
    Column("symbol", "Symbol", 8),
    Column("type", "Type", 4),
    Column("qty", "Qty", 8, "right", True),
    Column("avg", "Avg cost", 9, "right", True),
    Column("price", "Price", 9, "right", True),
    Column("value", "Mkt value", 12, "right", True),
    Column("unreal", "Unrl PnL", 10, "right", True),
    Column("real", "Real PnL", 10, "right", True),
    Column("weight", "Wt NLV", 7, "right", True),
    Column("strategy", "Strategy", 16, flex=True),
)


def format_position(v: tuple) -> tuple[tuple[str, str], ...]:
    """Cells of one position row's values (see :func:`position_table_rows`); a combo's header
    shows its net price per unit, ``cr`` for a credit (a sold combo)."""
    symbol, sec_type, qty, avg, price, value, unreal, real, weight, strategy, group = v
    head = "group" if group else ""
    if group:
        avg_text = f"{fmt.price(abs(avg))} {'cr' if avg < 0 else 'db'}" if fmt.ok(avg) else ""
        price_text = f"{fmt.price(abs(price))}" if fmt.ok(price) else ""
    else:
        avg_text, price_text = fmt.price(avg), fmt.price(price)
    return (
        (symbol, head),
        (sec_type, head),
        (fmt.qty(qty), ""),
        (avg_text, ""),
        (price_text, ""),
        (fmt.num(value, 0), ""),
        fmt.signed(unreal),
        fmt.signed(real),
        (fmt.pct(weight), ""),
        (strategy, ""),
    )


def combo_units(quantities: list[float]) -> float:
    """How many combos the legs make: the greatest common divisor of their sizes."""
    ints = [abs(int(q)) for q in quantities if q and float(q).is_integer()]
    if len(ints) != len(quantities) or not ints:
        return min(abs(q) for q in quantities if q) if any(quantities) else 1.0
    return float(math.gcd(*ints)) or 1.0


def position_table_rows(positions) -> list[Row]:
    """Table rows (raw values, formatted when drawn) from ``PositionRow`` objects; a combo's
    legs are listed under a header row with the combo's totals."""
    rows: list[Row] = []
    groups: dict[str, list] = {}
    for p in positions:
        if p.group:
            groups.setdefault(p.group, []).append(p)
    for label, legs in groups.items():
        value = sum(p.market_value for p in legs if fmt.ok(p.market_value))
        unreal = sum(p.unrealized for p in legs if fmt.ok(p.unrealized))
        real = sum(p.realized for p in legs if fmt.ok(p.realized))
        weight = sum(p.weight for p in legs if fmt.ok(p.weight))
        strategies = ",".join(sorted({s for p in legs for s in p.strategy.split(",") if s}))
        units = combo_units([p.quantity for p in legs])
        net = sum(p.quantity * p.avg_cost for p in legs if fmt.ok(p.avg_cost)) / units
        mark = sum(p.quantity * p.market_price for p in legs if fmt.ok(p.market_price)) / units
        sold = net < 0  # a credit was received: the combo was sold
        kind, qty = ("SOLD", -units) if sold else ("BAG", units)
        values = (label, kind, qty, net, mark, value, unreal, real, weight, strategies, True)
        rows.append(Row(("combo", label), values=values))
    for p in positions:
        values = (
            f"└ {p.symbol}" if p.group else p.symbol,
            p.sec_type,
            p.quantity,
            p.avg_cost,
            p.market_price,
            p.market_value,
            p.unrealized,
            p.realized,
            p.weight,
            p.strategy,
            False,
        )
        rows.append(Row(p.con_id, values=values, parent=("combo", p.group) if p.group else None))
    return rows


class PositionsPane(TablePane):
    """Every open position, live."""

    pane_id = "positions"
    COLUMNS = COLUMNS
    EMPTY = "no open positions"
    FORMATTER = staticmethod(format_position)
    BINDINGS = bindings("positions")
    HELP = (
        "Every open position of the account: symbol, type (combo legs grouped under their "
        "combo), quantity, average cost, market price, market value, unrealized and realized "
        "PnL, weight of NetLiquidation and the strategy that traded it (from orderRef). "
        "Rows are keyed by conId; the cursor stays on its row while prices tick. "
        "X closes the selected position at market (a combo as its BAG) after a preview; "
        "o opens the order ticket on its contract."
    )

    def refresh_from(self, session, force: bool = False) -> None:
        v = session.versions["positions"]
        if not force and self.versions.get("positions") == v:
            return
        self.versions["positions"] = v
        positions = session.positions()
        rows = position_table_rows(positions)
        widest = max((len(str(r.values[0])) for r in rows), default=0)
        self.table.set_column_width(0, max(COLUMNS[0].width, min(widest, 60)))
        self.table.set_rows(rows)

    def action_close_position(self) -> None:
        self.app.run_worker(self.app.close_selected_position(), exclusive=False)

    def ticket_contract(self) -> str | None:
        """The selected position's contract as typed in the order ticket (None on a combo)."""
        row = self.table.cursor_row
        if row is None or isinstance(row.key, tuple):  # none, or a combo's header
            return None
        found = next((p for p in self.app.session.positions() if p.con_id == row.key), None)
        return found.symbol if found is not None else None
