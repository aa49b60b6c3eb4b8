"""Our orders and fills inside the broker session: idempotency keys, write-ahead journal,
re-linking after reconnects, one delivery of every execution (a mixin of BrokerSession)."""

from __future__ import annotations

from ib_async import Contract, Fill, Order, Trade

from livedesk.backend.broker.orderref import key_of, make_ref, new_key, strategy_of
from livedesk.backend.broker.reconcile import fill_strategy
from livedesk.backend.broker.tracking import UNKNOWN, TrackedOrder


class SessionOrders:
    """Order and fill bookkeeping; expects ``ib``, ``journal``, ``tracker``, ``client_id``,
    ``clock``, ``fill_sink`` and ``_seen_execs`` on the session."""

    def prepare(
        self,
        contract: Contract,
        order: Order,
        strategy: str = "",
        *,
        bid: float | None = None,
        ask: float | None = None,
    ) -> TrackedOrder:
        """Give ``order`` an order id and an idempotency key in ``orderRef``; track it.

        Journaled (write-ahead) before it is placed, so a crash right after placeOrder
        still finds the order again by its key.
        """
        key = key_of(order.orderRef) or new_key()
        name = strategy or strategy_of(order.orderRef)
        order.orderRef = make_ref(name, key)
        if not order.orderId:
            order.orderId = self.ib.client.getReqId()
        tracked = self.tracker.add(
            TrackedOrder(
                key,
                order.orderRef,
                contract.conId,
                order.action,
                float(order.totalQuantity),
                order_id=order.orderId,
                client_id=self.client_id or 0,
            )
        )
        if self.journal is not None:
            self.journal.record_order(
                order.orderId,
                action=order.action,
                qty=float(order.totalQuantity),
                order_type=order.orderType,
                client_id=self.client_id or 0,
                order_ref=order.orderRef,
                strategy=name or None,
                symbol=contract.symbol,
                con_id=contract.conId,
                limit_price=order.lmtPrice if order.orderType in ("LMT", "STP LMT") else None,
                bid=_real(bid),
                ask=_real(ask),
                t=self.clock(),
                **combo_record(contract, bid, ask),
            )
        return tracked

    def link(self, tracked: TrackedOrder, trade: Trade) -> None:
        """Attach the Trade ib_async created for a tracked order."""
        tracked.trade = trade
        self.tracker.on_status(trade)

    def trade_of(self, order_ref: str) -> Trade | None:
        """The current Trade of one of our orders (re-linked after reconnects)."""
        tracked = self.tracker.orders.get(key_of(order_ref))
        return None if tracked is None else tracked.trade

    def _on_status(self, trade: Trade) -> None:
        tracked = self.tracker.on_status(trade)
        if tracked is not None:
            self._journal_status(tracked)

    def _load_journal_orders(self) -> None:
        """Orders a previous process left unfinished become UNKNOWN tracked orders."""
        if self.journal is None:
            return
        for row in self.journal.open_orders():
            key = key_of(row["order_ref"])
            if not key or key in self.tracker.orders:
                continue
            self.tracker.add(
                TrackedOrder(
                    key,
                    row["order_ref"],
                    row["con_id"] or 0,
                    row["action"],
                    float(row["qty"]),
                    order_id=row["order_id"],
                    perm_id=row["perm_id"] or 0,
                    client_id=row["client_id"] or 0,
                    status=UNKNOWN,
                )
            )

    def _journal_status(self, t: TrackedOrder) -> None:
        """The journal row of ``t``: under the client id it was placed with (an adopted
        order's is not ours), else ours, else 0."""
        if self.journal is None:
            return
        for cid in dict.fromkeys((t.client_id, self.client_id or 0, 0)):
            if self.journal.update_order_status(
                t.order_id, t.status, client_id=cid, filled=t.filled, perm_id=t.perm_id or None
            ):
                return

    def _mark_journal_unknown(self, unknown: list[TrackedOrder]) -> None:
        for t in unknown:
            self._journal_status(t)

    # ---- fills -------------------------------------------------------------------------
    def _known_exec(self, exec_id: str) -> bool:
        if exec_id in self._seen_execs:
            return True
        return self.journal is not None and self.journal.has_fill(exec_id)

    def _on_exec(self, trade: Trade, fill: Fill) -> None:
        exec_id = fill.execution.execId
        if exec_id in self._seen_execs:
            return
        self._seen_execs.add(exec_id)
        self.fill_sink(trade, fill)

    def journal_fill(self, trade: Trade | None, fill: Fill) -> bool:
        """The default fill sink: journal the execution (False when already journaled)."""
        if self.journal is None:
            return False
        ex, c = fill.execution, fill.contract
        mult = float(c.multiplier or 1) if c.secType not in ("STK", "") else 1.0
        name = fill_strategy(trade, fill)
        return self.journal.record_fill(
            ex.execId,
            side=ex.side,
            qty=float(ex.shares),
            price=float(ex.price),
            t=self.clock(),
            order_id=ex.orderId,
            perm_id=ex.permId,
            strategy=name or None,
            symbol=c.symbol,
            con_id=c.conId,
            multiplier=mult,
        )


def _real(x: float | None) -> float | None:
    """A finite float or None (journal columns)."""
    return x if isinstance(x, int | float) and x == x and abs(x) < 1e300 else None


def combo_record(contract, bid, ask) -> dict:
    """For a BAG: its legs (conId, ratio) and net arrival mid, which may be negative."""
    if contract.secType != "BAG":
        return {}
    legs = [[leg.conId, leg.ratio] for leg in contract.comboLegs or []]
    b, a = _real(bid), _real(ask)
    return {
        "contract": {"secType": "BAG", "symbol": contract.symbol, "legs": legs},
        "arrival_mid": (b + a) / 2 if b is not None and a is not None else None,
    }
