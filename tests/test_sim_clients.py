"""Notebook sessions with the client libraries traders already use, over a real socket.

Each client negotiates its own server version and must see every message of the session
intact: ``ib_insync`` 0.9.86 (v176), IB's ``ibapi`` 10.x from ``ibapi-stable`` (v178 — it
announces more, the gateway answers 178) and IB's old ``ibapi`` 9.81 (v157, sizes in
lots). The scenario: connect, account values, positions, qualify a known and an unknown
stock, contract details, daily and minute bars, streaming quotes, a market order with its
execution and commission, a limit order then cancel, open orders, executions, PnL, an
option chain with greeks, a 2-leg BAG order, and completed orders after a reconnect. A
decoder error in the client's log or a request that times out fails the test.

``ibapi`` 9.81 installs the same top-level module as ``ibapi-stable``, so the install step
puts it in its own directory (``.venv/ibapi-9.81``, or ``$LIVEDESK_IBAPI981_DIR``) and the
test runs the scenario in a subprocess with that directory first on ``PYTHONPATH``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

import pytest

from livedesk.backend.sim.gateway import SimGateway
from tests.conftest import until

ROOT = Path(__file__).resolve().parents[1]
DECODER_MARKERS = ("Error handling fields", "Error for", "request timed out", "diff len fields")
WEEKLY = "20261127"
FARM_NOTICES = {2104, 2106, 2158}
STOCK_COMMISSION = 1.0  # IB tiered minimum: 100 shares x $0.005 = $0.50 -> $1.00
OPTION_COMMISSION = 0.65  # per contract


def ibapi_981_dir() -> Path | None:
    """Where the install step put ``ibapi`` 9.81, if it did."""
    env = os.environ.get("LIVEDESK_IBAPI981_DIR")
    candidates = [Path(env)] if env else []
    candidates += [Path(sys.prefix) / "ibapi-9.81", ROOT / ".venv" / "ibapi-9.81"]
    for path in candidates:
        if (path / "ibapi" / "client.py").is_file():
            return path
    return None


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.failures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if any(marker in text for marker in DECODER_MARKERS):
            self.failures.append(f"{record.name}: {text[:400]}")


# --- expectations shared by the three clients ------------------------------------------


def expected_size(shares: float, version: int, sec_type: str = "STK") -> float:
    """A market-data size as the client should see it: lots of 100 before v159."""
    return shares / 100 if version < 159 and sec_type == "STK" else shares


def expected_volume(shares: float, version: int) -> float:
    """A stock bar's volume as the client should see it: lots of 100 before v175."""
    return round(shares / 100) if version < 175 else shares


def check_ibapi_run(r: dict, gw: SimGateway, version: int) -> None:
    """Assert an ``ibapi_notebook`` run saw the whole session intact."""
    assert "crash" not in r, r.get("crash")
    assert r["decoder_failures"] == []
    assert r["timeouts"] == []
    assert r["server_version"] == version
    assert r["accounts"] == gw.broker.account.account_id
    assert float(r["account_values"]["NetLiquidation"]) == pytest.approx(1_000_000.0)
    assert r["positions_before"] == []
    aapl = gw.market.registry.find("AAPL", "STK")[0]
    assert r["aapl"]["conId"] == aapl.con_id and r["aapl"]["minTick"] == 0.01
    assert r["aapl"]["primaryExchange"] == aapl.primary_exchange
    assert r["unknown_errors"] == [200]
    # bars: the model's own bars, volumes in the version's unit
    daily = gw.history.bars(aapl.con_id, gw.now(), "5 D", "1 day", gw.now())
    assert [b[0] for b in r["daily_bars"]] == [b.date_text(1) for b in daily]
    assert [b[4] for b in r["daily_bars"]] == [b.close for b in daily]
    assert [b[5] for b in r["daily_bars"]] == [expected_volume(b.volume, version) for b in daily]
    assert len(r["minute_bars"]) == 30
    # quotes: bid/ask and their sizes in the version's unit
    q = gw.market.quote(aapl.con_id, gw.now())
    assert r["prices"]["1"] == q.bid and r["prices"]["2"] == q.ask
    assert r["sizes"]["0"] == expected_size(q.bid_size, version)
    assert r["sizes"]["3"] == expected_size(q.ask_size, version)
    # the market order, its execution and commission
    [fill] = r["market_fills"]
    assert fill[2] == aapl.con_id and fill[5] == "BOT" and fill[6] == 100 and fill[7] >= q.ask
    assert r["market_commissions"] == [[fill[4], STOCK_COMMISSION, "USD"]]
    # the limit order was open, then cancelled
    assert [o[2:5] for o in r["open_orders"]] == [["LMT", 10.0, 1.0]]
    assert r["limit_statuses"][-1] == "Cancelled"
    assert [e[4] for e in r["executions"]] == [fill[4]]
    [(daily_pnl, unrealized, realized)] = r["pnl"]
    assert unrealized == pytest.approx(100 * (q.last - fill[7]) - STOCK_COMMISSION, abs=0.01)
    # option chain with greeks
    assert {c[0] for c in r["chains"]} == {"SMART", "CBOE"}
    g = r["call_model_greeks"]
    assert 0.3 < g["delta"] < 0.7 and g["gamma"] > 0 and g["vega"] > 0 and g["theta"] < 0
    assert 0.05 < g["impliedVol"] < 1.0 and g["optPrice"] > 0
    # the straddle filled leg by leg
    assert sorted(f[2] for f in r["bag_fills"]) == sorted(r["leg_con_ids"])
    assert all(f[3] == "OPT" and f[5] == "BOT" and f[6] == 1 for f in r["bag_fills"])
    assert sorted(c[1] for c in r["bag_commissions"]) == [OPTION_COMMISSION] * 2
    assert [p[:2] for p in r["positions_after"]] == sorted(
        [[aapl.con_id, 100.0], *([cid, 1.0] for cid in r["leg_con_ids"])]
    )
    # completed orders after the reconnect
    assert sorted((c[0], c[1], c[2]) for c in r["completed"]) == [
        ("BAG", "MKT", "Filled"),
        ("STK", "LMT", "Cancelled"),
        ("STK", "MKT", "Filled"),
    ]
    codes = {code for _, code, _ in r["errors"] + r["errors_after_reconnect"]}
    assert codes <= FARM_NOTICES | {200, 202}, r["errors"]


# --- ibapi 10.x (ibapi-stable) ---------------------------------------------------------


@pytest.mark.slow
async def test_ibapi_stable_notebook(gw: SimGateway) -> None:
    pytest.importorskip("ibapi", reason="ibapi-stable is a test dependency")
    from tests.ibapi_notebook import run_notebook

    r = await asyncio.wait_for(asyncio.to_thread(run_notebook, "127.0.0.1", gw.port), 60)
    check_ibapi_run(r, gw, 178)


# --- ibapi 9.81 ------------------------------------------------------------------------


@pytest.mark.slow
async def test_ibapi_981_notebook(gw: SimGateway) -> None:
    target = ibapi_981_dir()
    if target is None:
        pytest.skip("ibapi 9.81 is not installed (the install step puts it in .venv/ibapi-9.81)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.ibapi_notebook",
        "127.0.0.1",
        str(gw.port),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    except TimeoutError:
        proc.kill()
        raise
    assert proc.returncode == 0, err.decode()[-2000:]
    r = json.loads(out.decode().strip().splitlines()[-1])
    assert Path(r["ibapi_file"]).resolve().is_relative_to(target.resolve())
    check_ibapi_run(r, gw, 157)


# --- ib_insync 0.9.86 ------------------------------------------------------------------


@pytest.mark.slow
async def test_ib_insync_notebook(gw: SimGateway) -> None:
    insync = pytest.importorskip("ib_insync", reason="ib_insync is a test dependency")
    collector = _Collector()
    logger = logging.getLogger("ib_insync")
    logger.addHandler(collector)
    try:
        await _ib_insync_scenario(insync, gw)
    finally:
        logger.removeHandler(collector)
    assert collector.failures == []


async def _ib_insync_scenario(insync, gw: SimGateway) -> None:
    ib = insync.IB()
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, c: errors.append(code)
    await ib.connectAsync("127.0.0.1", gw.port, clientId=5, timeout=5)
    assert ib.client.serverVersion() == 176
    account = gw.broker.account.account_id
    values = {v.tag: v.value for v in ib.accountValues() if v.currency == "USD"}
    assert float(values["NetLiquidation"]) == pytest.approx(1_000_000.0)
    assert ib.positions() == []

    [aapl] = await ib.qualifyContractsAsync(insync.Stock("AAPL", "SMART", "USD"))
    inst = gw.market.registry.by_con_id(aapl.conId)
    assert inst.symbol == "AAPL" and aapl.primaryExchange == inst.primary_exchange
    # ib_insync 0.9.86 leaves an unknown contract out of the result
    assert await ib.qualifyContractsAsync(insync.Stock("NOPE1", "SMART", "USD")) == []
    assert 200 in errors
    [details] = await ib.reqContractDetailsAsync(aapl)
    assert details.minTick == 0.01 and details.timeZoneId == "US/Eastern"
    assert details.sizeIncrement == 1.0 and details.suggestedSizeIncrement == 100.0

    daily = await ib.reqHistoricalDataAsync(aapl, "", "5 D", "1 day", "TRADES", True)
    model = gw.history.bars(aapl.conId, gw.now(), "5 D", "1 day", gw.now())
    assert [b.close for b in daily] == [b.close for b in model]
    assert [b.volume for b in daily] == [b.volume for b in model]  # v176: in shares
    minutes = await ib.reqHistoricalDataAsync(aapl, "", "1800 S", "1 min", "TRADES", True)
    assert len(minutes) == 30

    q = gw.market.quote(aapl.conId, gw.now())
    ticker = ib.reqMktData(aapl)
    await until(lambda: ticker.bid == q.bid and ticker.ask == q.ask and ticker.bidSize > 0)
    assert ticker.bidSize == q.bid_size and ticker.askSize == q.ask_size
    ib.cancelMktData(aapl)

    trade = ib.placeOrder(aapl, insync.MarketOrder("BUY", 100))
    await until(lambda: trade.isDone() and trade.fills and trade.fills[0].commissionReport.execId)
    [fill] = trade.fills
    assert trade.orderStatus.status == "Filled" and fill.execution.shares == 100
    assert fill.execution.price >= q.ask
    assert fill.commissionReport.commission == pytest.approx(STOCK_COMMISSION)

    resting = ib.placeOrder(aapl, insync.LimitOrder("BUY", 10, 1.0))
    await until(lambda: resting.orderStatus.status == "Submitted")
    open_trades = await ib.reqOpenOrdersAsync()
    [placed] = [t.order for t in open_trades if t.order.orderId == resting.order.orderId]
    # the order the gateway parsed and echoes is the one that was sent, field for field
    assert (placed.orderType, placed.totalQuantity, placed.lmtPrice) == ("LMT", 10, 1.0)
    assert (placed.ocaType, placed.rule80A, placed.tif) == (0, "", "")
    ib.cancelOrder(resting.order)
    await until(lambda: resting.orderStatus.status == "Cancelled")

    fills = await ib.reqExecutionsAsync()
    assert [f.execution.execId for f in fills] == [fill.execution.execId]
    pnl = ib.reqPnL(account)
    await until(lambda: not (pnl.unrealizedPnL != pnl.unrealizedPnL))  # not NaN
    assert pnl.unrealizedPnL == pytest.approx(
        100 * (q.last - fill.execution.price) - STOCK_COMMISSION, abs=0.01
    )
    ib.cancelPnL(account)

    [spy] = await ib.qualifyContractsAsync(insync.Stock("SPY", "SMART", "USD"))
    chains = await ib.reqSecDefOptParamsAsync("SPY", "", "STK", spy.conId)
    [smart] = [c for c in chains if c.exchange == "SMART"]
    assert WEEKLY in smart.expirations
    centre = gw.market.last_price(spy.conId, gw.now())
    k = min(smart.strikes, key=lambda s: abs(s - centre))
    call, put = await ib.qualifyContractsAsync(
        insync.Option("SPY", WEEKLY, k, "C", "SMART"), insync.Option("SPY", WEEKLY, k, "P", "SMART")
    )
    ticker = ib.reqMktData(call)
    await until(lambda: ticker.modelGreeks is not None)
    g = ticker.modelGreeks
    assert 0.3 < g.delta < 0.7 and g.gamma > 0 and g.vega > 0 and g.theta < 0
    ib.cancelMktData(call)

    combo = insync.Contract(
        symbol="SPY",
        secType="BAG",
        exchange="SMART",
        currency="USD",
        comboLegs=[
            insync.ComboLeg(conId=c.conId, ratio=1, action="BUY", exchange="SMART")
            for c in (call, put)
        ],
    )
    straddle = ib.placeOrder(combo, insync.MarketOrder("BUY", 1))
    await until(lambda: straddle.isDone() and len(straddle.fills) == 2)
    await until(lambda: all(f.commissionReport.execId for f in straddle.fills))
    assert {f.contract.conId for f in straddle.fills} == {call.conId, put.conId}
    assert [f.commissionReport.commission for f in straddle.fills] == [OPTION_COMMISSION] * 2
    ib.disconnect()

    ib2 = insync.IB()
    await ib2.connectAsync("127.0.0.1", gw.port, clientId=5, timeout=5)
    done = await ib2.reqCompletedOrdersAsync(False)
    assert sorted((t.contract.secType, t.order.orderType, t.orderStatus.status) for t in done) == [
        ("BAG", "MKT", "Filled"),
        ("STK", "LMT", "Cancelled"),
        ("STK", "MKT", "Filled"),
    ]
    positions = {p.contract.conId: p.position for p in ib2.positions()}
    assert positions == {aapl.conId: 100, call.conId: 1, put.conId: 1}
    ib2.disconnect()
    assert set(errors) <= FARM_NOTICES | {200, 202}
