"""The continuous calendar: the simulated gateway trades day after day (issue 11, part 1).

Real ib_async clients over a socket against ``SimGateway(speed=0)`` moved with
``gw.advance``, across Thanksgiving 2026 on XNYS: Wednesday 25 November (a full session),
Thursday (holiday), Friday 27 (early close at 13:00), the weekend, Monday 30 November (the
last trading day of HO and RB December 2026) and the open of Tuesday 1 December.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from ib_async import IB, Future, LimitOrder, MarketOrder, Option, Stock, Trade

from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.sim.market.calendar import parse_start, start_session
from livedesk.backend.sim.market.model import DRAW_BLOCK, MarketModel
from tests import conftest

NY = ZoneInfo("America/New_York")
WED, FRI, MON = dt.date(2026, 11, 25), dt.date(2026, 11, 27), dt.date(2026, 11, 30)
TUE = dt.date(2026, 12, 1)
ROOT = Path(__file__).resolve().parents[1]


async def until(predicate, timeout: float = 10.0) -> None:
    """``conftest.until`` with room for a loaded machine (the waits are for the socket)."""
    await conftest.until(predicate, timeout)


def ny(day: dt.date, hh: int, mm: int, ss: float = 0.0) -> float:
    """Epoch seconds of a New York wall-clock time."""
    return dt.datetime.combine(day, dt.time(hh, mm), NY).timestamp() + ss


# --- --start ----------------------------------------------------------------------------


def test_start_forms_and_errors() -> None:
    # A date alone: that session's open; a holiday moves to the next session's open.
    assert start_session("2026-11-25") == (WED, ny(WED, 9, 30))
    assert start_session("2026-11-26") == (FRI, ny(FRI, 9, 30))
    assert start_session("2026-11-28") == (MON, ny(MON, 9, 30))
    # A time: that instant; on a weekend or holiday the market is on the session before.
    assert start_session("2026-11-25T15:59") == (WED, ny(WED, 15, 59))
    assert start_session("2026-11-26T12:00") == (WED, ny(dt.date(2026, 11, 26), 12, 0))
    assert start_session("2026-11-29 08:00") == (FRI, ny(dt.date(2026, 11, 29), 8, 0))
    assert start_session(dt.datetime(2026, 11, 27, 12, 59)) == (FRI, ny(FRI, 12, 59))
    when, timed = parse_start("2026-11-25T09:31")
    assert timed and when.tzinfo is not None and when.hour == 9 and when.minute == 31
    for bad in ("2026-13-01", "25/11/2026", "2026-11-25T25:00", "tomorrow", ""):
        with pytest.raises(ValueError, match="--start"):
            start_session(bad)


def test_cli_rejects_a_bad_start_before_listening(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "livedesk.tui.cli", "sim-gateway", "--port", "0"]
        + ["--start", "2026-02-30"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"LIVEDESK_CONFIG_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2
    assert "--start" in done.stderr and "listening" not in done.stdout


# --- the market model's calendar --------------------------------------------------------


def test_roll_grows_history_and_never_rewrites_the_past() -> None:
    m = MarketModel(seed=11, session=WED, history_sessions=40)
    spy = m.registry.find("SPY")[0].con_id
    ho = m.registry.find("HO", "FUT", contract_month="202702")[0].con_id  # from minute paths
    first, first_ho = m.daily_bars(spy).copy(), m.daily_bars(ho).copy()
    seen: list[tuple[dt.date, float, np.ndarray]] = []
    ho_closes = []
    rolls = DRAW_BLOCK + 6  # past the generated horizon: the paths are extended once
    for _ in range(rolls):
        day = m.session
        minutes = m.minute_bars(spy, day).copy()
        seen.append((day, m.last_price(spy, m.session_close() + 1), minutes))
        ho_closes.append(m.last_price(ho, m.session_close() + 1))
        nxt = m.next_session_open()
        assert nxt > m.session_close()
        assert m.roll() > day and m.session_open() == nxt
    bars = m.daily_bars(spy)
    assert len(bars) == len(first) + rolls and len(m.sessions) == 40 + 1 + rolls
    np.testing.assert_array_equal(bars[: len(first)], first)  # the history never changes
    ho_bars = m.daily_bars(ho)
    np.testing.assert_array_equal(ho_bars[: len(first_ho)], first_ho)
    # HO February 2027 trades until 29 January, a deferred month until the January contract
    # expires on 31 December: its history is what it quoted, across that roll too
    listed = sum(day <= dt.date(2027, 1, 29) for day, _, _ in seen)
    assert list(ho_bars["close"][len(first_ho) :][:listed]) == ho_closes[:listed]
    for i, (day, close, minutes) in enumerate(seen):
        bar = bars[len(first) + i]
        assert bar["date"] == np.datetime64(day)
        assert bar["close"] == close == minutes["close"][-1]  # as it closed that day
        assert bar["open"] == minutes["open"][0]
        assert bar["high"] == minutes["high"].max() and bar["low"] == minutes["low"].min()
    # every session opens near the previous close: an overnight gap, not a new random level
    closes = bars["close"][len(first) - 1 : -1]
    gaps = np.abs(np.log(bars["open"][len(first) :] / closes))
    assert gaps.max() < 0.05
    # holidays and weekends are skipped, early closes kept
    days = [day for day, _, _ in seen]
    assert dt.date(2026, 11, 26) not in days and dt.date(2026, 12, 25) not in days
    assert len(seen[days.index(FRI)][2]) == 210  # Friday after Thanksgiving: 13:00 close


def test_a_model_rolled_to_a_day_agrees_with_minute_bars_it_served() -> None:
    """What the market served intraday is what the history later reports."""
    m = MarketModel(seed=5, session=FRI, history_sessions=30)
    ho = m.registry.find("HO", "FUT")[0].con_id
    psx = m.registry.find("PSX")[0].con_id
    t = m.session_open() + 3600 + 17.5
    before = {c: m.last_price(c, t) for c in (ho, psx)}
    minute = int((t - m.session_open()) // 60)
    served = {c: m.minute_bars(c, FRI)[minute]["close"] for c in (ho, psx)}
    m.roll()
    for c in (ho, psx):
        assert m.minute_bars(c, FRI)[minute]["close"] == served[c]
        assert before[c] == pytest.approx(m.minute_bars(c, FRI)[minute]["close"], rel=0.01)


# --- the multi-day run over a socket ----------------------------------------------------


def status(trade: Trade) -> str:
    return trade.orderStatus.status


def position_of(ib: IB, con_id: int) -> float:
    return sum(p.position for p in ib.positions() if p.contract.conId == con_id)


def account_value(ib: IB, tag: str) -> float:
    return float(next(v.value for v in ib.accountValues() if v.tag == tag and v.currency == "USD"))


async def run_to(gw: SimGateway, when: float, step: float = 60.0) -> None:
    gw.advance(when - gw.now(), step=step)
    await asyncio.sleep(0.05)


async def daily_bars(ib: IB, contract, days: int) -> list:
    return await ib.reqHistoricalDataAsync(contract, "", f"{days} D", "1 day", "TRADES", True)


@pytest.mark.slow
async def test_three_sessions_over_thanksgiving(ib_log_guard) -> None:
    gw = SimGateway(
        port=0, seed=7, speed=0, start="2026-11-25T10:00", tick_interval=0.02, account_interval=0.05
    )
    await gw.start()
    ib = IB()
    try:
        await ib.connectAsync("127.0.0.1", gw.port, clientId=3, timeout=5)
        await check_thanksgiving(gw, ib)
    finally:
        ib.disconnect()
        await gw.stop()


async def check_thanksgiving(gw: SimGateway, ib: IB) -> None:
    account = gw.broker.account.account_id
    assert gw.market.session == WED and gw.now() == ny(WED, 10, 0)
    assert (await ib.reqCurrentTimeAsync()).timestamp() == int(gw.now())
    [spy] = await ib.qualifyContractsAsync(Stock("SPY", "SMART", "USD"))
    [ho_dec] = await ib.qualifyContractsAsync(Future("HO", "202612", "NYMEX"))
    assert ho_dec.lastTradeDateOrContractMonth == "20261130"
    fronts = await ib.reqContractDetailsAsync(Future("HO", exchange="NYMEX"))
    months_wed = sorted(d.contract.lastTradeDateOrContractMonth for d in fronts)
    chain_wed = (await ib.reqSecDefOptParamsAsync("SPY", "", "STK", spy.conId))[0]
    pnl = ib.reqPnL(account)
    ticker = ib.reqMktData(spy)
    await until(lambda: ticker.last > 0 and ticker.close > 0)
    bars_wed = await daily_bars(ib, spy, 10)
    assert bars_wed[-1].date == WED

    # Wednesday: trade, and leave a DAY and a GTC order working.
    s = gw.market.last_price(spy.conId, gw.now())
    strike = float(round(0.9 * s))
    [call] = await ib.qualifyContractsAsync(Option("SPY", "20261127", strike, "C", "SMART"))
    buys = [
        ib.placeOrder(c, MarketOrder("BUY", q)) for c, q in ((spy, 100), (call, 1), (ho_dec, 1))
    ]
    await until(lambda: all(status(t) == "Filled" for t in buys))
    day_lmt = ib.placeOrder(spy, LimitOrder("BUY", 10, round(0.5 * s, 2)))
    gtc = LimitOrder("BUY", 10, round(0.5 * s, 2))
    gtc.tif = "GTC"
    gtc_lmt = ib.placeOrder(spy, gtc)
    await until(lambda: status(day_lmt) == "Submitted" and status(gtc_lmt) == "Submitted")
    await until(lambda: not math.isnan(pnl.dailyPnL) and pnl.dailyPnL != 0)

    # The close: seconds before 16:00 a market order fills, a limit order expires at 16:00;
    # seconds after it a DAY order waits for Friday.
    await run_to(gw, ny(WED, 15, 59, 55))
    last_minute = ib.placeOrder(spy, MarketOrder("BUY", 5))
    late_lmt = ib.placeOrder(spy, LimitOrder("BUY", 5, round(0.5 * s, 2)))
    await until(lambda: status(last_minute) == "Filled" and status(late_lmt) == "Submitted")
    await run_to(gw, ny(WED, 16, 0, 2), step=1.0)
    await until(lambda: status(day_lmt) == "Cancelled" and status(late_lmt) == "Cancelled")
    assert status(gtc_lmt) == "Submitted"  # GTC orders stay
    wed_close = gw.market.last_price(spy.conId, ny(WED, 16, 0))
    after_close = ib.placeOrder(spy, MarketOrder("BUY", 7))
    await until(lambda: status(after_close) == "PreSubmitted")
    await until(lambda: account_value(ib, "NetLiquidation") != 0)

    # Thanksgiving: the clock runs, nothing fills, the market stays on Wednesday's close.
    await run_to(gw, ny(dt.date(2026, 11, 26), 12, 0))
    assert (await ib.reqCurrentTimeAsync()).timestamp() == int(gw.now())
    assert gw.market.session == WED
    assert gw.market.last_price(spy.conId, gw.now()) == wed_close
    await asyncio.sleep(0.2)
    assert status(after_close) == "PreSubmitted" and not after_close.fills
    nlv_wed_close = gw.broker.account_values(gw.now())["NetLiquidation"]
    await until(lambda: account_value(ib, "NetLiquidation") == pytest.approx(nlv_wed_close))
    # Wednesday's PnL (from the starting cash), still shown overnight
    await until(lambda: pnl.dailyPnL == pytest.approx(nlv_wed_close - 1_000_000.0, abs=0.01))

    # Friday's open: a new session, continuing from Wednesday's close.
    await run_to(gw, ny(FRI, 9, 30), step=1.0)
    assert gw.market.session == FRI
    await until(lambda: status(after_close) == "Filled")
    await until(lambda: ticker.close == wed_close)
    nlv_open = gw.broker.account_values(gw.now())["NetLiquidation"]
    await until(lambda: pnl.dailyPnL == pytest.approx(nlv_open - nlv_wed_close, abs=0.01))
    assert pnl.dailyPnL != pytest.approx(nlv_open - 1_000_000.0, abs=1.0)  # reset, not cumulative
    await until(
        lambda: (
            account_value(ib, "PreviousDayEquityWithLoanValue")
            == pytest.approx(nlv_wed_close, abs=0.01)
        )
    )
    await run_to(gw, ny(FRI, 11, 0))
    await until(lambda: ticker.last != wed_close)  # quotes move again
    bars_fri = await daily_bars(ib, spy, 11)
    assert [b.date for b in bars_fri[-2:]] == [WED, FRI]
    assert bars_fri[-2].close == wed_close
    assert len(bars_fri) == len(bars_wed) + 1

    # The early close at 13:00: the same window, and the weekly call expires into stock.
    await run_to(gw, ny(FRI, 12, 59, 50))
    fri_lmt = ib.placeOrder(spy, LimitOrder("BUY", 5, round(0.5 * s, 2)))
    await until(lambda: status(fri_lmt) == "Submitted")
    spy_before = position_of(ib, spy.conId)
    cash_before = gw.broker.account.cash
    final = gw.market.last_price(spy.conId, ny(FRI, 13, 0))
    assert final > strike  # in the money at the close
    await run_to(gw, ny(FRI, 13, 0, 1), step=1.0)
    await until(lambda: status(fri_lmt) == "Cancelled")
    await until(lambda: position_of(ib, call.conId) == 0)
    await until(lambda: position_of(ib, spy.conId) == spy_before + 100)
    assert gw.broker.account.cash == pytest.approx(cash_before - 100 * strike)
    weekend = ib.placeOrder(spy, MarketOrder("SELL", 50))
    await until(lambda: status(weekend) == "PreSubmitted")

    # The weekend, then Monday: the weekend order fills at the open; HO December's last day.
    await run_to(gw, ny(dt.date(2026, 11, 29), 12, 0))
    assert status(weekend) == "PreSubmitted" and gw.market.session == FRI
    await run_to(gw, ny(MON, 9, 30), step=1.0)
    await until(lambda: status(weekend) == "Filled")
    await run_to(gw, ny(MON, 10, 0))
    chain_mon = (await ib.reqSecDefOptParamsAsync("SPY", "", "STK", spy.conId))[0]
    assert "20261127" in chain_wed.expirations and "20261127" not in chain_mon.expirations
    assert max(chain_mon.expirations) >= max(chain_wed.expirations)
    assert set(chain_mon.expirations) - set(chain_wed.expirations)  # new expiries listed
    assert set(chain_wed.strikes) <= set(chain_mon.strikes)  # listed strikes stay listed
    bars_mon = await daily_bars(ib, spy, 12)
    assert [b.date for b in bars_mon[-3:]] == [WED, FRI, MON] and len(bars_mon) == len(bars_fri) + 1
    cash_before = gw.broker.account.cash
    ho_final = gw.market.last_price(ho_dec.conId, gw.market.session_close())
    await run_to(gw, ny(MON, 16, 0, 1))
    await until(lambda: position_of(ib, ho_dec.conId) == 0)  # cash-settled at the close
    assert gw.broker.account.cash == pytest.approx(cash_before + 42_000 * ho_final)

    # Tuesday's open: the HO front month rolled and a new month is listed.
    await run_to(gw, ny(TUE, 9, 31))
    fronts = await ib.reqContractDetailsAsync(Future("HO", exchange="NYMEX"))
    months_tue = sorted(d.contract.lastTradeDateOrContractMonth for d in fronts)
    assert months_wed[0] == "20261130" and months_tue[0] > "20261130"
    assert months_tue[:-1] == months_wed[1:] and months_tue[-1] > months_wed[-1]
    assert status(gtc_lmt) == "Submitted"  # the GTC order worked through every session

    # Every fill happened inside a session, and every session had one.
    sessions = [
        (ny(d, 9, 30), gw.market.calendar.session_close(d).timestamp())
        for d in (WED, FRI, MON, TUE)
    ]
    hits = {i: 0 for i in range(len(sessions))}
    for fill in ib.fills():
        t = fill.execution.time.timestamp()
        inside = [i for i, (o, c) in enumerate(sessions) if o <= t <= c]
        assert inside, f"fill at {fill.execution.time} outside every session"
        hits[inside[0]] += 1
    assert hits[0] and hits[1] and hits[2]


async def test_running_clock_overnight_orders_wait_for_the_open(ib_log_guard) -> None:
    """The measured failure: at high speed, orders placed after the close were cancelled
    ~0.1 s later and the market never reopened.  Now they wait and fill at the next open."""
    tuesday = dt.date(2026, 11, 24)
    gw = SimGateway(port=0, seed=7, speed=0, start="2026-11-24T16:05", tick_interval=0.02)
    await gw.start()
    ib = IB()
    try:
        await ib.connectAsync("127.0.0.1", gw.port, clientId=4, timeout=5)
        assert gw.market.session == tuesday and not gw.broker.is_open(gw.now())
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        mkt = ib.placeOrder(aapl, MarketOrder("BUY", 10))
        price = gw.market.last_price(aapl.conId, gw.now())
        lmt = ib.placeOrder(aapl, LimitOrder("BUY", 10, round(0.5 * price, 2)))
        await until(lambda: status(mkt) == status(lmt) == "PreSubmitted")
        gw.clock.set_speed(5_000)  # the night runs: pulses every 100 simulated seconds
        await asyncio.sleep(0.3)
        server = (await ib.reqCurrentTimeAsync()).timestamp()
        assert abs(server - gw.now()) < 0.1 * 5_000  # the gateway's clock, within 0.1 s
        assert ny(tuesday, 16, 5) + 1000 < gw.now() < ny(WED, 9, 30)
        assert status(mkt) == status(lmt) == "PreSubmitted" and gw.market.session == tuesday
        gw.clock.set_speed(50_000)  # through Wednesday's open and close
        await until(lambda: status(mkt) == "Filled")
        fill_time = mkt.fills[0].execution.time.timestamp()
        assert ny(WED, 9, 30) <= fill_time <= ny(WED, 16, 0)
        assert gw.market.session == WED
        await until(lambda: status(lmt) == "Cancelled")  # at Wednesday's close
        assert gw.now() >= ny(WED, 16, 0) and not lmt.fills
    finally:
        ib.disconnect()
        await gw.stop()
