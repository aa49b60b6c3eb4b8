"""Pure option maths of ``options-combo``: expiry and strike picks, sizing, exits, Black-Scholes.

Conventions: volatilities are annual fractions, times in years (calendar days / 365),
prices per share (one contract = ``multiplier`` shares, 100). A combo's price is quoted per
unit as IB does for a BAG bought: positive = debit paid, negative = credit received.

* Straddle (long ATM call + put, a debit ``D``): max loss ``D``, no capped profit; exits at
  ``profit_target * D`` gained (50 %) or ``straddle_stop * D`` lost (50 %).
* Iron condor (short put ``Kp``, long put ``Kp - w``, short call ``Kc``, long call
  ``Kc + w``, a credit ``C``): max profit ``C``, max loss ``w - C``; exits at
  ``profit_target * C`` gained (50 %) or ``condor_stop * (w - C)`` lost (x 1.0).
* Both: closed at ``exit_dte`` calendar days before expiry.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SQRT2 = math.sqrt(2.0)


def ncdf(x: float) -> float:
    """Standard normal CDF."""
    return 0.5 * (1.0 + math.erf(x / SQRT2))


def bs_price(call: bool, s: float, k: float, t: float, vol: float, rate: float = 0.0) -> float:
    """Black-Scholes price per share (intrinsic at or after expiry)."""
    if t <= 0 or vol <= 0:
        return max(s - k, 0.0) if call else max(k - s, 0.0)
    sd = vol * math.sqrt(t)
    d1 = (math.log(s / k) + (rate + 0.5 * vol * vol) * t) / sd
    d2 = d1 - sd
    disc = math.exp(-rate * t)
    if call:
        return s * ncdf(d1) - k * disc * ncdf(d2)
    return k * disc * ncdf(-d2) - s * ncdf(-d1)


def bs_delta(call: bool, s: float, k: float, t: float, vol: float, rate: float = 0.0) -> float:
    """Black-Scholes delta (call in 0..1, put in -1..0)."""
    if t <= 0 or vol <= 0:
        return (1.0 if s > k else 0.0) if call else (-1.0 if s < k else 0.0)
    d1 = (math.log(s / k) + (rate + 0.5 * vol * vol) * t) / (vol * math.sqrt(t))
    return ncdf(d1) if call else ncdf(d1) - 1.0


def bs_implied_vol(
    call: bool, price: float, s: float, k: float, t: float, rate: float = 0.0
) -> float:
    """The volatility at which :func:`bs_price` is ``price`` (bisection to 1e-10 over
    0.1 %..500 %); NaN when no volatility in that range prices it (below intrinsic, or no
    time left)."""
    if not (price > 0 and s > 0 and k > 0 and t > 0):
        return math.nan
    lo, hi = 1e-3, 5.0
    if not bs_price(call, s, k, t, lo, rate) <= price <= bs_price(call, s, k, t, hi, rate):
        return math.nan
    while hi - lo > 1e-10:
        mid = (lo + hi) / 2
        if bs_price(call, s, k, t, mid, rate) < price:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def dte(expiry: str | dt.date, today: dt.date) -> int:
    """Calendar days from ``today`` to ``expiry`` (``YYYYMMDD`` or a date)."""
    if isinstance(expiry, str):
        expiry = dt.datetime.strptime(expiry[:8], "%Y%m%d").date()
    return (expiry - today).days


def choose_expiry(
    expiries: Sequence[str], today: dt.date, min_dte: int = 20, max_dte: int = 45, target: int = 30
) -> str | None:
    """The expiry within ``min_dte..max_dte`` days closest to ``target`` (earlier on ties)."""
    inside = [e for e in expiries if min_dte <= dte(e, today) <= max_dte]
    if not inside:
        return None
    return min(sorted(inside), key=lambda e: abs(dte(e, today) - target))


def atm_strike(strikes: Sequence[float], spot: float) -> float:
    """The strike nearest ``spot`` (the lower one on a tie)."""
    if not strikes:
        raise ValueError("empty strike list")
    return min(sorted(strikes), key=lambda k: abs(k - spot))


def strike_step(strikes: Sequence[float]) -> float:
    """The most common spacing of a sorted strike grid."""
    ks = sorted(set(strikes))
    gaps = [round(b - a, 6) for a, b in zip(ks, ks[1:], strict=False)]
    return max(set(gaps), key=gaps.count) if gaps else 0.0


@dataclass(frozen=True)
class Condor:
    """Iron condor strikes: long put < short put < short call < long call."""

    long_put: float
    short_put: float
    short_call: float
    long_call: float

    @property
    def width(self) -> float:
        """Wing width (the wider side, which bounds the loss)."""
        return max(self.short_put - self.long_put, self.long_call - self.short_call)


def pick_condor(
    strikes: Sequence[float],
    put_deltas: Mapping[float, float],
    call_deltas: Mapping[float, float],
    spot: float,
    target_delta: float = 0.16,
    wing_strikes: int = 1,
) -> Condor:
    """Short strikes nearest ``target_delta`` (OTM only), wings ``wing_strikes`` grid steps out.

    ``put_deltas`` / ``call_deltas`` map strike → delta (puts negative) for the candidates
    quoted. Raises ValueError when no OTM candidate or no wing strike exists.
    """
    ks = sorted(set(strikes))
    puts = {k: d for k, d in put_deltas.items() if k < spot and math.isfinite(d)}
    calls = {k: d for k, d in call_deltas.items() if k > spot and math.isfinite(d)}
    if not puts or not calls:
        raise ValueError("no out-of-the-money put or call deltas to pick short strikes from")
    short_put = min(sorted(puts), key=lambda k: (abs(abs(puts[k]) - target_delta), -k))
    short_call = min(sorted(calls), key=lambda k: (abs(abs(calls[k]) - target_delta), k))
    ip, ic = ks.index(short_put), ks.index(short_call)
    if ip - wing_strikes < 0 or ic + wing_strikes >= len(ks):
        raise ValueError("no strike beyond the short strikes for the wings")
    return Condor(ks[ip - wing_strikes], short_put, short_call, ks[ic + wing_strikes])


def condor_candidates(
    strikes: Sequence[float], spot: float, vol: float, t: float, target_delta: float, n: int = 3
) -> tuple[list[float], list[float]]:
    """A few put and call strikes around the Black-Scholes ``target_delta`` strikes (to quote)."""
    ks = sorted(set(strikes))
    sd = vol * math.sqrt(max(t, 1e-6))
    z = -_inv_ncdf(target_delta)  # ~0.994 for 16 delta
    guess_put, guess_call = spot * math.exp(-z * sd), spot * math.exp(z * sd)

    def around(guess: float, side: str) -> list[float]:
        pool = [k for k in ks if (k < spot if side == "P" else k > spot)]
        pool.sort(key=lambda k: abs(k - guess))
        return sorted(pool[:n])

    return around(guess_put, "P"), around(guess_call, "C")


def _inv_ncdf(p: float) -> float:
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if ncdf(mid) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def contracts_for_risk(
    max_loss_per_unit: float, nlv: float, fraction: float, multiplier: float = 100.0, cap: int = 0
) -> int:
    """Whole combos whose total max loss stays within ``fraction`` of ``nlv`` (cap if > 0)."""
    if not max_loss_per_unit > 0 or not nlv > 0 or not fraction > 0:
        return 0
    n = int(math.floor(fraction * nlv / (max_loss_per_unit * multiplier) + 1e-9))
    return min(n, cap) if cap > 0 else n


@dataclass(frozen=True)
class OpenCombo:
    """What the strategy holds: kind, legs, entry price per unit, quantity and its limits."""

    kind: str  # "straddle" or "condor"
    expiry: str
    legs: tuple[tuple[float, str, str], ...]  # (strike, right, action)
    quantity: int
    entry_price: float  # per unit, debit > 0, credit < 0
    max_profit: float | None  # per unit, None = uncapped
    max_loss: float  # per unit

    def pnl_per_unit(self, mark: float) -> float:
        """Profit per unit (per share) at combo mark ``mark`` (same sign convention)."""
        return mark - self.entry_price

    def as_dict(self) -> dict:
        """JSON-safe."""
        return {
            "kind": self.kind,
            "expiry": self.expiry,
            "legs": [list(leg) for leg in self.legs],
            "quantity": self.quantity,
            "entry_price": self.entry_price,
            "max_profit": self.max_profit,
            "max_loss": self.max_loss,
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> OpenCombo:
        """Inverse of :meth:`as_dict`."""
        return cls(
            d["kind"],
            d["expiry"],
            tuple((float(k), str(r), str(a)) for k, r, a in d["legs"]),
            int(d["quantity"]),
            float(d["entry_price"]),
            None if d["max_profit"] is None else float(d["max_profit"]),
            float(d["max_loss"]),
        )


def exit_reason(
    combo: OpenCombo,
    mark: float,
    days_left: int,
    profit_target: float = 0.5,
    condor_stop: float = 1.0,
    straddle_stop: float = 0.5,
    exit_dte: int = 7,
) -> str | None:
    """Why to close ``combo`` at ``mark`` with ``days_left`` to expiry, or None to hold."""
    pnl = combo.pnl_per_unit(mark)
    if combo.kind == "straddle":
        premium = combo.entry_price
        if pnl >= profit_target * premium:
            return f"profit target: +{pnl:.2f} >= {profit_target:.0%} of the {premium:.2f} premium"
        if pnl <= -straddle_stop * premium:
            return f"stop: {pnl:.2f} <= -{straddle_stop:.0%} of the {premium:.2f} premium"
    else:
        credit = -combo.entry_price
        if pnl >= profit_target * credit:
            return f"profit target: +{pnl:.2f} >= {profit_target:.0%} of the {credit:.2f} credit"
        if pnl <= -condor_stop * combo.max_loss:
            return f"stop: {pnl:.2f} <= -{condor_stop:g} x max loss {combo.max_loss:.2f}"
    if days_left <= exit_dte:
        return f"{days_left} days to expiry (exit at {exit_dte})"
    return None


def straddle_value(s: float, k: float, t: float, vol: float, rate: float = 0.0) -> float:
    """Black-Scholes value of one ATM straddle per share."""
    return bs_price(True, s, k, t, vol, rate) + bs_price(False, s, k, t, vol, rate)


def condor_value(c: Condor, s: float, t: float, vol: float, rate: float = 0.0) -> float:
    """Black-Scholes value per share of the condor *bought* (negative: a credit)."""
    return (
        bs_price(False, s, c.long_put, t, vol, rate)
        - bs_price(False, s, c.short_put, t, vol, rate)
        - bs_price(True, s, c.short_call, t, vol, rate)
        + bs_price(True, s, c.long_call, t, vol, rate)
    )
