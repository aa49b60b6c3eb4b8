"""Typed, immutable backend events and the bus that fans them out.

Events flow one way: the broker layer publishes, the journal persists first, then every
subscriber (risk engine, TUI adapter, logs) sees the event. A subscriber that raises is
logged and skipped; it never stops the others or the publisher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("livedesk.events")


@dataclass(frozen=True)
class OrderSent:
    """An order left for the gateway, with the market at that moment (the arrival quote)."""

    t: float
    order_id: int
    perm_id: int
    strategy: str
    con_id: int
    symbol: str
    action: str
    quantity: float
    order_type: str
    limit_price: float | None
    bid: float | None
    ask: float | None
    mid: float | None
    order_ref: str = ""
    """The full ``orderRef`` (``strategy#key``); ``strategy`` is its strategy name."""


@dataclass(frozen=True)
class OrderStatusChanged:
    """An order's status, filled and remaining quantities changed."""

    t: float
    order_id: int
    perm_id: int
    status: str
    filled: float
    remaining: float
    avg_fill_price: float
    message: str = ""


@dataclass(frozen=True)
class Fill:
    """One execution (commission may follow in :class:`Commission`)."""

    t: float
    exec_id: str
    order_id: int
    perm_id: int
    strategy: str
    con_id: int
    symbol: str
    side: str
    quantity: float
    price: float
    multiplier: float


@dataclass(frozen=True)
class Commission:
    """The commission report of an execution."""

    exec_id: str
    commission: float
    realized_pnl: float | None


@dataclass(frozen=True)
class PnLSample:
    """Account PnL and NetLiquidation at one instant."""

    t: float
    daily_pnl: float
    unrealized_pnl: float
    realized_pnl: float
    net_liquidation: float


@dataclass(frozen=True)
class ConnectionState:
    """CONNECTED / DEGRADED / DISCONNECTED, with why."""

    t: float
    state: str
    detail: str = ""


@dataclass(frozen=True)
class Alert:
    """Something a trader must see (errors, guard refusals, divergence)."""

    t: float
    level: str
    source: str
    message: str
    code: int = 0


@dataclass(frozen=True)
class StrategyState:
    """A strategy changed state (stopped / waiting / running / error / halted), with why."""

    t: float
    name: str
    status: str
    detail: str = ""


Event = (
    OrderSent
    | OrderStatusChanged
    | Fill
    | Commission
    | PnLSample
    | ConnectionState
    | Alert
    | StrategyState
)
Subscriber = Callable[[Event], object]


@dataclass
class EventBus:
    """Synchronous fan-out: the durable sink first, then subscribers in registration order."""

    sink: Subscriber | None = None
    subscribers: list[Subscriber] = field(default_factory=list)

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self.subscribers.append(fn)
        return lambda: self.subscribers.remove(fn) if fn in self.subscribers else None

    def publish(self, event: Event) -> None:
        """Persist ``event`` through the sink, then deliver it to every subscriber.

        If the sink fails, the exception propagates and no subscriber sees the event.
        """
        if self.sink is not None:
            self.sink(event)
        for fn in list(self.subscribers):
            try:
                fn(event)
            except Exception:
                log.exception("event subscriber %r failed on %s", fn, type(event).__name__)
