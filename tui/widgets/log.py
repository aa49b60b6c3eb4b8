"""Pane 6, Log: the trading story with time and level (newest at the bottom, followed).

Long messages wrap onto continuation rows sized to the Message column (re-wrapped when the
pane is resized); ``enter`` shows a whole line. The table follows the newest line (it really
scrolls) until the user moves or scrolls up; ``F`` or End resumes following.
"""

from __future__ import annotations

import textwrap

from livedesk.backend.console.views import ny_time
from livedesk.tui.bindings import bindings
from livedesk.tui.widgets.line_table import Column, Row
from livedesk.tui.widgets.pane import TablePane

COLUMNS = (
    Column("time", "Time", 8),
    Column("level", "Level", 7),
    Column("source", "Source", 12),
    Column("message", "Message", 40, flex=True),
)
LEVEL_STYLE = {"error": "bad", "warning": "warn", "info": "dim"}
FIXED = sum(c.width + 1 for c in COLUMNS[:-1]) + 1


def wrap_message(message: str, width: int) -> list[str]:
    """``message`` in lines of at most ``width`` characters (long words are broken)."""
    lines = textwrap.wrap(message, max(8, width), break_long_words=True) or [""]
    return lines


class LogPane(TablePane):
    """Every order, fill, decision, alert and event the console saw."""

    pane_id = "log"
    COLUMNS = COLUMNS
    EMPTY = "no events yet"
    BINDINGS = bindings("log")
    HELP = (
        "The trading story with its time (broker clock, New York) and level: every order "
        "sent, modified, cancelled or rejected (with IB's code), every fill (quantity, price, "
        "slippage, commission), every strategy decision that placed orders (repeated "
        "decisions without orders are folded: ×N), alerts, disconnects and IB codes, and "
        "every warning the program logs. Long lines wrap; enter shows the whole line. The "
        "view follows the newest line and stays where you scroll to; F or End follows again."
    )

    def on_mount(self) -> None:
        self.table.follow = True
        self.table.followable = True
        self._width = 0
        self._entries: dict[int, object] = {}
        self._wrapped: dict[tuple[str, int], list[str]] = {}

    def message_width(self) -> int:
        """Characters of the Message column at the table's current width."""
        width = self.table.size.width or 80
        return max(20, width - FIXED)

    def refresh_from(self, session, force: bool = False) -> None:
        v = session.versions["log"]
        width = self.message_width()
        if not force and self.versions.get("log") == v and width == self._width:
            return
        self.versions["log"], self._width = v, width
        entries = list(session.logs)
        first = session.log_seq - len(entries)
        rows: list[Row] = []
        self._entries = {}
        for i, e in enumerate(entries):
            seq = first + i
            self._entries[seq] = e
            lines = self._wrapped.get((e.message, width))
            if lines is None:
                lines = self._wrapped[(e.message, width)] = wrap_message(e.message, width)
            style = "bad" if e.level == "error" else ""
            rows.append(
                Row(
                    seq,
                    (
                        (ny_time(e.t), ""),
                        (e.level, LEVEL_STYLE.get(e.level, "")),
                        (e.source, ""),
                        (lines[0], style),
                    ),
                    (e.t, e.level, e.source, e.message),
                )
            )
            rows += [
                Row((seq, k), (("", ""), ("", ""), ("", ""), (text, style)), parent=seq)
                for k, text in enumerate(lines[1:], 1)
            ]
        if len(self._wrapped) > 4 * len(entries) + 64:  # keep the cache to what is shown
            keep = {(e.message, width) for e in entries}
            self._wrapped = {k: v for k, v in self._wrapped.items() if k in keep}
        self.table.set_rows(rows)

    def selected_entry(self):
        """The Log entry under the cursor (a continuation row names its line)."""
        key = self.table.cursor_key
        seq = key[0] if isinstance(key, tuple) else key
        return self._entries.get(seq)

    def action_show_line(self) -> None:
        """``enter``: the whole selected line."""
        from livedesk.tui.screens.log_line import LogLineScreen

        e = self.selected_entry()
        if e is None:
            return
        code = f"  IB {e.code}" if e.code else ""
        title = f"{ny_time(e.t)}  {e.level}  {e.source}{code}"
        self.app.push_screen(LogLineScreen(title, e.message))
