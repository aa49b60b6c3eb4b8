"""Pane 5, Strategies: one row per strategy from the StrategyController."""

from __future__ import annotations

import datetime as dt

from livedesk.backend.console.market_clock import NEW_YORK
from livedesk.tui import format as fmt
from livedesk.tui.bindings import bindings
from livedesk.tui.widgets.line_table import Column, Row
from livedesk.tui.widgets.pane import TablePane

COLUMNS = (
    Column("name", "Strategy", 16),
    Column("schedule", "Schedule", 20),
    Column("state", "State", 8),
    Column("next", "Next run (ET)", 14),
    Column("decision", "Last decision", 28, flex=True),
    Column("gross", "Gross", 10, "right", True),
    Column("positions", "Pos", 4, "right", True),
    Column("pnl", "PnL", 10, "right", True),
)

STATE_STYLE = {
    "running": "good",
    "waiting": "bold",
    "error": "bad",
    "halted": "warn",
    "stopped": "dim",
}


def exchange_time(when: dt.datetime | None) -> str:
    """``12-02 15:50`` in New York time."""
    if when is None:
        return ""
    return when.astimezone(NEW_YORK).strftime("%m-%d %H:%M")


def strategy_table_rows(infos, books=None) -> list[Row]:
    """Rows from ``StrategyInfo`` objects; ``books`` maps a strategy to its (gross exposure,
    number of positions)."""
    books = books or {}
    rows = []
    for i in infos:
        gross, count = books.get(i.name, (0.0, 0))
        status = str(i.status)
        decision = i.last_error if status == "error" and i.last_error else i.last_decision
        rows.append(
            Row(
                i.name,
                (
                    fmt.plain(i.name),
                    fmt.plain(i.schedule),
                    (status, STATE_STYLE.get(status, "")),
                    fmt.plain(exchange_time(i.next_run)),
                    (decision or "", "bad" if status == "error" else ""),
                    fmt.plain(fmt.money(gross) if count else "—"),
                    fmt.plain(str(count)),
                    fmt.signed(i.pnl if i.pnl is not None else float("nan")),
                ),
                (i.name, i.schedule, status, i.next_run, decision, gross, count, i.pnl),
            )
        )
    return rows


class StrategiesPane(TablePane):
    """Strategies: state, schedule, next run, last decision, position, PnL."""

    pane_id = "strategies"
    COLUMNS = COLUMNS
    EMPTY = "no strategies registered"
    BINDINGS = bindings("strategies")
    HELP = (
        "One row per strategy: name, schedule, state (stopped / waiting / running / error / "
        "halted), next run in exchange (New York) time, last decision, gross exposure (the $ "
        "value of its positions, long and short added), number of positions and PnL. "
        "space starts or stops the selected strategy, r runs it once now, enter opens its "
        "detail (parameters, recent decisions with their inputs, errors, its risk row); X "
        "closes every position of the selected strategy and stops it (type FLATTEN)."
    )

    def refresh_from(self, session, force: bool = False) -> None:
        # state changes come as events; next run and PnL move without one: once a second too
        import time

        v = session.versions["strategies"]
        now = time.monotonic()
        if not force and self.versions.get("strategies") == v and now - self._last < 1.0:
            return
        self.versions["strategies"], self._last = v, now
        loading = getattr(session, "strategies_loading", False)
        self.table.empty_text = "loading strategies…" if loading else self.EMPTY
        books = session.strategy_books() if hasattr(session, "strategy_books") else {}
        self.table.set_rows(strategy_table_rows(session.strategies(), books))
        if loading and not self.table.row_count:
            self.table.refresh()

    _last = 0.0

    @property
    def selected(self) -> str | None:
        """Name of the strategy under the cursor."""
        key = self.table.cursor_key
        return str(key) if key is not None else None

    def action_toggle_strategy(self) -> None:
        self.app.run_worker(self.app.toggle_strategy(self.selected), exclusive=False)

    def action_run_now(self) -> None:
        self.app.run_worker(self.app.run_strategy_now(self.selected), exclusive=False)

    def action_reload_strategy(self) -> None:
        self.app.run_worker(self.app.reload_strategy(self.selected), exclusive=False)

    def action_detail(self) -> None:
        self.app.open_strategy_detail(self.selected)

    def action_flatten_strategy(self) -> None:
        if self.selected is None:
            self.app.notify("no strategy selected", severity="warning")
            return
        self.app.run_worker(self.app.flatten_strategy(self.selected), exclusive=False)
