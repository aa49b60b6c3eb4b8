"""`TradingApp`: contracts, prices, the five portfolio-target primitives, rebalance and safety.

Every order — from a primitive, a rebalance or :meth:`TradingApp.send_order` — passes the
account guard (paper / live / read-only) and the pre-trade guard, and every request to the
gateway goes through the shared :class:`PacingScheduler`. Refusals raise before anything is
sent: :class:`OrderRefused` (guard), :class:`PriceUnavailable`, :class:`AccountValueUnavailable`,
:class:`UnknownContract` / :class:`AmbiguousContract`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

from ib_async import IB, Contract, Order, Position, Ticker, Trade

from livedesk.backend import orders as sizing
from livedesk.backend.broker.pacing import PacingScheduler
from livedesk.backend.contracts import (
    AmbiguousContract,
    ComboSpec,
    UnknownContract,
    build_bag,
    describe,
    front_month,
    multiplier_of,
)
from livedesk.backend.errors import AccountValueUnavailable, PriceUnavailable, SizingError
from livedesk.backend.events import EventBus, OrderSent
from livedesk.backend.guard import (
    AccountGuard,
    GuardLimits,
    OrderIntent,
    PreTradeGuard,
    TradingState,
)
from livedesk.backend.orders import OrderPlan, Quote, RebalancePlan, market

log = logging.getLogger("livedesk.trading")

OrderType = Callable[[str, float], Order]
__all__ = [
    "AccountValueUnavailable",
    "OrderRefused",
    "OrderResult",
    "PriceUnavailable",
    "RebalanceResult",
    "TradingApp",
]


def contract_key(contract: Contract) -> Hashable:
    """conId, or for a BAG (IB gives every BAG one conId) its legs."""
    if contract.secType == "BAG":
        return ("BAG", *sorted((leg.conId, leg.ratio, leg.action) for leg in contract.comboLegs))
    return contract.conId


def _finite(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x) and abs(x) < sizing.UNSET_DOUBLE


class OrderRefused(SizingError):
    """The pre-trade or account guard refused an order; ``reasons`` says why."""

    def __init__(self, reasons: list[str] | tuple[str, ...]) -> None:
        self.reasons = tuple(reasons)
        super().__init__("order refused: " + "; ".join(self.reasons))


@dataclass(frozen=True)
class OrderResult:
    """What a primitive did: the plan, the order (if any), the trade (if sent) and why."""

    plan: OrderPlan | None
    order: Order | None
    trade: Trade | None
    sent: bool
    message: str


@dataclass(frozen=True)
class RebalanceResult:
    """A rebalance: the full plan and the trades sent (sells first)."""

    plan: RebalancePlan
    results: tuple[OrderResult, ...] = ()
    contracts: Mapping[Hashable, Contract] = field(default_factory=dict)

    @property
    def trades(self) -> list[Trade]:
        """Trades actually sent."""
        return [r.trade for r in self.results if r.trade is not None]


class TradingApp:
    """The broker layer every strategy and the console use."""

    def __init__(
        self,
        ib: IB,
        *,
        readonly: bool = False,
        live: bool = False,
        confirm_account: str | None = None,
        limits: GuardLimits | None = None,
        pacing: PacingScheduler | None = None,
        bus: EventBus | None = None,
        price_timeout: float = 2.0,
    ) -> None:
        self.ib = ib
        self.readonly = readonly
        self.live = live
        self.confirm_account = confirm_account
        self.pacing = pacing or PacingScheduler()
        self.bus = bus or EventBus()
        self.price_timeout = price_timeout
        self.guard = PreTradeGuard(limits or GuardLimits())
        self._tickers: dict[Hashable, Ticker] = {}
        self._bag_multipliers: dict[Hashable, float] = {}
        self.today: Callable[[], dt.date] = dt.date.today
        """The trading date (expiry checks, front months); tests pin it to the simulated session."""
        self._nlv_time: float | None = None
        ib.accountValueEvent += self._on_account_value

    # ---- lifecycle -----------------------------------------------------------------
    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        client_id: int = 1,
        *,
        readonly: bool = False,
        live: bool = False,
        confirm_account: str | None = None,
        limits: GuardLimits | None = None,
        timeout: float = 4.0,
        account: str = "",
        bus: EventBus | None = None,
    ) -> TradingApp:
        """Connect, sync (positions, orders, account values) and return a ready app."""
        ib = IB()
        app = cls(
            ib,
            readonly=readonly,
            live=live,
            confirm_account=confirm_account,
            limits=limits,
            bus=bus,
        )
        try:
            await ib.connectAsync(
                host,
                port,
                clientId=client_id,
                timeout=timeout,
                readonly=readonly,
                account=account,
                raiseSyncErrors=True,
            )
        except (ConnectionError, OSError, TimeoutError) as exc:
            ib.disconnect()
            raise ConnectionError(
                f"cannot connect to the IB API at {host}:{port} (client id {client_id}): {exc}"
            ) from exc
        if app.net_liquidation_or_none() is not None:
            app._nlv_time = time.monotonic()
        return app

    def disconnect(self) -> None:
        """Cancel market data and close the connection."""
        for t in self._tickers.values():
            if self.ib.isConnected():
                self.ib.cancelMktData(t.contract)
        self._tickers.clear()
        self.ib.disconnect()

    # ---- account -------------------------------------------------------------------
    @property
    def account(self) -> str:
        """The managed account id ("" before the first sync)."""
        accounts = self.ib.managedAccounts()
        return accounts[0] if accounts else ""

    @property
    def account_guard(self) -> AccountGuard:
        """Paper / live / read-only verdict for this session."""
        return AccountGuard(
            self.account,
            live=self.live,
            confirmed_account=self.confirm_account,
            readonly=self.readonly,
        )

    @property
    def positions(self) -> dict[int, Position]:
        """Open positions by conId (ib_async Position objects)."""
        return {p.contract.conId: p for p in self.ib.positions(self.account) if p.position != 0}

    def net_liquidation_or_none(self) -> float | None:
        """NetLiquidation from the account values, or None when not reported."""
        for v in self.ib.accountValues(self.account):
            if v.tag == "NetLiquidation" and v.currency not in ("", "BASE"):
                try:
                    return float(v.value)
                except ValueError:
                    return None
        return None

    @property
    def net_liquidation(self) -> float:
        """NetLiquidation (float); NaN when the gateway has not reported it."""
        value = self.net_liquidation_or_none()
        return math.nan if value is None else value

    def nlv_age(self) -> float | None:
        """Seconds since NetLiquidation was last reported."""
        return None if self._nlv_time is None else time.monotonic() - self._nlv_time

    def checked_nlv(self) -> float:
        """NetLiquidation that is present, positive and fresh — or AccountValueUnavailable."""
        return sizing.check_nlv(
            self.net_liquidation_or_none(), self.nlv_age(), self.guard.limits.nlv_max_age
        )

    def _on_account_value(self, value) -> None:
        if value.tag == "NetLiquidation":
            self._nlv_time = time.monotonic()

    # ---- contracts -----------------------------------------------------------------
    async def resolve_contract(self, contract: Contract | ComboSpec) -> Contract:
        """A fully qualified contract; front month for futures without a month; BAG for a spread."""
        if isinstance(contract, ComboSpec):
            legs = [
                (await self.resolve_contract(leg.contract), leg.ratio, leg.action)
                for leg in contract.legs
            ]
            bag = build_bag(legs, today=self.today(), exchange=contract.exchange)
            mults = {multiplier_of(c) for c, _, _ in legs}
            if len(mults) == 1:  # a combo is priced per unit of its legs' multiplier
                self._bag_multipliers[contract_key(bag)] = mults.pop()
            return bag
        await self.pacing.acquire()
        details = await self.ib.reqContractDetailsAsync(contract)
        label = describe(contract)
        if not details:
            raise UnknownContract(label, "the gateway has no security definition for it")
        if contract.secType == "FUT" and not contract.lastTradeDateOrContractMonth:
            return front_month(details, self.today()).contract
        if len(details) > 1:
            raise AmbiguousContract(label, [d.contract for d in details])
        return details[0].contract

    # ---- prices --------------------------------------------------------------------
    async def ticker(self, contract: Contract) -> Ticker:
        """A streaming ticker for ``contract`` (subscribed once, then reused)."""
        key = contract_key(contract)
        t = self._tickers.get(key)
        if t is None:
            await self.pacing.acquire()
            t = self.ib.reqMktData(contract, "", False, False)
            self._tickers[key] = t
        return t

    def multiplier(self, contract: Contract) -> float:
        """The contract multiplier; a BAG's is its legs' (a combo is priced per unit of them)."""
        if contract.secType == "BAG":
            return self._bag_multipliers.get(contract_key(contract), 1.0)
        return multiplier_of(contract)

    async def _reference(self, contract: Contract) -> tuple[float, float, float]:
        """(reference price, bid, ask). A BAG's mid may be zero or negative (a credit)."""
        if contract.secType != "BAG":
            q = await self.quote(contract)
            t = self._tickers[contract_key(contract)]
            return q.price, t.bid, t.ask
        t = await self.ticker(contract)
        deadline = time.monotonic() + self.price_timeout
        while not (_finite(t.bid) and _finite(t.ask)):
            if time.monotonic() >= deadline:
                raise PriceUnavailable(
                    f"no usable combo quote for {describe(contract)}: bid {t.bid}, ask {t.ask}"
                )
            await asyncio.sleep(0.01)
        return (t.bid + t.ask) / 2, t.bid, t.ask

    def marks(self) -> dict[int, float]:
        """Current mid (else last) of every streaming ticker, by conId; unusable prices left out."""
        out = {}
        for key, t in self._tickers.items():
            if not isinstance(key, int):
                continue
            price = t.midpoint()
            if not sizing.is_usable_price(price):
                price = t.last
            if sizing.is_usable_price(price):
                out[key] = price
        return out

    async def quote(self, contract: Contract) -> Quote:
        """The sizing price: mid, else last, else previous close (waits up to ``price_timeout``)."""
        t = await self.ticker(contract)
        deadline = time.monotonic() + self.price_timeout
        while True:
            try:
                return sizing.usable_price(t.bid, t.ask, t.last, t.close, label=describe(contract))
            except PriceUnavailable:
                if time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(0.01)

    # ---- orders --------------------------------------------------------------------
    def _working(self, contract: Contract) -> float:
        return sizing.working_quantity(self.ib.openTrades(), contract)

    def _position(self, contract: Contract) -> float:
        p = self.positions.get(contract.conId)
        return p.position if p else 0.0

    def _gross_exposure(self) -> float:
        return sum(abs(i.marketValue) for i in self.ib.portfolio(self.account))

    def _intent(self, contract: Contract, order: Order, ref: float | None) -> OrderIntent:
        lmt = order.lmtPrice if order.orderType in ("LMT", "STP LMT") else None
        return OrderIntent(
            action=order.action,
            quantity=float(order.totalQuantity),
            order_type=order.orderType,
            limit_price=lmt,
            contract=describe(contract),
            sec_type=contract.secType,
            multiplier=self.multiplier(contract),
            reference_price=ref,
            position=self._position(contract),
            nlv=self.net_liquidation_or_none(),
            gross_exposure=self._gross_exposure(),
        )

    async def send_order(
        self, contract: Contract, order: Order, *, strategy: str = "", dry_run: bool = False
    ) -> OrderResult:
        """Check ``order`` against both guards and send it (or only check it, with ``dry_run``)."""
        refusals = self.account_guard.check()
        if refusals:
            raise OrderRefused(refusals)
        if contract.secType != "BAG" and not contract.conId:
            raise UnknownContract(describe(contract), "resolve it with resolve_contract() first")
        try:
            ref, bid, ask = await self._reference(contract)
        except PriceUnavailable:
            if order.orderType in ("MKT", "STP"):
                raise
            ref = bid = ask = None
        if strategy:
            order.orderRef = strategy
        decision = self.guard.check(self._intent(contract, order, ref), record=not dry_run)
        if not decision:
            raise OrderRefused(decision.reasons)
        if dry_run:
            return OrderResult(None, order, None, False, "dry run: order checked, not sent")
        await self.pacing.acquire()
        trade = self.ib.placeOrder(contract, order)
        mid = (bid + ask) / 2 if _finite(bid) and _finite(ask) else None
        self.bus.publish(
            OrderSent(
                time.time(),
                order.orderId,
                order.permId,
                order.orderRef or "",
                contract.conId,
                contract.symbol,
                order.action,
                float(order.totalQuantity),
                order.orderType,
                order.lmtPrice if order.orderType in ("LMT", "STP LMT") else None,
                bid if _finite(bid) else None,
                ask if _finite(ask) else None,
                mid,
            )
        )
        return OrderResult(
            None,
            order,
            trade,
            True,
            f"sent {order.action} {order.totalQuantity:g} {describe(contract)}",
        )

    async def _execute(
        self,
        contract: Contract,
        plan: OrderPlan,
        order_type: OrderType,
        strategy: str,
        dry_run: bool,
    ) -> OrderResult:
        if plan.is_empty:
            log.info("nothing sent for %s: %s", describe(contract), plan.reason)
            return OrderResult(plan, None, None, False, f"nothing sent: {plan.reason}")
        order = sizing.build_order(plan, order_type, strategy)
        result = await self.send_order(contract, order, strategy=strategy, dry_run=dry_run)
        return OrderResult(plan, result.order, result.trade, result.sent, result.message)

    async def _sizing_inputs(self, contract: Contract) -> tuple[Quote, float]:
        refusals = self.account_guard.check()
        if refusals:
            raise OrderRefused(refusals)
        if not contract.conId:
            raise UnknownContract(describe(contract), "resolve it with resolve_contract() first")
        return await self.quote(contract), self.multiplier(contract)

    async def order_value(
        self,
        contract: Contract,
        order_type: OrderType,
        value: float,
        *,
        dry_run: bool = False,
        strategy: str = "",
    ) -> OrderResult:
        """Buy (value > 0) or sell (value < 0) ``value`` dollars of ``contract``."""
        q, mult = await self._sizing_inputs(contract)
        return await self._execute(
            contract, sizing.plan_order_value(value, q, mult), order_type, strategy, dry_run
        )

    async def order_target_quantity(
        self,
        contract: Contract,
        order_type: OrderType,
        target: float,
        *,
        dry_run: bool = False,
        strategy: str = "",
    ) -> OrderResult:
        """Trade the difference between ``target`` and position + working orders."""
        q, mult = await self._sizing_inputs(contract)
        plan = sizing.plan_order_target_quantity(
            target, q, mult, self._position(contract), self._working(contract)
        )
        return await self._execute(contract, plan, order_type, strategy, dry_run)

    async def order_target_value(
        self,
        contract: Contract,
        order_type: OrderType,
        target: float,
        *,
        dry_run: bool = False,
        strategy: str = "",
    ) -> OrderResult:
        """Move the position to ``target`` dollars."""
        q, mult = await self._sizing_inputs(contract)
        plan = sizing.plan_order_target_value(
            target, q, mult, self._position(contract), self._working(contract)
        )
        return await self._execute(contract, plan, order_type, strategy, dry_run)

    async def order_percent(
        self,
        contract: Contract,
        order_type: OrderType,
        percent: float,
        *,
        dry_run: bool = False,
        strategy: str = "",
    ) -> OrderResult:
        """Trade ``percent`` of NetLiquidation worth of ``contract``."""
        q, mult = await self._sizing_inputs(contract)
        plan = sizing.plan_order_percent(percent, self.checked_nlv(), q, mult)
        return await self._execute(contract, plan, order_type, strategy, dry_run)

    async def order_target_percent(
        self,
        contract: Contract,
        order_type: OrderType,
        percent: float,
        *,
        dry_run: bool = False,
        strategy: str = "",
    ) -> OrderResult:
        """Move the position to ``percent`` of NetLiquidation."""
        q, mult = await self._sizing_inputs(contract)
        plan = sizing.plan_order_target_percent(
            percent, self.checked_nlv(), q, mult, self._position(contract), self._working(contract)
        )
        return await self._execute(contract, plan, order_type, strategy, dry_run)

    async def rebalance(
        self,
        targets: Mapping[Contract, float],
        order_type: OrderType = market,
        *,
        dry_run: bool = False,
        strategy: str = "",
        what_if: bool = False,
    ) -> RebalanceResult:
        """Plan every delta first, then send sells before buys; held contracts not targeted go to 0."""
        refusals = self.account_guard.check()
        if refusals:
            raise OrderRefused(refusals)
        nlv = self.checked_nlv()
        contracts: dict[int, Contract] = {}
        for c in targets:
            if not c.conId:
                raise UnknownContract(
                    describe(c), "resolve every target with resolve_contract() first"
                )
            contracts[c.conId] = c
        for con_id, p in self.positions.items():
            if con_id not in contracts:
                c = p.contract
                if not c.exchange:
                    c.exchange = "SMART"
                contracts[con_id] = c
        weights = {c.conId: w for c, w in targets.items()}
        quotes = dict(
            zip(
                contracts,
                await asyncio.gather(*(self._quote_or_none(c) for c in contracts.values())),
                strict=True,
            )
        )
        missing = [describe(contracts[k]) for k, q in quotes.items() if q is None]
        if missing:
            raise PriceUnavailable(
                f"no usable price for {', '.join(missing)}; nothing planned or sent"
            )
        plan = sizing.plan_rebalance(
            weights,
            {k: p.position for k, p in self.positions.items()},
            quotes,
            nlv,
            multipliers={k: multiplier_of(c) for k, c in contracts.items()},
            working={k: self._working(c) for k, c in contracts.items()},
            sec_types={k: c.secType for k, c in contracts.items()},
        )
        if what_if:
            plan = await self._with_margin(plan, contracts, order_type)
        results = []
        for leg in plan.orders:
            results.append(
                await self._execute(contracts[leg.key], leg.plan, order_type, strategy, dry_run)
            )
        return RebalanceResult(plan, tuple(results), contracts)

    async def _quote_or_none(self, contract: Contract) -> Quote | None:
        try:
            return await self.quote(contract)
        except PriceUnavailable:
            return None

    async def _with_margin(
        self, plan: RebalancePlan, contracts: Mapping[int, Contract], order_type: OrderType
    ) -> RebalancePlan:
        from dataclasses import replace

        change = 0.0
        for leg in plan.orders:
            await self.pacing.acquire()
            state = await self.ib.whatIfOrderAsync(
                contracts[leg.key], order_type(leg.plan.action, leg.plan.quantity)
            )
            try:
                change += float(state.initMarginChange)
            except (TypeError, ValueError):
                return plan
        return replace(plan, margin_change=change)

    # ---- safety --------------------------------------------------------------------
    async def cancel_all(self) -> int:
        """Cancel every working order of this session; returns how many were cancelled."""
        if self.readonly:
            raise OrderRefused(["session is read-only: no orders or cancels are sent"])
        trades = [t for t in self.ib.openTrades() if not t.isDone()]
        for t in trades:
            await self.pacing.acquire()
            self.ib.cancelOrder(t.order)
        return len(trades)

    async def kill_switch(self, reason: str = "kill switch") -> int:
        """Halt all trading (only cancels allowed) and cancel every working order."""
        self.guard.halt(reason)
        return await self.cancel_all()

    @property
    def trading_state(self) -> TradingState:
        """ACTIVE, REDUCING or HALTED."""
        return self.guard.state
