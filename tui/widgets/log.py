"""Pane 6, Log: alerts and events with time and level (newest at the bottom, followed)."""

from __future__ import annotations

from livedesk.backend.console.views import ny_time
from livedesk.tui.widgets.line_table import Column, Row
from livedesk.tui.widgets.pane import TablePane

COLUMNS = (
    Column("time", "Time", 8),
    Column("level", "Level", 7),
    Column("source", "Source", 14),
    Column("message", "Message", 60, flex=True),
)
LEVEL_STYLE = {"error": "bad", "warning": "warn", "info": "dim"}


class LogPane(TablePane):
    """Every alert and event the console saw."""

    pane_id = "log"
    COLUMNS = COLUMNS
    EMPTY = "no events yet"
    HELP = (
        "Alerts and events with their time (New York) and level: divergence flags, guard "
        "refusals, disconnects and IB codes (1100 / 1101 / 1102, data farms), order "
        "rejections, strategy state changes and errors, and every warning the program logs. "
        "Warnings and errors also appear as toasts. F follows the newest line."
    )

    def on_mount(self) -> None:
        self.table.follow = True
        self._seq = 0

    def refresh_from(self, session, force: bool = False) -> None:
        v = session.versions["log"]
        if not force and self.versions.get("log") == v:
            return
        self.versions["log"] = v
        entries = list(session.logs)
        first = session.log_seq - len(entries)
        self.table.set_rows(
            [
                Row(
                    first + i,
                    (
                        (ny_time(e.t), ""),
                        (e.level, LEVEL_STYLE.get(e.level, "")),
                        (e.source, ""),
                        (e.message, "bad" if e.level == "error" else ""),
                    ),
                    (e.t, e.level, e.source, e.message),
                )
                for i, e in enumerate(entries)
            ]
        )
