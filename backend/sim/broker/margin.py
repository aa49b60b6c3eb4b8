"""Margin model of the simulated account (what ``InitMarginReq``, ``MaintMarginReq`` and what-if
orders report).

* **Stocks and ETFs** -- Reg-T: initial 50 % of the absolute market value; maintenance 25 %
  long, 30 % short.
* **Futures** -- exchange-style fixed amounts per contract, long or short:

  =====  ========  ===========
  sym    initial   maintenance
  =====  ========  ===========
  CL     $6,000    $5,500
  HO     $7,000    $6,300
  RB     $7,000    $6,300
  ES     $16,000   $14,500
  NQ     $24,000   $22,000
  MES    $1,600    $1,450
  =====  ========  ===========

* **Forex** (IDEALPRO, CASH) -- 3 % of the position's dollar value, initial and maintenance.

* **Long options** -- no margin: the premium is paid in full (cash falls by the debit).
* **Short options, naked** -- the CBOE standard formula, per contract::

      100 * (option price + max(20 % * S - OTM amount, 10 % * S (calls) or 10 % * K (puts)))

  where ``S`` is the underlying price and the OTM amount ``max(K - S, 0)`` for a call,
  ``max(S - K, 0)`` for a put.
* **Defined-risk spreads** -- option positions are grouped by underlying and expiry.  When
  the group's payoff at expiry is bounded below (it never holds more short calls than long
  calls), its margin is the smaller of (a) its maximum loss at expiry -- the lowest value of
  the payoff, premiums excluded because they already sit in cash -- and (b) the sum of the
  naked margins of its short legs.  So a short vertical needs its strike width, an iron
  condor the width of its wider wing, a long straddle nothing, and a lone short put the naked
  formula.  Groups with net short calls (unbounded loss) use (b).  No offsets are taken
  across expiries, or between options and stock.

Maintenance margin equals initial margin for options.  Everything is in account currency;
option and future values use the contract multiplier.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from livedesk.backend.sim.broker.account import Holding, Margin, stock_margin
from livedesk.backend.sim.market.instruments import Instrument

FUTURES_MARGIN: dict[str, tuple[float, float]] = {
    "CL": (6000.0, 5500.0),
    "HO": (7000.0, 6300.0),
    "RB": (7000.0, 6300.0),
    "ES": (16000.0, 14500.0),
    "NQ": (24000.0, 22000.0),
    "MES": (1600.0, 1450.0),
}
FOREX_RATE = 0.03
DEFAULT_FUTURES_MARGIN = (5000.0, 4500.0)
NAKED_RATE = 0.20
NAKED_MIN_RATE = 0.10


def naked_option_margin(inst: Instrument, qty: float, option_price: float, und: float) -> float:
    """CBOE margin of ``qty`` short contracts of ``inst`` (qty taken as absolute)."""
    if inst.right == "C":
        otm = max(inst.strike - und, 0.0)
        floor = NAKED_MIN_RATE * und
    else:
        otm = max(und - inst.strike, 0.0)
        floor = NAKED_MIN_RATE * inst.strike
    per_share = option_price + max(NAKED_RATE * und - otm, floor)
    return abs(qty) * inst.multiplier * per_share


def expiry_payoff(legs: Iterable[tuple[Instrument, float]], und: float) -> float:
    """Value at expiry of option positions ``(instrument, signed qty)`` at underlying ``und``."""
    total = 0.0
    for inst, qty in legs:
        intrinsic = (
            max(und - inst.strike, 0.0) if inst.right == "C" else max(inst.strike - und, 0.0)
        )
        total += qty * inst.multiplier * intrinsic
    return total


def max_loss(legs: list[tuple[Instrument, float]]) -> float | None:
    """The largest loss of the expiry payoff (>= 0), or None when it is unbounded."""
    if sum(q for inst, q in legs if inst.right == "C") < -1e-9:
        return None
    points = [0.0, *(inst.strike for inst, _ in legs)]
    return max(0.0, -min(expiry_payoff(legs, s) for s in points))


class MarginModel:
    """Portfolio margin of a set of holdings under the rules above."""

    def __init__(self, instrument: Callable[[int], Instrument | None]) -> None:
        self.instrument = instrument

    def margin(
        self,
        holdings: Iterable[Holding],
        prices: Mapping[int, float],
        price_of: Callable[[int], float],
    ) -> Margin:
        """Initial and maintenance margin; ``price_of`` prices underlyings not held."""
        init = maint = 0.0
        groups: dict[tuple[int, str], list[tuple[Instrument, float]]] = {}
        for h in holdings:
            if h.qty == 0:
                continue
            inst = self.instrument(h.con_id)
            kind = inst.sec_type if inst else "STK"
            if kind == "OPT":
                key = (inst.underlying_con_id, inst.last_trade_date)
                groups.setdefault(key, []).append((inst, h.qty))
            elif kind == "CASH":
                value = abs(h.qty * prices[h.con_id] * h.multiplier)
                init += FOREX_RATE * value
                maint += FOREX_RATE * value
            elif kind == "FUT":
                i, m = FUTURES_MARGIN.get(inst.symbol, DEFAULT_FUTURES_MARGIN)
                init += abs(h.qty) * i
                maint += abs(h.qty) * m
            else:
                sm = stock_margin(h, prices[h.con_id])
                init += sm.initial
                maint += sm.maintenance
        for (und_id, _), legs in groups.items():
            und = price_of(und_id)
            naked = sum(
                naked_option_margin(inst, q, prices.get(inst.con_id, 0.0), und)
                for inst, q in legs
                if q < 0
            )
            bounded = max_loss(legs)
            need = naked if bounded is None else min(bounded, naked)
            init += need
            maint += need
        return Margin(init, maint)
