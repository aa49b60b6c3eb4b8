"""Pure combo pricing and risk: net prices, position greeks, P/L curves and the payoff summary.

Sign convention of :mod:`livedesk.backend.combos.legs`: ``net`` is the signed BAG price paid per
combo (negative for a credit); a leg contributes ``sign * ratio`` of its option. P/L figures
are in money: per share × ``quantity`` × ``multiplier``.

Single-expiry combos are piecewise linear at expiry, so breakevens and max profit / loss are
exact (kinks at the strikes, the slope past the highest strike decides "unlimited"). Calendars
and diagonals are valued at the earliest expiry, the later legs by Black-Scholes at their
implied volatility, on a fine grid.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from livedesk.backend.combos import blackscholes as bsmath
from livedesk.backend.combos.legs import Leg, days_to, is_number

NAN = math.nan
RATE = 0.04
"""Risk-free rate of the client-side model (continuously compounded)."""


@dataclass(frozen=True)
class LegQuote:
    """What the gateway streams for one leg (NaN where it sent nothing)."""

    bid: float = NAN
    ask: float = NAN
    iv: float = NAN
    delta: float = NAN
    gamma: float = NAN
    vega: float = NAN
    theta: float = NAN
    und: float = NAN

    @property
    def mid(self) -> float:
        """(bid + ask) / 2 of a two-sided market, else NaN."""
        if (
            is_number(self.bid)
            and is_number(self.ask)
            and 0 <= self.bid <= self.ask
            and self.ask > 0
        ):
            return (self.bid + self.ask) / 2
        return NAN


@dataclass(frozen=True)
class NetPrice:
    """The combo's signed prices: ``natural`` to buy it (its ask), ``bid`` to sell it, ``mid``."""

    natural: float
    bid: float
    mid: float

    @property
    def spread(self) -> float:
        """natural - bid (NaN when a side is missing)."""
        return self.natural - self.bid


def net_prices(legs: Sequence[Leg], quotes: Sequence[LegQuote | None]) -> NetPrice:
    """Natural, bid and mid net prices; NaN when any leg lacks a two-sided quote."""
    natural = bid = mid = 0.0
    for leg, q in zip(legs, quotes, strict=True):
        if q is None or not is_number(q.mid):
            return NetPrice(NAN, NAN, NAN)
        r = leg.ratio
        if leg.sign > 0:
            natural, bid = natural + r * q.ask, bid + r * q.bid
        else:
            natural, bid = natural - r * q.bid, bid - r * q.ask
        mid += leg.sign * r * q.mid
    if not legs:
        return NetPrice(NAN, NAN, NAN)
    return NetPrice(round(natural, 8), round(bid, 8), round(mid, 8))


@dataclass(frozen=True)
class PositionGreeks:
    """Greeks of the whole order: delta in shares, gamma per $1, vega per vol point, theta per day."""

    delta: float
    gamma: float
    vega: float
    theta: float


def position_greeks(
    legs: Sequence[Leg], quotes: Sequence[LegQuote | None], quantity: int, multiplier: float
) -> PositionGreeks:
    """Sum of ``sign * ratio * greek`` × quantity × multiplier (NaN when a greek is missing)."""
    total = [0.0, 0.0, 0.0, 0.0]
    for leg, q in zip(legs, quotes, strict=True):
        values = (q.delta, q.gamma, q.vega, q.theta) if q else (NAN,) * 4
        for i, v in enumerate(values):
            total[i] += leg.sign * leg.ratio * v if is_number(v) else NAN
    scale = quantity * multiplier
    return PositionGreeks(*(x * scale for x in total))


def years_to(expiry: str, today: dt.date) -> float:
    """Years from mid-session ``today`` to ``expiry``'s close (a quarter day on expiry day)."""
    return max(days_to(expiry, today) + 0.25, 0.0) / 365.0


def horizon(legs: Sequence[Leg]) -> str:
    """The earliest expiry of the legs: the P/L chart's "at expiry"."""
    return min(leg.expiry for leg in legs)


def is_calendar(legs: Sequence[Leg]) -> bool:
    """True when the legs have more than one expiry."""
    return len({leg.expiry for leg in legs}) > 1


def pnl_at_expiry(
    legs: Sequence[Leg],
    quotes: Sequence[LegQuote | None],
    net: float,
    s: np.ndarray,
    today: dt.date,
    quantity: int,
    multiplier: float,
    rate: float = RATE,
) -> np.ndarray:
    """P/L at the earliest expiry over underlying prices ``s`` (later legs at their IV)."""
    s = np.asarray(s, float)
    first = horizon(legs)
    value = np.zeros_like(s)
    for leg, q in zip(legs, quotes, strict=True):
        call = leg.right == "C"
        if leg.expiry == first:
            v = bsmath.intrinsic(call, s, leg.strike)
        else:
            t = max(days_to(leg.expiry, today) - days_to(first, today), 0) / 365.0
            iv = q.iv if q is not None and is_number(q.iv) else NAN
            v = bsmath.price(call, s, leg.strike, t, rate, iv) if is_number(iv) else s * NAN
        value = value + leg.sign * leg.ratio * v
    return (value - net) * quantity * multiplier


def pnl_today(
    legs: Sequence[Leg],
    quotes: Sequence[LegQuote | None],
    net: float,
    s: np.ndarray,
    today: dt.date,
    quantity: int,
    multiplier: float,
    rate: float = RATE,
) -> np.ndarray:
    """P/L now over underlying prices ``s``: Black-Scholes at each leg's implied volatility."""
    s = np.asarray(s, float)
    value = np.zeros_like(s)
    for leg, q in zip(legs, quotes, strict=True):
        iv = q.iv if q is not None and is_number(q.iv) else NAN
        if not is_number(iv):
            return s * NAN
        v = bsmath.price(leg.right == "C", s, leg.strike, years_to(leg.expiry, today), rate, iv)
        value = value + leg.sign * leg.ratio * v
    return (value - net) * quantity * multiplier


def chart_range(legs: Sequence[Leg], spot: float) -> tuple[float, float]:
    """Underlying range of the payoff chart: the strikes and the spot with room either side."""
    ks = [leg.strike for leg in legs] + ([spot] if is_number(spot) else [])
    lo, hi = min(ks), max(ks)
    pad = max(hi - lo, 0.06 * (spot if is_number(spot) else hi)) * 0.6
    return max(lo - pad, 0.01), hi + pad


@dataclass(frozen=True)
class PayoffSummary:
    """Breakevens, max profit, max loss (a positive number; ``inf`` = unlimited) and PoP."""

    breakevens: tuple[float, ...]
    max_profit: float
    max_loss: float
    pop: float
    calendar: bool


def _roots(xs: Sequence[float], ys: Sequence[float]) -> list[float]:
    """Zero crossings of the piecewise-linear curve through (xs, ys)."""
    out: list[float] = []
    for (x0, y0), (x1, y1) in zip(
        zip(xs, ys, strict=True), zip(xs[1:], ys[1:], strict=True), strict=False
    ):
        if y0 == 0 and x0 > 0:
            out.append(x0)
        elif y0 * y1 < 0:
            out.append(x0 + (x1 - x0) * (-y0) / (y1 - y0))
    if ys and ys[-1] == 0:
        out.append(xs[-1])
    return sorted({round(x, 6) for x in out})


def _pop(
    f: Callable[[float], float],
    roots: Sequence[float],
    spot: float,
    t: float,
    vol: float,
    rate: float,
) -> float:
    """Probability that ``f(S_T) > 0`` under the lognormal at ``vol``."""
    if not (is_number(spot) and spot > 0 and is_number(vol) and vol > 0):
        return NAN
    edges = [0.0, *roots, math.inf]
    total = 0.0
    for a, b in zip(edges, edges[1:], strict=False):
        probe = (a + b) / 2 if math.isfinite(b) else a * 1.5 + 1.0
        if f(probe) > 0:
            total += bsmath.prob_below(b, spot, t, vol, rate) - bsmath.prob_below(
                a, spot, t, vol, rate
            )
    return min(max(total, 0.0), 1.0)


def payoff_summary(
    legs: Sequence[Leg],
    quotes: Sequence[LegQuote | None],
    net: float,
    today: dt.date,
    quantity: int,
    multiplier: float,
    spot: float = NAN,
    atm_iv: float = NAN,
    rate: float = RATE,
) -> PayoffSummary:
    """Breakevens, max P/L and probability of profit of the combo bought at ``net``."""
    t = years_to(horizon(legs), today)
    scale = quantity * multiplier
    if is_calendar(legs):
        centre = (
            spot if is_number(spot) and spot > 0 else float(np.mean([lg.strike for lg in legs]))
        )
        xs = np.linspace(centre * 0.3, centre * 1.7, 2801)
        ys = pnl_at_expiry(legs, quotes, net, xs, today, quantity, multiplier, rate)
        if not np.all(np.isfinite(ys)):
            return PayoffSummary((), NAN, NAN, NAN, True)
        roots = _roots(list(xs), list(ys))

        def f(x: float) -> float:
            return float(
                pnl_at_expiry(legs, quotes, net, np.array([x]), today, quantity, multiplier, rate)[
                    0
                ]
            )

        pop = _pop(f, roots, spot, t, atm_iv, rate)
        return PayoffSummary(tuple(roots), float(ys.max()), max(0.0, float(-ys.min())), pop, True)
    strikes = sorted({leg.strike for leg in legs})
    points = [0.0, *strikes]

    def f(x: float) -> float:
        value = sum(
            leg.sign * leg.ratio * float(bsmath.intrinsic(leg.right == "C", x, leg.strike))
            for leg in legs
        )
        return (value - net) * scale

    values = [f(x) for x in points]
    slope = sum(leg.sign * leg.ratio for leg in legs if leg.right == "C") * scale
    xs, ys = list(points), list(values)
    if slope != 0:  # one more point past the last kink, on the far side of any root
        far = strikes[-1] + abs(values[-1] / slope) + 1.0
        xs.append(far)
        ys.append(values[-1] + slope * (far - strikes[-1]))
    roots = _roots(xs, ys)
    max_profit = math.inf if slope > 0 else max(values)
    max_loss = math.inf if slope < 0 else max(0.0, -min(values))  # a loss is never negative
    return PayoffSummary(
        tuple(roots), max_profit, max_loss, _pop(f, roots, spot, t, atm_iv, rate), False
    )


def preview_warnings(
    init_margin_change: float,
    buying_power: float,
    net: NetPrice,
    bp_limit: float = 0.05,
    spread_limit: float = 0.05,
) -> list[str]:
    """Warnings of the preview: margin above ``bp_limit`` of buying power, spread above
    ``spread_limit`` of the mid, and what could not be checked."""
    out = []
    if is_number(init_margin_change) and is_number(buying_power) and buying_power > 0:
        share = init_margin_change / buying_power
        if share > bp_limit:
            out.append(f"uses {share:.1%} of buying power (warn above {bp_limit:.0%})")
    else:
        out.append("buying-power share unknown (no margin or buying power reported)")
    if is_number(net.spread) and is_number(net.mid):
        if abs(net.mid) < 1e-9 or net.spread > spread_limit * abs(net.mid):
            width = net.spread / abs(net.mid) if abs(net.mid) > 1e-9 else math.inf
            out.append(
                f"wide market: spread {net.spread:.2f} is {width:.0%} of the mid "
                f"(warn above {spread_limit:.0%})"
            )
    else:
        out.append("no two-sided market on every leg: spread unknown")
    return out
