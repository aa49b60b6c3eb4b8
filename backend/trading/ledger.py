"""Per-contract position ledger: what is held and what is working, with no blind window.

IB reports an order's executions (``execDetails``), its status (``orderStatus``) and the
resulting position (``position``) as separate messages, in an order that is not
guaranteed. A target primitive that adds "broker position + unfilled working orders"
counts a filled quantity *neither* as working nor as held between the ``Filled`` status
and the position update, and re-targeting from a fill callback then doubles the position.

The ledger closes that window. For every contract (conId; a BAG is decomposed into its
legs) it keeps::

    held    = broker position
            + quantity this session's orders have filled that no position message
              for the contract has reflected yet
    working = signed unfilled quantity of the working orders

An order's filled quantity on a contract is the larger of what its executions (by execId)
and its status report, so it is known from whichever message comes first. When a
``position`` message for a contract arrives, everything filled on it so far is marked
reflected: a position message includes every execution reported before it. The ledger is
pull-based (read on demand from ``ib_async``'s own state), so it is exact from inside any
``execDetailsEvent``, ``orderStatusEvent``, ``filledEvent`` or ``positionEvent`` callback,
whatever the order in which callbacks were registered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ib_async import IB, Contract, Trade

from livedesk.backend.trading.orders import WORKING_STATUSES

__all__ = ["Exposure", "PositionLedger", "combo_units", "trade_legs"]

_SENTINEL = object()


@dataclass(frozen=True)
class Exposure:
    """Signed quantities of one contract (or combo units of a BAG)."""

    held: float = 0.0
    working: float = 0.0

    @property
    def total(self) -> float:
        """Held plus working: what the position will be once every working order fills."""
        return self.held + self.working


def _side(action: str) -> int:
    return 1 if (action or "").upper() == "BUY" else -1


def contract_legs(contract: Contract) -> list[tuple[int, float]]:
    """``(conId, signed units per unit of the contract)``: a BAG's legs, else the contract."""
    if contract.secType == "BAG":
        return [(leg.conId, _side(leg.action) * float(leg.ratio)) for leg in contract.comboLegs]
    return [(contract.conId, 1.0)]


def trade_legs(trade: Trade) -> list[tuple[int, float]]:
    """``(conId, signed quantity per unit ordered)`` for each contract ``trade`` moves."""
    side = _side(trade.order.action)
    return [(con_id, side * unit) for con_id, unit in contract_legs(trade.contract)]


def combo_units(legs: Iterable[tuple[int, float]], quantities: Mapping[int, float]) -> float:
    """Whole combo units held: every leg must hold its share, with the combo's signs.

    ``legs`` are ``(conId, signed units per combo unit)``. With leg quantities in the
    combo's proportions this is exact; with extra quantity on one leg (held outside the
    combo) the smallest common number of units counts, so a re-target never doubles it.
    """
    units = [quantities.get(con_id, 0.0) / unit for con_id, unit in legs if unit]
    if units and all(u > 0 for u in units):
        return min(units)
    if units and all(u < 0 for u in units):
        return max(units)
    return 0.0


class PositionLedger:
    """Held and working quantity per conId for one account of an ``ib_async`` client."""

    def __init__(self, ib: IB, account: Callable[[], str]) -> None:
        self._ib = ib
        self._account = account
        self._reflected: dict[int, dict[int, float]] = {}
        self._seen: dict[int, object] = {}
        ib.positionEvent += self._on_position
        ib.connectedEvent += self.sync
        if ib.isConnected():
            self.sync()

    # ---- bookkeeping ---------------------------------------------------------------
    def _broker_positions(self) -> dict[int, object]:
        return self._ib.wrapper.positions.get(self._account(), {})

    def sync(self) -> None:
        """Everything filled so far is in the positions just synced (connect, reconnect)."""
        self._reflected.clear()  # a reconnect rebuilds ib_async's trades: forget the old ones
        self._seen.clear()
        positions = self._broker_positions()
        con_ids = set(positions)
        for trade in self._ib.trades():
            con_ids.update(con_id for con_id, _ in trade_legs(trade))
        for con_id in con_ids:
            self._reflect(con_id, positions.get(con_id))

    def absorb(self, trades: Iterable[Trade]) -> None:
        """These trades' fills reached us out of band (polled: orders adopted from another
        client id), after the positions that already hold them: mark them reflected."""
        for trade in trades:
            for con_id, unit in trade_legs(trade):
                self._reflected.setdefault(con_id, {})[id(trade)] = _filled(trade, con_id, unit)

    def reflected(self, trade: Trade) -> bool:
        """Whether every position message has reflected all ``trade`` filled (so forgetting
        the trade leaves :meth:`snapshot` unchanged)."""
        for con_id, unit in trade_legs(trade):
            mark = self._reflected.get(con_id, {}).get(id(trade), 0.0)
            if abs(_filled(trade, con_id, unit) - mark) > 1e-9:
                return False
        return True

    def forget(self, trades: Iterable[Trade]) -> None:
        """``trades`` left ``ib_async`` (an earlier day's): drop their marks (an id may be
        reused by a new Trade object)."""
        gone = {id(t) for t in trades}
        for marks in self._reflected.values():
            for i in gone & marks.keys():
                del marks[i]

    def _on_position(self, position) -> None:
        if position.account == self._account() or not self._account():
            con_id = position.contract.conId
            self._reflect(con_id, self._broker_positions().get(con_id))

    def _reflect(self, con_id: int, position_object: object) -> None:
        self._seen[con_id] = position_object
        marks = self._reflected.setdefault(con_id, {})
        for trade in self._ib.trades():
            for leg_id, unit in trade_legs(trade):
                if leg_id == con_id:
                    marks[id(trade)] = _filled(trade, con_id, unit)

    # ---- reading -------------------------------------------------------------------
    def snapshot(self) -> dict[int, Exposure]:
        """Held and working quantity of every contract with a position or an order."""
        positions = self._broker_positions()
        for con_id, obj in positions.items():
            if self._seen.get(con_id, _SENTINEL) is not obj:
                self._reflect(con_id, obj)  # a position message whose callback has not run yet
        for con_id, obj in list(self._seen.items()):
            if obj is not None and con_id not in positions:
                self._reflect(con_id, None)
        held = {con_id: float(p.position) for con_id, p in positions.items()}
        working: dict[int, float] = {}
        for trade in self._ib.trades():
            is_working = trade.orderStatus.status in WORKING_STATUSES
            total = float(trade.order.totalQuantity or 0.0)
            for con_id, unit in trade_legs(trade):
                filled = _filled(trade, con_id, unit)
                pending = filled - self._reflected.get(con_id, {}).get(id(trade), 0.0)
                if pending:
                    held[con_id] = held.get(con_id, 0.0) + pending
                if is_working:
                    ordered = total * unit
                    remaining = ordered - filled if abs(filled) < abs(ordered) else 0.0
                    working[con_id] = working.get(con_id, 0.0) + remaining
        keys = set(held) | set(working)
        return {k: Exposure(held.get(k, 0.0), working.get(k, 0.0)) for k in keys}

    def exposure(
        self, contract: Contract, snapshot: Mapping[int, Exposure] | None = None
    ) -> Exposure:
        """Held and working quantity of ``contract``; a BAG's in whole combo units."""
        snap = self.snapshot() if snapshot is None else snapshot
        if contract.secType != "BAG":
            return snap.get(contract.conId, Exposure())
        legs = contract_legs(contract)
        held = combo_units(legs, {k: e.held for k, e in snap.items()})
        total = combo_units(legs, {k: e.total for k, e in snap.items()})
        return Exposure(held, total - held)


def _filled(trade: Trade, con_id: int, unit: float) -> float:
    """Signed quantity ``trade`` has filled on ``con_id``: executions or status, the larger."""
    by_exec: dict[str, float] = {}
    for fill in trade.fills:
        if fill.contract.conId == con_id:
            sign = 1.0 if fill.execution.side.upper().startswith("B") else -1.0
            by_exec[fill.execution.execId] = sign * float(fill.execution.shares)
    executed = sum(by_exec.values())
    reported = float(trade.orderStatus.filled or 0.0) * unit
    return reported if abs(reported) > abs(executed) else executed
