"""Black-Scholes prices, greeks and implied volatility (no dividends), scalar and vectorised.

Conventions follow what TWS reports in ``tickOptionComputation``: ``vega`` is the price
change for a 1 percentage-point rise in volatility, ``theta`` the price change over one
calendar day, ``gamma`` per $1 of the underlying.  Times are in years.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
MIN_T = 1e-6  # about 30 s: below this an option is worth its intrinsic value


@dataclass(frozen=True, slots=True)
class Greeks:
    """Model price and greeks of one option."""

    price: float
    delta: float
    gamma: float
    vega: float
    theta: float


def _ncdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / _SQRT2))


def price(call: bool, s: float, k: float, t: float, r: float, vol: float) -> float:
    """Black-Scholes price of a European call (``call``) or put."""
    if t <= MIN_T or vol <= 0.0:
        fwd_k = k * math.exp(-r * max(t, 0.0))
        return max(s - fwd_k, 0.0) if call else max(fwd_k - s, 0.0)
    sd = vol * math.sqrt(t)
    d1 = (math.log(s / k) + (r + 0.5 * vol * vol) * t) / sd
    d2 = d1 - sd
    disc = k * math.exp(-r * t)
    if call:
        return s * _ncdf(d1) - disc * _ncdf(d2)
    return disc * _ncdf(-d2) - s * _ncdf(-d1)


def greeks(call: bool, s: float, k: float, t: float, r: float, vol: float) -> Greeks:
    """Price, delta, gamma, vega (per vol point) and theta (per day) of one option."""
    if t <= MIN_T or vol <= 0.0:
        itm = s > k if call else s < k
        value = price(call, s, k, t, r, vol)
        return Greeks(value, (1.0 if call else -1.0) if itm else 0.0, 0.0, 0.0, 0.0)
    sqrt_t = math.sqrt(t)
    sd = vol * sqrt_t
    d1 = (math.log(s / k) + (r + 0.5 * vol * vol) * t) / sd
    d2 = d1 - sd
    disc = k * math.exp(-r * t)
    pdf = math.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI
    decay = -s * pdf * vol / (2.0 * sqrt_t)
    if call:  # each N(.) evaluated once
        n_d1, n_d2 = _ncdf(d1), _ncdf(d2)
        value = s * n_d1 - disc * n_d2
        delta = n_d1
        theta = decay - r * disc * n_d2
    else:
        n_minus_d2 = _ncdf(-d2)
        value = disc * n_minus_d2 - s * _ncdf(-d1)
        delta = _ncdf(d1) - 1.0
        theta = decay + r * disc * n_minus_d2
    return Greeks(value, delta, pdf / (s * sd), s * pdf * sqrt_t / 100.0, theta / 365.0)


def implied_vol(
    call: bool, target: float, s: float, k: float, t: float, r: float, guess: float = 0.3
) -> float:
    """Volatility at which the model price equals ``target`` (NaN when no volatility does)."""
    intrinsic = price(call, s, k, t, r, 0.0)
    upper = s if call else k * math.exp(-r * t)
    if t <= MIN_T or not intrinsic < target < upper:
        return math.nan
    lo, hi, vol = 1e-4, 5.0, min(max(guess, 1e-3), 4.0)
    for _ in range(60):
        g = greeks(call, s, k, t, r, vol)
        diff = g.price - target
        if abs(diff) < 1e-7:
            return vol
        if diff > 0:
            hi = vol
        else:
            lo = vol
        step = diff / (g.vega * 100.0) if g.vega > 1e-10 else math.inf
        vol = vol - step if lo < vol - step < hi else 0.5 * (lo + hi)
    return vol


_erf = np.frompyfunc(math.erf, 1, 1)


def ndtr(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF of an array (math.erf element-wise; arrays here are small)."""
    return 0.5 * (1.0 + _erf(np.asarray(x, float) / _SQRT2).astype(float))


def price_array(
    call: bool, s: np.ndarray, k: float, t: np.ndarray, r: float, vol: np.ndarray
) -> np.ndarray:
    """Vectorised :func:`price` over arrays of underlying prices, times and volatilities."""
    s, t, vol = np.broadcast_arrays(np.asarray(s, float), np.asarray(t, float), vol)
    live = t > MIN_T
    tt = np.where(live, t, 1.0)
    sd = vol * np.sqrt(tt)
    d1 = (np.log(s / k) + (r + 0.5 * vol**2) * tt) / sd
    d2 = d1 - sd
    disc = k * np.exp(-r * tt)
    if call:
        value = s * ndtr(d1) - disc * ndtr(d2)
        expired = np.maximum(s - k, 0.0)
    else:
        value = disc * ndtr(-d2) - s * ndtr(-d1)
        expired = np.maximum(k - s, 0.0)
    return np.where(live, value, expired)
