"""A Log that tells the trading story: it follows the newest line (and really scrolls), stays
where the user scrolled until F or End, records orders (sent, cancelled, rejected with IB's
code), fills (quantity, price, slippage, commission) and decisions (folded when nothing was
ordered); long lines wrap and enter shows a whole line."""

from __future__ import annotations

from dataclasses import dataclass, field

from ib_async import Order

from livedesk.backend.contracts import stock
from livedesk.tui.screens.log_line import LogLineScreen
from tests.conftest import until
from tests.console_helpers import connected, make_app, make_session


def newest_visible(table) -> bool:
    """The newest row is on screen (not only under the cursor)."""
    top = int(table.scroll_offset.y)
    height = table.scrollable_content_region.height - 1
    i = table._index[table.newest_key()]
    return top <= i < top + height


async def send(session, action: str, qty: float, order_type: str = "MKT", limit: float = 0.0):
    c = await session.app.resolve_contract(stock("AAPL"))
    o = Order(action=action, totalQuantity=qty, orderType=order_type, lmtPrice=limit)
    return await session.app.send_order(c, o, strategy="alpha")


async def buy_and_fill(pilot, session, gw, n: int) -> None:
    """``n`` market buys of 1 share, filled, then one refresh cycle."""
    before = sum("fill" == e.source for e in session.logs)
    for _ in range(n):
        await send(session, "BUY", 1)
    gw.advance(2)
    await until(lambda: sum("fill" == e.source for e in session.logs) >= before + n, 10)
    await pilot.pause(0.6)


async def test_the_log_follows_through_50_fills_and_stays_where_scrolled(market, tmp_path):
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        await pilot.press("6")
        table = app.pane("log").table
        await buy_and_fill(pilot, session, gw, 50)
        assert table.row_count > 100 and table.follow
        assert table.cursor_key == table.newest_key() and newest_visible(table)
        assert table.scroll_offset.y > 0
        fills = [e.message for e in session.logs if e.source == "fill"]
        assert all("BOT 1 AAPL" in m and "@ " in m and "commission $" in m for m in fills)
        assert all("slippage " in m and " bps" in m for m in fills)
        sent = [e.message for e in session.logs if e.message.startswith("sent alpha: BUY 1")]
        assert len(sent) == 50
        # the user scrolls back: the view stays while new lines arrive
        await pilot.press("pageup")
        await pilot.pause(0.2)
        assert not table.follow
        top = table.scroll_offset.y
        for _ in range(5):
            await send(session, "BUY", 1)
        gw.advance(2)
        await until(lambda: sum("fill" == e.source for e in session.logs) >= 55, 10)
        await pilot.pause(0.6)
        assert table.scroll_offset.y == top and not newest_visible(table)
        await pilot.press("end")  # End follows again
        await pilot.pause(0.3)
        assert table.follow and newest_visible(table)


async def test_lines_that_arrive_behind_another_tab_are_followed_when_it_is_shown(market, tmp_path):
    """At 80x24 the Log is a hidden tab while the trader looks at Positions; its rows are kept
    current there, and switching to it shows the newest line at once (the view follows)."""
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        await pilot.press("6")
        await pilot.pause(0.3)
        await pilot.press("1")
        table = app.pane("log").table
        await buy_and_fill(pilot, session, gw, 30)
        assert not app.pane("log").display
        await pilot.press("6")
        await until(lambda: newest_visible(table), 3)  # within a frame or two (under load: more)
        assert table.row_count > 60 and table.follow
        assert table.cursor_key == table.newest_key()
        newest = session.logs[-1].message
        assert newest[:30] in "\n".join(
            app.screen._compositor.render_strips()[i].text for i in range(24)
        )


async def test_cancel_reject_fold_wrap_and_enter(market, tmp_path):
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        mid = gw.market.last_price(
            (await session.app.resolve_contract(stock("AAPL"))).conId, gw.now()
        )
        resting = await send(session, "BUY", 5, "LMT", round(mid * 0.97, 2))
        await until(lambda: resting.trade.orderStatus.status == "Submitted", 5)
        session.app.ib.cancelOrder(resting.trade.order)
        await until(lambda: any(m.startswith("cancelled alpha") for m in msgs(session)), 5)
        gw.faults.reject_next_order("no shortable shares")
        refused = await send(session, "SELL", 7)
        oid = refused.trade.order.orderId
        await until(lambda: any(f"rejected #{oid} (IB 201)" in m for m in msgs(session)), 5)
        line = next(e for e in session.logs if f"rejected #{oid}" in e.message)
        assert line.level == "error" and line.code == 201 and "no shortable shares" in line.message
        for _ in range(3):
            session.story.decision("alpha", Decision("hold: z inside the band"))
        assert msgs(session)[-1] == "alpha: hold: z inside the band (no order) (×3)"
        session.story.decision("alpha", Decision("buy", orders=[{"symbol": "AAPL"}]))
        assert msgs(session)[-1] == "alpha: buy — 1 order"
        long = "a long message " * 12
        session.add_log("warning", "console", long.strip())
        await pilot.press("6")
        await pilot.pause(0.6)
        table = app.pane("log").table
        seq = session.log_seq - 1
        parts = [k for k in table._order if k == seq or (isinstance(k, tuple) and k[0] == seq)]
        assert len(parts) >= 3  # wrapped to the Message column at 80 columns
        text = " ".join(table.cells(k)[3][0] for k in parts)
        assert text.split() == long.split()
        await pilot.press("end", "enter")
        await until(lambda: isinstance(app.screen, LogLineScreen), 3)
        assert app.screen.text == long.strip()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LogLineScreen)


@dataclass
class Decision:
    summary: str
    orders: list = field(default_factory=list)
    skipped: bool = False


def msgs(session) -> list[str]:
    return [e.message for e in session.logs]
