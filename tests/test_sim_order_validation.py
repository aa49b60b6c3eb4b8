"""Orders IB would refuse: every bad one answered with IB's error, and nothing changes."""

from __future__ import annotations

import copy

import pytest
from ib_async import IB, Contract, LimitOrder, MarketOrder, Order, StopOrder

from livedesk.backend.sim.broker.validation import on_tick
from livedesk.backend.sim.gateway import SimGateway
from tests.conftest import until
from tests.test_sim_gateway import qualified


def book_state(gw: SimGateway) -> tuple:
    """Everything an accepted order could change: orders, fills, ids, cash, positions."""
    b = gw.broker
    return (
        {k: (o.status, o.filled) for k, o in b.orders.items()},
        len(b.executions),
        dict(b.used_ids),
        b.account.cash,
        {cid: h.qty for cid, h in b.account.holdings.items()},
        b.next_perm_id,
        gw.next_order_id(),
    )


async def refused(
    gw: SimGateway, ib: IB, contract: Contract, order: Order, code: int, raw: bool = False
) -> str:
    """Place ``order``; expect error ``code`` for its id and an unchanged book.

    ``raw`` sends it below ib_async's Trade bookkeeping (which refuses to re-send the id
    of a finished order itself).
    """
    before = book_state(gw)
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, err, msg, con: seen.append((req_id, err, msg))
    if raw:
        ib.client.placeOrder(order.orderId, contract, order)
        oid = order.orderId
    else:
        oid = ib.placeOrder(contract, order).order.orderId
    await until(lambda: any(r == oid and e == code for r, e, _ in seen))
    await ib.reqCurrentTimeAsync()  # anything the gateway did meanwhile has arrived
    assert book_state(gw) == before
    return next(m for r, e, m in seen if r == oid and e == code)


@pytest.mark.parametrize("qty", [0.5, 1e-9, 10.25])
async def test_fractional_stock_quantity_refused(gw: SimGateway, ib: IB, qty: float) -> None:
    c = await qualified(ib, "AAPL")
    msg = await refused(gw, ib, c, MarketOrder("BUY", qty), 10243)
    assert msg.startswith("Fractional-sized order cannot be placed via API")


@pytest.mark.parametrize("price", [1e-300, 100.123456, 0.004, 1e-3])
async def test_limit_price_off_tick_refused(gw: SimGateway, ib: IB, price: float) -> None:
    c = await qualified(ib, "AAPL")
    msg = await refused(gw, ib, c, LimitOrder("BUY", 1, price), 110)
    assert "minimum price variation" in msg


async def test_stop_price_off_tick_refused(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "MSFT")
    last = gw.market.last_price(c.conId, gw.now())
    await refused(gw, ib, c, StopOrder("BUY", 1, round(last * 1.1, 2) + 0.005), 110)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"secType": "OPT"}, 200),  # a known type, not this conId's
        ({"secType": "FUT"}, 200),
        ({"secType": "XYZ"}, 321),  # not a security type at all
        ({"symbol": "MSFT"}, 200),  # AAPL's conId under another symbol
        ({"currency": "EUR"}, 200),
    ],
)
async def test_contract_fields_must_match_the_con_id(
    gw: SimGateway, ib: IB, changes: dict, code: int
) -> None:
    c = copy.copy(await qualified(ib, "AAPL"))
    for name, value in changes.items():
        setattr(c, name, value)
    await refused(gw, ib, c, MarketOrder("BUY", 1), code)


@pytest.mark.parametrize("order_id", [-7, 2**31, 10**25])
async def test_order_id_out_of_range_refused(gw: SimGateway, ib: IB, order_id: int) -> None:
    c = await qualified(ib, "AAPL")
    order = MarketOrder("BUY", 1)
    order.orderId = order_id
    msg = await refused(gw, ib, c, order, 103)
    assert msg.startswith("Duplicate order id")
    assert gw.next_order_id() < 2**31
    other = IB()
    await other.connectAsync("127.0.0.1", gw.port, clientId=2, timeout=5)
    assert 0 < other.client.getReqId() < 2**31  # nextValidId stayed sane
    other.disconnect()


async def test_order_id_must_be_above_the_last_used(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "AAPL")
    first = ib.placeOrder(c, MarketOrder("BUY", 2))
    await until(lambda: first.isDone())
    assert first.orderStatus.status == "Filled"
    low = MarketOrder("BUY", 1)
    low.orderId = first.order.orderId - 1  # never used, but below the last id used
    await refused(gw, ib, c, low, 103)
    again = MarketOrder("BUY", 1)
    again.orderId = first.order.orderId  # a finished order's id
    await refused(gw, ib, c, again, 103, raw=True)


async def test_working_order_modification_keeps_its_id(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "AAPL")
    q = gw.market.quote(c.conId, gw.now())
    trade = ib.placeOrder(c, LimitOrder("BUY", 3, round(q.bid * 0.9, 2)))
    await until(lambda: trade.orderStatus.status == "Submitted")
    later = ib.placeOrder(c, LimitOrder("BUY", 1, round(q.bid * 0.8, 2)))
    await until(lambda: later.orderStatus.status == "Submitted")
    trade.order.lmtPrice = round(q.bid * 0.95, 2)  # modify the older order: not a new id
    ib.placeOrder(c, trade.order)
    key = (1, trade.order.orderId)
    await until(lambda: gw.broker.orders[key].order.lmtPrice == trade.order.lmtPrice)
    trade.order.lmtPrice = round(q.bid * 0.95, 2) + 0.003  # off the tick: refused, unchanged
    await refused(gw, ib, c, trade.order, 110)
    assert gw.broker.orders[key].order.lmtPrice == round(q.bid * 0.95, 2)


async def test_integer_fields_are_bounded(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "AAPL")
    order = MarketOrder("BUY", 1)
    order.displaySize = 2**40
    before = book_state(gw)
    seen: list[int] = []
    ib.errorEvent += lambda req_id, err, msg, con: seen.append(err)
    ib.placeOrder(c, order)
    await until(lambda: 320 in seen)
    assert book_state(gw) == before


async def test_valid_orders_still_fill(gw: SimGateway, ib: IB) -> None:
    c = await qualified(ib, "AAPL")
    q = gw.market.quote(c.conId, gw.now())
    trade = ib.placeOrder(c, LimitOrder("BUY", 7, round(q.ask + 0.02, 2)))
    await until(lambda: trade.isDone())
    assert trade.orderStatus.status == "Filled" and trade.orderStatus.filled == 7


def test_on_tick_by_hand() -> None:
    assert on_tick(100.12, 0.01) and on_tick(0.01, 0.01) and on_tick(3.1416, 0.0001)
    assert not on_tick(100.123456, 0.01)
    assert not on_tick(1e-300, 0.01)  # rounds to zero ticks: not a positive multiple
    assert not on_tick(0.004, 0.01)
    assert not on_tick(12.03, 0.05) and on_tick(12.05, 0.05)
