"""Pilot tests of trading by hand from the panes: the order ticket (``o``), modify (``m``),
close (``X`` in Positions, a combo as its BAG), flatten a strategy (``X`` in Strategies) and
the kill switch's FLATTEN. The real app on an in-process SimGateway (frozen clock) over a real
socket; what reaches the gateway is asserted at the gateway's own order book and account."""

from __future__ import annotations

import asyncio

import pytest
from ib_async import LimitOrder, Order
from textual.widgets import Button, Input, Static

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.console.labels import expiry_text
from livedesk.backend.console.session import Target
from livedesk.backend.contracts import combo_leg, option, spread, stock
from livedesk.tui.screens.dialogs import TypedConfirmScreen
from livedesk.tui.screens.kill_switch import KillSwitchScreen
from livedesk.tui.screens.modify_order import ModifyOrderScreen
from livedesk.tui.screens.order_preview import OrderPreviewScreen
from livedesk.tui.screens.order_ticket import OrderTicketScreen
from tests.conftest import TEST_SESSION, until
from tests.console_helpers import buy, connected, make_app, make_session


@pytest.fixture
async def console(market, tmp_path):
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    yield app, session, gw


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def open_ticket(pilot, **fields) -> OrderTicketScreen:
    await pilot.press("o")
    await until(lambda: isinstance(pilot.app.screen, OrderTicketScreen), 5)
    screen = pilot.app.screen
    if fields:
        screen.fill(**fields)
    await pilot.pause()
    return screen


async def press_preview(pilot) -> None:
    """``enter`` in a text field of the ticket previews."""
    pilot.app.screen.query_one("#ticket-size", Input).focus()
    await pilot.pause()
    await pilot.press("enter")


async def preview(pilot) -> OrderPreviewScreen:
    await press_preview(pilot)
    await until(lambda: isinstance(pilot.app.screen, OrderPreviewScreen), 10)
    return pilot.app.screen


async def nothing_sent(gw) -> None:
    await asyncio.sleep(0.3)  # anything sent would have reached the gateway by now
    assert gw.broker.orders == {}


def sim_order(gw, order_id: int):
    """The gateway's own record of order ``order_id`` (its book is keyed by client and id)."""
    return next((o for (_, i), o in gw.broker.orders.items() if i == order_id), None)


def sim_ids(gw) -> list[int]:
    return [i for _, i in gw.broker.orders]


def held(gw, con_id: int) -> float:
    return gw.broker.account.position(con_id)


async def aapl(session):
    return await session.app.resolve_contract(stock("AAPL"))


# ---- the order ticket ------------------------------------------------------------------------
async def test_the_ticket_previews_and_shift_b_sends_exactly_that(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        await open_ticket(pilot, contract="AAPL", size="10")
        shown = await preview(pilot)
        assert text(shown, "#order-preview-words") == "BUY 10 AAPL MKT DAY"
        assert "guard: OK" in text(shown, "#order-preview-verdict")
        assert app.focused is shown.query_one("#cancel", Button)  # focus starts on Cancel
        assert "what-if: initial margin" in text(shown, "#order-preview-details")
        await pilot.press("shift+b")
        await until(lambda: gw.broker.orders, 5)
        [order] = gw.broker.orders.values()
        o = order.order
        assert (o.action, o.totalQuantity, o.orderType, o.tif) == ("BUY", 10.0, "MKT", "DAY")
        assert strategy_of(o.orderRef) == "manual"
        await until(lambda: not isinstance(app.screen, OrderTicketScreen), 5)  # closed: sent
        gw.advance(2)
        await until(lambda: held(gw, order.contract.conId) == 10, 5)


async def test_a_limit_sell_gtc_outside_rth_reaches_the_gateway_as_typed(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        mid = (await session.app.quote(await aapl(session))).price
        limit = round(mid * 1.03, 2)  # 3 % above: inside the 5 % collar, rests
        await open_ticket(pilot, contract="aapl", action="SELL", size="7", order_type="LMT",
                          limit=str(limit), tif="GTC", outside_rth=True)  # fmt: skip
        shown = await preview(pilot)
        assert text(shown, "#order-preview-words") == (
            f"SELL 7 AAPL LMT limit {limit:g} GTC outside RTH"
        )
        await pilot.press("shift+b")
        await until(lambda: gw.broker.orders, 5)
        [order] = gw.broker.orders.values()
        o = order.order
        assert (o.action, o.totalQuantity, o.orderType, o.lmtPrice, o.tif, o.outsideRth) == (
            "SELL", 7.0, "LMT", limit, "GTC", True
        )  # fmt: skip


async def test_a_dollar_size_shows_and_sends_the_resulting_quantity(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        screen = await open_ticket(pilot, contract="AAPL", size="5000", size_kind="value")
        shown = await preview(pilot)
        mid = shown.prepared.mid
        expected = int(5000 / mid)  # zipline's order_value: whole shares, toward zero
        assert text(shown, "#order-preview-words") == f"BUY {expected} AAPL MKT DAY"
        assert f"value → {expected} to trade" in text(shown, "#order-preview-details")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen  # back on the ticket, nothing sent
        shown_qty = text(screen, "#ticket-quantity")  # the form's own sizing, or the preview's
        assert shown_qty.split()[:2] == ["→", str(expected)], shown_qty
        await nothing_sent(gw)


async def test_the_ticket_opens_on_the_selected_position(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        await buy(session, "MSFT", 5)
        gw.advance(2)
        contract = await session.app.resolve_contract(stock("MSFT"))
        await until(lambda: session.app.positions.get(contract.conId) is not None, 5)
        await pilot.press("1")
        await until(lambda: app.pane("positions").table.select_key(contract.conId), 5)
        screen = await open_ticket(pilot)
        assert screen.query_one("#ticket-contract", Input).value == "MSFT"
        assert app.focused is screen.query_one("#ticket-size", Input)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"contract": "AAPL", "size": "0"}, "size: size must be more than 0, got 0"),
        ({"contract": "AAPL", "size": "ten"}, "size: 'ten' is not a number"),
        ({"contract": "", "size": "10"}, "contract: type a contract"),
        ({"contract": "AAPL", "size": "10", "order_type": "LMT"}, "limit: a limit price"),
        ({"contract": "AAPL", "size": "10", "order_type": "LMT", "limit": "18o"},
         "limit: '18o' is not a number"),
        ({"contract": "SPY 31DEC20 500 C", "size": "1"}, "'31DEC20' has expired"),
        ({"contract": "AAPL", "size": "10", "order_type": "MOC", "tif": "GTC"},
         "tif: MOC is a DAY order"),
        ({"contract": "AAPL", "size": "10", "order_type": "LMT", "limit": "100",
          "take_profit": "90"}, "take-profit 90 is below the entry 100"),
    ],
)  # fmt: skip
async def test_a_form_that_does_not_read_says_why_and_sends_nothing(console, fields, message):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        screen = await open_ticket(pilot, **fields)
        await press_preview(pilot)
        await until(lambda: message in text(screen, "#ticket-problems"), 5)
        assert "nothing is sent" in text(screen, "#ticket-problems")
        assert app.screen is screen
        await nothing_sent(gw)


async def test_an_unknown_symbol_is_named_and_nothing_is_sent(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        screen = await open_ticket(pilot, contract="ZZZQ", size="10")
        await press_preview(pilot)
        await until(lambda: "ZZZQ" in text(screen, "#ticket-problems"), 10)
        assert "no security definition" in text(screen, "#ticket-problems")
        await nothing_sent(gw)


async def test_a_limit_outside_the_collar_cannot_be_sent(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        await open_ticket(pilot, contract="AAPL", size="10", order_type="LMT", limit="1")
        shown = await preview(pilot)
        verdict = text(shown, "#order-preview-verdict")
        assert "cannot send" in verdict and "limit 1 is" in verdict and "guard allows" in verdict
        assert shown.query_one("#send", Button).disabled
        await pilot.press("shift+b")
        await pilot.pause()
        assert app.screen is shown
        await nothing_sent(gw)


async def test_an_index_is_quoted_but_cannot_be_traded(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        await open_ticket(pilot, contract="SPX", size="1")
        shown = await preview(pilot)
        assert "SPX is an index: indices cannot be traded" in text(shown, "#order-preview-verdict")
        await pilot.press("shift+b")
        await nothing_sent(gw)


async def test_a_forex_pair_is_traded_in_base_currency_units(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        await open_ticket(pilot, contract="EUR.USD", size="20000")
        shown = await preview(pilot)
        assert text(shown, "#order-preview-words") == "BUY 20000 EUR.USD MKT DAY"
        assert "guard: OK" in text(shown, "#order-preview-verdict")
        await pilot.press("shift+b")
        await until(lambda: gw.broker.orders, 5)
        [order] = gw.broker.orders.values()
        assert order.order.totalQuantity == 20000.0
        gw.advance(2)
        await until(lambda: held(gw, order.contract.conId) == 20000, 5)


@pytest.mark.parametrize("state", ["read-only", "HALTED"])
async def test_read_only_and_halted_refuse_at_the_preview(market, tmp_path, state):
    target = Target(readonly=True) if state == "read-only" else Target()
    session, gw = make_session(market, tmp_path, target=target)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        if state == "HALTED":
            session.app.guard.halt("test halt")
        await open_ticket(pilot, contract="AAPL", size="10")
        shown = await preview(pilot)
        verdict = text(shown, "#order-preview-verdict")
        assert "cannot send" in verdict and state in verdict, verdict
        await pilot.press("shift+b")
        await nothing_sent(gw)


async def test_a_live_account_not_confirmed_refuses_at_the_preview(market, tmp_path):
    from tests.console_helpers import make_gateway

    gw = make_gateway(market, account="U1234567")
    await gw.start()
    try:
        target = Target(host="127.0.0.1", port=gw.port, live=True)
        session, _ = make_session(market, tmp_path, target=target, gw=gw)
        app = make_app(session, tmp_path)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(lambda: isinstance(app.screen, TypedConfirmScreen), 10)
            await pilot.press("escape")  # the account id not typed: orders stay locked
            await pilot.pause(0.3)
            await open_ticket(pilot, contract="AAPL", size="10")
            shown = await preview(pilot)
            verdict = text(shown, "#order-preview-verdict")
            assert "cannot send" in verdict and "not confirmed" in verdict, verdict
            await pilot.press("shift+b")
            await nothing_sent(gw)
    finally:
        await gw.stop()


# ---- modify ----------------------------------------------------------------------------------
async def working_limit(session, gw, qty: float = 10, below: float = 0.97):
    """A resting limit buy ``below`` the mid (inside the collar, never fills on a frozen clock)."""
    contract = await aapl(session)
    mid = (await session.app.quote(contract)).price
    price = round(mid * below, 2)
    result = await session.app.send_order(
        contract, LimitOrder("BUY", qty, price), strategy="manual"
    )
    await until(lambda: sim_order(gw, result.order.orderId) is not None, 5)
    await until(lambda: result.trade.orderStatus.status in ("Submitted", "PreSubmitted"), 5)
    return result.trade, mid, price


async def modify(pilot, order_id: int, **values) -> ModifyOrderScreen:
    app = pilot.app
    await pilot.press("2")
    await until(lambda: app.pane("orders").table.select_key(order_id), 5)
    await pilot.press("m")
    await until(lambda: isinstance(app.screen, ModifyOrderScreen), 5)
    screen = app.screen
    for name, value in values.items():
        screen.query_one(f"#modify-{name}", Input).value = value
    screen.query_one("#modify-quantity", Input).focus()
    await pilot.press("enter")
    await pilot.pause()
    return screen


async def test_modify_changes_price_and_quantity_of_the_same_order(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        trade, mid, price = await working_limit(session, gw)
        order_id = trade.order.orderId
        new_price = round(mid * 0.98, 2)
        await modify(pilot, order_id, price=f"{new_price:g}", quantity="15")
        await until(lambda: isinstance(app.screen, OrderPreviewScreen), 10)
        words = text(app.screen, "#order-preview-words")
        assert words == f"MODIFY #{order_id} to BUY 15 AAPL LMT limit {new_price:g} DAY"
        await pilot.press("shift+b")
        sim = sim_order(gw, order_id)
        await until(lambda: sim.order.lmtPrice == new_price, 5)
        assert sim.order.totalQuantity == 15.0
        assert sim_ids(gw) == [order_id]  # the same order: no new one exists
        assert strategy_of(sim.order.orderRef) == "manual"
        story = lambda: [e for e in session.logs if "modified" in e.message]  # noqa: E731
        await until(lambda: story(), 5)
        await asyncio.sleep(0.3)
        [line] = story()  # the Log tells it once
        assert f"#{order_id}" in line.message


async def test_modify_only_the_price_keeps_the_quantity(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        trade, mid, price = await working_limit(session, gw)
        order_id = trade.order.orderId
        new_price = round(mid * 0.96, 2)
        await modify(pilot, order_id, price=f"{new_price:g}")
        await until(lambda: isinstance(app.screen, OrderPreviewScreen), 10)
        await pilot.press("shift+b")
        sim = sim_order(gw, order_id)
        await until(lambda: sim.order.lmtPrice == new_price, 5)
        assert sim.order.totalQuantity == 10.0 and sim_ids(gw) == [order_id]


@pytest.mark.parametrize(
    ("values", "where", "message"),
    [
        ({"quantity": "0"}, "toast", "quantity must be a whole number of 1 or more, got 0"),
        ({"quantity": "ten"}, "dialog", "quantity 'ten' is not a number"),
        ({"price": "1"}, "preview", "limit 1 is"),
    ],
)
async def test_a_bad_modification_says_why_and_changes_nothing(console, values, where, message):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        trade, mid, price = await working_limit(session, gw)
        order_id = trade.order.orderId
        screen = await modify(pilot, order_id, **values)
        if where == "dialog":
            assert app.screen is screen and message in text(screen, "#modify-error")
        elif where == "preview":
            await until(lambda: isinstance(app.screen, OrderPreviewScreen), 10)
            assert message in text(app.screen, "#order-preview-verdict")
            await pilot.press("shift+b")
        else:
            await until(lambda: any(message in n.message for n in app._notifications), 5)
        await asyncio.sleep(0.3)
        sim = sim_order(gw, order_id)
        assert (sim.order.lmtPrice, sim.order.totalQuantity) == (price, 10.0)
        assert sim_ids(gw) == [order_id]


# ---- close -----------------------------------------------------------------------------------
async def test_close_position_sells_the_whole_position_after_the_preview(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await buy(session, "AAPL", 12)
        gw.advance(2)
        contract = await aapl(session)
        await until(lambda: held(gw, contract.conId) == 12, 5)
        await pilot.press("1")
        await until(lambda: app.pane("positions").table.select_key(contract.conId), 5)
        await pilot.press("X")
        await until(lambda: isinstance(app.screen, OrderPreviewScreen), 10)
        assert text(app.screen, "#order-preview-words") == "SELL 12 AAPL MKT DAY"
        assert app.focused is app.screen.query_one("#cancel", Button)
        await pilot.press("shift+b")
        gw.advance(2)
        await until(lambda: held(gw, contract.conId) == 0, 5)
        closing = [o for o in gw.broker.orders.values() if o.order.action == "SELL"]
        assert [strategy_of(o.order.orderRef) for o in closing] == ["manual"]


async def test_close_a_short_buys_it_back_and_halted_refuses(market, tmp_path):
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await buy(session, "XOM", -7)
        gw.advance(2)
        contract = await session.app.resolve_contract(stock("XOM"))
        await until(lambda: held(gw, contract.conId) == -7, 5)
        await pilot.press("1")
        await until(lambda: app.pane("positions").table.select_key(contract.conId), 5)
        session.app.guard.halt("test halt")  # from now on: only cancels
        await pilot.press("X")
        await until(lambda: isinstance(app.screen, OrderPreviewScreen), 10)
        assert text(app.screen, "#order-preview-words") == "BUY 7 XOM MKT DAY"
        assert "HALTED" in text(app.screen, "#order-preview-verdict")
        n = len(gw.broker.orders)
        await pilot.press("shift+b")
        await asyncio.sleep(0.3)
        assert len(gw.broker.orders) == n and held(gw, contract.conId) == -7


async def test_close_a_combo_closes_it_as_its_bag(console):
    app, session, gw = console
    async with app.run_test(size=(160, 50)) as pilot:
        await connected(pilot)
        a = session.app
        a.today = lambda: TEST_SESSION
        spy = await a.resolve_contract(stock("SPY"))
        chains = await a.ib.reqSecDefOptParamsAsync("SPY", "", "STK", spy.conId)
        chain = next(c for c in chains if c.exchange == "SMART")
        expiry = sorted(e for e in chain.expirations if e > TEST_SESSION.strftime("%Y%m%d"))[0]
        k = sorted(chain.strikes)
        i = min(range(len(k)), key=lambda j: abs(k[j] - gw.market.last_price(spy.conId, gw.now())))
        legs = [(option("SPY", expiry, k[i - 2], "C"), 1, "BUY"),
                (option("SPY", expiry, k[i + 2], "C"), 1, "SELL")]  # fmt: skip
        bag = await a.resolve_contract(spread([combo_leg(c, r, s) for c, r, s in legs]))
        sent = await a.send_order(bag, Order(action="BUY", totalQuantity=2, orderType="MKT"))
        gw.advance(2)
        await until(lambda: sent.trade.isDone() and len(session.positions()) == 2, 5)
        label = f"SPY call vertical {expiry_text(expiry)} {k[i - 2]:g}/{k[i + 2]:g}"
        await pilot.press("1")
        await until(lambda: app.pane("positions").table.select_key(("combo", label)), 5)
        await pilot.press("X")
        await until(lambda: isinstance(app.screen, OrderPreviewScreen), 10)
        assert text(app.screen, "#order-preview-words") == f"SELL 2 {label} MKT DAY"
        before = set(gw.broker.orders)
        await pilot.press("shift+b")
        await until(lambda: set(gw.broker.orders) - before, 5)
        [new] = [gw.broker.orders[k] for k in set(gw.broker.orders) - before]
        assert new.contract.secType == "BAG" and new.order.action == "SELL"
        assert new.order.totalQuantity == 2.0  # one order for the BAG, not one per leg
        gw.advance(2)
        leg_ids = [(await a.resolve_contract(c)).conId for c, _, _ in legs]
        await until(lambda: all(held(gw, cid) == 0 for cid in leg_ids), 5)


# ---- flatten a strategy, the kill switch's flatten --------------------------------------------
async def test_flatten_strategy_asks_for_flatten_then_flattens_and_stops_it(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await pilot.press("5")
        await until(lambda: app.pane("strategies").table.select_key("beta"), 5)
        await pilot.press("X")
        await until(lambda: isinstance(app.screen, TypedConfirmScreen), 5)
        app.screen.query_one(Input).value = "flatten"  # not the word: still asking
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TypedConfirmScreen)
        assert session.controller.calls == []
        app.screen.query_one(Input).value = "FLATTEN"
        await pilot.press("enter")
        await until(lambda: ("flatten", "beta") in session.controller.calls, 5)
        assert str(session.controller.info("beta").status) == "stopped"


async def test_the_kill_switch_can_also_flatten_everything(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await buy(session, "AAPL", 10)
        await buy(session, "XOM", -5)
        gw.advance(2)
        ids = [(await session.app.resolve_contract(stock(s))).conId for s in ("AAPL", "XOM")]
        await until(lambda: [held(gw, i) for i in ids] == [10, -5], 5)
        trade, _, _ = await working_limit(session, gw, qty=3)
        await pilot.press("ctrl+k")
        await until(lambda: isinstance(app.screen, KillSwitchScreen), 5)
        app.screen.query_one(Input).value = "FLAT"  # neither word: still asking
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, KillSwitchScreen)
        assert "FLATTEN" in str(app.screen.query_one("#typed-error").render())
        app.screen.query_one(Input).value = "FLATTEN"
        await pilot.press("enter")
        await until(lambda: trade.orderStatus.status == "Cancelled", 5)
        await until(lambda: len(gw.broker.orders) == 5, 10)  # 3 before, 2 closes
        gw.advance(2)
        await until(lambda: [held(gw, i) for i in ids] == [0, 0], 5)
        assert session.app.trading_state == "HALTED" and session.controller.halted


# ---- a bracket from the ticket ----------------------------------------------------------------
async def test_a_bracket_from_the_ticket_holds_its_exits_until_the_parent_fills(console):
    """Offsets from the limit. A resting parent keeps both exits inactive (the take-profit
    would fill at once if live) and cancelling it cancels them; a marketable parent fills and
    its exits go live."""
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        mid = (await session.app.quote(await aapl(session))).price
        rest = round(mid * 0.97, 2)  # 3 % below: rests on a frozen clock
        await open_ticket(pilot, contract="AAPL", size="4", order_type="LMT", limit=f"{rest}",
                          take_profit="+1", stop_loss="-2")  # fmt: skip
        shown = await preview(pilot)
        tp, sl = round(rest + 1, 6), round(rest - 2, 6)  # the offsets from the limit, by hand
        assert text(shown, "#order-preview-words") == (
            f"BUY 4 AAPL LMT limit {rest:g} DAY · take-profit SELL {tp:g} · stop-loss SELL {sl:g}"
        )
        await pilot.press("shift+b")
        await until(lambda: len(gw.broker.orders) == 3, 5)
        gw.advance(30)
        await asyncio.sleep(0.2)
        [parent] = [o for o in gw.broker.orders.values() if not o.order.parentId]
        children = [o for o in gw.broker.orders.values() if o.order.parentId]
        assert all(c.order.parentId == parent.order_id for c in children)
        assert sorted((c.order.orderType, c.order.lmtPrice if c.order.orderType == "LMT"
                       else c.order.auxPrice) for c in children) == [("LMT", tp), ("STP", sl)]  # fmt: skip
        # tp is below the market: a live take-profit would have sold at once
        assert parent.filled == 0 and all(c.filled == 0 and c.held for c in children)
        session.app.ib.cancelOrder(next(t.order for t in session.app.ib.openTrades()
                                        if t.order.orderId == parent.order_id))  # fmt: skip
        await until(lambda: all(o.status == "Cancelled" for o in gw.broker.orders.values()), 5)
        # a marketable parent (exits as prices around the mid): filled, then its exits work
        high = round(mid * 1.02, 2)  # above the ask: fills
        await open_ticket(pilot, contract="AAPL", size="4", order_type="LMT", limit=f"{high}",
                          take_profit=f"{mid * 1.03:.2f}", stop_loss=f"{mid * 0.97:.2f}")  # fmt: skip
        shown = await preview(pilot)
        assert "guard: OK" in text(shown, "#order-preview-verdict"), text(
            shown, "#order-preview-verdict"
        )
        await pilot.press("shift+b")
        await until(lambda: len(gw.broker.orders) == 6, 5)
        gw.advance(2)
        live = [o for o in gw.broker.orders.values() if o.status != "Cancelled"]
        await until(lambda: [o.status for o in live if not o.order.parentId] == ["Filled"], 5)
        await until(lambda: all(not o.held for o in live if o.order.parentId), 5)
        assert [o.filled for o in live if o.order.parentId] == [0, 0]


# ---- refusals of modify and the kill switch's flatten ------------------------------------------
async def test_modify_while_halted_is_refused_at_the_preview(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        trade, mid, price = await working_limit(session, gw)
        session.app.guard.halt("test halt")
        await modify(pilot, trade.order.orderId, quantity="11")
        await until(lambda: isinstance(app.screen, OrderPreviewScreen), 10)
        assert "HALTED" in text(app.screen, "#order-preview-verdict")
        await pilot.press("shift+b")
        await asyncio.sleep(0.3)
        sim = sim_order(gw, trade.order.orderId)
        assert (sim.order.totalQuantity, sim.order.lmtPrice) == (10.0, price)


async def test_the_kill_switch_flatten_on_a_read_only_session_sends_nothing(market, tmp_path):
    session, gw = make_session(market, tmp_path, target=Target(readonly=True))
    app = make_app(session, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await pilot.press("ctrl+k")
        await until(lambda: isinstance(app.screen, KillSwitchScreen), 5)
        app.screen.query_one(Input).value = "FLATTEN"
        await pilot.press("enter")
        await until(lambda: session.app.trading_state == "HALTED", 5)
        await until(
            lambda: any("not flattened" in n.message and "read-only" in n.message
                        for n in app._notifications), 5,
        )  # fmt: skip
        await nothing_sent(gw)


async def test_a_ticket_preview_older_than_30_s_sends_nothing(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        await open_ticket(pilot, contract="AAPL", size="10")
        shown = await preview(pilot)
        assert "guard: OK" in text(shown, "#order-preview-verdict")
        gw.advance(31)  # the broker's clock: 31 s later
        await until(lambda: "preview expired" in text(shown, "#order-preview-validity"), 5)
        await pilot.press("shift+b")
        await pilot.pause()
        assert app.screen is shown  # not sent: the preview stays, saying why
        await nothing_sent(gw)


async def test_nothing_selected_or_nothing_working_says_so(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        notes = lambda: " | ".join(n.message for n in app._notifications)  # noqa: E731
        await pilot.press("1", "X")  # no positions
        await until(lambda: "no position selected" in notes(), 5)
        await buy(session, "AAPL", 3)
        gw.advance(2)
        await until(lambda: any(o.status == "Filled" for o in session.orders()), 5)
        [filled] = session.orders()
        await pilot.press("2")
        await until(lambda: app.pane("orders").table.select_key(filled.order_id), 5)
        await pilot.press("m")
        await until(lambda: f"order {filled.order_id} is Filled: nothing to modify" in notes(), 5)
        assert not isinstance(app.screen, ModifyOrderScreen)
        n = len(gw.broker.orders)
        await asyncio.sleep(0.3)
        assert len(gw.broker.orders) == n == 1
