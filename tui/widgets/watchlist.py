"""Pane 7, Watchlist: quotes of the symbols a trader watches, with an intraday sparkline.

``+`` adds a symbol (checked at the gateway), ``d`` removes the selected one, ``enter``
opens an order on it. The rows come from
:class:`~livedesk.backend.console.watchlist.Watchlist`; the table only repaints the rows
whose quotes changed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual import work

from livedesk.tui import format as fmt
from livedesk.tui.bindings import bindings
from livedesk.tui.widgets.line_table import Column, Row
from livedesk.tui.widgets.pane import TablePane

SPARK_WIDTH = 14
COLUMNS = (
    Column("symbol", "Symbol", 7),
    Column("bid", "Bid", 8, "right", True),
    Column("ask", "Ask", 8, "right", True),
    Column("last", "Last", 8, "right", True),
    Column("change", "Chg", 7, "right", True),
    Column("pct", "Chg%", 7, "right", True),
    Column("volume", "Volume", 10, "right", True),
    Column("spark", "Intraday", SPARK_WIDTH, flex=True),
)

BARS = " ▁▂▃▄▅▆▇█"
"""Eighth-cell blocks, low to high, for the intraday sparkline."""


def spark_text(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    """One line of bars (``▁``…``█``) between the series' low and high, the newest on the
    right; a longer series is cut into ``width`` equal stretches, each shown by its last
    value."""
    values = [v for v in values if math.isfinite(v)]
    if not values or width < 1:
        return ""
    if len(values) > width:
        n = len(values)
        values = [values[min(n - 1, (i + 1) * n // width - 1)] for i in range(width)]
    lo, hi = min(values), max(values)
    if hi - lo <= 0:
        return BARS[4] * len(values)
    return "".join(BARS[1 + round((v - lo) / (hi - lo) * 7)] for v in values)


def format_quote(v: tuple) -> tuple[tuple[str, str], ...]:
    """Cells of one row's values (see :func:`watchlist_rows`)."""
    symbol, bid, ask, last, change, pct, volume, spark, status = v
    trend = "up" if fmt.ok(change) and change > 0 else ("down" if fmt.ok(change) else "")
    if status:
        return ((symbol, "bold"), ("", ""), ("", ""), ("", ""), ("", ""), ("", ""), ("", ""),
                (status, "warn" if status == "unknown symbol" else "dim"))  # fmt: skip
    chg = ("", "")
    if fmt.ok(change):
        chg = (f"{change:+,.2f}", trend) if round(change, 2) != 0 else ("0.00", "dim")
    return (
        (symbol, "bold"),
        (fmt.price(bid), ""),
        (fmt.price(ask), ""),
        (fmt.price(last), ""),
        chg,
        fmt.signed_pct(pct),
        (fmt.qty(volume), ""),
        (spark_text(spark), trend),
    )


def watchlist_rows(quotes) -> list[Row]:
    """Table rows (raw values, formatted when drawn) from ``QuoteRow`` objects."""
    return [
        Row(
            q.symbol,
            values=(
                q.symbol,
                q.bid,
                q.ask,
                q.last,
                q.change,
                q.change_pct,
                q.volume,
                q.spark,
                q.status,
            ),  # fmt: skip
        )
        for q in quotes
    ]


class WatchlistPane(TablePane):
    """Quotes of the watched symbols."""

    pane_id = "watchlist"
    COLUMNS = COLUMNS
    EMPTY = "no symbols: + adds one"
    FORMATTER = staticmethod(format_quote)
    BINDINGS = bindings("watchlist")
    HELP = (
        "Quotes of the symbols in [watchlist] symbols and those added here: bid, ask, last, "
        "change and % change against the previous close, the session's volume and an "
        "intraday sparkline (today's 5-minute closes, then the live price; low to high). "
        "+ adds a symbol as the order ticket reads it (AAPL, CL F27, SPY 31DEC26 528 C): "
        "the gateway must know it. d removes the selected symbol and cancels its market "
        "data. enter opens an order on it. The list is remembered between runs."
    )

    def refresh_from(self, session, force: bool = False) -> None:
        watchlist = session.watchlist
        for problem in watchlist.take_problems():
            session.add_log("warning", "watchlist", problem)
        rows = watchlist.rows()
        widest = max((len(q.symbol) for q in rows), default=0)  # sized to its content
        self.table.set_column_width(0, max(COLUMNS[0].width, min(widest, 24)))
        self.table.set_rows(watchlist_rows(rows))

    def selected_symbol(self) -> str | None:
        """The symbol under the cursor."""
        key = self.table.cursor_key
        return str(key) if key is not None else None

    @work(group="watchlist", exit_on_error=False)
    async def action_add_symbol(self) -> None:
        """``+``: ask for a symbol and add it once the gateway knows it."""
        from livedesk.tui.screens.watchlist_add import AddSymbolScreen

        session = self.app.session
        added = await self.app.push_screen_wait(AddSymbolScreen(session.watchlist.add))
        if added is None:
            return
        session.add_log("info", "watchlist", f"added {added}")
        self.app.notify(f"watchlist: added {added}")
        self.refresh_from(session, True)
        self.table.select_key(added)

    def action_remove_symbol(self) -> None:
        """``d``: remove the selected symbol (its market data is cancelled)."""
        symbol = self.selected_symbol()
        session = self.app.session
        if symbol is None or not session.watchlist.remove(symbol):
            self.app.notify("no symbol selected", severity="warning")
            return
        session.add_log("info", "watchlist", f"removed {symbol}")
        self.app.notify(f"watchlist: removed {symbol}")
        self.refresh_from(session, True)

    def action_open_ticket(self) -> None:
        """``enter``: an order on the selected symbol."""
        symbol = self.selected_symbol()
        if symbol is None:
            self.app.notify("no symbol selected", severity="warning")
            return
        self._open_ticket_on(symbol)

    def _open_ticket_on(self, symbol: str) -> None:
        """Open the order ticket on ``symbol``."""
        self.app.open_order_ticket(symbol)

    def ticket_contract(self) -> str | None:
        """``o`` on this pane: the ticket opens on the selected symbol."""
        return self.selected_symbol()
