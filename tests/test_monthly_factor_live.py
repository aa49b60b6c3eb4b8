"""monthly-factor against the simulated gateway: demo bundle == gateway bars, dry run, real run,
idempotent second run, data errors that abort without trading, and the backtest reference."""

from __future__ import annotations

import asyncio
import io
import math

import numpy as np
import pandas as pd
import pytest

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.config import ConfigError
from livedesk.backend.contracts import stock
from livedesk.backend.journal import Journal
from livedesk.backend.strategies.context import StrategyContext
from livedesk.backend.strategies.monthly_factor import STATE_KEY, MonthlyFactor
from livedesk.backend.strategies.registry import create_strategy
from livedesk.backend.trading.app import TradingApp
from livedesk.backend.trading.orders import market as mkt
from tests.conftest import TEST_SESSION, until

pytestmark = pytest.mark.slow
RUN_DATE = pd.Timestamp("2026-11-02")  # the session after the October 2026 month-end


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory, market) -> str:
    """The demo bundle of the test market (seed 7, TEST_SESSION), built once per session."""
    from livedesk.backend.bundles.ingest import ingest_demo

    root = str(tmp_path_factory.mktemp("demo-data"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIVEDESK_DATA_DIR", root)
        ingest_demo(7, TEST_SESSION, market=market)  # the gateway's own market object
    return root


@pytest.fixture
def demo_env(demo_root, monkeypatch, tmp_path) -> str:
    monkeypatch.setenv("LIVEDESK_DATA_DIR", demo_root)
    monkeypatch.setenv("LIVEDESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LIVEDESK_CONFIG_DIR", str(tmp_path / "config"))
    return demo_root


@pytest.fixture
async def app(gw, ib_log_guard):
    a = await TradingApp.connect("127.0.0.1", gw.port, client_id=7)
    a.today = lambda: TEST_SESSION
    yield a
    a.disconnect()


async def test_demo_bundle_closes_equal_the_gateway_daily_bars(demo_env, app, market) -> None:
    from livedesk.backend.bundles.store import load_bundle

    bundle = load_bundle("demo")
    reader = bundle.equity_daily_bar_reader
    assert pd.Timestamp(reader.last_available_dt).date() == market.sessions[-2].date()
    assert len(reader.sessions[reader.sessions >= reader.first_trading_day]) == 520
    for symbol in ("AAPL", "BRK B", "XOM", "PSX"):
        contract = await app.resolve_contract(stock(symbol))
        bars = await app.ib.reqHistoricalDataAsync(
            contract, "", "2 Y", "1 day", "TRADES", useRTH=True, formatDate=1
        )
        history = [b for b in bars if b.date < TEST_SESSION]
        assert len(history) > 450
        asset = bundle.asset_finder.retrieve_asset(contract.conId)  # sid = conId
        assert asset.symbol == symbol
        assert asset.end_date > pd.Timestamp(reader.last_available_dt)  # live: in the future
        days = pd.DatetimeIndex([pd.Timestamp(b.date) for b in history])
        o, h, lo, c, v = reader.load_raw_arrays(
            ["open", "high", "low", "close", "volume"], days[0], days[-1], [asset.sid]
        )
        got = reader.sessions[(reader.sessions >= days[0]) & (reader.sessions <= days[-1])]
        assert list(got) == list(days)
        np.testing.assert_allclose(c[:, 0], [b.close for b in history], rtol=0, atol=1e-9)
        np.testing.assert_allclose(o[:, 0], [b.open for b in history], rtol=0, atol=1e-9)
        np.testing.assert_allclose(h[:, 0], [b.high for b in history], rtol=0, atol=1e-9)
        np.testing.assert_allclose(lo[:, 0], [b.low for b in history], rtol=0, atol=1e-9)
        assert np.array_equal(v[:, 0], [b.volume for b in history])


async def run_all_fills(gw, trades, seconds: int = 600) -> None:
    """Step the frozen gateway clock until every trade is done (orders fill over seconds)."""
    for _ in range(seconds):
        if all(t.isDone() for t in trades):
            return
        gw.advance(1)
        await asyncio.sleep(0.005)
    raise AssertionError("trades not done")


async def test_dry_run_previews_every_order_and_sends_nothing(demo_env, app, gw) -> None:
    from livedesk.backend.momentum.pipeline import FactorEngine

    strategy = MonthlyFactor()
    ctx = StrategyContext(app, strategy.name, dry_run=True)
    decision = await strategy.run_once(ctx)
    assert not decision.skipped, decision.skipped_reason
    picks = FactorEngine("demo").run(RUN_DATE).picks
    assert f"run date {RUN_DATE:%Y-%m-%d} (month-end 2026-10-30 close)" in decision.summary
    for sym in (*picks.longs, *picks.shorts):
        assert sym in decision.summary
    assert len(ctx.orders) >= 2 * strategy.params.n
    assert not any(o["sent"] for o in ctx.orders) and not gw.broker.orders
    actions = {o["contract"].split()[0]: o["action"] for o in ctx.orders}
    assert all(actions[s] == "BUY" for s in picks.longs)
    assert all(actions[s] == "SELL" for s in picks.shorts)
    assert decision.targets == {f"{s} STK": w for s, w in picks.weights.items()}
    assert sum(abs(w) for w in decision.targets.values()) == pytest.approx(1.0)
    assert decision.values["scored"] >= 20 and decision.values["universe"] == 500


async def test_real_run_reaches_targets_then_a_second_run_sends_nothing(
    demo_env, app, gw, tmp_path
) -> None:
    from livedesk.backend.momentum.pipeline import FactorEngine

    picks = FactorEngine("demo").run(RUN_DATE).picks
    outsider, manual_symbol = [s for s in ("KO", "PG", "MMM", "IBM") if s not in picks.weights][:2]
    other = await app.resolve_contract(stock(outsider))
    manual = await app.resolve_contract(stock(manual_symbol))
    first = await app.order_target_percent(other, mkt, 0.03)
    by_hand = await app.order_target_percent(manual, mkt, 0.02)
    await run_all_fills(gw, [first.trade, by_hand.trade])
    await until(lambda: other.conId in app.positions and manual.conId in app.positions)
    manual_held = app.positions[manual.conId].position

    journal = Journal(tmp_path / "journal.sqlite3")
    strategy = MonthlyFactor()
    ctx = StrategyContext(app, strategy.name, journal=journal)
    # last month's rebalance picked `outsider`: it leaves the book now. `manual` was bought by
    # hand (another strategy's, say): the factor's rebalance must leave it alone.
    ctx.save_state(
        STATE_KEY,
        {"run_date": "2026-10-01", "account": app.account, "signs": {str(other.conId): 1.0}},
    )
    decision = await strategy.run_once(ctx)
    assert not decision.skipped, decision.skipped_reason
    assert len(ctx.orders) == 2 * strategy.params.n + 1 and all(o["sent"] for o in ctx.orders)
    assert not any(o["contract"] == f"{manual_symbol} STK" for o in ctx.orders)
    sides = [o["action"] for o in ctx.orders]
    assert sides == sorted(sides, key=lambda a: a != "SELL")  # every sell before any buy
    closing = [o for o in ctx.orders if o["contract"] == f"{outsider} STK"]
    held = app.positions[other.conId].position
    assert closing[0]["action"] == "SELL" and closing[0]["quantity"] == held  # goes to 0
    # mid-rebalance (orders working, some partly filled): a re-plan counts the working
    # orders — it does not double them; at most a one-share rounding residual per name
    mid = StrategyContext(app, strategy.name, dry_run=True)
    replan = await MonthlyFactor().run_once(mid)
    assert not replan.skipped
    assert all(o["quantity"] <= 1 for o in mid.orders), [
        (o["contract"], o["action"], o["quantity"]) for o in mid.orders
    ]
    trades = [t for t in app.ib.trades() if strategy_of(t.order.orderRef) == strategy.name]
    await run_all_fills(gw, trades)
    await until(lambda: other.conId not in app.positions)
    assert app.positions[manual.conId].position == manual_held
    contracts = {s: await app.resolve_contract(stock(s)) for s in picks.weights}
    await until(lambda: all(c.conId in app.positions for c in contracts.values()))
    nlv = app.net_liquidation
    for sym, w in picks.weights.items():
        c = contracts[sym]
        price = (await app.quote(c)).price
        held = app.positions[c.conId].position * price / nlv
        assert held == pytest.approx(w, abs=0.004), sym  # one share and a price move away

    sent_before = len(gw.broker.orders)
    again = MonthlyFactor()
    ctx2 = StrategyContext(app, again.name, journal=journal)
    second = await again.run_once(ctx2)
    assert second.skipped and "already rebalanced for run date 2026-11-02" in second.skipped_reason
    assert ctx2.orders == [] and len(gw.broker.orders) == sent_before
    journal.close()


def _random_walk_csv(path, sessions: pd.DatetimeIndex, late_start: str) -> None:
    """30 random walks over ``sessions``; S15..S29 start at ``late_start``."""
    rng = np.random.default_rng(11)
    rows = ["date,open,high,low,close,volume,Name"]
    for k in range(30):
        price = 50.0 * np.exp(np.cumsum(rng.normal(0, 0.01, len(sessions))))
        for d, p in zip(sessions, price, strict=True):
            if k >= 15 and d < pd.Timestamp(late_start):
                continue
            rows.append(
                f"{d:%Y-%m-%d},{p:.2f},{p * 1.01:.2f},{p * 0.99:.2f},{p:.2f},10000,S{k:02d}"
            )
    path.write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def walk_root(tmp_path_factory) -> str:
    """A CSV bundle ``walk``: 2025-06-02..2026-10-15, half the names listed from 2026-03-02."""
    from livedesk.backend.bundles.ingest import ingest_csv
    from livedesk.backend.momentum.factor import xnys_calendar

    root = tmp_path_factory.mktemp("walk-data")
    path = root / "walk.csv"
    _random_walk_csv(
        path, xnys_calendar().sessions_in_range("2025-06-02", "2026-10-15"), "2026-03-02"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIVEDESK_DATA_DIR", str(root / "data"))
        ingest_csv(path, "walk")
    return str(root / "data")


async def test_a_stale_bundle_aborts_the_run_without_an_order(app, gw, walk_root, monkeypatch):
    monkeypatch.setenv("LIVEDESK_DATA_DIR", walk_root)
    strategy = create_strategy("monthly-factor", {"bundle": "walk"})
    ctx = StrategyContext(app, strategy.name)
    decision = await strategy.run_once(ctx)  # run date 2026-11-02 needs the 2026-10-30 close
    assert decision.skipped
    assert "ends 2026-10-15: a run on 2026-11-02 needs bars through 2026-10-30" in (
        decision.skipped_reason
    )
    assert ctx.orders == [] and not gw.broker.orders


def test_short_history_and_too_few_scores_are_clear_errors(walk_root, monkeypatch) -> None:
    from livedesk.backend.momentum.factor import FactorDataError
    from livedesk.backend.momentum.pipeline import FactorEngine

    monkeypatch.setenv("LIVEDESK_DATA_DIR", walk_root)
    engine = FactorEngine("walk")
    with pytest.raises(FactorDataError, match="the first run date with 253 sessions of history is"):
        engine.run(pd.Timestamp("2026-05-01"))
    with pytest.raises(FactorDataError, match="not an XNYS session"):
        engine.run(pd.Timestamp("2026-07-04"))
    with pytest.raises(FactorDataError, match="only 15 of 30 assets have a momentum score"):
        engine.run(pd.Timestamp("2026-10-01"))  # S15..S29 have < 253 closes
    run = engine.run(pd.Timestamp("2026-10-01"), n=7)
    assert run.picks.scored == 15 and len(run.picks.weights) == 14
    assert all(int(s[1:]) < 15 for s in run.picks.weights)


async def test_missing_bundle_aborts_with_the_command_to_run(app, gw, tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEDESK_DATA_DIR", str(tmp_path / "empty"))
    strategy = create_strategy("monthly-factor", {"bundle": "nosuch"})
    ctx = StrategyContext(app, strategy.name)
    decision = await strategy.run_once(ctx)
    assert decision.skipped and "livedesk bundle ingest --csv PATH --name nosuch" in (
        decision.skipped_reason
    )
    assert not gw.broker.orders


def test_livedesk_backtest_stores_a_reference_the_journal_returns(
    demo_env, tmp_path, market, monkeypatch
):
    from livedesk.backend.momentum.factor import xnys_calendar
    from livedesk.backend.strategies import runner
    from livedesk.tui.cli import main

    buf = io.StringIO()  # the runner's default ``out`` is the sys.stdout of its import time
    real = runner.run_backtest
    monkeypatch.setattr(runner, "run_backtest", lambda *a, **k: real(*a, **k, out=buf, err=buf))
    path = tmp_path / "j.sqlite3"
    argv = ["backtest", "monthly-factor", "--start", "2026-08-03", "--end", "2026-10-30"]
    assert main([*argv, "--bundle", "demo", "--journal", str(path)]) == 0
    out = buf.getvalue()
    assert "commission $0.005/share, $1 minimum" in out and "slippage 1 bps fixed" in out
    assert "3 rebalances" in out and "bundle 'demo'" in out
    with Journal(path) as journal:
        ref = journal.backtest_reference("monthly-factor")
    sessions = xnys_calendar().sessions_in_range("2026-08-03", "2026-10-30")
    assert ref is not None and ref.dates == [f"{d:%Y-%m-%d}" for d in sessions]
    assert len(ref.returns) == len(sessions)
    assert np.any(ref.returns != 0) and np.all(np.isfinite(ref.returns))
    wealth = float(np.prod(1.0 + ref.returns)) - 1.0
    assert ref.metrics["total_return"] == pytest.approx(wealth, rel=1e-9)
    assert ref.metrics["rebalances"] == 3 and ref.metrics["param.n"] == 10
    vol = float(np.std(ref.returns, ddof=1) * math.sqrt(252))
    assert ref.metrics["annual_volatility"] == pytest.approx(vol, rel=1e-9)

    first = market.sessions[253]  # 253 closes before it: the first full factor window
    assert (
        main(["backtest", "monthly-factor", "--start", "2025-01-02", "--journal", str(path)]) == 1
    )
    assert f"can start on {first:%Y-%m-%d} at the earliest" in buf.getvalue()


def test_parameters_are_validated() -> None:
    for overrides, key in (
        ({"n": 0}, "n"),
        ({"top_k": 5}, "top_k"),
        ({"bundle": "../x"}, "bundle"),
    ):
        with pytest.raises(ConfigError, match=key):
            create_strategy("monthly-factor", overrides)
    s = create_strategy("monthly-factor", {"n": 5, "top_k": 100, "offset_minutes": 45})
    assert s.params.n == 5 and "+45 min" in s.schedule.describe()


async def test_a_stale_demo_bundle_is_rebuilt_with_the_closed_bar_the_gateway_serves(
    tmp_path, monkeypatch, market, ib_log_guard
) -> None:
    import json

    from ib_async import IB, Contract

    from livedesk.backend.bundles.paths import META_FILE, bundle_dir
    from livedesk.backend.bundles.store import bundle_info, load_bundle
    from livedesk.backend.sim.gateway import SimGateway
    from livedesk.backend.strategies.monthly_factor import refresh_demo_bundle

    monkeypatch.setenv("LIVEDESK_DATA_DIR", str(tmp_path / "data"))
    assert refresh_demo_bundle("demo", TEST_SESSION) is None  # no bundle: nothing to refresh
    old = bundle_dir("demo") / "2026-11-19T21;00;00"
    old.mkdir(parents=True)
    meta = {"kind": "demo", "extra": {"seed": 7, "session": "2026-11-19"}}
    (old / META_FILE).write_text(json.dumps(meta))
    note = refresh_demo_bundle("demo", TEST_SESSION, after_close=True)
    assert note == "demo bundle rebuilt for session 2026-11-20 with its closed bar (seed 7)"
    info = bundle_info("demo")
    assert info.meta["extra"]["session"] == "2026-11-20" and info.meta["assets"] == 506
    assert info.meta["last_session"] == "2026-11-20" and info.meta["sessions"] == 521
    assert refresh_demo_bundle("demo", TEST_SESSION, after_close=True) is None  # current
    assert refresh_demo_bundle("demo", TEST_SESSION) is None

    reader = load_bundle("demo").equity_daily_bar_reader
    day = pd.Timestamp(TEST_SESSION)
    async with SimGateway(
        port=0, market=market, speed=0.0, start_time=market.session_close() + 1800
    ) as gw:
        ib = IB()
        await ib.connectAsync("127.0.0.1", gw.port, clientId=9, timeout=5)
        for con_id in (1001, 1300, 1500):
            [contract] = await ib.qualifyContractsAsync(Contract(conId=con_id))
            bars = await ib.reqHistoricalDataAsync(
                contract, "", "2 D", "1 day", "TRADES", useRTH=True, formatDate=1
            )
            last = bars[-1]
            assert last.date == TEST_SESSION
            got = [a[0, 0] for a in reader.load_raw_arrays(
                ["open", "high", "low", "close", "volume"], day, day, [con_id]
            )]  # fmt: skip
            want = [last.open, last.high, last.low, last.close, last.volume]
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
        ib.disconnect()


def test_a_rebalance_counts_as_done_only_while_the_account_holds_it() -> None:
    from livedesk.backend.strategies.monthly_factor import rebalance_done

    state = {"run_date": "2026-11-02", "account": "DU1", "signs": {"1001": 1.0, "1002": -1.0}}
    book = {1001: 1.0, 1002: -1.0, 1003: 1.0}
    assert rebalance_done(state, "2026-11-02", "DU1", book)
    assert not rebalance_done(state, "2026-12-01", "DU1", book)  # a new month-end
    assert not rebalance_done(state, "2026-11-02", "DU2", book)  # another account
    assert not rebalance_done(state, "2026-11-02", "DU1", {1001: 1.0})  # fresh demo gateway
    assert not rebalance_done(state, "2026-11-02", "DU1", {1001: 1.0, 1002: 1.0})  # wrong side
    assert not rebalance_done(None, "2026-11-02", "DU1", book)
    assert not rebalance_done({**state, "signs": {}}, "2026-11-02", "DU1", book)


def test_backtest_and_report_use_the_demo_accounts_journal(demo_env, monkeypatch, capsys):
    """No broker configured: ``livedesk backtest`` (on the embedded demo gateway) stores the
    reference in the demo account's journal on disk, and ``livedesk report`` without
    ``--journal`` reads it there, the reference current with the configured parameters."""
    from pathlib import Path

    from livedesk.backend.strategies import runner
    from livedesk.tui.cli import main

    demo_journal = Path(demo_env) / "journal-DU0000001.sqlite3"
    assert not demo_journal.exists()
    buf = io.StringIO()
    real = runner.run_backtest
    monkeypatch.setattr(runner, "run_backtest", lambda *a, **k: real(*a, **k, out=buf, err=buf))
    try:
        argv = ["backtest", "monthly-factor", "--start", "2026-09-01", "--end", "2026-10-30"]
        assert main([*argv, "--bundle", "demo"]) == 0, buf.getvalue()
        with Journal(demo_journal) as j:
            assert j.backtest_reference("monthly-factor") is not None
        capsys.readouterr()
        assert main(["report", "--strategy", "monthly-factor"]) == 0
        out = capsys.readouterr().out
        assert str(demo_journal) in out
        assert "backtest reference 2026-09-01 .. 2026-10-30: current parameters" in out
    finally:
        demo_journal.unlink(missing_ok=True)
