"""ib_async notebook flows against the simulated gateway — tick data, bar data (5-second
real-time bars, second bars historical and keepUpToDate), scanners, market depth — and the
values behind them checked independently: from the market model's own quotes and daily
bars, or from a Black-Scholes formula written here.

The frozen-clock ``gw`` fixture makes values exact; flows that need time to pass run on a
gateway whose clock runs 20x faster than the wall clock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

import pytest
from ib_async import IB, LimitOrder, Option, ScannerSubscription, Stock, TagValue
from ib_async.objects import TickByTickAllLast, TickByTickBidAsk, TickByTickMidPoint

from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.sim.market.options import RATE
from tests.conftest import until

NY = ZoneInfo("America/New_York")
AAPL_ID = 1004
BOUND = 5.0


def aapl() -> Stock:
    return Stock("AAPL", "SMART", "USD")


@pytest.fixture
async def live_gw(market):
    """A gateway whose clock runs at 20x from one hour after the open."""
    gateway = SimGateway(
        port=0,
        market=market,
        speed=20.0,
        start_time=market.session_open() + 3600,
        tick_interval=0.02,
        account_interval=0.1,
    )
    await gateway.start()
    yield gateway
    await gateway.stop()


@pytest.fixture
async def live_ib(live_gw, ib_log_guard):
    client = IB()
    await client.connectAsync("127.0.0.1", live_gw.port, clientId=3, timeout=5)
    yield client
    client.disconnect()


def quote_at(market, second: int):
    return market.quote(AAPL_ID, second)


# --- tick data ---------------------------------------------------------------------------


async def test_historical_ticks_match_the_models_quotes(gw, ib):
    [c] = await ib.qualifyContractsAsync(aapl())
    now = int(gw.now())
    end = dt.datetime.fromtimestamp(now, NY).strftime("%Y%m%d %H:%M:%S US/Eastern")
    m = gw.market
    # expected, from the quote at each whole second (a trade where the volume grows)
    trades, bid_ask, mids = [], [], []
    for s in range(now - 600, now + 1):
        q, p = quote_at(m, s), quote_at(m, s - 1)
        if q.volume > p.volume:
            trades.append((s, q.last, q.volume - p.volume))
        if (q.bid, q.ask, q.bid_size, q.ask_size) != (p.bid, p.ask, p.bid_size, p.ask_size):
            bid_ask.append((s, q.bid, q.ask, q.bid_size, q.ask_size))
        if q.bid + q.ask != p.bid + p.ask:
            mids.append((s, (q.bid + q.ask) / 2))

    got = await ib.reqHistoricalTicksAsync(c, "", end, 40, "TRADES", useRth=True)
    assert [(int(t.time.timestamp()), t.price, t.size) for t in got] == [
        (s, p, float(n)) for s, p, n in trades[-40:]
    ]
    got = await ib.reqHistoricalTicksAsync(c, "", end, 25, "BID_ASK", useRth=True)
    assert [
        (int(t.time.timestamp()), t.priceBid, t.priceAsk, t.sizeBid, t.sizeAsk) for t in got
    ] == [(s, b, a, float(bs), float(as_)) for s, b, a, bs, as_ in bid_ask[-25:]]
    got = await ib.reqHistoricalTicksAsync(c, "", end, 25, "MIDPOINT", useRth=True)
    assert [(int(t.time.timestamp()), round(t.price, 6)) for t in got] == [
        (s, round(mid, 6)) for s, mid in mids[-25:]
    ]
    # forward from a start time
    start = dt.datetime.fromtimestamp(now - 300, dt.UTC).strftime("%Y%m%d-%H:%M:%S")
    got = await ib.reqHistoricalTicksAsync(c, start, "", 10, "TRADES", useRth=True)
    first = [t for t in trades if t[0] >= now - 300][:10]
    assert [(int(t.time.timestamp()), t.price) for t in got] == [(s, p) for s, p, _ in first]


async def test_tick_by_tick_streams_each_type(live_gw, live_ib):
    [c] = await live_ib.qualifyContractsAsync(aapl())
    tickers = {kind: live_ib.reqTickByTickData(c, kind) for kind in ("BidAsk", "MidPoint")}
    last = live_ib.reqTickByTickData(c, "AllLast")
    assert len({id(t) for t in tickers.values()} | {id(last)}) == 1  # one per contract
    ticks = []  # ib_async empties tickByTicks after each update: collect them
    last.updateEvent += lambda t: ticks.extend(t.tickByTicks)
    await until(
        lambda: (
            {type(t) for t in ticks} == {TickByTickAllLast, TickByTickBidAsk, TickByTickMidPoint}
        ),
        timeout=BOUND,
    )
    bid_ask = [t for t in ticks if isinstance(t, TickByTickBidAsk)]
    mids = [t for t in ticks if isinstance(t, TickByTickMidPoint)]
    trades = [t for t in ticks if isinstance(t, TickByTickAllLast)]
    for tick in bid_ask:
        assert 0 < tick.bidPrice < tick.askPrice and tick.bidSize > 0 and tick.askSize > 0
    for tick in mids:
        assert round(tick.midPoint * 200) == pytest.approx(tick.midPoint * 200)  # half-cents
    for tick in trades:
        assert tick.tickType == 2 and tick.size > 0
        assert tick.price == pytest.approx(round(tick.price, 2))
    for kind in ("BidAsk", "MidPoint", "AllLast"):
        live_ib.cancelTickByTickData(c, kind)


async def test_generic_ticks(gw, ib):
    [c] = await ib.qualifyContractsAsync(aapl())
    t = ib.reqMktData(c, "233,236,456,104,106,411")
    await until(
        lambda: t.shortable == 3.0 and not math.isnan(t.histVolatility) and t.dividends is not None
        and not math.isnan(t.rtHistVolatility) and not math.isnan(t.impliedVolatility)
        and t.rtTime is not None,
        timeout=BOUND,
    )  # fmt: skip
    closes = [float(x) for x in gw.market.daily_bars(AAPL_ID)["close"][-31:]]
    rets = [math.log(b / a) for a, b in zip(closes, closes[1:], strict=False)]
    mean = sum(rets) / len(rets)
    sd = math.sqrt(sum((r - mean) ** 2 for r in rets) / (len(rets) - 1))
    assert t.histVolatility == pytest.approx(sd * math.sqrt(252))
    assert t.dividends.past12Months == 0 and t.dividends.nextDate is None
    assert 0.05 < t.impliedVolatility < 1.0 and t.rtHistVolatility > 0
    assert t.volume == gw.market.quote(AAPL_ID, gw.now()).volume
    ib.cancelMktData(c)


# --- bar data ---------------------------------------------------------------------------


def expected_second_bars(market, start: int, end: int, step: int):
    """(start, o, h, l, c, volume) of each bar, from the quote at each second."""
    out = []
    for a in range(start, end, step):
        secs = range(a, min(a + step, end))
        prices = [quote_at(market, s).last for s in secs]
        vol = quote_at(market, secs[-1]).volume - quote_at(market, a - 1).volume
        out.append((a, prices[0], max(prices), min(prices), prices[-1], vol))
    return out


@pytest.mark.parametrize("size", ["1 secs", "5 secs", "10 secs", "15 secs", "30 secs"])
async def test_second_bars_historical(gw, ib, size):
    [c] = await ib.qualifyContractsAsync(aapl())
    step = int(size.split()[0])
    bars = await asyncio.wait_for(
        ib.reqHistoricalDataAsync(c, "", "120 S", size, "TRADES", True, formatDate=2), BOUND
    )
    now = int(gw.now())
    start = now - 120 - (now - 120) % step
    want = expected_second_bars(gw.market, start, now, step)  # the second at "now" not begun
    got = [(int(b.date.timestamp()), b.open, b.high, b.low, b.close, b.volume) for b in bars]
    assert got == want


async def test_bar_data_notebook_keep_up_to_date_and_real_time_bars(live_gw, live_ib):
    """bar_data.ipynb: 10-second bars with keepUpToDate, then 5-second real-time bars."""
    [c] = await live_ib.qualifyContractsAsync(aapl())
    bars = await asyncio.wait_for(
        live_ib.reqHistoricalDataAsync(c, "", "900 S", "10 secs", "MIDPOINT", True, 1, True),
        BOUND,
    )
    assert len(bars) >= 89
    first_len = len(bars)
    new_bar = asyncio.Event()
    bars.updateEvent += lambda b, has_new: has_new and new_bar.set()
    await asyncio.wait_for(new_bar.wait(), BOUND)
    assert len(bars) > first_len
    live_ib.cancelHistoricalData(bars)

    rt = live_ib.reqRealTimeBars(c, 5, "MIDPOINT", False)
    await until(lambda: len(rt) >= 3, timeout=BOUND)
    live_ib.cancelRealTimeBars(rt)
    m = live_gw.market
    for bar in list(rt):
        t = int(bar.time.timestamp())
        assert t % 5 == 0
        mids = [(quote_at(m, s).bid + quote_at(m, s).ask) / 2 for s in range(t, t + 5)]
        assert (bar.open_, bar.high, bar.low, bar.close) == pytest.approx(
            (mids[0], max(mids), min(mids), mids[-1])
        )
    trades = live_ib.reqRealTimeBars(c, 5, "TRADES", False)
    await until(lambda: len(trades) >= 1, timeout=BOUND)
    live_ib.cancelRealTimeBars(trades)
    bar = trades[0]
    t = int(bar.time.timestamp())
    assert bar.volume == quote_at(m, t + 4).volume - quote_at(m, t - 1).volume


async def test_histogram_counts_the_minute_bars(gw, ib):
    [c] = await ib.qualifyContractsAsync(aapl())
    hist = await asyncio.wait_for(ib.reqHistogramDataAsync(c, True, "1 day"), BOUND)
    bars = await ib.reqHistoricalDataAsync(c, "", "1 D", "1 min", "TRADES", True, 2)
    want: dict[float, float] = {}
    for b in bars:
        want[round(b.close, 2)] = want.get(round(b.close, 2), 0) + b.volume
    assert {h.price: h.count for h in hist} == want
    assert [h.price for h in hist] == sorted(want)


async def test_head_timestamp_is_a_datetime(gw, ib):
    [c] = await ib.qualifyContractsAsync(aapl())
    first = await ib.reqHeadTimeStampAsync(c, "TRADES", True, 1)
    day = dt.date.fromisoformat(str(gw.market.daily_bars(AAPL_ID)["date"][0])[:10])
    assert first == dt.datetime.combine(day, dt.time(9, 30), NY).astimezone(dt.UTC).replace(
        tzinfo=None
    )
    epoch = await ib.reqHeadTimeStampAsync(c, "TRADES", True, 2)
    assert epoch.timestamp() == dt.datetime.combine(day, dt.time(9, 30), NY).timestamp()


# --- scanners ---------------------------------------------------------------------------


def ranked(gw, key, keep=lambda x: True):
    """Stocks ranked by ``key`` computed here from the model's quotes and daily bars."""
    m, now = gw.market, gw.now()
    rows = []
    for inst in m.registry:
        if inst.sec_type != "STK":
            continue
        q = m.quote(inst.con_id, now)
        daily = m.daily_bars(inst.con_id)
        prev = float(daily["close"][-1])
        avg = float(sum(daily["volume"][-20:]) / 20)
        elapsed = (now - m.session_open()) / (m.session_close() - m.session_open())
        row = {
            "symbol": inst.symbol,
            "price": q.last,
            "change": 100 * (q.last / prev - 1),
            "volume": q.volume,
            "relvol": q.volume / (avg * elapsed),
        }
        if keep(row):
            rows.append(row)
    return [r["symbol"] for r in sorted(rows, key=key)]


async def test_scanners_notebook(gw, ib):
    sub = ScannerSubscription(
        instrument="STK", locationCode="STK.US.MAJOR", scanCode="TOP_PERC_GAIN"
    )
    data = await asyncio.wait_for(ib.reqScannerDataAsync(sub), BOUND)
    gainers = ranked(gw, lambda r: -r["change"], lambda r: r["change"] > 0)[:50]
    assert [d.contractDetails.contract.symbol for d in data] == gainers
    assert [d.rank for d in data] == list(range(len(data)))

    sub.abovePrice = 200
    data = await ib.reqScannerDataAsync(sub)
    assert [d.contractDetails.contract.symbol for d in data] == ranked(
        gw, lambda r: -r["change"], lambda r: r["change"] > 0 and r["price"] > 200
    )[:50]

    tags = [TagValue("changePercAbove", "1"), TagValue("priceAbove", 5), TagValue("priceBelow", 50)]
    sub = ScannerSubscription(
        instrument="STK", locationCode="STK.US.MAJOR", scanCode="TOP_PERC_GAIN"
    )
    data = await ib.reqScannerDataAsync(sub, [], tags)
    assert [d.contractDetails.contract.symbol for d in data] == ranked(
        gw, lambda r: -r["change"], lambda r: r["change"] > 1 and 5 < r["price"] < 50
    )[:50]

    for code, key, keep in (
        ("TOP_PERC_LOSE", lambda r: r["change"], lambda r: r["change"] < 0),
        ("MOST_ACTIVE", lambda r: -r["volume"], lambda r: True),
        ("HOT_BY_VOLUME", lambda r: -r["relvol"], lambda r: True),
    ):
        sub = ScannerSubscription(
            numberOfRows=10, instrument="STK", locationCode="STK.US.MAJOR", scanCode=code
        )
        data = await ib.reqScannerDataAsync(sub)
        assert [d.contractDetails.contract.symbol for d in data] == ranked(gw, key, keep)[:10], code

    xml = await asyncio.wait_for(ib.reqScannerParametersAsync(), BOUND)
    tree = ET.fromstring(xml)
    assert {"priceAbove", "priceBelow", "changePercAbove"} <= {
        e.text for e in tree.findall(".//AbstractField/code")
    }
    assert {"TOP_PERC_GAIN", "TOP_PERC_LOSE", "MOST_ACTIVE", "HOT_BY_VOLUME"} <= {
        e.text for e in tree.findall(".//scanCode")
    }
    assert "STK" in {e.text for e in tree.findall(".//Instrument/type")}
    assert "STK.US.MAJOR" in {e.text for e in tree.findall(".//locationCode")}


async def test_unknown_scan_code_fails_fast(gw, ib):
    errors = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    sub = ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR", scanCode="NOPE")
    data = await asyncio.wait_for(ib.reqScannerDataAsync(sub), BOUND)
    assert list(data) == [] and 162 in errors


# --- market depth -----------------------------------------------------------------------


async def test_market_depth_book_and_exchanges(gw, ib):
    exchanges = await asyncio.wait_for(ib.reqMktDepthExchangesAsync(), BOUND)
    assert {"NSDQ", "ARCA"} <= {d.exchange for d in exchanges}
    [c] = await ib.qualifyContractsAsync(aapl())
    ticker = ib.reqMktDepth(c, 5)
    await until(lambda: len(ticker.domBids) == 5 and len(ticker.domAsks) == 5, timeout=BOUND)
    q = gw.market.quote(AAPL_ID, gw.now())
    assert [round(d.price, 2) for d in ticker.domBids] == [
        round(q.bid - 0.01 * i, 2) for i in range(5)
    ]
    assert [round(d.price, 2) for d in ticker.domAsks] == [
        round(q.ask + 0.01 * i, 2) for i in range(5)
    ]
    assert (ticker.domBids[0].size, ticker.domAsks[0].size) == (q.bid_size, q.ask_size)
    assert all(d.size > 0 and d.size % 100 == 0 for d in ticker.domBids + ticker.domAsks)
    ib.cancelMktDepth(c)


async def test_market_depth_streams_and_caps_at_three_books(live_gw, live_ib):
    stocks = [Stock(s, "SMART", "USD") for s in ("AAPL", "MSFT", "AMZN", "NVDA")]
    contracts = await live_ib.qualifyContractsAsync(*stocks)
    errors = []
    live_ib.errorEvent += lambda req_id, code, msg, contract: errors.append(code)
    tickers = [live_ib.reqMktDepth(c, 3, isSmartDepth=True) for c in contracts[:3]]
    updates = []
    tickers[0].updateEvent += lambda t: updates.append([d.price for d in t.domBids])
    await until(lambda: len(updates) >= 5, timeout=BOUND)
    assert len({tuple(u) for u in updates}) > 1  # the book moves
    assert all(d.marketMaker for d in tickers[0].domBids)
    live_ib.reqMktDepth(contracts[3], 3)
    await until(lambda: 309 in errors, timeout=BOUND)
    for c in contracts[:3]:
        live_ib.cancelMktDepth(c, isSmartDepth=True)


# --- options ----------------------------------------------------------------------------


def _ncdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def black_scholes_call(s: float, k: float, t: float, r: float, vol: float) -> float:
    d1 = (math.log(s / k) + (r + vol * vol / 2) * t) / (vol * math.sqrt(t))
    return s * _ncdf(d1) - k * math.exp(-r * t) * _ncdf(d1 - vol * math.sqrt(t))


async def test_option_calculations_match_black_scholes(gw, ib):
    chain = gw.market.options.chain("AAPL")
    expiry = chain.expiry_texts[3]
    [opt] = await ib.qualifyContractsAsync(Option("AAPL", expiry, 150.0, "C", "SMART"))
    day = dt.datetime.strptime(expiry, "%Y%m%d").date()
    years = (dt.datetime.combine(day, dt.time(16), NY).timestamp() - gw.now()) / (365 * 86400)
    comp = await asyncio.wait_for(ib.calculateOptionPriceAsync(opt, 0.3, 152.0), BOUND)
    assert comp.optPrice == pytest.approx(
        black_scholes_call(152.0, 150.0, years, RATE, 0.3), rel=1e-6
    )
    assert comp.undPrice == 152.0 and comp.impliedVol == 0.3
    price = black_scholes_call(148.0, 150.0, years, RATE, 0.42)
    comp = await asyncio.wait_for(ib.calculateImpliedVolatilityAsync(opt, price, 148.0), BOUND)
    assert comp.impliedVol == pytest.approx(0.42, abs=1e-5)


async def test_exercise_a_long_call(gw, ib):
    [opt] = await ib.qualifyContractsAsync(
        Option("AAPL", gw.market.options.chain("AAPL").expiry_texts[3], 140.0, "C", "SMART")
    )
    quote = gw.market.quote(opt.conId, gw.now())
    trade = ib.placeOrder(opt, LimitOrder("BUY", 2, quote.ask + 1))
    await until(lambda: trade.orderStatus.status == "Filled", timeout=BOUND)
    cash = gw.broker.account.cash
    stock_before = gw.broker.account.position(AAPL_ID)
    ib.exerciseOptions(opt, 1, 1, "", 0)
    await until(lambda: gw.broker.account.position(opt.conId) == 1, timeout=BOUND)
    assert gw.broker.account.position(AAPL_ID) == stock_before + 100
    assert gw.broker.account.cash == pytest.approx(cash - 140.0 * 100)
    await until(
        lambda: any(p.contract.conId == AAPL_ID and p.position == 100 for p in ib.positions()),
        timeout=BOUND,
    )
    errors = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((code, msg))
    ib.exerciseOptions(opt, 1, 5, "", 0)  # more than held: refused, nothing changes
    await until(lambda: errors, timeout=BOUND)
    assert errors[0][0] == 321 and gw.broker.account.position(opt.conId) == 1


# --- reference data and refusals --------------------------------------------------------


async def test_reference_data(gw, ib):
    matches = await asyncio.wait_for(ib.reqMatchingSymbolsAsync("AA"), BOUND)
    symbols = [d.contract.symbol for d in matches]
    names = {i.symbol: i.long_name for i in gw.market.registry}
    assert symbols and all(s.startswith("AA") or "AA" in names[s].upper() for s in symbols)
    assert symbols[:3] == ["AAL", "AAP", "AAPL"]  # symbol matches first
    assert (
        "AAPL" in symbols
        and "OPT" in next(d for d in matches if d.contract.symbol == "AAPL").derivativeSecTypes
    )
    [cd] = await ib.reqContractDetailsAsync(aapl())
    rule_ids = {int(x) for x in cd.marketRuleIds.split(",")}
    assert len(cd.marketRuleIds.split(",")) == len(cd.validExchanges.split(","))
    for rule in rule_ids:
        increments = await asyncio.wait_for(ib.reqMarketRuleAsync(rule), BOUND)
        assert [(p.lowEdge, p.increment) for p in increments] == [(0.0, 0.01)]
    assert {"TRAIL", "MOC", "LOC", "MIT", "LIT", "REL", "IOC", "OPG", "GTC"} <= set(
        cd.orderTypes.split(",")
    )
    components = await asyncio.wait_for(ib.reqSmartComponentsAsync("9c0001"), BOUND)
    assert {c.exchange for c in components} >= {"NYSE", "ARCA", "NASDAQ"}
    providers = await asyncio.wait_for(ib.reqNewsProvidersAsync(), BOUND)
    assert "BRFG" in {p.code for p in providers}
    # ib_async has no call for these two: its wrapper callbacks are captured instead
    got = {}
    ib.wrapper.softDollarTiers = lambda req_id, tiers: got.update(tiers=(req_id, tiers))
    ib.wrapper.familyCodes = lambda codes: got.update(codes=codes)
    ib.client.reqSoftDollarTiers(4242)
    ib.client.reqFamilyCodes()
    await until(lambda: len(got) == 2, timeout=BOUND)
    assert got["tiers"] == (4242, [])
    assert [(c.accountID, c.familyCodeStr) for c in got["codes"]] == [("DU0000001", "")]


async def test_news_fundamentals_and_wsh_are_refused_on_their_request_id(gw, ib, ib_log_guard):
    errors = []
    ib.errorEvent += lambda req_id, code, msg, contract: errors.append((req_id, code))
    [c] = await ib.qualifyContractsAsync(aapl())
    await asyncio.wait_for(ib.reqHistoricalNewsAsync(AAPL_ID, "BRFG", "", "", 10), BOUND)
    await asyncio.wait_for(ib.reqFundamentalDataAsync(c, "ReportsFinSummary"), BOUND)
    ib.reqWshMetaData()  # fire and forget in ib_async
    await until(lambda: len(errors) == 3, timeout=BOUND)
    assert [code for _, code in errors] == [10276, 10358, 10276]
    assert all(req_id > 0 for req_id, _ in errors)


async def test_ledger_values_in_base_currency(gw, ib):
    values = {(v.tag, v.currency): v.value for v in ib.accountValues()}
    assert values[("NetLiquidationByCurrency", "BASE")] == values[("NetLiquidation", "USD")]
    assert values[("TotalCashBalance", "BASE")] == values[("TotalCashValue", "USD")]
    summary = await ib.accountSummaryAsync()
    assert any(v.tag == "NetLiquidation" for v in summary)


async def test_daily_pnl_of_a_position_opened_today_counts_from_the_fill(gw, ib):
    from ib_async import MarketOrder

    [c] = await ib.qualifyContractsAsync(aapl())
    trade = ib.placeOrder(c, MarketOrder("BUY", 100))
    await until(lambda: trade.orderStatus.status == "Filled", timeout=BOUND)
    await until(
        lambda: trade.fills and trade.fills[0].commissionReport.commission > 0, timeout=BOUND
    )
    fill = trade.fills[0]
    pnl = ib.reqPnLSingle("DU0000001", "", c.conId)
    await until(lambda: not math.isnan(pnl.dailyPnL) and pnl.position == 100, timeout=BOUND)
    mark = pnl.value / 100
    cost = 100 * fill.execution.price + fill.commissionReport.commission
    assert pnl.dailyPnL == pytest.approx(100 * mark - cost, abs=0.01)
    prev = float(gw.market.daily_bars(AAPL_ID)["close"][-1])
    assert abs(pnl.dailyPnL - 100 * (mark - prev)) > 1.0  # not from the previous close
    ib.cancelPnLSingle("DU0000001", "", c.conId)
