"""The legs of BAG (combo) contracts and what one unit of a combo is worth.

IB prices a combo as ``sum(sign * ratio * leg price)`` without the legs' multipliers, so a
combo whose legs have different multipliers (a buy-write: 100 shares, multiplier 1, and
one call, multiplier 100) has no single multiplier. One combo unit's dollar value is
therefore computed from its legs::

    net   = sum(sign * ratio * multiplier * price)   # what one unit costs (sizing)
    gross = sum(ratio * multiplier * |price|)        # the exposure it adds (the guard)
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

from ib_async import Contract

from livedesk.backend.contracts import UnknownContract, describe, multiplier_of
from livedesk.backend.trading.marketdata import contract_key

__all__ = ["BagBook", "BagLeg", "unit_values"]


@dataclass(frozen=True)
class BagLeg:
    """One resolved leg: its contract, ratio and sign (+1 BUY, -1 SELL as defined)."""

    contract: Contract
    ratio: int
    sign: int

    @property
    def multiplier(self) -> float:
        return multiplier_of(self.contract)


def unit_values(legs: Sequence[BagLeg], prices: Mapping[int, float]) -> tuple[float, float]:
    """(net, gross) dollar value of one combo unit at ``prices`` (by leg conId)."""
    net = gross = 0.0
    for leg in legs:
        value = leg.ratio * leg.multiplier * prices[leg.contract.conId]
        net += leg.sign * value
        gross += abs(value)
    return net, gross


class BagBook:
    """Resolved legs of every BAG this session has seen, by :func:`contract_key`."""

    def __init__(self) -> None:
        self._legs: dict[Hashable, tuple[BagLeg, ...]] = {}

    def register(self, bag: Contract, leg_contracts: Mapping[int, Contract]) -> tuple[BagLeg, ...]:
        """Record the legs of ``bag`` from resolved leg contracts (by conId)."""
        missing = [leg.conId for leg in bag.comboLegs if leg.conId not in leg_contracts]
        if missing or not bag.comboLegs:
            raise UnknownContract(
                describe(bag), f"combo legs without a resolved contract: {missing or 'no legs'}"
            )
        legs = tuple(
            BagLeg(
                leg_contracts[leg.conId],
                int(leg.ratio),
                1 if (leg.action or "").upper() == "BUY" else -1,
            )
            for leg in bag.comboLegs
        )
        self._legs[contract_key(bag)] = legs
        return legs

    def legs(self, bag: Contract) -> tuple[BagLeg, ...] | None:
        """The resolved legs of ``bag``, or None if it has not been registered."""
        return self._legs.get(contract_key(bag))

    def common_multiplier(self, bag: Contract) -> float | None:
        """The legs' multiplier when they all share one (the combo price's unit), else None."""
        legs = self._legs.get(contract_key(bag))
        if not legs:
            return None
        mults = {leg.multiplier for leg in legs}
        return mults.pop() if len(mults) == 1 else None
