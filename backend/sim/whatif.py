"""What-if orders: margin and commission impact of an order without placing it."""

from __future__ import annotations

from ib_async import Order, OrderState

from backend.sim.account import Holding, SimAccount
from backend.sim.broker import SimBroker, ib_commission
from backend.sim.instruments import Instrument


def what_if_state(
    broker: SimBroker, inst: Instrument, order: Order, now: float, before: dict[str, float]
) -> OrderState:
    """The OrderState TWS returns for a what-if order: margins before/change/after, commission."""
    acct = broker.account
    price = broker.mark(inst.con_id, now)
    sign = 1 if order.action.upper() == "BUY" else -1
    qty = float(order.totalQuantity)
    trial = SimAccount(
        acct.account_id,
        cash=acct.cash,
        holdings={
            k: Holding(h.con_id, h.qty, h.avg_cost, h.realized, h.multiplier)
            for k, h in acct.holdings.items()
        },
    )
    commission = ib_commission(inst, qty, price)
    trial.apply_fill(inst.con_id, sign * qty, price, inst.multiplier, commission)
    prices = broker.marks(now)
    prices[inst.con_id] = price
    after = trial.values(prices, broker._margin_fn)

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
        commissionCurrency=acct.currency,
        warningText="",
    )
