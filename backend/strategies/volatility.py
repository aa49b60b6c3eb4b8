"""Volatility forecasts from daily returns: EWMA (RiskMetrics) and GARCH(1,1). Pure functions.

* EWMA: ``s2[t+1] = lam * s2[t] + (1 - lam) * r[t]**2`` seeded with the sample variance of
  the first ``seed`` returns (RiskMetrics, ``lam`` = 0.94). The forecast is flat in the
  horizon: annualised ``sqrt(252 * s2[T+1])``.
* GARCH(1,1): ``s2[t] = omega + alpha * r[t-1]**2 + beta * s2[t-1]`` fitted by Gaussian
  maximum likelihood on the demeaned returns. **Written here with numpy + scipy**
  (``scipy.optimize.minimize``, BFGS on unconstrained transforms that keep
  ``omega > 0``, ``alpha, beta >= 0``, ``alpha + beta < 1``); no ``arch`` package. scipy is
  imported lazily. The h-day forecast is the average of the expected variances over the next
  h days: ``VL + (s2[T+1] - VL) * (1 - p**h) / (h * (1 - p))``, ``p = alpha + beta``,
  ``VL = omega / (1 - p)``, annualised with 252 trading days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TRADING_DAYS = 252


def log_returns(closes) -> np.ndarray:
    """Daily log returns of a close series (NaNs dropped)."""
    c = np.asarray(closes, dtype=float)
    c = c[np.isfinite(c) & (c > 0)]
    return np.diff(np.log(c))


def ewma_variance(returns, lam: float = 0.94, seed: int = 20) -> float:
    """The next-day EWMA variance after ``returns``."""
    r = np.asarray(returns, dtype=float)
    if not 0 < lam < 1:
        raise ValueError(f"lambda must be in (0, 1), got {lam}")
    if len(r) < 2:
        raise ValueError("EWMA needs at least two returns")
    seed = max(2, min(seed, len(r)))
    s2 = float(np.var(r[:seed], ddof=1))
    for x in r:
        s2 = lam * s2 + (1 - lam) * x * x
    return s2


def ewma_vol(returns, lam: float = 0.94, seed: int = 20) -> float:
    """Annualised EWMA volatility forecast."""
    return math.sqrt(TRADING_DAYS * ewma_variance(returns, lam, seed))


@dataclass(frozen=True)
class GarchFit:
    """A fitted GARCH(1,1): parameters, the next-day variance and the log-likelihood."""

    omega: float
    alpha: float
    beta: float
    next_variance: float
    loglik: float
    mean: float

    @property
    def persistence(self) -> float:
        """alpha + beta."""
        return self.alpha + self.beta

    @property
    def long_run_variance(self) -> float:
        """omega / (1 - alpha - beta)."""
        return self.omega / (1 - self.persistence)

    def variance_path(self, horizon: int) -> np.ndarray:
        """Expected daily variance for days 1..horizon ahead."""
        vl, p = self.long_run_variance, self.persistence
        k = np.arange(horizon)
        return vl + (self.next_variance - vl) * p**k

    def forecast_vol(self, horizon: int = 21) -> float:
        """Annualised volatility over the next ``horizon`` trading days (average variance)."""
        if horizon < 1:
            raise ValueError("horizon must be at least 1 day")
        vl, p = self.long_run_variance, self.persistence
        if abs(1 - p) < 1e-12:
            avg = self.next_variance
        else:
            avg = vl + (self.next_variance - vl) * (1 - p**horizon) / (horizon * (1 - p))
        return math.sqrt(TRADING_DAYS * avg)


def garch_variances(
    eps: np.ndarray, omega: float, alpha: float, beta: float, s2_0: float
) -> np.ndarray:
    """Conditional variances s2[0..n] (s2[n] is the next-day forecast) of residuals ``eps``."""
    from scipy.signal import lfilter  # lazy: scipy is heavy

    drive = omega + alpha * np.asarray(eps, dtype=float) ** 2
    # s2[t+1] = beta * s2[t] + drive[t]: a first-order linear filter started at s2[0]
    tail, _ = lfilter([1.0], [1.0, -beta], drive, zi=[beta * s2_0])
    return np.concatenate(([s2_0], tail))


def _unpack(x: np.ndarray, var: float) -> tuple[float, float, float]:
    """Unconstrained (a, b, c) -> omega > 0, alpha, beta >= 0 with alpha + beta < 1."""
    a, b, c = (min(50.0, max(-50.0, float(v))) for v in x)  # the optimiser may wander far
    persistence = 0.9999 / (1 + math.exp(-a))
    share = 1 / (1 + math.exp(-b))
    alpha, beta = persistence * share, persistence * (1 - share)
    omega = var * math.exp(c) * (1 - persistence)
    return omega, alpha, beta


def _neg_loglik(x: np.ndarray, eps: np.ndarray, var: float) -> float:
    omega, alpha, beta = _unpack(x, var)
    s2 = garch_variances(eps, omega, alpha, beta, var)[:-1]
    if not np.all(s2 > 0) or not np.all(np.isfinite(s2)):
        return 1e12
    return 0.5 * float(np.sum(np.log(2 * np.pi * s2) + eps * eps / s2))


START_POINTS = ((2.5, 2.0, 0.0), (4.0, -1.0, 0.0), (1.0, 0.0, 0.0))
"""Optimiser starts (transformed): persistence ~0.92 / 0.98 / 0.73 with different alpha shares."""


def fit_garch(returns, starts: int = 3) -> GarchFit:
    """Gaussian-MLE GARCH(1,1) of daily ``returns`` (numpy + scipy BFGS, best of ``starts``)."""
    from scipy.optimize import minimize  # lazy: scipy is heavy

    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    if len(r) < 50:
        raise ValueError(f"GARCH(1,1) needs at least 50 returns, got {len(r)}")
    mean = float(r.mean())
    eps = r - mean
    var = float(eps.var())
    if not var > 0:
        raise ValueError("returns have zero variance")
    best = None
    for start in START_POINTS[: max(1, starts)]:
        res = minimize(_neg_loglik, np.array(start), args=(eps, var), method="BFGS")
        if best is None or res.fun < best.fun:
            best = res
    omega, alpha, beta = _unpack(best.x, var)
    s2 = garch_variances(eps, omega, alpha, beta, var)
    return GarchFit(omega, alpha, beta, float(s2[-1]), -float(best.fun), mean)


def combine_forecast(kind: str, garch: float, ewma: float) -> float:
    """The forecast used: GARCH, EWMA or their mean."""
    return {"garch": garch, "ewma": ewma, "mean": (garch + ewma) / 2}[kind]
