"""Risk figures that mean something: gating on the sample, the session's own figures, Sharpe SE.

Expected values are computed by hand here, or by empyrical (an independent implementation).
"""

from __future__ import annotations

import datetime as dt
import io
import math

import numpy as np
import pytest

from livedesk.backend.console.risk_view import RiskTable
from livedesk.backend.journal import Journal
from livedesk.backend.report.metrics import run_report
from livedesk.backend.risk.engine import ACCOUNT, RiskEngine

DAY = dt.date(2026, 11, 20)
OPEN = dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC).timestamp()  # 09:30 ET


def lo_se(sharpe_annual: float, n: int, periods: int = 252) -> float:
    """Lo (2002), IID: SE of the per-period Sharpe is sqrt((1 + SR^2/2)/n); scale by sqrt(q)."""
    sr = sharpe_annual / math.sqrt(periods)
    return math.sqrt(periods) * math.sqrt((1 + 0.5 * sr * sr) / n)


def three_samples(eng: RiskEngine) -> None:
    # baseline, then three samples 5 s apart: NLV 1,000,000 → 1,001,000 → 999,000 → 1,000,500
    for i, (pnl, nlv) in enumerate(
        [(0.0, 1e6), (1000.0, 1_001_000.0), (-1000.0, 999_000.0), (500.0, 1_000_500.0)]
    ):
        eng.on_pnl(OPEN + 5 * i, pnl, pnl, 0.0, nlv, DAY)
    eng.on_fill(None, "f1", "BUY", 10, 100.02, 100.0, 1.0, 1, OPEN + 6)
    eng.on_fill(None, "f2", "SELL", 10, 99.97, 100.0, 1.0, 1, OPEN + 12)


def test_three_intraday_samples_show_the_session_and_say_why_not_ratios(journal) -> None:
    eng = RiskEngine(journal)
    three_samples(eng)
    s = eng.session_figures(ACCOUNT)
    assert s.session == DAY and s.samples == 3 and s.fills == 2
    assert s.return_since_open == pytest.approx(0.0005)  # 1,000,500 / 1,000,000 - 1
    assert s.max_drawdown == pytest.approx(999_000 / 1_001_000 - 1)
    assert s.drawdown == pytest.approx(1_000_500 / 1_001_000 - 1)
    r = [1000 / 1e6, -2000 / 1_001_000, 1500 / 999_000]
    assert s.realised_vol == pytest.approx(math.sqrt(sum(x * x for x in r)))
    for metric in ("sharpe_ratio", "sortino_ratio", "calmar_ratio", "annual_volatility"):
        fig = eng.figure(ACCOUNT, metric)
        assert not fig.shown and math.isnan(fig.value)
        assert fig.reason == "n/a: 0 of 20 sessions"
    assert eng.execution().drag_reason == "n/a: 0 of 20 sessions"
    block = RiskTable(eng).block(ACCOUNT)
    sharpe = next(line for line in block.lines if line.metric == "sharpe_ratio")
    assert sharpe.reason == sharpe.detail == "n/a: 0 of 20 sessions" and sharpe.flag is None
    assert block.session.return_since_open == pytest.approx(0.0005)
    assert math.isnan(block.execution.drag_bps)


def test_the_risk_pane_rows_say_why(journal) -> None:
    from livedesk.tui.widgets.risk import risk_table_rows

    eng = RiskEngine(journal)
    three_samples(eng)
    rows = {r.key: r for r in risk_table_rows([RiskTable(eng).block(ACCOUNT)])}
    sharpe = rows[(ACCOUNT, "sharpe_ratio")].cells
    assert sharpe[1][0] == "n/a" and sharpe[5][0] == "n/a: 0 of 20 sessions"
    assert rows[(ACCOUNT, "session_return")].cells[1][0] == "+0.05%"
    assert rows[(ACCOUNT, "session_fills")].cells[1][0] == "2"
    drag = rows[(ACCOUNT, "drag")].cells
    assert drag[1][0] == "n/a" and drag[5][0] == "n/a: 0 of 20 sessions"


def test_report_follows_the_same_rules(journal) -> None:
    eng = RiskEngine(journal)
    three_samples(eng)
    out = io.StringIO()
    assert run_report(journal=str(journal.path), out=out) == 0
    text = out.getvalue()
    sharpe = next(ln for ln in text.splitlines() if ln.startswith("sharpe_ratio"))
    assert sharpe.split(None, 1)[1].startswith("n/a: 0 of 20 sessions ")  # no backtest: n/a
    assert "session 2026-11-20: since open +0.05%" in text and "2 fills" in text
    assert "(not annualised)" in text and "drag n/a: 0 of 20 sessions" in text


def daily_engine(journal, returns: list[float], **kw) -> RiskEngine:
    eng = RiskEngine(journal, **kw)
    nlv = 1e6
    for k in range(len(returns) + 1):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=k)
        if k:
            nlv *= 1 + returns[k - 1]
        t = dt.datetime(day.year, day.month, day.day, 15, tzinfo=dt.UTC).timestamp()
        eng.on_pnl(t, 0.0, 0.0, 0.0, nlv, day)
        eng.close_session()
    return eng


def test_25_daily_returns_sharpe_is_empyricals_with_lo_standard_error(journal) -> None:
    import empyrical

    rng = np.random.default_rng(21)
    returns = [float(x) for x in rng.normal(0.0008, 0.011, 25)]
    eng = daily_engine(journal, returns)
    fig = eng.figure(ACCOUNT, "sharpe_ratio")
    expected = float(empyrical.sharpe_ratio(np.array(returns), period="daily"))
    assert fig.shown and fig.value == pytest.approx(expected, rel=1e-9)
    assert fig.se == pytest.approx(lo_se(expected, 25), rel=1e-12)
    vol = eng.figure(ACCOUNT, "annual_volatility").value
    assert vol == pytest.approx(float(empyrical.annual_volatility(np.array(returns))), rel=1e-9)


def test_the_gate_is_configurable_and_counts_sessions(journal, tmp_path) -> None:
    returns = [0.001 * ((-1) ** k) + 0.0005 for k in range(19)]
    eng = daily_engine(journal, returns)
    assert eng.figure(ACCOUNT, "sharpe_ratio").reason == "n/a: 19 of 20 sessions"
    assert eng.figure(ACCOUNT, "cum_returns").shown  # not annualised: one session suffices
    with Journal(tmp_path / "other.sqlite3") as j:
        assert daily_engine(j, returns, min_sessions=10).figure(ACCOUNT, "sharpe_ratio").shown
    with pytest.raises(ValueError, match="at least 2"):
        RiskEngine(journal, min_sessions=1)
