"""Client-side Black-Scholes (no dividends) and the lognormal law of the underlying.

Used by the combo maths to value legs before expiry ("P/L today") and to give the
probability of profit. Conventions: times in years, volatilities as fractions, ``rate``
continuously compounded. Independent of the simulated gateway (which has its own copy).
"""

from __future__ import annotations

import math

import numpy as np

SQRT2 = math.sqrt(2.0)
MIN_T = 1e-6
"""Below this many years an option is worth its intrinsic value."""

_erf = np.frompyfunc(math.erf, 1, 1)


def ncdf(x: float) -> float:
    """Standard normal cumulative distribution."""
    return 0.5 * (1.0 + math.erf(x / SQRT2))


def ncdf_array(x: np.ndarray) -> np.ndarray:
    """Standard normal cumulative distribution of an array."""
    return 0.5 * (1.0 + np.asarray(_erf(np.asarray(x, float) / SQRT2), float))


def intrinsic(call: bool, s: np.ndarray | float, k: float) -> np.ndarray:
    """Value at expiry per share: ``max(s - k, 0)`` for a call, ``max(k - s, 0)`` for a put."""
    s = np.asarray(s, float)
    return np.maximum(s - k, 0.0) if call else np.maximum(k - s, 0.0)


def price(call: bool, s: np.ndarray | float, k: float, t: float, rate: float, vol: float):
    """Black-Scholes value of a European call or put over an array of underlying prices."""
    s = np.asarray(s, float)
    if t <= MIN_T or not vol > 0:
        return intrinsic(call, s, k)
    sd = vol * math.sqrt(t)
    with np.errstate(divide="ignore"):
        d1 = (np.log(np.maximum(s, 1e-12) / k) + (rate + 0.5 * vol * vol) * t) / sd
    d2 = d1 - sd
    disc = k * math.exp(-rate * t)
    if call:
        return s * ncdf_array(d1) - disc * ncdf_array(d2)
    return disc * ncdf_array(-d2) - s * ncdf_array(-d1)


def prob_below(x: float, s: float, t: float, vol: float, rate: float = 0.0) -> float:
    """P(S_T < x) when ``ln S_T`` is normal with mean ``ln s + (rate - vol²/2) t``, sd ``vol √t``."""
    if x <= 0:
        return 0.0
    if math.isinf(x):
        return 1.0
    if t <= MIN_T or not vol > 0:
        return 1.0 if s < x else 0.0
    sd = vol * math.sqrt(t)
    return ncdf((math.log(x / s) - (rate - 0.5 * vol * vol) * t) / sd)
