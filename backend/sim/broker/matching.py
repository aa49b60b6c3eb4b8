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
* **Order types** — MKT, LMT, STP (triggers on the last price, then trades as MKT) and
  STP LMT (triggers, then rests as LMT at ``lmtPrice``).
* **Hours** — nothing fills outside the session; DAY orders are cancelled at the close.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ib_async import Contract, Order

WORKING_STATUSES = frozenset({"PreSubmitted", "Submitted", "PendingCancel"})
DONE_STATUSES = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})
SUPPORTED_TYPES = frozenset({"MKT", "LMT", "STP", "STP LMT"})


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
        """Whether a stop order's trigger has been reached (always True for MKT/LMT)."""
        if o.order.orderType not in ("STP", "STP LMT") or o.triggered:
            return True
        stop = float(o.order.auxPrice)
        hit = touch.last >= stop if o.sign > 0 else touch.last <= stop
        if hit:
            o.triggered = True
        return hit

    def next_fill(
        self, o: SimOrder, con_id: int, touch: Touch, now: float
    ) -> tuple[float, float] | None:
        """The (quantity, price) of the order's next execution at ``now``, or None."""
        if not o.is_working or o.remaining <= 0 or not self.triggered(o, touch):
            return None
        second = int(now)
        if o.chunk and o.last_fill_second == second:
            return None
        side = o.sign
        displayed = touch.ask_size if side > 0 else touch.bid_size
        available = max(displayed - self._consumed(con_id, side, second), 0.0)
        if available <= 0:
            return None
        qty = min(o.remaining, available)
        if o.chunk:
            qty = min(qty, o.chunk)
        kind = "MKT" if o.order.orderType in ("MKT", "STP") else "LMT"
        price = self._marketable_price(touch, side, qty, displayed)
        if kind == "LMT":
            limit = float(o.order.lmtPrice)
            touch_price = touch.ask if side > 0 else touch.bid
            if side * (limit - touch_price) >= 0:
                price = min(price, limit) if side > 0 else max(price, limit)
            elif side * (limit - touch.last) > 0:
                price = limit
            else:
                return None
        qty = math.floor(qty + 1e-9) if qty >= 1 else qty
        if qty <= 0:
            return None
        self._consume(con_id, side, second, qty)
        o.last_fill_second = second
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
