"""The pre-trade guard: limits, trading states, collar, rate limit and the account guard."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livedesk.backend.trading.guard import (
    AccountGuard,
    GuardLimits,
    OrderIntent,
    PreTradeGuard,
    TradingState,
)

IB_UNSET = 1.7976931348623157e308


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def intent(**kw) -> OrderIntent:
    base = dict(
        action="BUY",
        quantity=10,
        order_type="MKT",
        contract="AAPL STK",
        reference_price=100.0,
        position=0.0,
        nlv=100_000.0,
        gross_exposure=0.0,
    )
    base.update(kw)
    return OrderIntent(**base)


@pytest.fixture
def guard() -> PreTradeGuard:
    return PreTradeGuard(GuardLimits(), clock=Clock())


def only_reason(decision) -> str:
    assert not decision.allowed
    assert len(decision.reasons) == 1, decision.reasons
    return decision.reasons[0]


def test_ordinary_order_allowed(guard):
    decision = guard.check(intent())
    assert decision.allowed and bool(decision) and decision.reasons == ()


def test_defaults_are_the_documented_ones():
    lim = GuardLimits()
    assert (lim.max_order_notional, lim.max_position_weight, lim.max_gross_leverage) == (
        250_000.0,
        0.25,
        2.0,
    )
    assert (lim.max_orders_per_minute, lim.limit_collar, lim.nlv_max_age) == (120, 0.05, 600.0)


def test_limits_from_settings_mapping():
    lim = GuardLimits.from_mapping({"max_order_notional": 1_000, "limit_collar": 0.02})
    assert lim.max_order_notional == 1_000 and lim.limit_collar == 0.02
    assert lim.max_position_weight == GuardLimits().max_position_weight
    with pytest.raises(ValueError, match="unknown guard limit"):
        GuardLimits.from_mapping({"max_notional": 5})
    with pytest.raises(ValueError, match="max_gross_leverage"):
        GuardLimits(max_gross_leverage=-1)
    with pytest.raises(ValueError, match="limit_collar"):
        GuardLimits(limit_collar=math.nan)


# --------------------------------------------------------------------------- limits


def test_max_order_notional(guard):
    reason = only_reason(guard.check(intent(quantity=3_000, nlv=10_000_000)))
    assert "order notional 300,000.00 exceeds max_order_notional 250,000.00" in reason


def test_notional_uses_multiplier():
    guard = PreTradeGuard(GuardLimits(max_order_notional=100_000), clock=Clock())
    futures = intent(quantity=2, multiplier=1000, reference_price=80.0, nlv=10_000_000)
    assert "160,000.00" in only_reason(guard.check(futures))


def test_max_position_weight_after_the_order(guard):
    # 200 held at $100 on $100k (20 %) + buy 100 -> 30 % > 25 %
    reason = only_reason(guard.check(intent(quantity=100, position=200, gross_exposure=20_000)))
    assert "position weight after the order 30.0% exceeds max_position_weight 25.0%" in reason


def test_max_gross_leverage(guard):
    reason = only_reason(guard.check(intent(quantity=200, gross_exposure=190_000)))
    assert "gross leverage after the order 2.10x exceeds max_gross_leverage 2.00x" in reason


def test_reducing_orders_skip_weight_and_leverage(guard):
    over = intent(action="SELL", quantity=100, position=400, gross_exposure=300_000)
    assert guard.check(over).allowed


def test_missing_nlv_blocks_exposure_increase_but_not_reduction(guard):
    reason = only_reason(guard.check(intent(nlv=None)))
    assert "NetLiquidation is None" in reason
    assert guard.check(intent(action="SELL", position=50, nlv=None)).allowed


def test_several_reasons_reported_together(guard):
    decision = guard.check(intent(quantity=5_000, position=0, gross_exposure=0))
    assert not decision.allowed
    text = " | ".join(decision.reasons)
    assert "max_order_notional" in text and "max_position_weight" in text
    assert "max_gross_leverage" in text


# --------------------------------------------------------------------------- prices


@pytest.mark.parametrize("ref", [None, math.nan, 0.0, -1.0, IB_UNSET, math.inf])
def test_market_order_without_usable_price_is_denied(guard, ref):
    reason = only_reason(guard.check(intent(reference_price=ref)))
    assert "market order has no usable reference price" in reason and "denied" in reason


@pytest.mark.parametrize("lmt", [94.99, 105.01])
def test_limit_collar_against_mid(guard, lmt):
    reason = only_reason(guard.check(intent(order_type="LMT", limit_price=lmt)))
    assert "outside the collar of 5" in reason and f"limit price {lmt:g}" in reason


@pytest.mark.parametrize("lmt", [95.0, 100.0, 105.0])
def test_limit_inside_collar_allowed(guard, lmt):
    assert guard.check(intent(order_type="LMT", limit_price=lmt)).allowed


def test_limit_needs_a_mid_and_a_usable_price(guard):
    assert "no usable mid" in only_reason(
        guard.check(intent(order_type="LMT", limit_price=100.0, reference_price=None))
    )
    assert "limit price nan is not usable" in only_reason(
        guard.check(intent(order_type="LMT", limit_price=math.nan))
    )


def test_combo_collar_allows_negative_prices_with_absolute_floor(guard):
    combo = dict(sec_type="BAG", order_type="LMT", reference_price=-0.40, multiplier=100)
    # 5 % of 0.40 is 0.02, but combos get at least 0.10
    assert guard.check(intent(limit_price=-0.32, **combo)).allowed
    assert guard.check(intent(limit_price=-0.50, **combo)).allowed
    reason = only_reason(guard.check(intent(limit_price=-0.55, **combo)))
    assert "outside the collar of 0.1" in reason
    # a zero mid is a valid combo price; still collared absolutely
    assert guard.check(intent(limit_price=0.05, **{**combo, "reference_price": 0.0})).allowed


def test_limit_notional_uses_worse_of_limit_and_mid():
    guard = PreTradeGuard(GuardLimits(max_order_notional=10_400, limit_collar=0.1), clock=Clock())
    ok = intent(order_type="LMT", quantity=100, limit_price=104.0, nlv=1e7)
    assert guard.check(ok).allowed
    high = intent(order_type="LMT", quantity=100, limit_price=104.5, nlv=1e7)
    assert "10,450.00" in only_reason(guard.check(high))


def test_unsupported_order_type(guard):
    assert "not supported" in only_reason(guard.check(intent(order_type="TRAIL")))


@pytest.mark.parametrize(
    ("kw", "allowed", "match"),
    [
        # mid 100, stop_collar 0.25, limit_collar 0.05 (defaults)
        ({"action": "BUY", "stop_price": 110.0}, True, ""),
        ({"action": "SELL", "stop_price": 90.0}, True, ""),
        ({"action": "SELL", "stop_price": 75.0}, True, ""),  # exactly on the collar
        ({"action": "BUY", "stop_price": 95.0}, False, "trigger at once"),
        ({"action": "SELL", "stop_price": 100.0}, False, "trigger at once"),
        ({"action": "SELL", "stop_price": 74.0}, False, "stop_collar"),
        ({"action": "BUY", "stop_price": math.nan}, False, "stop price nan is not usable"),
        ({"action": "BUY", "stop_price": 110.0, "reference_price": None}, False, "blind"),
    ],
)
def test_stop_orders_pass_the_guard_with_their_rules(guard, kw, allowed, match):
    decision = guard.check(intent(order_type="STP", **kw))
    assert decision.allowed is allowed, decision.reasons
    if match:
        assert match in only_reason(decision)


@pytest.mark.parametrize(
    ("stop", "lmt", "allowed", "match"),
    [
        (110.0, 112.0, True, ""),  # limit 2 above its stop: within 5 % of 110 (5.5)
        (110.0, 115.5, True, ""),  # exactly 5 % of the stop
        (110.0, 116.0, False, "from the stop price 110"),
        (110.0, None, False, "limit price None is not usable"),
        (90.0, 89.0, False, "trigger at once"),  # a BUY stop below the mid
    ],
)
def test_stop_limit_collars_its_limit_against_its_stop(guard, stop, lmt, allowed, match):
    decision = guard.check(intent(order_type="STP LMT", stop_price=stop, limit_price=lmt))
    assert decision.allowed is allowed, decision.reasons
    if match:
        assert match in only_reason(decision)


def test_stop_notional_uses_the_highest_price(guard):
    limits = GuardLimits(max_order_notional=1_150.0)
    g = PreTradeGuard(limits, clock=Clock())
    # 10 x max(mid 100, stop 110, limit 115) = 1,150: allowed; a 116 limit is 1,160
    assert g.check(intent(order_type="STP LMT", stop_price=110.0, limit_price=115.0))
    reason = only_reason(g.check(intent(order_type="STP LMT", stop_price=110.0, limit_price=115.5)))
    assert "order notional 1,155.00 exceeds" in reason


def test_reducing_counts_working_orders(guard):
    guard.set_state(TradingState.REDUCING)
    first = intent(action="SELL", quantity=100, position=100.0, working=0.0)
    assert guard.check(first)
    second = replace(first, working=-100.0)  # the first SELL 100 rests
    assert "REDUCING" in only_reason(guard.check(second))
    half = replace(first, quantity=50, working=-40.0)  # 100 - 40 - 50 = 10: still reduces
    assert guard.check(half)


def test_position_weight_counts_working_orders(guard):
    # NLV 100,000, price 100: 200 shares = 20 %; the cap is 25 %
    buy = intent(quantity=200, position=0.0)
    assert guard.check(buy)
    assert "position weight after the order 40.0%" in only_reason(
        guard.check(replace(buy, working=200.0))
    )


def test_combo_unit_notional_replaces_price_times_multiplier(guard):
    # a buy-write: 100 shares at 50 and one 100-multiplier call at 2 = 5,000 + 200 per unit
    bag = intent(
        sec_type="BAG", reference_price=48.0, quantity=10, multiplier=1.0, unit_notional=5_200.0
    )
    g = PreTradeGuard(GuardLimits(max_order_notional=50_000.0), clock=Clock())
    assert "order notional 52,000.00 exceeds" in only_reason(g.check(replace(bag, nlv=1e9)))


def test_check_batch_counts_earlier_orders_and_records_nothing():
    g = PreTradeGuard(GuardLimits(max_orders_per_minute=2), clock=Clock())
    decisions = g.check_batch([intent(), intent(), intent()])
    assert [d.allowed for d in decisions] == [True, True, False]
    assert "rate limit" in decisions[2].reasons[0]
    assert g.orders_in_window() == 0


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"action": "HOLD"}, "BUY or SELL"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": math.nan}, "quantity"),
    ],
)
def test_malformed_intents(guard, kw, match):
    assert match in only_reason(guard.check(intent(**kw)))


# --------------------------------------------------------------------------- trading state


def test_halted_allows_only_cancels(guard):
    seen = []
    guard.add_listener(lambda state, reason: seen.append((state, reason)))
    guard.halt("kill switch")
    assert guard.state is TradingState.HALTED and guard.state_reason == "kill switch"
    assert seen == [(TradingState.HALTED, "kill switch")]
    reason = only_reason(guard.check(intent(action="SELL", position=50)))
    assert "trading is HALTED (kill switch): only cancels are allowed" in reason
    assert guard.check(OrderIntent(is_cancel=True)).allowed


def test_reducing_state(guard):
    guard.set_state(TradingState.REDUCING, "drawdown")
    assert guard.check(intent(action="SELL", quantity=30, position=50)).allowed
    assert guard.check(intent(action="SELL", quantity=50, position=50)).allowed  # to flat
    assert guard.check(intent(action="BUY", quantity=20, position=-50)).allowed
    flip = only_reason(guard.check(intent(action="SELL", quantity=80, position=50)))
    assert "REDUCING: position would go from 50 to -30" in flip
    assert "REDUCING" in only_reason(guard.check(intent(action="BUY", quantity=1, position=50)))
    assert "REDUCING" in only_reason(guard.check(intent(action="BUY", quantity=1, position=0)))


@given(st.integers(-1000, 1000), st.integers(1, 2000), st.sampled_from(["BUY", "SELL"]))
def test_reducing_allows_exactly_exposure_reducing_orders(position, qty, action):
    guard = PreTradeGuard(GuardLimits(max_order_notional=1e12), clock=Clock())
    guard.set_state(TradingState.REDUCING)
    after = position + (qty if action == "BUY" else -qty)
    decision = guard.check(
        intent(action=action, quantity=qty, position=position, reference_price=1.0)
    )
    shrinks = abs(after) < abs(position) and after * position >= 0
    assert decision.allowed == shrinks


def test_listeners_only_on_change_and_removable(guard):
    seen = []

    def listener(state, reason):
        seen.append(state)

    guard.add_listener(listener)
    guard.set_state(TradingState.ACTIVE)  # unchanged: no call
    guard.set_state(TradingState.REDUCING, "x")
    guard.remove_listener(listener)
    guard.set_state(TradingState.ACTIVE)
    assert seen == [TradingState.REDUCING] and guard.state is TradingState.ACTIVE


# --------------------------------------------------------------------------- rate limit


def test_orders_per_minute_sliding_window():
    clock = Clock()
    guard = PreTradeGuard(GuardLimits(max_orders_per_minute=3), clock=clock)
    for _ in range(3):
        assert guard.check(intent()).allowed
        clock.now += 10
    reason = only_reason(guard.check(intent()))
    assert "3 orders in the last 60 s (max_orders_per_minute 3)" in reason
    clock.now += 30.0  # the first order (t=1000) leaves the window at t=1060
    assert guard.check(intent()).allowed


def test_only_allowed_and_recorded_orders_count():
    clock = Clock()
    guard = PreTradeGuard(GuardLimits(max_orders_per_minute=2), clock=clock)
    for _ in range(5):
        assert not guard.check(intent(reference_price=None)).allowed  # denied: not counted
    assert guard.check(intent(), record=False).allowed  # dry run: not counted
    assert guard.orders_in_window() == 0
    assert guard.check(intent()).allowed and guard.check(intent()).allowed
    assert not guard.check(intent()).allowed
    assert guard.check(OrderIntent(is_cancel=True)).allowed  # cancels never rate-limited


# --------------------------------------------------------------------------- accounts


def test_paper_account_trades():
    assert AccountGuard("DU1234567").check() == []
    assert AccountGuard("DU1234567").is_paper


def test_live_account_refused_without_live_flag():
    (reason,) = AccountGuard("U7654321").check()
    assert "U7654321 is a live account" in reason and "live=True" in reason


def test_live_account_needs_typed_confirmation():
    (reason,) = AccountGuard("U7654321", live=True, confirmed_account="U765432").check()
    assert "not confirmed" in reason and "'U765432'" in reason
    assert AccountGuard("U7654321", live=True).check() != []
    assert AccountGuard("U7654321", live=True, confirmed_account=" U7654321 ").check() == []


def test_readonly_refuses_everything_even_cancels():
    ro = AccountGuard("DU1234567", readonly=True)
    (reason,) = ro.check()
    assert "read-only" in reason
    guard = PreTradeGuard(account_guard=ro, clock=Clock())
    assert not guard.check(intent()).allowed
    assert not guard.check(OrderIntent(is_cancel=True)).allowed


def test_unknown_account_refused():
    assert "account id unknown" in AccountGuard("").check()[0]


def test_guard_combines_account_and_limit_reasons():
    guard = PreTradeGuard(account_guard=AccountGuard("U1"), clock=Clock())
    decision = guard.check(intent(reference_price=None))
    assert len(decision.reasons) == 2
    assert "live account" in decision.reasons[0]
    assert "no usable reference price" in decision.reasons[1]
    live = replace(guard.account_guard, live=True, confirmed_account="U1")
    assert PreTradeGuard(account_guard=live, clock=Clock()).check(intent()).allowed


def test_use_clock_measures_the_rate_on_a_simulated_clock():
    """A fast-forward counts 120 orders per simulated minute, whatever the wall time."""
    wall, sim = Clock(), Clock()
    g = PreTradeGuard(GuardLimits(max_orders_per_minute=3), clock=wall)
    for _ in range(2):
        assert g.check(intent()).allowed
    g.use_clock(sim)  # the orders counted on the wall clock are dropped
    for _ in range(3):
        assert g.check(intent()).allowed
    assert "rate limit" in only_reason(g.check(intent()))
    sim.now += 60.5  # a simulated minute later, no wall time at all
    assert g.check(intent()).allowed
