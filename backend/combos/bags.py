"""The legs of BAG (combo) contracts and what one unit of a combo is worth.

IB prices a combo as ``sum(sign * ratio * leg price)`` without the legs' multipliers, so a
combo whose legs have different multipliers (a buy-write: 100 shares, multiplier 1, and
one call, multiplier 100) has no single multiplier. One combo unit's dollar value is
therefore computed from its legs::

    net   = sum(sign * ratio * multiplier * price)   # what one unit costs (sizing)
    gross = sum(ratio * multiplier * |price|)        # the exposure it adds (the guard)
"""

from __future__ import annotations

import math
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


OPTION_TYPES = frozenset({"OPT", "FOP"})


def defined_risk(legs: Sequence[BagLeg], net: float, side: int = 1) -> float | None:
    """Max loss in dollars of one combo unit bought (``side`` +1) or sold (-1) at ``net``
    dollars a unit (:func:`unit_values`' net; negative for a credit), held to expiry.

    Exact for option legs of one expiry: the payoff is piecewise linear with kinks at the
    strikes. None when the loss is unbounded (more calls sold than bought, or a sold put
    spread below zero cannot be: puts are bounded at 0), a leg is not an option, the
    expiries differ, or the combo cannot lose (nothing to size by).
    """
    if not legs or any(leg.contract.secType not in OPTION_TYPES for leg in legs):
        return None
    if len({leg.contract.lastTradeDateOrContractMonth for leg in legs}) != 1:
        return None
    strikes = sorted({float(leg.contract.strike) for leg in legs})

    def payoff(x: float) -> float:
        value = 0.0
        for leg in legs:
            k, call = float(leg.contract.strike), leg.contract.right.upper().startswith("C")
            intrinsic = max(x - k, 0.0) if call else max(k - x, 0.0)
            value += leg.sign * leg.ratio * leg.multiplier * intrinsic
        return side * (value - net)

    slope = side * sum(
        leg.sign * leg.ratio * leg.multiplier
        for leg in legs
        if leg.contract.right.upper().startswith("C")
    )
    if slope < 0:
        return None
    loss = -min(payoff(x) for x in (0.0, *strikes))
    return loss if math.isfinite(loss) and loss > 0 else None
