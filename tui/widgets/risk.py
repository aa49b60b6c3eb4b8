"""Pane 4, Risk: live vs backtest per account and strategy, divergence flags, execution quality."""

from __future__ import annotations

from livedesk.backend.console.risk_view import PERCENT_METRICS
from livedesk.tui import format as fmt
from livedesk.tui.widgets.line_table import Column, Row
from livedesk.tui.widgets.pane import TablePane

COLUMNS = (
    Column("metric", "Metric", 24),
    Column("live", "Live", 9, "right"),
    Column("backtest", "Backtest", 9, "right"),
    Column("diff", "Diff", 9, "right"),
    Column("flag", "Flag", 6),
    Column("detail", "Detail", 30, flex=True),
)


def _value(metric: str, x: float) -> str:
    if not fmt.ok(x):
        return "—"
    return fmt.pct(x, 2) if metric in PERCENT_METRICS else f"{x:.2f}"


def risk_table_rows(blocks) -> list[Row]:
    """Rows: one header row per key (its basis), its metrics, then execution quality."""
    rows = []
    for b in blocks:
        note = b.basis if b.has_backtest else f"no backtest reference; {b.basis}"
        rows.append(
            Row(
                (b.key, ""),
                ((b.key, "group"), ("", ""), ("", ""), ("", ""), ("", ""), (note, "dim")),
            )
        )
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
                        (_value(line.metric, line.live), ""),
                        (_value(line.metric, line.backtest) if b.has_backtest else "", ""),
                        (_value(line.metric, line.diff) if b.has_backtest else "", ""),
                        flag,
                        (line.detail, "bad" if line.flag else "dim"),
                    ),
                    parent=(b.key, ""),
                )
            )
        ex = b.execution
        detail = f"{ex.fills} fills; drag {fmt.bps(ex.drag_bps) or '—'} bps/yr"
        rows.append(
            Row(
                (b.key, "execution"),
                (
                    ("  slippage bps", ""),
                    (fmt.bps(ex.slippage_bps) or "—", ""),
                    ("comm bps", "dim"),
                    (fmt.bps(ex.commission_bps) or "—", ""),
                    ("", ""),
                    (detail, "dim"),
                ),
                parent=(b.key, ""),
            )
        )
    return rows


class RiskPane(TablePane):
    """Risk metrics live vs backtest."""

    pane_id = "risk"
    COLUMNS = COLUMNS
    EMPTY = "no risk data yet"
    HELP = (
        "Live risk metrics per account and per strategy — cumulative return, max drawdown, "
        "volatility, Sharpe, Sortino, omega, CVaR, Calmar — against the strategy's backtest: "
        "live, backtest, difference and the divergence flag (Sharpe: outside its band; "
        "drawdown: deeper than the backtest's bootstrapped 95 % quantile, with the p-value). "
        "Live figures are daily once two sessions exist, intraday before. Execution "
        "quality: average slippage and commission (bps) and the annualised drag."
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
