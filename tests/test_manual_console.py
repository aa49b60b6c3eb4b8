"""Pilot tests of trading by hand in the console: the command line (``:``) and the preview.

The real app on an in-process SimGateway (frozen clock) over a real socket; what reaches
the gateway is asserted at the gateway's own order book.
"""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Button, Input, Static

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.console.session import Target
from livedesk.tui.screens.command_line import CommandLineScreen
from livedesk.tui.screens.dialogs import TypedConfirmScreen
from livedesk.tui.screens.order_preview import OrderPreviewScreen
from tests.conftest import until
from tests.console_helpers import connected, make_app, make_session


@pytest.fixture
async def console(market, tmp_path):
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    yield app, session, gw


async def _type(pilot, text: str) -> None:
    await pilot.press("colon")
    await until(lambda: isinstance(pilot.app.screen, CommandLineScreen), 5)
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await pilot.pause()


async def _nothing_sent(gw) -> None:
    await asyncio.sleep(0.3)  # anything sent would have reached the gateway by now
    assert gw.broker.orders == {}


async def test_a_bad_command_points_at_the_word_and_sends_nothing(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        await _type(pilot, "buy AAPL 0 mkt")
        assert isinstance(app.screen, CommandLineScreen)  # stays open to be corrected
        error = str(app.screen.query_one("#command-line-error", Static).render())
        assert error == "         ^ size must be more than 0, got 0"  # under the 10th column
        app.screen.query_one(Input).value = "purchase AAPL 1"
        await pilot.press("enter")
        await pilot.pause()
        assert "unknown command 'purchase'" in str(
            app.screen.query_one("#command-line-error", Static).render()
        )
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CommandLineScreen)
        await _nothing_sent(gw)


async def test_buy_previews_then_shift_b_sends_exactly_that(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        await _type(pilot, "buy AAPL 10 mkt")
        await until(lambda: isinstance(app.screen, OrderPreviewScreen), 10)
        screen = app.screen
        assert str(screen.query_one("#order-preview-words", Static).render()) == (
            "BUY 10 AAPL MKT DAY"
        )
        assert "guard: OK" in str(screen.query_one("#order-preview-verdict", Static).render())
        assert app.focused is screen.query_one("#cancel", Button)  # focus starts on Cancel
        assert "what-if: initial margin" in str(
            screen.query_one("#order-preview-details", Static).render()
        )
        await pilot.press("shift+b")
        await until(lambda: gw.broker.orders, 5)
        [order] = gw.broker.orders.values()
        assert (order.order.action, order.order.totalQuantity, order.order.orderType) == (
            "BUY",
            10.0,
            "MKT",
        )
        assert strategy_of(order.order.orderRef) == "manual"
        gw.advance(2)
        await until(
            lambda: any(r.symbol == "AAPL" and r.quantity == 10 for r in session.positions()), 5
        )


async def test_escape_or_cancel_in_the_preview_sends_nothing(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        await _type(pilot, "sell MSFT 5 mkt")
        await until(lambda: isinstance(app.screen, OrderPreviewScreen), 10)
        await pilot.press("enter")  # on the focused Cancel button
        await pilot.pause()
        assert not isinstance(app.screen, OrderPreviewScreen)
        await _nothing_sent(gw)


async def test_a_limit_outside_the_collar_is_shown_and_cannot_be_sent(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        await _type(pilot, "buy AAPL 10 lmt 1")
        await until(lambda: isinstance(app.screen, OrderPreviewScreen), 10)
        verdict = str(app.screen.query_one("#order-preview-verdict", Static).render())
        assert "cannot send" in verdict and "limit 1 is" in verdict and "guard allows" in verdict
        assert app.screen.query_one("#send", Button).disabled
        await pilot.press("shift+b")
        await pilot.pause()
        assert isinstance(app.screen, OrderPreviewScreen)  # still there, nothing sent
        await _nothing_sent(gw)


async def test_read_only_refuses_at_the_preview(market, tmp_path):
    session, gw = make_session(market, tmp_path, target=Target(readonly=True))
    app = make_app(session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        await _type(pilot, "buy AAPL 10 mkt")
        await until(lambda: isinstance(app.screen, OrderPreviewScreen), 10)
        verdict = str(app.screen.query_one("#order-preview-verdict", Static).render())
        assert "cannot send" in verdict and "read-only" in verdict
        await pilot.press("shift+b")
        await _nothing_sent(gw)


async def test_history_and_completion(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        await _type(pilot, "sell MSFT 5 mkt")
        await until(lambda: isinstance(app.screen, OrderPreviewScreen), 10)
        await pilot.press("escape")
        await pilot.press("colon")
        await until(lambda: isinstance(app.screen, CommandLineScreen), 5)
        await pilot.press("up")
        assert app.screen.query_one(Input).value == "sell MSFT 5 mkt"
        app.screen.query_one(Input).value = "fl"
        await pilot.press("tab")
        assert app.screen.query_one(Input).value == "flatten "
        await pilot.press("tab")  # the fake controller's strategies
        assert "alpha  beta" in str(app.screen.query_one("#command-line-error", Static).render())
        app.screen.query_one(Input).value = "flatten a"
        await pilot.press("tab")
        assert app.screen.query_one(Input).value == "flatten alpha "


async def test_flatten_asks_for_the_typed_word(console):
    app, session, gw = console
    async with app.run_test(size=(100, 30)) as pilot:
        await connected(pilot)
        await _type(pilot, "flatten nosuch")
        await pilot.pause()
        assert not isinstance(app.screen, TypedConfirmScreen)  # unknown: a message, no dialog
        await _type(pilot, "flatten alpha")
        await until(lambda: isinstance(app.screen, TypedConfirmScreen), 5)
        app.screen.query_one(Input).value = "flatten"  # not the word
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TypedConfirmScreen)
        app.screen.query_one(Input).value = "FLATTEN"
        await pilot.press("enter")
        await until(lambda: ("flatten", "alpha") in session.controller.calls, 5)
