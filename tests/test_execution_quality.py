"""Execution quality: sign-aware slippage, commission bps, aggregates and annualised drag."""

from __future__ import annotations

import math

import numpy as np
import pytest

from livedesk.backend.journal import Journal
from livedesk.backend.risk.execution import (
    FillCost,
    annualised_drag_bps,
    commission_bps,
    distribution,
    fill_costs,
    side_sign,
    slippage_bps,
    summarize,
)


def test_slippage_is_a_cost_when_the_fill_is_worse_than_mid():
    assert slippage_bps("BUY", 100.05, 100.0) == pytest.approx(5.0)  # bought above mid
    assert slippage_bps("BOT", 99.95, 100.0) == pytest.approx(-5.0)  # price improvement
    assert slippage_bps("SELL", 99.95, 100.0) == pytest.approx(5.0)  # sold below mid
    assert slippage_bps("SLD", 100.05, 100.0) == pytest.approx(-5.0)
    assert math.isnan(slippage_bps("BUY", 100.0, None))
    assert math.isnan(slippage_bps("BUY", 100.0, 0.0))
    with pytest.raises(ValueError):
        side_sign("HOLD")


def test_commission_bps_uses_notional_with_multiplier():
    assert commission_bps(1.0, 100, 50.0) == pytest.approx(2.0)  # $1 on $5,000
    assert commission_bps(1.3, -2, 3.25, multiplier=100) == pytest.approx(20.0)  # options
    assert math.isnan(commission_bps(None, 100, 50.0))
    assert math.isnan(commission_bps(1.0, 0, 50.0))


def test_distribution_statistics():
    values = [float(v) for v in range(1, 101)] + [math.nan]
    d = distribution(values, bins=4)
    assert (d.count, d.mean, d.median) == (100, 50.5, 50.5)
    assert d.p5 == pytest.approx(np.percentile(np.arange(1, 101), 5))
    assert sum(d.hist_counts) == 100 and len(d.hist_edges) == 5
    assert distribution([math.nan]).count == 0


def test_seed_example_6_bps_times_40_trades_a_month(tmp_path):
    """40 trades a month at 6 bps (4 slippage + 2 commission), each 1/12 of NLV.

    Assumption made explicit: a 12-name equal-weight book, so each trade's notional is
    NLV / 12. Then the drag is 6 × 40 × 12 months / 12 = 240 bps a year, the seed's ≈ 250.
    """
    nlv = 1_200_000.0
    notional = nlv / 12
    mid, qty = 100.0, notional / 100.0
    with Journal(tmp_path / "j.sqlite3") as j:
        for i in range(40):
            buy = i % 2 == 0
            price = mid * (1 + 4e-4) if buy else mid * (1 - 4e-4)
            j.record_order(i, action="BUY" if buy else "SELL", qty=qty, order_type="MKT",
                           bid=mid - 0.01, ask=mid + 0.01, strategy="mom", t=float(i))  # fmt: skip
            j.record_fill(f"x{i}", side="BOT" if buy else "SLD", qty=qty, price=price,
                          t=float(i), order_id=i, strategy="mom")  # fmt: skip
            j.record_commission(f"x{i}", 2e-4 * qty * price)
        costs = fill_costs(j.orders(), j.fills())
    summary = summarize(costs, nlv=nlv, span_days=365.25 / 12)["mom"]
    assert summary.fills == 40
    assert summary.slippage.mean == pytest.approx(4.0)
    assert summary.commission.mean == pytest.approx(2.0)
    assert summary.drag_bps_per_year == pytest.approx(240.0, rel=1e-3)
    assert summary.drag_bps_per_year == pytest.approx(250.0, rel=0.05)


def test_fill_costs_match_by_perm_id_and_handle_missing_mid():
    orders = [
        {"order_id": 1, "perm_id": 555, "arrival_mid": 10.0},
        {"order_id": 2, "perm_id": None, "arrival_mid": None},
    ]
    fills = [
        {"exec_id": "a", "order_id": 99, "perm_id": 555, "side": "SLD", "qty": 100,
         "price": 9.99, "commission": 1.0, "strategy": "s", "con_id": 7},
        {"exec_id": "b", "order_id": 2, "perm_id": None, "side": "BOT", "qty": 10,
         "price": 20.0, "commission": None, "strategy": "s", "con_id": 8},
    ]  # fmt: skip
    a, b = fill_costs(orders, fills, multipliers={7: 100.0})
    assert a.notional == pytest.approx(99_900.0)
    assert a.slippage_bps == pytest.approx(10.0)
    assert a.commission_bps == pytest.approx(1.0 / 99_900.0 * 1e4)
    assert math.isnan(b.slippage_bps) and math.isnan(b.commission_bps) and b.total_bps == 0.0


def test_drag_scales_with_span_and_groups_per_strategy():
    costs = [
        FillCost("1", "a", 10_000.0, 5.0, 1.0),
        FillCost("2", "b", 50_000.0, math.nan, 2.0),
        FillCost("3", None, 1_000.0, -3.0, 1.0),
    ]
    year = annualised_drag_bps(costs, nlv=100_000.0, span_days=365.25)
    assert year == pytest.approx((6 * 10_000 + 2 * 50_000 - 2 * 1_000) / 100_000)
    assert annualised_drag_bps(costs, 100_000.0, 365.25 / 2) == pytest.approx(2 * year)
    groups = summarize(costs, nlv=100_000.0, span_days=365.25)
    assert set(groups) == {"a", "b", None}
    assert groups["b"].slippage.count == 0 and groups["b"].commission.mean == 2.0
    with pytest.raises(ValueError):
        annualised_drag_bps(costs, nlv=0.0, span_days=1.0)
