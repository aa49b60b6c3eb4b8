"""Simulated brokerage account: cash, holdings, realized PnL and a Reg-T style margin model.

Conventions follow IB's reporting:

* ``avg_cost`` is per unit *including* the contract multiplier and commissions
  (an option bought at 2.50 shows an average cost of 250 plus commission per contract).
* Realized PnL includes commissions of the closing trades; it is kept per holding for the
  current session and reset by :meth:`SimAccount.roll_session`.
* Margin (documented in the README's "simulated market model"): stocks need 50 % of the
  absolute market value as initial margin and 25 % (long) / 30 % (short) as maintenance
  margin; buying power is available funds divided by the initial rate (2× for Reg-T).
  Derivative margin comes from a portfolio model (:mod:`livedesk.backend.sim.broker.margin`) passed to
  :meth:`SimAccount.values`, or per instrument from a ``margin_fn`` hook.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

INITIAL_RATE = 0.50
MAINT_LONG_RATE = 0.25
MAINT_SHORT_RATE = 0.30


@dataclass
class Holding:
    """One position of the account."""

    con_id: int
    qty: float = 0.0
    avg_cost: float = 0.0
    realized: float = 0.0
    multiplier: float = 1.0
    day_traded: float = 0.0  # signed quantity bought (+) and sold (-) this session
    day_flow: float = 0.0  # cash paid for those fills this session, commissions included

    def daily_pnl(self, price: float, prev_close: float) -> float:
        """PnL of this session: the position held at its start from ``prev_close``, each
        fill of the session from its own price (so a position opened today counts from its
        fill, not from the previous close)."""
        held_at_start = self.qty - self.day_traded
        return (self.qty * price - held_at_start * prev_close) * self.multiplier - self.day_flow


@dataclass(frozen=True)
class Margin:
    """Initial and maintenance margin of a set of holdings, in account currency."""

    initial: float
    maintenance: float


MarginFn = Callable[[Holding, float], Margin]


def stock_margin(holding: Holding, price: float) -> Margin:
    """Reg-T margin of a stock holding at ``price``."""
    value = abs(holding.qty * price * holding.multiplier)
    maint = MAINT_LONG_RATE if holding.qty > 0 else MAINT_SHORT_RATE
    return Margin(INITIAL_RATE * value, maint * value)


@dataclass
class SimAccount:
    """Cash and holdings of one simulated account."""

    account_id: str = "DU0000001"
    currency: str = "USD"
    cash: float = 1_000_000.0
    holdings: dict[int, Holding] = field(default_factory=dict)
    session_start_nlv: float | None = None
    commissions_today: float = 0.0

    def position(self, con_id: int) -> float:
        """Signed quantity held of ``con_id`` (0 when flat)."""
        h = self.holdings.get(con_id)
        return h.qty if h else 0.0

    def apply_fill(
        self, con_id: int, signed_qty: float, price: float, multiplier: float, commission: float
    ) -> float:
        """Book a fill; return the realized PnL it produced (0.0 for an opening fill)."""
        if signed_qty == 0 or not math.isfinite(price):
            raise ValueError("a fill needs a non-zero quantity and a finite price")
        h = self.holdings.setdefault(con_id, Holding(con_id, multiplier=multiplier))
        self.cash -= signed_qty * price * multiplier + commission
        self.commissions_today += commission
        h.day_traded += signed_qty
        h.day_flow += signed_qty * price * multiplier + commission
        unit = price * multiplier
        realized = 0.0
        if h.qty == 0 or (h.qty > 0) == (signed_qty > 0):
            total = abs(h.qty) * h.avg_cost + abs(signed_qty) * unit + commission
            h.qty += signed_qty
            h.avg_cost = total / abs(h.qty)
        else:
            closing = min(abs(signed_qty), abs(h.qty))
            opening = abs(signed_qty) - closing
            close_comm = commission * closing / abs(signed_qty)
            direction = 1.0 if h.qty > 0 else -1.0
            realized = closing * (unit - h.avg_cost) * direction - close_comm
            h.realized += realized
            h.qty += signed_qty
            if abs(h.qty) < 1e-9:
                h.qty = 0.0
                h.avg_cost = 0.0
            elif opening > 0:
                h.avg_cost = unit + (commission - close_comm) / opening
        return realized

    def gross_position_value(self, prices: Mapping[int, float]) -> float:
        """Sum of absolute market values."""
        return sum(abs(h.qty * prices[h.con_id] * h.multiplier) for h in self._open())

    def net_liquidation(self, prices: Mapping[int, float]) -> float:
        """Cash plus the signed market value of every holding."""
        return self.cash + sum(h.qty * prices[h.con_id] * h.multiplier for h in self._open())

    def unrealized(self, prices: Mapping[int, float]) -> float:
        """Unrealized PnL of the open holdings against their average cost."""
        return sum(h.qty * (prices[h.con_id] * h.multiplier - h.avg_cost) for h in self._open())

    def realized_today(self) -> float:
        """Realized PnL of the session, commissions included."""
        return sum(h.realized for h in self.holdings.values())

    def margin(
        self, prices: Mapping[int, float], margin_fn: Callable[[Holding], MarginFn]
    ) -> Margin:
        """Total initial and maintenance margin of the open holdings."""
        init = maint = 0.0
        for h in self._open():
            m = margin_fn(h)(h, prices[h.con_id])
            init += m.initial
            maint += m.maintenance
        return Margin(init, maint)

    def values(
        self,
        prices: Mapping[int, float],
        margin_fn: Callable[[Holding], MarginFn],
        margin: Margin | None = None,
    ) -> dict[str, float]:
        """The account values IB reports (NetLiquidation, BuyingPower, …).

        ``margin`` overrides the per-holding ``margin_fn`` total (portfolio margin models).
        """
        nlv = self.net_liquidation(prices)
        m = margin if margin is not None else self.margin(prices, margin_fn)
        available = nlv - m.initial
        if self.session_start_nlv is None:
            self.session_start_nlv = nlv
        gross = self.gross_position_value(prices)
        return {
            "NetLiquidation": nlv,
            "TotalCashValue": self.cash,
            "CashBalance": self.cash,
            "SettledCash": self.cash,
            "GrossPositionValue": gross,
            "EquityWithLoanValue": nlv,
            "InitMarginReq": m.initial,
            "MaintMarginReq": m.maintenance,
            "FullInitMarginReq": m.initial,
            "FullMaintMarginReq": m.maintenance,
            "AvailableFunds": available,
            "FullAvailableFunds": available,
            "ExcessLiquidity": nlv - m.maintenance,
            "FullExcessLiquidity": nlv - m.maintenance,
            "BuyingPower": max(available, 0.0) / INITIAL_RATE,
            "Cushion": (nlv - m.maintenance) / nlv if nlv else 0.0,
            "Leverage-S": gross / nlv if nlv else 0.0,
            "UnrealizedPnL": self.unrealized(prices),
            "RealizedPnL": self.realized_today(),
            "DailyPnL": nlv - self.session_start_nlv,
            "PreviousDayEquityWithLoanValue": self.session_start_nlv,
        }

    def roll_session(self, prices: Mapping[int, float]) -> None:
        """Start a new session: reset daily realized PnL and the daily-PnL anchor."""
        for h in self.holdings.values():
            h.realized = 0.0
            h.day_traded = h.day_flow = 0.0
        self.holdings = {k: h for k, h in self.holdings.items() if h.qty != 0}
        self.commissions_today = 0.0
        self.session_start_nlv = self.net_liquidation(prices)

    def copy(self) -> SimAccount:
        """An independent copy (for what-if and margin trials)."""
        return SimAccount(
            self.account_id,
            self.currency,
            self.cash,
            {
                k: Holding(
                    h.con_id, h.qty, h.avg_cost, h.realized, h.multiplier, h.day_traded, h.day_flow
                )
                for k, h in self.holdings.items()
            },
            self.session_start_nlv,
            self.commissions_today,
        )

    def _open(self) -> list[Holding]:
        return [h for h in self.holdings.values() if h.qty != 0]
