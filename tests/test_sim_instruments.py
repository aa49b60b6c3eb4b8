"""Forex, indices with index options, E-mini futures and ContFuture through ib_async over a
real socket: qualify, contract details, quotes, bars, trade (or refusal) and margin."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from ib_async import IB, ContFuture, Forex, Future, Index, MarketOrder, Option

from livedesk.backend.sim.gateway import SimGateway
from tests.conftest import TEST_SESSION, until


def third_friday(year: int, month: int) -> dt.date:
    """The third Friday, or the day before when it is an exchange holiday (Juneteenth 2027)."""
    d = dt.date(year, month, 15)
    d += dt.timedelta(days=(4 - d.weekday()) % 7)
    return d - dt.timedelta(days=1) if d in {dt.date(2027, 6, 18)} else d


async def quote_of(ib: IB, contract) -> tuple[float, float]:
    ticker = ib.reqMktData(contract)
    await until(lambda: ticker.bid > 0 and ticker.ask > 0)
    ib.cancelMktData(contract)
    return ticker.bid, ticker.ask


async def value(ib: IB, tag: str) -> float:
    summary = await asyncio.wait_for(ib.accountSummaryAsync(), 5)
    return float(next(v.value for v in summary if v.tag == tag and v.currency == "USD"))


def streamed(ib: IB, tag: str) -> float:
    """The latest value of ``tag`` the account-updates subscription delivered."""
    return float(next(v.value for v in ib.accountValues() if v.tag == tag and v.currency == "USD"))


async def test_forex_pair_qualifies_quotes_and_trades(gw: SimGateway, ib: IB) -> None:
    [eur] = await ib.qualifyContractsAsync(Forex("EURUSD"))
    assert (eur.conId, eur.secType, eur.exchange, eur.localSymbol) == (
        12087792, "CASH", "IDEALPRO", "EUR.USD",
    )  # fmt: skip
    bid, ask = await quote_of(ib, eur)
    assert 0.5 < bid < ask < 2.0 and ask - bid < 0.001
    [details] = await ib.reqContractDetailsAsync(eur)
    assert details.minTick == 0.00005
    bars = await ib.reqHistoricalDataAsync(eur, "", "5 D", "1 day", "MIDPOINT", True)
    assert len(bars) == 5 and all(0.5 < b.close < 2.0 for b in bars)
    init_before = await value(ib, "InitMarginReq")
    trade = ib.placeOrder(eur, MarketOrder("BUY", 100_000))
    await until(lambda: trade.orderStatus.status == "Filled")
    price = trade.orderStatus.avgFillPrice
    fee = sum(f.commissionReport.commission for f in trade.fills)
    assert fee == pytest.approx(max(0.2e-4 * 100_000 * price, 2.0), rel=1e-6)
    assert gw.broker.account.position(eur.conId) == 100_000
    mark = gw.market.last_price(eur.conId, gw.now())
    want = init_before + 0.03 * 100_000 * mark  # 3 % of the dollar value
    await until(lambda: abs(streamed(ib, "InitMarginReq") - want) < 0.03 * 100_000 * 0.002)


async def test_indices_quote_but_do_not_trade(gw: SimGateway, ib: IB) -> None:
    spx, ndx, vix = await ib.qualifyContractsAsync(
        Index("SPX", "CBOE"), Index("NDX", "NASDAQ"), Index("VIX", "CBOE")
    )
    assert [c.conId for c in (spx, ndx, vix)] == [416904, 416843, 13455763]
    assert {c.secType for c in (spx, ndx, vix)} == {"IND"}
    spy = gw.market.registry.find("SPY", "STK")[0]
    now = gw.now()
    assert gw.market.last_price(spx.conId, now) == pytest.approx(
        10 * gw.market.last_price(spy.con_id, now), rel=2e-4
    )  # SPX is 10 x SPY
    for c in (spx, ndx, vix):
        bid, ask = await quote_of(ib, c)
        assert 0 < bid < ask
    codes = []
    ib.errorEvent += lambda req_id, code, msg, con: codes.append(code)
    trade = ib.placeOrder(spx, MarketOrder("BUY", 1))
    await until(lambda: trade.isDone())
    assert 201 in codes and not gw.broker.orders


async def test_index_options_chain_quote_and_trade(gw: SimGateway, ib: IB) -> None:
    [spx] = await ib.qualifyContractsAsync(Index("SPX", "CBOE"))
    chains = await asyncio.wait_for(ib.reqSecDefOptParamsAsync("SPX", "", "IND", spx.conId), 5)
    assert chains
    chain = chains[0]
    level = gw.market.last_price(spx.conId, gw.now())
    strikes = sorted(chain.strikes)
    assert all(k % 5 == 0 for k in strikes) and strikes[0] < level < strikes[-1]
    atm = min(strikes, key=lambda k: abs(k - level))
    expiry = sorted(chain.expirations)[-1]
    [opt] = await ib.qualifyContractsAsync(Option("SPX", expiry, atm, "C", "SMART"))
    assert opt.conId and opt.multiplier == "100"
    bid, ask = await quote_of(ib, opt)
    assert 0 < bid < ask < level
    trade = ib.placeOrder(opt, MarketOrder("BUY", 1))
    await until(lambda: trade.orderStatus.status == "Filled")
    assert gw.broker.account.position(opt.conId) == 1


@pytest.mark.parametrize(
    ("symbol", "multiplier", "index"), [("ES", 50, "SPX"), ("NQ", 20, "NDX"), ("MES", 5, "SPX")]
)
async def test_emini_futures_quarterly_listing_quotes_and_margin(
    gw: SimGateway, ib: IB, symbol: str, multiplier: int, index: str
) -> None:
    details = await ib.reqContractDetailsAsync(Future(symbol, exchange="CME"))
    months = sorted(d.contract.lastTradeDateOrContractMonth for d in details)
    # the next four quarterly expiries from 20 November 2026, third Fridays by hand
    expected = [third_friday(y, m) for y, m in ((2026, 12), (2027, 3), (2027, 6), (2027, 9))]
    assert months == [d.strftime("%Y%m%d") for d in expected]
    assert all(d.contract.multiplier == str(multiplier) for d in details)
    assert all(d.minTick == 0.25 for d in details)
    [front] = await ib.qualifyContractsAsync(Future(symbol, "202612", "GLOBEX"))
    assert front.localSymbol == f"{symbol}Z6" and front.exchange == "CME"
    bid, ask = await quote_of(ib, front)
    idx = gw.market.registry.find(index, "IND")[0]
    level = gw.market.last_price(idx.con_id, gw.now())
    assert bid <= level * 1.001 and ask >= level * 0.999  # the front quarter is the index
    state = await asyncio.wait_for(ib.whatIfOrderAsync(front, MarketOrder("BUY", 2)), 5)
    per_contract = {"ES": 16000.0, "NQ": 24000.0, "MES": 1600.0}[symbol]
    assert float(state.initMarginChange) == pytest.approx(2 * per_contract)
    trade = ib.placeOrder(front, MarketOrder("SELL", 1))
    await until(lambda: trade.orderStatus.status == "Filled")
    assert gw.broker.account.position(front.conId) == -1


async def test_contfuture_resolves_to_the_front_month(gw: SimGateway, ib: IB) -> None:
    [cont] = await ib.qualifyContractsAsync(ContFuture("ES", "CME"))
    [front] = await ib.qualifyContractsAsync(Future("ES", "202612", "CME"))
    assert cont.secType == "CONTFUT" and cont.conId == front.conId
    assert cont.lastTradeDateOrContractMonth == "20261218"
    bid, ask = await quote_of(ib, cont)
    assert 0 < bid < ask
    bars = await ib.reqHistoricalDataAsync(cont, "", "3 D", "1 hour", "TRADES", True)
    assert bars
    trade = ib.placeOrder(cont, MarketOrder("BUY", 1))  # trades the front month itself
    await until(lambda: trade.orderStatus.status == "Filled")
    assert gw.broker.account.position(front.conId) == 1
    [cl] = await ib.qualifyContractsAsync(ContFuture("CL", "NYMEX"))
    listed = gw.market.registry.find("CL", "FUT")
    assert cl.conId == min(listed, key=lambda i: i.last_trade_date).con_id
    assert TEST_SESSION.strftime("%Y%m%d") <= cl.lastTradeDateOrContractMonth


def test_index_options_settle_in_cash(market) -> None:
    """An in-the-money SPX call expiring on the session settles in cash at the close —
    no SPX position appears, unlike an equity option's delivery of shares."""
    from ib_async import Contract, Order

    from livedesk.backend.sim.broker.book import SimBroker

    broker = SimBroker(market)
    spx = market.registry.find("SPX", "IND")[0]
    now = market.session_open() + 3600
    level = market.last_price(spx.con_id, now)
    expiry = market.session.strftime("%Y%m%d")  # 20 November 2026: the monthly expiry
    calls = market.registry.find("SPX", "OPT", last_trade_date=expiry, right="C")
    call = max((i for i in calls if i.strike < level * 0.95), key=lambda i: i.strike)
    order = Order(action="BUY", totalQuantity=1, orderType="MKT")
    broker.place(1, 1, Contract(conId=call.con_id, secType="OPT"), order, now)
    assert broker.account.position(call.con_id) == 1
    cash = broker.account.cash
    close = market.session_close()
    broker.settle_expired(close + 1)
    final = float(market.minute_bars(spx.con_id, market.session)[-1]["close"])
    assert broker.account.position(call.con_id) == 0
    assert broker.account.position(spx.con_id) == 0  # cash, never index "shares"
    assert broker.account.cash - cash == pytest.approx(100 * (final - call.strike))
