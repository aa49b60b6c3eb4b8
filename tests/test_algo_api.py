"""The live adapter's zipline API on the simulated gateway, minute mode, by the broker's clock:
before_trading_start once per session, schedule_function with time rules, orders through the
guard tagged with the strategy's name, get_open_orders / cancel_order, data.history,
context.portfolio / account, record (journaled) and pipeline_output on the bundle."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.journal import Journal
from livedesk.backend.strategies.context import StrategyContext
from livedesk.backend.trading.app import TradingApp
from tests.conftest import until
from tests.test_algo_live import FIRST, NY, write_demo_bundle

pytestmark = pytest.mark.slow
HERE = Path(__file__).resolve().parent


def ny(hh: int, mm: int) -> float:
    return dt.datetime.combine(FIRST, dt.time(hh, mm), NY).timestamp()


@pytest.fixture
async def minute_gw(tmp_path, monkeypatch):
    from livedesk.backend.sim.gateway import SimGateway
    from livedesk.backend.sim.market.model import MarketModel

    for k in ("DATA", "STATE", "CONFIG"):
        monkeypatch.setenv(f"LIVEDESK_{k}_DIR", str(tmp_path / k.lower()))
    market = MarketModel(seed=7, session=FIRST)
    write_demo_bundle("demo", market, ("AAPL", "MSFT"), include_current=False)
    gateway = SimGateway(
        port=0,
        market=market,
        speed=0.0,
        start_time=ny(9, 0),
        tick_interval=0.02,
        account_interval=0.1,
    )
    await gateway.start()
    yield gateway
    await gateway.stop()


async def decide(strategy, ctx):
    ctx.orders, ctx.recorded = [], {}
    await ctx.clock.refresh()  # the clock caches its answer for 0.5 s of real time
    return await strategy.run_once(ctx)


async def test_minute_algorithm_by_the_broker_clock(minute_gw, tmp_path) -> None:
    from livedesk.backend.algo.strategy import algo_strategy_class

    gw = minute_gw
    cls = algo_strategy_class(
        "minute-example", HERE / "algo_minute_example.py", frequency="minute", refresh_demo=False
    )
    strategy = cls()
    app = await TradingApp.connect("127.0.0.1", gw.port, client_id=9)
    journal = Journal(tmp_path / "j.sqlite3")
    ctx = StrategyContext(app, strategy.name, journal=journal)
    try:
        d = await decide(strategy, ctx)  # 09:00: before the open
        algo = strategy.runtime.algo
        assert algo.bts == 1 and not d.orders and "before_trading_start" in d.summary
        # pipeline row for FIRST sees the previous session's close (independent: the gateway)
        contract = await algo.feed.contract(algo.a)
        assert contract.conId == algo.a.sid and algo.same
        bars = await app.ib.reqHistoricalDataAsync(contract, "", "5 D", "1 day", "TRADES", True)
        prev = [b for b in bars if b.date < FIRST][-1]
        assert algo.px["AAPL"] == pytest.approx(prev.close)

        gw.advance(ny(10, 5) - gw.now(), step=60.0)
        d = await decide(strategy, ctx)  # 10:05: handle_data + at_open (10:00 fired)
        assert algo.bts == 1  # once per session
        assert [e[0] for e in algo.log] == ["open"]
        assert d.values["bars"] == 60.0 and d.values["a_price"] > 0
        assert len(d.orders) == 1 and d.orders[0]["contract"] == "AAPL STK"
        nlv = app.net_liquidation
        expected = int(0.01 * nlv / d.values["a_price"])
        assert abs(d.orders[0]["quantity"] - expected) <= 1  # 1 % of NLV at the live price
        trade = next(t for t in app.ib.trades() if t.contract.symbol == "AAPL")
        assert strategy_of(trade.order.orderRef) == "minute-example"
        assert "set_commission: backtest-only" in d.summary

        gw.advance(120, step=1.0)
        await until(lambda: trade.isDone(), timeout=10)
        d = await decide(strategy, ctx)  # 10:07: handle_data only
        assert [e[0] for e in algo.log] == ["open"] and not d.orders
        await until(lambda: strategy.runtime.algo.portfolio.positions[algo.a].amount > 0)
        assert algo.can is True and algo.nlv > 0

        gw.advance(ny(15, 35) - gw.now(), step=60.0)
        d = await decide(strategy, ctx)  # 15:35: near_close fired at 15:30
        assert [e[0] for e in algo.log] == ["open", "close"]
        assert algo.open_before_cancel == 1
        limit = next(t for t in app.ib.trades() if t.contract.symbol == "MSFT")
        await until(lambda: limit.orderStatus.status == "Cancelled", timeout=10)
        saved = journal.state("strategy:minute-example:algo")
        assert saved["context"]["bts"] == 1 and saved["context"]["held"] > 0
        assert saved["progress"]["done"] == ["at_open#0", "near_close#1"]
    finally:
        await strategy.on_stop(ctx)
        app.disconnect()
        journal.close()
