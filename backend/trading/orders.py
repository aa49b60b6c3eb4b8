"""Order factories and the pure sizing helpers behind the order primitives.

Sign convention: quantities and positions are signed share/contract counts, positive
long and negative short. A plan's ``delta`` is the signed change (``target - current``);
its ``action`` is ``BUY`` for a positive delta and ``SELL`` for a negative one, and its
``quantity`` is ``abs(delta)``. Orders are in whole shares or contracts.

Rounding follows zipline's ``round_order``: an amount within 1e-4 of an integer is that
integer, anything else is truncated toward zero. Unlike zipline, which rounds the
*delta* of a target order, the target variants round the *target* and then subtract
the current position (position plus working orders), so the resulting position never
exceeds the exact target in magnitude and
``plan_order_target_value(v) == plan_order_target_quantity(value_to_quantity(v))``.

Composition (as the seed describes): target percent -> percent helper -> value helper;
value -> quantity is ``value / (price * multiplier)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from numbers import Real
from typing import NamedTuple

from ib_async import Contract, LimitOrder, MarketOrder, Order, Trade
from ib_async.util import UNSET_DOUBLE

from livedesk.backend.errors import (
    AccountValueUnavailable,
    OrderInputError,
    PriceUnavailable,
    SizingError,
)

BUY = "BUY"
SELL = "SELL"
ACTIONS = frozenset({BUY, SELL})
ROUNDING_EPSILON = 1e-4

# Statuses whose remaining quantity may still fill. PendingCancel is counted: the order
# can fill until the cancel is confirmed, and counting it avoids sending a duplicate.
WORKING_STATUSES = frozenset(
    {
        "PendingSubmit",
        "ApiPending",
        "PreSubmitted",
        "Submitted",
        "ApiUpdate",
        "ValidationError",
        "PendingCancel",
    }
)


# --------------------------------------------------------------------------- factories


def _is_real(x: object) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)


def _check_action(action: object) -> str:
    if not isinstance(action, str) or action.upper() not in ACTIONS:
        raise OrderInputError(f"order action must be BUY or SELL, got {action!r}")
    return action.upper()


def _check_quantity(qty: object) -> float:
    if not _is_real(qty) or not math.isfinite(qty) or qty <= 0:
        raise OrderInputError(f"order quantity must be a finite number > 0, got {qty!r}")
    return qty


def market(action: str, qty: float) -> Order:
    """A market order: ``market("BUY", 10)``."""
    return MarketOrder(_check_action(action), _check_quantity(qty))


def limit(action: str, qty: float, price: float) -> Order:
    """A limit order. The price may be negative (credit combos) but must be finite and set."""
    if not _is_real(price) or not math.isfinite(price) or abs(price) >= UNSET_DOUBLE:
        raise OrderInputError(f"limit price must be a finite number, got {price!r}")
    return LimitOrder(_check_action(action), _check_quantity(qty), float(price))


# --------------------------------------------------------------------------- prices


class Quote(NamedTuple):
    """A usable price and where it came from: ``mid``, ``last``, ``close`` or ``given``."""

    price: float
    source: str


def is_usable_price(x: object) -> bool:
    """True for a finite, positive price that is not IB's "unset" value."""
    return _is_real(x) and math.isfinite(x) and 0 < x < UNSET_DOUBLE


def _price_problem(x: object) -> str:
    if x is None:
        return "missing"
    if not _is_real(x):
        return f"{x!r} (not a number)"
    if math.isnan(x):
        return "NaN"
    if x >= UNSET_DOUBLE:
        return "unset (1.797e308)"
    if not math.isfinite(x):
        return f"{x} (not finite)"
    if x <= 0:
        return f"{x:g} (not positive)"
    return f"{x:g}"


def usable_price(
    bid: float | None,
    ask: float | None,
    last: float | None,
    close: float | None,
    *,
    label: str = "the contract",
) -> Quote:
    """The sizing price: mid of a valid, uncrossed bid/ask, else last, else previous close.

    Raises PriceUnavailable naming every missing or invalid input.
    """
    if is_usable_price(bid) and is_usable_price(ask) and bid <= ask:
        return Quote((bid + ask) / 2.0, "mid")
    if is_usable_price(last):
        return Quote(float(last), "last")
    if is_usable_price(close):
        return Quote(float(close), "close")
    crossed = " (crossed)" if is_usable_price(bid) and is_usable_price(ask) else ""
    raise PriceUnavailable(
        f"no usable price for {label}: bid {_price_problem(bid)}, ask {_price_problem(ask)}"
        f"{crossed}, last {_price_problem(last)}, close {_price_problem(close)}; "
        "need a valid bid and ask, a last trade or a previous close"
    )


def _as_quote(quote: Quote | float) -> Quote:
    if isinstance(quote, Quote):
        price, source = quote
    else:
        price, source = quote, "given"
    if not is_usable_price(price):
        raise PriceUnavailable(f"sizing price is {_price_problem(price)}; need a price > 0")
    return Quote(float(price), source)


def _check_multiplier(multiplier: float) -> float:
    if not _is_real(multiplier) or not math.isfinite(multiplier) or multiplier <= 0:
        raise SizingError(f"contract multiplier must be a finite number > 0, got {multiplier!r}")
    return float(multiplier)


# --------------------------------------------------------------------------- account value


def _require_nlv(nlv: float | None) -> float:
    if nlv is None:
        raise AccountValueUnavailable("NetLiquidation is missing: no account value received yet")
    if not _is_real(nlv) or math.isnan(nlv):
        raise AccountValueUnavailable(f"NetLiquidation is not a number ({nlv!r})")
    if not math.isfinite(nlv) or nlv >= UNSET_DOUBLE:
        raise AccountValueUnavailable(f"NetLiquidation is not a usable value ({nlv!r})")
    if nlv <= 0:
        raise AccountValueUnavailable(f"NetLiquidation is {nlv:g}; it must be positive")
    return float(nlv)


def check_nlv(value: float | None, age_seconds: float | None, max_age: float) -> float:
    """Return NetLiquidation if present, positive and at most ``max_age`` seconds old."""
    nlv = _require_nlv(value)
    if age_seconds is None or not math.isfinite(age_seconds):
        raise AccountValueUnavailable("NetLiquidation has no known update time; cannot trust it")
    if age_seconds > max_age:
        raise AccountValueUnavailable(
            f"NetLiquidation is stale: last updated {age_seconds:.0f} s ago (limit {max_age:.0f} s)"
        )
    return nlv


# --------------------------------------------------------------------------- pure helpers


def round_order_quantity(amount: float) -> int:
    """zipline's rounding: the nearest integer if within 1e-4, else truncate toward zero."""
    if not _is_real(amount) or not math.isfinite(amount):
        raise SizingError(f"order amount must be finite, got {amount!r}")
    nearest = round(amount)
    if abs(amount - nearest) <= ROUNDING_EPSILON:
        return int(nearest)
    return int(amount)


def value_to_quantity(value: float, price: float, multiplier: float = 1.0) -> int:
    """Whole shares/contracts worth ``value``: ``value / (price * multiplier)``, rounded."""
    if not _is_real(value) or not math.isfinite(value):
        raise SizingError(f"order value must be finite, got {value!r}")
    price = _as_quote(price).price
    return round_order_quantity(value / (price * _check_multiplier(multiplier)))


def percent_to_value(percent: float, nlv: float) -> float:
    """``percent`` (0.05 = 5 %) of NetLiquidation in account currency."""
    if not _is_real(percent) or not math.isfinite(percent):
        raise SizingError(f"percent must be finite, got {percent!r}")
    return percent * _require_nlv(nlv)


def target_delta(target: int, position: float, working: float = 0.0) -> int:
    """Signed order quantity that moves ``position + working`` to ``target``."""
    for name, x in (("position", position), ("working quantity", working)):
        if not _is_real(x) or not math.isfinite(x):
            raise SizingError(f"{name} must be finite, got {x!r}")
    return round_order_quantity(target - (position + working))


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class OrderPlan:
    """What one primitive would send. ``quantity == 0`` means nothing; ``reason`` says why."""

    action: str
    quantity: int
    delta: int
    price: float
    price_source: str
    multiplier: float
    notional: float
    target: int | None = None
    current: float | None = None
    reason: str = ""

    @property
    def is_empty(self) -> bool:
        return self.quantity == 0


def _plan(
    delta: int,
    quote: Quote,
    multiplier: float,
    reason_if_zero: str,
    target: int | None = None,
    current: float | None = None,
) -> OrderPlan:
    quantity = abs(delta)
    return OrderPlan(
        action=BUY if delta > 0 else SELL if delta < 0 else "",
        quantity=quantity,
        delta=delta,
        price=quote.price,
        price_source=quote.source,
        multiplier=multiplier,
        notional=quantity * quote.price * multiplier,
        target=target,
        current=current,
        reason="" if quantity else reason_if_zero,
    )


def plan_order_value(value: float, quote: Quote | float, multiplier: float = 1.0) -> OrderPlan:
    """Buy (value > 0) or sell (value < 0) ``abs(value)`` worth of the contract."""
    quote, multiplier = _as_quote(quote), _check_multiplier(multiplier)
    delta = value_to_quantity(value, quote.price, multiplier)
    exact = value / (quote.price * multiplier)
    return _plan(
        delta,
        quote,
        multiplier,
        f"order value {value:,.2f} rounds to zero: {exact:.4f} units at "
        f"{quote.price:g} x {multiplier:g}",
    )


def plan_order_percent(
    percent: float, nlv: float, quote: Quote | float, multiplier: float = 1.0
) -> OrderPlan:
    """Order ``percent`` of NetLiquidation (value helper after the percent helper)."""
    return plan_order_value(percent_to_value(percent, nlv), quote, multiplier)


def plan_order_target_quantity(
    target: float,
    quote: Quote | float | None,
    multiplier: float = 1.0,
    position: float = 0.0,
    working: float = 0.0,
) -> OrderPlan:
    """Move the position (counting working orders) to ``target`` shares/contracts.

    A target quantity needs no price: with ``quote`` None (e.g. a credit combo, whose signed
    price is no size) the plan's price and notional are NaN."""
    quote = Quote(math.nan, "none") if quote is None else _as_quote(quote)
    multiplier = _check_multiplier(multiplier)
    target_qty = round_order_quantity(target)
    delta = target_delta(target_qty, position, working)
    current = position + working
    return _plan(
        delta,
        quote,
        multiplier,
        f"delta rounds to zero: already at target {target_qty} "
        f"(position {position:g}, working {working:+g})",
        target=target_qty,
        current=current,
    )


def plan_order_target_value(
    value: float,
    quote: Quote | float,
    multiplier: float = 1.0,
    position: float = 0.0,
    working: float = 0.0,
) -> OrderPlan:
    """Move the position to ``value`` worth (quantity helper after the value helper)."""
    quote = _as_quote(quote)
    target = value_to_quantity(value, quote.price, multiplier)
    return plan_order_target_quantity(target, quote, multiplier, position, working)


def plan_order_target_percent(
    percent: float,
    nlv: float,
    quote: Quote | float,
    multiplier: float = 1.0,
    position: float = 0.0,
    working: float = 0.0,
) -> OrderPlan:
    """Move the position to ``percent`` of NetLiquidation (percent -> value -> quantity)."""
    return plan_order_target_value(
        percent_to_value(percent, nlv), quote, multiplier, position, working
    )


def build_order(
    plan: OrderPlan, order_type: Callable[[str, float], Order], strategy: str = ""
) -> Order:
    """The ib_async Order for a non-empty plan, tagged with ``orderRef=strategy``."""
    if plan.is_empty:
        raise SizingError(f"nothing to send: {plan.reason}")
    order = order_type(plan.action, plan.quantity)
    if strategy:
        order.orderRef = strategy
    return order


# --------------------------------------------------------------------------- working orders


def _leg_signature(contract: Contract) -> tuple:
    return tuple(sorted((leg.conId, leg.ratio, leg.action) for leg in contract.comboLegs))


def same_contract(a: Contract, b: Contract) -> bool:
    """Same instrument: BAGs by their legs (IB gives every BAG one conId), others by conId."""
    if a.secType == "BAG" or b.secType == "BAG":
        return a.secType == b.secType and _leg_signature(a) == _leg_signature(b)
    return a.conId > 0 and a.conId == b.conId


def working_quantity(trades: Iterable[Trade], contract: Contract) -> float:
    """Signed unfilled quantity of the working orders for ``contract`` (BUY +, SELL -).

    Filled is the larger of the status's ``filled`` and the fills seen, so a fill that
    arrived before its status update is not counted twice.
    """
    total = 0.0
    for trade in trades:
        if trade.orderStatus.status not in WORKING_STATUSES:
            continue
        if not same_contract(trade.contract, contract):
            continue
        filled = max(float(trade.orderStatus.filled or 0.0), trade.filled())
        remaining = max(float(trade.order.totalQuantity) - filled, 0.0)
        total += remaining if trade.order.action.upper() == BUY else -remaining
    return total


# --------------------------------------------------------------------------- commission


def estimate_commission(sec_type: str, qty: float, price: float, multiplier: float = 1.0) -> float:
    """IB-style fixed commission for one order (the simulated gateway charges the same).

    Stocks: $0.005/share, at least $1, at most 1 % of the trade value.
    Options (OPT, FOP): $0.65/contract. Futures: $0.85/contract.
    """
    qty = abs(qty)
    if qty == 0:
        return 0.0
    kind = sec_type.upper()
    if kind == "STK":
        value = qty * abs(price) * multiplier
        return min(max(0.005 * qty, 1.0), 0.01 * value)
    if kind in ("OPT", "FOP"):
        return 0.65 * qty
    if kind == "FUT":
        return 0.85 * qty
    raise ValueError(f"no commission schedule for secType {sec_type!r}; estimate each leg")


# --------------------------------------------------------------------------- rebalance


@dataclass(frozen=True)
class RebalanceLeg:
    """One contract's part of a rebalance."""

    key: Hashable
    weight: float
    plan: OrderPlan
    commission: float


@dataclass(frozen=True)
class RebalancePlan:
    """Every delta computed up front; ``orders`` lists sells before buys."""

    orders: tuple[RebalanceLeg, ...]
    unchanged: tuple[RebalanceLeg, ...]
    stray_working: tuple[Hashable, ...]
    nlv: float
    total_notional: float
    estimated_commission: float
    margin_change: float | None = None
    margin_source: str = ""
    """Where ``margin_change`` comes from: the gateway's what-if of the whole change, or a
    sum of per-leg what-ifs (which ignores offsets between legs)."""


@dataclass(frozen=True)
class RebalanceBand:
    """Differences a rebalance leaves alone: a leg whose ``|delta|`` is at most ``shares``
    or ``percent`` % of its target quantity, whichever is larger. A target of zero always
    closes the position (no residue is left for the band's sake)."""

    shares: float = 0.0
    percent: float = 0.0

    def __post_init__(self) -> None:
        for name in ("shares", "percent"):
            value = getattr(self, name)
            if isinstance(value, bool) or not _is_real(value) or not 0 <= value < math.inf:
                raise ValueError(f"tolerance band {name} = {value!r} must be a finite number >= 0")

    def limit(self, target: float) -> float:
        """The largest ``|delta|`` left alone for a target quantity ``target``."""
        return max(self.shares, self.percent / 100.0 * abs(target))

    def tolerates(self, plan: OrderPlan) -> bool:
        """``plan``'s delta is inside the band (and its target is not zero)."""
        if plan.is_empty or not plan.target:
            return False
        return abs(plan.delta) <= self.limit(plan.target)


NO_BAND = RebalanceBand()


def plan_rebalance(
    targets: Mapping[Hashable, float],
    holdings: Mapping[Hashable, float],
    quotes: Mapping[Hashable, Quote | float],
    nlv: float,
    multipliers: Mapping[Hashable, float] | None = None,
    working: Mapping[Hashable, float] | None = None,
    sec_types: Mapping[Hashable, str] | None = None,
    band: RebalanceBand = NO_BAND,
) -> RebalancePlan:
    """Plan a move to ``targets`` (weights of NetLiquidation); held keys not targeted go to 0.

    Nothing is planned unless every key has a usable price and a finite weight: the error
    lists all of them. ``stray_working`` names keys with working orders that are neither
    targeted nor held (cancel those rather than trade against them). A leg whose delta is
    inside ``band`` is left unchanged (a rerun after a crash sends nothing for it).
    """
    nlv = _require_nlv(nlv)
    multipliers = multipliers or {}
    working = working or {}
    sec_types = sec_types or {}
    weights = dict(targets)
    for key, qty in holdings.items():
        if key not in weights and qty != 0:
            weights[key] = 0.0

    bad_weights = [
        f"{k}={w!r}" for k, w in weights.items() if not _is_real(w) or not math.isfinite(w)
    ]
    if bad_weights:
        raise SizingError(f"target weights must be finite: {', '.join(bad_weights)}")
    missing = [str(k) for k in weights if k not in quotes or not is_usable_price(_raw(quotes[k]))]
    if missing:
        raise PriceUnavailable(
            f"no usable price for {len(missing)} contract(s): {', '.join(missing)}; nothing planned"
        )

    legs = []
    for key, weight in weights.items():
        mult = multipliers.get(key, 1.0)
        plan = plan_order_target_percent(
            weight, nlv, quotes[key], mult, holdings.get(key, 0.0), working.get(key, 0.0)
        )
        if band.tolerates(plan):
            limit = band.limit(plan.target or 0)
            plan = replace(
                plan,
                action="",
                quantity=0,
                delta=0,
                notional=0.0,
                reason=f"inside the tolerance band: |{plan.delta}| <= {limit:g}",
            )
        fee = estimate_commission(sec_types.get(key, "STK"), plan.quantity, plan.price, mult)
        legs.append(RebalanceLeg(key, weight, plan, fee))

    orders = [leg for leg in legs if not leg.plan.is_empty]
    orders.sort(key=lambda leg: leg.plan.delta > 0)  # stable: sells first, input order kept
    return RebalancePlan(
        orders=tuple(orders),
        unchanged=tuple(leg for leg in legs if leg.plan.is_empty),
        stray_working=tuple(k for k, q in working.items() if q and k not in weights),
        nlv=nlv,
        total_notional=sum(leg.plan.notional for leg in orders),
        estimated_commission=sum(leg.commission for leg in orders),
    )


def _raw(quote: Quote | float) -> float:
    return quote.price if isinstance(quote, Quote) else quote
