"""Futures, option chains, BAG combos and what-if margin through the unmodified ib_async client."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ib_async import IB, ComboLeg, Contract, Future, LimitOrder, MarketOrder, Option, Order, Stock
from ib_async.order import OrderComboLeg

from livedesk.backend.sim.gateway import SimGateway
from tests.conftest import until

RATE = 0.04
WEEKLY = "20261127"
MONTHLY = "20261218"
TODAY = "20261120"


async def stock(ib: IB, symbol: str) -> Contract:
    [c] = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
    return c


async def option(ib: IB, symbol: str, expiry: str, strike: float, right: str) -> Contract:
    [c] = await ib.qualifyContractsAsync(Option(symbol, expiry, strike, right, "SMART"))
    assert c is not None and c.conId > 0
    return c


def bag(symbol: str, legs: list[tuple[Contract, str, int]]) -> Contract:
    return Contract(
        symbol=symbol,
        secType="BAG",
        exchange="SMART",
        currency="USD",
        comboLegs=[
            ComboLeg(conId=c.conId, ratio=r, action=a, exchange="SMART") for c, a, r in legs
        ],
    )


def position_of(ib: IB, con_id: int) -> float:
    return sum(p.position for p in ib.positions() if p.contract.conId == con_id)


def atm(gw: SimGateway, con_id: int, step: float = 1.0) -> float:
    return round(gw.market.last_price(con_id, gw.now()) / step) * step


def errors_of(ib: IB) -> list[int]:
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, c: codes.append(code)
    return codes


# --- futures ---------------------------------------------------------------------------


async def test_futures_qualify_by_month_with_details(gw: SimGateway, ib: IB) -> None:
    [cl, ho, rb] = await ib.qualifyContractsAsync(
        Future("CL", "202612", "NYMEX"),
        Future("HO", "202612", "NYMEX"),
        Future("RB", "202701", "NYMEX"),
    )
    assert cl.conId and cl.multiplier == "1000" and cl.lastTradeDateOrContractMonth == TODAY
    assert cl.localSymbol == "CLZ6" and cl.currency == "USD"
    assert ho.multiplier == "42000" and ho.lastTradeDateOrContractMonth == "20261130"
    assert rb.localSymbol == "RBF7"
    [details] = await ib.reqContractDetailsAsync(cl)
    assert details.contractMonth == "202612" and details.minTick == 0.01
    assert "1800" in details.tradingHours and "1700" in details.tradingHours
    codes = errors_of(ib)
    [missing] = await ib.qualifyContractsAsync(Future("CL", "209901", "NYMEX"))
    assert missing is None and 200 in codes
    q = gw.market.quote(cl.conId, gw.now())
    assert 0 < q.bid < q.ask and q.ask - q.bid < 0.1
    trade = ib.placeOrder(cl, MarketOrder("BUY", 2))
    await until(lambda: trade.isDone())
    assert trade.orderStatus.status == "Filled"
    assert trade.fills[0].commissionReport.commission == pytest.approx(1.70)
    await until(lambda: position_of(ib, cl.conId) == 2)
    values = gw.broker.account_values(gw.now())
    assert values["InitMarginReq"] == pytest.approx(12_000) and values["MaintMarginReq"] == 11_000


def test_crack_spread_is_cointegrated_with_psx(market) -> None:
    from livedesk.backend.sim.market.futures import crack_spread

    reg = market.registry
    fronts = {s: reg.find(s, "FUT", contract_month="202612")[0].con_id for s in ("CL", "HO", "RB")}
    psx = reg.find("PSX")[0].con_id
    minutes = {s: market.minute_bars(c, market.session)["close"] for s, c in fronts.items()}
    crack = crack_spread(minutes["CL"], minutes["HO"], minutes["RB"])
    refiner = market.minute_bars(psx, market.session)["close"]
    assert 10 < crack.mean() < 40  # $/bbl
    beta = np.polyfit(refiner, crack, 1)[0]
    resid = crack - market.futures.kappa() * refiner
    x = resid - resid.mean()
    phi = float(x[1:] @ x[:-1] / (x[:-1] @ x[:-1]))
    assert 0 < phi < 0.98  # the refiner-vs-crack residual mean-reverts within the session
    assert np.log(0.5) / np.log(phi) < 60  # half-life under an hour
    assert np.corrcoef(np.diff(crack), np.diff(refiner))[0, 1] > 0.15
    assert beta > 0
    # daily: the spread tracks PSX across two years of history, up to regime breaks
    daily = {s: market.daily_bars(c)["close"] for s, c in fronts.items()}
    d_crack = crack_spread(daily["CL"], daily["HO"], daily["RB"])
    d_resid = d_crack - market.futures.kappa() * market.daily_bars(psx)["close"]
    assert np.std(np.diff(d_resid)) < np.std(np.diff(daily["CL"]))


# --- option chains ---------------------------------------------------------------------


async def test_option_chain_and_contract_details(gw: SimGateway, ib: IB) -> None:
    spy = await stock(ib, "SPY")
    chains = await ib.reqSecDefOptParamsAsync("SPY", "", "STK", spy.conId)
    [smart] = [c for c in chains if c.exchange == "SMART"]
    assert int(smart.underlyingConId) == spy.conId and smart.multiplier == "100"
    assert {TODAY, WEEKLY, MONTHLY, "20261224", "20270115"} <= set(smart.expirations)
    assert len(smart.expirations) >= 10
    strikes = sorted(smart.strikes)
    assert set(np.diff(strikes)) == {1.0}
    centre = gw.market.prev_close(spy.conId)
    assert strikes[0] < 0.8 * centre < 1.2 * centre < strikes[-1]
    aapl = await stock(ib, "AAPL")
    [aapl_chain, _] = await ib.reqSecDefOptParamsAsync("AAPL", "", "STK", aapl.conId)
    assert set(np.diff(sorted(aapl_chain.strikes))) == {2.5}
    for symbol in ("MSFT", "NVDA", "JPM", "XOM", "PSX"):
        assert await ib.reqSecDefOptParamsAsync(symbol, "", "STK", 0)
    k = atm(gw, spy.conId)
    call = await option(ib, "SPY", WEEKLY, k, "C")
    assert call.multiplier == "100" and call.right == "C" and call.strike == k
    [details] = await ib.reqContractDetailsAsync(call)
    assert (
        details.underConId == spy.conId and details.contract.lastTradeDateOrContractMonth == WEEKLY
    )
    codes = errors_of(ib)
    for bad in (
        Option("SPY", WEEKLY, k + 0.5, "C", "SMART"),  # no such strike
        Option("SPY", "20261123", k, "C", "SMART"),  # a Monday: no such expiry
        Option("SPY", "20261113", k, "C", "SMART"),  # expired last week
    ):
        assert await ib.qualifyContractsAsync(bad) == [None]
    assert codes.count(200) == 3


async def test_option_quotes_greeks_smile_and_parity(gw: SimGateway, ib: IB) -> None:
    spy = await stock(ib, "SPY")
    k = atm(gw, spy.conId)
    call, put = await option(ib, "SPY", MONTHLY, k, "C"), await option(ib, "SPY", MONTHLY, k, "P")
    far_put = await option(ib, "SPY", MONTHLY, round(0.85 * k), "P")
    later = await option(ib, "SPY", "20270319", k, "C")
    tickers = [ib.reqMktData(c) for c in (call, put, far_put, later)]
    await until(lambda: all(t.modelGreeks and t.bidGreeks and t.askGreeks for t in tickers))
    await until(lambda: all(t.bid > 0 and t.ask > t.bid for t in tickers))
    tc, tp, tf, tl = tickers
    s = tc.modelGreeks.undPrice
    assert s == pytest.approx(gw.market.last_price(spy.conId, gw.now()))
    assert 0.3 < tc.modelGreeks.delta < 0.7 and -0.7 < tp.modelGreeks.delta < -0.3
    assert tc.modelGreeks.delta - tp.modelGreeks.delta == pytest.approx(1.0, abs=1e-6)
    assert tc.modelGreeks.gamma == pytest.approx(tp.modelGreeks.gamma) and tc.modelGreeks.gamma > 0
    assert tc.modelGreeks.vega > 0 and tc.modelGreeks.theta < 0
    assert tc.bidGreeks.impliedVol < tc.modelGreeks.impliedVol < tc.askGreeks.impliedVol
    assert tf.modelGreeks.impliedVol > tp.modelGreeks.impliedVol  # put skew
    assert tl.modelGreeks.impliedVol > tc.modelGreeks.impliedVol  # upward term structure
    assert (tf.ask - tf.bid) / tf.midpoint() > (tc.ask - tc.bid) / tc.midpoint()
    years = (
        gw.market.options_pricer.expiry_time(gw.market.registry.by_con_id(call.conId)) - gw.now()
    ) / (365 * 86400)
    parity = s - k * math.exp(-RATE * years)
    spreads = (tc.ask - tc.bid + tp.ask - tp.bid) / 2
    assert abs(tc.midpoint() - tp.midpoint() - parity) <= spreads
    assert tc.bid <= tc.modelGreeks.optPrice <= tc.ask


# --- BAG combos ------------------------------------------------------------------------


async def test_long_straddle_market_order(gw: SimGateway, ib: IB) -> None:
    spy = await stock(ib, "SPY")
    k = atm(gw, spy.conId)
    call, put = await option(ib, "SPY", WEEKLY, k, "C"), await option(ib, "SPY", WEEKLY, k, "P")
    quotes = {c.conId: gw.market.quote(c.conId, gw.now()) for c in (call, put)}
    combo = bag("SPY", [(call, "BUY", 1), (put, "BUY", 1)])
    ticker = ib.reqMktData(combo)
    await until(lambda: ticker.ask > ticker.bid > 0)
    assert ticker.ask == pytest.approx(sum(q.ask for q in quotes.values()))
    trade = ib.placeOrder(combo, MarketOrder("BUY", 2))
    await until(lambda: trade.isDone() and len(trade.fills) == 2)
    assert trade.orderStatus.status == "Filled" and trade.orderStatus.filled == 2
    by_leg = {f.contract.conId: f for f in trade.fills}
    assert set(by_leg) == {call.conId, put.conId}
    for con_id, fill in by_leg.items():
        assert fill.execution.shares == 2 and fill.execution.side == "BOT"
        assert fill.execution.price == pytest.approx(quotes[con_id].ask)
        assert fill.contract.secType == "OPT"
    await until(lambda: all(f.commissionReport.commission > 0 for f in trade.fills))
    assert [f.commissionReport.commission for f in trade.fills] == [pytest.approx(1.30)] * 2
    net = sum(f.execution.price for f in trade.fills)
    assert trade.orderStatus.avgFillPrice == pytest.approx(net)
    await until(lambda: position_of(ib, call.conId) == 2 and position_of(ib, put.conId) == 2)
    cash = gw.broker.account.cash
    assert cash == pytest.approx(1_000_000 - 200 * net - 2.60)


def condor_strikes(gw: SimGateway, con_id: int) -> tuple[float, float, float, float]:
    k = atm(gw, con_id)
    return k - 20, k - 10, k + 10, k + 15  # put wing 10 wide, call wing 5 wide


async def iron_condor(ib: IB, gw: SimGateway) -> tuple[Contract, list[Contract]]:
    spy = await stock(ib, "SPY")
    p1, p2, c3, c4 = condor_strikes(gw, spy.conId)
    legs = [
        await option(ib, "SPY", MONTHLY, p1, "P"),
        await option(ib, "SPY", MONTHLY, p2, "P"),
        await option(ib, "SPY", MONTHLY, c3, "C"),
        await option(ib, "SPY", MONTHLY, c4, "C"),
    ]
    actions = ["BUY", "SELL", "SELL", "BUY"]
    return bag("SPY", [(c, a, 1) for c, a in zip(legs, actions, strict=True)]), legs


async def test_short_iron_condor_net_limit(gw: SimGateway, ib: IB) -> None:
    combo, legs = await iron_condor(ib, gw)
    ticker = ib.reqMktData(combo)
    await until(lambda: not math.isnan(ticker.bid) and not math.isnan(ticker.ask))
    assert ticker.ask < 0  # a credit: buying the condor receives money
    resting = ib.placeOrder(combo, LimitOrder("BUY", 1, round(ticker.ask - 1.0, 2)))
    await until(lambda: resting.orderStatus.status == "Submitted")
    gw.advance(2)
    so = gw.broker.orders[(1, resting.order.orderId)]  # the gateway's own log, after advance
    assert so.status == "Submitted" and so.filled == 0
    assert not [e for e in gw.broker.executions if e.order is so]
    await ib.reqCurrentTimeAsync()  # every message sent before the answer has been read
    assert resting.orderStatus.filled == 0 and not resting.fills
    ib.cancelOrder(resting.order)
    await until(lambda: resting.orderStatus.status == "Cancelled")
    cash_before = gw.broker.account.cash
    limit = round(ticker.ask + 0.05, 2)
    trade = ib.placeOrder(combo, LimitOrder("BUY", 1, limit))
    await until(lambda: trade.isDone() and len(trade.fills) == 4)
    assert trade.orderStatus.status == "Filled"
    net = trade.orderStatus.avgFillPrice
    assert net < 0 and net <= limit + 1e-9
    signs = {legs[0].conId: 1, legs[1].conId: -1, legs[2].conId: -1, legs[3].conId: 1}
    fills = {f.contract.conId: f for f in trade.fills}
    assert sum(signs[c] * f.execution.price for c, f in fills.items()) == pytest.approx(net)
    assert {c: f.execution.side for c, f in fills.items()} == {
        c: "BOT" if s > 0 else "SLD" for c, s in signs.items()
    }
    await until(
        lambda: all(f.commissionReport.commission == pytest.approx(0.65) for f in trade.fills)
    )
    for con_id, sign in signs.items():
        await until(lambda c=con_id, s=sign: position_of(ib, c) == s)
    assert gw.broker.account.cash == pytest.approx(cash_before - 100 * net - 4 * 0.65)
    values = gw.broker.account_values(gw.now())
    assert values["InitMarginReq"] == pytest.approx(1000.0)  # the wider (put) wing, 10 x 100


# --- what-if margin --------------------------------------------------------------------


async def test_what_if_margin_stock_naked_put_and_condor(gw: SimGateway, ib: IB) -> None:
    aapl = await stock(ib, "AAPL")
    price = gw.market.last_price(aapl.conId, gw.now())
    state = await ib.whatIfOrderAsync(aapl, MarketOrder("BUY", 100))
    assert float(state.initMarginChange) == pytest.approx(0.5 * 100 * price, rel=1e-6)
    assert float(state.maintMarginChange) == pytest.approx(0.25 * 100 * price, rel=1e-6)
    assert state.commission == pytest.approx(1.0)
    spy = await stock(ib, "SPY")
    s = gw.market.last_price(spy.conId, gw.now())
    k = atm(gw, spy.conId) - 10
    put = await option(ib, "SPY", MONTHLY, k, "P")
    premium = gw.market.last_price(put.conId, gw.now())
    state = await ib.whatIfOrderAsync(put, MarketOrder("SELL", 2))
    naked = 2 * 100 * (premium + max(0.2 * s - (s - k), 0.1 * k))
    assert float(state.initMarginChange) == pytest.approx(naked, rel=1e-6)
    assert state.commission == pytest.approx(1.30)
    combo, _ = await iron_condor(ib, gw)
    state = await ib.whatIfOrderAsync(combo, LimitOrder("BUY", 3, -1.0))
    assert float(state.initMarginChange) == pytest.approx(3 * 1000.0)
    assert state.commission == pytest.approx(12 * 0.65)
    assert not gw.broker.orders and not gw.broker.account.holdings


# --- combo rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("no legs", 201),
        ("one leg", 201),
        ("ratio 0", 201),
        ("duplicate legs", 201),
        ("different underlyings", 201),
        ("mixed currencies", 201),
        ("unknown leg", 200),
        ("expired leg", 200),
        ("leg prices on 4 legs", 201),
        ("stop order", 201),
        ("quantity 0", 434),
        ("nan price", 320),
    ],
)
async def test_combo_rules_rejected(gw: SimGateway, ib: IB, case: str, code: int) -> None:
    from livedesk.backend.sim.market.options import option_con_id

    spy, aapl = await stock(ib, "SPY"), await stock(ib, "AAPL")
    k = atm(gw, spy.conId)
    call, put = await option(ib, "SPY", WEEKLY, k, "C"), await option(ib, "SPY", WEEKLY, k, "P")
    order = MarketOrder("BUY", 1)
    legs = [(call, "BUY", 1), (put, "BUY", 1)]
    if case == "no legs":
        legs = []
    elif case == "one leg":
        legs = legs[:1]
    elif case == "ratio 0":
        legs[1] = (put, "BUY", 0)
    elif case == "duplicate legs":
        legs[1] = (call, "SELL", 1)
    elif case == "different underlyings":
        legs[1] = (await option(ib, "AAPL", WEEKLY, atm(gw, aapl.conId, 2.5), "C"), "SELL", 1)
    elif case == "mixed currencies":
        [shop_cad] = await ib.qualifyContractsAsync(Stock("SHOP", "TSE", "CAD"))
        legs = [(aapl, "BUY", 1), (shop_cad, "SELL", 1)]
    elif case == "unknown leg":
        legs[1] = (Contract(conId=987654321), "BUY", 1)
    elif case == "expired leg":
        from datetime import date

        legs[1] = (Contract(conId=option_con_id(0, date(2026, 11, 13), k, "P")), "BUY", 1)
    elif case == "leg prices on 4 legs":
        combo, _ = await iron_condor(ib, gw)
        order = LimitOrder("BUY", 1, 0)
        order.orderComboLegs = [OrderComboLeg(price=1.0) for _ in range(4)]
    elif case == "stop order":
        order = Order(action="BUY", totalQuantity=1, orderType="STP", auxPrice=5.0)
    elif case == "quantity 0":
        order = MarketOrder("BUY", 0)
    elif case == "nan price":
        order = LimitOrder("BUY", 1, math.nan)
    if case != "leg prices on 4 legs":
        combo = bag("SPY", legs)
    codes = errors_of(ib)
    ib.placeOrder(combo, order)
    await until(lambda: code in codes)
    await ib.reqCurrentTimeAsync()  # anything the gateway did after the error has been read
    assert not gw.broker.orders and not gw.broker.executions and not gw.broker.account.holdings


async def test_combo_rejection_cancels_the_trade(gw: SimGateway, ib: IB) -> None:
    spy = await stock(ib, "SPY")
    call = await option(ib, "SPY", WEEKLY, atm(gw, spy.conId), "C")
    trade = ib.placeOrder(bag("SPY", [(call, "BUY", 1), (call, "SELL", 1)]), MarketOrder("BUY", 1))
    await until(lambda: trade.isDone())
    assert trade.orderStatus.status == "Cancelled"
    assert any("Duplicate combo leg" in e.message for e in trade.log)


# --- expiry ----------------------------------------------------------------------------


async def test_options_settle_at_expiry(gw: SimGateway, ib: IB) -> None:
    spy = await stock(ib, "SPY")
    k = atm(gw, spy.conId)
    itm_call = await option(ib, "SPY", TODAY, k - 10, "C")
    otm_put = await option(ib, "SPY", TODAY, k - 10, "P")
    later = await option(ib, "SPY", WEEKLY, k, "C")
    for c in (itm_call, otm_put, later):
        t = ib.placeOrder(c, MarketOrder("BUY", 1))
        await until(lambda t=t: t.isDone())
    await until(lambda: position_of(ib, itm_call.conId) == 1 and position_of(ib, later.conId) == 1)
    close = gw.market.session_close()
    final = gw.market.last_price(spy.conId, close)
    assert final > k - 10 + 1  # the call finishes in the money
    nlv_before = gw.broker.account_values(close)["NetLiquidation"]
    cash_before = gw.broker.account.cash
    gw.publish(gw.broker.settle_expired(close + 1))
    await until(lambda: position_of(ib, spy.conId) == 100)
    await until(
        lambda: position_of(ib, itm_call.conId) == 0 and position_of(ib, otm_put.conId) == 0
    )
    assert position_of(ib, later.conId) == 1  # next week's option is untouched
    assert gw.broker.account.cash == pytest.approx(cash_before - 100 * (k - 10))
    assert gw.broker.account.holdings[spy.conId].avg_cost == pytest.approx(k - 10)
    nlv_after = gw.broker.account_values(close + 1)["NetLiquidation"]
    intrinsic = 100 * (final - (k - 10))
    call_mark = 100 * gw.market.last_price(itm_call.conId, close)
    assert nlv_after == pytest.approx(nlv_before - call_mark + intrinsic, abs=1.0)
    gw.clock.advance(close + 60 - gw.now())
    codes = errors_of(ib)
    ib.placeOrder(itm_call, MarketOrder("BUY", 1))
    await until(lambda: 201 in codes)
    assert position_of(ib, itm_call.conId) == 0


def test_cash_settlement_of_a_short_put(market) -> None:
    from livedesk.backend.sim.broker.account import SimAccount
    from livedesk.backend.sim.broker.book import SimBroker
    from livedesk.backend.sim.market.options import option_con_id

    broker = SimBroker(market, SimAccount(), settlement="cash")
    spy = market.registry.find("SPY")[0]
    close = market.session_close()
    final = market.last_price(spy.con_id, close)
    k = round(final) + 5
    put = market.registry.by_con_id(option_con_id(0, market.session, k, "P"))
    broker.account.apply_fill(put.con_id, -3, 6.0, 100, 0.0)
    cash = broker.account.cash
    assert broker.settle_expired(close - 1) == []
    broker.settle_expired(close)
    assert broker.account.position(put.con_id) == 0 and broker.account.position(spy.con_id) == 0
    assert broker.account.cash == pytest.approx(cash - 3 * 100 * (k - final))
    assert broker.account.holdings[put.con_id].realized == pytest.approx(
        3 * 100 * (6.0 - (k - final))
    )


# --- market data rules -----------------------------------------------------------------


async def test_delayed_no_permission_and_line_limit(gw: SimGateway, ib: IB) -> None:
    codes = errors_of(ib)
    aapl, msft, spy = await stock(ib, "AAPL"), await stock(ib, "MSFT"), await stock(ib, "SPY")
    gw.faults.set_market_data_fault("delayed")
    delayed = ib.reqMktData(aapl)
    await until(lambda: 10167 in codes and delayed.marketDataType == 3 and delayed.last > 0)
    gw.faults.set_market_data_fault("no-permission", ["MSFT"])
    denied = ib.reqMktData(msft)
    await until(lambda: 354 in codes)
    gw.advance(2)
    assert not any(sub.inst and sub.inst.symbol == "MSFT" for sub in gw.sessions[1].mkt.values())
    await ib.reqCurrentTimeAsync()  # every tick sent before the answer has been read
    assert math.isnan(denied.last) and math.isnan(denied.bid)
    assert (await gw.faults.control("market-data", ["live"])).startswith("ok")
    assert gw.faults.market_data_fault("MSFT") is None
    gw.max_market_data_lines = 1
    ib.reqMktData(spy)
    await until(lambda: 101 in codes)
