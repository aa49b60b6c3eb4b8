"""Journal → attribution inputs: orders, fills with their mids, decisions, marks, NLV, backtest."""

from __future__ import annotations

import sqlite3

import pytest

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.journal import MIGRATIONS, Journal
from livedesk.backend.risk.attribution_source import (
    attribute_inputs,
    attribute_journal,
    decision_detail,
    load,
)
from livedesk.backend.risk.engine import series_name

T0 = 1_790_000_000.0  # some instant; the window is one day from it
NLV = 100_000.0


def test_strategy_of_reads_the_name_before_the_idempotency_key() -> None:
    assert strategy_of("crack-spread#a1b2") == "crack-spread"
    assert strategy_of("momentum") == "momentum"
    assert strategy_of("") == "" and strategy_of(None) == ""


def test_fill_mid_column_is_a_migration_of_existing_journals(tmp_path) -> None:
    path = tmp_path / "j.sqlite3"
    raw = sqlite3.connect(path)
    raw.executescript(MIGRATIONS[0] + MIGRATIONS[1])
    raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    raw.execute("INSERT INTO schema_version VALUES (2)")
    raw.commit()
    raw.close()
    with Journal(path) as j:
        assert j.schema_version == len(MIGRATIONS)
        assert j.record_fill("e1", side="BOT", qty=1, price=10.0, t=T0, fill_mid=9.99)
        assert j.fills()[0]["fill_mid"] == 9.99


def journal_with_one_day(tmp_path) -> Journal:
    """One strategy, one decision (buy 100 of conId 1 at a mid of 50), one order half filled
    at 50.05 with the mid then at 50.02, $1 commission; the mid ends the day at 51."""
    j = Journal(tmp_path / "j.sqlite3")
    j.record_sample(T0, 0.0, NLV, 0.0)
    run = j.start_run("demo", {"w": 1}, t=T0)
    j.record_decision(
        run,
        "decision",
        decision_detail({"x": 1}, {1: 100}, {1: 50.0}, bars={"symbols": ["C1"], "count": 5}),
        t=T0 + 10,
    )
    j.record_decision(run, "skip", {"reason": "stale bar"}, t=T0 + 20)
    # A decision without a replay record (names, not conIds, and no mids) cannot be replayed.
    j.record_decision(run, "decision", {"targets": {"PSX": 0.5}}, t=T0 + 30)
    j.record_order(
        7, action="BUY", qty=100, order_type="MKT", strategy="demo", symbol="C1", con_id=1,
        bid=49.99, ask=50.01, t=T0 + 10, order_ref="demo#k1",
    )  # fmt: skip
    j.record_fill(
        "e1", side="BOT", qty=50, price=50.05, t=T0 + 11, order_id=7, strategy="demo",
        symbol="C1", con_id=1, commission=1.0, multiplier=1.0, fill_mid=50.02,
    )  # fmt: skip
    j.record_decision(run, "decision", decision_detail({}, {1: 100}, {1: 51.0}), t=T0 + 3600)
    return j


def test_load_builds_orders_fills_decisions_and_marks(tmp_path) -> None:
    with journal_with_one_day(tmp_path) as j:
        inputs = load(j, "demo", since=T0, until=T0 + 86400)
        assert inputs.nlv == NLV and inputs.window_days == 1
        [o] = inputs.orders
        assert (o.arrival_mid, o.qty, o.filled) == (50.0, 100, 50)
        assert o.fills[0].mid == 50.02 and o.fills[0].commission == 1.0
        # neither the skip nor the unreplayable decision is replayed
        assert [d.t for d in inputs.decisions] == [T0 + 10, T0 + 3600]
        assert inputs.end_marks == {1: 51.0}
        a = attribute_inputs(inputs)
    # Hand: ideal buys 100 at 50 → 100 × (51 − 50) = $100. Live: 50 × (51 − 50.05) − 1 = $46.5.
    assert a.ideal_pnl == pytest.approx(100.0)
    assert a.rebuilt_live_pnl == pytest.approx(46.5)
    assert a.usd["spread_impact"] == pytest.approx(-50 * 0.03)
    assert a.usd["delay"] == pytest.approx(-50 * 0.02)
    assert a.usd["commission"] == pytest.approx(-1.0)
    assert a.usd["missed"] == pytest.approx(-50.0)  # 50 unfilled × (51 − 50)
    assert a.bps("missed") == pytest.approx(-50.0 / NLV * 1e4)


def test_backtest_and_sampled_live_pnl_over_the_window(tmp_path) -> None:
    with journal_with_one_day(tmp_path) as j:
        day = "2026-09-21"  # T0's UTC date
        j.set_backtest_reference("demo", [0.001, 0.5], {"sharpe_ratio": 1.5}, [day, "2027-01-04"])
        j.record_sample(T0 + 100, 40.0, NLV, 0.0, key=series_name("demo"))
        inputs = load(j, "demo", since=T0, until=T0 + 86400)
        assert inputs.backtest_pnl == pytest.approx(NLV * 0.001)  # only the session inside
        assert inputs.live_pnl == pytest.approx(40.0)
        a = attribute_inputs(inputs)
        assert a.usd["residual"] == pytest.approx(40.0 - 46.5)
        assert a.usd["model"] == pytest.approx(100.0 - 100.0, abs=1e-6)
        assert sum(a.usd.values()) == pytest.approx(40.0 - 100.0)
        per, total = attribute_journal(j, since=T0, until=T0 + 86400)
        assert list(per) == ["demo"] and total.usd == pytest.approx(per["demo"].usd)


def test_load_without_nlv_says_so(tmp_path) -> None:
    with Journal(tmp_path / "j.sqlite3") as j:
        j.record_order(1, action="BUY", qty=1, order_type="MKT", strategy="s", con_id=1, t=T0)
        with pytest.raises(ValueError, match="NetLiquidation"):
            load(j, "s")
        inputs = load(j, "s", nlv=NLV)
        assert inputs.orders == () and "no arrival mid" in inputs.skipped[0]
