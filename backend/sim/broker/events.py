"""What the simulated broker tells the gateway: order updates, fills, portfolio changes."""

from __future__ import annotations

from dataclasses import dataclass

from ib_async import CommissionReport, Contract, Execution

from livedesk.backend.sim.broker.matching import SimOrder


@dataclass(frozen=True)
class OrderUpdate:
    """An order's state changed: send openOrder + orderStatus to its owner."""

    order: SimOrder


@dataclass(frozen=True)
class FillEvent:
    """One execution of an order, with its commission report."""

    order: SimOrder
    contract: Contract
    execution: Execution
    report: CommissionReport


@dataclass(frozen=True)
class PortfolioChanged:
    """Positions or cash changed: push positions, portfolio and account values."""

    con_ids: tuple[int, ...]


Event = OrderUpdate | FillEvent | PortfolioChanged
