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
