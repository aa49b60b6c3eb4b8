"""Attribution of live vs ideal vs backtest on hand-built cases whose every component is known."""

from __future__ import annotations

import math

import pytest

from livedesk.backend.risk.attribution import (
    AttributionFill,
    AttributionOrder,
    DecisionRecord,
    IdealTrade,
    attribute,
    combine,
    explain,
    replay,
)

NLV = 1_000_000.0
MONTH = 365.25 / 12


def buy(qty, mid, *fills, con_id=1, key="o1", mult=1.0, side="BUY"):
    return AttributionOrder(key, con_id, f"C{con_id}", side, qty, 0.0, mid, mult, tuple(fills))


def ideal(qty, price, con_id=1, mult=1.0):
    return IdealTrade(0.0, con_id, qty, price, mult)


def test_one_fill_at_mid_plus_5_bps_is_all_spread_and_impact() -> None:
    # BUY 100 at an arrival mid of 100.00, filled at 100.05 (5 bps) while the mid was still
    # 100.00, commission $1, marked at 101 at the end: ideal = 100 × 1 = $100;
    # live = 100 × (101 − 100.05) − 1 = $94.
    o = buy(100, 100.0, AttributionFill(1.0, 100, 100.05, commission=1.0, mid=100.0))
    a = attribute([o], [ideal(100, 100.0)], {1: 101.0}, nlv=NLV, window_days=1)
    assert a.ideal_pnl == pytest.approx(100.0)
    assert a.live_pnl == pytest.approx(94.0)
    assert a.usd["spread_impact"] == pytest.approx(-5.0)
    assert a.usd["commission"] == pytest.approx(-1.0)
    assert a.usd["delay"] == pytest.approx(0.0)
    assert a.usd["missed"] == pytest.approx(0.0)
    assert a.usd["residual"] == pytest.approx(0.0)
    assert a.bps("spread_impact") == pytest.approx(-0.05)  # $5 of $1,000,000
    assert a.annualised_bps("spread_impact") == pytest.approx(-0.05 * 365.25)


def test_a_delayed_fill_splits_into_delay_and_spread() -> None:
    # The mid moved from 100.00 to 100.25 before the fill at 100.30.
    o = buy(100, 100.0, AttributionFill(5.0, 100, 100.30, mid=100.25))
    a = attribute([o], [ideal(100, 100.0)], {1: 101.0}, nlv=NLV, window_days=1)
    assert a.usd["delay"] == pytest.approx(-25.0)
    assert a.usd["spread_impact"] == pytest.approx(-5.0)
    assert a.live_pnl - a.ideal_pnl == pytest.approx(70.0 - 100.0)


def test_a_half_filled_order_misses_the_move_on_the_remainder() -> None:
    # BUY 100 at 50, only 50 filled (at the mid), the price ends at 52: the missing 50 shares
    # would have made 50 × 2 = $100.
    o = buy(100, 50.0, AttributionFill(1.0, 50, 50.0, mid=50.0))
    a = attribute([o], [ideal(100, 50.0)], {1: 52.0}, nlv=NLV, window_days=1)
    assert a.usd["missed"] == pytest.approx(-100.0)
    assert a.usd["spread_impact"] == pytest.approx(0.0)
    assert a.top["missed"][0].usd == pytest.approx(-100.0)


def test_a_sell_below_the_mid_costs_and_futures_use_the_multiplier() -> None:
    sell = buy(10, 20.0, AttributionFill(1.0, 10, 19.98, mid=20.0), side="SELL")
    a = attribute([sell], [ideal(-10, 20.0)], {1: 19.0}, nlv=NLV, window_days=1)
    assert a.usd["spread_impact"] == pytest.approx(-0.2)
    assert a.ideal_pnl == pytest.approx(10.0)
    # CL: 2 contracts × 1,000 bbl, filled 0.02 above the mid → $40 of impact.
    cl = buy(2, 70.0, AttributionFill(1.0, 2, 70.02, 1.7, 70.0), con_id=9, mult=1000.0)
    b = attribute([cl], [ideal(2, 70.0, 9, 1000.0)], {9: 71.0}, nlv=NLV, window_days=1)
    assert b.usd["spread_impact"] == pytest.approx(-40.0)
    assert b.ideal_pnl == pytest.approx(2000.0)
    assert b.usd["commission"] == pytest.approx(-1.7)


def test_components_sum_exactly_to_live_minus_backtest() -> None:
    orders = [
        buy(100, 100.0, AttributionFill(1, 60, 100.10, 0.5, 100.05), key="a"),
        buy(40, 30.0, AttributionFill(2, 40, 29.95, 0.3, 29.97), con_id=2, key="b", side="SELL"),
    ]
    trades = [ideal(100, 100.0), ideal(-40, 30.0, 2)]
    a = attribute(
        orders,
        trades,
        {1: 103.0, 2: 29.0},
        nlv=NLV,
        window_days=5,
        live_pnl=250.0,
        backtest_pnl=400.0,
    )
    # rebuilt live: 60 × (103 − 100.10) − 0.5 + (−40) × (29 − 29.95) − 0.3 = 174 − 0.5 + 38 − 0.3
    assert a.rebuilt_live_pnl == pytest.approx(211.2)
    assert a.usd["residual"] == pytest.approx(250.0 - 211.2)
    assert a.usd["model"] == pytest.approx(a.ideal_pnl - 400.0)
    total = sum(usd for _, usd, _, _ in a.rows())
    assert total == pytest.approx(250.0 - 400.0)
    assert sum(bps for _, _, bps, _ in a.rows()) == pytest.approx(-150.0 / NLV * 1e4)


def test_replay_uses_the_signal_function_and_reaches_each_target_at_its_mid() -> None:
    calls = []

    def signal(inputs):
        calls.append(inputs)
        return {1: inputs["n"]} if inputs["n"] else {}

    decisions = [
        DecisionRecord(2.0, {"n": 0}, {}, {1: 105.0}),
        DecisionRecord(1.0, {"n": 30}, {1: 30}, {1: 100.0}),
    ]
    trades = replay(signal, decisions)
    assert calls == [{"n": 30}, {"n": 0}]  # in time order
    assert [(t.t, t.qty, t.price) for t in trades] == [(1.0, 30, 100.0), (2.0, -30, 105.0)]
    a = attribute([], trades, {1: 110.0}, nlv=NLV, window_days=1, signal=signal)
    assert a.signal is signal
    assert a.ideal_pnl == pytest.approx(30 * 5.0)  # bought at 100, sold at 105
    # With no signal the recorded targets are replayed; a held name left out goes to zero.
    assert [t.qty for t in replay(None, decisions, {1: 10})] == [20, -30]


def test_bad_inputs_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="NetLiquidation"):
        attribute([], [], {}, nlv=0.0, window_days=1)
    with pytest.raises(ValueError, match="longer than zero"):
        attribute([], [], {}, nlv=NLV, window_days=0)
    with pytest.raises(ValueError, match="end-of-window mark for conId 1"):
        attribute([buy(1, 10.0)], [], {1: math.nan}, nlv=NLV, window_days=1)
    with pytest.raises(ValueError, match="no mid for conId 3"):
        replay(None, [DecisionRecord(1.0, None, {3: 5}, {})])


def test_combine_adds_strategies_and_keeps_the_worst_trades() -> None:
    a = attribute(
        [buy(100, 100.0, AttributionFill(1, 100, 100.05, mid=100.0))],
        [ideal(100, 100.0)],
        {1: 101.0},
        nlv=NLV,
        window_days=3,
        backtest_pnl=90.0,
    )
    b = attribute(
        [buy(10, 10.0, AttributionFill(1, 10, 10.8, mid=10.0), con_id=2, key="x")],
        [ideal(10, 10.0, 2)],
        {2: 11.0},
        nlv=NLV,
        window_days=3,
        backtest_pnl=5.0,
    )
    c = combine([a, b])
    assert c.usd["spread_impact"] == pytest.approx(-5.0 - 8.0)
    assert c.backtest_pnl == pytest.approx(95.0)
    assert [x.key for x in c.top["spread_impact"]] == ["x", "o1"]
    with pytest.raises(ValueError, match="different windows"):
        combine([a, attribute([], [], {}, nlv=NLV, window_days=4)])


def test_explain_names_execution_as_in_the_seed_example() -> None:
    # 41 trades in a month, each 1,000 shares bought at 100.06 against a mid of 100.00 (6 bps),
    # the price ending where it started; the backtest made $540, live lost $2,460: execution
    # is 2,460 of the 3,000 gap = 82 %.
    orders = [
        buy(1000, 100.0, AttributionFill(1, 1000, 100.06, mid=100.0), key=f"o{i}")
        for i in range(41)
    ]
    trades = [ideal(1000, 100.0) for _ in range(41)]
    a = attribute(orders, trades, {1: 100.0}, nlv=NLV, window_days=MONTH, backtest_pnl=540.0)
    line = explain("Sharpe", 0.9, 1.5, a)
    assert line == (
        "live Sharpe 0.90 vs 1.50: execution explains 82 %: "
        "6.0 bps/trade spread+impact × 41 trades/month"
    )
    no_backtest = attribute(orders, trades, {1: 100.0}, nlv=NLV, window_days=MONTH)
    assert "no backtest" in explain("Sharpe", 0.9, 1.5, no_backtest)
    # A gap the backtest's own optimism explains: ideal live made 0, backtest 5,000.
    clean = attribute(
        [], [ideal(1000, 100.0)], {1: 100.0}, nlv=NLV, window_days=MONTH, backtest_pnl=5000.0
    )
    assert "model/regime explains 100 %" in explain("Sharpe", 0.1, 2.0, clean)
