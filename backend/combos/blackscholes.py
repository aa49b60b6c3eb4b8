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

# Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, vectorised (the chart's P/L curves).
_P = 0.3275911
_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def ncdf(x: float) -> float:
    """Standard normal cumulative distribution."""
    return 0.5 * (1.0 + math.erf(x / SQRT2))


def erf_array(x: np.ndarray) -> np.ndarray:
    """The error function of an array (A&S 7.1.26, absolute error below 1.5e-7)."""
    x = np.asarray(x, float)
    z = np.abs(x)
    t = 1.0 / (1.0 + _P * z)
    poly = t * (_A[0] + t * (_A[1] + t * (_A[2] + t * (_A[3] + t * _A[4]))))
    return np.sign(x) * (1.0 - poly * np.exp(-z * z))


def ncdf_array(x: np.ndarray) -> np.ndarray:
    """Standard normal cumulative distribution of an array (see :func:`erf_array`)."""
    return 0.5 * (1.0 + erf_array(np.asarray(x, float) / SQRT2))


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
