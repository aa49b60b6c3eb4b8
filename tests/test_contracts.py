"""Contract factories, front-month choice, BAG building and labels."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from ib_async import ComboLeg, Contract, ContractDetails, Future, Option, Stock

from livedesk.backend.contracts import (
    AmbiguousContract,
    ComboError,
    ComboSpec,
    ContractError,
    LegSpec,
    UnknownContract,
    build_bag,
    combo_leg,
    describe,
    front_month,
    future,
    multiplier_of,
    option,
    spread,
    stock,
)

TODAY = dt.date(2026, 6, 15)


# --------------------------------------------------------------------------- factories


def test_stock_defaults_and_fields():
    s = stock("aapl")
    assert isinstance(s, Stock)
    assert (s.secType, s.symbol, s.exchange, s.currency) == ("STK", "AAPL", "SMART", "USD")
    assert stock("SAP", "IBIS", "EUR", primary_exchange="IBIS").primaryExchange == "IBIS"


@pytest.mark.parametrize("bad", ["", "   ", None, 5])
def test_stock_needs_a_symbol(bad):
    with pytest.raises(ContractError, match="symbol"):
        stock(bad)


def test_future_month_or_front():
    cl = future("CL", "202612")
    assert isinstance(cl, Future)
    assert (cl.symbol, cl.lastTradeDateOrContractMonth, cl.exchange) == ("CL", "202612", "NYMEX")
    assert future("ES", exchange="CME").lastTradeDateOrContractMonth == ""


@pytest.mark.parametrize("bad", ["2026-12", "2612", "202613", "20261232", 202612])
def test_future_month_validated(bad):
    with pytest.raises(ContractError):
        future("CL", bad)


def test_option_fields():
    o = option("spy", "20261218", 450, "call")
    assert isinstance(o, Option)
    assert (o.symbol, o.lastTradeDateOrContractMonth, o.strike, o.right, o.multiplier) == (
        "SPY",
        "20261218",
        450.0,
        "C",
        "100",
    )


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("SPY", "202612", 450, "C"), "YYYYMMDD"),
        (("SPY", "20261318", 450, "C"), "invalid expiry"),
        (("SPY", "20261218", 0, "C"), "strike"),
        (("SPY", "20261218", -5, "P"), "strike"),
        (("SPY", "20261218", math.nan, "P"), "strike"),
        (("SPY", "20261218", math.inf, "P"), "finite"),
        (("SPY", "20261218", 450, "X"), "right"),
    ],
)
def test_option_validation(args, match):
    with pytest.raises(ContractError, match=match):
        option(*args)


def test_combo_leg_and_spread():
    call = option("SPY", "20261218", 450, "C")
    leg = combo_leg(call, 2, "sell")
    assert leg == LegSpec(call, 2, "SELL")
    spec = spread([leg, combo_leg(option("SPY", "20261218", 460, "C"), 1, "BUY")])
    assert isinstance(spec, ComboSpec) and len(spec.legs) == 2 and spec.exchange == "SMART"


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((stock("SPY"), 0, "BUY"), "ratio"),
        ((stock("SPY"), 1.5, "BUY"), "ratio"),
        ((stock("SPY"), True, "BUY"), "ratio"),
        ((stock("SPY"), 1, "HOLD"), "action"),
        (("SPY", 1, "BUY"), "Contract"),
    ],
)
def test_combo_leg_validation(args, match):
    with pytest.raises(ContractError, match=match):
        combo_leg(*args)


def test_spread_validation():
    with pytest.raises(ComboError, match="at least one leg"):
        spread([])
    with pytest.raises(ComboError, match="not a combo_leg"):
        spread([(stock("SPY"), 1, "BUY")])


# --------------------------------------------------------------------------- front month


def _fut_details(expiry: str, con_id: int, real: str = "") -> ContractDetails:
    contract = Contract(
        secType="FUT", symbol="CL", conId=con_id, lastTradeDateOrContractMonth=expiry
    )
    return ContractDetails(contract=contract, realExpirationDate=real)


def test_front_month_is_nearest_unexpired():
    details = [
        _fut_details("20260820", 3),
        _fut_details("20260520", 1),  # expired
        _fut_details("20260721", 2),
    ]
    assert front_month(details, TODAY).contract.conId == 2


def test_front_month_expiring_today_still_counts():
    details = [_fut_details("20260615", 7), _fut_details("20260720", 8)]
    assert front_month(details, TODAY).contract.conId == 7
    assert front_month(details, TODAY + dt.timedelta(days=1)).contract.conId == 8


def test_front_month_prefers_real_expiration_and_handles_month_only():
    details = [_fut_details("202606", 1, real="20260612"), _fut_details("202607", 2)]
    assert front_month(details, TODAY).contract.conId == 2
    assert front_month([_fut_details("202606", 3)], TODAY).contract.conId == 3  # end of June


def test_front_month_all_expired_is_unknown():
    with pytest.raises(
        UnknownContract, match="CL FUT.*no unexpired contract on or after 2026-06-15"
    ):
        front_month([_fut_details("20260520", 1)], TODAY)


def test_front_month_tie_is_ambiguous_with_candidates():
    details = [_fut_details("20260721", 11), _fut_details("20260721", 12)]
    with pytest.raises(AmbiguousContract) as err:
        front_month(details, TODAY)
    assert [c.conId for c in err.value.candidates] == [11, 12]
    assert "conId=11" in str(err.value) and "conId=12" in str(err.value)


# --------------------------------------------------------------------------- bags


def _opt(con_id: int, strike: float, right: str, expiry="20261218", symbol="SPY", cur="USD"):
    return Contract(
        secType="OPT",
        conId=con_id,
        symbol=symbol,
        lastTradeDateOrContractMonth=expiry,
        strike=strike,
        right=right,
        multiplier="100",
        currency=cur,
    )


def test_build_bag_straddle():
    call, put = _opt(101, 450, "C"), _opt(102, 450, "P")
    bag = build_bag([(call, 1, "BUY"), (put, 1, "BUY")], TODAY)
    assert (bag.secType, bag.symbol, bag.currency, bag.exchange) == ("BAG", "SPY", "USD", "SMART")
    assert [(leg.conId, leg.ratio, leg.action) for leg in bag.comboLegs] == [
        (101, 1, "BUY"),
        (102, 1, "BUY"),
    ]
    assert describe(bag, {101: call, 102: put}) == "BAG SPY: +1 C450 +1 P450"


def test_build_bag_single_leg_allowed():
    assert len(build_bag([(_opt(5, 400, "C"), 1, "SELL")], TODAY).comboLegs) == 1


@pytest.mark.parametrize(
    ("legs", "match"),
    [
        ([(_opt(0, 450, "C"), 1, "BUY"), (_opt(2, 450, "P"), 1, "BUY")], "no conId"),
        (
            [(_opt(1, 450, "C"), 1, "BUY"), (_opt(1, 450, "C"), 1, "SELL")],
            "duplicate leg conIds: 1",
        ),
        ([(_opt(1, 450, "C"), 0, "BUY"), (_opt(2, 450, "P"), 1, "BUY")], "ratio"),
        ([(_opt(1, 450, "C"), 1, "BUY"), (_opt(2, 450, "P"), 1, "HOLD")], "action"),
        ([(_opt(1, 450, "C"), 1, "BUY"), (_opt(2, 450, "P", cur="EUR"), 1, "BUY")], "currency"),
        (
            [(_opt(1, 450, "C"), 1, "BUY"), (_opt(2, 450, "P", symbol="QQQ"), 1, "BUY")],
            "underlyings",
        ),
        ([(_opt(1, 0, "C"), 1, "BUY"), (_opt(2, 450, "P"), 1, "BUY")], "strike must be > 0"),
        ([(_opt(1, 450, "X"), 1, "BUY"), (_opt(2, 450, "P"), 1, "BUY")], "right"),
        ([(_opt(1, 450, "C", expiry="20260612"), 1, "BUY")], "expired on 20260612"),
        ([], "at least one leg"),
    ],
)
def test_build_bag_problems(legs, match):
    with pytest.raises(ComboError, match=match):
        build_bag(legs, TODAY)


def test_build_bag_lists_every_problem():
    legs = [(_opt(0, 0, "C"), 0, "BUY"), (_opt(2, 450, "P", symbol="QQQ", cur="EUR"), 1, "BUY")]
    with pytest.raises(ComboError) as err:
        build_bag(legs, TODAY)
    assert len(err.value.problems) == 5
    text = str(err.value)
    for word in ("no conId", "ratio", "strike", "currency", "underlyings"):
        assert word in text


def test_build_bag_mixed_underlyings_when_allowed():
    cl = Contract(
        secType="FUT", conId=1, symbol="CL", lastTradeDateOrContractMonth="202612", currency="USD"
    )
    ho = Contract(
        secType="FUT", conId=2, symbol="HO", lastTradeDateOrContractMonth="202612", currency="USD"
    )
    bag = build_bag([(cl, 1, "BUY"), (ho, 1, "SELL")], TODAY, allow_mixed_symbols=True)
    assert bag.symbol == "CL,HO"


# --------------------------------------------------------------------------- labels


def test_describe_examples():
    assert describe(stock("AAPL")) == "AAPL STK"
    assert describe(future("CL", "202612")) == "CL 202612 FUT"
    assert describe(future("CL")) == "CL FUT"
    assert describe(option("SPY", "20261218", 450, "C")) == "SPY 20261218 450 C"
    assert describe(option("SPY", "20261218", 452.5, "P")) == "SPY 20261218 452.5 P"


def test_describe_calendar_spread_shows_expiries_and_unknown_legs():
    near, far = _opt(1, 450, "C", "20260717"), _opt(2, 450, "C", "20260821")
    bag = Contract(
        secType="BAG",
        symbol="SPY",
        comboLegs=[
            ComboLeg(conId=1, ratio=1, action="SELL"),
            ComboLeg(conId=2, ratio=1, action="BUY"),
        ],
    )
    assert describe(bag, {1: near, 2: far}) == "BAG SPY: -1 C450 20260717 +1 C450 20260821"
    assert describe(bag) == "BAG SPY: -1 #1 +1 #2"


def test_multiplier_of():
    assert multiplier_of(stock("AAPL")) == 1.0
    assert multiplier_of(option("SPY", "20261218", 450, "C")) == 100.0
    with pytest.raises(ContractError, match="not a number"):
        multiplier_of(Contract(multiplier="abc"))
    with pytest.raises(ContractError, match="> 0"):
        multiplier_of(Contract(multiplier="0"))


def test_resolution_errors_list_candidates():
    a = Contract(secType="STK", symbol="ABC", conId=1, primaryExchange="NASDAQ", currency="USD")
    b = Contract(secType="STK", symbol="ABC", conId=2, primaryExchange="TSE", currency="CAD")
    err = AmbiguousContract("ABC STK", [a, b, "ABC STK LSE GBP"])
    text = str(err)
    assert "3 candidates" in text
    assert "ABC STK NASDAQ USD conId=1" in text and "ABC STK TSE CAD conId=2" in text
    assert "ABC STK LSE GBP" in text and err.candidates[0] is a
    unknown = UnknownContract("ZZZZ STK", "no security definition")
    assert str(unknown) == "unknown contract: ZZZZ STK (no security definition)"
    assert isinstance(unknown, ValueError)
