"""What the trading primitives return or raise: results, refusals and their reasons."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from ib_async import Contract, Order, Trade

from livedesk.backend.errors import SizingError
from livedesk.backend.trading.orders import OrderPlan, RebalancePlan

__all__ = [
    "OrderRefused",
    "OrderResult",
    "RebalanceRefused",
    "RebalanceResult",
    "WhatIfUnavailable",
]

FAILED_STATUSES = frozenset({"Cancelled", "ApiCancelled", "Inactive"})


class OrderRefused(SizingError):
    """The pre-trade or account guard refused an order; ``reasons`` says why."""

    def __init__(self, reasons: list[str] | tuple[str, ...]) -> None:
        self.reasons = tuple(reasons)
        super().__init__("order refused: " + "; ".join(self.reasons))


class RebalanceRefused(OrderRefused):
    """The whole-book check refused a rebalance; nothing was sent.

    ``legs`` maps each refused leg's key to its reasons; ``plan`` is the refused plan.
    """

    def __init__(
        self, plan: RebalancePlan, legs: Mapping[Hashable, tuple[str, ...]], labels: Mapping
    ) -> None:
        self.plan = plan
        self.legs = dict(legs)
        reasons = [f"leg {labels.get(k, k)}: {'; '.join(why)}" for k, why in self.legs.items()]
        super().__init__(
            [f"rebalance refused, nothing sent: {len(self.legs)} leg(s) fail the guard"] + reasons
        )


class WhatIfUnavailable(SizingError):
    """The gateway gave no usable what-if (margin preview) answer in time."""


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
    """A rebalance: the full plan, the trades sent (sells first) and what went wrong.

    ``error`` is empty unless sending stopped half-way (gateway error, disconnect); the
    results then hold every order already sent. ``stray_cancelled`` lists the keys whose
    working orders outside the targets were cancelled (see ``plan.stray_working``).
    """

    plan: RebalancePlan
    results: tuple[OrderResult, ...] = ()
    contracts: Mapping[Hashable, Contract] = field(default_factory=dict)
    error: str = ""
    stray_cancelled: tuple[Hashable, ...] = ()
    gross_leverage_after: float | None = None

    @property
    def trades(self) -> list[Trade]:
        """Trades actually sent."""
        return [r.trade for r in self.results if r.trade is not None]

    @property
    def complete(self) -> bool:
        """Every planned order was sent (or checked, in a dry run)."""
        return not self.error and len(self.results) == len(self.plan.orders)

    def states(self) -> dict[Hashable, str]:
        """The current status of each sent order, by leg key."""
        keys = [leg.key for leg in self.plan.orders]
        return {
            k: r.trade.orderStatus.status
            for k, r in zip(keys, self.results, strict=False)
            if r.trade is not None
        }

    def failed(self) -> list[Trade]:
        """Sent orders the gateway rejected or cancelled."""
        return [t for t in self.trades if t.orderStatus.status in FAILED_STATUSES]
