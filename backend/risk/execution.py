"""Execution quality: slippage against the arrival mid, commissions, and their drag on returns.

Definitions (all in basis points, positive = a cost):

* slippage of a fill = ``sign * (price - arrival_mid) / |arrival_mid| * 1e4``, with
  ``sign = +1`` for a buy and ``-1`` for a sell — a buy filled above the mid, or a sell
  filled below it, cost money. The arrival mid is the bid/ask midpoint journalled when the
  order was submitted.
* a combo (BAG) order is measured as one order: its net fill price (the legs' prices,
  signed and weighted by their ratios) against the combo's net arrival mid, in bps of
  ``|net mid| × multiplier × quantity`` — so credits and debits, buys and sells all read
  positive = cost. When ``|net mid|`` is below :data:`MIN_BPS_MID` bps mean nothing and the
  slippage is given in dollars per unit (:class:`OrderSlippage`).
* commission of a fill = ``commission / (|qty| * price * multiplier) * 1e4``.
* annualised drag, in bps of NetLiquidation::

      drag = sum_i(cost_bps_i * notional_i) / NLV * (365.25 / span_days)

  i.e. the money lost to slippage and commissions over the observed span, as a fraction of
  the account, scaled to a year. Example from the seed: 40 trades a month at 6 bps each,
  each trade 1/12 of NLV (a 12-name equal-weight book), is 6 × 40 × 12 / 12 = 240 bps a
  year ≈ 250 bps.

A fill without a usable arrival mid has NaN slippage: it is left out of the slippage
statistics and contributes its commission only to the drag.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

DAYS_PER_YEAR = 365.25
MIN_BPS_MID = 0.10
"""Below this |arrival mid| (price units) slippage is shown in $ per unit, not bps."""
_SIGNS = {"BUY": 1, "BOT": 1, "SELL": -1, "SLD": -1}


def side_sign(side: str) -> int:
    """+1 for a buy (``BUY``/``BOT``), -1 for a sell (``SELL``/``SLD``)."""
    try:
        return _SIGNS[side.upper()]
    except KeyError:
        raise ValueError(f"unknown side {side!r}; expected BUY/BOT or SELL/SLD") from None


def slippage_bps(side: str, price: float, arrival_mid: float | None) -> float:
    """Sign-aware slippage of a fill against the arrival mid (NaN without a usable mid).

    The mid may be negative (a combo sold for a credit); below :data:`MIN_BPS_MID` in
    absolute value bps mean nothing and the result is NaN (see :func:`order_slippage`).
    """
    if arrival_mid is None or not math.isfinite(arrival_mid) or abs(arrival_mid) < MIN_BPS_MID:
        return math.nan
    return side_sign(side) * (price - arrival_mid) / abs(arrival_mid) * 1e4


@dataclass(frozen=True)
class OrderSlippage:
    """Slippage of one order: positive is a cost, for buys and sells, credits and debits."""

    per_unit: float
    """Dollars per unit of quantity (price difference × multiplier)."""
    bps: float
    """Of the notional at the arrival mid; NaN when ``|mid|`` is below :data:`MIN_BPS_MID`."""
    notional: float
    """``|arrival mid| × multiplier × |quantity|``."""

    def text(self) -> str:
        """``+11.1 bps``, or ``$+2.00/u`` when bps mean nothing; "" when unknown."""
        if math.isfinite(self.bps):
            return f"{self.bps:+.1f} bps"
        if math.isfinite(self.per_unit):
            return f"${self.per_unit:+,.2f}/u"
        return ""


def order_slippage(
    side: str, avg_price: float, arrival_mid: float | None, multiplier: float, quantity: float
) -> OrderSlippage:
    """Slippage of an order filled at ``avg_price`` (a combo: its net price) vs the arrival mid."""
    if arrival_mid is None or not (math.isfinite(arrival_mid) and math.isfinite(avg_price)):
        return OrderSlippage(math.nan, math.nan, math.nan)
    mult = float(multiplier or 1.0)
    per_unit = side_sign(side) * (avg_price - arrival_mid) * mult
    return OrderSlippage(
        per_unit,
        slippage_bps(side, avg_price, arrival_mid),
        abs(arrival_mid) * mult * abs(quantity),
    )


def combo_net_price(order_side: str, legs: Iterable[tuple[str, float, float]]) -> float:
    """The combo price of leg executions ``(execution side, ratio, price)`` of one order.

    A leg's sign in the combo is its execution side relative to the order's side, so the
    result is in the order's own convention (the one of its limit and arrival mid).
    """
    s = side_sign(order_side)
    return sum(side_sign(e) * s * ratio * price for e, ratio, price in legs)


def commission_bps(
    commission: float | None, qty: float, price: float, multiplier: float = 1.0
) -> float:
    """Commission as bps of the fill's notional (NaN when unknown or the notional is zero)."""
    notional = abs(qty) * price * multiplier
    if commission is None or not notional > 0:
        return math.nan
    return commission / notional * 1e4


@dataclass(frozen=True)
class FillCost:
    """The cost of one fill."""

    exec_id: str
    strategy: str | None
    notional: float
    slippage_bps: float
    commission_bps: float

    @property
    def total_bps(self) -> float:
        """Slippage plus commission, counting an unknown part as zero."""
        return sum(x for x in (self.slippage_bps, self.commission_bps) if not math.isnan(x))


@dataclass(frozen=True)
class Distribution:
    """Summary of a sample of bps values (NaN excluded)."""

    count: int
    mean: float
    median: float
    p5: float
    p95: float
    hist_counts: tuple[int, ...]
    hist_edges: tuple[float, ...]


@dataclass(frozen=True)
class ExecutionSummary:
    """Per-strategy execution quality."""

    strategy: str | None
    fills: int
    notional: float
    slippage: Distribution
    commission: Distribution
    drag_bps_per_year: float
    drag_reason: str = ""
    """Why the drag per year is not shown (too few sessions), "" when it is."""


def distribution(values: Iterable[float], bins: int = 10) -> Distribution:
    """Count, mean, median, 5th/95th percentiles and a ``bins``-bin histogram."""
    arr = np.asarray(list(values), dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return Distribution(0, math.nan, math.nan, math.nan, math.nan, (), ())
    counts, edges = np.histogram(arr, bins=bins)
    p5, median, p95 = np.percentile(arr, [5, 50, 95])
    return Distribution(
        int(arr.size),
        float(arr.mean()),
        float(median),
        float(p5),
        float(p95),
        tuple(int(c) for c in counts),
        tuple(float(e) for e in edges),
    )


def annualised_drag_bps(costs: Iterable[FillCost], nlv: float, span_days: float) -> float:
    """Slippage and commission lost over ``span_days``, in bps of ``nlv`` per year."""
    if not nlv > 0 or not span_days > 0:
        raise ValueError("nlv and span_days must be positive")
    money_bps = sum(c.total_bps * c.notional for c in costs)
    return money_bps / nlv * (DAYS_PER_YEAR / span_days)


def fill_costs(
    orders: Sequence[Mapping],
    fills: Iterable[Mapping],
    multipliers: Mapping[int, float] | None = None,
) -> list[FillCost]:
    """Costs of journalled fills, each matched to its order's arrival mid.

    ``orders`` and ``fills`` are rows as returned by :class:`livedesk.backend.journal.Journal`; a fill
    is matched by ``perm_id`` when both carry one, else by ``order_id`` (latest order wins).
    ``multipliers`` maps ``con_id`` to the contract multiplier (default 1).
    """
    by_perm = {o["perm_id"]: o for o in orders if o.get("perm_id")}
    by_id = {o["order_id"]: o for o in orders}
    out = []
    for f in fills:
        order = by_perm.get(f.get("perm_id")) or by_id.get(f.get("order_id"))
        mid = order.get("arrival_mid") if order else None
        mult = (multipliers or {}).get(f.get("con_id"), 1.0)
        out.append(
            FillCost(
                exec_id=f["exec_id"],
                strategy=f.get("strategy"),
                notional=abs(f["qty"]) * f["price"] * mult,
                slippage_bps=slippage_bps(f["side"], f["price"], mid),
                commission_bps=commission_bps(f.get("commission"), f["qty"], f["price"], mult),
            )
        )
    return out


def summarize(
    costs: Sequence[FillCost], nlv: float, span_days: float, bins: int = 10
) -> dict[str | None, ExecutionSummary]:
    """Execution summary per strategy (key None collects fills without a strategy)."""
    groups: dict[str | None, list[FillCost]] = {}
    for c in costs:
        groups.setdefault(c.strategy, []).append(c)
    return {
        name: ExecutionSummary(
            strategy=name,
            fills=len(group),
            notional=sum(c.notional for c in group),
            slippage=distribution((c.slippage_bps for c in group), bins),
            commission=distribution((c.commission_bps for c in group), bins),
            drag_bps_per_year=annualised_drag_bps(group, nlv, span_days),
        )
        for name, group in groups.items()
    }
