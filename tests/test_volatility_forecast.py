"""EWMA and GARCH(1,1) forecasts on known series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from livedesk.backend.strategies import volatility as vol


def test_ewma_by_hand() -> None:
    r = [0.01, -0.02, 0.03]
    # seed: sample variance of [0.01, -0.02] = 2 * 0.015**2 / 1 = 0.00045
    s2 = 0.00045
    for x in r:
        s2 = 0.94 * s2 + 0.06 * x * x
    # 0.000429 -> 0.00042726 -> 0.0004556244
    assert s2 == pytest.approx(0.0004556244)
    assert vol.ewma_variance(r, 0.94, seed=2) == pytest.approx(0.0004556244)
    assert vol.ewma_vol(r, 0.94, seed=2) == pytest.approx(math.sqrt(252 * 0.0004556244))
    with pytest.raises(ValueError):
        vol.ewma_variance(r, 1.0)


def simulate_garch(n: int, omega: float, alpha: float, beta: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s2 = omega / (1 - alpha - beta)
    out = np.empty(n)
    for t in range(n):
        out[t] = math.sqrt(s2) * rng.standard_normal()
        s2 = omega + alpha * out[t] ** 2 + beta * s2
    return out


def test_garch_recovers_known_parameters() -> None:
    r = simulate_garch(4000, 2e-6, 0.08, 0.90, seed=3)
    fit = vol.fit_garch(r)
    assert fit.alpha == pytest.approx(0.08, abs=0.035)
    assert fit.beta == pytest.approx(0.90, abs=0.05)
    assert fit.persistence == pytest.approx(0.98, abs=0.02)
    # long-run annual vol sqrt(252 * 2e-6 / 0.02) = 17.7 %
    assert math.sqrt(252 * fit.long_run_variance) == pytest.approx(0.1775, rel=0.25)


def test_garch_variance_recursion_and_forecast_formula() -> None:
    eps = np.array([0.01, -0.02, 0.015, 0.0])
    omega, alpha, beta, s0 = 1e-6, 0.1, 0.85, 1e-4
    s = s0
    for e in eps:  # by hand
        s = omega + alpha * e * e + beta * s
    path = vol.garch_variances(eps, omega, alpha, beta, s0)
    assert path[0] == s0 and path[-1] == pytest.approx(s)
    fit = vol.GarchFit(omega, alpha, beta, s, 0.0, 0.0)
    # average of E[s2] over the next 10 days, iterated: E[s2_{k+1}] = omega + p * E[s2_k]
    expected, days = s, []
    for _ in range(10):
        days.append(expected)
        expected = omega + (alpha + beta) * expected
    assert fit.forecast_vol(10) == pytest.approx(math.sqrt(252 * np.mean(days)))
    assert fit.forecast_vol(1) == pytest.approx(math.sqrt(252 * s))
    assert list(fit.variance_path(10)) == pytest.approx(days)


def test_garch_refuses_short_or_flat_series() -> None:
    with pytest.raises(ValueError, match="50 returns"):
        vol.fit_garch(np.full(20, 0.01))
    with pytest.raises(ValueError, match="zero variance"):
        vol.fit_garch(np.full(100, 0.01))


def test_log_returns() -> None:
    assert list(vol.log_returns([100.0, 110.0, math.nan, 99.0])) == pytest.approx(
        [math.log(1.1), math.log(0.9)]
    )
