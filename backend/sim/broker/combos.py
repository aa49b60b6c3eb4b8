"""BAG (combo) contracts: IB's combo rules, combo quotes and the prices of an atomic fill.

Price convention (IB's): a combo's price is ``sum(sign * ratio * leg price)`` over its legs,
``sign`` +1 for a BUY leg and -1 for a SELL leg as the legs are defined.  Buying the combo at
a negative price therefore receives a credit (a short iron condor is a BUY of the BAG with
SELL legs on the inner strikes and a negative limit).  Selling the combo reverses every leg.

Rules and the errors they raise (all before anything changes):

======================================================  =========================================
rule                                                    error
======================================================  =========================================
leg conId unknown, zero, or an expired contract         200 No security definition has been found
fewer than two legs                                     201 Order rejected - reason:...
ratio of zero or less, leg action not BUY/SELL          201
the same conId in two legs                              201
legs in different currencies (or not the BAG's)         201
legs on different underlyings (options with other       201
underlyings, futures mixed with anything else,
futures on different exchanges)
per-leg prices (``orderComboLegs``) on more than two    201
legs, or a per-leg price count unlike the leg count
order type other than MKT or LMT                        387 Unsupported order type
LMT without a net price or per-leg prices               201
======================================================  =========================================

201 is used rather than 321 because ``ib_async`` treats 321 as a warning that leaves a new
order pending; 201 is IB's own "order rejected" and ends the trade as Cancelled.
All-stock combos may span several symbols (IB's SMART stock combos); all-futures combos may
span products of one exchange (inter-commodity spreads such as the crack).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ib_async import Contract, Order

from livedesk.backend.sim.errors import no_definition, rejected
from livedesk.backend.sim.market.instruments import Instrument
from livedesk.backend.sim.market.model import MarketModel, Quote
from livedesk.backend.sim.protocol.wire import UNSET_DOUBLE

COMBO_TYPES = frozenset({"MKT", "LMT"})


@dataclass(frozen=True)
class Leg:
    """One resolved combo leg."""

    inst: Instrument
    ratio: int
    sign: int  # +1 BUY, -1 SELL, as the leg is defined


def _underlying_key(inst: Instrument) -> tuple[str, object]:
    if inst.sec_type == "OPT":
        return ("U", inst.underlying_con_id)
    if inst.sec_type == "FUT":
        return ("F", inst.exchange)
    return ("U", inst.con_id)


def resolve_legs(
    contract: Contract,
    lookup: Callable[[int], Instrument | None],
    expired: Callable[[Instrument], bool],
) -> list[Leg]:
    """The legs of a BAG contract, checked against IB's combo rules (module doc)."""
    raw = contract.comboLegs or []
    if len(raw) < 2:
        raise rejected(f"A combo order needs at least two legs, got {len(raw)}")
    legs, seen = [], set()
    for leg in raw:
        if leg.ratio is None or int(leg.ratio) <= 0:
            raise rejected(f"Invalid ratio {leg.ratio} for combo leg conId {leg.conId}")
        action = (leg.action or "").upper()
        if action not in ("BUY", "SELL"):
            raise rejected(f"Invalid action {leg.action!r} for combo leg conId {leg.conId}")
        if leg.conId in seen:
            raise rejected(f"Duplicate combo leg conId {leg.conId}")
        seen.add(leg.conId)
        inst = lookup(leg.conId) if leg.conId else None
        if inst is None or expired(inst):
            raise no_definition()
        legs.append(Leg(inst, int(leg.ratio), 1 if action == "BUY" else -1))
    currencies = {leg.inst.currency for leg in legs}
    if len(currencies) > 1 or (contract.currency and contract.currency not in currencies):
        raise rejected("Combo legs must all be in the combo's currency")
    kinds = {leg.inst.sec_type for leg in legs}
    if kinds != {"STK"}:
        keys = {_underlying_key(leg.inst) for leg in legs}
        if len(keys) > 1 or ("FUT" in kinds and kinds != {"FUT"}):
            raise rejected("Combo legs must be on the same underlying")
    return legs


def check_order(legs: list[Leg], order: Order) -> None:
    """Order-level combo rules: order type, net price or per-leg prices."""
    if order.orderType not in COMBO_TYPES:
        raise rejected(f"Unsupported order type for a combo: {order.orderType}")
    leg_prices = leg_limits(order)
    if leg_prices is not None and len(legs) != 2:
        raise rejected("Per-leg prices are only allowed on combos of two legs")
    if leg_prices is not None and len(leg_prices) != len(legs):
        raise rejected("The number of per-leg prices must equal the number of legs")
    if order.orderType == "LMT" and leg_prices is None:
        price = float(order.lmtPrice)
        if not math.isfinite(price) or price >= UNSET_DOUBLE:
            raise rejected("A combo limit order needs a net limit price")


def leg_limits(order: Order) -> list[float] | None:
    """Per-leg limit prices of an order, or None when it has none."""
    prices = [leg.price for leg in order.orderComboLegs or []]
    if not prices or all(p >= UNSET_DOUBLE for p in prices):
        return None
    return prices


def combo_quote(market: MarketModel, legs: list[Leg], t: float) -> Quote:
    """The combo's bid, ask, sizes and last from its legs' quotes at ``t``."""
    bid = ask = last = 0.0
    bid_size = ask_size = 10**9
    for leg in legs:
        q = market.quote(leg.inst.con_id, t)
        r = leg.ratio
        if leg.sign > 0:
            bid, ask = bid + r * q.bid, ask + r * q.ask
            bid_size, ask_size = min(bid_size, q.bid_size // r), min(ask_size, q.ask_size // r)
        else:
            bid, ask = bid - r * q.ask, ask - r * q.bid
            bid_size, ask_size = min(bid_size, q.ask_size // r), min(ask_size, q.bid_size // r)
        last += leg.sign * r * q.last
    return Quote(
        round(bid, 8), round(ask, 8), max(bid_size, 0), max(ask_size, 0), round(last, 8), 1, 0
    )


def combo_prev_close(market: MarketModel, legs: list[Leg]) -> float:
    """The combo's price at the previous close."""
    return round(sum(leg.sign * leg.ratio * market.prev_close(leg.inst.con_id) for leg in legs), 8)


def net_price(legs: list[Leg], prices: list[float]) -> float:
    """The combo price of a set of leg prices."""
    return sum(leg.sign * leg.ratio * p for leg, p in zip(legs, prices, strict=True))


def fill_prices(
    market: MarketModel, legs: list[Leg], side: int, order: Order, t: float
) -> list[float] | None:
    """Leg prices of an atomic fill of the whole order at ``t``, or None if it cannot fill.

    ``side`` is +1 to buy the combo, -1 to sell it.  A marketable order fills every leg at
    its touch (so a limit order gets the natural price when that is better); a resting limit
    order fills at its limit once the combo's last price goes through it, the difference to
    the legs' mids spread evenly over the legs.
    """
    quotes = [market.quote(leg.inst.con_id, t) for leg in legs]
    natural = [q.ask if side * leg.sign > 0 else q.bid for leg, q in zip(legs, quotes, strict=True)]
    if order.orderType == "MKT":
        return natural
    limits = leg_limits(order)
    if limits is not None:
        ok = all(
            (p <= lim) if side * leg.sign > 0 else (p >= lim)
            for leg, p, lim in zip(legs, natural, limits, strict=True)
        )
        return natural if ok else None
    limit = float(order.lmtPrice)
    if side * (limit - net_price(legs, natural)) >= -1e-9:
        return natural
    last = net_price(legs, [q.last for q in quotes])
    if side * (limit - last) <= 0:
        return None
    mids = [(q.bid + q.ask) / 2 for q in quotes]
    shift = (limit - net_price(legs, mids)) / len(legs)
    prices = [round(m + leg.sign * shift / leg.ratio, 4) for leg, m in zip(legs, mids, strict=True)]
    j = max(range(len(legs)), key=lambda i: prices[i])
    rest = net_price(legs, prices) - legs[j].sign * legs[j].ratio * prices[j]
    prices[j] = (limit - rest) / (legs[j].sign * legs[j].ratio)
    return prices
