"""Pane 3, Equity: an equity line chart (dollar and % axis, time axis) and the drawdown beneath."""

from __future__ import annotations

import time

from textual.app import ComposeResult

from livedesk.backend.console.equity import WINDOWS
from livedesk.backend.risk.engine import ACCOUNT
from livedesk.tui import format as fmt
from livedesk.tui.bindings import bindings
from livedesk.tui.widgets.account import AccountLines
from livedesk.tui.widgets.equity_chart import EquityChart, EquityData
from livedesk.tui.widgets.pane import Pane


class EquityPane(Pane, can_focus=True):
    """Streaming equity and drawdown of the account or one strategy."""

    pane_id = "equity"
    BINDINGS = bindings("equity")
    HELP = (
        "At the top, the account: cash, buying power, excess liquidity, initial and "
        "maintenance margin, realised and unrealised day PnL, each in its currency (IB's "
        "account values and day PnL; 'stale' while disconnected). Below, "
        "Equity (NetLiquidation) as a line chart from the journal's full history, "
        "downsampled to the pane width keeping every bucket's low and high; the y axis in "
        "dollars and % from the window's start (never narrower than 0.5 % of the level, so a "
        "$7 dip on $1M is a ripple and a flat equity is a flat line), time on x (the broker's "
        "clock, New York). Below: equity, peak, current and maximum drawdown, and the "
        "drawdown chart (0 down to the trough, at least 0.5 points deep). "
        "w cycles the window (session / week / all); a switches between the account and "
        "each strategy."
    )

    def __init__(self) -> None:
        super().__init__()
        self.window = WINDOWS[0]
        self.subject = ACCOUNT
        self._last = 0.0

    def compose(self) -> ComposeResult:
        yield AccountLines(id="account-figures")
        yield EquityChart(id="equity-chart")

    def refresh_from(self, session, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 1.0:
            return
        self._last = now
        self.query_one(AccountLines).show(session.account_figures(), not session.link_up)
        width = 2 * max(2, self.size.width - 2)  # two braille dots per column
        view = session.equity_view(self.subject, self.window, width)
        enough = view.samples >= 2  # one point is no line: draw from two on
        current, worst = fmt.pct(view.current_dd, 2) or "—", fmt.pct(view.max_dd, 2) or "—"
        self.query_one(EquityChart).set_data(
            EquityData(
                f"Equity — {self.subject}, {self.window}, samples: {view.samples}",
                view.times if enough else [],
                view.equity_lo if enough else [],
                view.equity if enough else [],
                view.drawdown if enough else [],
                view.first,
                f"equity {fmt.money(view.last)}  peak {fmt.money(view.peak)}  "
                f"drawdown {current}  max {worst}",
            )
        )

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
