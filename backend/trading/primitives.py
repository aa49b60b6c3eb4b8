"""The five order primitives of :class:`~livedesk.backend.trading.app.TradingApp`.

Each sizes an order from a quote (a combo's from its legs when their multipliers differ)
and the contract's held + working quantity (the position ledger), then sends it through
``send_order`` — the account guard and the pre-trade guard — or only checks it with
``dry_run``. Composition follows zipline: target percent -> percent -> value -> quantity.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ib_async import Contract, Order

from livedesk.backend.contracts import UnknownContract, describe
from livedesk.backend.trading import orders as sizing
from livedesk.backend.trading.orders import OrderPlan, Quote
from livedesk.backend.trading.results import OrderRefused, OrderResult

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

    async def _sizing_inputs(self, contract: Contract) -> tuple[Quote, float]:
        """The sizing price and multiplier; a BAG's from its legs when they differ."""
        refusals = self.account_guard.check()
        if refusals:
            raise OrderRefused(refusals)
        self._check_contract(contract)
        if contract.secType != "BAG":
            return await self.quote(contract), self.multiplier(contract)
        await self.bag_legs(contract)
        common = self.bags.common_multiplier(contract)
        if common is not None:
            return await self.quote(contract), common
        net, _ = await self.combo_unit_values(contract)
        return Quote(net, "legs"), 1.0

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
        """Trade the difference between ``target`` and held + working quantity."""
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
        q, mult = await self._sizing_inputs(contract)
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
        q, mult = await self._sizing_inputs(contract)
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
        q, mult = await self._sizing_inputs(contract)
        exp = self.exposure(contract)
        plan = sizing.plan_order_target_percent(
            percent, self.checked_nlv(), q, mult, exp.held, exp.working
        )
        return await self.execute_plan(contract, plan, order_type, strategy, dry_run)
