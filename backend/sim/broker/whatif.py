"""What-if orders: margin and commission impact of an order without placing it.

The order is filled hypothetically at the current marks (every leg of a BAG at its own
mark) on a copy of the account; margins come from :mod:`livedesk.backend.sim.broker.margin`.
"""

from __future__ import annotations

from ib_async import Order, OrderState

from livedesk.backend.sim.broker.book import SimBroker, ib_commission
from livedesk.backend.sim.market.instruments import Instrument


def what_if_fills(
    broker: SimBroker, legs: list[tuple[Instrument, float]], order: Order, now: float
) -> list[tuple[Instrument, float, float]]:
    """Hypothetical fills ``(instrument, signed qty, price)`` of an order's legs.

    ``legs`` holds ``(instrument, signed units per order unit)``: ``[(inst, 1)]`` for a
    single contract, ``(leg, sign * ratio)`` for each BAG leg.
    """
    side = 1 if order.action.upper() == "BUY" else -1
    qty = float(order.totalQuantity)
    return [(inst, side * per_unit * qty, broker.mark(inst.con_id, now)) for inst, per_unit in legs]


def what_if_state(
    broker: SimBroker,
    fills: list[tuple[Instrument, float, float]],
    now: float,
    before: dict[str, float],
) -> OrderState:
    """The OrderState TWS returns for a what-if order: margins before/change/after, commission."""
    trial = broker.trial(fills, commission=True)
    after = broker.account_values(now, trial)
    commission = sum(ib_commission(inst, abs(q), p) for inst, q, p in fills)

    def money(x: float) -> str:
        return f"{x:.2f}"

    return OrderState(
        status="PreSubmitted",
        initMarginBefore=money(before["InitMarginReq"]),
        maintMarginBefore=money(before["MaintMarginReq"]),
        equityWithLoanBefore=money(before["EquityWithLoanValue"]),
        initMarginChange=money(after["InitMarginReq"] - before["InitMarginReq"]),
        maintMarginChange=money(after["MaintMarginReq"] - before["MaintMarginReq"]),
        equityWithLoanChange=money(after["EquityWithLoanValue"] - before["EquityWithLoanValue"]),
        initMarginAfter=money(after["InitMarginReq"]),
        maintMarginAfter=money(after["MaintMarginReq"]),
        equityWithLoanAfter=money(after["EquityWithLoanValue"]),
        commission=commission,
        minCommission=commission,
        maxCommission=commission,
        commissionCurrency=broker.account.currency,
        warningText="",
    )
