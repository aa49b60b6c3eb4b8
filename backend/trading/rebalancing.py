"""A rebalance: plan every delta, check the whole book, then send (sells first).

Order of work, and what each step guarantees:

1. **Plan** every delta from held + working quantity (the position ledger) and one quote
   per contract; held contracts not targeted go to 0. Nothing is planned unless every
   contract has a usable price.
2. **Check the whole book** before anything is sent: each leg passes the pre-trade guard
   as it will be when sent — after the legs before it (their working quantity, gross
   exposure and place in the order-rate window). A refusal raises
   :class:`RebalanceRefused` naming every refused leg and why; nothing is sent.
3. **What-if** (optional): the gateway's margin preview of the whole change as one
   all-stock combo where possible, otherwise the sum of per-leg what-ifs — labelled as
   such in ``plan.margin_source``. No answer in ``what_if_timeout`` seconds, or an empty
   one, raises :class:`WhatIfUnavailable` before anything is sent.
4. **Cancel stray working orders** (contracts neither targeted nor held), if asked.
5. **Send** sells before buys. If sending fails half-way (gateway disconnect, a refusal
   as prices moved) the result still holds every order already sent, with ``error``
   saying where and why — nothing is lost to an exception.

Quotes subscribed only for the rebalance are cancelled when it ends.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from ib_async import Bag, ComboLeg, Contract, MarketOrder, Order

from livedesk.backend.contracts import UnknownContract, describe, multiplier_of
from livedesk.backend.errors import PriceUnavailable, SizingError
from livedesk.backend.trading import orders as sizing
from livedesk.backend.trading.exposure import order_intent
from livedesk.backend.trading.ledger import Exposure
from livedesk.backend.trading.orders import Quote, RebalancePlan
from livedesk.backend.trading.results import (
    OrderRefused,
    OrderResult,
    RebalanceRefused,
    RebalanceResult,
    WhatIfUnavailable,
)

if TYPE_CHECKING:
    from livedesk.backend.trading.app import TradingApp

log = logging.getLogger("livedesk.rebalance")

OrderType = Callable[[str, float], Order]
CANCEL_WAIT = 2.0
"""Seconds to wait for stray cancels to be confirmed before sending."""


class Rebalancer:
    """Runs :meth:`TradingApp.rebalance` (see the module docstring)."""

    def __init__(self, app: TradingApp) -> None:
        self.app = app

    async def run(
        self,
        targets: Mapping[Contract, float],
        order_type: OrderType,
        dry_run: bool,
        strategy: str,
        what_if: bool,
        cancel_stray: bool,
        scope: Iterable[int] | None = None,
        band: sizing.RebalanceBand = sizing.NO_BAND,
    ) -> RebalanceResult:
        app = self.app
        refusals = app.account_guard.check()
        if refusals:
            raise OrderRefused(refusals)
        nlv = app.checked_nlv()
        contracts: dict[Hashable, Contract] = {}
        for c in targets:
            if c.secType == "BAG":
                raise SizingError(
                    f"rebalance targets single contracts, not combos ({describe(c)}): "
                    "trade a combo with order_target_quantity"
                )
            if not c.conId:
                raise UnknownContract(
                    describe(c), "resolve every target with resolve_contract() first"
                )
            contracts[c.conId] = c
        weights = {c.conId: w for c, w in targets.items()}
        snap = app.ledger.snapshot()
        owned = None if scope is None else set(scope)

        def in_scope(con_id: Hashable) -> bool:
            return owned is None or con_id in owned

        for con_id, e in snap.items():
            if e.held and con_id not in contracts and in_scope(con_id):
                contracts[con_id] = await self._held_contract(con_id)
        stray = {
            k: e.working
            for k, e in snap.items()
            if e.working and k not in contracts and in_scope(k)
        }
        with app.market_data.transient():
            quotes = await self._quotes(contracts)
            plan = sizing.plan_rebalance(
                weights,
                {k: snap.get(k, Exposure()).held for k in contracts},
                quotes,
                nlv,
                multipliers={k: multiplier_of(c) for k, c in contracts.items()},
                working={**{k: snap.get(k, Exposure()).working for k in contracts}, **stray},
                sec_types={k: c.secType for k, c in contracts.items()},
                band=band,
            )
            ignored = set(plan.stray_working) if cancel_stray else set()
            gross_after = self._check_book(plan, contracts, snap, quotes, order_type, ignored)
            leverage = gross_after / nlv
            if what_if:
                plan = await self._with_margin(plan, contracts, order_type)
            if dry_run:
                results = tuple(
                    OrderResult(
                        leg.plan,
                        sizing.build_order(leg.plan, order_type, strategy),
                        None,
                        False,
                        "dry run: checked with the whole book, not sent",
                    )
                    for leg in plan.orders
                )
                return RebalanceResult(plan, results, contracts, gross_leverage_after=leverage)
            cancelled = await self._cancel_stray(plan.stray_working) if cancel_stray else ()
            results, error = await self._send(plan, contracts, order_type, strategy)
        return RebalanceResult(plan, results, contracts, error, cancelled, leverage)

    # ---- steps ---------------------------------------------------------------------
    async def _held_contract(self, con_id: int) -> Contract:
        """A routable copy of a held contract (ib_async's cached objects stay untouched)."""
        app = self.app
        c = app.position_contract(con_id)
        if c is None:
            c = next(
                (
                    copy.copy(t.contract)
                    for t in app.ib.trades()
                    if t.contract.secType != "BAG" and t.contract.conId == con_id
                ),
                None,
            )
        if c is not None and c.exchange:
            return c
        if c is not None and c.secType == "STK":
            c.exchange = "SMART"
            return c
        return await app.resolve_contract(Contract(conId=con_id))  # futures/options: their venue

    async def _quotes(self, contracts: Mapping[Hashable, Contract]) -> dict[Hashable, Quote]:
        async def one(c: Contract) -> Quote | None:
            try:
                return await self.app.quote(c, pin=False)
            except PriceUnavailable:
                return None

        got = await asyncio.gather(*(one(c) for c in contracts.values()))
        quotes = dict(zip(contracts, got, strict=True))
        missing = [describe(contracts[k]) for k, q in quotes.items() if q is None]
        if missing:
            raise PriceUnavailable(
                f"no usable price for {', '.join(missing)}; nothing planned or sent"
            )
        return quotes

    def _check_book(
        self,
        plan: RebalancePlan,
        contracts: Mapping[Hashable, Contract],
        snap: Mapping[int, Exposure],
        quotes: Mapping[Hashable, Quote],
        order_type: OrderType,
        ignored: set[Hashable],
    ) -> float:
        """Guard every leg in sending order, each after the ones before; the gross after."""
        app = self.app
        values = app.unit_values()
        for k, q in quotes.items():
            values[k] = q.price * multiplier_of(contracts[k])
        gross = sum(
            abs(e.held if k in ignored else e.total) * values.get(k, 0.0) for k, e in snap.items()
        )
        intents = []
        nlv = app.net_liquidation_or_none()
        for leg in plan.orders:
            e = snap.get(leg.key, Exposure())
            order = order_type(leg.plan.action, leg.plan.quantity)
            intents.append(
                order_intent(
                    contracts[leg.key],
                    order,
                    quotes[leg.key].price,
                    e,
                    nlv=nlv,
                    gross_exposure=gross,
                    multiplier=leg.plan.multiplier,
                )
            )
            gross += (abs(e.total + leg.plan.delta) - abs(e.total)) * values[leg.key]
        decisions = app.guard.check_batch(intents)
        refused = {
            leg.key: d.reasons for leg, d in zip(plan.orders, decisions, strict=True) if not d
        }
        if refused:
            labels = {k: describe(c) for k, c in contracts.items()}
            raise RebalanceRefused(plan, refused, labels)
        return gross

    async def _cancel_stray(self, keys: tuple[Hashable, ...]) -> tuple[Hashable, ...]:
        app = self.app
        if not keys:
            return ()
        trades = [
            t
            for t in app.ib.openTrades()
            if not t.isDone() and t.contract.secType != "BAG" and t.contract.conId in keys
        ]
        for t in trades:
            await app.pacing.acquire()
            app.ib.cancelOrder(t.order)
        loop = asyncio.get_running_loop()
        end = loop.time() + CANCEL_WAIT
        while not all(t.isDone() for t in trades) and loop.time() < end:
            await asyncio.sleep(0.005)
        return tuple(dict.fromkeys(t.contract.conId for t in trades))

    async def _send(
        self,
        plan: RebalancePlan,
        contracts: Mapping[Hashable, Contract],
        order_type: OrderType,
        strategy: str,
    ) -> tuple[tuple[OrderResult, ...], str]:
        results: list[OrderResult] = []
        for i, leg in enumerate(plan.orders):
            contract = contracts[leg.key]
            try:
                results.append(
                    await self.app.execute_plan(contract, leg.plan, order_type, strategy)
                )
            except (SizingError, ConnectionError, OSError) as exc:
                error = (
                    f"sending stopped at leg {i + 1} of {len(plan.orders)} "
                    f"({leg.plan.action} {leg.plan.quantity} {describe(contract)}): {exc}; "
                    f"{len(results)} order(s) already sent are in the result"
                )
                log.error(error)
                return tuple(results), error
        return tuple(results), ""

    # ---- what-if -------------------------------------------------------------------
    async def _what_if(self, contract: Contract, order: Order) -> float:
        """The gateway's initial-margin change for ``order``, or WhatIfUnavailable."""
        return await what_if_margin(self.app, contract, order)

    async def _with_margin(
        self, plan: RebalancePlan, contracts: Mapping[Hashable, Contract], order_type: OrderType
    ) -> RebalancePlan:
        legs = plan.orders
        if not legs:
            return replace(plan, margin_change=0.0, margin_source="nothing to trade")
        stocks = [contracts[leg.key] for leg in legs]
        if len(legs) >= 2 and {c.secType for c in stocks} == {"STK"}:
            currencies = {c.currency for c in stocks}
            if len(currencies) == 1:
                bag = Bag(
                    symbol=",".join(sorted({c.symbol for c in stocks})),
                    exchange="SMART",
                    currency=currencies.pop(),
                    comboLegs=[
                        ComboLeg(
                            conId=leg.key,
                            ratio=leg.plan.quantity,
                            action=leg.plan.action,
                            exchange="SMART",
                        )
                        for leg in legs
                    ],
                )
                try:
                    change = await self._what_if(bag, MarketOrder("BUY", 1))
                    return replace(
                        plan,
                        margin_change=change,
                        margin_source="gateway what-if of the whole change",
                    )
                except WhatIfUnavailable as exc:
                    log.info("whole-change what-if unavailable, summing legs: %s", exc)
        total = 0.0
        for leg in legs:
            order = order_type(leg.plan.action, leg.plan.quantity)
            total += await self._what_if(contracts[leg.key], order)
        source = (
            "gateway what-if of the single order"
            if len(legs) == 1
            else "sum of per-leg what-ifs (ignores offsets between legs)"
        )
        return replace(plan, margin_change=total, margin_source=source)


async def what_if_margin(app, contract: Contract, order: Order) -> float:
    """The gateway's initial-margin change for ``order`` (paced, within
    ``app.what_if_timeout``), or WhatIfUnavailable with the reason."""
    label = f"{order.action} {order.totalQuantity:g} {describe(contract)}"
    await app.pacing.acquire()
    try:
        state = await asyncio.wait_for(
            app.ib.whatIfOrderAsync(contract, order), app.what_if_timeout
        )
    except TimeoutError:
        raise WhatIfUnavailable(
            f"what-if for {label}: no answer within {app.what_if_timeout:g} s"
        ) from None
    except Exception as exc:  # ib_async's request errors, a dropped connection, ...
        raise WhatIfUnavailable(f"what-if for {label} failed: {exc!r}") from exc
    raw = getattr(state, "initMarginChange", None)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or abs(value) >= sizing.UNSET_DOUBLE:
        raise WhatIfUnavailable(
            f"what-if for {label}: the gateway returned no margin figure (got {state!r})"
        )
    return value
