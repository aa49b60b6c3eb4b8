"""A representative subset of the new requests through ``ib_insync`` 0.9.86 (v176) and IB's
own ``ibapi`` 10.x (v178): market depth, tick-by-tick, historical ticks, scanners, option
price, matching symbols, market rules, histograms, head timestamps, and a refusal. Each is
bounded and must land on the right callback for its request id, with no decoder error.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from livedesk.backend.sim.gateway import SimGateway
from tests.conftest import until

BOUND = 5.0
DECODER_MARKERS = ("Error handling fields", "Error for", "diff len fields", "BadMessage")


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.failures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if any(m in record.getMessage() for m in DECODER_MARKERS):
            self.failures.append(record.getMessage()[:300])


# --- ib_insync ---------------------------------------------------------------------------


async def test_ib_insync_subset(gw: SimGateway) -> None:
    insync = pytest.importorskip("ib_insync", reason="ib_insync is a test dependency")
    collector = _Collector()
    logging.getLogger("ib_insync").addHandler(collector)
    ib = insync.IB()
    errors: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, msg, c: errors.append((req_id, code))
    try:
        await ib.connectAsync("127.0.0.1", gw.port, clientId=21, timeout=5)
        assert ib.client.serverVersion() == 176
        [c] = await ib.qualifyContractsAsync(insync.Stock("AAPL", "SMART", "USD"))
        ticker = ib.reqMktDepth(c, 5)
        await until(lambda: len(ticker.domBids) == 5 and len(ticker.domAsks) == 5, timeout=BOUND)
        q = gw.market.quote(c.conId, gw.now())
        assert ticker.domBids[0].price == q.bid and ticker.domAsks[0].price == q.ask
        ib.cancelMktDepth(c)

        ticks = await asyncio.wait_for(
            ib.reqHistoricalTicksAsync(c, "", _end(gw), 20, "BID_ASK", True), BOUND
        )
        assert 0 < len(ticks) <= 20 and all(t.priceBid < t.priceAsk for t in ticks)
        sub = insync.ScannerSubscription(
            instrument="STK", locationCode="STK.US.MAJOR", scanCode="MOST_ACTIVE", numberOfRows=5
        )
        scan = await asyncio.wait_for(ib.reqScannerDataAsync(sub), BOUND)
        assert len(scan) == 5
        volumes = [gw.market.quote(d.contractDetails.contract.conId, gw.now()).volume for d in scan]
        assert volumes == sorted(volumes, reverse=True)

        chain = gw.market.options.chain("AAPL")
        [opt] = await ib.qualifyContractsAsync(
            insync.Option("AAPL", chain.expiry_texts[3], 150.0, "C", "SMART")
        )
        comp = await asyncio.wait_for(ib.calculateOptionPriceAsync(opt, 0.3, 150.0), BOUND)
        assert comp is not None and 0 < comp.optPrice < 150
        matches = await asyncio.wait_for(ib.reqMatchingSymbolsAsync("MSF"), BOUND)
        assert matches[0].contract.symbol == "MSFT"
        rule = await asyncio.wait_for(ib.reqMarketRuleAsync(26), BOUND)
        assert [(r.lowEdge, r.increment) for r in rule] == [(0.0, 0.01)]
        hist = await asyncio.wait_for(ib.reqHistogramDataAsync(c, True, "1 day"), BOUND)
        assert hist and all(h.count > 0 for h in hist)
        head = await asyncio.wait_for(ib.reqHeadTimeStampAsync(c, "TRADES", True, 1), BOUND)
        assert head.strftime("%Y%m%d-%H:%M:%S") == _first_open_utc(gw)
        await asyncio.wait_for(ib.reqFundamentalDataAsync(c, "ReportSnapshot"), BOUND)
        assert any(code == 10358 and req_id > 0 for req_id, code in errors)
        bars = await asyncio.wait_for(
            ib.reqHistoricalDataAsync(c, "", "60 S", "5 secs", "TRADES", True), BOUND
        )
        assert len(bars) == 12
    finally:
        ib.disconnect()
        logging.getLogger("ib_insync").removeHandler(collector)
    assert collector.failures == []
    assert all(code != 505 for _, code in errors)


def _end(gw: SimGateway) -> str:
    import datetime as dt
    from zoneinfo import ZoneInfo

    now = dt.datetime.fromtimestamp(gw.now(), ZoneInfo("America/New_York"))
    return now.strftime("%Y%m%d %H:%M:%S US/Eastern")


def _first_open_utc(gw: SimGateway) -> str:
    """The first history session's 09:30 New York open, as TWS writes it (UTC)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    day = dt.date.fromisoformat(str(gw.market.daily_bars(1004)["date"][0])[:10])
    start = dt.datetime.combine(day, dt.time(9, 30), ZoneInfo("America/New_York"))
    return start.astimezone(dt.UTC).strftime("%Y%m%d-%H:%M:%S")


# --- ibapi 10.x -----------------------------------------------------------------------


def _ibapi_session(port: int, end: str) -> dict:
    """Runs in a worker thread: ibapi's reader and loop threads, bounded waits."""
    from ibapi.client import EClient
    from ibapi.contract import Contract
    from ibapi.scanner import ScannerSubscription
    from ibapi.wrapper import EWrapper

    class App(EWrapper, EClient):
        def __init__(self) -> None:
            EWrapper.__init__(self)
            EClient.__init__(self, self)
            self.cond = threading.Condition()
            self.got: dict = {}
            self.errors: list[tuple[int, int]] = []

        def put(self, key, value) -> None:
            with self.cond:
                self.got.setdefault(key, []).append(value)
                self.cond.notify_all()

        def wait(self, key, n: int = 1) -> bool:
            with self.cond:
                return self.cond.wait_for(lambda: len(self.got.get(key, [])) >= n, BOUND)

        def error(self, reqId, *args) -> None:
            code = args[1] if isinstance(args[1], int) else args[0]
            with self.cond:
                self.errors.append((int(reqId), int(code)))
                self.cond.notify_all()

        def nextValidId(self, orderId) -> None:  # noqa: N802
            self.put("ready", orderId)

        def updateMktDepth(self, reqId, position, operation, side, price, size) -> None:  # noqa: N802
            self.put(("depth", reqId), (position, operation, side, price))

        def tickByTickBidAsk(self, reqId, time, bidPrice, askPrice, *args) -> None:  # noqa: N802
            self.put(("tbt", reqId), (bidPrice, askPrice))

        def historicalTicksLast(self, reqId, ticks, done) -> None:  # noqa: N802
            self.put(("hticks", reqId), (len(ticks), done))

        def scannerData(self, reqId, rank, *args) -> None:  # noqa: N802
            self.put(("scan", reqId), rank)

        def scannerDataEnd(self, reqId) -> None:  # noqa: N802
            self.put(("scanEnd", reqId), True)

        def symbolSamples(self, reqId, descriptions) -> None:  # noqa: N802
            self.put(("symbols", reqId), [d.contract.symbol for d in descriptions])

        def histogramData(self, reqId, items) -> None:  # noqa: N802
            self.put(("histogram", reqId), len(items))

        def headTimestamp(self, reqId, headTimestamp) -> None:  # noqa: N802
            self.put(("head", reqId), headTimestamp)

        def tickOptionComputation(self, reqId, tickType, *args) -> None:  # noqa: N802
            self.put(("option", reqId), tickType)

        def marketRule(self, marketRuleId, priceIncrements) -> None:  # noqa: N802
            self.put(("rule", marketRuleId), len(priceIncrements))

    app = App()
    app.connect("127.0.0.1", port, clientId=22)
    loop = threading.Thread(target=app.run, daemon=True)
    loop.start()
    out: dict = {"timeouts": []}
    try:
        if not app.wait("ready"):
            out["timeouts"].append("connect")
            return out
        out["version"] = app.serverVersion()
        stock = Contract()
        stock.symbol, stock.secType, stock.exchange, stock.currency = "AAPL", "STK", "SMART", "USD"
        option = Contract()
        option.symbol, option.secType, option.exchange, option.currency = (
            "AAPL",
            "OPT",
            "SMART",
            "USD",
        )
        option.lastTradeDateOrContractMonth, option.strike, option.right = "20261211", 150.0, "C"
        scan = ScannerSubscription()
        scan.instrument, scan.locationCode, scan.scanCode = "STK", "STK.US.MAJOR", "TOP_PERC_GAIN"
        scan.numberOfRows = 5
        steps = [
            (lambda: app.reqMktDepth(101, stock, 5, False, []), ("depth", 101), 10),
            (lambda: app.reqTickByTickData(102, stock, "BidAsk", 0, False), ("tbt", 102), 1),
            (
                lambda: app.reqHistoricalTicks(103, stock, "", end, 30, "TRADES", 1, True, []),
                ("hticks", 103),
                1,
            ),
            (lambda: app.reqScannerSubscription(104, scan, [], []), ("scanEnd", 104), 1),
            (lambda: app.reqMatchingSymbols(105, "NVD"), ("symbols", 105), 1),
            (lambda: app.reqHistogramData(106, stock, True, "1 day"), ("histogram", 106), 1),
            (lambda: app.reqHeadTimeStamp(107, stock, "TRADES", 1, 1), ("head", 107), 1),
            (lambda: app.calculateOptionPrice(108, option, 0.3, 150.0, []), ("option", 108), 1),
            (lambda: app.reqMarketRule(26), ("rule", 26), 1),
        ]
        for send, key, n in steps:
            send()
            if not app.wait(key, n):
                out["timeouts"].append(str(key))
        app.cancelMktDepth(101, False)
        app.cancelTickByTickData(102)
        app.cancelScannerSubscription(104)
        time.sleep(0.2)
        out["got"] = {str(k): v for k, v in app.got.items()}
        out["errors"] = list(app.errors)
    finally:
        app.disconnect()
        loop.join(5)
    return out


async def test_ibapi_subset(gw: SimGateway) -> None:
    pytest.importorskip("ibapi", reason="ibapi-stable is a test dependency")
    collector = _Collector()
    logging.getLogger("ibapi").addHandler(collector)
    try:
        r = await asyncio.wait_for(asyncio.to_thread(_ibapi_session, gw.port, _end(gw)), 60)
    finally:
        logging.getLogger("ibapi").removeHandler(collector)
    assert r["timeouts"] == []
    assert r["version"] == 178
    got = r["got"]
    assert [row[:3] for row in got["('depth', 101)"][:10]] == [
        (i, 0, side) for side in (1, 0) for i in range(5)
    ]  # five bid rows then five ask rows, each inserted
    bid, ask = got["('tbt', 102)"][0]
    assert 0 < bid < ask
    assert got["('hticks', 103)"] == [(30, True)]
    assert got["('scan', 104)"][:5] == [0, 1, 2, 3, 4]
    assert got["('symbols', 105)"][0][0] == "NVDA"
    assert got["('head', 107)"] == [_first_open_utc(gw)]
    assert got["('option', 108)"] == [53]
    assert got["('rule', 26)"] == [1]
    assert [e for e in r["errors"] if e[1] not in range(2100, 2200)] == []
    assert collector.failures == []
