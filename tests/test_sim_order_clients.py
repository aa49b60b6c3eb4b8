"""The bracket flow with ib_insync and IB's ibapi over a real socket: children held while the
parent rests, live once it fills, the take-profit fills and the stop-loss is cancelled."""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal

import pytest

from livedesk.backend.sim.gateway import SimGateway
from tests.conftest import until


def prices(gw: SimGateway, con_id: int) -> tuple[float, float, float, float]:
    """Parent (resting), take-profit (below the bid), stop (above the last), marketable."""
    q = gw.market.quote(con_id, gw.now())
    last = gw.market.last_price(con_id, gw.now())

    def down(x: float) -> float:
        return math.floor(x * 100) / 100

    def up(x: float) -> float:
        return math.ceil(x * 100) / 100

    return down(q.bid * 0.9), down(q.bid * 0.95), up(last * 1.05), up(q.ask * 1.02)


async def test_ib_insync_bracket(gw: SimGateway) -> None:
    insync = pytest.importorskip("ib_insync", reason="ib_insync is a test dependency")
    ib = insync.IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=6, timeout=5)
    try:
        [c] = await ib.qualifyContractsAsync(insync.Stock("MSFT", "SMART", "USD"))
        parent_px, tp_px, sl_px, marketable = prices(gw, c.conId)
        bracket = ib.bracketOrder("BUY", 4, parent_px, tp_px, sl_px)
        parent, tp, sl = (ib.placeOrder(c, o) for o in bracket)
        await until(lambda: {tp.orderStatus.status, sl.orderStatus.status} == {"PreSubmitted"})
        gw.advance(5)
        await asyncio.wait_for(ib.reqCurrentTimeAsync(), 5)
        assert not gw.broker.executions and not tp.fills and not sl.fills
        bracket.parent.lmtPrice, bracket.parent.transmit = marketable, True
        ib.placeOrder(c, bracket.parent)
        await until(lambda: parent.orderStatus.status == "Filled")
        await until(lambda: tp.orderStatus.status == "Filled")
        await until(lambda: sl.orderStatus.status == "Cancelled")
        assert gw.broker.account.position(c.conId) == 0
    finally:
        ib.disconnect()


def _ibapi_order(action: str, qty: int, kind: str, **fields):
    from ibapi.order import Order

    o = Order()
    o.action, o.orderType, o.totalQuantity = action, kind, Decimal(qty)
    o.eTradeOnly = o.firmQuoteOnly = False
    for name, value in fields.items():
        setattr(o, name, value)
    return o


async def test_ibapi_bracket(gw: SimGateway) -> None:
    pytest.importorskip("ibapi", reason="ibapi-stable is a test dependency")
    from ibapi.contract import Contract

    from tests.ibapi_notebook import Session

    s = await asyncio.to_thread(Session, "127.0.0.1", gw.port, 7, 10.0)
    app = s.app
    try:
        [inst] = gw.market.registry.find("MSFT", "STK")
        c = Contract()
        c.conId, c.symbol, c.secType, c.exchange, c.currency = (
            inst.con_id, "MSFT", "STK", "SMART", "USD",
        )  # fmt: skip
        parent_px, tp_px, sl_px, marketable = prices(gw, inst.con_id)
        pid = s.order_id()
        tp_id, sl_id = s.order_id(), s.order_id()
        app.placeOrder(pid, c, _ibapi_order("BUY", 4, "LMT", lmtPrice=parent_px, transmit=False))
        app.placeOrder(
            tp_id, c, _ibapi_order("SELL", 4, "LMT", lmtPrice=tp_px, parentId=pid, transmit=False)
        )
        app.placeOrder(sl_id, c, _ibapi_order("SELL", 4, "STP", auxPrice=sl_px, parentId=pid))

        def last_status(order_id: int) -> str:
            seen = app.data.get(("status", order_id))
            return seen[-1][0] if seen else ""

        def statuses(want: dict[int, str]):
            return lambda: all(last_status(k) == v for k, v in want.items())

        held = {pid: "Submitted", tp_id: "PreSubmitted", sl_id: "PreSubmitted"}
        assert await asyncio.to_thread(s.wait, statuses(held), "bracket held")
        gw.advance(5)
        await asyncio.sleep(0.2)
        assert not gw.broker.executions
        assert all(last_status(k) == v for k, v in held.items())
        app.placeOrder(pid, c, _ibapi_order("BUY", 4, "LMT", lmtPrice=marketable))
        done = {pid: "Filled", tp_id: "Filled", sl_id: "Cancelled"}
        assert await asyncio.to_thread(s.wait, statuses(done), "bracket done")
        assert gw.broker.account.position(inst.con_id) == 0
        assert not app.loop_error
    finally:
        await asyncio.to_thread(app.disconnect)
