"""The zero-variance rule of StreamingRiskMetrics: update() and extend() agree exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from livedesk.backend.risk.metrics import StreamingRiskMetrics


def same(a: dict, b: dict) -> bool:
    """Equal figures, NaN equal to NaN."""
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a
    )


def by_update(values, **kw) -> dict:
    m = StreamingRiskMetrics(252, **kw)
    for v in values:
        m.update(v)
    return m.snapshot()


def by_extend(values, **kw) -> dict:
    m = StreamingRiskMetrics(252, **kw)
    m.extend(np.asarray(values, float))
    return m.snapshot()


@pytest.mark.parametrize(
    ("value", "risk_free", "sharpe"),
    [
        (0.001, 0.0, math.inf),  # 0.001 * 1000 rounds in np.mean: the old extend said ~1e16
        (0.0003, 0.0, math.inf),
        (-0.0007, 0.0, -math.inf),
        (0.0001, 0.0001, math.nan),  # mean equals the risk-free rate: 0 / 0
        (0.0, 0.0, math.nan),
    ],
)
def test_constant_series_same_by_update_and_extend(value, risk_free, sharpe) -> None:
    values = [value] * 1000
    u, e = by_update(values, risk_free=risk_free), by_extend(values, risk_free=risk_free)
    assert same(u, e), {k: (u[k], e[k]) for k in u if u[k] != e[k]}
    assert e["annual_volatility"] == 0.0
    if math.isnan(sharpe):
        assert math.isnan(e["sharpe_ratio"])
    else:
        assert e["sharpe_ratio"] == sharpe


def test_constant_below_required_return_has_exact_downside() -> None:
    values = [0.0001] * 500
    u = by_update(values, required_return=0.0005)
    e = by_extend(values, required_return=0.0005)
    assert same(u, e)
    # by hand: (c - rr) * 252 / (|c - rr| * sqrt(252)) = -sqrt(252)
    assert e["sortino_ratio"] == pytest.approx(-math.sqrt(252), rel=1e-12)


def test_chunking_and_nans_do_not_matter() -> None:
    values = [0.002] * 300 + [math.nan] * 5 + [0.002] * 400
    ref = by_update(values)
    m = StreamingRiskMetrics(252)
    m.extend(values[:100])
    for v in values[100:150]:
        m.update(v)
    m.extend(values[150:])
    assert same(m.snapshot(), ref) and ref["sharpe_ratio"] == math.inf


def test_not_constant_is_not_the_rule() -> None:
    values = [0.001] * 999 + [0.001 + 1e-9]
    u, e = by_update(values), by_extend(values)
    assert math.isfinite(u["sharpe_ratio"]) and math.isfinite(e["sharpe_ratio"])
    assert u["sharpe_ratio"] == pytest.approx(e["sharpe_ratio"], rel=1e-6)
    assert u["annual_volatility"] > 0
