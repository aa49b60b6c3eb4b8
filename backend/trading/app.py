"""`TradingApp`: contracts, prices, the five portfolio-target primitives, rebalance and safety.

Every order — from a primitive, a rebalance or :meth:`TradingApp.send_order` — passes the
account guard (paper / live / read-only) and the pre-trade guard, and every request to the
gateway goes through the shared :class:`PacingScheduler`. Refusals raise before anything is
sent: :class:`OrderRefused` (guard), :class:`PriceUnavailable`, :class:`AccountValueUnavailable`,
:class:`UnknownContract` / :class:`AmbiguousContract`.

Current position = the broker's position + executions not yet reflected in it + working
orders (:mod:`livedesk.backend.trading.ledger`), so a primitive called from inside a fill callback
— between an order's ``Filled`` status and the position update that follows — still sends
one order, not two.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from ib_async import IB, Contract, Order, Position, Ticker

from livedesk.backend.broker.clock import GatewayClock
from livedesk.backend.broker.orderref import key_of, make_ref, new_key, strategy_of
from livedesk.backend.broker.pacing import PacingScheduler
from livedesk.backend.broker.session import BrokerSession, SessionConfig, fallback_ids
from livedesk.backend.combos.bags import BagLeg, unit_values
from livedesk.backend.contracts import (
    ComboSpec,
    describe,
)
from livedesk.backend.errors import AccountValueUnavailable, PriceUnavailable
from livedesk.backend.events import EventBus, OrderSent
from livedesk.backend.trading import orders as sizing
from livedesk.backend.trading.exposure import ExposureView, order_intent
from livedesk.backend.trading.guard import (
    AccountGuard,
    GuardLimits,
    OrderIntent,
    PreTradeGuard,
    TradingState,
)
from livedesk.backend.trading.ledger import Exposure, PositionLedger
from livedesk.backend.trading.marketdata import MarketData, contract_key, finite
from livedesk.backend.trading.orders import NO_BAND, Quote, RebalanceBand, market
from livedesk.backend.trading.primitives import OrderPrimitives
from livedesk.backend.trading.rebalancing import Rebalancer
from livedesk.backend.trading.resolver import ContractResolver
from livedesk.backend.trading.results import (
    OrderRefused,
    OrderResult,
    RebalanceRefused,
    RebalanceResult,
    WhatIfUnavailable,
)
from livedesk.backend.trading.retention import SessionRetention

if TYPE_CHECKING:
    from livedesk.backend.config import Settings

log = logging.getLogger("livedesk.trading")

OrderType = Callable[[str, float], Order]
__all__ = [
    "AccountValueUnavailable",
    "OrderRefused",
    "OrderResult",
    "PriceUnavailable",
    "RebalanceRefused",
    "RebalanceResult",
    "TradingApp",
    "WhatIfUnavailable",
    "contract_key",
]


class TradingApp(OrderPrimitives):
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
        session: BrokerSession | None = None,
    ) -> None:
        self.ib = ib
        self.session = session
        """The connection owner (reconnect, reconcile, data quality); None for a bare IB."""
        self.clock: GatewayClock = session.gateway_clock if session else GatewayClock.of(ib)
        """The broker's clock (IB server time): every time shown or journaled comes from it."""
        self.readonly = readonly
        self.live = live
        self.confirm_account = confirm_account
        self.pacing = pacing or PacingScheduler()
        self.bus = bus or EventBus()
        self.guard = PreTradeGuard(limits or GuardLimits())
        self.market_data = MarketData(ib, self.pacing, price_timeout)
        self.contracts = ContractResolver(ib, self.pacing, lambda: self.today())
        self.bags = self.contracts.bags
        self.ledger = PositionLedger(ib, lambda: self.account)
        self.exposures = ExposureView(ib, lambda: self.account, self.ledger, self.market_data)
        self.what_if_timeout = 5.0
        """Seconds to wait for the gateway's what-if (margin preview) answer."""
        self.today: Callable[[], dt.date] = self.clock.today
        """The trading date (New York) for expiry checks and front months; tests pin it."""
        self._nlv_time: float | None = None
        self.port = 0
        """The API port (live-port heuristic of the account guard); 0 when unknown."""
        self._rebalancer = Rebalancer(self)
        self.rebalance_band = NO_BAND
        """The default tolerance band of :meth:`rebalance` (``[rebalance]`` settings)."""
        ib.accountValueEvent += self._on_account_value
        self.retention = SessionRetention(
            ib,
            lambda: self.today(),
            settled=self.ledger.reflected,
            forget=[self.ledger.forget] + ([session.tracker.release] if session else []),
        )
        """Forgets earlier broker days' finished trades and fills (checked at every clock
        reading: the heartbeat)."""
        self.clock.listeners.append(self.retention.check)
        if session is not None:
            session.add_restore_hook(self._restore_market_data)
            session.adopted_listeners.append(self.ledger.absorb)

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
        fallback_client_ids: tuple[int, ...] = (),
        journal=None,
        session_options: Mapping[str, float] | None = None,
    ) -> TradingApp:
        """Connect, reconcile (positions, orders, executions vs the journal), return the app.

        The connection is owned by a :class:`BrokerSession`: the app survives socket drops
        and gateway restarts (it reconnects with backoff and reconciles before trading
        again). ``session_options`` are further :class:`SessionConfig` fields (backoff,
        heartbeat); ``journal`` makes orders write-ahead and fills durable.
        """
        config = SessionConfig(
            host=host,
            port=port,
            client_id=client_id,
            fallback_client_ids=tuple(fallback_client_ids),
            readonly=readonly,
            account=account,
            timeout=timeout,
            **dict(session_options or {}),
        )
        bus = bus or EventBus()
        session = BrokerSession(config, bus=bus, journal=journal)
        app = cls(
            session.ib,
            readonly=readonly,
            live=live,
            confirm_account=confirm_account,
            limits=limits,
            bus=bus,
            session=session,
        )
        app.port = port
        try:
            await session.start()
        except (ConnectionError, OSError, TimeoutError) as exc:
            session.disconnect()
            raise ConnectionError(str(exc)) from (exc.__cause__ or exc)
        app.ledger.sync()
        if app.net_liquidation_or_none() is not None:
            app._nlv_time = time.monotonic()
        return app

    @classmethod
    async def from_settings(cls, settings: Settings, **kwargs) -> TradingApp:
        """Connect with :class:`livedesk.backend.config.Settings`: its broker and ``[guard]``."""
        b = settings.broker
        kwargs.setdefault("limits", settings.guard_limits())
        kwargs.setdefault("timeout", b.timeout)
        kwargs.setdefault("account", b.account)
        kwargs.setdefault("fallback_client_ids", fallback_ids(b.client_id, b.fallback_client_id))
        app = await cls.connect(b.host, b.port, b.client_id, **kwargs)
        app.rebalance_band = settings.rebalance_band()
        return app

    def disconnect(self) -> None:
        """Cancel market data and close the connection (for good: no reconnect)."""
        self.market_data.cancel_all()
        if self.session is not None:
            self.session.disconnect()
        else:
            self.ib.disconnect()

    async def _restore_market_data(self) -> None:
        data = self.session.data if self.session is not None else None

        def expect(c) -> None:
            # a combo (BAG) line has no conId of its own and may quote <= 0 (a credit): it
            # would wait for ever; its legs' lines are awaited instead (found by the soak)
            if c.secType != "BAG" and c.conId:
                data.expect_tick(c.conId, c.symbol)

        await self.market_data.resubscribe(None if data is None else expect)

    # ---- link and data quality -------------------------------------------------------
    @property
    def data_ok(self) -> bool:
        """Market data is live and fresh; strategy runtimes pause decisions while False."""
        return self.session.data_ok if self.session is not None else self.ib.isConnected()

    @property
    def data_stale_reason(self) -> str:
        """Why strategy decisions must pause ("" when :attr:`data_ok`)."""
        if self.session is not None:
            return self.session.data_stale_reason
        return "" if self.ib.isConnected() else "not connected"

    @property
    def connection_state(self) -> str:
        """CONNECTED / DEGRADED / RESTORED / DISCONNECTED / CONNECTING (session) or a guess."""
        if self.session is not None:
            return self.session.state
        return "CONNECTED" if self.ib.isConnected() else "DISCONNECTED"

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
            port=self.port,
        )

    @property
    def positions(self) -> dict[int, Position]:
        """Open positions by conId, as the broker last reported them (ib_async Positions)."""
        return {p.contract.conId: p for p in self.ib.positions(self.account) if p.position != 0}

    def exposure(self, contract: Contract) -> Exposure:
        """Held (broker position + executions not yet in it) and working quantity.

        A BAG's is in whole combo units of its legs. Exact from inside fill callbacks.
        """
        return self.ledger.exposure(contract)

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

    def _data_refusals(self, contract: Contract) -> list[str]:
        data = self.session.data
        legs = [leg.conId for leg in contract.comboLegs] if contract.secType == "BAG" else []
        for con_id in (contract.conId, *legs):
            if con_id in data.delayed:
                return [f"{data.delayed[con_id]}: delayed data is not live: no order sized on it"]
            if con_id in data.awaiting:
                return [f"{data.awaiting[con_id]}: prices stale until the first tick"]
        return []

    # ---- contracts -----------------------------------------------------------------
    async def resolve_contract(self, contract: Contract | ComboSpec) -> Contract:
        """A fully qualified contract; front month for futures without a month; BAG for a spread.

        A BAG passed in (not built here) has each leg resolved by conId.
        """
        return await self.contracts.resolve(contract)

    async def bag_legs(self, bag: Contract) -> tuple[BagLeg, ...]:
        """The resolved legs of a BAG (each leg resolved by conId the first time)."""
        return await self.contracts.bag_legs(bag)

    # ---- prices --------------------------------------------------------------------
    @property
    def price_timeout(self) -> float:
        """Seconds a sizing quote waits for a usable price."""
        return self.market_data.price_timeout

    @price_timeout.setter
    def price_timeout(self, value: float) -> None:
        self.market_data.price_timeout = value

    async def ticker(self, contract: Contract) -> Ticker:
        """A streaming ticker for ``contract`` (subscribed once, shared, then reused)."""
        return await self.market_data.ticker(contract)

    def cancel_market_data(self, contract: Contract) -> bool:
        """Stop streaming ``contract``; False if it was not subscribed."""
        return self.market_data.cancel(contract)

    async def quote(self, contract: Contract, *, pin: bool = True) -> Quote:
        """The sizing price: mid, else last, else previous close (waits up to ``price_timeout``)."""
        return await self.market_data.quote(contract, pin=pin)

    def marks(self) -> dict[int, float]:
        """Current mid (else last) of every streaming ticker, by conId; unusable prices left out."""
        return self.market_data.marks()

    def multiplier(self, contract: Contract) -> float:
        """The contract multiplier; a BAG's is its legs' common one (ContractError if mixed)."""
        return self.contracts.multiplier(contract)

    async def combo_unit_values(self, bag: Contract, pin: bool = True) -> tuple[float, float]:
        """(net, gross) dollar value of one unit of ``bag`` from its legs' prices."""
        legs = await self.bag_legs(bag)
        prices = {}
        for leg in legs:
            prices[leg.contract.conId] = (await self.quote(leg.contract, pin=pin)).price
        return unit_values(legs, prices)

    async def _reference(self, contract: Contract) -> tuple[float, float, float]:
        """(reference price, bid, ask). A BAG's mid may be zero or negative (a credit)."""
        if contract.secType == "BAG":
            return await self.market_data.combo_quote(contract, pin=False)
        q = await self.quote(contract, pin=False)  # kept unless a transient block ends
        t = self.market_data.tickers[contract_key(contract)]
        return q.price, t.bid, t.ask

    # ---- exposure ------------------------------------------------------------------
    def unit_values(self) -> dict[int, float]:
        """Dollar value of one unit (price x multiplier) of every contract we can price."""
        return self.exposures.unit_values()

    def gross_exposure(self, snapshot: Mapping[int, Exposure] | None = None) -> float:
        """Gross exposure of held positions and working orders, at the latest prices."""
        return self.exposures.gross_exposure(snapshot)

    # ---- orders --------------------------------------------------------------------
    async def _intent(self, contract: Contract, order: Order, ref: float | None) -> OrderIntent:
        unit_notional = None
        if contract.secType == "BAG":
            unit_notional = (await self.combo_unit_values(contract, pin=False))[1]
        snap = self.ledger.snapshot()
        return order_intent(
            contract,
            order,
            ref,
            self.ledger.exposure(contract, snap),
            nlv=self.net_liquidation_or_none(),
            gross_exposure=self.gross_exposure(snap),
            unit_notional=unit_notional,
        )

    async def send_order(
        self, contract: Contract, order: Order, *, strategy: str = "", dry_run: bool = False
    ) -> OrderResult:
        """Check ``order`` against both guards and send it (or only check it, with ``dry_run``)."""
        refusals = self.account_guard.check()
        if self.session is not None:
            refusals = refusals or self.session.order_block()
            refusals = refusals or self._data_refusals(contract)
        if refusals:
            raise OrderRefused(refusals)
        self._check_contract(contract)
        if contract.secType == "BAG":
            await self.bag_legs(contract)
        try:
            ref, bid, ask = await self._reference(contract)
        except PriceUnavailable:
            if order.orderType in ("MKT", "STP"):
                raise
            ref = bid = ask = None
        if not key_of(order.orderRef):  # every order carries an idempotency key
            order.orderRef = make_ref(strategy or order.orderRef or "", new_key())
        decision = self.guard.check(await self._intent(contract, order, ref), record=not dry_run)
        if not decision:
            raise OrderRefused(decision.reasons)
        if dry_run:
            return OrderResult(None, order, None, False, "dry run: order checked, not sent")
        await self.pacing.acquire()
        if self.session is not None:
            refusals = self.session.order_block()  # the link may have dropped while pacing
            if refusals:
                raise OrderRefused(refusals)
            tracked = self.session.prepare(contract, order, bid=bid, ask=ask)
            trade = self.ib.placeOrder(contract, order)
            self.session.link(tracked, trade)
        else:
            trade = self.ib.placeOrder(contract, order)
        self.bus.publish(order_sent(contract, order, bid, ask, self.clock.time()))
        return OrderResult(
            None,
            order,
            trade,
            True,
            f"sent {order.action} {order.totalQuantity:g} {describe(contract)}",
        )

    async def rebalance(
        self,
        targets: Mapping[Contract, float],
        order_type: OrderType = market,
        *,
        dry_run: bool = False,
        strategy: str = "",
        what_if: bool = False,
        cancel_stray: bool = True,
        scope: Iterable[int] | None = None,
        band: RebalanceBand | None = None,
    ) -> RebalanceResult:
        """Move the book to ``targets`` (weights of NetLiquidation); see :mod:`rebalancing`.

        Every delta is planned and the whole book checked by the guard before anything is
        sent (a refusal raises :class:`RebalanceRefused` naming the legs); sells go first;
        held contracts not targeted go to 0 and, with ``cancel_stray``, working orders on
        contracts outside the targets are cancelled. ``scope`` (conIds) limits both to the
        contracts a strategy owns, so one strategy's rebalance never flattens or cancels
        another's; ``None`` means the whole account. A leg whose delta is inside ``band``
        (default :attr:`rebalance_band`, the ``[rebalance]`` settings) sends nothing.
        """
        if self.session is not None and not dry_run:
            refusals = self.account_guard.check() or self.session.order_block()
            if refusals:  # e.g. reconciliation failed: never rebalance on unknown books
                raise OrderRefused(refusals)
        return await self._rebalancer.run(
            targets,
            order_type,
            dry_run,
            strategy,
            what_if,
            cancel_stray,
            scope,
            self.rebalance_band if band is None else band,
        )

    def position_contract(self, con_id: int) -> Contract | None:
        """A copy of the contract of a broker position (never ib_async's cached object)."""
        p = self.ib.wrapper.positions.get(self.account, {}).get(con_id)
        return copy.copy(p.contract) if p is not None else None

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


def order_sent(contract: Contract, order: Order, bid, ask, t: float | None = None) -> OrderSent:
    """The :class:`OrderSent` event of an order just placed (at broker time ``t``)."""
    mid = (bid + ask) / 2 if finite(bid) and finite(ask) else None
    return OrderSent(
        time.time() if t is None else t,
        order.orderId,
        order.permId,
        strategy_of(order.orderRef),
        contract.conId,
        contract.symbol,
        order.action,
        float(order.totalQuantity),
        order.orderType,
        order.lmtPrice if order.orderType in ("LMT", "STP LMT") else None,
        bid if finite(bid) else None,
        ask if finite(ask) else None,
        mid,
        order.orderRef or "",
    )
