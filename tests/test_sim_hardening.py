"""Hardening of the simulated gateway: absurd sizes and prices refused before any arithmetic,
a flood of unfinished handshakes that cannot lock clients out, and CL's last trading day."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Stock

from livedesk.backend.sim.clients.transport import ConnectionLimits
from livedesk.backend.sim.gateway import SimGateway
from tests.conftest import TEST_SESSION, until


# ---- absurd orders ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: MarketOrder("BUY", 1e308), 383),
        (lambda: MarketOrder("SELL", 1e12), 383),
        (lambda: LimitOrder("BUY", 10, 1e200), 110),
        (lambda: LimitOrder("BUY", 1e308, 150.0), 383),
    ],
)
async def test_absurd_orders_are_refused_and_change_nothing(
    gw: SimGateway, ib: IB, make, code: int
) -> None:
    [c] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
    cash_before = gw.broker.account.cash
    codes = []
    ib.errorEvent += lambda req_id, err, msg, con: codes.append(err)
    trade = ib.placeOrder(c, make())
    await until(lambda: code in codes)
    await until(lambda: trade.isDone())
    gw.advance(2)
    assert not gw.broker.orders and not gw.broker.executions
    assert gw.broker.account.cash == cash_before and not gw.broker.account.holdings
    # a what-if of the same order is refused too, and leaves nothing behind
    codes.clear()
    state = await asyncio.wait_for(ib.whatIfOrderAsync(c, make()), 5)
    assert code in codes and not state  # the error ends the request: no OrderState
    assert not gw.broker.orders and gw.broker.account.cash == cash_before


# ---- handshake flood -------------------------------------------------------------------
async def test_unfinished_handshakes_cannot_lock_clients_out(market) -> None:
    gw = SimGateway(
        port=0,
        market=market,
        speed=0.0,
        start_time=market.session_open() + 3600,
        limits=ConnectionLimits(handshake_timeout=30.0, max_connections=32, max_pending=32),
    )
    await gw.start()
    loop = asyncio.get_running_loop()
    socks = []
    try:
        for _ in range(32):  # 32 sockets that start the handshake and never finish it
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            await loop.sock_connect(s, ("127.0.0.1", gw.port))
            await loop.sock_sendall(s, b"API\0")
            socks.append(s)
        await until(lambda: len(gw.connections) == 32)
        # a 33rd unfinished one closes the oldest: the cap holds ...
        extra = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        extra.setblocking(False)
        await loop.sock_connect(extra, ("127.0.0.1", gw.port))
        socks.append(extra)
        assert await asyncio.wait_for(loop.sock_recv(socks[0], 10), 2) == b""
        await until(lambda: len(gw.connections) == 32)
        # ... and a real client still connects, well within its timeout
        ib = IB()
        await ib.connectAsync("127.0.0.1", gw.port, clientId=9, timeout=5)
        assert ib.isConnected() and ib.managedAccounts()
        ib.disconnect()
    finally:
        for s in socks:
            s.close()
        await gw.stop()


# ---- CL last trading day ---------------------------------------------------------------
US_HOLIDAYS = {
    dt.date(2026, 11, 26), dt.date(2026, 12, 25), dt.date(2027, 1, 1), dt.date(2027, 1, 18),
    dt.date(2027, 2, 15), dt.date(2027, 3, 26), dt.date(2027, 5, 31), dt.date(2027, 6, 18),
    dt.date(2027, 7, 5), dt.date(2027, 9, 6),
}  # fmt: skip


def business(d: dt.date) -> bool:
    return d.weekday() < 5 and d not in US_HOLIDAYS


def cl_last_trade(year: int, month: int) -> dt.date:
    """NYMEX CL: 3 business days before the 25th of the month before the contract month;
    if the 25th is not a business day, 3 business days before the last business day
    preceding the 25th (computed by hand here, day by day)."""
    y, m = (year, month - 1) if month > 1 else (year - 1, 12)
    d = dt.date(y, m, 25)
    while not business(d):
        d -= dt.timedelta(days=1)
    for _ in range(3):
        d -= dt.timedelta(days=1)
        while not business(d):
            d -= dt.timedelta(days=1)
    return d


def test_cl_last_trade_dates(market) -> None:
    cl = {i.local_symbol: i for i in market.registry.find("CL", "FUT")}
    assert cl["CLF7"].last_trade_date == "20261221"  # the 25th is Christmas (a Friday)
    assert cl["CLK7"].last_trade_date == "20270420"  # the 25th is a Sunday
    assert len(cl) == 6
    for inst in cl.values():
        year, month = int(inst.contract_month[:4]), int(inst.contract_month[4:])
        assert inst.last_trade_date == cl_last_trade(year, month).strftime("%Y%m%d")
    assert TEST_SESSION <= min(dt.date.fromisoformat(i.last_trade_date) for i in cl.values())


def test_nasdaq_listings(market) -> None:
    for symbol in ("MSFT", "PEP", "AAPL", "HON"):
        [inst] = market.registry.find(symbol, "STK")
        assert inst.primary_exchange == "NASDAQ", symbol
    for symbol in ("JPM", "XOM", "KO"):
        [inst] = market.registry.find(symbol, "STK")
        assert inst.primary_exchange == "NYSE", symbol
