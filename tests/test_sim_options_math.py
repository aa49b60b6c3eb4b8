"""Black-Scholes, implied volatility, expiries, the margin model and combo fill prices."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ib_async import ComboLeg, Contract, LimitOrder

from livedesk.backend.sim.broker.combos import Leg, fill_prices, net_price, resolve_legs
from livedesk.backend.sim.broker.margin import max_loss, naked_option_margin
from livedesk.backend.sim.errors import OrderReject
from livedesk.backend.sim.market import blackscholes as bs
from livedesk.backend.sim.market.instruments import Instrument
from livedesk.backend.sim.market.options import expiries

R = 0.04


def opt(strike: float, right: str, con_id: int = 1) -> Instrument:
    return Instrument(con_id, "SPY", "OPT", strike=strike, right=right, multiplier=100.0)


@given(
    s=st.floats(20, 500),
    k_ratio=st.floats(0.6, 1.5),
    t=st.floats(0.005, 2.0),
    vol=st.floats(0.05, 1.2),
)
@settings(max_examples=200, deadline=None)
def test_put_call_parity_and_bounds(s: float, k_ratio: float, t: float, vol: float) -> None:
    k = s * k_ratio
    c, p = bs.price(True, s, k, t, R, vol), bs.price(False, s, k, t, R, vol)
    assert c - p == pytest.approx(s - k * math.exp(-R * t), abs=1e-8 * s)
    assert max(s - k * math.exp(-R * t), 0) - 1e-9 <= c <= s
    assert max(k * math.exp(-R * t) - s, 0) - 1e-9 <= p <= k


def test_greeks_match_finite_differences() -> None:
    s, k, t, vol, h = 100.0, 105.0, 0.3, 0.25, 1e-3
    for call in (True, False):
        g = bs.greeks(call, s, k, t, R, vol)
        up, down = bs.price(call, s + h, k, t, R, vol), bs.price(call, s - h, k, t, R, vol)
        assert g.delta == pytest.approx((up - down) / (2 * h), rel=1e-5)
        assert g.gamma == pytest.approx((up - 2 * g.price + down) / h**2, rel=1e-3)
        vega = (bs.price(call, s, k, t, R, vol + h) - bs.price(call, s, k, t, R, vol - h)) / (2 * h)
        assert g.vega == pytest.approx(vega / 100, rel=1e-5)
        day = 1 / 365
        theta = bs.price(call, s, k, t - day, R, vol) - g.price
        assert g.theta == pytest.approx(theta, rel=2e-2)


@given(vol=st.floats(0.06, 1.5), k_ratio=st.floats(0.8, 1.25), t=st.floats(0.02, 1.5))
@settings(max_examples=100, deadline=None)
def test_implied_vol_round_trip(vol: float, k_ratio: float, t: float) -> None:
    s = 100.0
    for call in (True, False):
        g = bs.greeks(call, s, s * k_ratio, t, R, vol)
        target = g.price
        if g.vega < 1e-3:  # the price hardly depends on volatility: not identifiable
            continue
        assert bs.implied_vol(call, target, s, s * k_ratio, t, R) == pytest.approx(vol, abs=1e-4)


def test_implied_vol_of_impossible_price_is_nan() -> None:
    assert math.isnan(bs.implied_vol(True, 0.0, 100, 90, 0.5, R))  # below intrinsic
    assert math.isnan(bs.implied_vol(True, 101.0, 100, 90, 0.5, R))  # above the stock


def test_vectorised_price_matches_scalar() -> None:
    s = np.array([90.0, 100.0, 110.0, 120.0])
    t = np.array([0.5, 0.2, 0.0, 1.0])
    vol = np.array([0.2, 0.3, 0.25, 0.4])
    for call in (True, False):
        out = bs.price_array(call, s, 100.0, t, R, vol)
        expected = [
            bs.price(call, *args) for args in zip(s, [100.0] * 4, t, [R] * 4, vol, strict=True)
        ]
        np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_expiries_weekly_monthly_and_holidays() -> None:
    holidays = {date(2026, 11, 26), date(2026, 12, 25), date(2027, 1, 1)}
    got = expiries(date(2026, 11, 20), holidays)
    assert got[:6] == [
        date(2026, 11, 20),
        date(2026, 11, 27),
        date(2026, 12, 4),
        date(2026, 12, 11),
        date(2026, 12, 18),
        date(2026, 12, 24),  # Christmas Friday: the Thursday before
    ]
    assert {date(2027, 1, 15), date(2027, 2, 19), date(2027, 3, 19), date(2027, 4, 16)} <= set(got)
    assert all(d.weekday() == 4 or d + np.timedelta64(1, "D").item() in holidays for d in got)


def test_margin_rules() -> None:
    put = opt(90, "P")
    # naked put, 10 % OTM: 20 % of the underlying minus the OTM amount, plus premium
    assert naked_option_margin(put, -1, 1.5, 100.0) == pytest.approx(100 * (1.5 + 10.0))
    # far OTM: the 10 % of strike minimum
    assert naked_option_margin(opt(60, "P"), 2, 0.1, 100.0) == pytest.approx(200 * (0.1 + 6.0))
    condor = [(opt(80, "P"), 1), (opt(90, "P"), -1), (opt(110, "C"), -1), (opt(115, "C"), 1)]
    assert max_loss(condor) == pytest.approx(1000.0)
    assert max_loss([(opt(100, "C"), 2), (opt(100, "P"), 2)]) == 0.0  # long straddle
    assert max_loss([(opt(110, "C"), -1), (opt(115, "C"), 1)]) == pytest.approx(500.0)
    assert max_loss([(opt(110, "C"), -1)]) is None  # naked call: unbounded


class FakeMarket:
    """Quotes for the combo price tests."""

    def __init__(self, quotes: dict[int, tuple[float, float]]) -> None:
        self.quotes = quotes

    def quote(self, con_id: int, t: float):
        from livedesk.backend.sim.market.model import Quote

        bid, ask = self.quotes[con_id]
        return Quote(bid, ask, 10, 10, round((bid + ask) / 2, 2), 1, 0)


@given(
    mids=st.lists(st.floats(0.5, 20), min_size=2, max_size=4),
    signs=st.lists(st.sampled_from([1, -1]), min_size=4, max_size=4),
    ratios=st.lists(st.integers(1, 3), min_size=4, max_size=4),
    side=st.sampled_from([1, -1]),
    offset=st.floats(-0.5, 0.5),
)
@settings(max_examples=150, deadline=None)
def test_combo_fill_prices_sum_to_the_net_price(mids, signs, ratios, side, offset) -> None:
    legs = [Leg(opt(100 + i, "C", i + 1), ratios[i], signs[i]) for i in range(len(mids))]
    market = FakeMarket(
        {i + 1: (round(m - 0.05, 2), round(m + 0.05, 2)) for i, m in enumerate(mids)}
    )
    natural = net_price(
        legs, [market.quotes[i + 1][1 if side * leg.sign > 0 else 0] for i, leg in enumerate(legs)]
    )
    mid = net_price(legs, [(a + b) / 2 for a, b in market.quotes.values()])
    limit = round(mid + offset, 2)
    prices = fill_prices(
        market, legs, side, LimitOrder("BUY" if side > 0 else "SELL", 1, limit), 0.0
    )
    if side * (limit - natural) >= -1e-9:
        assert prices is not None and net_price(legs, prices) == pytest.approx(natural)
    elif prices is not None:
        assert net_price(legs, prices) == pytest.approx(limit)
        assert side * (limit - mid) > -0.011  # rests until the last goes through the limit
    else:
        assert side * (limit - natural) < 0


def test_resolve_legs_rules() -> None:
    insts = {1: opt(100, "C", 1), 2: opt(100, "P", 2)}

    def legs(*spec):
        return Contract(
            secType="BAG",
            currency="USD",
            comboLegs=[ComboLeg(conId=c, ratio=r, action=a) for c, r, a in spec],
        )

    ok = resolve_legs(legs((1, 1, "BUY"), (2, 2, "SELL")), insts.get, lambda i: False)
    assert [(leg.inst.con_id, leg.ratio, leg.sign) for leg in ok] == [(1, 1, 1), (2, 2, -1)]
    for bad, code in (
        (legs((1, 1, "BUY")), 201),
        (legs((1, 0, "BUY"), (2, 1, "BUY")), 201),
        (legs((1, 1, "BUY"), (1, 1, "SELL")), 201),
        (legs((1, 1, "HOLD"), (2, 1, "BUY")), 201),
        (legs((1, 1, "BUY"), (3, 1, "BUY")), 200),
    ):
        with pytest.raises(OrderReject) as exc:
            resolve_legs(bad, insts.get, lambda i: False)
        assert exc.value.code == code
    with pytest.raises(OrderReject) as exc:
        resolve_legs(legs((1, 1, "BUY"), (2, 1, "BUY")), insts.get, lambda i: i.con_id == 2)
    assert exc.value.code == 200
