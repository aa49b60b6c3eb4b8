"""options-combo maths: expiry and strike picks on a known chain, sizing, exits, Black-Scholes."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from livedesk.backend.strategies import options_math as om

TODAY = dt.date(2026, 11, 20)


def test_expiry_nearest_30_dte_inside_the_window() -> None:
    expiries = ["20261127", "20261211", "20261218", "20261224", "20270115"]
    # 7, 21, 28, 34, 56 days: within 20..45 the nearest to 30 is 28 (2026-12-18)
    assert om.choose_expiry(expiries, TODAY, 20, 45, 30) == "20261218"
    assert om.choose_expiry(expiries, TODAY, 30, 45, 30) == "20261224"
    assert om.choose_expiry(expiries, TODAY, 60, 90, 75) is None
    assert om.dte("20261218", TODAY) == 28


def test_strike_selection_on_a_known_chain() -> None:
    strikes = [float(k) for k in range(85, 116)]
    puts = {95.0: -0.30, 93.0: -0.20, 92.0: -0.17, 91.0: -0.14, 90.0: -0.12, 101.0: -0.6}
    calls = {105.0: 0.25, 106.0: 0.19, 107.0: 0.155, 108.0: 0.12, 99.0: 0.6}
    c = om.pick_condor(strikes, puts, calls, spot=100.0, target_delta=0.16)
    # |-0.17| is 0.01 from 0.16 (91's is 0.02); 0.155 is 0.005 away; ITM strikes ignored
    assert (c.short_put, c.short_call) == (92.0, 107.0)
    assert (c.long_put, c.long_call) == (91.0, 108.0)  # one strike further out
    assert c.width == 1.0
    assert om.atm_strike(strikes, 100.4) == 100.0
    assert om.strike_step([100, 101, 102, 105]) == 1
    with pytest.raises(ValueError, match="wings"):
        om.pick_condor([92.0, 100.0, 107.0], {92.0: -0.17}, {107.0: 0.16}, 100.0)


def test_bs_candidates_bracket_the_16_delta_strikes() -> None:
    strikes = [float(k) for k in range(70, 131)]
    t = 30 / 365
    puts, calls = om.condor_candidates(strikes, 100.0, 0.20, t, 0.16, n=3)
    best_put = min(
        (k for k in strikes if k < 100),
        key=lambda k: abs(-om.bs_delta(False, 100, k, t, 0.2) - 0.16),
    )
    best_call = min(
        (k for k in strikes if k > 100), key=lambda k: abs(om.bs_delta(True, 100, k, t, 0.2) - 0.16)
    )
    assert best_put in puts and best_call in calls
    assert len(puts) == len(calls) == 3


def test_black_scholes_parity_and_deltas() -> None:
    s, k, t, v = 100.0, 105.0, 0.25, 0.3
    # put-call parity with no rate: C - P = S - K
    assert om.bs_price(True, s, k, t, v) - om.bs_price(False, s, k, t, v) == pytest.approx(s - k)
    assert om.bs_delta(True, s, k, t, v) - om.bs_delta(False, s, k, t, v) == pytest.approx(1.0)
    # ATM call ~ 0.4 * S * v * sqrt(t) (Brenner-Subrahmanyam): 0.4 * 100 * 0.3 * 0.5 = 6
    assert om.bs_price(True, 100, 100, 0.25, 0.3) == pytest.approx(6.0, rel=0.01)
    assert om.bs_price(False, 90, 100, 0.0, 0.3) == 10.0


def test_sizing_by_max_loss() -> None:
    # 2 % of 1,000,000 = 20,000; a condor losing at most 0.76 * 100 = 76 -> 263 contracts
    assert om.contracts_for_risk(0.76, 1_000_000, 0.02) == 263
    assert om.contracts_for_risk(0.76, 1_000_000, 0.02, cap=50) == 50
    assert om.contracts_for_risk(300.0, 100_000, 0.02) == 0  # one combo already too big
    assert om.contracts_for_risk(0.0, 1e6, 0.02) == 0


def condor(credit: float = 1.0, width: float = 5.0) -> om.OpenCombo:
    legs = ((90.0, "P", "BUY"), (95.0, "P", "SELL"), (105.0, "C", "SELL"), (110.0, "C", "BUY"))
    return om.OpenCombo("condor", "20261218", legs, 3, -credit, credit, width - credit)


def straddle(debit: float = 10.0) -> om.OpenCombo:
    legs = ((100.0, "C", "BUY"), (100.0, "P", "BUY"))
    return om.OpenCombo("straddle", "20261218", legs, 2, debit, None, debit)


@pytest.mark.parametrize(
    ("combo", "mark", "days", "expected"),
    [
        (condor(), -0.5, 20, "profit target"),  # kept 0.50 of a 1.00 credit
        (condor(), -0.6, 20, None),
        (condor(), -5.0, 20, "stop"),  # lost 4.00 = max loss x 1.0
        (condor(), -4.9, 20, None),
        (condor(), -0.8, 7, "days to expiry"),
        (straddle(), 15.0, 20, "profit target"),  # +50 % of the premium
        (straddle(), 5.0, 20, "stop"),  # -50 % of the premium
        (straddle(), 9.0, 8, None),
    ],
)
def test_exits(combo: om.OpenCombo, mark: float, days: int, expected: str | None) -> None:
    why = om.exit_reason(combo, mark, days, exit_dte=7)
    assert (why is None) if expected is None else (expected in why)


def test_open_combo_round_trips_and_values() -> None:
    c = condor()
    assert om.OpenCombo.from_dict(c.as_dict()) == c
    value = om.condor_value(om.Condor(90, 95, 105, 110), 100.0, 30 / 365, 0.25)
    assert -5.0 < value < 0  # a credit, smaller than the width
    assert om.straddle_value(100, 100, 0.25, 0.3) == pytest.approx(
        2 * om.bs_price(True, 100, 100, 0.25, 0.3), rel=1e-12
    )
    assert math.isclose(c.pnl_per_unit(-0.25), 0.75)
