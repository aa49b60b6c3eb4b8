"""Pane 4, Risk: live vs backtest per account and strategy, divergence flags, execution quality."""

from __future__ import annotations

from livedesk.backend.console.risk_view import PERCENT_METRICS
from livedesk.tui import format as fmt
from livedesk.tui.bindings import bindings
from livedesk.tui.widgets.line_table import Column, Row
from livedesk.tui.widgets.pane import TablePane

COLUMNS = (
    Column("metric", "Metric", 16),
    Column("live", "Live", 11, "right"),
    Column("backtest", "Backtest", 9, "right"),
    Column("diff", "Diff", 8, "right"),
    Column("flag", "Flag", 6),
    Column("detail", "Detail", 30, flex=True),
)


def _value(metric: str, x: float) -> str:
    if not fmt.ok(x):
        return "—"
    return fmt.pct(x, 2) if metric in PERCENT_METRICS else f"{x:.2f}"


def _live(line) -> str:
    if line.reason:
        return "n/a"
    if line.metric == "sharpe_ratio" and fmt.ok(line.se) and fmt.ok(line.live):
        return f"{line.live:.2f}±{line.se:.2f}"
    return _value(line.metric, line.live)


def _session_rows(b) -> list[Row]:
    """The session under way: what a few intraday samples can say (nothing annualised)."""
    s = b.session
    if s is None:  # always present otherwise: the table orders rows by first appearance
        return []
    day = s.session.strftime("%m-%d") if s.session else "—"
    lines = (
        ("session_return", "since open", fmt.pct(s.return_since_open, 2, sign=True),
         f"{day}: {s.samples} samples"),
        ("session_drawdown", "intraday DD", fmt.pct(s.drawdown, 2),
         f"deepest {fmt.pct(s.max_drawdown, 2)}" if fmt.ok(s.max_drawdown) else ""),
        ("session_vol", "session vol", fmt.pct(s.realised_vol, 2), "not annualised"),
        ("session_fills", "fills", str(s.fills), "this session"),
    )  # fmt: skip
    return [
        Row(
            (b.key, metric),
            (
                ("  " + label, ""),
                (value or "—", ""),
                ("", ""),
                ("", ""),
                ("", ""),
                (detail, "dim"),
            ),
            parent=(b.key, ""),
        )
        for metric, label, value, detail in lines
    ]


def _header_row(b) -> Row:
    """A key's first row: its name, and what its backtest column is compared with — the
    reference's span, or STALE and why (built with other parameters than the current)."""
    if not b.has_backtest:
        note, flag = (f"no backtest reference; {b.basis}", "dim"), ("", "")
    elif b.stale:
        # beside STALE, what changed first: "top=10 (now 20)" fits 80 columns
        changed = b.stale.removeprefix("stale: built with ")
        note, flag = (f"{changed}; {b.reference}; {b.basis}", "warn"), ("STALE", "warn")
    else:
        ref = f"{b.reference}; " if b.reference else ""
        note, flag = (f"{ref}{b.basis}", "dim"), ("", "")
    return Row((b.key, ""), ((b.key, "group"), ("", ""), ("", ""), ("", ""), flag, note))


def risk_table_rows(blocks) -> list[Row]:
    """Rows: per key a header (its basis), the session under way, the daily metrics, then
    execution quality."""
    rows = []
    for b in blocks:
        rows.append(_header_row(b))
        rows += _session_rows(b)
        for line in b.lines:
            if line.flag is None:
                flag = ("—", "dim") if b.has_backtest else ("", "")
            else:
                flag = ("DIVERG", "bad") if line.flag else ("ok", "good")
            rows.append(
                Row(
                    (b.key, line.metric),
                    (
                        ("  " + line.label, ""),
                        (_live(line), "dim" if line.reason else ""),
                        (
                            _value(line.metric, line.backtest) if b.has_backtest else "",
                            "warn" if b.stale else "",
                        ),
                        (
                            _value(line.metric, line.diff)
                            if b.has_backtest and not line.reason
                            else "",
                            "",
                        ),
                        flag,
                        (line.detail, "bad" if line.flag else "dim"),
                    ),
                    parent=(b.key, ""),
                )
            )
        ex = b.execution
        if ex.flag is None:
            ex_flag = ("", "")
        else:
            ex_flag = ("DIVERG", "bad") if ex.flag else ("ok", "good")
        detail = f"{ex.fills} fills, + = cost" + (f"; {ex.detail}" if ex.detail else "")
        rows.append(
            Row(
                (b.key, "execution"),
                (
                    ("  slippage bps", ""),
                    (fmt.bps(ex.slippage_bps) or "—", ""),
                    ("comm bps", "dim"),
                    (fmt.bps(ex.commission_bps) or "—", ""),
                    ex_flag,
                    (detail, "bad" if ex.flag else "dim"),
                ),
                parent=(b.key, ""),
            )
        )
        rows.append(
            Row(
                (b.key, "drag"),
                (
                    ("  drag bps/yr", ""),
                    ("n/a" if ex.drag_reason else (fmt.bps(ex.drag_bps) or "—"),
                     "dim" if ex.drag_reason else ""),
                    ("", ""),
                    ("", ""),
                    ("", ""),
                    (ex.drag_reason, "dim"),
                ),
                parent=(b.key, ""),
            )
        )  # fmt: skip
    return rows


class RiskPane(TablePane):
    """Risk metrics live vs backtest."""

    pane_id = "risk"
    BINDINGS = bindings("risk")
    COLUMNS = COLUMNS
    EMPTY = "no risk data yet"
    HELP = (
        "Live risk metrics per account and per strategy — cumulative return, max drawdown, "
        "volatility, Sharpe, Sortino, omega, CVaR, Calmar — against the strategy's backtest: "
        "live, backtest, difference and the divergence flag (Sharpe: outside its band; "
        "drawdown: deeper than the backtest's bootstrapped 95 % quantile, with the p-value). "
        "Live figures are daily; annualised ones (volatility, Sharpe, Sortino, Calmar, drag "
        "per year) and omega/CVaR show only from 20 sessions ([risk] min_sessions), else "
        "the line says why (n/a: 3 of 20 sessions). Sharpe shows ± its standard error (Lo "
        "2002). The session under way: return since the open, intraday drawdown, realised "
        "volatility (not annualised) and fills. Execution quality: average slippage and "
        "commission (bps, + = cost) and the annualised drag; on that line the execution "
        "divergence test: the live spread and impact per trade against the cost the backtest "
        "models (DIVERG when above it by more than [risk] execution_z standard errors and "
        "execution_min_bps, from execution_min_trades trades), with its numbers. The Backtest column is the "
        "reference stored by livedesk backtest (its span on the strategy's first line); one "
        "built with other parameters than the current ones is marked STALE, with what "
        "changed (stale: built with window=60 (now 30)), and its figures in the warning "
        "colour: run livedesk backtest again. "
        "a opens the Attribution view: the gap split into model/regime, spread and impact, "
        "delay, commission, missed fills and residual, as a waterfall with the top trades."
    )

    def __init__(self) -> None:
        super().__init__()
        self._last = 0.0

    def refresh_from(self, session, force: bool = False) -> None:
        import time

        now = time.monotonic()
        if not force and now - self._last < 1.0:  # metrics move on 5-second samples
            return
        self._last = now
        self.table.set_rows(risk_table_rows(session.risk_blocks()))

    def selected(self) -> str | None:
        """The strategy of the row under the cursor (None on the account's rows)."""
        key = self.table.cursor_key
        name = key[0] if isinstance(key, tuple) and key else None
        return None if name in (None, "account") else str(name)

    def action_attribution(self) -> None:
        self.app.open_attribution(self.selected())
