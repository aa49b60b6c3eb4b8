"""The five order primitives of :class:`~livedesk.backend.trading.app.TradingApp`.

Each sizes an order from a quote and the contract's held + working quantity (the position
ledger), then sends it through ``send_order`` — the account guard and the pre-trade guard —
or only checks it with ``dry_run``. Composition follows zipline: target percent -> percent ->
value -> quantity.

Combos (BAG), debit or credit alike: a target **quantity** needs no price. Value and percent
sizing use the combo's **risk per unit**, not its signed price: its defined risk (max loss at
expiry of one unit bought — or sold, for a negative value — at the legs' current net, for
option legs of one expiry: :func:`~livedesk.backend.combos.bags.defined_risk`), else the
gateway's what-if initial margin of one unit. So ``order_value(iron_condor, 10_000)`` buys as
many condors as lose at most $10,000 together, and ``order_target_percent(condor, 0.02)``
risks 2 % of NetLiquidation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ib_async import Contract, MarketOrder, Order

from livedesk.backend.combos.bags import defined_risk
from livedesk.backend.contracts import UnknownContract, describe
from livedesk.backend.errors import PriceUnavailable
from livedesk.backend.trading import orders as sizing
from livedesk.backend.trading.orders import OrderPlan, Quote
from livedesk.backend.trading.rebalancing import what_if_margin
from livedesk.backend.trading.results import OrderRefused, OrderResult, WhatIfUnavailable

log = logging.getLogger("livedesk.trading")

OrderType = Callable[[str, float], Order]

__all__ = ["OrderPrimitives"]


class OrderPrimitives:
    """``order_value`` … ``order_target_percent`` for a class that provides ``send_order``,
    ``quote``, ``exposure``, ``checked_nlv``, ``account_guard``, ``bag_legs``, ``bags``,
    ``combo_unit_values`` and ``multiplier`` (:class:`TradingApp`)."""

    def _check_contract(self, contract: Contract) -> None:
        if contract.secType != "BAG" and not contract.conId:
            raise UnknownContract(describe(contract), "resolve it with resolve_contract() first")

    async def execute_plan(
        self,
        contract: Contract,
        plan: OrderPlan,
        order_type: OrderType,
        strategy: str = "",
        dry_run: bool = False,
    ) -> OrderResult:
        """Send the order of a sizing plan through :meth:`send_order` (nothing if empty)."""
        if plan.is_empty:
            log.info("nothing sent for %s: %s", describe(contract), plan.reason)
            return OrderResult(plan, None, None, False, f"nothing sent: {plan.reason}")
        order = sizing.build_order(plan, order_type, strategy)
        result = await self.send_order(contract, order, strategy=strategy, dry_run=dry_run)
        return OrderResult(plan, result.order, result.trade, result.sent, result.message)

    def _check_account(self, contract: Contract) -> None:
        refusals = self.account_guard.check()
        if refusals:
            raise OrderRefused(refusals)
        self._check_contract(contract)

    async def _sizing_inputs(self, contract: Contract, side: float = 1.0) -> tuple[Quote, float]:
        """The sizing price and multiplier; a BAG's is its risk per unit (module doc) for a
        unit bought (``side`` >= 0) or sold."""
        self._check_account(contract)
        if contract.secType != "BAG":
            return await self.quote(contract), self.multiplier(contract)
        sold = isinstance(side, int | float) and side < 0
        return await self.combo_risk(contract, -1 if sold else 1), 1.0

    async def combo_risk(self, contract: Contract, side: int = 1) -> Quote:
        """Dollars at risk in one unit of a BAG bought (``side`` 1) or sold (-1): its defined
        risk, else the what-if initial margin; PriceUnavailable when neither is known."""
        legs = await self.bag_legs(contract)
        net, _ = await self.combo_unit_values(contract)
        risk = defined_risk(legs, net, side)
        if risk is not None:
            return Quote(risk, "max loss")
        try:
            margin = await what_if_margin(
                self, contract, MarketOrder("BUY" if side > 0 else "SELL", 1)
            )
        except WhatIfUnavailable as exc:
            raise PriceUnavailable(
                f"{describe(contract)} has no defined risk (unbounded or mixed legs) and {exc}"
            ) from exc
        if not margin > 0:
            raise PriceUnavailable(
                f"{describe(contract)} has no defined risk and a what-if margin of {margin:g}: "
                "nothing to size a value or percent by; use a target quantity"
            )
        return Quote(margin, "what-if margin")

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
        q, mult = await self._sizing_inputs(contract, value)
        return await self.execute_plan(
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
        """Trade the difference between ``target`` and held + working quantity (no price
        needed for a combo)."""
        if contract.secType == "BAG":
            self._check_account(contract)
            await self.bag_legs(contract)
            q, mult = None, 1.0
        else:
            q, mult = await self._sizing_inputs(contract)
        exp = self.exposure(contract)
        plan = sizing.plan_order_target_quantity(target, q, mult, exp.held, exp.working)
        return await self.execute_plan(contract, plan, order_type, strategy, dry_run)

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
        q, mult = await self._sizing_inputs(contract, target)
        exp = self.exposure(contract)
        plan = sizing.plan_order_target_value(target, q, mult, exp.held, exp.working)
        return await self.execute_plan(contract, plan, order_type, strategy, dry_run)

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
        q, mult = await self._sizing_inputs(contract, percent)
        plan = sizing.plan_order_percent(percent, self.checked_nlv(), q, mult)
        return await self.execute_plan(contract, plan, order_type, strategy, dry_run)

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
        q, mult = await self._sizing_inputs(contract, percent)
        exp = self.exposure(contract)
        plan = sizing.plan_order_target_percent(
            percent, self.checked_nlv(), q, mult, exp.held, exp.working
        )
        return await self.execute_plan(contract, plan, order_type, strategy, dry_run)
