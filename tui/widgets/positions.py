"""Pane 1, Positions: keyed by conId; combo legs grouped under their combo."""

from __future__ import annotations

from livedesk.tui import format as fmt
from livedesk.tui.widgets.line_table import Column, Row
from livedesk.tui.widgets.pane import TablePane

COLUMNS = (
    Column("symbol", "Symbol", 14),
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
    """Cells of one position row's values (see :func:`position_table_rows`)."""
    symbol, sec_type, qty, avg, price, value, unreal, real, weight, strategy, group = v
    head = "group" if group else ""
    return (
        (symbol, head),
        (sec_type, head),
        (fmt.qty(qty), ""),
        (fmt.price(avg), ""),
        (fmt.price(price), ""),
        (fmt.num(value, 0), ""),
        fmt.signed(unreal),
        fmt.signed(real),
        (fmt.pct(weight), ""),
        (strategy, ""),
    )


def position_table_rows(positions) -> list[Row]:
    """Table rows (raw values, formatted when drawn) from ``PositionRow`` objects; a combo's
    legs are listed under a header row with the combo's totals."""
    nan = float("nan")
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
        values = (label, "BAG", nan, nan, nan, value, unreal, real, weight, strategies, True)
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
    HELP = (
        "Every open position of the account: symbol, type (combo legs grouped under their "
        "combo), quantity, average cost, market price, market value, unrealized and realized "
        "PnL, weight of NetLiquidation and the strategy that traded it (from orderRef). "
        "Rows are keyed by conId; the cursor stays on its row while prices tick."
    )

    def refresh_from(self, session, force: bool = False) -> None:
        v = session.versions["positions"]
        if not force and self.versions.get("positions") == v:
            return
        self.versions["positions"] = v
        self.table.set_rows(position_table_rows(session.positions()))
