"""Order factories and the pure sizing helpers: rounding, composition, refusals, rebalance."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from ib_async import Contract, LimitOrder, MarketOrder, Order, OrderStatus, Trade
from ib_async.contract import ComboLeg

from livedesk.backend.errors import (
    AccountValueUnavailable,
    OrderInputError,
    PriceUnavailable,
    SizingError,
)
from livedesk.backend.trading.orders import (
    Quote,
    build_order,
    check_nlv,
    estimate_commission,
    limit,
    market,
    percent_to_value,
    plan_order_percent,
    plan_order_target_percent,
    plan_order_target_quantity,
    plan_order_target_value,
    plan_order_value,
    plan_rebalance,
    round_order_quantity,
    usable_price,
    value_to_quantity,
    working_quantity,
)

IB_UNSET = 1.7976931348623157e308

amounts = st.floats(min_value=-1e7, max_value=1e7, allow_nan=False)
prices = st.floats(min_value=0.01, max_value=5_000, allow_nan=False)
multipliers = st.sampled_from([1.0, 5.0, 50.0, 100.0, 1000.0])
nlvs = st.floats(min_value=1_000, max_value=1e8, allow_nan=False)
percents = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)
positions = st.integers(min_value=-100_000, max_value=100_000)
sources = st.sampled_from(["mid", "last", "close"])


def zipline_round(amount: float) -> int:
    """The rule restated from zipline's docs: within .0001 of an integer -> that integer,
    else the integer closer to zero."""
    below, above = math.floor(amount), math.ceil(amount)
    if amount - below <= 1e-4:
        return below
    if above - amount <= 1e-4:
        return above
    return below if amount > 0 else above


# --------------------------------------------------------------------------- rounding


@given(amounts)
def test_rounding_matches_restated_zipline_rule(amount):
    assert round_order_quantity(amount) == zipline_round(amount)


@given(st.integers(-10_000, 10_000), st.floats(-0.99999, 0.99999))
def test_rounding_near_integers(n, frac):
    assert round_order_quantity(n + frac * 1e-4) == n
    assume(1e-3 < abs(frac) < 0.999)
    value = n + frac
    assert round_order_quantity(value) == math.trunc(value)


def test_rounding_matches_ziplines_own_helper():
    from zipline.utils.math_utils import round_if_near_integer

    for amount in (3.9999, 5.5, -5.5, 0.99995, -0.99995, 2.00009, 7.0, -0.4, 1e6 + 0.3):
        assert round_order_quantity(amount) == int(round_if_near_integer(amount))


def test_rounding_zipline_doc_examples():
    # zipline's docstring says 3.9999 -> 4, but in floats |3.9999 - 4| is just over 1e-4 and
    # its code (which we follow) truncates it to 3; 3.99995 is within the tolerance.
    assert round_order_quantity(3.99995) == 4
    assert round_order_quantity(3.9999) == 3
    assert round_order_quantity(5.5) == 5
    assert round_order_quantity(-5.5) == -5


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, None, "3"])
def test_rounding_rejects_non_finite(bad):
    with pytest.raises(SizingError):
        round_order_quantity(bad)


# --------------------------------------------------------------------------- value -> quantity


@given(amounts, prices, multipliers)
def test_value_to_quantity_never_overshoots(value, price, mult):
    qty = value_to_quantity(value, price, mult)
    exact = value / (price * mult)
    assert qty == zipline_round(exact)
    assert qty * value >= 0  # same sign as the value (or zero)
    assert abs(qty) <= abs(exact) + 1e-4
    assert abs(qty) + 1 > abs(exact)


def test_future_uses_multiplier():
    # CL at 80 with multiplier 1000: $200k is 2.5 contracts -> 2
    plan = plan_order_value(200_000, Quote(80.0, "mid"), 1000)
    assert (plan.action, plan.quantity, plan.notional) == ("BUY", 2, 160_000.0)
    sell = plan_order_value(-200_000, Quote(80.0, "mid"), 1000)
    assert (sell.action, sell.quantity, sell.delta) == ("SELL", 2, -2)


def test_option_value_to_contracts():
    # $1,000 of a $2.50 option with multiplier 100 is 4 contracts
    assert value_to_quantity(1_000, 2.5, 100) == 4


def test_value_too_small_rounds_to_zero_and_says_so():
    plan = plan_order_value(50, 100.0)
    assert plan.is_empty and plan.action == "" and plan.notional == 0
    assert "rounds to zero" in plan.reason


@pytest.mark.parametrize("mult", [0, -1, math.nan, math.inf])
def test_bad_multiplier_refused(mult):
    with pytest.raises(SizingError, match="multiplier"):
        plan_order_value(1_000, 10.0, mult)


# --------------------------------------------------------------------------- composition


@given(percents, nlvs, prices, sources, multipliers, positions, positions)
def test_target_percent_composes_value_then_quantity(pct, nlv, price, source, mult, pos, work):
    quote = Quote(price, source)
    by_percent = plan_order_target_percent(pct, nlv, quote, mult, pos, work)
    by_value = plan_order_target_value(pct * nlv, quote, mult, pos, work)
    by_qty = plan_order_target_quantity(
        value_to_quantity(pct * nlv, price, mult), quote, mult, pos, work
    )
    assert by_percent == by_value == by_qty
    assert by_percent.price_source == source


@given(percents, nlvs, prices, multipliers)
def test_percent_composes_value(pct, nlv, price, mult):
    assert percent_to_value(pct, nlv) == pct * nlv
    assert plan_order_percent(pct, nlv, price, mult) == plan_order_value(pct * nlv, price, mult)


@given(st.integers(-50_000, 50_000), prices, multipliers, positions, positions)
def test_target_quantity_sign_and_size(target, price, mult, pos, work):
    plan = plan_order_target_quantity(target, price, mult, pos, work)
    assert plan.delta == target - (pos + work)
    assert plan.quantity == abs(plan.delta)
    assert plan.action == ("BUY" if plan.delta > 0 else "SELL" if plan.delta < 0 else "")
    assert math.isclose(plan.notional, plan.quantity * price * mult)
    assert (plan.reason == "") == (plan.quantity > 0)


@given(percents, nlvs, prices, multipliers, positions)
def test_resulting_position_never_exceeds_exact_target(pct, nlv, price, mult, pos):
    plan = plan_order_target_percent(pct, nlv, price, mult, pos)
    exact = pct * nlv / (price * mult)
    final = pos + plan.delta
    assert final * exact >= 0
    assert abs(final) <= abs(exact) + 1e-4


@given(percents, nlvs, prices, sources, multipliers, positions, positions)
def test_second_target_call_is_a_no_op_once_working_counted(
    pct, nlv, price, source, mult, pos, work
):
    quote = Quote(price, source)
    first = plan_order_target_percent(pct, nlv, quote, mult, pos, work)
    second = plan_order_target_percent(pct, nlv, quote, mult, pos, work + first.delta)
    assert second.is_empty and second.delta == 0
    assert "already at target" in second.reason


def test_target_counts_working_orders():
    # 100 held, a working buy of 50: a target of 150 needs nothing more
    plan = plan_order_target_quantity(150, 10.0, position=100, working=50)
    assert plan.is_empty and plan.current == 150


def test_target_can_flip_a_short():
    plan = plan_order_target_value(1_000, 10.0, position=-20)
    assert (plan.action, plan.quantity, plan.target) == ("BUY", 120, 100)


# --------------------------------------------------------------------------- price source


def test_mid_when_bid_and_ask_valid():
    assert usable_price(99.0, 101.0, 98.0, 97.0) == (100.0, "mid")


@pytest.mark.parametrize(
    ("bid", "ask", "last", "close", "source"),
    [
        (math.nan, 101.0, 98.0, 97.0, "last"),
        (-1.0, -1.0, 98.0, 97.0, "last"),
        (IB_UNSET, 101.0, 98.0, 97.0, "last"),
        (102.0, 101.0, 98.0, 97.0, "last"),  # crossed quote is not a mid
        (None, None, math.nan, 97.0, "close"),
        (0.0, 0.0, IB_UNSET, 97.0, "close"),
    ],
)
def test_price_falls_back(bid, ask, last, close, source):
    price, got = usable_price(bid, ask, last, close)
    assert got == source
    assert price == {"last": last, "close": close}[source]


@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        ((math.nan, math.nan, math.nan, math.nan), ["bid NaN", "last NaN", "close NaN"]),
        ((None, None, None, None), ["bid missing", "close missing"]),
        ((-1.0, -1.0, 0.0, -2.0), ["bid -1 (not positive)", "last 0 (not positive)"]),
        ((IB_UNSET, IB_UNSET, IB_UNSET, IB_UNSET), ["bid unset (1.797e308)"]),
    ],
)
def test_no_usable_price_names_what_is_missing(inputs, words):
    with pytest.raises(PriceUnavailable) as err:
        usable_price(*inputs, label="AAPL STK")
    assert "AAPL STK" in str(err.value)
    for word in words:
        assert word in str(err.value)


@given(
    *[
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.just(IB_UNSET))
        for _ in range(4)
    ]
)
def test_usable_price_never_returns_a_bad_price(bid, ask, last, close):
    try:
        price, _ = usable_price(bid, ask, last, close)
    except PriceUnavailable:
        return
    assert math.isfinite(price) and 0 < price < IB_UNSET


@pytest.mark.parametrize("price", [math.nan, 0.0, -3.0, IB_UNSET])
def test_sizing_refuses_bad_price(price):
    with pytest.raises(PriceUnavailable):
        plan_order_target_percent(0.1, 100_000, price)


# --------------------------------------------------------------------------- NetLiquidation


@pytest.mark.parametrize(
    ("value", "age", "match"),
    [
        (None, 1.0, "missing"),
        (math.nan, 1.0, "not a number"),
        (0.0, 1.0, "must be positive"),
        (-5.0, 1.0, "must be positive"),
        (IB_UNSET, 1.0, "not a usable value"),
        (100_000.0, 700.0, "stale: last updated 700 s ago"),
        (100_000.0, None, "no known update time"),
    ],
)
def test_check_nlv_refusals(value, age, match):
    with pytest.raises(AccountValueUnavailable, match=match):
        check_nlv(value, age, max_age=600)


def test_check_nlv_accepts_fresh_positive():
    assert check_nlv(123_456.0, 30.0, max_age=600) == 123_456.0


@pytest.mark.parametrize("nlv", [0.0, math.nan, None, -1.0])
def test_percent_orders_refuse_bad_nlv(nlv):
    with pytest.raises(AccountValueUnavailable):
        plan_order_percent(0.05, nlv, 10.0)
    with pytest.raises(AccountValueUnavailable):
        plan_order_target_percent(0.05, nlv, 10.0)


# --------------------------------------------------------------------------- factories


def test_market_and_limit_orders():
    m = market("buy", 10)
    assert isinstance(m, MarketOrder)
    assert (m.action, m.totalQuantity, m.orderType) == ("BUY", 10, "MKT")
    lim = limit("SELL", 5, 101.25)
    assert isinstance(lim, LimitOrder)
    assert (lim.action, lim.totalQuantity, lim.lmtPrice, lim.orderType) == (
        "SELL",
        5,
        101.25,
        "LMT",
    )
    assert limit("BUY", 1, -0.35).lmtPrice == -0.35  # credit combo


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: market("HOLD", 10), "BUY or SELL"),
        (lambda: market(None, 10), "BUY or SELL"),
        (lambda: market("BUY", 0), "quantity"),
        (lambda: market("BUY", -3), "quantity"),
        (lambda: market("BUY", math.nan), "quantity"),
        (lambda: market("BUY", math.inf), "quantity"),
        (lambda: market("BUY", True), "quantity"),
        (lambda: market("BUY", "10"), "quantity"),
        (lambda: limit("BUY", 1, math.nan), "limit price"),
        (lambda: limit("BUY", 1, math.inf), "limit price"),
        (lambda: limit("BUY", 1, IB_UNSET), "limit price"),
        (lambda: limit("BUY", 1, None), "limit price"),
    ],
)
def test_factory_refusals(call, match):
    with pytest.raises(OrderInputError, match=match):
        call()


def test_build_order_tags_strategy_and_refuses_empty_plan():
    order = build_order(plan_order_target_quantity(-7, 10.0), market, strategy="momo")
    assert (order.action, order.totalQuantity, order.orderRef) == ("SELL", 7, "momo")
    with pytest.raises(SizingError, match="nothing to send: delta rounds to zero"):
        build_order(plan_order_target_quantity(3, 10.0, position=3), market)


# --------------------------------------------------------------------------- working orders


def _trade(con_id, action, qty, status, filled=0.0, sec_type="STK", legs=()):
    contract = Contract(secType=sec_type, conId=con_id, comboLegs=list(legs))
    order = Order(action=action, totalQuantity=qty, orderType="MKT")
    return Trade(contract, order, OrderStatus(status=status, filled=filled))


def test_working_quantity_counts_only_live_orders_for_the_contract():
    aapl = Contract(secType="STK", conId=265598)
    trades = [
        _trade(265598, "BUY", 100, "Submitted", filled=40),  # +60 remaining
        _trade(265598, "SELL", 30, "PendingSubmit"),  # -30 (no status yet)
        _trade(265598, "BUY", 10, "PendingCancel"),  # +10, may still fill
        _trade(265598, "BUY", 500, "Filled", filled=500),
        _trade(265598, "BUY", 500, "Cancelled"),
        _trade(265598, "SELL", 500, "Inactive"),
        _trade(8314, "BUY", 999, "Submitted"),  # another contract
    ]
    assert working_quantity(trades, aapl) == 60 - 30 + 10


def test_working_quantity_bags_match_by_legs():
    legs = [ComboLeg(conId=1, ratio=1, action="BUY"), ComboLeg(conId=2, ratio=1, action="SELL")]
    other = [ComboLeg(conId=1, ratio=1, action="BUY"), ComboLeg(conId=3, ratio=1, action="SELL")]
    bag = Contract(secType="BAG", conId=28812380, comboLegs=list(reversed(legs)))
    trades = [
        _trade(28812380, "BUY", 2, "Submitted", sec_type="BAG", legs=legs),
        _trade(28812380, "BUY", 5, "Submitted", sec_type="BAG", legs=other),
    ]
    assert working_quantity(trades, bag) == 2


# --------------------------------------------------------------------------- commission


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("STK", 100, 50.0), 1.0),  # $0.50 -> $1 minimum
        (("STK", 1000, 50.0), 5.0),  # $0.005/share
        (("STK", 300, 0.10), 0.30),  # capped at 1 % of $30
        (("STK", -1000, 50.0), 5.0),  # sells cost the same
        (("OPT", 3, 2.0, 100), 1.95),
        (("FUT", 2, 80.0, 1000), 1.70),
        (("STK", 0, 50.0), 0.0),
    ],
)
def test_commission_schedule(args, expected):
    assert estimate_commission(*args) == pytest.approx(expected)


def test_commission_unknown_sec_type():
    with pytest.raises(ValueError, match="BAG"):
        estimate_commission("BAG", 1, 1.0)


# --------------------------------------------------------------------------- rebalance


def test_rebalance_sells_first_and_zeroes_untargeted_holdings():
    quotes = {"AAA": Quote(100.0, "mid"), "BBB": Quote(50.0, "last"), "CCC": 20.0}
    plan = plan_rebalance(
        targets={"AAA": 0.5, "BBB": 0.0},
        holdings={"BBB": 100, "CCC": 250},
        quotes=quotes,
        nlv=100_000,
    )
    assert [(leg.key, leg.plan.delta) for leg in plan.orders] == [
        ("BBB", -100),
        ("CCC", -250),
        ("AAA", 500),
    ]
    assert plan.total_notional == 100 * 50 + 250 * 20 + 500 * 100
    # by hand, $0.005/share with a $1 minimum: BBB 100 sh -> $1.00 (minimum), CCC 250 sh
    # -> $1.25, AAA 500 sh -> $2.50
    assert [leg.commission for leg in plan.orders] == pytest.approx([1.0, 1.25, 2.5])
    assert plan.estimated_commission == pytest.approx(4.75)
    assert plan.margin_change is None


def test_rebalance_is_idempotent_with_working_orders():
    kwargs = dict(
        targets={"AAA": 0.3, "BBB": -0.2},
        holdings={"AAA": 10, "ZZZ": 7},
        quotes={"AAA": 100.0, "BBB": 40.0, "ZZZ": 5.0},
        nlv=50_000,
    )
    first = plan_rebalance(**kwargs)
    working = {leg.key: leg.plan.delta for leg in first.orders}
    second = plan_rebalance(**kwargs, working=working)
    assert second.orders == ()
    assert {leg.key for leg in second.unchanged} == {"AAA", "BBB", "ZZZ"}


def test_rebalance_uses_multipliers_and_sec_types():
    plan = plan_rebalance(
        targets={"CL": 0.5},
        holdings={},
        quotes={"CL": 80.0},
        nlv=1_000_000,
        multipliers={"CL": 1000},
        sec_types={"CL": "FUT"},
    )
    (leg,) = plan.orders
    assert leg.plan.quantity == 6  # 500k / 80k = 6.25
    assert leg.commission == pytest.approx(6 * 0.85)


def test_rebalance_refuses_when_any_price_is_missing():
    with pytest.raises(PriceUnavailable) as err:
        plan_rebalance(
            targets={"AAA": 0.1, "BBB": 0.1},
            holdings={"CCC": 5},
            quotes={"AAA": 10.0, "BBB": math.nan},
            nlv=10_000,
        )
    assert "BBB" in str(err.value) and "CCC" in str(err.value) and "AAA" not in str(err.value)


def test_rebalance_refuses_bad_weights_and_nlv():
    with pytest.raises(SizingError, match="finite"):
        plan_rebalance({"AAA": math.nan}, {}, {"AAA": 10.0}, 10_000)
    with pytest.raises(AccountValueUnavailable):
        plan_rebalance({"AAA": 0.1}, {}, {"AAA": 10.0}, 0.0)


def test_rebalance_reports_stray_working_orders():
    plan = plan_rebalance({"AAA": 0.1}, {}, {"AAA": 10.0}, 10_000, working={"QQQ": 5})
    assert plan.stray_working == ("QQQ",)


@settings(max_examples=50)
@given(
    st.dictionaries(st.sampled_from("ABCDEFGH"), st.floats(-0.3, 0.3, allow_nan=False), max_size=6),
    st.dictionaries(st.sampled_from("ABCDEFGH"), st.integers(-500, 500), max_size=6),
    nlvs,
)
def test_rebalance_properties(targets, holdings, nlv):
    quotes = {k: 10.0 + ord(k) for k in "ABCDEFGH"}
    plan = plan_rebalance(targets, holdings, quotes, nlv)
    deltas = [leg.plan.delta for leg in plan.orders]
    assert deltas == sorted(deltas, key=lambda d: d > 0)  # sells before buys
    assert all(d != 0 for d in deltas)
    for leg in plan.orders + plan.unchanged:
        if leg.key not in targets:
            assert holdings[leg.key] + leg.plan.delta == 0
        # independent formula: shares = weight * NLV / price, the nearest integer when
        # within 1e-4 of it, else truncated toward zero; delta = shares - holding
        exact = targets.get(leg.key, 0.0) * nlv / quotes[leg.key]
        shares = round(exact) if abs(exact - round(exact)) <= 1e-4 else math.trunc(exact)
        assert leg.plan.target == shares
        assert leg.plan.delta == shares - holdings.get(leg.key, 0)
        assert leg.plan.price == quotes[leg.key]
