"""A backtest reference's figures follow the live rule: annualised and distribution figures
only from ``[risk] min_sessions`` daily returns of the reference itself (#21: "a ratio is shown
only when its sample supports it"). Expected texts are written by hand."""

from __future__ import annotations

import math

from livedesk.backend.console.risk_view import RiskTable
from livedesk.backend.journal import Journal
from livedesk.backend.report.metrics import metric_table, reference_figures
from livedesk.backend.risk.engine import RiskEngine


def _engine(tmp_path, n: int) -> RiskEngine:
    journal = Journal(tmp_path / "j.sqlite3")
    journal.set_backtest_reference(
        "alpha", [0.001] * (n - 1) + [0.002], {"sharpe_ratio": 7.1, "max_drawdown": -0.0}
    )
    engine = RiskEngine(journal)
    engine.restore()
    return engine


def test_a_five_session_reference_shows_no_sharpe(tmp_path) -> None:
    engine = _engine(tmp_path, 5)
    figs = reference_figures(engine, "alpha")
    assert figs["sharpe_ratio"].reason == "n/a: 5 of 20 sessions"
    assert figs["max_drawdown"].shown  # a drawdown needs one return
    line = next(
        x for x in RiskTable(engine, n_boot=20).block("alpha").lines if x.metric == "sharpe_ratio"
    )
    assert math.isnan(line.backtest) and line.flag is None
    rows = [r for r in engine.view() if r.key == "alpha"]
    table = metric_table(rows, engine.figures("alpha"), figs)
    sharpe_row = next(ln for ln in table.splitlines() if ln.startswith("sharpe_ratio"))
    assert sharpe_row.count("n/a: 5 of 20 sessions") == 1  # the backtest's; live has 0
    assert "7.10" not in table


def test_a_twenty_session_reference_shows_its_sharpe(tmp_path) -> None:
    engine = _engine(tmp_path, 20)
    figs = reference_figures(engine, "alpha")
    assert figs["sharpe_ratio"].shown and figs["sharpe_ratio"].value == 7.1
    line = next(
        x for x in RiskTable(engine, n_boot=20).block("alpha").lines if x.metric == "sharpe_ratio"
    )
    assert line.backtest == 7.1
    rows = [r for r in engine.view() if r.key == "alpha"]
    assert "7.10" in metric_table(rows, engine.figures("alpha"), figs)
