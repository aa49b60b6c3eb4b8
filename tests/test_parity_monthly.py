"""Parity: monthly-factor live on the stepped simulated gateway across a month end, and its
zipline reference (:func:`~livedesk.backend.momentum.backtest.run_backtest`) over the same
sessions.

The gateway (seed 7) starts ten minutes before the close of Monday 2026-11-30 — the last
session of November (``M``) — with its clock stepped by hand. The strategy runs under the
controller on its own schedule (``M``'s close + 30 min), its market orders wait overnight and
fill at the open of the run date ``D`` = 2026-12-01. After ``D``'s close the gateway's own
history (through ``D``) is bundled and zipline runs the reference over ``M`` … ``D`` with no
costs. Expectations come from the gateway's daily bars by hand, not from the Pipeline:

* the picks: the factor's definition computed with pandas on the gateway's closes
  (:func:`tests.test_monthly_factor_timing.picks_at`), top/bottom 10, weights ±1/20;
* the reference's shares: ``0.05 · $1,000,000 / M's close``, truncated toward zero (zipline);
  live's within one share (live sizes on the after-close quote's mid, zipline on the close);
* timing: live decides after ``M``'s close, nothing fills before ``D``'s open, every live fill
  is on ``D`` within 10 s of its open; the reference fills on ``D`` at ``D``'s open exactly;
* price tolerance: each live fill is exactly the gateway's cost model (touch + square-root
  impact, rounded against the trader) and differs from the reference's open fill by the
  trader's cost, at most 25 bps (half the spread, the impact and the first seconds' drift).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math

import pandas as pd
import pytest

from livedesk.backend.journal import Journal
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.strategies import GatewayClock, StrategyController, create_strategy
from livedesk.backend.trading.app import TradingApp
from tests.conftest import until
from tests.parity_harness import jump, modelled

pytestmark = pytest.mark.slow
M = dt.date(2026, 11, 30)  # the last session of November 2026 (a Monday)
D = dt.date(2026, 12, 1)  # the run date: the next session
N = 10
CAPITAL = 1_000_000.0  # the simulated account's NetLiquidation = the reference's capital
PRICE_TOLERANCE = 25e-4


def gateway_panels(market):
    """Closes and volumes of the demo universe from the gateway's daily bars (through M)."""
    from livedesk.backend.bundles.demo import demo_universe

    close, volume = {}, {}
    for inst in demo_universe(market):
        bars = market.daily_bars(inst.con_id)
        index = pd.DatetimeIndex(bars["date"].astype("datetime64[ns]"))
        close[inst.symbol] = pd.Series(bars["close"].astype(float), index=index)
        volume[inst.symbol] = pd.Series(bars["volume"].astype(float), index=index)
    close, volume = pd.DataFrame(close), pd.DataFrame(volume)
    return close, volume, close.notna()


async def run_live(gw: SimGateway, tmp_path) -> tuple[list, list]:
    """The controller runs monthly-factor across M's close and D's open; its decisions and the
    gateway's executions."""
    app = await TradingApp.connect("127.0.0.1", gw.port, 31)
    journal = Journal(tmp_path / "journal.sqlite3")
    ctl = StrategyController(
        app,
        bus=app.bus,
        journal=journal,
        strategies=[create_strategy("monthly-factor", {})],
        clock=GatewayClock.of(app.ib, max_age=0, max_sleep=0.02),
    )
    decisions: list = []
    ctl.listeners.append(lambda _name, d: decisions.append(d))
    try:
        await ctl.start("monthly-factor")
        await until(lambda: ctl.info("monthly-factor").next_run is not None, timeout=30)
        run_at = ctl.info("monthly-factor").next_run
        assert run_at == dt.datetime(2026, 11, 30, 16, 30, tzinfo=run_at.tzinfo)
        await jump(gw, run_at.timestamp() + 1)
        await until(lambda: decisions, timeout=120)
        assert not gw.broker.executions  # after the close: the orders wait for D's open
        await jump(gw, gw.market.next_session_open() + 1)
        for _ in range(120):
            if all(o.status == "Filled" for o in gw.broker.orders.values()):
                break
            gw.advance(1)
            await asyncio.sleep(0.01)
        executions = list(gw.broker.executions)
        modelled_prices = [modelled(gw, fe) for fe in executions]
    finally:
        await ctl.close()
        app.disconnect()
        journal.close()
    return decisions, list(zip(executions, modelled_prices, strict=True))


async def test_monthly_factor_live_and_reference_agree_across_a_month_end(
    tmp_path, monkeypatch, ib_log_guard
) -> None:
    from livedesk.backend.bundles.ingest import ingest_demo
    from livedesk.backend.momentum.backtest import run_backtest
    from livedesk.backend.sim.market.model import MarketModel
    from livedesk.backend.sim.market.paths import round_to_tick
    from tests.test_monthly_factor_timing import picks_at

    monkeypatch.setenv("LIVEDESK_DATA_DIR", str(tmp_path / "data"))
    market = MarketModel(seed=7, session=M)
    ingest_demo(7, M, market=market, include_current=True)  # live's bundle: M's bar final
    gw = SimGateway(
        port=0,
        market=market,
        speed=0.0,
        start_time=market.session_close() - 600,
        tick_interval=60.0,  # no free-running pulses: the test steps the clock
        account_interval=0.1,
    )
    await gw.start()
    try:
        decisions, fills = await run_live(gw, tmp_path)
        assert market.session == D
        await jump(gw, market.session_close() + 60)  # D closed: its bar is final
        by_symbol = {i.symbol: i for i in market.registry}
        d_open = {
            s: float(round_to_tick(market.daily_path(i.con_id).open[-1], i.min_tick))
            for s, i in by_symbol.items()
        }
        d_open_t = market.session_open()
        close, volume, alive = gateway_panels(market)
    finally:
        await gw.stop()
    # the reference over the same sessions, on the gateway's own history through D
    ingest_demo(7, D, name="parity", market=market, include_current=True)
    ref = run_backtest("parity", pd.Timestamp(M), pd.Timestamp(D), slippage_bps=0.0)

    # ---- the same decision: picks and target weights -----------------------------------
    assert close.index[-1] == pd.Timestamp(M)
    expected = picks_at(close, volume, alive, pd.Timestamp(M))
    assert len(expected) == 2 * N and all(abs(w) == 1 / 20 for w in expected.values())
    [decision] = [d for d in decisions if not d.skipped]
    assert decision.t.date() == M and decision.t.hour == 16 and decision.t.minute == 30
    assert decision.targets == {f"{s} STK": w for s, w in expected.items()}
    assert len(ref.rebalances) == 1 and ref.rebalances[0].startswith("2026-12-01:")
    ref_shares = {s.replace(".", " "): a for _, s, a, _ in ref.fills}
    m_close = close.iloc[-1]
    assert ref_shares == {s: math.trunc(w * CAPITAL / m_close[s]) for s, w in expected.items()}

    # ---- the same fill session: D's open -----------------------------------------------
    assert {day for day, *_ in ref.fills} == {f"{D:%Y-%m-%d}"}
    for _, s, _, price in ref.fills:
        assert price == pytest.approx(d_open[s.replace(".", " ")], abs=1e-9)
    live: dict[str, list] = {}
    for fe, model_price in fills:
        t = fe.execution.time.timestamp()
        assert d_open_t <= t <= d_open_t + 10, fe.execution.time
        assert fe.execution.price == pytest.approx(model_price, abs=1e-9)
        sign = 1 if fe.execution.side == "BOT" else -1
        row = live.setdefault(fe.contract.symbol, [0, 0.0])
        row[0] += sign * fe.execution.shares
        row[1] += fe.execution.shares * fe.execution.price
    assert live.keys() == expected.keys()
    for s, (shares, notional) in live.items():
        assert abs(shares - ref_shares[s]) <= 1, (s, shares, ref_shares[s])
        vwap = notional / abs(shares)
        cost = (vwap - d_open[s]) / d_open[s] * math.copysign(1, shares)  # + = the trader pays
        assert 0 <= cost <= PRICE_TOLERANCE, (s, vwap, d_open[s])
