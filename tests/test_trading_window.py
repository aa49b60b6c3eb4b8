"""Re-targeting from inside the fill window never doubles a position (issue 9, item 1).

Between an order's executions / ``Filled`` status and the position message that follows,
the filled quantity must count exactly once. Each test re-targets from an ``ib_async``
callback — ``filledEvent``, ``execDetailsEvent``, ``orderStatusEvent`` at ``Filled`` and a
partial fill — checks there, synchronously, that the broker has not yet reported the new
position (so the callback really is inside the window) and that the app counts the fill
once; then lets everything settle and checks the final position equals the target and
the gateway received one order.
"""

from __future__ import annotations

import asyncio

import pytest
from ib_async import Trade

from livedesk.backend.contracts import combo_leg, future, option, spread, stock
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.trading.app import TradingApp
from livedesk.backend.trading.ledger import Exposure
from livedesk.backend.trading.orders import market as mkt
from tests.conftest import TEST_SESSION, until

HOOKS = ("filledEvent", "execDetailsEvent", "orderStatusEvent", "partial")


@pytest.fixture
async def app(gw: SimGateway, ib_log_guard):
    a = await TradingApp.connect("127.0.0.1", gw.port, client_id=7)
    a.today = lambda: TEST_SESSION
    yield a
    a.disconnect()


async def straddle(app: TradingApp, gw: SimGateway):
    spy = await app.resolve_contract(stock("SPY"))
    chains = await app.ib.reqSecDefOptParamsAsync("SPY", "", "STK", spy.conId)
    chain = next(c for c in chains if c.exchange == "SMART")
    expiry = sorted(e for e in chain.expirations if e > TEST_SESSION.strftime("%Y%m%d"))[0]
    last = gw.market.last_price(spy.conId, gw.now())
    strike = min(chain.strikes, key=lambda k: abs(k - last))
    legs = [option("SPY", expiry, strike, "C"), option("SPY", expiry, strike, "P")]
    return await app.resolve_contract(spread([combo_leg(o, 1, "BUY") for o in legs]))


def broker_quantities(app: TradingApp, contract) -> dict[int, float]:
    """What the broker has reported so far, for the contract or each leg of a BAG."""
    ids = [leg.conId for leg in contract.comboLegs] if contract.comboLegs else [contract.conId]
    return {i: (app.positions[i].position if i in app.positions else 0.0) for i in ids}


async def retarget_inside_the_window(app: TradingApp, gw: SimGateway, contract, target, hook):
    """Send to ``target``, re-target from ``hook``; return (window views, re-target results)."""
    if hook == "partial":
        gw.faults.force_partial_fills(1)
    views: list[tuple[dict[int, float], float]] = []
    tasks: list[asyncio.Task] = []
    before = broker_quantities(app, contract)

    def retarget() -> None:
        views.append((broker_quantities(app, contract), app.exposure(contract).total))
        tasks.append(asyncio.ensure_future(app.order_target_quantity(contract, mkt, target)))

    def on_exec(trade: Trade, fill) -> None:
        if not views and (hook == "execDetailsEvent" or hook == "partial"):
            retarget()

    def on_status(trade: Trade) -> None:
        if hook == "orderStatusEvent" and trade.orderStatus.status == "Filled" and not views:
            retarget()

    app.ib.execDetailsEvent += on_exec
    app.ib.orderStatusEvent += on_status
    first = await app.order_target_quantity(contract, mkt, target)
    assert first.sent
    if hook == "filledEvent":
        first.trade.filledEvent += lambda trade: retarget()
    if hook == "partial":
        await until(lambda: bool(views))
        for _ in range(3):
            gw.advance(1)
    await until(lambda: first.trade.isDone() and bool(views) and all(t.done() for t in tasks))
    app.ib.execDetailsEvent -= on_exec
    app.ib.orderStatusEvent -= on_status
    return first, before, views, [t.result() for t in tasks]


async def settle(app: TradingApp, contract, target) -> None:
    if contract.comboLegs:
        want = {leg.conId: target * leg.ratio for leg in contract.comboLegs}
    else:
        want = {contract.conId: target}
    await until(lambda: broker_quantities(app, contract) == want)


def orders_for(gw: SimGateway, contract) -> list:
    if contract.secType == "BAG":
        return [o for o in gw.broker.orders.values() if o.contract.secType == "BAG"]
    return [o for o in gw.broker.orders.values() if o.contract.conId == contract.conId]


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize(("symbol", "target"), [("AAPL", 90), ("XOM", 30)])
async def test_stock_retarget_from_the_fill_window_sends_once(
    app: TradingApp, gw: SimGateway, hook: str, symbol: str, target: int
) -> None:
    c = await app.resolve_contract(stock(symbol))
    first, before, views, again = await retarget_inside_the_window(app, gw, c, target, hook)
    [(broker_then, counted)] = views
    assert broker_then == before == {c.conId: 0.0}  # the broker had not reported the fill yet
    assert counted == target  # ... and the app counted it once: held + working = target
    assert [r.sent for r in again] == [False] and "already at target" in again[0].message
    await settle(app, c, target)
    assert app.positions[c.conId].position == target
    assert len(orders_for(gw, c)) == 1
    if hook == "partial":
        assert len(first.trade.fills) == 3  # really filled in three partial executions


@pytest.mark.parametrize("hook", HOOKS)
async def test_future_retarget_from_the_fill_window_sends_once(
    app: TradingApp, gw: SimGateway, hook: str
) -> None:
    cl = await app.resolve_contract(future("CL"))
    first, before, views, again = await retarget_inside_the_window(app, gw, cl, 3, hook)
    [(broker_then, counted)] = views
    assert broker_then == before == {cl.conId: 0.0} and counted == 3
    assert [r.sent for r in again] == [False]
    await settle(app, cl, 3)
    assert len(orders_for(gw, cl)) == 1


@pytest.mark.parametrize("hook", ["filledEvent", "execDetailsEvent", "orderStatusEvent"])
async def test_bag_retarget_from_the_fill_window_sends_once(
    app: TradingApp, gw: SimGateway, hook: str
) -> None:
    # A combo fills atomically in the sim (no partial fills); from execDetailsEvent the
    # callback sees the first leg's execution before the second leg's: a partial report.
    bag = await straddle(app, gw)
    first, before, views, again = await retarget_inside_the_window(app, gw, bag, 2, hook)
    [(broker_then, counted)] = views
    assert broker_then == before and set(broker_then.values()) == {0.0}
    assert counted == 2
    assert [r.sent for r in again] == [False]
    await settle(app, bag, 2)
    assert len(orders_for(gw, bag)) == 1


async def test_exposure_counts_each_stage_once(app: TradingApp, gw: SimGateway) -> None:
    """Held/working at every message of a partial fill: 30 ordered, 10 per second."""
    c = await app.resolve_contract(stock("SPY"))
    gw.faults.force_partial_fills(1)
    stages: list[tuple[str, float, float, float]] = []

    def record(kind: str) -> None:
        e = app.exposure(c)
        broker = app.positions[c.conId].position if c.conId in app.positions else 0.0
        stages.append((kind, broker, e.held, e.working))

    app.ib.execDetailsEvent += lambda t, f: record("exec")
    app.ib.orderStatusEvent += lambda t: record("status:" + t.orderStatus.status)
    app.ib.positionEvent += lambda p: record("position")
    first = await app.order_target_quantity(c, mkt, 30)
    await until(lambda: first.trade.orderStatus.filled == 10 and c.conId in app.positions)
    for _ in range(2):
        gw.advance(1)
    await until(lambda: first.trade.isDone() and app.positions[c.conId].position == 30)
    await until(lambda: stages[-1][0] == "position")
    for kind, broker, held, working in stages:
        assert held + working == 30, (kind, broker, held, working, stages)
        assert held >= broker  # fills the broker has not reported yet are held
    assert stages[-1] == ("position", 30.0, 30.0, 0.0)


async def test_reconnect_does_not_count_replayed_executions(
    app: TradingApp, gw: SimGateway
) -> None:
    """At reconnect ib_async replays the day's executions and positions: count them once."""
    c = await app.resolve_contract(stock("MSFT"))
    first = await app.order_target_quantity(c, mkt, 40)
    await until(lambda: first.trade.isDone() and c.conId in app.positions)
    app.ib.disconnect()
    await app.ib.connectAsync("127.0.0.1", gw.port, clientId=7, timeout=5)
    assert any(f.execution.orderId == first.order.orderId for f in app.ib.fills())  # replayed
    assert app.exposure(c).held == 40 and app.exposure(c).working == 0
    again = await app.order_target_quantity(c, mkt, 40)
    assert not again.sent and len(orders_for(gw, c)) == 1


async def test_day_orders_cancelled_at_the_close_stop_counting(
    app: TradingApp, gw: SimGateway
) -> None:
    """At the session close a resting DAY order is cancelled: it no longer counts as working."""
    from livedesk.backend.trading.orders import limit

    c = await app.resolve_contract(stock("JPM"))
    q = gw.market.quote(c.conId, gw.now())
    passive = lambda action, qty: limit(action, qty, round(q.bid * 0.97, 2))  # noqa: E731
    first = await app.order_target_quantity(c, passive, 50)
    await until(lambda: first.trade.orderStatus.status == "Submitted")
    assert app.exposure(c) == Exposure(0.0, 50.0)
    assert not (await app.order_target_quantity(c, passive, 50)).sent
    gw.clock.advance(gw.market.session_close() - gw.now() + 1)
    gw.pulse()
    await until(lambda: first.trade.orderStatus.status == "Cancelled")
    assert app.exposure(c) == Exposure(0.0, 0.0)
    assert [o.status for o in orders_for(gw, c)] == ["Cancelled"]
