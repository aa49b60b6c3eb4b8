"""``livedesk report --attribution``: tables, waterfall, top trades and a CSV that adds up."""

from __future__ import annotations

import csv
import datetime as dt

import numpy as np
import pytest

from livedesk.backend.journal import Journal
from livedesk.backend.report.metrics import run_report
from livedesk.backend.risk.attribution import (
    COMPONENTS,
    AttributionFill,
    AttributionOrder,
    IdealTrade,
    attribute,
)
from livedesk.backend.risk.attribution_source import attribute_journal, decision_detail
from livedesk.backend.risk.attribution_view import waterfall
from livedesk.backend.risk.divergence import DivergenceRow, divergence_reason
from livedesk.backend.risk.engine import RiskEngine
from livedesk.tui.cli import main

T0 = 1_790_000_000.0  # 2026-09-21 14:13 UTC
NLV = 200_000.0


def _strategy(j: Journal, name: str, con_id: int, order_id: int, fill: float, end: float) -> None:
    """Decide to buy 100 at a mid of 50; fill 100 at ``fill`` (mid then 50.01), $1 commission;
    a later decision records the mid ``end``."""
    run = j.start_run(name, t=T0)
    j.record_decision(run, "decision", decision_detail({}, {con_id: 100}, {con_id: 50.0}), t=T0 + 1)
    j.record_order(
        order_id, action="BUY", qty=100, order_type="MKT", strategy=name, symbol=name.upper(),
        con_id=con_id, bid=49.99, ask=50.01, t=T0 + 1,
    )  # fmt: skip
    j.record_fill(
        f"e{order_id}", side="BOT", qty=100, price=fill, t=T0 + 2, order_id=order_id,
        strategy=name, symbol=name.upper(), con_id=con_id, commission=1.0, fill_mid=50.01,
    )  # fmt: skip
    j.record_decision(
        run, "decision", decision_detail({}, {con_id: 100}, {con_id: end}), t=T0 + 3000
    )


@pytest.fixture
def journal_path(tmp_path):
    path = tmp_path / "journal.sqlite3"
    with Journal(path) as j:
        j.record_sample(T0, 0.0, NLV, 0.0)
        _strategy(j, "alpha", 1, 11, 50.04, 51.0)
        _strategy(j, "beta", 2, 12, 50.02, 49.0)
        j.set_backtest_reference("alpha", [0.002], {"sharpe_ratio": 1.5}, ["2026-09-21"])
    return path


def _run(capsys, **kw) -> tuple[int, str, str]:
    code = run_report(attribution=True, out=None, **kw)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_report_prints_components_waterfall_and_top_trades(journal_path, capsys) -> None:
    code, out, err = _run(capsys, journal=str(journal_path))
    assert code == 0 and err == ""
    for text in ("== Strategy alpha ==", "== Strategy beta ==", "== Total ==", "waterfall"):
        assert text in out
    assert "spread and impact" in out and "model/regime" in out and "ALPHA #11" in out
    # alpha: spread = −100 × 0.03 = −$3.00, delay = −100 × 0.01 = −$1.00.
    alpha = out.split("== Strategy beta ==")[0]
    assert "-3.00" in alpha and "-1.00" in alpha
    code, out, _ = _run(capsys, journal=str(journal_path), strategy="beta")
    assert code == 0 and "alpha" not in out


def test_waterfall_steps_chain_from_backtest_to_live(journal_path) -> None:
    with Journal(journal_path) as j:
        per, _ = attribute_journal(j)
    a = per["alpha"]
    steps = waterfall(a)
    assert [s.label for s in steps][:3] == ["backtest", "model/regime", "ideal"]
    assert steps[0].bps == pytest.approx(NLV * 0.002 / NLV * 1e4)  # 20 bps backtest
    assert steps[2].bps == pytest.approx(100 * 1.0 / NLV * 1e4)  # ideal 100 × (51 − 50)
    assert steps[-1].label == "live" and steps[-1].bps == pytest.approx(a.live_pnl / NLV * 1e4)
    assert steps[-2].end == pytest.approx(steps[-1].bps)  # the costs land on live


def test_csv_component_columns_sum_to_the_total(journal_path, tmp_path, capsys) -> None:
    code, out, _ = _run(capsys, journal=str(journal_path), csv_dir=str(tmp_path / "out"))
    assert code == 0 and "attribution.csv" in out
    with (tmp_path / "out" / "attribution.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["strategy"] for r in rows} == {"alpha", "beta", "TOTAL"}
    assert len(rows) == 9  # three units each
    for r in rows:
        parts = sum(float(r[c]) for c in COMPONENTS if r[c] != "")
        assert parts == pytest.approx(float(r["total"]), abs=1e-6)
    usd = {r["strategy"]: r for r in rows if r["unit"] == "usd"}
    # alpha: live 100 × (51 − 50.04) − 1 = $95 against a backtest of 0.2 % × 200,000 = $400.
    assert float(usd["alpha"]["total"]) == pytest.approx(95.0 - 400.0)
    assert usd["beta"]["model"] == ""  # no backtest for beta
    # beta: live 100 × (49 − 50.02) − 1 = −$103 against ideal 100 × (49 − 50) = −$100.
    assert float(usd["beta"]["total"]) == pytest.approx(-3.0)
    with (tmp_path / "out" / "attribution_trades.csv").open() as fh:
        trades = list(csv.DictReader(fh))
    spread = [t for t in trades if t["strategy"] == "alpha" and t["component"] == "spread_impact"]
    assert spread[0]["order"] == "11" and float(spread[0]["usd"]) == pytest.approx(-3.0)


def test_bad_arguments_and_empty_journals(journal_path, tmp_path, capsys) -> None:
    code, _, err = _run(capsys, journal=str(journal_path), strategy="nosuch")
    assert code == 2 and "unknown strategy 'nosuch'; known: alpha, beta" in err
    code, _, err = _run(capsys, journal=str(journal_path), since="21-09-2026")
    assert code == 2 and "YYYY-MM-DD" in err
    code, _, err = _run(capsys, journal=str(tmp_path / "none.sqlite3"))
    assert code == 1 and "no journal" in err
    Journal(tmp_path / "empty.sqlite3").close()
    code, out, _ = _run(capsys, journal=str(tmp_path / "empty.sqlite3"))
    assert code == 0 and "No strategy orders or decisions" in out


def test_cli_flag_reaches_the_attribution_report(journal_path, capsys) -> None:
    assert (
        main(["report", "--attribution", "--journal", str(journal_path), "--strategy", "alpha"])
        == 0
    )
    assert "== Strategy alpha ==" in capsys.readouterr().out


def test_divergence_reason_names_the_flagged_metric_and_its_cause() -> None:

    month = 365.25 / 12
    # The seed example: 41 fills a month, 6 bps above the mid on $100,000 each; the backtest
    # made $540 and live lost $2,460, so execution is 2,460 of the 3,000 gap (82 %).
    orders = [
        AttributionOrder(f"o{i}", 1, "PSX", "BUY", 1000, 0.0, 100.0, 1.0,
                         (AttributionFill(1.0, 1000, 100.06, 0.0, 100.0),))
        for i in range(41)
    ]  # fmt: skip
    ideal = [IdealTrade(0.0, 1, 1000, 100.0) for _ in range(41)]
    a = attribute(orders, ideal, {1: 100.0}, nlv=1e6, window_days=month, backtest_pnl=540.0)
    rows = [
        DivergenceRow("annual_return", 0.02, 0.05, -0.03, None),
        DivergenceRow("max_drawdown", -0.2, -0.1, -0.1, True),
        DivergenceRow("sharpe_ratio", 0.9, 1.5, -0.6, True),
    ]
    assert divergence_reason(rows, a) == (
        "live Sharpe 0.90 vs 1.50: execution explains 82 %: "
        "6.0 bps/trade spread+impact × 41 trades/month"
    )
    assert divergence_reason(rows[:2], a).startswith("live max drawdown -0.20 vs -0.10")
    assert divergence_reason([rows[0]], a) is None
    assert "no attribution yet" in divergence_reason(rows, None)


def test_report_prints_why_under_a_raised_flag(tmp_path, capsys) -> None:
    path = tmp_path / "journal.sqlite3"
    with Journal(path) as j:
        eng = RiskEngine(j)
        rng = np.random.default_rng(5)
        day0 = 1_789_948_800.0  # 2026-09-21 00:00 UTC
        for k in range(6):
            day = dt.date(2026, 9, 21) + dt.timedelta(days=k)
            for i in range(10):
                t = day0 + k * 86400 + 14.5 * 3600 + 60 * i
                pnl = float(rng.normal(-100, 300)) * (i + 1) / 10
                eng.on_pnl(t, pnl, pnl, 0.0, NLV + pnl, day)
                eng.on_strategy_pnl("alpha", t, pnl, NLV + pnl, day)
            eng.close_session()
        eng.set_backtest_reference("alpha", 0.002 + 1e-5 * rng.standard_normal(250))
        _strategy(j, "alpha", 1, 11, 50.04, 51.0)
    # six sessions: annualised figures (and their flags) show from two here (default 20)
    assert run_report(journal=str(path), strategy="alpha", min_sessions=2) == 0
    out = capsys.readouterr().out
    assert "DIVERGES" in out
    [why] = [ln for ln in out.splitlines() if ln.startswith("why: ")]
    assert why.startswith("why: live Sharpe ")


def test_console_risk_table_says_why_a_sharpe_flag_is_raised(tmp_path) -> None:
    from livedesk.backend.console.risk_view import RiskTable

    with Journal(tmp_path / "journal.sqlite3") as j:
        eng = RiskEngine(j)
        rng = np.random.default_rng(5)
        day0 = 1_789_948_800.0  # 2026-09-21 00:00 UTC
        for k in range(6):
            day = dt.date(2026, 9, 21) + dt.timedelta(days=k)
            for i in range(10):
                t = day0 + k * 86400 + 14.5 * 3600 + 60 * i
                pnl = float(rng.normal(-100, 300)) * (i + 1) / 10
                eng.on_pnl(t, pnl, pnl, 0.0, NLV + pnl, day)
                eng.on_strategy_pnl("alpha", t, pnl, NLV + pnl, day)
            eng.close_session()
        eng.set_backtest_reference("alpha", 0.002 + 1e-5 * rng.standard_normal(250))
        _strategy(j, "alpha", 1, 11, 50.04, 51.0)
        eng.min_sessions = 2  # six sessions: the Sharpe (and its flag) shows from two here
        block = RiskTable(eng, n_boot=200).block("alpha")
    [sharpe] = [ln for ln in block.lines if ln.metric == "sharpe_ratio"]
    assert sharpe.flag is True
    assert sharpe.detail.startswith("live Sharpe ") and "(band " in sharpe.detail
