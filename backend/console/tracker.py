"""`OrderTracker`: what the Orders and Positions panes need beyond ib_async's own state.

* the arrival mid of each order (from :class:`~livedesk.backend.events.OrderSent`), so
  slippage is measured against the market when the order left;
* when each order was first seen (exchange time), for the Orders pane's time column;
* per-conId strategy attribution from fills' ``orderRef`` (journalled fills first, then
  live executions, each execId counted once);
* which combo (BAG) each leg belongs to (``SYMBOL:conId,conId…``), so legs are grouped under
  their combo.
"""

from __future__ import annotations


class OrderTracker:
    """Arrival mids, first-seen times, attribution and combo legs."""

    def __init__(self) -> None:
        self.arrival: dict[int, float | None] = {}
        self.first_seen: dict[int, float] = {}
        self.attribution: dict[int, dict[str, float]] = {}
        self.combos: dict[int, str] = {}
        self._seen_exec: set[str] = set()

    def sent(self, order_id: int, mid: float | None, now: float) -> None:
        """An order left with ``mid`` as the arrival quote."""
        self.arrival[order_id] = mid
        self.first_seen.setdefault(order_id, now)

    def seen(self, trade, now: float) -> None:
        """An order appeared or changed (ib_async ``Trade``)."""
        self.first_seen.setdefault(trade.order.orderId, now)
        if trade.contract.secType == "BAG":
            ids = sorted(leg.conId for leg in trade.contract.comboLegs)
            group = f"{trade.contract.symbol}:{','.join(map(str, ids))}"
            for leg in trade.contract.comboLegs:
                self.combos.setdefault(leg.conId, group)

    def knows_order(self, order_id: int) -> bool:
        """Whether ``order_id`` is one of this session's orders."""
        return order_id in self.first_seen

    def attribute(self, exec_id: str, con_id: int, strategy: str, side: str, qty: float) -> None:
        """Count one execution of ``strategy`` in ``con_id`` (once per ``exec_id``)."""
        if not strategy or exec_id in self._seen_exec:
            return
        self._seen_exec.add(exec_id)
        sign = 1.0 if side.upper() in ("BOT", "BUY") else -1.0
        book = self.attribution.setdefault(con_id, {})
        book[strategy] = book.get(strategy, 0.0) + sign * float(qty)
        if abs(book[strategy]) < 1e-9:
            del book[strategy]

    def load_fills(self, fills) -> None:
        """Attribution from journalled fills (dicts with exec_id, con_id, strategy, side, qty)."""
        for f in fills:
            if f.get("strategy") and f.get("con_id"):
                self.attribute(f["exec_id"], f["con_id"], f["strategy"], f["side"], f["qty"])
