"""Backtest replay cores with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from livedesk.backend.strategies import crack_signal as sig
from livedesk.backend.strategies.backtest_crack import decisions_over
from livedesk.backend.strategies.replay import daily_compound, replay_positions


def test_constant_long_signal_earns_the_open_to_open_moves_minus_one_cost() -> None:
    opens = [100.0, 101.0, 102.0, 104.0]
    closes = [100.5, 101.5, 103.0, 103.0]
    times = pd.date_range("2026-11-20 15:00", periods=4, freq="1min", tz="UTC")
    r = replay_positions(opens, closes, times, [1, 1, 1, 1], weight=0.5, cost_bps=10)
    # filled at bar 1's open; held over bars 1..3: 102/101-1, 104/102-1, then 103/104-1 (close)
    expected = [
        0.0,
        0.5 * (102 / 101 - 1) - 0.5 * 10 / 1e4,
        0.5 * (104 / 102 - 1),
        0.5 * (103 / 104 - 1),
    ]
    assert list(r.bar_returns) == pytest.approx(expected)
    assert r.trades == 1
    assert list(r.held) == [0, 1, 1, 1]
    assert r.daily[0] == pytest.approx(np.prod(1 + np.array(expected)) - 1)


def test_flat_signal_earns_nothing_and_costs_nothing() -> None:
    r = replay_positions([1, 2, 3], [1, 2, 3], [0, 60, 120], [0, 0, 0], cost_bps=50)
    assert not r.bar_returns.any() and r.trades == 0


def test_daily_compounding_splits_by_new_york_session() -> None:
    import datetime as dt

    days = [dt.date(2026, 11, 19)] * 2 + [dt.date(2026, 11, 20)]
    d, r = daily_compound(days, np.array([0.1, 0.1, -0.5]))
    assert d == [dt.date(2026, 11, 19), dt.date(2026, 11, 20)]
    assert list(r) == pytest.approx([0.21, -0.5])


def test_replay_decisions_flatten_before_the_close_and_start_each_session_flat() -> None:
    # 2026-11-20 15:50..15:59 then 2026-11-23 09:30..09:34 (New York), in UTC
    t1 = pd.date_range("2026-11-20 20:50", periods=10, freq="1min", tz="UTC")
    t2 = pd.date_range("2026-11-23 14:30", periods=5, freq="1min", tz="UTC")
    idx = t1.append(t2)
    n = len(idx)
    rng = np.random.default_rng(0)
    bars = pd.DataFrame(
        {
            "psx": 90 + rng.standard_normal(n).cumsum(),
            "cl": 70 + rng.standard_normal(n).cumsum() * 0.1,
            "ho": np.full(n, 2.5),
            "rb": np.full(n, 2.2),
        },
        index=idx,
    )
    decided, frame = decisions_over(bars, 0.01, 3, 60, 5)
    end = (idx.asi8 // 10**9) + 60
    flat_at = pd.Timestamp("2026-11-20 20:55", tz="UTC").timestamp()
    close = pd.Timestamp("2026-11-20 21:00", tz="UTC").timestamp()
    assert all(decided[(end >= flat_at) & (end <= close)] == 0)
    # bar-by-bar equals the live rule applied to the live tail window
    for i in range(sig.min_bars(3) - 1, n):
        live = sig.evaluate(bars.iloc[: i + 1], 0, 0.01, 3)
        assert live.z == pytest.approx(frame["z"].iloc[i], nan_ok=True)


def test_options_replay_accounts_a_straddle_to_the_cent() -> None:
    import datetime as dt

    from livedesk.backend.strategies import options_math as om
    from livedesk.backend.strategies.backtest_options import simulate
    from livedesk.backend.strategies.options_combo import OptionsComboParams

    p = OptionsComboParams(threshold=0.02, exit_dte=7, max_contracts=10)
    days = [dt.date(2026, 11, 2) + dt.timedelta(days=i) for i in range(12)]
    spot = np.full(12, 100.0)  # a flat market: the straddle only decays
    iv = np.full(12, 0.20)
    forecast = np.full(12, np.nan)
    forecast[0] = 0.30  # one entry signal, on day 0
    out_days, daily, trades, log = simulate(p, days, spot, spot, iv, forecast, 1.0, 0.0, 0)
    assert trades == 1 and log[0]["open"] == "straddle"
    expiry = days[0] + dt.timedelta(days=1 + p.target_dte)  # decided on day 0, filled day 1
    entry = om.straddle_value(100.0, 100.0, (expiry - days[1]).days / 365, 0.20)
    last = om.straddle_value(100.0, 100.0, (expiry - days[-1]).days / 365, 0.20)
    qty = om.contracts_for_risk(entry, 1_000_000, p.risk_fraction, 100, p.max_contracts)
    assert log[0]["price"] == pytest.approx(entry)
    # equity change = (last mark - entry) * qty * 100, compounded through the daily returns
    growth = np.prod(1 + daily)
    assert (growth - 1) * 1_000_000 == pytest.approx((last - entry) * qty * 100, rel=1e-9)
    assert daily[0] == 0 and all(daily[2:] < 0)  # theta every day after the fill
    assert out_days == days


def test_options_replay_without_a_signal_is_flat() -> None:
    import datetime as dt

    from livedesk.backend.strategies.backtest_options import simulate
    from livedesk.backend.strategies.options_combo import OptionsComboParams

    days = [dt.date(2026, 11, 2) + dt.timedelta(days=i) for i in range(5)]
    spot = np.linspace(100, 104, 5)
    iv = np.full(5, 0.2)
    _, daily, trades, _ = simulate(
        OptionsComboParams(), days, spot, spot, iv, iv + 0.01, 1.0, 5.0, 0
    )
    assert trades == 0 and not daily.any()  # forecast within the 2-point threshold
