"""A strategy's detail: its signal over time (a chart from the journaled decisions),
parameters, recent decisions as readable rows with their inputs, errors, its risk rows."""

from __future__ import annotations

import datetime as dt
import textwrap

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from livedesk.backend.console.market_clock import NEW_YORK
from livedesk.backend.console.signals import latest_scores, signal_chart
from livedesk.tui.widgets.risk import risk_table_rows
from livedesk.tui.widgets.signal_chart import SignalChartView


def _value(v) -> str | None:
    """One input as text; None for what a reader cannot use (blobs, long encoded strings)."""
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int | float):
        return f"{v:.4g}"
    if isinstance(v, str):
        return v if len(v) <= 40 else None  # e.g. a base64 state blob
    if isinstance(v, list | tuple):
        return f"{len(v)} item{'s' * (len(v) != 1)}"
    return None


def _decision_line(row: dict) -> str:
    """``11-20 10:31:00 decision  buy 10 AAPL`` and its inputs as readable ``key=value``."""
    when = dt.datetime.fromtimestamp(row.get("t", 0), NEW_YORK).strftime("%m-%d %H:%M:%S")
    detail = row.get("detail") or {}
    summary = detail.get("summary") or detail.get("error") or ""
    parts = []
    for k, v in sorted(detail.items()):
        if k in ("summary", "traceback", "error"):
            continue
        if isinstance(v, dict):
            parts += [f"{k}.{kk}={t}" for kk, vv in sorted(v.items()) if (t := _value(vv))]
        elif (t := _value(v)) is not None:
            parts.append(f"{k}={t}")
    inputs = textwrap.fill("  ".join(parts), 96, initial_indent="    ", subsequent_indent="    ")
    return f"{when} {row.get('kind', ''):<8} {summary}" + (f"\n{inputs}" if parts else "")


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
        chart = signal_chart(c.recent_decisions(self.strategy, limit=500), dict(info.params))
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
            if chart is not None:
                yield SignalChartView(chart, id="signal-chart")
                scores = latest_scores(decisions)
                if scores:
                    yield Static(
                        "Scores of the last picks: "
                        + "  ".join(f"{sym} {v:+.2f}" for sym, v in scores),
                        markup=False,
                    )
            yield Static(f"Parameters:\n{params}")
            yield Static(
                "Recent decisions (newest last):\n"
                + ("\n".join(_decision_line(d) for d in decisions) or "  (none yet)"),
                markup=False,
            )
            yield Static(
                "Errors:\n"
                + (
                    "\n".join(_decision_line(d) for d in errors)
                    or f"  {info.last_error or '(none)'}"
                ),
                markup=False,
            )
            yield Static("Risk:\n" + (risk or "  (no risk data yet)"))
            yield Static("Esc closes.", classes="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
