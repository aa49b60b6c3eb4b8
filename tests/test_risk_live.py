"""The live risk feed against the simulated gateway: journal, slippage from real fills, restore."""

from __future__ import annotations

import math

import pytest

from livedesk.backend.contracts import stock
from livedesk.backend.journal import Journal
from livedesk.backend.risk.engine import RiskEngine
from livedesk.backend.risk.live import RiskFeed
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.trading.app import TradingApp
from livedesk.backend.trading.orders import market as mkt
from tests.conftest import until


@pytest.fixture
async def wired(gw: SimGateway, tmp_path, ib_log_guard):
    app = await TradingApp.connect("127.0.0.1", gw.port, client_id=9)
    journal = Journal(tmp_path / "journal.sqlite3")
    engine = RiskEngine(journal, interval=3.0)
    feed = RiskFeed(app, engine, clock=gw.now)
    feed.start()
    yield app, engine, feed, journal
    feed.stop()
    app.disconnect()
    journal.close()


async def test_fills_carry_arrival_mid_slippage_and_commission(gw: SimGateway, wired) -> None:
    app, engine, feed, journal = wired
    c = await app.resolve_contract(stock("AAPL"))
    q = gw.market.quote(c.conId, gw.now())
    mid = (q.bid + q.ask) / 2
    r = await app.order_target_quantity(c, mkt, 200, strategy="momentum")
    await until(lambda: r.trade.isDone())
    await until(
        lambda: engine.fills("momentum") and engine.fills("momentum")[0].commission is not None
    )
    [f] = engine.fills("momentum")
    assert f.arrival_mid == pytest.approx(mid)
    cost = f.cost()
    assert cost.slippage_bps == pytest.approx((f.price - mid) / mid * 1e4)
    assert cost.slippage_bps > 0  # a buy pays above the mid
    assert f.commission == pytest.approx(1.0)
    [order] = journal.orders()
    assert (order["arrival_bid"], order["arrival_ask"]) == (q.bid, q.ask)
    assert order["strategy"] == "momentum"
    summary = engine.execution("momentum")
    assert summary.fills == 1 and summary.slippage.mean == pytest.approx(cost.slippage_bps)
    # one fill, no closed session: no drag per year, and why
    assert math.isnan(summary.drag_bps_per_year) and summary.drag_reason == "n/a: 0 of 20 sessions"


async def test_pnl_stream_is_sampled_journalled_and_restored(
    gw: SimGateway, wired, tmp_path
) -> None:
    app, engine, feed, journal = wired
    c = await app.resolve_contract(stock("SPY"))
    r = await app.order_target_quantity(c, mkt, 200, strategy="demo")
    await until(lambda: r.trade.isDone())
    for _ in range(6):
        gw.advance(3.5)
        n = engine.snapshot()["intraday"]["n"]
        await until(lambda n=n: engine.snapshot()["intraday"]["n"] > n, timeout=3)
    live = engine.snapshot()
    assert live["intraday"]["n"] >= 5
    assert engine.snapshot("demo")["intraday"]["n"] >= 5
    again = RiskEngine(Journal(tmp_path / "journal.sqlite3"), interval=3.0)
    again.restore()
    assert again.snapshot()["intraday"] == live["intraday"]
