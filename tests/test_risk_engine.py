"""The live risk engine: sessions, journal-first ordering, restore, strategies, fills, view."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from livedesk.backend.journal import Journal
from livedesk.backend.risk.engine import (
    ACCOUNT,
    RiskEngine,
    intraday_periods_per_year,
    parse_series_name,
    series_name,
    session_time,
)
from livedesk.backend.risk.execution import annualised_drag_bps
from livedesk.backend.risk.metrics import StreamingRiskMetrics

D1, D2, D3 = dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20)


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k, v in a.items():
        if isinstance(v, dict):
            _same(v, b[k])
        elif isinstance(v, float) and math.isnan(v):
            assert math.isnan(b[k]), k
        elif isinstance(v, float):
            assert b[k] == pytest.approx(v, rel=1e-12, abs=1e-15), k
        else:
            assert b[k] == v, k


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "j.sqlite3", synchronous="NORMAL", compact_every=16) as j:
        yield j


def test_annualization_and_series_names():
    assert intraday_periods_per_year(5.0) == 252 * 23_400 / 5
    for key in ("account", "mom", "a:b"):
        for daily in (False, True):
            assert parse_series_name(series_name(key, daily)) == (key, daily)
    assert parse_series_name("mom") is None


def test_two_sessions_daily_reset_gives_no_spurious_return(journal):
    eng = RiskEngine(journal)
    assert eng.on_pnl(0.0, 0.0, 0, 0, 1_000_000.0, D1).intraday == ()  # baseline only
    a = eng.on_pnl(5.0, 1_000.0, 0, 0, 1_001_000.0, D1).intraday
    b = eng.on_pnl(10.0, 500.0, 0, 0, 1_000_500.0, D1).intraday
    held = eng.on_pnl(12.0, 700.0, 0, 0, 1_000_700.0, D1)  # within the interval: held
    assert held.intraday == ()
    # Next session: dailyPnL reset to 0 then +300 overnight; the previous PnL was 700.
    c = eng.on_pnl(100_000.0, 300.0, 0, 0, 1_001_000.0, D2)
    assert [s.ret for s in a] == [pytest.approx(1_000 / 1_000_000)]
    assert [s.ret for s in b] == [pytest.approx(-500 / 1_001_000)]
    # The held observation is flushed into D1, then D2 starts from a zero baseline.
    assert [(s.session, s.ret) for s in c.intraday] == [
        (D1, pytest.approx(200 / 1_000_500)),
        (D2, pytest.approx(300 / 1_000_700)),
    ]
    assert c.daily is None  # the first session has no previous close
    rets = eng.snapshot()["intraday"]
    assert rets["n"] == 4 and rets["cum_returns"] > 0  # no -700/NLV return anywhere
    eng.on_pnl(105.0 + 100_000, 1_300.0, 0, 0, 1_002_000.0, D2)
    d = eng.close_session()[ACCOUNT].daily
    assert d is not None and d.session == D2
    assert d.ret == pytest.approx(1_002_000 / 1_000_700 - 1)
    snap = eng.snapshot()
    assert snap["daily"]["n"] == 1 and snap["session"] == D2 and snap["nlv"] == 1_002_000.0
    # Everything emitted was journalled under the engine's series names.
    want = [1e3 / 1_000_000, -500 / 1_001_000, 200 / 1_000_500, 300 / 1_000_700, 1e3 / 1_001_000]
    np.testing.assert_allclose(journal.samples("account").ret, want, rtol=1e-12)
    daily = journal.samples("daily:account")
    assert daily.t.tolist() == [session_time(D2)] and daily.nlv.tolist() == [1_002_000.0]


class FlakyJournal(Journal):
    """A journal whose next ``append_samples`` fails once."""

    fail = False

    def append_samples(self, rows, states=None):
        if self.fail:
            self.fail = False
            raise OSError("disk full")
        super().append_samples(rows, states)


def test_journal_failure_leaves_metrics_and_baseline_unchanged(tmp_path):
    with FlakyJournal(tmp_path / "j.sqlite3") as j:
        eng = RiskEngine(j)
        eng.on_pnl(0.0, 0.0, 0, 0, 1e6, D1)
        eng.on_pnl(5.0, 100.0, 0, 0, 1e6, D1)
        before = eng.snapshot()
        j.fail = True
        with pytest.raises(OSError):
            eng.on_pnl(10.0, 400.0, 0, 0, 1e6, D1)
        _same(before, {**eng.snapshot(), "t": before["t"], "total_pnl": before["total_pnl"]})
        assert len(j.samples().t) == 1
        # The next observation recomputes from the last journalled baseline: nothing lost.
        out = eng.on_pnl(15.0, 600.0, 0, 0, 1e6, D1)
        assert [s.ret for s in out.intraday] == [pytest.approx(500 / 1e6)]
        assert j.samples().ret.tolist() == pytest.approx([100 / 1e6, 500 / 1e6])


def _core(snap: dict) -> dict:
    """A snapshot without the display-only PnL split, which is not journalled."""
    return {k: v for k, v in snap.items() if k not in ("unrealized", "realized")}


def _feed(eng: RiskEngine, rng: np.random.Generator, sessions: list[dt.date], t0: float) -> float:
    t = t0
    for k, session in enumerate(sessions):
        pnl, nlv = 0.0, 1e6 * (1 + 0.01 * k)
        for _ in range(40):
            t += float(rng.uniform(1, 8))
            pnl += float(rng.normal(0, 300))
            eng.on_pnl(t, pnl, pnl / 2, pnl / 2, nlv + pnl, session)
            eng.on_strategy_pnl("mom", t, pnl / 3, 3e5 + pnl / 3, session)
        t += 60_000
    return t


def test_restart_restores_identical_snapshots_and_resumes_the_sampler(tmp_path):
    path = tmp_path / "j.sqlite3"
    rng = np.random.default_rng(3)
    days = [D1 + dt.timedelta(days=i) for i in range(5)]
    with Journal(path, synchronous="NORMAL", compact_every=16) as j:
        live = RiskEngine(j)
        t = _feed(live, rng, days[:4], 0.0)
        live.close_session()
        for i in range(6):
            live.on_fill("mom", f"e{i}", "BUY" if i % 2 else "SELL", 10, 100 + i, 100.0, 1.0, 1, t)
        live.set_backtest_reference("mom", rng.normal(0.001, 0.01, 300))
        before = {k: live.snapshot(k) for k in live.keys()}
        rows, execs = live.view(), live.execution("mom")
        spark = live.equity("mom", 20)
    with Journal(path, synchronous="NORMAL", compact_every=16) as j:
        restored = RiskEngine(j)
        restored.restore()
        assert restored.keys() == [ACCOUNT, "mom"]
        for key, snap in before.items():
            _same(_core(snap), _core(restored.snapshot(key)))
        assert repr(restored.view()) == repr(rows)  # repr: NaN compares equal
        assert restored.execution("mom") == execs
        assert restored.equity("mom", 20) == spark
        _feed(restored, np.random.default_rng(9), days[4:], t + 100)
        restored.close_session()
    # The original engine continues on a scratch journal: both end up identical, so the
    # restored samplers resumed their baselines (no lost or spurious return at the restart).
    with Journal(tmp_path / "scratch.sqlite3", synchronous="NORMAL") as scratch:
        live.journal = scratch
        _feed(live, np.random.default_rng(9), days[4:], t + 100)
        live.close_session()
    for key in live.keys():
        _same(_core(live.snapshot(key)), _core(restored.snapshot(key)))
    assert restored.snapshot()["daily"]["n"] == 4


def test_each_strategy_has_its_own_metrics(journal):
    eng = RiskEngine(journal)
    for i, t in enumerate([0.0, 5.0, 10.0, 15.0]):
        eng.on_strategy_pnl("up", t, 100.0 * i, 1e5 + 100.0 * i, D1)
        eng.on_strategy_pnl("down", t, -50.0 * i, 1e5 - 50.0 * i, D1)
    up, down = eng.snapshot("up")["intraday"], eng.snapshot("down")["intraday"]
    assert up["n"] == down["n"] == 3
    assert up["cum_returns"] == pytest.approx(300 / 1e5, rel=1e-12)
    assert down["cum_returns"] == pytest.approx(-150 / 1e5, rel=1e-12)
    assert down["max_drawdown"] == pytest.approx(-150 / 1e5, rel=1e-12)
    assert eng.snapshot()["intraday"]["n"] == 0  # the account stream is separate
    assert eng.keys() == [ACCOUNT, "down", "up"]
    assert sorted(journal.sample_keys()) == ["strategy:down", "strategy:up"]
    with pytest.raises(ValueError):
        eng.on_strategy_pnl(ACCOUNT, 20.0, 0.0, 1e5, D1)
    with pytest.raises(KeyError, match="known: account, down, up"):
        eng.snapshot("nope")


def test_execution_quality_and_redelivered_exec_id(journal):
    eng = RiskEngine(journal)
    eng.on_pnl(0.0, 0.0, 0, 0, 1e6, D1)
    assert eng.on_fill("mom", "e1", "BOT", 100, 100.05, 100.0, 1.0, 1, 10.0)  # 5 bps
    assert eng.on_fill("mom", "e2", "SLD", 100, 99.90, 100.0, None, 1, 20.0)  # 10 bps
    assert eng.on_fill("mr", "e3", "BUY", 1, 4000.0, 4001.0, 2.5, 50, 30.0)  # -2.5 bps
    assert not eng.on_fill("mom", "e1", "BOT", 100, 100.05, 100.0, 1.0, 1, 10.0)
    assert len(journal.fills()) == 3
    mom = eng.execution("mom")
    assert mom.fills == 2 and mom.slippage.count == 2
    assert mom.slippage.mean == pytest.approx(7.5)
    assert mom.commission.count == 1  # e2's commission has not been reported yet
    assert mom.commission.mean == pytest.approx(1.0 / 10_005 * 1e4)
    assert eng.on_commission("e2", 0.5) and not eng.on_commission("zz", 1.0)
    assert eng.execution("mom").commission.count == 2
    assert journal.fills("mom")[1]["commission"] == 0.5
    every = eng.execution()
    assert every.fills == 3 and every.notional == pytest.approx(10_005 + 9_990 + 200_000)
    assert every.slippage.median == pytest.approx(5.0)
    # Drag: money lost over the one-day minimum span, in bps of the 1e6 NLV, per year.
    slipped = 0.05 / 100 * 10_005 + 0.1 / 100 * 9_990 - 1 / 4001 * 200_000
    lost = slipped + 1.0 + 0.5 + 2.5
    # ... shown per year only once 20 sessions support an annualised figure
    assert math.isnan(every.drag_bps_per_year) and every.drag_reason == "n/a: 0 of 20 sessions"
    costs = [f.cost() for f in eng.fills()]
    assert annualised_drag_bps(costs, 1e6, 1.0) == pytest.approx(lost / 1e6 * 1e4 * 365.25)
    with pytest.raises(ValueError):
        eng.on_fill("mom", "e9", "HOLD", 1, 1.0, 1.0, 0.0, 1, 40.0)
    assert len(journal.fills()) == 3


def _daily_stream(eng: RiskEngine, key: str, returns: np.ndarray) -> None:
    """One observation per session whose NLV path produces ``returns`` as daily returns."""
    nlv = 1e6
    start = dt.date(2026, 1, 1)
    for i in range(len(returns) + 1):
        if i:
            nlv *= 1 + returns[i - 1]
        day = start + dt.timedelta(days=i)
        if key == ACCOUNT:
            eng.on_pnl(i * 86_400.0, 0.0, 0, 0, nlv, day)
        else:
            eng.on_strategy_pnl(key, i * 86_400.0, 0.0, nlv, day)
    eng.close_session()


def test_view_flags_a_live_record_inconsistent_with_its_backtest(journal):
    eng = RiskEngine(journal)
    rng = np.random.default_rng(1)
    backtest = rng.normal(0.001, 0.005, 500)  # Sharpe ~3, shallow drawdowns
    eng.set_backtest_reference("bad", backtest)
    eng.set_backtest_reference("good", backtest)
    crash = rng.normal(-0.004, 0.002, 60)  # steady losses: Sharpe ~ -30, drawdown ~ -21 %
    _daily_stream(eng, "bad", crash)
    _daily_stream(eng, "good", backtest[:60])
    rows = {(r.key, r.metric): r for r in eng.view()}
    live_bad, ref = StreamingRiskMetrics(252), StreamingRiskMetrics(252)
    live_bad.extend(crash)
    ref.extend(backtest)
    bad_dd, bad_sr = rows[("bad", "max_drawdown")], rows[("bad", "sharpe_ratio")]
    assert bad_dd.live == pytest.approx(live_bad.snapshot()["max_drawdown"], rel=1e-9)
    assert bad_dd.backtest == pytest.approx(ref.snapshot()["max_drawdown"])
    assert bad_dd.diff == pytest.approx(bad_dd.live - bad_dd.backtest)
    assert bad_sr.live == pytest.approx(live_bad.snapshot()["sharpe_ratio"], rel=1e-9)
    assert bad_dd.flag is True and bad_sr.flag is True
    good = {r.metric: r for r in eng.view() if r.key == "good"}
    assert good["sharpe_ratio"].flag is False and good["max_drawdown"].flag is False
    # Untested metrics carry no flag; the account has no reference at all.
    assert good["annual_volatility"].flag is None
    acct = [r for r in eng.view() if r.key == ACCOUNT]
    assert acct and all(math.isnan(r.backtest) and r.flag is None for r in acct)


def test_equity_sparkline_keeps_the_deepest_drawdown(journal):
    eng = RiskEngine(journal, interval=3.0)
    rng = np.random.default_rng(2)
    pnl = np.cumsum(rng.normal(0, 500, 3000))
    for i, p in enumerate(pnl):
        eng.on_pnl(3.0 * i, float(p), 0, 0, 1e6 + float(p), D1)
        if i == 1000:
            eng.equity(ACCOUNT, 32)  # incremental: later calls only fold in new samples
    growth, dd = eng.equity(ACCOUNT, 32)
    snap = eng.snapshot()["intraday"]
    assert 16 <= len(growth) <= 32 and len(dd) == len(growth)
    assert min(dd) == pytest.approx(snap["max_drawdown"], rel=1e-9)
    assert max(growth) == pytest.approx(float(np.max(eng._tracks[ACCOUNT].intraday.equity())))
    g2, dd2 = eng.equity(ACCOUNT, 10)  # a new width rebuilds
    assert len(g2) <= 10 and min(dd2) == pytest.approx(min(dd))


def test_restore_of_many_samples_keeps_every_one(tmp_path):
    """Restore reads every bulk-written sample back into the metrics (its speed at 1e6
    samples is measured by ``benchmarks/risk_metrics.py``, not asserted here)."""
    n = 200_000
    rng = np.random.default_rng(5)
    r = rng.normal(0, 1e-4, n)
    with Journal(tmp_path / "big.sqlite3", synchronous="NORMAL") as j:
        j.record_samples(np.arange(n, dtype=float), np.zeros(n), np.full(n, 1e6), r)
        eng = RiskEngine(j)
        eng.restore()
    snap = eng.snapshot()["intraday"]
    assert snap["n"] == n
    # independent expectations from numpy over the same returns
    equity = np.cumprod(1.0 + r)
    assert snap["cum_returns"] == pytest.approx(equity[-1] - 1.0, rel=1e-9)
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    assert snap["max_drawdown"] == pytest.approx(float(np.min(equity / peak - 1.0)), rel=1e-9)


def test_restore_upgrades_a_version_1_journal_and_matches_fills_to_orders(tmp_path):
    import sqlite3

    from livedesk.backend.journal import MIGRATIONS

    path = tmp_path / "old.sqlite3"
    raw = sqlite3.connect(path)
    raw.executescript(MIGRATIONS[0])
    raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    raw.execute("INSERT INTO schema_version VALUES (1)")
    raw.execute(
        "INSERT INTO orders (client_id, order_id, perm_id, strategy, action, qty, order_type,"
        " arrival_mid, status, submitted_at, updated_at)"
        " VALUES (1, 7, 70, 'mom', 'BUY', 10, 'MKT', 50.0, 'Filled', 0, 0)"
    )
    raw.execute(
        "INSERT INTO fills (exec_id, order_id, perm_id, strategy, side, qty, price, t, commission)"
        " VALUES ('x1', 7, 70, 'mom', 'BOT', 10, 50.05, 1.0, 1.0)"
    )
    raw.commit()
    raw.close()
    with Journal(path) as j:
        eng = RiskEngine(j)
        eng.restore()
        summary = eng.execution("mom")
        assert summary.fills == 1 and summary.slippage.mean == pytest.approx(10.0)
        assert not eng.on_fill("mom", "x1", "BOT", 10, 50.05, 50.0, 1.0, 1, 1.0)
        assert eng.on_fill("mom", "x2", "BOT", 10, 50.0, 50.0, 1.0, 1, 2.0)
        assert j.fills()[-1]["arrival_mid"] == 50.0
