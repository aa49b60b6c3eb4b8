"""Pure combo maths: templates, stepping, validation, net prices, greeks, payoff and words.

Expected values are worked out by hand in the comments (or by an independent formula).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from livedesk.backend.combos import blackscholes as bsmath
from livedesk.backend.combos import legs as cb
from livedesk.backend.combos.legs import Chain, ComboBuildError, ComboOrder, Leg
from livedesk.backend.combos.payoff import (
    LegQuote,
    NetPrice,
    net_prices,
    payoff_summary,
    pnl_at_expiry,
    pnl_today,
    position_greeks,
    preview_warnings,
)

TODAY = dt.date(2026, 11, 20)
EXP = "20261218"  # 28 days after TODAY
EXPIRIES = ("20261127", EXP, "20270115", "20270219")
CHAIN = Chain("SPY", EXPIRIES, [float(k) for k in range(500, 701)])


def leg(action: str, right: str, strike: float, ratio: int = 1, expiry: str = EXP) -> Leg:
    return Leg(action, ratio, right, float(strike), expiry, "SPY")


def summary(legs, net, **kw):
    return payoff_summary(legs, [None] * len(legs), net, TODAY, 1, 100.0, **kw)


IRON_CONDOR = (
    leg("BUY", "P", 560),
    leg("SELL", "P", 570),
    leg("SELL", "C", 610),
    leg("BUY", "C", 620),
)


# ---- payoff of each template (hand-computed) ------------------------------------------------


def test_iron_condor_for_a_credit() -> None:
    # credit 3.15: kept in full between 570 and 610 (315); the 10-wide wing loses 10-3.15.
    s = summary(IRON_CONDOR, -3.15)
    assert s.max_profit == pytest.approx(315)
    assert s.max_loss == pytest.approx(685)
    assert s.breakevens == pytest.approx((566.85, 613.15))
    assert not s.calendar


def test_long_straddle_unlimited_profit() -> None:
    legs = (leg("BUY", "C", 550), leg("BUY", "P", 550))
    s = summary(legs, 12.0)
    assert s.breakevens == pytest.approx((538.0, 562.0))
    assert s.max_loss == pytest.approx(1200) and math.isinf(s.max_profit)


def test_short_straddle_unlimited_loss() -> None:
    legs = (leg("SELL", "C", 550), leg("SELL", "P", 550))
    s = summary(legs, -12.0)
    assert s.max_profit == pytest.approx(1200) and math.isinf(s.max_loss)
    assert s.breakevens == pytest.approx((538.0, 562.0))


def test_strangle() -> None:
    legs = (leg("BUY", "P", 540), leg("BUY", "C", 560))
    s = summary(legs, 4.0)
    assert s.breakevens == pytest.approx((536.0, 564.0))
    assert s.max_loss == pytest.approx(400) and math.isinf(s.max_profit)


def test_call_vertical() -> None:
    legs = (leg("BUY", "C", 550), leg("SELL", "C", 555))
    s = summary(legs, 2.10)  # 5 wide: max profit 2.90, breakeven 550 + 2.10
    assert s.max_profit == pytest.approx(290) and s.max_loss == pytest.approx(210)
    assert s.breakevens == pytest.approx((552.10,))


def test_put_vertical() -> None:
    legs = (leg("BUY", "P", 550), leg("SELL", "P", 545))
    s = summary(legs, 2.0)
    assert s.max_profit == pytest.approx(300) and s.max_loss == pytest.approx(200)
    assert s.breakevens == pytest.approx((548.0,))


def test_butterfly() -> None:
    legs = (leg("BUY", "C", 545), leg("SELL", "C", 550, 2), leg("BUY", "C", 555))
    s = summary(legs, 1.20)
    assert s.max_profit == pytest.approx(380) and s.max_loss == pytest.approx(120)
    assert s.breakevens == pytest.approx((546.20, 553.80))


def test_short_put_loss_is_bounded_at_zero() -> None:
    s = summary((leg("SELL", "P", 550),), -5.0)
    assert s.max_loss == pytest.approx((550 - 5) * 100) and s.max_profit == pytest.approx(500)
    assert s.breakevens == pytest.approx((545.0,))


def test_quantity_scales_money_not_breakevens() -> None:
    s = payoff_summary(IRON_CONDOR, [None] * 4, -3.15, TODAY, 3, 100.0)
    assert s.max_profit == pytest.approx(945) and s.max_loss == pytest.approx(2055)
    assert s.breakevens == pytest.approx((566.85, 613.15))


def test_pnl_at_expiry_curve_matches_intrinsic_by_hand() -> None:
    xs = np.array([500.0, 565.0, 590.0, 615.0, 700.0])
    y = pnl_at_expiry(IRON_CONDOR, [None] * 4, -3.15, xs, TODAY, 1, 100.0)
    # 500: -685; 565: short 570P -5 + long 560P 0 + 3.15 = -1.85; 590: +3.15; 615: -5+3.15
    assert y == pytest.approx([-685, -185, 315, -185, -685])


def test_probability_of_profit_is_the_lognormal_mass_between_breakevens() -> None:
    spot, vol = 590.0, 0.2
    t = (28 + 0.25) / 365
    s = summary(IRON_CONDOR, -3.15, spot=spot, atm_iv=vol)

    def cdf(x: float) -> float:  # P(S_T < x), independent of bsmath
        mu = math.log(spot) + (0.04 - vol * vol / 2) * t
        return 0.5 * (1 + math.erf((math.log(x) - mu) / (vol * math.sqrt(t) * math.sqrt(2))))

    assert s.pop == pytest.approx(cdf(613.15) - cdf(566.85), abs=1e-9)
    assert math.isnan(summary(IRON_CONDOR, -3.15).pop)  # no ATM IV: no PoP


def test_calendar_is_valued_at_the_earliest_expiry() -> None:
    legs = (leg("SELL", "C", 590), leg("BUY", "C", 590, expiry="20270115"))
    q = LegQuote(1, 2, 0.2)
    s = payoff_summary(legs, [q, q], 3.0, TODAY, 1, 100.0, spot=590, atm_iv=0.2)
    assert s.calendar
    # at 590 the near call expires worthless; the far one keeps 28 days of value:
    far = float(bsmath.price(True, 590.0, 590.0, 28 / 365, 0.04, 0.2))
    y = pnl_at_expiry(legs, [q, q], 3.0, np.array([590.0]), TODAY, 1, 100.0)
    assert y[0] == pytest.approx((far - 3.0) * 100)
    assert s.max_profit == pytest.approx(y[0], rel=1e-3)
    assert s.max_loss < 300 + 1e-6 and len(s.breakevens) == 2
    assert s.breakevens[0] < 590 < s.breakevens[1]


def test_pnl_today_uses_black_scholes_at_the_leg_iv() -> None:
    q = LegQuote(5, 5.2, 0.25)
    legs = (leg("BUY", "C", 550),)
    y = pnl_today(legs, [q], 5.1, np.array([550.0]), TODAY, 2, 100.0)
    expected = float(bsmath.price(True, 550.0, 550.0, (28 + 0.25) / 365, 0.04, 0.25))
    assert y[0] == pytest.approx((expected - 5.1) * 200)
    assert np.isnan(pnl_today(legs, [LegQuote(5, 5.2)], 5.1, np.array([550.0]), TODAY, 1, 100))[0]


def test_vectorised_erf_matches_math_erf() -> None:
    xs = np.linspace(-6, 6, 1201)
    exact = np.array([math.erf(x) for x in xs])
    assert np.max(np.abs(bsmath.erf_array(xs) - exact)) < 1.5e-7


def test_black_scholes_textbook_value_and_parity() -> None:
    call = float(bsmath.price(True, 100.0, 100.0, 1.0, 0.05, 0.2))
    put = float(bsmath.price(False, 100.0, 100.0, 1.0, 0.05, 0.2))
    assert call == pytest.approx(10.4506, abs=1e-4)  # Hull's example
    assert call - put == pytest.approx(100 - 100 * math.exp(-0.05), abs=1e-9)


# ---- prices and greeks -----------------------------------------------------------------------


def test_net_prices_natural_and_mid() -> None:
    quotes = [LegQuote(1.0, 1.1), LegQuote(2.0, 2.2), LegQuote(1.9, 2.1), LegQuote(0.9, 1.0)]
    n = net_prices(IRON_CONDOR, quotes)
    # natural (buy the BAG): pay asks of the BUY legs, get bids of the SELL legs
    assert n.natural == pytest.approx(1.1 - 2.0 - 1.9 + 1.0)
    assert n.bid == pytest.approx(1.0 - 2.2 - 2.1 + 0.9)
    assert n.mid == pytest.approx(1.05 - 2.1 - 2.0 + 0.95)
    assert n.spread == pytest.approx(0.6)
    missing = net_prices(IRON_CONDOR, [*quotes[:3], LegQuote(math.nan, 1.0)])
    assert math.isnan(missing.mid) and math.isnan(missing.natural)


def test_ratio_weighs_net_price() -> None:
    legs = (leg("BUY", "C", 545), leg("SELL", "C", 550, 2), leg("BUY", "C", 555))
    n = net_prices(legs, [LegQuote(7, 7), LegQuote(4, 4), LegQuote(2, 2)])
    assert n.mid == pytest.approx(7 - 8 + 2)


def test_position_greeks_sum_with_sign_ratio_quantity_multiplier() -> None:
    legs = (leg("BUY", "C", 550), leg("SELL", "P", 540, 2))
    quotes = [
        LegQuote(delta=0.5, gamma=0.02, vega=0.6, theta=-0.2),
        LegQuote(delta=-0.3, gamma=0.015, vega=0.5, theta=-0.15),
    ]
    g = position_greeks(legs, quotes, 3, 100.0)
    assert g.delta == pytest.approx((0.5 - 2 * -0.3) * 300)
    assert g.gamma == pytest.approx((0.02 - 0.03) * 300)
    assert g.vega == pytest.approx((0.6 - 1.0) * 300)
    assert g.theta == pytest.approx((-0.2 + 0.3) * 300)
    assert math.isnan(position_greeks(legs, [quotes[0], LegQuote()], 1, 100).delta)


def test_words_and_signed_limit() -> None:
    o = ComboOrder(IRON_CONDOR, 1, "LMT", -3.15, "iron condor")
    assert o.words() == "SELL 1 SPY iron condor 20261218 560/570/610/620 @ 3.15 CREDIT"
    straddle = (leg("BUY", "C", 550), leg("BUY", "P", 550))
    assert ComboOrder(straddle, 2, "LMT", 12.3, "straddle").words() == (
        "BUY 2 SPY straddle 20261218 550 @ 12.30 DEBIT"
    )
    assert cb.price_words(-3.15) == "3.15 CREDIT" and cb.price_words(0.001) == "0.00 EVEN"
    mkt = ComboOrder(straddle, 1, "MKT", None, "straddle", reference=12.0)
    assert mkt.words().endswith("@ MKT (mid 12.00 DEBIT)")


# ---- templates ------------------------------------------------------------------------------


def test_default_expiry_is_the_first_20_to_45_days_out() -> None:
    assert cb.default_expiry(EXPIRIES, TODAY) == EXP  # 7 d, 28 d, 56 d, 91 d
    assert cb.default_expiry(("20261127", "20270219"), TODAY) == "20261127"  # 7 d nearer 30 than 91
    with pytest.raises(ComboBuildError):
        cb.default_expiry(("20261101",), TODAY)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("straddle", [("BUY", "C", 590), ("BUY", "P", 590)]),
        ("strangle", [("BUY", "P", 584), ("BUY", "C", 596)]),
        ("call vertical", [("BUY", "C", 590), ("SELL", "C", 596)]),
        ("put vertical", [("BUY", "P", 590), ("SELL", "P", 584)]),
        (
            "iron condor",
            [("BUY", "P", 572), ("SELL", "P", 578), ("SELL", "C", 602), ("BUY", "C", 608)],
        ),
        ("butterfly", [("BUY", "C", 584), ("SELL", "C", 590), ("BUY", "C", 596)]),
        ("custom", [("BUY", "C", 590)]),
    ],
)
def test_templates_around_the_money(name: str, expected: list) -> None:
    # spot 590.3 → ATM 590; width ≈ 1 % of spot = 6 one-dollar strikes
    legs = cb.make_template(name, CHAIN, 590.3, EXP)
    assert [(lg.action, lg.right, lg.strike) for lg in legs] == expected
    assert all(lg.expiry == EXP and lg.symbol == "SPY" for lg in legs)
    assert cb.validate_legs(legs, {"SPY": CHAIN}, TODAY, name) == []


def test_calendar_template_uses_the_next_expiry() -> None:
    legs = cb.make_template("calendar", CHAIN, 590.3, EXP)
    assert [(lg.action, lg.strike, lg.expiry) for lg in legs] == [
        ("SELL", 590, EXP),
        ("BUY", 590, "20270115"),
    ]
    with pytest.raises(ComboBuildError, match="after"):
        cb.make_template("calendar", CHAIN, 590.3, "20270219")


def test_template_too_wide_for_the_chain() -> None:
    narrow = Chain("SPY", EXPIRIES, [588.0, 589.0, 590.0, 591.0, 592.0])
    with pytest.raises(ComboBuildError, match="too narrow"):
        cb.make_template("iron condor", narrow, 590, EXP)


# ---- stepping -------------------------------------------------------------------------------

UNEVEN = Chain("XOM", EXPIRIES, [100.0, 102.5, 105.0, 110.0, 115.0])


def test_strike_steps_go_through_the_chain_strikes() -> None:
    legs = (Leg("BUY", 1, "C", 102.5, EXP, "XOM"),)
    up = cb.step_strike(legs, 0, UNEVEN, 1)
    assert up[0].strike == 105.0
    assert cb.step_strike(up, 0, UNEVEN, 1)[0].strike == 110.0
    assert cb.step_strike(legs, 0, UNEVEN, -1)[0].strike == 100.0
    with pytest.raises(ComboBuildError, match="lowest"):
        cb.step_strike(cb.step_strike(legs, 0, UNEVEN, -1), 0, UNEVEN, -1)


def test_shift_all_strikes_together_or_not_at_all() -> None:
    legs = (Leg("BUY", 1, "P", 100.0, EXP, "XOM"), Leg("SELL", 1, "P", 105.0, EXP, "XOM"))
    up = cb.shift_strikes(legs, UNEVEN, 1)
    assert [lg.strike for lg in up] == [102.5, 110.0]
    with pytest.raises(ComboBuildError):
        cb.shift_strikes(legs, UNEVEN, -1)  # 100 has nothing below: nothing moves


def test_width_moves_the_upper_strike_of_a_vertical_and_the_wings_of_a_condor() -> None:
    vertical = (leg("BUY", "C", 590), leg("SELL", "C", 596))
    assert [lg.strike for lg in cb.change_width(vertical, CHAIN, 2)] == [590, 598]
    wider = cb.change_width(IRON_CONDOR, CHAIN, 1)
    assert [lg.strike for lg in wider] == [559, 570, 610, 621]
    assert cb.validate_legs(wider, {"SPY": CHAIN}, TODAY, "iron condor") == []
    with pytest.raises(ComboBuildError, match="single strike"):
        cb.change_width((leg("BUY", "C", 590), leg("BUY", "P", 590)), CHAIN, 1)
    with pytest.raises(ComboBuildError, match="narrower"):
        cb.change_width((leg("BUY", "C", 590), leg("SELL", "C", 591)), CHAIN, -1)


def test_leg_edits() -> None:
    legs = (leg("BUY", "C", 590),)
    assert cb.flip_side(legs, 0)[0].action == "SELL"
    assert cb.change_ratio(legs, 0, 1)[0].ratio == 2
    assert cb.change_ratio(cb.change_ratio(legs, 0, -1), 0, -5)[0].ratio == -1
    assert cb.toggle_right(legs, 0, "P")[0].right == "P"
    assert cb.step_leg_expiry(legs, 0, CHAIN, 1)[0].expiry == "20270115"
    assert [lg.expiry for lg in cb.shift_expiries(legs, CHAIN, -1)] == ["20261127"]
    added = cb.add_leg(legs, CHAIN, 590.2, EXP, "SELL")
    assert added[1] == leg("SELL", "C", 591)  # 590 C is taken: next free strike up
    assert cb.delete_leg(added, 0) == (added[1],)
    with pytest.raises(ComboBuildError):
        cb.delete_leg((), 0)


# ---- validation -----------------------------------------------------------------------------


def problems(legs, template="custom", today=TODAY):
    return [p.message for p in cb.validate_legs(legs, {"SPY": CHAIN}, today, template)]


def test_validation_cases() -> None:
    assert problems(()) == ["no legs: add one with b or s, or pick a template with t"]
    assert "strike 590.5 is not in the chain" in problems((leg("BUY", "C", 590.5),))[0]
    assert "unknown expiry 20261219" in problems((leg("BUY", "C", 590, expiry="20261219"),))[0]
    assert "has passed" in problems((leg("BUY", "C", 590),), today=dt.date(2026, 12, 19))[0]
    assert "ratio must be 1 or more, got 0" in problems((leg("BUY", "C", 590, 0),))[0]
    assert "got -1" in problems((leg("BUY", "C", 590, -1),))[0]
    assert "leg 2 duplicates leg 1" in problems((leg("BUY", "C", 590), leg("SELL", "C", 590)))
    mixed = (leg("BUY", "C", 590), Leg("BUY", 1, "C", 100.0, EXP, "XOM"))
    assert any("different underlyings: SPY, XOM" in m for m in problems(mixed))


def test_condor_and_butterfly_shapes() -> None:
    crossed = (
        leg("BUY", "P", 580),
        leg("SELL", "P", 570),
        leg("SELL", "C", 610),
        leg("BUY", "C", 620),
    )
    assert "strikes crossed" in problems(crossed, "iron condor")[0]
    unequal = (
        leg("BUY", "P", 561),
        leg("SELL", "P", 570),
        leg("SELL", "C", 610),
        leg("BUY", "C", 620),
    )
    assert "unequal wings: 9 and 10" in problems(unequal, "iron condor")[0]
    flipped = (IRON_CONDOR[0], IRON_CONDOR[1], cb.flip_side(IRON_CONDOR, 2)[2], IRON_CONDOR[3])
    assert "other side" in problems(flipped, "iron condor")[0]
    fly = (leg("BUY", "C", 545), leg("SELL", "C", 550, 2), leg("BUY", "C", 556))
    assert "unequal wings" in problems(fly, "butterfly")[0]
    fly_crossed = (leg("BUY", "C", 551), leg("SELL", "C", 550, 2), leg("BUY", "C", 555))
    assert "strikes crossed" in problems(fly_crossed, "butterfly")[0]
    strangle = (leg("BUY", "P", 600), leg("BUY", "C", 580))
    assert "crossed" in problems(strangle, "strangle")[0]


def test_collar_of_the_guard() -> None:
    # mid -3.00: 5 % is 0.15, below the 0.10 combo minimum? no: max(0.15, 0.10) = 0.15
    assert cb.collar_problem(-3.10, -3.0, 0.05, 0.10) is None
    assert cb.collar_problem(-3.20, -3.0, 0.05, 0.10) == (
        "limit -3.20 is 0.20 from the mid -3.00; the guard allows 0.15 (5 % of the mid)"
    )
    # mid 0.40: 5 % is 0.02, the combo minimum 0.10 applies
    assert cb.collar_problem(0.49, 0.40, 0.05, 0.10) is None
    assert cb.collar_problem(0.51, 0.40, 0.05, 0.10) is not None


def test_preview_validity() -> None:
    assert "no preview" in cb.preview_problem(None, None, 3, 100.0)
    assert cb.preview_problem(100.0, 3, 3, 129.9) is None
    assert "30 s old" in cb.preview_problem(100.0, 3, 3, 130.0)
    assert "changed" in cb.preview_problem(100.0, 3, 4, 101.0)


def test_preview_warnings() -> None:
    tight = NetPrice(natural=-3.0, bid=-3.1, mid=-3.05)  # spread 0.10 = 3.3 % of the mid
    assert preview_warnings(500.0, 2_000_000.0, tight) == []
    w = preview_warnings(120_000.0, 2_000_000.0, NetPrice(-2.8, -3.2, -3.0))
    assert "uses 6.0% of buying power" in w[0] and "spread 0.40 is 13% of the mid" in w[1]
    assert "unknown" in preview_warnings(math.nan, math.nan, tight)[0]


# ---- the form -------------------------------------------------------------------------------


def test_form_limits_orders_and_edits() -> None:
    from livedesk.backend.combos.form import ComboForm

    net = NetPrice(natural=-2.97, bid=-3.40, mid=-3.184)
    f = ComboForm(legs=IRON_CONDOR, template="iron condor", tag="desk")
    assert f.limit(net) == -3.18  # the mid on the tick grid
    f.cycle_price_mode(1, net)
    assert f.price_mode == "natural" and f.limit(net) == -2.97 and f.version == 1
    f.cycle_price_mode(1, net)
    assert f.price_mode == "custom" and f.custom_limit == -3.18
    assert not f.accept_limit_text("abc") and "not a number" in f.limit_error
    assert f.accept_limit_text("-3.2") and f.limit(net) == -3.2 and f.limit_error == ""
    order = f.order(net)
    assert (order.limit, order.tag, order.reference, order.legs) == (
        -3.2,
        "desk",
        -3.184,
        IRON_CONDOR,
    )
    f.order_type = "MKT"
    assert f.limit(net) is None
    before = f.version
    assert "lowest" in f.apply(lambda: cb.step_strike((leg("BUY", "C", 500),), 0, CHAIN, -1))
    assert f.version == before and f.legs == IRON_CONDOR  # a refused edit changes nothing
    assert f.apply(lambda: (leg("BUY", "C", 590),), "custom") == "" and f.version == before + 1


def test_form_problems() -> None:
    from livedesk.backend.combos.form import ComboForm

    chains = {"SPY": CHAIN}
    net = NetPrice(natural=-2.97, bid=-3.40, mid=-3.184)
    f = ComboForm(legs=IRON_CONDOR, template="iron condor")
    assert f.problems(net, chains, TODAY, 0.05, 0.10) == []
    f.quantity = 0
    f.custom_limit, f.price_mode = -4.0, "custom"
    msgs = [p.message for p in f.problems(net, chains, TODAY, 0.05, 0.10, ["read-only"])]
    assert "quantity must be 1 or more, got 0" in msgs[0]
    assert "the guard allows" in msgs[1] and msgs[2] == "read-only"
    f.order_type = "MKT"
    nan = NetPrice(math.nan, math.nan, math.nan)
    assert any(
        "market order refused" in p.message for p in f.problems(nan, chains, TODAY, 0.05, 0.1)
    )
