"""Matching rules of the simulated gateway: when and at what price a working order fills.

The engine is deterministic and has no I/O. Given a working order and the market's quote at
time ``t`` it decides the next fill:

* **Liquidity** — an order can take at most the displayed size on its side of the book in
  any one simulated second (the book replenishes every second); a larger order fills in
  several partial executions, as on a real exchange.
* **Price** — a marketable order pays the touch (ask for a buy, bid for a sell) plus a
  square-root market impact ``impact_bps · sqrt(qty / displayed size)``, rounded to the
  tick against the trader, plus any injected ``extra_bps`` (``livedesk sim-control impact
  BPS``) on every marketable fill, never through a limit price. A resting limit order fills
  at its limit once the last trade goes through it.
* **Order types** — see :mod:`livedesk.backend.sim.broker.order_types` (triggers, pegs,
  trailing stops, auctions, algos); here every order is either marketable or a limit.
* **Hours** — nothing fills outside the session; DAY orders are cancelled at the close.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ib_async import Contract, Order

from livedesk.backend.sim.broker.order_types import (
    CLOSING_AUCTION,
    MARKETABLE,
    adaptive_price,
    algo_name,
    is_set,
)

WORKING_STATUSES = frozenset({"PreSubmitted", "Submitted", "PendingCancel"})
DONE_STATUSES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})


@dataclass
class SimOrder:
    """An order as the gateway tracks it."""

    order_id: int
    client_id: int
    perm_id: int
    contract: Contract
    order: Order
    submitted_at: float
    status: str = "PreSubmitted"
    filled: float = 0.0
    avg_fill_price: float = 0.0
    last_fill_price: float = 0.0
    triggered: bool = False
    chunk: float = 0.0
    last_fill_second: int = -1
    commission: float = 0.0
    why_held: str = ""
    legs: list = field(default_factory=list)
    not_before: float = 0.0
    held: str = ""
    """Why a working order is not live: "transmit" (untransmitted) or "parent" (a bracket
    child waiting for its parent to fill); "" when live."""
    trail_stop: float = math.nan
    trail_limit: float = math.nan

    @property
    def remaining(self) -> float:
        """Quantity still to fill."""
        return max(float(self.order.totalQuantity) - self.filled, 0.0)

    @property
    def sign(self) -> int:
        """+1 for a buy, −1 for a sell."""
        return 1 if self.order.action.upper() == "BUY" else -1

    @property
    def is_working(self) -> bool:
        """True while the order can still fill."""
        return self.status in WORKING_STATUSES

    def book_fill(self, qty: float, price: float) -> None:
        """Update cumulative quantity and average price with one execution."""
        total = self.filled + qty
        self.avg_fill_price = (self.avg_fill_price * self.filled + price * qty) / total
        self.filled = total
        self.last_fill_price = price
        self.status = "Filled" if self.remaining <= 1e-9 else "Submitted"


@dataclass(frozen=True)
class Touch:
    """What the engine needs of the market at one instant."""

    bid: float
    ask: float
    bid_size: float
    ask_size: float
    last: float
    tick: float


def round_against(price: float, tick: float, sign: int) -> float:
    """Round ``price`` to the tick grid in the direction that is worse for the trader."""
    steps = price / tick
    steps = math.ceil(steps - 1e-9) if sign > 0 else math.floor(steps + 1e-9)
    return round(steps * tick, 10)


class MatchingEngine:
    """Decides fills for working orders against the simulated book."""

    def __init__(self, impact_bps: float = 5.0, extra_bps: float = 0.0) -> None:
        self.impact_bps = impact_bps
        self.extra_bps = extra_bps
        self._used: dict[tuple[int, int], tuple[int, float]] = {}

    def triggered(self, o: SimOrder, touch: Touch) -> bool:
        """Whether a conditional order's trigger has been reached (True for the others)."""
        kind = o.order.orderType
        if o.triggered or kind in ("MKT", "LMT", "REL", "PEG MID"):
            return True
        if kind in CLOSING_AUCTION:
            return False  # the closing auction fills them
        if kind.startswith("TRAIL"):
            hit = self._trail(o, touch)
        else:
            stop = float(o.order.auxPrice)
            if kind in ("MIT", "LIT"):  # touched from the favourable side
                hit = touch.last <= stop if o.sign > 0 else touch.last >= stop
            else:
                hit = touch.last >= stop if o.sign > 0 else touch.last <= stop
        if hit:
            o.triggered = True
        return hit

    @staticmethod
    def _trail(o: SimOrder, touch: Touch) -> bool:
        """Ratchet a trailing stop with the last trade; whether it is hit."""
        od, last, side = o.order, touch.last, o.sign
        pct = float(od.trailingPercent)
        amount = last * pct / 100 if is_set(pct) and pct > 0 else float(od.auxPrice)
        candidate = last + side * amount  # a buy stop above the last, a sell stop below
        if math.isnan(o.trail_stop):
            initial = float(od.trailStopPrice)
            o.trail_stop = initial if is_set(initial) else candidate
            if od.orderType == "TRAIL LIMIT":
                offset = float(od.lmtPriceOffset)
                if not (is_set(offset) and offset >= 0):
                    offset = abs(float(od.lmtPrice) - o.trail_stop)
                o.trail_limit = offset
        else:
            o.trail_stop = (
                min(o.trail_stop, candidate) if side > 0 else max(o.trail_stop, candidate)
            )
        o.trail_stop = round_against(o.trail_stop, touch.tick, -side)
        od.trailStopPrice = o.trail_stop
        return last >= o.trail_stop if side > 0 else last <= o.trail_stop

    @staticmethod
    def limit_of(o: SimOrder, touch: Touch) -> float | None:
        """The price an order rests at now (None for a marketable order)."""
        od, kind, side = o.order, o.order.orderType, o.sign
        if kind in MARKETABLE:
            return None
        if kind == "TRAIL LIMIT":
            return round(o.trail_stop + side * o.trail_limit, 10)
        if kind in ("REL", "PEG MID"):
            offset = float(od.auxPrice) if is_set(float(od.auxPrice)) else 0.0
            if kind == "REL":
                peg = touch.bid + offset if side > 0 else touch.ask - offset
            else:
                peg = (touch.bid + touch.ask) / 2 - side * offset
            cap = float(od.lmtPrice)
            if is_set(cap):
                peg = min(peg, cap) if side > 0 else max(peg, cap)
            return peg
        return float(od.lmtPrice)

    def available(self, o: SimOrder, con_id: int, touch: Touch, now: float) -> float:
        """Displayed size still untaken on the order's side this second."""
        displayed = touch.ask_size if o.sign > 0 else touch.bid_size
        return max(displayed - self._consumed(con_id, o.sign, int(now)), 0.0)

    def next_fill(
        self, o: SimOrder, con_id: int, touch: Touch, now: float, cap: float | None = None
    ) -> tuple[float, float] | None:
        """The (quantity, price) of the order's next execution at ``now``, or None.

        ``cap`` bounds the quantity (an algo's schedule).  The liquidity it takes is used up.
        """
        fill = self.peek(o, con_id, touch, now, cap)
        if fill is not None:
            self._consume(con_id, o.sign, int(now), fill[0])
            o.last_fill_second = int(now)
        return fill

    def peek(
        self, o: SimOrder, con_id: int, touch: Touch, now: float, cap: float | None = None
    ) -> tuple[float, float] | None:
        """What :meth:`next_fill` would fill now, without taking the liquidity."""
        if not o.is_working or o.held or o.remaining <= 0 or not self.triggered(o, touch):
            return None
        second = int(now)
        if o.chunk and o.last_fill_second == second:
            return None
        side = o.sign
        displayed = touch.ask_size if side > 0 else touch.bid_size
        available = self.available(o, con_id, touch, now)
        if available <= 0:
            return None
        qty = min(o.remaining, available)
        if cap is not None:
            qty = min(qty, cap)
        if o.chunk:
            qty = min(qty, o.chunk)
        qty = math.floor(qty + 1e-9) if qty >= 1 else qty
        if qty <= 0:
            return None
        price = self._marketable_price(touch, side, qty, displayed)
        if algo_name(o.order) == "Adaptive":
            improved = adaptive_price(o.order, touch.bid, touch.ask, touch.tick, side)
            price = price if improved is None else improved
        limit = self.limit_of(o, touch)
        if limit is not None:
            touch_price = touch.ask if side > 0 else touch.bid
            pegged = o.order.orderType in ("REL", "PEG MID")
            if side * (limit - touch_price) >= 0:
                price = min(price, limit) if side > 0 else max(price, limit)
            elif side * (limit - touch.last) > 0 or (
                pegged and side * (limit - touch.last) >= -1e-9
            ):
                price = limit  # a resting order fills at its limit (a peg at its peg)
            else:
                return None
        return qty, price

    def _marketable_price(self, touch: Touch, side: int, qty: float, displayed: float) -> float:
        base = touch.ask if side > 0 else touch.bid
        impact = self.impact_bps * 1e-4 * math.sqrt(qty / max(displayed, 1.0))
        impact += self.extra_bps * 1e-4
        return round_against(base * (1 + side * impact), touch.tick, side)

    def _consumed(self, con_id: int, side: int, second: int) -> float:
        sec, used = self._used.get((con_id, side), (second, 0.0))
        return used if sec == second else 0.0

    def _consume(self, con_id: int, side: int, second: int, qty: float) -> None:
        self._used[(con_id, side)] = (second, self._consumed(con_id, side, second) + qty)
