"""What the pre-trade guard is told about an order: exposure, prices and the account's gross."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ib_async import IB, Contract, Order

from livedesk.backend.contracts import describe, multiplier_of
from livedesk.backend.trading import orders as sizing
from livedesk.backend.trading.guard import OrderIntent
from livedesk.backend.trading.ledger import Exposure, PositionLedger
from livedesk.backend.trading.marketdata import MarketData, finite

__all__ = ["ExposureView", "order_intent"]


def order_intent(
    contract: Contract,
    order: Order,
    reference: float | None,
    exposure: Exposure,
    *,
    nlv: float | None,
    gross_exposure: float,
    multiplier: float | None = None,
    unit_notional: float | None = None,
) -> OrderIntent:
    """The guard's view of ``order``: its prices, the contract's held and working quantity."""
    typ = order.orderType
    if multiplier is None:
        multiplier = 1.0 if contract.secType == "BAG" else multiplier_of(contract)
    return OrderIntent(
        action=order.action,
        quantity=float(order.totalQuantity),
        order_type=typ,
        limit_price=order.lmtPrice if typ in ("LMT", "STP LMT") else None,
        stop_price=order.auxPrice if typ in ("STP", "STP LMT") else None,
        contract=describe(contract),
        sec_type=contract.secType,
        multiplier=multiplier,
        unit_notional=unit_notional,
        reference_price=reference,
        position=exposure.held,
        working=exposure.working,
        nlv=nlv,
        gross_exposure=gross_exposure,
    )


class ExposureView:
    """Dollar exposure of the account: held positions and working orders at current prices."""

    def __init__(
        self,
        ib: IB,
        account: Callable[[], str],
        ledger: PositionLedger,
        market_data: MarketData,
    ) -> None:
        self.ib = ib
        self.account = account
        self.ledger = ledger
        self.market_data = market_data

    def unit_values(self) -> dict[int, float]:
        """Dollar value of one unit (price x multiplier) of every contract we can price.

        Best source last: position average cost, a working order's limit, the portfolio's
        market price, then a streaming quote.
        """
        account = self.account()
        out: dict[int, float] = {}
        for p in self.ib.positions(account):
            if finite(p.avgCost) and p.avgCost:
                out[p.contract.conId] = abs(p.avgCost)  # IB's avgCost includes the multiplier
        for t in self.ib.openTrades():
            c, lmt = t.contract, t.order.lmtPrice
            if c.secType != "BAG" and c.conId not in out and sizing.is_usable_price(lmt):
                out[c.conId] = lmt * multiplier_of(c)
        for item in self.ib.portfolio(account):
            if sizing.is_usable_price(item.marketPrice):
                out[item.contract.conId] = item.marketPrice * multiplier_of(item.contract)
        marks = self.market_data.marks()
        for key, t in self.market_data.tickers.items():
            if key in marks:
                out[key] = marks[key] * multiplier_of(t.contract)
        return out

    def gross_exposure(self, snapshot: Mapping[int, Exposure] | None = None) -> float:
        """Gross exposure of held positions and working orders, at the latest prices."""
        snap = self.ledger.snapshot() if snapshot is None else snapshot
        values = self.unit_values()
        return sum(abs(e.total) * values.get(k, 0.0) for k, e in snap.items())
