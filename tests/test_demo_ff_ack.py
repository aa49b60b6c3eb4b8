"""A fast-forward order reaches the gateway at its decision time, even behind a busy client.

ib_async throttles its requests to 45 per wall second; on a frozen clock a decision's order
can wait behind that queue while the clock would be stepped on. ``settle`` must not move
the clock before the gateway has the order: the gateway's own record of when the order was
submitted (``SimOrder.submitted_at``) must equal the frozen clock at the decision.
"""

from __future__ import annotations

from ib_async import MarketOrder

from livedesk.backend.contracts import stock
from livedesk.backend.demo.fastforward import settle
from livedesk.backend.trading.app import TradingApp


async def test_settle_waits_for_the_gateway_before_moving_the_clock(gw, ib_log_guard) -> None:
    app = await TradingApp.connect("127.0.0.1", gw.port, 1)
    try:
        spy = await app.resolve_contract(stock("SPY"))
        for _ in range(120):  # fill ib_async's throttle: the order queues behind these
            app.ib.client.reqCurrentTime()
        trade = app.ib.placeOrder(spy, MarketOrder("BUY", 3))
        decided_at = gw.now()
        assert trade.orderStatus.status == "PendingSubmit"
        left = await settle(gw, app, {trade.order.orderId})
        [so] = [o for o in gw.broker.orders.values() if o.order_id == trade.order.orderId]
        assert so.submitted_at == decided_at
        assert left == set() and trade.orderStatus.status == "Filled"
        assert trade.orderStatus.filled == 3
    finally:
        app.disconnect()
