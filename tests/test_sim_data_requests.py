"""Parsing of the depth, tick, scanner, option, news and reference requests as the real
``ib_async`` and ``ibapi`` clients encode them, at server versions 157, 171 and 178.

Each request is serialised by the client itself into a recorder, decoded by the gateway's
framing and parser at that version, and must come back with the values it was given.
"""

from __future__ import annotations

import pytest
from ib_async import IB, Option, Stock, TagValue
from ib_async.client import Client
from ib_async.objects import ScannerSubscription, WshEventData

from livedesk.backend.sim.protocol import data_requests as dr
from livedesk.backend.sim.protocol import requests as rq
from livedesk.backend.sim.protocol.versions import protocol
from livedesk.backend.sim.protocol.wire import FrameDecoder
from tests.test_sim_requests import Recorder

VERSIONS = (157, 171, 178)
AAPL = Stock("AAPL", "SMART", "USD", conId=1004, primaryExchange="NASDAQ")
OPT = Option("AAPL", "20261218", 150.0, "C", "SMART", "100", "USD", conId=77)


def client_at(version: int) -> IB:
    ib = IB()
    c = ib.client
    c.conn = Recorder()
    c.connState = Client.CONNECTED
    c._serverVersion = version
    c.decoder.serverVersion = version
    c._apiReady = True
    c.MaxRequests = 0
    return ib


def parsed(ib: IB, version: int) -> rq.Request:
    [frame] = FrameDecoder().feed(bytes(ib.client.conn.data))
    ib.client.conn.data.clear()
    return rq.parse_request(frame, proto=protocol(version))


def _scan() -> ScannerSubscription:
    return ScannerSubscription(
        numberOfRows=7, instrument="STK", locationCode="STK.US.MAJOR", scanCode="TOP_PERC_GAIN",
        abovePrice=5.0, belowPrice=50.0, aboveVolume=1000,
    )  # fmt: skip


CASES = [
    (
        lambda c: c.reqMktDepth(3, AAPL, 7, True, [TagValue("a", "1")]),
        lambda r: (
            (r.req_id, r.contract.conId, r.contract.symbol, r.num_rows, r.smart_depth, r.options)
            == (3, 1004, "AAPL", 7, True, (TagValue("a", "1"),))
        ),
    ),  # fmt: skip
    (lambda c: c.cancelMktDepth(3, True), lambda r: r == dr.CancelMktDepth(3, True)),
    (lambda c: c.reqNewsBulletins(True), lambda r: r == dr.ReqNewsBulletins(True)),
    (lambda c: c.cancelNewsBulletins(), lambda r: r == dr.CancelNewsBulletins()),
    (lambda c: c.setServerLogLevel(4), lambda r: r == dr.SetServerLogLevel(4)),
    (lambda c: c.requestFA(2), lambda r: r == dr.RequestFA(2)),
    (lambda c: c.replaceFA(9, 1, "<x/>"), lambda r: r == dr.ReplaceFA(1, "<x/>", 9)),
    (
        lambda c: c.exerciseOptions(4, OPT, 1, 2, "DU1", 1),
        lambda r: (
            (
                r.req_id,
                r.contract.conId,
                r.contract.strike,
                r.contract.right,
                r.action,
                r.quantity,
                r.account,
                r.override,
            )
            == (4, 77, 150.0, "C", 1, 2, "DU1", 1)
        ),
    ),  # fmt: skip
    (
        lambda c: c.reqScannerSubscription(5, _scan(), [], [TagValue("changePercAbove", "2")]),
        lambda r: (
            (
                r.req_id,
                r.rows,
                r.scan_code,
                r.above_price,
                r.below_price,
                r.above_volume,
                r.filter_options,
            )
            == (5, 7, "TOP_PERC_GAIN", 5.0, 50.0, 1000.0, (TagValue("changePercAbove", "2"),))
        ),
    ),  # fmt: skip
    (lambda c: c.cancelScannerSubscription(5), lambda r: r == dr.Cancel(23, 5)),
    (lambda c: c.reqScannerParameters(), lambda r: r == dr.ReqScannerParameters()),
    (
        lambda c: c.reqRealTimeBars(6, AAPL, 5, "MIDPOINT", True, []),
        lambda r: (
            (r.req_id, r.contract.conId, r.bar_size, r.what_to_show, r.use_rth)
            == (6, 1004, 5, "MIDPOINT", True)
        ),
    ),
    (lambda c: c.cancelRealTimeBars(6), lambda r: r == dr.Cancel(51, 6)),
    (
        lambda c: c.reqFundamentalData(7, AAPL, "ReportSnapshot", [TagValue("x", "y")]),
        lambda r: (r.req_id, r.contract.conId, r.report_type) == (7, 1004, "ReportSnapshot"),
    ),
    (lambda c: c.cancelFundamentalData(7), lambda r: r == dr.Cancel(53, 7)),
    (
        lambda c: c.calculateImpliedVolatility(8, OPT, 5.25, 151.5, []),
        lambda r: (
            (r.req_id, r.contract.conId, r.option_price, r.under_price) == (8, 77, 5.25, 151.5)
        ),
    ),
    (
        lambda c: c.calculateOptionPrice(9, OPT, 0.31, 149.0, []),
        lambda r: (r.req_id, r.volatility, r.under_price) == (9, 0.31, 149.0),
    ),
    (lambda c: c.cancelCalculateImpliedVolatility(8), lambda r: r == dr.Cancel(56, 8)),
    (lambda c: c.cancelCalculateOptionPrice(9), lambda r: r == dr.Cancel(57, 9)),
    (lambda c: c.verifyRequest("a", "1"), lambda r: r == dr.Verify(65, False)),
    (lambda c: c.verifyMessage("d"), lambda r: r == dr.Verify(66, False)),
    (lambda c: c.queryDisplayGroups(10), lambda r: r == dr.QueryDisplayGroups(10)),
    (lambda c: c.subscribeToGroupEvents(11, 4), lambda r: r == dr.SubscribeToGroupEvents(11, 4)),
    (
        lambda c: c.updateDisplayGroup(11, "8314@SMART"),
        lambda r: r == dr.UpdateDisplayGroup(11, "8314@SMART"),
    ),
    (lambda c: c.unsubscribeFromGroupEvents(11), lambda r: r == dr.Cancel(70, 11)),
    (lambda c: c.verifyAndAuthRequest("a", "1", "k"), lambda r: r == dr.Verify(72, True)),
    (lambda c: c.verifyAndAuthMessage("d", "x"), lambda r: r == dr.Verify(73, True)),
    (lambda c: c.reqSoftDollarTiers(12), lambda r: r == dr.ReqSoftDollarTiers(12)),
    (lambda c: c.reqFamilyCodes(), lambda r: r == dr.ReqFamilyCodes()),
    (lambda c: c.reqMatchingSymbols(13, "AA"), lambda r: r == dr.ReqMatchingSymbols(13, "AA")),
    (lambda c: c.reqMktDepthExchanges(), lambda r: r == dr.ReqMktDepthExchanges()),
    (
        lambda c: c.reqSmartComponents(14, "9c0001"),
        lambda r: r == dr.ReqSmartComponents(14, "9c0001"),
    ),
    (
        lambda c: c.reqNewsArticle(15, "BRFG", "BRFG$1", []),
        lambda r: r == dr.ReqNewsArticle(15, "BRFG", "BRFG$1", ()),
    ),
    (lambda c: c.reqNewsProviders(), lambda r: r == dr.ReqNewsProviders()),
    (
        lambda c: c.reqHistoricalNews(16, 1004, "BRFG+DJNL", "", "", 10, []),
        lambda r: r == dr.ReqHistoricalNews(16, 1004, "BRFG+DJNL", "", "", 10, ()),
    ),
    (
        lambda c: c.reqHistogramData(17, AAPL, True, "3 days"),
        lambda r: (r.req_id, r.contract.conId, r.use_rth, r.period) == (17, 1004, True, "3 days"),
    ),
    (lambda c: c.cancelHistogramData(17), lambda r: r == dr.Cancel(89, 17)),
    (lambda c: c.reqMarketRule(26), lambda r: r == dr.ReqMarketRule(26)),
    (
        lambda c: c.reqHistoricalTicks(
            18, AAPL, "20261120 10:00:00", "", 50, "BID_ASK", True, False, []
        ),
        lambda r: (
            (r.req_id, r.start, r.end, r.number_of_ticks, r.what_to_show, r.use_rth, r.ignore_size)
            == (18, "20261120 10:00:00", "", 50, "BID_ASK", True, False)
        ),
    ),  # fmt: skip
    (
        lambda c: c.reqTickByTickData(19, AAPL, "AllLast", 0, True),
        lambda r: (
            (r.req_id, r.contract.conId, r.tick_type, r.number_of_ticks, r.ignore_size)
            == (19, 1004, "AllLast", 0, True)
        ),
    ),
    (lambda c: c.cancelTickByTickData(19), lambda r: r == dr.Cancel(98, 19)),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_ib_async_requests_parse_at_each_version(version, case):
    send, check = CASES[case]
    ib = client_at(version)
    send(ib.client)
    assert check(parsed(ib, version))


@pytest.mark.parametrize("version", (161, 171, 173, 178))
def test_wsh_requests_follow_their_gates(version):
    ib = client_at(version)
    ib.client.reqWshMetaData(20)
    assert parsed(ib, version) == dr.ReqWshMetaData(20)
    data = WshEventData(conId=1004, filter='{"watchlist":["1004"]}', startDate="20261101",
                        endDate="20261130", totalLimit=5)  # fmt: skip
    ib.client.reqWshEventData(21, data)
    req = parsed(ib, version)
    assert (req.req_id, req.con_id) == (21, 1004)
    assert req.filter == (data.filter if version >= 171 else "")
    assert (req.start, req.end, req.total_limit) == (
        ("20261101", "20261130", 5) if version >= 173 else ("", "", 0)
    )
    ib.client.cancelWshEventData(21)
    assert parsed(ib, version) == dr.Cancel(103, 21)


def test_wsh_requests_do_not_exist_before_161():
    with pytest.raises(rq.RequestError) as err:
        rq.parse_request(["100", "3"], proto=protocol(160))
    assert err.value.code == 505


class _IbapiRecorder:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def sendMsg(self, msg):  # noqa: N802 - ibapi's name
        self.frames.append(msg)

    def isConnected(self):  # noqa: N802 - ibapi's name
        return True


@pytest.mark.parametrize("version", (157, 178))
def test_ibapi_encodings_parse_too(version):
    """IB's own client (ibapi-stable 10.x) lays these requests out the same way."""
    eclient = pytest.importorskip("ibapi.client")
    from ibapi.contract import Contract as IbContract
    from ibapi.scanner import ScannerSubscription as IbScan

    c = eclient.EClient(None)
    c.conn = _IbapiRecorder()
    c.connState = eclient.EClient.CONNECTED
    c.serverVersion_ = version
    stock = IbContract()
    stock.symbol, stock.secType, stock.exchange, stock.currency = "AAPL", "STK", "SMART", "USD"
    scan = IbScan()
    scan.instrument, scan.locationCode, scan.scanCode = "STK", "STK.US.MAJOR", "MOST_ACTIVE"
    c.reqMktDepth(1, stock, 5, False, [])
    c.reqTickByTickData(2, stock, "BidAsk", 0, False)
    c.reqHistoricalTicks(3, stock, "", "20261120 11:00:00", 10, "TRADES", 1, True, [])
    c.reqScannerSubscription(4, scan, [], [])
    c.reqRealTimeBars(5, stock, 5, "TRADES", False, [])
    c.calculateOptionPrice(6, stock, 0.3, 150.0, [])
    c.reqMatchingSymbols(7, "MS")
    c.reqHistogramData(8, stock, False, "1 week")
    frames = []
    for msg in c.conn.frames:
        frames += FrameDecoder().feed(msg)
    reqs = [rq.parse_request(f, proto=protocol(version)) for f in frames]
    assert [type(r) for r in reqs] == [
        dr.ReqMktDepth, dr.ReqTickByTickData, dr.ReqHistoricalTicks, dr.ReqScannerSubscription,
        dr.ReqRealTimeBars, dr.CalcOptionPrice, dr.ReqMatchingSymbols, dr.ReqHistogramData,
    ]  # fmt: skip
    assert [r.req_id for r in reqs] == list(range(1, 9))
    assert reqs[2].end == "20261120 11:00:00" and reqs[2].number_of_ticks == 10
    assert reqs[3].scan_code == "MOST_ACTIVE"
