"""``context.portfolio`` and ``context.account`` from the broker's account, with zipline's names.

Positions are the account's (``TradingApp.positions``), keyed by the bundle's assets;
``cash`` is ``TotalCashValue``, ``portfolio_value`` ``NetLiquidation``. Read-only
snapshots, rebuilt each time the algorithm reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Position:
    """One held asset (zipline's attribute names)."""

    asset: Any
    amount: float
    cost_basis: float
    last_sale_price: float
    last_sale_date: Any = None

    @property
    def sid(self) -> Any:
        return self.asset


class Positions(dict):
    """Positions by asset; a missing asset reads as a zero position (as in zipline)."""

    def __missing__(self, key: Any) -> Position:
        return Position(key, 0, 0.0, 0.0)


@dataclass(frozen=True)
class Portfolio:
    """zipline's ``Portfolio`` fields from the live account."""

    positions: Positions
    cash: float
    portfolio_value: float
    positions_value: float
    starting_cash: float
    pnl: float
    returns: float
    start_date: Any = None
    positions_exposure: float = 0.0
    cash_flow: float = 0.0

    @property
    def capital_used(self) -> float:
        return self.cash_flow

    @property
    def current_portfolio_weights(self):
        import pandas as pd

        values = {a: p.last_sale_price * p.amount for a, p in self.positions.items()}
        return pd.Series(values, dtype=float) / self.portfolio_value


@dataclass(frozen=True)
class Account:
    """zipline's ``Account`` fields from the account values IB reports."""

    net_liquidation: float
    settled_cash: float
    buying_power: float
    equity_with_loan: float
    total_positions_value: float
    total_positions_exposure: float
    regt_equity: float
    regt_margin: float
    initial_margin_requirement: float
    maintenance_margin_requirement: float
    available_funds: float
    excess_liquidity: float
    cushion: float
    day_trades_remaining: float
    leverage: float
    net_leverage: float
    accrued_interest: float = 0.0
    values: dict[str, float] = field(default_factory=dict, repr=False)


def account_values(ib, account: str) -> dict[str, float]:
    """The numeric USD/BASE account values of ``account`` by tag."""
    out: dict[str, float] = {}
    for v in ib.accountValues(account):
        if v.currency not in ("USD", "BASE", ""):
            continue
        try:
            out.setdefault(v.tag, float(v.value))
        except (TypeError, ValueError):
            continue
    return out


def make_account(values: dict[str, float], nlv: float, gross: float, net: float) -> Account:
    """The zipline-style account from IB's tags (``nan`` where IB reports none)."""
    nan = float("nan")

    def get(tag: str, default: float = nan) -> float:
        return values.get(tag, default)

    return Account(
        net_liquidation=nlv,
        settled_cash=get("SettledCash", get("TotalCashValue")),
        buying_power=get("BuyingPower", float("inf")),
        equity_with_loan=get("EquityWithLoanValue", nlv),
        total_positions_value=net,
        total_positions_exposure=net,
        regt_equity=get("RegTEquity"),
        regt_margin=get("RegTMargin", float("inf")),
        initial_margin_requirement=get("InitMarginReq", 0.0),
        maintenance_margin_requirement=get("MaintMarginReq", 0.0),
        available_funds=get("AvailableFunds"),
        excess_liquidity=get("ExcessLiquidity"),
        cushion=get("Cushion"),
        day_trades_remaining=get("DayTradesRemaining", float("inf")),
        leverage=gross / nlv if nlv else 0.0,
        net_leverage=net / nlv if nlv else 0.0,
        values=dict(values),
    )
