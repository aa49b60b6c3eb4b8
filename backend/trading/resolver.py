"""Contract resolution: qualify through ``reqContractDetails``, front months, BAG legs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from ib_async import IB, Contract

from livedesk.backend.broker.pacing import PacingScheduler
from livedesk.backend.combos.bags import BagBook, BagLeg
from livedesk.backend.contracts import (
    AmbiguousContract,
    ComboSpec,
    ContractError,
    UnknownContract,
    build_bag,
    describe,
    front_month,
    multiplier_of,
)

__all__ = ["ContractResolver"]


class ContractResolver:
    """Qualifies contracts and remembers the resolved legs of every BAG."""

    def __init__(self, ib: IB, pacing: PacingScheduler, today: Callable[[], dt.date]) -> None:
        self.ib = ib
        self.pacing = pacing
        self.today = today
        self.bags = BagBook()

    async def resolve(self, contract: Contract | ComboSpec) -> Contract:
        """A fully qualified contract; front month for futures without a month; BAG for a spread.

        A BAG passed in (not built here) has each leg resolved by conId.
        """
        if isinstance(contract, ComboSpec):
            legs = [
                (await self.resolve(leg.contract), leg.ratio, leg.action) for leg in contract.legs
            ]
            bag = build_bag(legs, today=self.today(), exchange=contract.exchange)
            self.bags.register(bag, {c.conId: c for c, _, _ in legs})
            return bag
        if contract.secType == "BAG":
            await self.bag_legs(contract)
            return contract
        return await self.details(contract)

    async def details(self, contract: Contract) -> Contract:
        """The one contract the gateway knows for ``contract`` (front month for a bare future)."""
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

    async def bag_legs(self, bag: Contract) -> tuple[BagLeg, ...]:
        """The resolved legs of a BAG (each leg resolved by conId the first time)."""
        legs = self.bags.legs(bag)
        if legs is not None:
            return legs
        if not bag.comboLegs:
            raise UnknownContract(describe(bag), "a BAG needs combo legs")
        no_id = [i + 1 for i, leg in enumerate(bag.comboLegs) if not leg.conId]
        if no_id:
            raise UnknownContract(
                describe(bag), f"combo leg(s) {no_id} have no conId; build it with spread()"
            )
        resolved = {}
        for leg in bag.comboLegs:
            resolved[leg.conId] = await self.details(Contract(conId=leg.conId))
        return self.bags.register(bag, resolved)

    def multiplier(self, contract: Contract) -> float:
        """The contract multiplier; a BAG's is its legs' common one (ContractError if mixed)."""
        if contract.secType != "BAG":
            return multiplier_of(contract)
        common = self.bags.common_multiplier(contract)
        if common is None:
            raise ContractError(
                f"{describe(contract)}: legs unresolved or with different multipliers; "
                "its unit value comes from the legs (see TradingApp.combo_unit_values)"
            )
        return common
