"""A strategy's detail: parameters, recent decisions with their inputs, errors, its risk row."""

from __future__ import annotations

import datetime as dt
import json

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from livedesk.backend.console.market_clock import NEW_YORK
from livedesk.tui.widgets.risk import risk_table_rows


def _decision_line(row: dict) -> str:
    when = dt.datetime.fromtimestamp(row.get("t", 0), NEW_YORK).strftime("%m-%d %H:%M:%S")
    detail = row.get("detail") or {}
    summary = detail.get("summary") or detail.get("error") or ""
    inputs = {k: v for k, v in detail.items() if k not in ("summary", "traceback")}
    text = json.dumps(inputs, default=str, sort_keys=True)
    if len(text) > 400:
        text = text[:400] + "…"
    return f"{when} {row.get('kind', ''):<8} {summary}\n    {text}"


class StrategyDetailScreen(ModalScreen[None]):
    """Everything about one strategy."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="detail.close")]

    def __init__(self, session, name: str) -> None:
        super().__init__(classes="dialog-screen")
        self.session, self.strategy = session, name

    def compose(self) -> ComposeResult:
        c = self.session.controller
        info = c.info(self.strategy)
        params = "\n".join(f"  {k} = {v!r}" for k, v in dict(info.params).items()) or "  (none)"
        decisions = c.recent_decisions(self.strategy, limit=20)
        errors = [d for d in decisions if d.get("kind") == "error"]
        risk = ""
        if self.session.risk_table is not None and self.strategy in self.session.engine.keys():
            block = self.session.risk_table.block(self.strategy)
            lines = []
            for r in risk_table_rows([block]):
                lines.append("  ".join(text for text, _ in r.cells).rstrip())
            risk = "\n".join(lines)
        with VerticalScroll(classes="dialog detail"):
            yield Static(f"{info.name} — {info.status} — {info.schedule}", classes="dialog-title")
            yield Static(f"Parameters:\n{params}")
            yield Static(
                "Recent decisions (newest last):\n"
                + ("\n".join(_decision_line(d) for d in decisions) or "  (none yet)")
            )
            yield Static(
                "Errors:\n"
                + (
                    "\n".join(_decision_line(d) for d in errors)
                    or f"  {info.last_error or '(none)'}"
                )
            )
            yield Static("Risk:\n" + (risk or "  (no risk data yet)"))
            yield Static("Esc closes.", classes="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
