"""Pane 3, Equity: equity and Drawdown sparklines over session / week / all, with the numbers."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.widgets import Sparkline, Static

from livedesk.backend.console.equity import WINDOWS
from livedesk.backend.risk.engine import ACCOUNT
from livedesk.tui import format as fmt
from livedesk.tui.bindings import bindings
from livedesk.tui.widgets.pane import Pane


class EquityPane(Pane, can_focus=True):
    """Streaming equity and drawdown of the account or one strategy."""

    pane_id = "equity"
    BINDINGS = bindings("equity")
    HELP = (
        "Equity (NetLiquidation) and Drawdown sparklines from the journal's full history, "
        "downsampled to the pane width keeping every bucket's extreme (the drawdown line "
        "shows its trough). Beside them: equity, peak, current and maximum drawdown. "
        "w cycles the window (session / week / all); a switches between the account and "
        "each strategy."
    )

    def __init__(self) -> None:
        super().__init__()
        self.window = WINDOWS[0]
        self.subject = ACCOUNT
        self._last = 0.0
        self._texts: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="equity-caption", classes="caption")
        yield Sparkline([], id="equity-spark")
        yield Static("", id="equity-numbers", classes="numbers")
        yield Static("Drawdown", id="drawdown-caption", classes="caption")
        yield Sparkline([], id="drawdown-spark", summary_function=min)
        yield Static("", id="drawdown-numbers", classes="numbers")

    def refresh_from(self, session, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 1.0:
            return
        self._last = now
        width = max(2, self.size.width - 2)
        view = session.equity_view(self.subject, self.window, width)
        self._set(
            "#equity-caption", f"Equity — {self.subject}, {self.window}, samples: {view.samples}"
        )
        enough = view.samples >= 2  # one point would fill the line: draw from two on
        self.query_one("#equity-spark", Sparkline).data = list(view.equity) if enough else []
        self.query_one("#drawdown-spark", Sparkline).data = list(view.drawdown) if enough else []
        self._set("#equity-numbers", f"equity {fmt.money(view.last)}   peak {fmt.money(view.peak)}")
        current, worst = fmt.pct(view.current_dd, 2) or "—", fmt.pct(view.max_dd, 2) or "—"
        self._set("#drawdown-numbers", f"current {current}   max {worst}")

    def _set(self, selector: str, text: str) -> None:
        """Update a label only when its text changed (an update costs a layout)."""
        if self._texts.get(selector) != text:
            self._texts[selector] = text
            self.query_one(selector, Static).update(text)

    def action_cycle_window(self) -> None:
        """session → week → all."""
        self.window = WINDOWS[(WINDOWS.index(self.window) + 1) % len(WINDOWS)]
        self.refresh_from(self.app.session, force=True)

    def action_cycle_subject(self) -> None:
        """account → each strategy → account."""
        keys = self.app.session.engine.keys() if self.app.session.engine else [ACCOUNT]
        names = [ACCOUNT, *[k for k in keys if k != ACCOUNT]]
        names += [n for n in self.app.session_strategy_names() if n not in names]
        i = names.index(self.subject) if self.subject in names else -1
        self.subject = names[(i + 1) % len(names)]
        self.refresh_from(self.app.session, force=True)
