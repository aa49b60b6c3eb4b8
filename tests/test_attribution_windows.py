"""Attribution over real windows: held books, decision → arrival drift, combos, one page per
strategy, windows of one clock. Every expectation is computed by hand in the comments."""

from __future__ import annotations

import pytest

from livedesk.backend.journal import Journal
from livedesk.backend.report.metrics import run_report
from livedesk.backend.risk.attribution import EXECUTION, attribute
from livedesk.backend.risk.attribution_source import (
    attribute_inputs,
    attribute_pages,
    decision_detail,
    load,
)
from livedesk.backend.risk.engine import series_name

NLV = 100_000.0
T0 = 1_790_000_000.0  # 2026-09-21 14:13:20 UTC (the wall clock of the test journals)
GW = 1_710_514_800.0  # 2024-03-15 15:00:00 UTC: a gateway whose clock is on another day


def _sums_hold(a) -> None:
    """Every execution component's per-trade list sums to the component."""
    for c in EXECUTION:
        assert sum(x.usd for x in a.contributions[c]) == pytest.approx(a.usd[c], abs=1e-9)


# ---- held book -----------------------------------------------------------------------------


def test_held_book_equal_to_the_backtest_with_no_trades_attributes_nothing() -> None:
    # 1,000 shares held from a start mark of 100 to an end mark of 101: +$1,000 on both paths;
    # the backtest made +1 % of $100,000 = $1,000 and so did live.
    a = attribute(
        [], [], {1: 101.0}, nlv=NLV, window_days=30, live_pnl=1000.0, backtest_pnl=1000.0,
        held={1: 1000.0}, start_marks={1: 100.0},
    )  # fmt: skip
    assert a.held_pnl == pytest.approx(1000.0)
    assert a.ideal_pnl == pytest.approx(1000.0) and a.rebuilt_live_pnl == pytest.approx(1000.0)
    assert a.usd["model"] == pytest.approx(0.0)
    assert a.usd["residual"] == pytest.approx(0.0)
    assert sum(usd for _, usd, _, _ in a.rows()) == pytest.approx(0.0)


def test_held_book_without_a_start_mark_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no window-start mark for conId 7"):
        attribute([], [], {7: 10.0}, nlv=NLV, window_days=1, held={7: 5.0})


def test_held_book_window_from_the_journal(tmp_path) -> None:
    # Bought 1,000 of conId 1 at 100 (mid 100) the day before the window; inside it the
    # strategy decides to keep them at a mid of 101 (no trade). Its sampled PnL goes from 0 to
    # 1,000; the backtest's session inside the window made +1 %.
    with Journal(tmp_path / "j.sqlite3") as j:
        j.record_sample(T0 - 86400, 0.0, NLV, 0.0)
        run = j.start_run("mf", t=T0 - 86400)
        j.record_decision(run, "decision", decision_detail({}, {1: 1000}, {1: 100.0}), t=T0 - 86400)
        j.record_order(
            1, action="BUY", qty=1000, order_type="MKT", strategy="mf", symbol="AAA", con_id=1,
            bid=99.99, ask=100.01, t=T0 - 86399,
        )  # fmt: skip
        j.record_fill(
            "e1", side="BOT", qty=1000, price=100.0, t=T0 - 86398, order_id=1, strategy="mf",
            symbol="AAA", con_id=1, multiplier=1.0, fill_mid=100.0,
        )  # fmt: skip
        j.record_sample(T0 - 10, 0.0, NLV, 0.0, key=series_name("mf"))
        j.record_decision(run, "decision", decision_detail({}, {1: 1000}, {1: 101.0}), t=T0 + 3600)
        j.record_sample(T0 + 3600, 1000.0, NLV + 1000, 0.0, key=series_name("mf"))
        j.set_backtest_reference("mf", [0.01], {"sharpe_ratio": 1.0}, ["2026-09-21"])
        inputs = load(j, "mf", since=T0, until=T0 + 7200)
        assert inputs.start_positions == {1: 1000.0} and inputs.start_marks[1] == 100.0
        assert inputs.live_pnl == pytest.approx(1000.0)
        assert inputs.backtest_pnl == pytest.approx(1000.0)
        a = attribute_inputs(inputs)
    assert a.ideal_pnl == pytest.approx(1000.0)
    assert a.usd["model"] == pytest.approx(0.0, abs=1e-9)
    assert a.usd["residual"] == pytest.approx(0.0, abs=1e-9)
    assert sum(a.usd.values()) == pytest.approx(0.0, abs=1e-9)


# ---- decision → arrival drift, misses --------------------------------------------------------


def _twenty_filled(j: Journal, t: float, qty_sent: float = 10) -> None:
    """One decision at a mid of 50.00 for 10 of each of conIds 1..20; the orders arrive with the
    mid at 50.05 (bid 50.04, ask 50.06) and fill ``qty_sent`` at 50.05 (mid 50.05); a later
    decision marks every contract at 51."""
    ids = range(1, 21)
    run = j.start_run("mf", t=t)
    j.record_decision(
        run, "decision", decision_detail({}, {c: 10 for c in ids}, {c: 50.0 for c in ids}), t=t
    )
    for c in ids:
        j.record_order(
            c, action="BUY", qty=qty_sent, order_type="MKT", strategy="mf", symbol=f"S{c}",
            con_id=c, bid=50.04, ask=50.06, t=t + 1,
        )  # fmt: skip
        j.record_fill(
            f"e{c}", side="BOT", qty=qty_sent, price=50.05, t=t + 2, order_id=c, strategy="mf",
            symbol=f"S{c}", con_id=c, multiplier=1.0, fill_mid=50.05,
        )  # fmt: skip
    j.record_decision(
        run, "decision", decision_detail({}, {c: 10 for c in ids}, {c: 51.0 for c in ids}),
        t=t + 60,
    )  # fmt: skip


def test_twenty_of_twenty_filled_misses_nothing_and_the_drift_is_delay(tmp_path) -> None:
    with Journal(tmp_path / "j.sqlite3") as j:
        j.record_sample(T0, 0.0, NLV, 0.0)
        _twenty_filled(j, T0)
        a = attribute_inputs(load(j, "mf"))
    # delay = 20 orders × 10 × (50.00 − 50.05) = −$10; filled at the mid: no spread; all filled.
    assert a.usd["delay"] == pytest.approx(-10.0)
    assert a.usd["missed"] == pytest.approx(0.0, abs=1e-9)
    assert a.usd["spread_impact"] == pytest.approx(0.0, abs=1e-9)
    # ideal: 200 × (51 − 50) = $200; live: 200 × (51 − 50.05) = $190.
    assert a.ideal_pnl == pytest.approx(200.0) and a.live_pnl == pytest.approx(190.0)
    assert all(abs(x.usd) < 1e-9 for x in a.contributions["missed"])
    _sums_hold(a)


def test_an_ideal_trade_sent_short_is_missed_and_listed(tmp_path) -> None:
    # Only 9 of the 10 decided are sent (and filled): each contract misses 1 × (51 − 50) = $1.
    with Journal(tmp_path / "j.sqlite3") as j:
        j.record_sample(T0, 0.0, NLV, 0.0)
        _twenty_filled(j, T0, qty_sent=9)
        a = attribute_inputs(load(j, "mf"))
    assert a.usd["missed"] == pytest.approx(-20.0)
    assert a.usd["delay"] == pytest.approx(-9.0)  # 20 × 9 × (50.00 − 50.05)
    assert {x.key for x in a.contributions["missed"] if abs(x.usd) > 1e-9} == {"not sent"}
    _sums_hold(a)
    assert a.live_pnl - a.ideal_pnl == pytest.approx(sum(a.usd[c] for c in EXECUTION))


# ---- a manual combo and a strategy on the gateway's clock --------------------------------------


def _manual_condor(j: Journal, t: float) -> None:
    """A manual iron condor (credit: the BAG's mid −1.50), 2 units, filled leg by leg with
    multiplier 100: each leg 0.05 worse than its mid."""
    j.record_order(
        900, action="BUY", qty=2, order_type="LMT", strategy="manual", symbol="SPY", con_id=0,
        bid=-1.60, ask=-1.40, t=t, order_ref="manual#k9",
    )  # fmt: skip
    legs = [(101, "BOT", 1.10, 1.05), (102, "SLD", 2.00, 2.05), (103, "SLD", 1.90, 1.95),
            (104, "BOT", 0.85, 0.80)]  # fmt: skip
    for con_id, side, price, mid in legs:
        j.record_fill(
            f"m{con_id}", side=side, qty=2, price=price, t=t + 1, order_id=900,
            strategy="manual", symbol="SPY", con_id=con_id, multiplier=100.0, fill_mid=mid,
        )  # fmt: skip
    j.update_order_status(900, "Filled", filled=2, t=t + 1)


def _rebalance_30s(j: Journal, t: float) -> None:
    """Decide 100 of conId 1 at a mid of 50.00; the order arrives at a mid of 50.00 and fills
    30 s after the decision at 50.03 (mid 50.02), $1 commission."""
    run = j.start_run("alpha", t=t)
    j.record_decision(run, "decision", decision_detail({}, {1: 100}, {1: 50.0}), t=t)
    j.record_order(
        11, action="BUY", qty=100, order_type="MKT", strategy="alpha", symbol="ALPHA", con_id=1,
        bid=49.99, ask=50.01, t=t + 1,
    )  # fmt: skip
    j.record_fill(
        "a1", side="BOT", qty=100, price=50.03, t=t + 30, order_id=11, strategy="alpha",
        symbol="ALPHA", con_id=1, commission=1.0, multiplier=1.0, fill_mid=50.02,
    )  # fmt: skip


@pytest.fixture
def two_pages(tmp_path):
    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:
        j.record_sample(GW - 7200, 0.0, NLV, 0.0)
        _manual_condor(j, GW - 3600)
        _rebalance_30s(j, GW)
    return path


def test_manual_combo_and_a_strategy_give_two_correct_pages(two_pages) -> None:
    with Journal(two_pages) as j:
        pages = attribute_pages(j)
    assert pages.errors == {} and pages.names == ["alpha", "manual"]
    alpha, manual = pages.per["alpha"], pages.per["manual"]
    # alpha: decision at GW, last fill at GW + 30 → a 31 s window (last record + 1 s), not days.
    assert alpha.window_days * 86400 == pytest.approx(31.0)
    # spread 100 × (50.02 − 50.03) = −1; delay 100 × (50.00 − 50.02) = −2; commission −1.
    assert alpha.usd["spread_impact"] == pytest.approx(-1.0)
    assert alpha.usd["delay"] == pytest.approx(-2.0)
    assert alpha.usd["commission"] == pytest.approx(-1.0)
    assert alpha.usd["missed"] == pytest.approx(0.0, abs=1e-9)
    _sums_hold(alpha)
    # manual condor, through its legs: each leg 2 × 0.05 × 100 = $10 worse than its mid.
    assert manual.usd["spread_impact"] == pytest.approx(-40.0)
    assert manual.usd["missed"] == pytest.approx(0.0, abs=1e-9)
    assert manual.usd["delay"] == pytest.approx(0.0, abs=1e-9)
    assert manual.live_pnl == pytest.approx(-40.0) and manual.ideal_pnl == pytest.approx(0.0)
    assert manual.window_days * 86400 == pytest.approx(2.0)
    _sums_hold(manual)
    # the total spans both, over their common window (manual at GW − 3600 … alpha's end)
    assert pages.total is not None
    assert pages.total.window_days * 86400 == pytest.approx(3600 + 31)
    assert pages.total.usd["spread_impact"] == pytest.approx(-41.0)


def test_one_strategy_failing_is_its_own_page(two_pages) -> None:
    with Journal(two_pages) as j:
        # beta's order carries no time (0): an error page, not a 20,000-day window.
        j.record_order(
            5, action="BUY", qty=1, order_type="MKT", strategy="beta", symbol="B", con_id=5,
            bid=9.99, ask=10.01, t=0.0,
        )  # fmt: skip
        pages = attribute_pages(j)
    assert set(pages.per) == {"alpha", "manual"}
    assert "no submission time" in pages.errors["beta"]
    assert pages.per["alpha"].usd["delay"] == pytest.approx(-2.0)


def test_decisions_and_orders_on_two_clocks_are_refused(tmp_path) -> None:
    # decisions on the gateway's day, orders and fills on the wall clock 2.61 days later.
    with Journal(tmp_path / "j.sqlite3") as j:
        j.record_sample(GW, 0.0, NLV, 0.0)
        run = j.start_run("alpha", t=GW)
        j.record_decision(run, "decision", decision_detail({}, {1: 100}, {1: 50.0}), t=GW)
        later = GW + 2.61 * 86400
        j.record_order(
            11, action="BUY", qty=100, order_type="MKT", strategy="alpha", symbol="A", con_id=1,
            bid=49.99, ask=50.01, t=later,
        )  # fmt: skip
        with pytest.raises(ValueError, match="different clocks"):
            load(j, "alpha")
        assert "different clocks" in attribute_pages(j).errors["alpha"]


def test_report_shows_both_pages_and_the_failure(two_pages, capsys) -> None:
    with Journal(two_pages) as j:
        j.record_order(
            5, action="BUY", qty=1, order_type="MKT", strategy="beta", symbol="B", con_id=5,
            bid=9.99, ask=10.01, t=0.0,
        )  # fmt: skip
    code = run_report(attribution=True, journal=str(two_pages))
    out = capsys.readouterr().out
    assert code == 0
    assert "== Strategy alpha ==" in out and "== Strategy manual ==" in out
    beta = out.split("== Strategy beta ==")[1].split("==")[0]
    assert "cannot attribute" in beta and "no submission time" in beta
    assert "window 0.00 days" in out  # 31 s, not 20,794 days


def test_report_nlv_for_a_journal_without_one(tmp_path, capsys) -> None:
    path = tmp_path / "j.sqlite3"
    with Journal(path) as j:
        _rebalance_30s(j, GW)  # no NetLiquidation sample
    code = run_report(attribution=True, journal=str(path))
    out = capsys.readouterr().out
    assert code == 1 and "pass --nlv" in out
    code = run_report(attribution=True, journal=str(path), nlv=50_000.0)
    out = capsys.readouterr().out
    assert code == 0 and "NLV 50,000.00" in out
    # spread −$1 in bps of $50,000 = −0.20
    assert "-0.20" in out.split("spread and impact")[1].splitlines()[0]
    assert run_report(attribution=True, journal=str(path), nlv=-5.0) == 2
    assert "--nlv must be a positive amount" in capsys.readouterr().err
    assert run_report(journal=str(path), nlv=5.0) == 2
    assert "only used with --attribution" in capsys.readouterr().err


def test_a_cron_journal_attributes_from_its_run_snapshots(tmp_path) -> None:
    from livedesk.backend.risk.attribution_snapshots import record_run_snapshot

    # A monthly run at T0 − 60 recorded NLV $100,000 and the broker's positions: 1,000 of
    # conId 1 (this strategy's) marked at 100 and 5 of conId 99 (not its contract). Its fills
    # came after the process exited: the journal has none. The next run decides to hold at 101.
    with Journal(tmp_path / "j.sqlite3") as j:
        run = j.start_run("mf", t=T0 - 86400)
        j.record_decision(run, "decision", decision_detail({}, {1: 1000}, {1: 99.0}), t=T0 - 86400)
        record_run_snapshot(j, "mf", T0 - 60, NLV, {1: 1000.0, 99: 5.0}, {1: 100.0, 99: 7.0}, {})
        j.record_decision(run, "decision", decision_detail({}, {1: 1000}, {1: 101.0}), t=T0 + 60)
        j.set_backtest_reference("mf", [0.01], {"sharpe_ratio": 1.0}, ["2026-09-21"])
        inputs = load(j, "mf", since=T0, until=T0 + 3600)
        assert inputs.nlv == NLV  # from the run's snapshot: no account sampler ran
        assert inputs.start_positions == {1: 1000.0} and inputs.start_marks[1] == 100.0
        a = attribute_inputs(inputs)
    # held 1,000 × (101 − 100) = $1,000 = the backtest's +1 % of $100,000
    assert a.ideal_pnl == pytest.approx(1000.0) and a.usd["model"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="positive epoch"):
        with Journal(tmp_path / "k.sqlite3") as k:
            record_run_snapshot(k, "mf", 0.0, NLV, {}, {}, {})
