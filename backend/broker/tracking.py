"""Orders this program sent, by idempotency key: linked to ib_async's Trade objects again
after every reconnect, UNKNOWN while the link is down and until reconciliation settles them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ib_async import IB, Trade

from livedesk.backend.broker.orderref import key_of, strategy_of
from livedesk.backend.trading.orders import WORKING_STATUSES

UNKNOWN = "UNKNOWN"
"""An order in flight when the link went down: it may or may not exist at the gateway."""
NOT_RECEIVED = "NotReceived"
"""Reconciliation found no trace of it at the gateway (no open, completed order or fill)."""
TERMINAL = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive", NOT_RECEIVED})


@dataclass
class TrackedOrder:
    """One order we sent, as we last know it."""

    key: str
    order_ref: str
    con_id: int
    action: str
    quantity: float
    order_id: int = 0
    perm_id: int = 0
    client_id: int = 0
    """The API client id the order was placed under (0 until known)."""
    status: str = "PendingSubmit"
    filled: float = 0.0
    reason: str = ""
    trade: Trade | None = field(default=None, repr=False)

    @property
    def strategy(self) -> str:
        """The strategy name in the ``orderRef``."""
        return strategy_of(self.order_ref)

    @property
    def settled(self) -> bool:
        """Known to the gateway or known to be absent (not UNKNOWN)."""
        return self.status != UNKNOWN


class OrderTracker:
    """Our orders by idempotency key."""

    def __init__(self, keep_finished: int = 1000) -> None:
        self.orders: dict[str, TrackedOrder] = {}
        self.keep_finished = keep_finished
        """Finished orders kept (oldest dropped first); unfinished ones are always kept."""

    def add(self, tracked: TrackedOrder) -> TrackedOrder:
        """Track a new order (before it is placed)."""
        if tracked.key in self.orders:
            raise ValueError(f"idempotency key {tracked.key!r} already used")
        self.orders[tracked.key] = tracked
        self._prune()
        return tracked

    def _prune(self) -> None:
        finished = [k for k, t in self.orders.items() if t.status in TERMINAL]
        for key in finished[: max(0, len(finished) - self.keep_finished)]:
            del self.orders[key]

    def release(self, trades: list[Trade]) -> None:
        """``ib_async`` forgot these (finished) trades: drop our links to them too."""
        gone = {id(t) for t in trades}
        for t in self.orders.values():
            if t.trade is not None and id(t.trade) in gone:
                t.trade = None

    def on_status(self, trade: Trade) -> TrackedOrder | None:
        """Follow a live status update of one of our orders."""
        tracked = self.orders.get(key_of(trade.order.orderRef))
        if tracked is None:
            return None
        tracked.trade = trade
        tracked.order_id = trade.order.orderId or tracked.order_id
        tracked.perm_id = trade.order.permId or tracked.perm_id
        tracked.client_id = getattr(trade.order, "clientId", 0) or tracked.client_id
        tracked.status = trade.orderStatus.status or tracked.status
        tracked.filled = float(trade.orderStatus.filled or 0.0)
        msgs = [e.message for e in trade.log if e.errorCode]
        if msgs:
            tracked.reason = msgs[-1]
        return tracked

    def mark_unknown(self) -> list[TrackedOrder]:
        """The link went down: every order not known to be finished becomes UNKNOWN.

        Every link to a Trade of the dead connection is dropped, finished orders' too
        (``ib_async`` forgets them with the connection; reconciliation links each order to
        the new connection's Trade), so up to ``keep_finished`` old Trades are not kept
        alive after every reconnect."""
        out = []
        for t in self.orders.values():
            t.trade = None
            if t.status not in TERMINAL:
                t.status = UNKNOWN
                out.append(t)
        return out

    def unknown(self) -> list[TrackedOrder]:
        """Orders not settled yet."""
        return [t for t in self.orders.values() if t.status == UNKNOWN]

    def working(self) -> list[TrackedOrder]:
        """Orders that may still fill."""
        return [t for t in self.orders.values() if t.status in WORKING_STATUSES]

    def adopted(self, client_id: int | None) -> list[TrackedOrder]:
        """Our working orders placed under another client id than ``client_id`` (adopted:
        the gateway sends their updates to that client, so they are polled)."""
        return [
            t
            for t in self.working()
            if t.client_id and client_id is not None and t.client_id != client_id
        ]

    def settle(self, ib: IB) -> list[TrackedOrder]:
        """Link every tracked order to ib_async's (new) Trade by orderRef, else permId.

        ``ib`` must hold the account's open orders, completed orders and executions of
        every client id (see :class:`~livedesk.backend.broker.reconcile.Reconciler`), so
        an order working under another client id is found and adopted. An UNKNOWN order
        with no trace at the gateway — not open, not completed, no execution under any
        client id — becomes NotReceived (its absence proven): never re-sent here; the next
        target computation sees it is missing. Returns the orders that were UNKNOWN.
        """
        by_key: dict[str, Trade] = {}
        by_perm: dict[int, Trade] = {}
        for trade in ib.trades():  # a working Trade wins over a completed one of the same key
            k = key_of(trade.order.orderRef)
            if k and (k not in by_key or not trade.isDone()):
                by_key[k] = trade
            if trade.order.permId and (trade.order.permId not in by_perm or not trade.isDone()):
                by_perm[trade.order.permId] = trade
        filled_by_key: dict[str, float] = {}
        for fill in ib.fills():
            k = key_of(fill.execution.orderRef)
            if k:
                filled_by_key[k] = filled_by_key.get(k, 0.0) + float(fill.execution.shares)
        was_unknown = []
        for t in self.orders.values():
            trade = by_key.get(t.key) or (by_perm.get(t.perm_id) if t.perm_id else None)
            unknown = t.status == UNKNOWN
            if trade is not None:
                self.on_status(trade)
                if t.status == UNKNOWN:
                    t.status = "Submitted"
            elif unknown and t.key in filled_by_key:
                t.filled = filled_by_key[t.key]
                t.status = "Filled" if t.filled >= t.quantity - 1e-9 else "Inactive"
            elif unknown:
                t.status = NOT_RECEIVED
                t.reason = "not at the gateway after reconnect (no order, no execution)"
            if unknown:
                was_unknown.append(t)
        return was_unknown
