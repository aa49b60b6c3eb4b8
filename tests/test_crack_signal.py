"""The crack-spread signal against a hand-computed table, and the units check."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from livedesk.backend.strategies import crack_signal as sig


def table() -> pd.DataFrame:
    # HO 2.50, RB 2.00 $/gal: (2*2.00*42 + 2.50*42) / 3 = 91 $/bbl, so crack = 91 - CL
    idx = pd.date_range("2026-11-20 15:00", periods=5, freq="1min", tz="UTC")
    return pd.DataFrame(
        {
            "psx": [90.0, 91.0, 93.0, 92.0, 91.5],
            "cl": [60.0, 62.0, 61.0, 65.0, 63.0],
            "ho": [2.5] * 5,
            "rb": [2.0] * 5,
        },
        index=idx,
    )


def test_crack_is_in_dollars_per_barrel() -> None:
    # (2 * 2.20 * 42 + 2.50 * 42 - 3 * 75) / 3 = (184.8 + 105 - 225) / 3 = 21.6 $/bbl
    assert sig.crack_321(75.0, 2.50, 2.20) == pytest.approx(21.6)
    # the seed's HO + 2*RB - 3*CL mixes $/gal and $/bbl: about -218, not a refining margin
    assert 2.50 + 2 * 2.20 - 3 * 75.0 == pytest.approx(-218.1)
    crack = sig.crack_321(table()["cl"], table()["ho"], table()["rb"])
    assert list(crack) == pytest.approx([31.0, 29.0, 30.0, 26.0, 28.0])


def test_units_check_refuses_gallon_and_barrel_mixups() -> None:
    with pytest.raises(sig.UnitsError, match="HO"):
        sig.crack_321(75.0, 2.50 * 42, 2.20)  # HO given in $/bbl
    with pytest.raises(sig.UnitsError, match="CL"):
        sig.crack_321(75.0 / 42, 2.50, 2.20)  # CL given in $/gal


def test_signal_matches_the_hand_computation() -> None:
    out = sig.signal_frame(table(), window=3)
    # ranks over the last 3 values (rank / 3):
    # crack rows 3..5: [31,29,30]->2/3, [29,30,26]->1/3, [30,26,28]->2/3
    # psx   rows 3..5: [90,91,93]->3/3, [91,93,92]->2/3, [93,92,91.5]->1/3
    assert list(out["rank_crack"].iloc[2:]) == pytest.approx([2 / 3, 1 / 3, 2 / 3])
    assert list(out["rank_psx"].iloc[2:]) == pytest.approx([1.0, 2 / 3, 1 / 3])
    # diffs [1/3, 1/3, -1/3]: mean 1/9, sample std sqrt(12)/9, z = (-4/9)/(sqrt(12)/9)
    assert out["z"].iloc[-1] == pytest.approx(-4 / math.sqrt(12))
    assert out["z"].iloc[:4].isna().all()
    s = sig.evaluate(table(), position=0, threshold=1.0, window=3)
    assert s.z == pytest.approx(-1.1547005)
    assert s.target == 1  # z <= -1.0: long PSX
    assert sig.evaluate(table(), position=0, threshold=2.0, window=3).target == 0


@pytest.mark.parametrize(
    ("z", "position", "expected"),
    [
        (-2.0, 0, 1),
        (-2.5, -1, 0),  # a short exits to flat, never flips to long in one step
        (2.0, 0, -1),
        (2.0, 1, 0),  # nor a long to short
        (-0.5, 1, 1),  # long held until z crosses 0
        (0.0, 1, 0),
        (0.1, 1, 0),
        (0.5, -1, -1),
        (-0.01, -1, 0),
        (1.5, 0, 0),
        (math.nan, 1, 1),
    ],
)
def test_entry_and_exit_rules(z: float, position: int, expected: int) -> None:
    assert sig.next_position(z, position, 2.0) == expected


def test_synthetic_z_sequence_enters_only_from_flat_and_exits_at_zero() -> None:
    # threshold 2 (entry |z| >= 2): 0 flat; 2.5 enters short; 1 holds (not crossed 0);
    # -2.5 crosses 0: exits to flat (no flip to long); -1 flat (|z| < 2).
    z = pd.Series([0.0, 2.5, 1.0, -2.5, -1.0])
    assert list(sig.positions_over(z, 2.0)) == [0, -1, -1, 0, 0]
    # from flat, the next z <= -2 enters long
    assert list(sig.positions_over(pd.Series([2.5, -2.5, -2.5]), 2.0)) == [-1, 0, 1]


def test_window_checks_give_reasons() -> None:
    t = table()
    assert sig.check_window(t, 3) is None
    assert "aligned bars" in sig.check_window(t.iloc[:4], 3)
    bad = t.copy()
    bad.iloc[3, bad.columns.get_loc("ho")] = np.nan
    assert "NaN" in sig.check_window(bad, 3) and "ho" in sig.check_window(bad, 3)
    assert "no bars for rb" == sig.check_window(t.drop(columns="rb"), 3)


def test_bar_by_bar_positions_equal_the_live_rule() -> None:
    z = pd.Series([0.0, -2.1, -1.0, 0.2, 2.5, 1.0, -0.1])
    assert list(sig.positions_over(z, 2.0)) == [0, 1, 1, 0, -1, -1, 0]


def test_numpy_rolling_rank_and_z_equal_pandas() -> None:
    rng = np.random.default_rng(5)
    x = pd.Series(np.round(rng.standard_normal(400), 1))  # rounding makes ties
    expected = x.rolling(60).rank(pct=True).to_numpy()
    assert np.allclose(sig.rolling_pct_rank(x.to_numpy(), 60), expected, equal_nan=True)
    d = pd.Series(rng.standard_normal(300))
    expected_z = ((d - d.rolling(60).mean()) / d.rolling(60).std()).to_numpy()
    assert np.allclose(sig.rolling_z(d.to_numpy(), 60), expected_z, equal_nan=True)


def test_backtest_replay_uses_the_same_entry_and_exit_rule(monkeypatch) -> None:
    from livedesk.backend.strategies import backtest_crack

    idx = pd.date_range("2024-03-14 14:00", periods=5, freq="1min", tz="UTC")  # 10:00 ET
    bars = pd.DataFrame({c: 1.0 for c in sig.COLUMNS}, index=idx)
    zs = pd.DataFrame({"z": [0.0, 2.5, 1.0, -2.5, -1.0]}, index=idx)
    monkeypatch.setattr(backtest_crack.sig, "signal_frame", lambda b, w: zs)
    positions, _ = backtest_crack.decisions_over(bars, 2.0, 60, 60.0, 15.0)
    assert list(positions) == [0, -1, -1, 0, 0]
