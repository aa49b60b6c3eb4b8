"""StreamingRiskMetrics against empyrical-reloaded on random, edge-case and real returns."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livedesk.backend.risk.metrics import StreamingRiskMetrics
from livedesk.backend.risk.returns import ReturnSampler

ep = pytest.importorskip("empyrical")
SP500 = Path(__file__).resolve().parents[2] / "shared" / "data" / "sp500_daily_2013_2018.csv.gz"
REL, ABS = 1e-9, 1e-12


def reference(r, annualization=252, cutoff=0.05, risk_free=0.0, required_return=0.0) -> dict:
    """The same figures computed by empyrical over the whole series."""
    r = np.asarray(r, dtype=np.float64)
    a = annualization
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        out = {
            "n": len(r),
            "cum_returns": ep.cum_returns_final(r),
            "annual_return": ep.annual_return(r, annualization=a),
            "max_drawdown": ep.max_drawdown(r),
            "current_drawdown": ep.stats.drawdown_series(r)[-1] if len(r) else math.nan,
            "annual_volatility": ep.annual_volatility(r, annualization=a),
            "sharpe_ratio": ep.sharpe_ratio(r, risk_free=risk_free, annualization=a),
            "sortino_ratio": ep.sortino_ratio(r, required_return=required_return, annualization=a),
            "omega_ratio": ep.omega_ratio(
                r, risk_free=risk_free, required_return=required_return, annualization=a
            ),
            "calmar_ratio": ep.calmar_ratio(r, annualization=a),
            # np.percentile raises IndexError on an empty array; the streaming class says NaN.
            "value_at_risk": ep.value_at_risk(r, cutoff) if len(r) else math.nan,
            "cvar": ep.conditional_value_at_risk(r, cutoff),
        }
    return {k: float(v) for k, v in out.items()}


def _zero_variance(r) -> bool:
    valid = np.asarray(r, dtype=np.float64)
    valid = valid[~np.isnan(valid)]
    return valid.size >= 2 and bool(np.all(valid == valid[0]))


def assert_matches(got: dict, r, **params) -> None:
    want = reference(r, **params)
    degenerate = _zero_variance(r)
    for key, expected in want.items():
        value = got[key]
        if degenerate and key == "sharpe_ratio":
            # Exact zero variance: ours is ±inf/NaN, empyrical's round-off may leave ~1e16.
            assert not math.isfinite(value)
            if not math.isnan(value):
                assert math.copysign(1, value) == math.copysign(1, expected)
                assert abs(expected) > 1e12
            continue
        if math.isnan(expected):
            assert math.isnan(value), (key, value, expected, len(r))
        elif math.isinf(expected):
            assert value == expected, (key, value, expected)
        else:
            assert value == pytest.approx(expected, rel=REL, abs=ABS), (key, len(r))


returns_element = st.one_of(
    st.integers(-3000, 3000).map(lambda i: i / 1e4),
    st.floats(-0.5, 0.5, allow_nan=False).filter(lambda x: x == 0 or abs(x) > 1e-9),
    st.just(math.nan),
)
params = st.fixed_dictionaries(
    {
        "annualization": st.sampled_from([1, 12, 252, 252 * 78]),
        "cutoff": st.sampled_from([0.0, 0.01, 0.05, 0.1, 0.5, 1.0]) | st.floats(0, 1),
        "risk_free": st.sampled_from([0.0, 0.0001]),
        "required_return": st.sampled_from([0.0, 0.0002, 0.1, -1.0]),
    }
)


@settings(max_examples=300, deadline=None)
@given(r=st.lists(returns_element, max_size=80), p=params)
def test_random_series_match_empyrical(r, p):
    m = StreamingRiskMetrics(**p)
    for x in r:
        m.update(x)
    assert m.n == len(r)
    assert_matches(m.snapshot(), r, **p)


@settings(max_examples=100, deadline=None)
@given(r=st.lists(returns_element, min_size=64, max_size=300), p=params, split=st.integers(0, 300))
def test_extend_matches_empyrical(r, p, split):
    """A bulk extend (vectorised path) after some streaming updates."""
    m = StreamingRiskMetrics(**p)
    for x in r[:split]:
        m.update(x)
    m.extend(np.array(r[split:] * 3))
    assert_matches(m.snapshot(), r[:split] + r[split:] * 3, **p)


@settings(max_examples=50, deadline=None)
@given(value=st.sampled_from([0.0, 0.01, -0.013, 0.1]), n=st.integers(0, 40), p=params)
def test_constant_series(value, n, p):
    m = StreamingRiskMetrics(**p)
    m.extend([value] * n)
    assert_matches(m.snapshot(), [value] * n, **p)


def test_empty_and_one_sample():
    m = StreamingRiskMetrics(252)
    snap = m.snapshot()
    assert snap["n"] == 0
    assert all(math.isnan(v) for k, v in snap.items() if k != "n")
    assert_matches(snap, [])
    m.update(0.02)
    assert_matches(m.snapshot(), [0.02])
    nan_only = StreamingRiskMetrics(252)
    nan_only.update(math.nan)
    assert_matches(nan_only.snapshot(), [math.nan])


def test_every_prefix_with_nans():
    rng = np.random.default_rng(11)
    r = rng.standard_t(3, 400) * 0.01
    r[rng.random(r.size) < 0.05] = np.nan
    m = StreamingRiskMetrics(252, cutoff=0.05, risk_free=0.0001, required_return=0.05)
    for i, x in enumerate(r):
        m.update(x)
        assert_matches(m.snapshot(), r[: i + 1], risk_free=0.0001, required_return=0.05)


def test_chunked_extend_every_chunk_boundary():
    rng = np.random.default_rng(5)
    r = rng.normal(0.0005, 0.01, 5000)
    m = StreamingRiskMetrics(252, cutoff=0.01)
    done = 0
    for size in rng.integers(1, 700, 40):
        m.extend(r[done : done + size])
        done = min(done + size, r.size)
        assert_matches(m.snapshot(), r[:done], cutoff=0.01)


def test_million_samples_stay_within_tolerance():
    rng = np.random.default_rng(1)
    r = rng.normal(0.0002, 0.01, 1_000_000)
    m = StreamingRiskMetrics(252 * 4680)
    m.extend(r[:990_000])
    for x in r[990_000:].tolist():
        m.update(x)
    assert_matches(m.snapshot(), r, annualization=252 * 4680)


def test_accessors_follow_empyrical_curves():
    rng = np.random.default_rng(2)
    r = rng.normal(0, 0.02, 300)
    r[10] = np.nan
    m = StreamingRiskMetrics(252)
    m.extend(r[:100])
    for x in r[100:]:
        m.update(x)
    np.testing.assert_array_equal(m.returns(), r)
    np.testing.assert_allclose(m.equity() - 1.0, ep.cum_returns(r.copy()), rtol=1e-12)
    want = ep.stats.drawdown_series(r)[1:]  # an ndarray gets the starting point too
    np.testing.assert_allclose(m.drawdowns(), want, rtol=1e-12, atol=1e-15)
    assert m.drawdowns().min() == m.snapshot()["max_drawdown"]


def test_invalid_input_rejected():
    with pytest.raises(ValueError):
        StreamingRiskMetrics(0)
    with pytest.raises(ValueError):
        StreamingRiskMetrics(252, cutoff=1.5)
    m = StreamingRiskMetrics(252)
    m.update(0.01)
    with pytest.raises(ValueError):
        m.update(math.inf)
    with pytest.raises(ValueError):
        m.extend(np.r_[np.zeros(100), -np.inf])
    assert m.n == 1
    assert_matches(m.snapshot(), [0.01])


@pytest.fixture(scope="module")
def sp500_returns() -> dict[str, np.ndarray]:
    if not SP500.exists():
        pytest.skip(f"real S&P 500 data not found at {SP500}")
    import pandas as pd

    df = pd.read_csv(SP500, usecols=["date", "close", "Name"])
    wide = df.pivot(index="date", columns="Name", values="close").sort_index()
    rets = wide.pct_change(fill_method=None).iloc[1:]
    return {
        "AAPL": rets["AAPL"].to_numpy(),
        "NFLX": rets["NFLX"].to_numpy(),
        # A ticker listed late: leading NaNs until its first session.
        "late": rets[wide.isna().sum().idxmax()].to_numpy(),
        "equal_weight": rets.mean(axis=1).to_numpy(),
    }


@pytest.mark.parametrize("name", ["AAPL", "NFLX", "late", "equal_weight"])
def test_real_sp500_returns(sp500_returns, name):
    r = sp500_returns[name]
    streamed = StreamingRiskMetrics(252)
    for x in r:
        streamed.update(x)
    assert_matches(streamed.snapshot(), r)
    bulk = StreamingRiskMetrics(252, cutoff=0.01)
    bulk.extend(r)
    assert_matches(bulk.snapshot(), r, cutoff=0.01)


def test_real_returns_every_prefix(sp500_returns):
    r = sp500_returns["NFLX"][:600]
    m = StreamingRiskMetrics(252)
    for i, x in enumerate(r):
        m.update(x)
        assert_matches(m.snapshot(), r[: i + 1])


# ---- streaming returns from the PnL / NetLiquidation stream ------------------------------

D1, D2, D3 = dt.date(2026, 11, 19), dt.date(2026, 11, 20), dt.date(2026, 11, 23)


def test_sampler_interval_minimum():
    with pytest.raises(ValueError, match="at least 3"):
        ReturnSampler(interval=2.9)
    assert ReturnSampler(interval=3).interval == 3.0


def test_sampler_throttles_to_the_interval():
    s = ReturnSampler(interval=5)
    emitted = []
    for t in range(21):  # IB's PnL arrives about once a second
        emitted += s.observe(float(t), 10.0 * t, 100_000.0, D1).intraday
    assert [e.t for e in emitted] == [5.0, 10.0, 15.0, 20.0]
    assert all(e.ret == pytest.approx(50.0 / 100_000.0) for e in emitted)
    flushed = s.close_session().intraday
    assert flushed == ()  # nothing was held back after t = 20


def test_sampler_daily_reset_emits_no_spurious_return():
    s = ReturnSampler(interval=5)
    s.observe(0.0, 0.0, 100_000.0, D1)
    s.observe(10.0, 1_000.0, 100_000.0, D1)
    s.observe(20.0, 1_000.0, 101_000.0, D1)  # NLV refreshes at the close
    # Next session: dailyPnL restarted from zero and already holds a +200 overnight move.
    out = s.observe(90_000.0, 200.0, 101_200.0, D2)
    assert out.daily is None  # the first observed session has no previous close
    (first,) = out.intraday
    assert first.session == D2 and first.ret == pytest.approx(200.0 / 101_000.0)
    s.observe(90_010.0, -300.0, 101_200.0, D2)
    s.observe(90_020.0, -300.0, 100_700.0, D2)
    closed = s.close_session()
    assert closed.daily.session == D2
    assert closed.daily.ret == pytest.approx(100_700.0 / 101_000.0 - 1)
    assert s.close_session() == type(closed)()  # closing twice does nothing


def test_sampler_flushes_held_observation_at_session_change():
    s = ReturnSampler(interval=5)
    s.observe(0.0, 0.0, 50_000.0, D1)
    s.observe(5.0, 100.0, 50_000.0, D1)
    s.observe(7.0, 300.0, 50_000.0, D1)  # held: less than 5 s after the last sample
    (held,) = s.close_session().intraday
    assert (held.t, held.ret) == (7.0, pytest.approx(200.0 / 50_000.0))
    s.observe(100.0, 0.0, 50_300.0, D2)
    s.observe(101.0, 50.0, 50_300.0, D2)  # held, then flushed when D3 starts
    out = s.observe(200.0, 10.0, 50_350.0, D3)  # D2 was never closed explicitly
    assert [(e.session, e.t) for e in out.intraday] == [(D2, 101.0), (D3, 200.0)]
    assert out.daily.session == D2 and out.daily.ret == pytest.approx(50_300.0 / 50_000.0 - 1)
    assert out.intraday[1].ret == pytest.approx(10.0 / 50_300.0)


def test_sampler_intraday_returns_add_up_to_the_session_pnl():
    rng = np.random.default_rng(8)
    s = ReturnSampler(interval=5)
    pnl = np.cumsum(rng.normal(0, 50, 400))
    s.observe(0.0, 0.0, 1e6, D1)
    rets = []
    for i, p in enumerate(pnl, start=1):
        rets += [e.ret for e in s.observe(float(i), p, 1e6, D1).intraday]
    rets += [e.ret for e in s.close_session().intraday]  # the held tail is flushed
    assert sum(rets) * 1e6 == pytest.approx(pnl[-1])


def test_sampler_ignores_unusable_values():
    s = ReturnSampler(interval=5)
    assert s.observe(0.0, 0.0, math.nan, D1).intraday == ()  # no NLV yet
    s.observe(1.0, 0.0, 100_000.0, D1)
    assert s.observe(10.0, math.nan, 100_000.0, D1).intraday == ()
    (e,) = s.observe(20.0, 500.0, 0.0, D1).intraday  # NLV 0 ignored, last usable kept
    assert e.ret == pytest.approx(0.005) and e.nlv == 100_000.0
