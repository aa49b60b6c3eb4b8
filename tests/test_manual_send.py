"""Sending a previewed ticket through the real broker path against the simulated gateway:
``manual#key`` orderRef, journaled before it is placed, the guard's refusal sends nothing,
a stale or expired preview sends nothing."""

from __future__ import annotations

import asyncio

import pytest

from livedesk.backend.broker.orderref import key_of, strategy_of
from livedesk.backend.journal import Journal
from livedesk.backend.manual.command_line import parse_command
from livedesk.backend.manual.sender import PreviewNotSendable, send_preview
from livedesk.backend.manual.ticket import OrderTicket, Preview
from livedesk.backend.trading.app import TradingApp
from livedesk.backend.trading.guard import GuardLimits
from livedesk.backend.trading.results import OrderRefused
from tests.conftest import TEST_SESSION, until


@pytest.fixture
async def app(gw, tmp_path):
    journal = Journal(tmp_path / "journal.sqlite3")
    a = await TradingApp.connect(
        "127.0.0.1",
        gw.port,
        client_id=9,
        journal=journal,
        limits=GuardLimits(max_order_notional=50_000.0),
    )
    yield a
    a.disconnect()
    journal.close()


async def _ticket(app, text: str):
    cmd = parse_command(text, TEST_SESSION)
    contract = await app.resolve_contract(cmd.symbol.contract)
    ticket = OrderTicket.from_command(cmd)
    quote = await app.quote(contract)
    return contract, ticket, ticket.quantity(quote, 1.0, app.net_liquidation), quote.price


async def test_a_previewed_order_is_sent_as_manual_and_journaled_first(app, gw) -> None:
    contract, ticket, qty, mid = await _ticket(app, "buy AAPL 10 mkt")
    assert qty == 10
    preview = Preview.of(ticket, qty, now=100.0, mid=mid)
    [result] = await send_preview(app, contract, ticket, preview, now=110.0)
    assert result.sent
    await until(lambda: gw.broker.orders, 5)
    [order] = gw.broker.orders.values()
    ref = order.order.orderRef
    assert strategy_of(ref) == "manual" and len(key_of(ref)) == 12
    assert (order.order.action, order.order.totalQuantity) == ("BUY", 10.0)
    journaled = app.session.journal.orders("manual")
    assert [r["order_ref"] for r in journaled] == [ref]
    await until(lambda: app.positions.get(contract.conId) is not None, 5)


async def test_a_refused_ticket_sends_nothing(app, gw) -> None:
    # 1,000 AAPL is far above the 50,000 notional limit
    contract, ticket, qty, mid = await _ticket(app, "buy AAPL 1000 mkt")
    preview = Preview.of(ticket, qty, now=100.0, mid=mid)
    with pytest.raises(OrderRefused, match="notional"):
        await send_preview(app, contract, ticket, preview, now=101.0)
    await asyncio.sleep(0.3)  # anything sent would have reached the gateway by now
    assert gw.broker.orders == {}


async def test_a_stale_or_expired_preview_sends_nothing(app, gw) -> None:
    contract, ticket, qty, mid = await _ticket(app, "buy AAPL 5 mkt")
    preview = Preview.of(ticket, qty, now=100.0, mid=mid)
    with pytest.raises(PreviewNotSendable, match="older than 30 s"):
        await send_preview(app, contract, ticket, preview, now=130.5)
    ticket.edit(size=6)
    with pytest.raises(PreviewNotSendable, match="changed since the preview"):
        await send_preview(app, contract, ticket, preview, now=101.0)
    await asyncio.sleep(0.3)  # anything sent would have reached the gateway by now
    assert gw.broker.orders == {}


async def test_a_bracket_is_held_until_its_parent_fills_and_its_exits_follow(app, gw) -> None:
    """Parent limit far below the market: the take-profit and stop-loss stay inactive (not
    filled, although the market trades through the take-profit); the parent cancelled takes
    them with it."""
    contract, _, _, mid = await _ticket(app, "buy AAPL 10 mkt")
    below = round(mid * 0.97, 2)  # 3 % under the market: inside the 5 % collar, never fills
    text = f"buy AAPL 10 lmt {below} tp {round(mid * 0.98, 2)} sl {round(mid * 0.95, 2)}"
    contract, ticket, qty, mid = await _ticket(app, text)
    preview = Preview.of(ticket, qty, now=100.0, mid=mid)
    results = await send_preview(app, contract, ticket, preview, now=101.0)
    assert [r.sent for r in results] == [True, True, True]
    await until(lambda: len(gw.broker.orders) == 3, 5)
    gw.advance(60)
    [parent] = [o for o in gw.broker.orders.values() if not o.order.parentId]
    children = [o for o in gw.broker.orders.values() if o.order.parentId]
    [sl] = [o for o in children if o.order.orderType == "STP"]
    assert len(children) == 2 and all(c.order.parentId == parent.order_id for c in children)
    # the take-profit sells at 98 % of the mid, below the market: it would fill at once if live
    assert all(c.filled == 0 for c in children) and parent.filled == 0
    assert all(c.status == "PreSubmitted" for c in children)
    assert all(strategy_of(o.order.orderRef) == "manual" for o in gw.broker.orders.values())
    app.ib.cancelOrder(results[0].order)
    await until(lambda: all(o.status == "Cancelled" for o in gw.broker.orders.values()), 5)
    assert sl.filled == 0 and app.positions.get(contract.conId) is None
