"""The Log's trading story: every order sent, modified, cancelled or rejected (with IB's
code), every fill (quantity, price, slippage, commission) and every strategy decision that
placed orders; decisions that placed none are folded into one line with a count."""

from __future__ import annotations

import math
from collections.abc import Callable

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.console.tracker import OrderTracker
from livedesk.backend.risk.execution import order_slippage, slippage_bps

CANCELLED = {"Cancelled", "ApiCancelled"}
REJECTION_CODES = {103, 104, 105, 110, 161, 200, 201, 203, 321, 10147, 10148}
"""IB codes that mean an order was refused (the rest are notices)."""

Log = Callable[..., None]


def _num(x: float) -> str:
    return f"{x:,.4f}".rstrip("0").rstrip(".") if abs(x) < 1 else f"{x:,.2f}"


class TradeStory:
    """Order and fill events in, Log lines out (see the module docstring)."""

    def __init__(self, log: Log, tracker: OrderTracker, label: Callable[[object], str]) -> None:
        self.log, self.tracker, self.label = log, tracker, label
        self._orders: dict[int, tuple[str, float, float]] = {}  # id → (status, qty, limit)
        self._logged_fills: set[str] = set()

    def _who(self, order) -> str:
        return strategy_of(order.orderRef) or "manual"

    def _what(self, trade) -> str:
        o = trade.order
        limit = f" LMT {_num(o.lmtPrice)}" if o.orderType in ("LMT", "STP LMT") else ""
        kind = "" if limit else f" {o.orderType}"
        return f"{o.action} {o.totalQuantity:g} {self.label(trade.contract)}{kind}{limit}"

    def sent(self, trade) -> None:
        """An order left for the gateway."""
        o = trade.order
        self._orders[o.orderId] = (
            trade.orderStatus.status,
            float(o.totalQuantity),
            float(o.lmtPrice or 0.0),
        )
        mid = self.tracker.arrival.get(o.orderId)
        at = f", arrival mid {_num(mid)}" if mid is not None and math.isfinite(mid) else ""
        self.log("info", "order", f"sent {self._who(o)}: {self._what(trade)} (#{o.orderId}{at})")

    def changed(self, trade) -> None:
        """An order's status or terms changed (ib_async open order / status events)."""
        o, s = trade.order, trade.orderStatus
        before = self._orders.get(o.orderId)
        now = (s.status, float(o.totalQuantity), float(o.lmtPrice or 0.0))
        self._orders[o.orderId] = now
        if before is None:
            return
        who = self._who(o)
        if before[1:] != now[1:] and s.status not in CANCELLED:
            what = []
            if before[1] != now[1]:
                what.append(f"qty {before[1]:g} → {now[1]:g}")
            if before[2] != now[2]:
                what.append(f"limit {_num(before[2])} → {_num(now[2])}")
            self.log("info", "order", f"modified {who}: #{o.orderId} {', '.join(what)}")
        if before[0] == now[0]:
            return
        if s.status in CANCELLED:
            done = f", {s.filled:g} filled" if s.filled else ""
            self.log(
                "warning", "order", f"cancelled {who}: {self._what(trade)} (#{o.orderId}{done})"
            )
        elif s.status == "Inactive":
            self.log("error", "order", f"inactive {who}: {self._what(trade)} (#{o.orderId})")
        elif s.status == "Filled" and trade.contract.secType == "BAG":
            slip = order_slippage(
                o.action,
                s.avgFillPrice,
                self.tracker.arrival.get(o.orderId),
                _bag_multiplier(trade),
                s.filled,
            )
            text = slip.text()
            self.log(
                "info",
                "fill",
                f"filled {who}: {self._what(trade)} at net {_num(s.avgFillPrice)}"
                + (f", slippage {text}" if text else "")
                + f" (#{o.orderId})",
            )

    def rejected(self, order_id: int, code: int, message: str) -> str | None:
        """The Log text of an order refused by IB (None when ``code`` is only a notice)."""
        if code not in REJECTION_CODES:
            return None
        return f"rejected #{order_id} (IB {code}): {message}"

    def fill(self, trade, fill, commission: float | None) -> None:
        """One execution, with its commission when IB reported it."""
        ex, c = fill.execution, fill.contract
        if ex.execId in self._logged_fills:
            return
        self._logged_fills.add(ex.execId)
        who = strategy_of(ex.orderRef or (trade.order.orderRef if trade else "")) or "manual"
        leg = trade is not None and trade.contract.secType == "BAG" and c.secType != "BAG"
        parts = [f"{ex.side} {ex.shares:g} {self.label(c)} @ {_num(ex.price)}"]
        if leg:
            parts.append(f"leg of #{ex.orderId}")
        else:
            bps = slippage_bps(ex.side, ex.price, self.tracker.arrival.get(ex.orderId))
            if math.isfinite(bps):
                parts.append(f"slippage {bps:+.1f} bps")
        if commission is not None and math.isfinite(commission) and commission < 1e300:
            parts.append(f"commission ${commission:,.2f}")
        self.log("info", "fill", f"{who}: " + ", ".join(parts))

    def decision(self, name: str, decision) -> None:
        """A strategy decision: the ones that placed orders, and the others folded."""
        orders = list(getattr(decision, "orders", None) or [])
        if getattr(decision, "skipped", False):
            return  # skipped iterations have their own alerts
        summary = getattr(decision, "summary", "") or "decided"
        if orders:
            n = len(orders)
            self.log("info", "strategy", f"{name}: {summary} — {n} order{'s' * (n != 1)}")
        else:
            self.log("info", "strategy", f"{name}: {summary} (no order)", fold=True)


def _bag_multiplier(trade) -> float:
    for f in trade.fills:
        if f.contract.multiplier:
            try:
                return float(f.contract.multiplier)
            except ValueError:
                break
    return 100.0
