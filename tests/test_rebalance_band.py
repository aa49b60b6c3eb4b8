"""The rebalance tolerance band, against hand-computed deltas.

NetLiquidation 100,000 and a price of 100: a weight of 10 % is a target of 100 shares,
20 % is 200 shares.
"""

from __future__ import annotations

import math

import pytest

from livedesk.backend.config import ConfigError, load_settings
from livedesk.backend.trading.orders import RebalanceBand, plan_rebalance

NLV, PRICE = 100_000.0, 100.0


def deltas(band: RebalanceBand, held: dict[str, float], weights: dict[str, float]):
    plan = plan_rebalance(weights, held, {k: PRICE for k in {*held, *weights}}, NLV, band=band)
    return {leg.key: leg.plan.delta for leg in plan.orders}


def test_no_band_sends_every_share() -> None:
    assert deltas(RebalanceBand(), {"A": 97.0}, {"A": 0.10}) == {"A": 3}


@pytest.mark.parametrize(
    ("band", "held", "expected"),
    [
        (RebalanceBand(shares=2), 97.0, {"A": 3}),  # |3| > 2 shares
        (RebalanceBand(shares=3), 97.0, {}),  # |3| <= 3 shares
        (RebalanceBand(percent=5), 97.0, {}),  # 5 % of 100 = 5 shares >= 3
        (RebalanceBand(percent=5), 94.0, {"A": 6}),  # 6 > 5
        (RebalanceBand(percent=5), 106.0, {"A": -6}),  # the other way too
        (RebalanceBand(percent=5), 104.0, {}),  # -4 inside
        (RebalanceBand(shares=6, percent=5), 94.0, {}),  # the larger of the two: 6
        (RebalanceBand(percent=2.5), 97.0, {"A": 3}),  # 2.5 shares < 3
    ],
)
def test_band_in_shares_and_percent_of_target(band, held, expected) -> None:
    assert deltas(band, {"A": held}, {"A": 0.10}) == expected


def test_band_is_per_leg_of_its_own_target() -> None:
    # A: target 100, held 96 (|4| <= 5 % of 100 = 5); B: target 200, held 191 (|9| <= 10)
    # C: target 200, held 189 (|11| > 10): only C trades.
    band = RebalanceBand(percent=5)
    held = {"A": 96.0, "B": 191.0, "C": 189.0}
    assert deltas(band, held, {"A": 0.10, "B": 0.20, "C": 0.20}) == {"C": 11}


def test_a_zero_target_always_closes() -> None:
    assert deltas(RebalanceBand(shares=10, percent=50), {"A": 3.0}, {}) == {"A": -3}


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "5", True])
def test_band_refuses_bad_values(bad) -> None:
    with pytest.raises(ValueError, match="tolerance band"):
        RebalanceBand(shares=bad)


def test_band_from_the_config_file(tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[rebalance]\nband_shares = 2\nband_percent = 1.5\n")
    band = load_settings(path, env={}).rebalance_band()
    assert (band.shares, band.percent) == (2.0, 1.5)
    path.write_text("[rebalance]\nband_percent = -1\n")
    with pytest.raises(ConfigError, match=r"\[rebalance\] band_percent"):
        load_settings(path, env={})
    path.write_text("[rebalance]\nband = 1\n")
    with pytest.raises(ConfigError, match=r"unknown setting \[rebalance\] band"):
        load_settings(path, env={})
