"""Reconciliation: the gateway's open orders, today's executions and positions vs the journal.

Run on start and after every (re)connect, before any new order. It reconciles the
**account, not the client**: whatever client id this process holds (another one after a
crash, the 326 fallback id, the console's id vs cron's), it sees every order of ours.

1. fetch the account's open orders of every client id (``reqAllOpenOrders``), its completed
   orders (``reqCompletedOrders``), today's executions of every client id
   (``reqExecutions`` with an empty filter) and positions — each with a timeout: a request
   that fails is a failure, never "no positions";
2. record every execution the journal does not have (fills that happened while we were
   disconnected or under another client id), deduplicated by execId;
3. settle orders in flight at the drop or left by a crashed process (UNKNOWN) by the
   idempotency key in ``orderRef`` (``strategy#key``) / permId: an order of ours working
   under another client id is **adopted** (tracked, counted as working, polled by
   :meth:`Reconciler.refresh_adopted` because its live updates go to the client that
   placed it); one found nowhere is proven absent (NotReceived);
4. check positions: for every contract, the position must equal the baseline (positions
   held before the journal's first fill, saved at the first reconciliation) plus the
   journal's net fills. A mismatch fails reconciliation, and trading stays halted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ib_async import IB, Fill, Trade

from livedesk.backend.broker.orderref import key_of, strategy_of
from livedesk.backend.broker.tracking import OrderTracker, TrackedOrder

log = logging.getLogger("livedesk.reconcile")

BASELINE_STATE = "reconcile.baseline"
QTY_EPSILON = 1e-6

FillSink = Callable[[Trade | None, Fill], bool]


class ReconcileFailed(RuntimeError):
    """Reconciliation could not establish that our books match the gateway."""


@dataclass
class ReconcileReport:
    """What one reconciliation found."""

    open_orders: int = 0
    completed_orders: int = 0
    executions: int = 0
    positions: dict[int, float] = field(default_factory=dict)
    missed_fills: list[str] = field(default_factory=list)
    settled: list[TrackedOrder] = field(default_factory=list)
    adopted: list[TrackedOrder] = field(default_factory=list)
    """Our working orders found under another client id than ours."""
    mismatches: dict[int, tuple[float, float]] = field(default_factory=dict)
    """conId → (gateway position, journal-expected position)."""

    def summary(self) -> str:
        """One line for the connection state and the log."""
        settled = ", ".join(f"{t.key}={t.status}" for t in self.settled) or "none"
        adopted = f", adopted from other client ids: {len(self.adopted)}" if self.adopted else ""
        return (
            f"{self.open_orders} open orders (all client ids), {self.completed_orders} "
            f"completed, {self.executions} executions today, "
            f"{len(self.positions)} positions, {len(self.missed_fills)} missed fills recorded, "
            f"in-flight settled: {settled}{adopted}"
        )


def signed(fill: Fill) -> float:
    """An execution's signed quantity."""
    side = fill.execution.side.upper()
    return float(fill.execution.shares) * (1.0 if side.startswith("B") else -1.0)


class Reconciler:
    """Compares the gateway with the journal (positions, fills) and the order tracker."""

    def __init__(
        self,
        ib: IB,
        tracker: OrderTracker,
        *,
        journal=None,
        known: Callable[[str], bool] | None = None,
        account: Callable[[], str] = lambda: "",
        timeout: float = 10.0,
    ) -> None:
        self.ib = ib
        self.tracker = tracker
        self.journal = journal
        self.known = known or (lambda exec_id: journal is not None and journal.has_fill(exec_id))
        self.account = account
        self.timeout = timeout
        self.settle_delay = 0.3
        """Seconds to wait before re-checking a position mismatch (a fill in flight)."""

    async def fetch(self, name: str, coro):
        """Await one request with the timeout; ReconcileFailed when it fails."""
        try:
            return await asyncio.wait_for(coro, self.timeout)
        except TimeoutError as exc:
            raise ReconcileFailed(
                f"{name} request failed (no answer in {self.timeout:g} s): not treated as empty"
            ) from exc
        except ConnectionError as exc:
            raise ReconcileFailed(f"{name} request failed: {exc}") from exc

    async def run(self, sink: FillSink, client_id: int | None = None) -> ReconcileReport:
        """Reconcile once (``client_id``: the id this process holds now); raises
        :class:`ReconcileFailed` with the reason."""
        report = ReconcileReport()
        # the replies' status updates may settle an UNKNOWN order before settle() runs
        unknown = [t.key for t in self.tracker.unknown()]
        for attempt in range(2):
            trades = await self.fetch("open orders", self.ib.reqAllOpenOrdersAsync())
            completed = await self.fetch("completed orders", self.ib.reqCompletedOrdersAsync(False))
            fills = await self.fetch("executions", self.ib.reqExecutionsAsync())
            positions = await self.fetch("positions", self.ib.reqPositionsAsync())
            report.open_orders = len(trades)
            report.completed_orders = len(completed)
            report.executions = len(fills)
            account = self.account()
            report.positions = {
                p.contract.conId: float(p.position)
                for p in positions
                if not account or p.account == account
            }
            for fill in self.ib.fills():
                if self._missing(fill.execution.execId):
                    trade = self._trade_of(fill)
                    if sink(trade, fill):
                        report.missed_fills.append(fill.execution.execId)
            if attempt == 0:
                self.tracker.settle(self.ib)
                orders = self.tracker.orders
                report.settled = [orders[k] for k in unknown if k in orders]
                report.adopted = self.tracker.adopted(client_id)
            report.mismatches = self.check_positions(report.positions)
            if not report.mismatches:
                break
            await asyncio.sleep(self.settle_delay)
        if report.mismatches:
            detail = ", ".join(
                f"conId {c}: gateway {g:g} vs journal {e:g}"
                for c, (g, e) in report.mismatches.items()
            )
            raise ReconcileFailed(f"positions do not match the journal: {detail}")
        log.info("reconciled: %s", report.summary())
        return report

    async def refresh_adopted(self, client_id: int | None, sink: FillSink) -> list[TrackedOrder]:
        """Poll our adopted orders (working under another client id: TWS sends their live
        status and fills to that client only). Fills are recorded through ``sink``; an
        adopted order no longer open is finished with its completed status (else Filled /
        Cancelled by its executions). Returns the adopted orders that finished."""
        adopted = self.tracker.adopted(client_id)
        if not adopted:
            return []
        open_trades = await self.fetch("open orders", self.ib.reqAllOpenOrdersAsync())
        await self.fetch("executions", self.ib.reqExecutionsAsync())
        filled: dict[str, float] = {}
        for fill in self.ib.fills():
            k = key_of(fill.execution.orderRef)
            if k:
                filled[k] = filled.get(k, 0.0) + float(fill.execution.shares)
            if self._missing(fill.execution.execId):
                sink(self._trade_of(fill), fill)
        still_open = {key_of(t.order.orderRef) for t in open_trades if not t.isDone()}
        finished = [t for t in adopted if t.key not in still_open]
        if not finished:
            return []
        completed = await self.fetch("completed orders", self.ib.reqCompletedOrdersAsync(False))
        final = {key_of(t.order.orderRef): t.orderStatus.status for t in completed}
        for t in finished:
            t.filled = filled.get(t.key, t.filled)
            done = t.filled >= t.quantity - QTY_EPSILON
            t.status = final.get(t.key) or ("Filled" if done else "Cancelled")
            trade = t.trade
            if trade is not None and not trade.isDone():  # no live update will come
                trade.orderStatus.status = t.status
                trade.orderStatus.filled = t.filled
                trade.orderStatus.remaining = max(t.quantity - t.filled, 0.0)
        return finished

    def _missing(self, exec_id: str) -> bool:
        return not self.known(exec_id)

    def _trade_of(self, fill: Fill) -> Trade | None:
        for trade in self.ib.trades():
            if trade.order.permId and trade.order.permId == fill.execution.permId:
                return trade
        return None

    def rebaseline(self, positions: dict[int, float]) -> None:
        """Accept ``positions`` as correct (after a trader checked a mismatch, e.g. manual
        trades made outside LiveDesk on an earlier day): the baseline absorbs the difference."""
        if self.journal is None:
            return
        net = self.journal.net_fills()
        name = f"{BASELINE_STATE}.{self.account() or 'default'}"
        baseline = {
            str(c): q - net.get(c, 0.0)
            for c in set(positions) | set(net)
            if abs((q := positions.get(c, 0.0)) - net.get(c, 0.0)) > QTY_EPSILON
        }
        self.journal.save_state(name, baseline)

    def check_positions(self, positions: dict[int, float]) -> dict[int, tuple[float, float]]:
        """Contracts whose gateway position differs from baseline + journal net fills."""
        if self.journal is None:
            return {}
        net = self.journal.net_fills()
        name = f"{BASELINE_STATE}.{self.account() or 'default'}"
        saved = self.journal.state(name)
        if saved is None:  # first reconciliation with this journal: what we hold is the baseline
            baseline = {
                str(c): q - net.get(c, 0.0)
                for c, q in positions.items()
                if abs(q - net.get(c, 0.0)) > QTY_EPSILON
            }
            self.journal.save_state(name, baseline)
            saved = baseline
        baseline = {int(c): float(q) for c, q in saved.items()}
        out = {}
        for con_id in set(positions) | set(baseline) | set(net):
            expected = baseline.get(con_id, 0.0) + net.get(con_id, 0.0)
            actual = positions.get(con_id, 0.0)
            if abs(expected - actual) > QTY_EPSILON:
                out[con_id] = (actual, expected)
        return out


def fill_strategy(trade: Trade | None, fill: Fill) -> str:
    """The strategy name of an execution (from its orderRef, else its order's)."""
    ref = fill.execution.orderRef or (trade.order.orderRef if trade is not None else "")
    return strategy_of(ref)
