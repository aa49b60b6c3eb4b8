"""Divergence tests on synthetic cases whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from livedesk.backend.risk.divergence import (
    COMPARED_METRICS,
    bootstrap_max_drawdowns,
    compare,
    drawdown_divergence,
    sharpe_divergence,
    sharpe_standard_error,
)
from livedesk.backend.risk.metrics import StreamingRiskMetrics

PERIODS = 252


def test_standard_error_reduces_to_lo_for_normal_returns():
    sr, n = 0.1, 250
    assert sharpe_standard_error(sr, n) == pytest.approx(math.sqrt((1 + sr**2 / 2) / n))
    # Negative skew and fat tails widen the band for a positive Sharpe (Mertens).
    assert sharpe_standard_error(sr, n, skew=-1.0, kurt=6.0) > sharpe_standard_error(sr, n)
    assert math.isnan(sharpe_standard_error(sr, 0))


def test_sharpe_flag_false_alarm_rate_is_near_five_percent():
    """Live samples drawn from the backtest's own process are flagged about 5 % of the time."""
    rng = np.random.default_rng(0)
    mu, sigma, n = 0.0008, 0.01, 126
    true_sharpe = mu / sigma * math.sqrt(PERIODS)
    flags = [
        sharpe_divergence(rng.normal(mu, sigma, n), true_sharpe, PERIODS).flag for _ in range(2000)
    ]
    assert 0.03 < np.mean(flags) < 0.075


def test_sharpe_flags_a_strategy_that_stopped_working():
    rng = np.random.default_rng(1)
    live = rng.normal(-0.0005, 0.01, 250)  # backtest promised Sharpe 2
    result = sharpe_divergence(live, 2.0, PERIODS)
    assert result.flag and result.z_score < -1.96
    assert result.lower < 2.0 < result.upper
    assert result.live == pytest.approx(live.mean() / live.std(ddof=1) * math.sqrt(PERIODS))


def test_sharpe_band_narrows_with_more_live_data():
    rng = np.random.default_rng(2)
    short = sharpe_divergence(rng.normal(0, 0.01, 20), 1.0, PERIODS)
    long = sharpe_divergence(rng.normal(0, 0.01, 2000), 1.0, PERIODS)
    assert long.se == pytest.approx(short.se * math.sqrt(20 / 2000))
    assert not short.flag  # 20 days cannot tell Sharpe 0 from Sharpe 1
    assert long.flag


def test_sharpe_uses_backtest_moments_and_handles_tiny_samples():
    rng = np.random.default_rng(3)
    skewed = rng.lognormal(0, 1, 5000) * 0.01 - 0.0165
    normal_se = sharpe_divergence(rng.normal(0, 0.01, 100), 1.0, PERIODS).se
    moment_se = sharpe_divergence(
        rng.normal(0, 0.01, 100), 1.0, PERIODS, backtest_returns=skewed
    ).se
    assert moment_se != pytest.approx(normal_se)
    tiny = sharpe_divergence([0.01], 1.0, PERIODS)
    assert not tiny.flag and math.isnan(tiny.live)


def test_drawdown_threshold_exact_for_a_deterministic_backtest():
    """Every resampled path of a constant -1 % return has the same drawdown, 1 - 0.99**h."""
    h = 30
    depth = -(1 - 0.99**h)
    mdds = bootstrap_max_drawdowns(np.full(50, -0.01), h, n_boot=200, seed=1)
    np.testing.assert_allclose(mdds, depth, rtol=1e-12)
    assert not drawdown_divergence(depth, np.full(50, -0.01), h).flag
    assert drawdown_divergence(depth - 0.01, np.full(50, -0.01), h).flag


def test_drawdown_quantile_matches_a_two_point_backtest():
    """Returns of +1 % or -1 %: P(max drawdown deeper than one down day) is computable."""
    backtest = np.array([0.01, -0.01])
    h = 2
    # Paths: ++ (0), +- (-1 %), -+ (-1 %), -- (-1.99 %); the 5 % quantile is -1.99 %.
    result = drawdown_divergence(-0.015, backtest, h, n_boot=4000, seed=7)
    assert result.threshold == pytest.approx(-(1 - 0.99**2))
    assert not result.flag
    assert result.p_value == pytest.approx(0.25, abs=0.03)


def test_drawdown_flags_a_crash_and_is_deterministic():
    rng = np.random.default_rng(4)
    backtest = rng.normal(0.0005, 0.008, 1250)
    calm = drawdown_divergence(-0.03, backtest, 60, seed=9)
    crash = drawdown_divergence(-0.35, backtest, 60, seed=9)
    assert not calm.flag and crash.flag and crash.p_value < 0.01
    assert calm == drawdown_divergence(-0.03, backtest, 60, seed=9)
    blocks = drawdown_divergence(-0.35, backtest, 60, seed=9, block=10)
    assert blocks.flag and blocks.threshold != calm.threshold
    with pytest.raises(ValueError):
        drawdown_divergence(-0.1, backtest, 60, q=1.0)
    with pytest.raises(ValueError):
        bootstrap_max_drawdowns([], 10)


def test_compare_rows():
    rng = np.random.default_rng(5)
    backtest_returns = rng.normal(0.0008, 0.01, 1000)
    live_returns = rng.normal(-0.004, 0.02, 200)
    live_metrics = StreamingRiskMetrics(PERIODS)
    live_metrics.extend(live_returns)
    backtest_metrics = StreamingRiskMetrics(PERIODS)
    backtest_metrics.extend(backtest_returns)
    live, backtest = live_metrics.snapshot(), backtest_metrics.snapshot()
    rows = compare(
        live, backtest, live_returns=live_returns, backtest_returns=backtest_returns, seed=1
    )
    by_metric = {r.metric: r for r in rows}
    assert list(by_metric) == list(COMPARED_METRICS)
    vol = by_metric["annual_volatility"]
    assert vol.flag is None and vol.diff == pytest.approx(
        live["annual_volatility"] - backtest["annual_volatility"]
    )
    assert by_metric["sharpe_ratio"].flag is True
    assert by_metric["max_drawdown"].flag is True
    partial = compare({"sharpe_ratio": 0.5, "n": 3}, {"sharpe_ratio": 1.0, "other": 2.0})
    assert [(r.metric, r.flag) for r in partial] == [("sharpe_ratio", None)]
