"""`StrategyContext`: what a strategy sees — the gateway clock, data helpers and tagged orders.

Every order helper goes through the ``TradingApp`` primitives with ``strategy=name`` (the
``orderRef``) and the context's ``dry_run`` flag, and records one order dict per planned or
sent order in :attr:`StrategyContext.orders`, which the controller puts in the decision.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ib_async import Contract, Order

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.contracts import ComboSpec, describe
from livedesk.backend.strategies.clock import GatewayClock
from livedesk.backend.trading.orders import market

if TYPE_CHECKING:
    from livedesk.backend.events import EventBus
    from livedesk.backend.journal import Journal
    from livedesk.backend.trading.app import OrderResult, TradingApp

OrderType = Callable[[str, float], Order]


def order_record(
    contract: Contract,
    order: Order,
    result: OrderResult | None,
    note: str = "",
    legs: Mapping[int, Contract] | None = None,
):
    """One order as a JSON-safe dict (action, quantity, contract, type, limit, sent, message)."""
    lmt = order.lmtPrice if order.orderType in ("LMT", "STP LMT") else None
    return {
        "action": order.action,
        "quantity": float(order.totalQuantity),
        "contract": describe(contract, legs),
        "order_type": order.orderType,
        "limit": None if lmt is None or not math.isfinite(lmt) else float(lmt),
        "sent": bool(result.sent) if result is not None else False,
        "message": result.message if result is not None else note,
        "order_id": int(order.orderId or 0),
    }


class StrategyContext:
    """The runtime handle a strategy's ``run_once`` receives."""

    def __init__(
        self,
        app: TradingApp,
        strategy: str,
        *,
        dry_run: bool = False,
        journal: Journal | None = None,
        bus: EventBus | None = None,
        clock: GatewayClock | None = None,
    ) -> None:
        self.app = app
        self.strategy = strategy
        self.dry_run = dry_run
        self.journal = journal
        self.bus = bus if bus is not None else app.bus
        own = getattr(app, "clock", None)
        self.clock = clock or (own if isinstance(own, GatewayClock) else GatewayClock.of(app.ib))
        self.orders: list[dict[str, Any]] = []
        self.state: dict[str, Any] = {}
        """Free per-strategy state kept across iterations (subscriptions, last signal...)."""
        self.recorded: dict[str, float] = {}
        """Values :meth:`record`-ed during the current decision (journaled with it)."""
        self._resolved: dict[Any, Contract] = {}

    @property
    def name(self) -> str:
        """The strategy name (the orderRef)."""
        return self.strategy

    # ---- clock ---------------------------------------------------------------------
    async def now(self) -> dt.datetime:
        """The gateway's time in New York (``reqCurrentTime``), cached briefly."""
        return await self.clock.now()

    # ---- durable state --------------------------------------------------------------
    def load_state(self, key: str) -> dict[str, Any] | None:
        """A state saved by :meth:`save_state` (from the journal; survives restarts)."""
        if self.journal is None:
            return self.state.get(("durable", key))
        value = self.journal.state(f"strategy:{self.strategy}:{key}")
        return None if not value or value.get("cleared") else value

    def save_state(self, key: str, value: dict[str, Any] | None) -> None:
        """Save (journal, one transaction) a small JSON state; ``None`` clears it. Not in dry runs."""
        if self.dry_run:
            return
        self.state[("durable", key)] = value
        if self.journal is not None:
            self.journal.append_samples(
                [], states={f"strategy:{self.strategy}:{key}": value or {"cleared": True}}
            )

    # ---- contracts and data --------------------------------------------------------
    async def resolve(self, contract: Contract | ComboSpec, key: Any = None) -> Contract:
        """``app.resolve_contract``, cached for the life of the context (by ``key``)."""
        key = key if key is not None else (repr(contract))
        hit = self._resolved.get(key)
        if hit is None:
            hit = self._resolved[key] = await self.app.resolve_contract(contract)
        return hit

    def forget(self, key: Any) -> None:
        """Drop a cached resolution (e.g. after a futures roll)."""
        self._resolved.pop(key, None)

    async def bars(
        self,
        contract: Contract,
        duration: str,
        bar_size: str,
        *,
        what: str = "TRADES",
        use_rth: bool = True,
        end: str = "",
        keep_up_to_date: bool = False,
    ):
        """Historical bars (ib_async ``BarDataList``), paced through the app's scheduler."""
        await self.app.pacing.acquire()
        return await self.app.ib.reqHistoricalDataAsync(
            contract,
            endDateTime=end,
            durationStr=duration,
            barSizeSetting=bar_size,
            whatToShow=what,
            useRTH=use_rth,
            formatDate=2,
            keepUpToDate=keep_up_to_date,
        )

    async def quote(self, contract: Contract):
        """The app's sizing quote (mid, else last, else close)."""
        return await self.app.quote(contract)

    # ---- orders ----------------------------------------------------------------------
    def _note(self, contract: Contract, result: OrderResult) -> OrderResult:
        if result.order is not None:
            legs = {c.conId: c for c in self._resolved.values() if c.secType != "BAG"}
            self.orders.append(order_record(contract, result.order, result, legs=legs))
        return result

    async def _primitive(
        self, method, contract: Contract, amount: float, order_type: OrderType
    ) -> OrderResult:
        """One ``TradingApp`` primitive, tagged with the strategy and dry-run aware, noted."""
        r = await method(contract, order_type, amount, strategy=self.strategy, dry_run=self.dry_run)
        return self._note(contract, r)

    async def order_value(
        self, contract: Contract, value: float, order_type: OrderType = market
    ) -> OrderResult:
        """Buy (``value`` > 0) or sell ``value`` dollars of this contract (tagged, dry-run aware)."""
        return await self._primitive(self.app.order_value, contract, value, order_type)

    async def order_target_value(
        self, contract: Contract, value: float, order_type: OrderType = market
    ) -> OrderResult:
        """Move this contract to ``value`` dollars (tagged, dry-run aware)."""
        return await self._primitive(self.app.order_target_value, contract, value, order_type)

    async def order_percent(
        self, contract: Contract, percent: float, order_type: OrderType = market
    ) -> OrderResult:
        """Trade ``percent`` of NetLiquidation worth of this contract (tagged, dry-run aware)."""
        return await self._primitive(self.app.order_percent, contract, percent, order_type)

    async def order_target_percent(
        self, contract: Contract, percent: float, order_type: OrderType = market
    ) -> OrderResult:
        """Move this contract to ``percent`` of NetLiquidation (tagged, dry-run aware)."""
        return await self._primitive(self.app.order_target_percent, contract, percent, order_type)

    async def order_target_quantity(
        self, contract: Contract, quantity: float, order_type: OrderType = market
    ) -> OrderResult:
        """Move this contract to ``quantity`` (tagged, dry-run aware)."""
        return await self._primitive(self.app.order_target_quantity, contract, quantity, order_type)

    async def send_order(self, contract: Contract, order: Order) -> OrderResult:
        """Send one order (tagged, dry-run aware)."""
        r = await self.app.send_order(contract, order, strategy=self.strategy, dry_run=self.dry_run)
        return self._note(contract, r)

    def positions(self) -> dict[int, float]:
        """The account's position by conId (held + filled, as the order primitives see it)."""
        return {cid: float(p.position) for cid, p in self.app.positions.items() if p.position}

    def record(self, **values: float) -> None:
        """Record named numbers with this decision (journaled, shown in the strategy detail)."""
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"record({key}=...) takes a number, got {value!r}")
            self.recorded[key] = float(value)

    def working_trades(self) -> list:
        """This strategy's working orders (``orderRef`` == name)."""
        return [
            t
            for t in self.app.ib.openTrades()
            if strategy_of(t.order.orderRef) == self.strategy and not t.isDone()
        ]

    async def cancel_working(self) -> int:
        """Cancel this strategy's working orders; returns how many."""
        trades = self.working_trades()
        if self.dry_run:
            return len(trades)
        for t in trades:
            await self.app.pacing.acquire()
            self.app.ib.cancelOrder(t.order)
        return len(trades)

    def strategy_positions(self) -> dict[int, tuple[Contract, float]]:
        """Net quantity by conId of this strategy's fills this session (``orderRef``)."""
        out: dict[int, tuple[Contract, float]] = {}
        for f in self.app.ib.fills():
            if strategy_of(f.execution.orderRef) != self.strategy or f.contract.secType == "BAG":
                continue
            sign = 1.0 if f.execution.side in ("BOT", "BUY") else -1.0
            c, q = out.get(f.contract.conId, (f.contract, 0.0))
            out[f.contract.conId] = (c, q + sign * float(f.execution.shares))
        return {k: v for k, v in out.items() if abs(v[1]) > 1e-9}

    async def flatten_positions(self) -> list[dict[str, Any]]:
        """Target zero in every instrument this strategy holds (account position there)."""
        before = len(self.orders)
        held = {cid for cid, p in self.app.positions.items() if p.position}
        for cid, (contract, _) in self.strategy_positions().items():
            if cid not in held:
                continue
            if not contract.exchange:
                contract.exchange = "SMART"
            await self.order_target_quantity(contract, 0)
        return self.orders[before:]
