"""Pilot tests of the console: panes, bindings, dialogs, themes, keymap, connection states.

Every test runs the real app on an in-process SimGateway with a frozen clock, over a real
loopback socket; strategies come from a fake controller that follows the contract.
"""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input

from livedesk.backend.console.actions import PANES
from livedesk.tui.screens.dialogs import ConfirmScreen, TypedConfirmScreen
from livedesk.tui.screens.help import HelpScreen
from livedesk.tui.widgets.pane_tabs import PaneTabs
from tests.conftest import until
from tests.console_helpers import buy, connected, make_app, make_session


@pytest.fixture
async def console(market, tmp_path):
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    yield app, session, gw


async def test_panes_titles_and_number_keys(console):
    app, session, gw = console
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        titles = [app.pane(p).border_title for p in PANES]
        assert titles == [
            "1 Positions", "2 Orders", "3 Equity", "4 Risk", "5 Strategies", "6 Log", "7 Watchlist"
        ]  # fmt: skip
        for i, name in enumerate(PANES, 1):
            await pilot.press(str(i))
            await pilot.pause()
            assert app.active_pane == name
            assert app.focused_pane().pane_id == name
            assert app.pane(name).display and app.pane(name).region.height > 0
            others = [p for p in PANES if p != name]
            assert all(app.pane(p).region.height == 0 for p in others)  # tabs: one pane shown
        assert app.query_one(PaneTabs).active == "tab-watchlist"


async def test_sim_badge_header_and_layouts(console):
    app, session, gw = console
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        view = session.header()
        assert view.badge == "SIM" and view.account == "DU0000001"
        assert view.nlv == pytest.approx(1_000_000.0)
        assert view.connection == "CONNECTED"
        assert view.market.status == "open"  # one hour after the open
        assert view.market.next_change == pytest.approx(5.5 * 3600, abs=2)
        text = str(app.query_one("HeaderBar").render())
        assert " SIM " in text and "DU0000001" in text and "$1,000,000" in text
        assert "open, closes in 5h30m" in text
        assert app.query_one(PaneTabs).display and not app.grid
        await pilot.resize_terminal(160, 50)
        await pilot.pause()
        assert app.grid and app.screen.has_class("-grid")
        assert app.query_one(PaneTabs).region.height == 0
        for name in ("positions", "equity", "risk", "strategies"):
            assert app.pane(name).region.height >= 8, name


async def test_first_frame_before_the_connection(market, tmp_path):
    import threading

    release = threading.Event()
    session, gw = make_session(market, tmp_path)
    slow = session.gateway_factory

    def blocked():
        release.wait(10)
        return slow()

    session.gateway_factory = blocked
    app = make_app(session, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        assert not app.connected
        text = str(app.query_one("HeaderBar").render())
        assert "connecting to embedded sim gateway (client id 1)…" in text
        assert app.pane("positions").region.height > 0  # the layout is drawn already
        release.set()
        await connected(pilot)
        assert session.header().badge == "SIM"


async def test_positions_fill_in_keep_cursor_sort_filter(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await buy(session, "AAPL", 100, "alpha")
        await buy(session, "MSFT", 50, "beta")
        gw.advance(2)
        table = app.pane("positions").table
        await until(lambda: table.row_count == 2, 5)
        table.focus()
        await pilot.press("down")
        key = table.cursor_key
        symbols = {r.key: r.cells[0][0] for r in table.rows}
        assert set(symbols.values()) == {"AAPL", "MSFT"}
        strategies = {r.cells[0][0]: r.cells[9][0] for r in table.rows}
        assert strategies == {"AAPL": "alpha", "MSFT": "beta"}
        for _ in range(3):  # prices tick; the cursor stays on its row
            gw.advance(5)
            await pilot.pause(0.3)
            assert table.cursor_key == key
        await pilot.press("s")  # sort by symbol
        assert table.sort_column == 0
        assert [r.cells[0][0] for r in table.rows] == ["AAPL", "MSFT"]
        assert table.cursor_key == key
        await pilot.press("slash")
        box = app.pane("positions").filter_box
        assert box.has_focus
        await pilot.press("m", "s", "f", "enter")
        assert [r.cells[0][0] for r in table.rows] == ["MSFT"]
        assert table.has_focus
        pane = app.pane("positions")
        assert pane.border_title == "1 Positions (filter: msf)"  # shown while active
        await pilot.press("escape")  # Esc in the table clears it
        assert table.row_count == 2 and pane.border_title == "1 Positions"
        assert table.filter_text == "" and not box.display


async def _working_order(session, gw):
    from livedesk.backend.contracts import stock
    from livedesk.backend.trading.orders import limit

    c = await session.app.resolve_contract(stock("AAPL"))
    q = await session.app.quote(c)
    res = await session.app.send_order(c, limit("BUY", 5, round(q.price * 0.97, 2)))
    return res.trade


async def test_cancel_order_dialog_cancel_then_confirm(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        trade = await _working_order(session, gw)
        await pilot.press("2")
        table = app.pane("orders").table
        await until(lambda: table.row_count == 1, 5)
        await pilot.press("x")
        await until(lambda: isinstance(app.screen, ConfirmScreen))
        assert app.focused.id == "cancel"  # focus starts on Cancel
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        gw.advance(1)
        await pilot.pause(0.2)
        assert trade.orderStatus.status not in ("Cancelled", "PendingCancel")
        await pilot.press("x")
        await until(lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("tab")  # to "Cancel order"
        assert app.focused.id == "confirm"
        await pilot.press("enter")
        await until(lambda: trade.orderStatus.status == "Cancelled", 5)


async def test_cancel_all_needs_the_typed_word(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        t1 = await _working_order(session, gw)
        await pilot.press("2", "C")
        await until(lambda: isinstance(app.screen, TypedConfirmScreen))
        await pilot.press("n", "o", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TypedConfirmScreen)  # wrong word: still asking
        assert "type CANCEL exactly" in str(app.screen.query_one("#typed-error").render())
        app.screen.query_one("#typed", Input).value = "CANCEL"
        await pilot.press("enter")
        await until(lambda: t1.orderStatus.status == "Cancelled", 5)


async def test_kill_switch_typed_then_halted(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        trade = await _working_order(session, gw)
        await pilot.press("ctrl+k")
        await until(lambda: isinstance(app.screen, TypedConfirmScreen))
        await pilot.press("escape")
        await pilot.pause()
        assert session.app.trading_state == "ACTIVE"
        await pilot.press("ctrl+k")
        await until(lambda: isinstance(app.screen, TypedConfirmScreen))
        await pilot.press("K", "I", "L", "L", "enter")
        await until(lambda: session.app.trading_state == "HALTED", 5)
        await until(lambda: trade.orderStatus.status == "Cancelled", 5)
        assert session.controller.halted
        assert {str(i.status) for i in session.strategies()} == {"halted"}
        await pilot.pause(0.4)
        assert "HALTED" in str(app.query_one("HeaderBar").render())


async def test_quit_without_running_strategies_exits_at_once(console):
    app, session, gw = console
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        await pilot.press("q")
        await until(lambda: app.return_code is not None, 5)
    assert app.return_code == 0 and session.controller.closed
    assert gw._server is None  # the in-process gateway was stopped


async def test_quit_with_a_running_strategy_asks(console):
    app, session, gw = console
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        await pilot.press("5", "space")
        await until(lambda: session.running_strategies() == ["alpha"])
        await pilot.press("q")
        await until(lambda: isinstance(app.screen, ConfirmScreen))
        assert "alpha" in str(app.screen.query_one(".dialog-message").render())
        await pilot.press("enter")  # focus is on Cancel: stay
        await pilot.pause()
        assert app.is_running and not session.controller.closed
        await pilot.press("q")
        await until(lambda: isinstance(app.screen, ConfirmScreen))
        app.screen.query_one("#confirm", Button).press()
        # The session closes first, then the app exits: wait for the exit itself.
        await until(lambda: app.return_code is not None, 10)
    assert app.return_code == 0 and session.controller.closed


async def test_strategies_pane_toggle_run_now_detail(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await pilot.press("5")
        table = app.pane("strategies").table
        await until(lambda: table.row_count == 2)
        assert [r.key for r in table.rows] == ["alpha", "beta"]
        await pilot.press("space")
        await until(lambda: table.rows[0].cells[2][0] == "waiting")
        await pilot.press("space")
        await until(lambda: table.rows[0].cells[2][0] == "stopped")
        await pilot.press("r")
        await until(lambda: ("run_now", "alpha") in session.controller.calls)
        gw.advance(2)
        await until(lambda: any(o.strategy == "alpha" for o in session.orders()), 5)
        await until(lambda: table.rows[0].cells[4][0] == "bought 10 AAPL")
        await pilot.press("2")
        orders = app.pane("orders").table
        await until(lambda: orders.row_count == 1 and orders.rows[0].cells[8][0] == "Filled", 5)
        assert orders.rows[0].cells[1][0] == "alpha"
        await pilot.press("5", "enter")
        await until(lambda: app.screen.__class__.__name__ == "StrategyDetailScreen")
        text = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert "threshold = 2.0" in text and "hold" in text
        await pilot.press("escape")


async def test_help_for_the_focused_pane(console):
    app, session, gw = console
    async with app.run_test(size=(120, 40)) as pilot:
        await connected(pilot)
        await pilot.press("2", "question_mark")
        await until(lambda: isinstance(app.screen, HelpScreen))
        assert app.screen.pane_id == "orders"
        text = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert "cancel the selected order" in text and "[cancel_order]" in text
        await pilot.press("escape")
        await pilot.press("5", "f1")
        await until(lambda: isinstance(app.screen, HelpScreen))
        assert app.screen.pane_id == "strategies"


async def test_keymap_overrides_from_config(market, tmp_path):
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path, keymap={"pane.orders": "o", "quit": "ctrl+q"})
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        await pilot.press("2")
        await pilot.pause()
        assert app.active_pane == "positions"  # 2 no longer jumps to Orders
        await pilot.press("o")
        await pilot.pause()
        assert app.active_pane == "orders"
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running
        await pilot.press("ctrl+q")
        await until(lambda: not app.is_running, 5)


async def test_freeze_and_follow(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await pilot.press("Z")
        assert app.frozen
        await buy(session, "AAPL", 10)
        gw.advance(2)
        await pilot.pause(0.6)
        assert app.pane("positions").table.row_count == 0  # frozen: nothing applied
        assert "FROZEN" in str(app.query_one("HeaderBar").render())
        await pilot.press("Z")
        await until(lambda: app.pane("positions").table.row_count == 1, 5)
        await pilot.press("6", "F")
        log_table = app.pane("log").table
        assert not log_table.follow
        await pilot.press("F")
        assert log_table.follow
        session.add_log("info", "test", "newest line")
        await until(lambda: log_table.cursor_row.cells[3][0] == "newest line")


async def test_ib_codes_reach_header_log_and_toasts(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        gw.faults.send_error(1100)
        await until(lambda: session.health.state == "DEGRADED", 5)
        await pilot.pause(0.4)
        assert "DEGRADED (IB 1100)" in str(app.query_one("HeaderBar").render())
        assert any(e.code == 1100 and e.level == "error" for e in session.logs)
        assert not session.toasts  # drained into notifications
        gw.faults.send_error(1102)
        await until(lambda: session.health.state == "CONNECTED", 5)
        await pilot.press("6")
        table = app.pane("log").table
        await until(lambda: any("1102" in r.cells[3][0] for r in table.rows), 5)


async def test_equity_window_and_subject(console):
    app, session, gw = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await pilot.press("3")
        pane = app.pane("equity")
        assert pane.has_focus and pane.window == "session"
        await pilot.press("w")
        assert pane.window == "week"
        await pilot.press("w", "w")
        assert pane.window == "session"
        await pilot.press("a")
        assert pane.subject == "alpha"
        assert "Equity — alpha, session" in pane.query_one("#equity-chart").caption


async def test_palette_has_every_action_and_runs_them(console):
    from livedesk.backend.console.actions import ACTIONS
    from livedesk.tui.commands import _entries

    app, session, gw = console
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        names = [display for display, _, _ in _entries(app)]
        assert len(names) == len(ACTIONS) - 1  # every action but the theme cycle (`t`)
        assert "Kill" in names and not any(n.startswith("Theme") for n in names)
        system = [c.title for c in app.get_system_commands(app.screen)]
        assert system.count("Theme") == 1  # one Theme entry in the whole palette
        await app.run_spec("pane.orders")
        assert app.active_pane == "orders"
        await app.run_spec("window")
        assert app.active_pane == "equity" and app.pane("equity").window == "week"


async def test_combo_key_opens_the_builder_or_says_why(console, monkeypatch):
    import sys

    app, session, gw = console
    async with app.run_test(size=(120, 40)) as pilot:
        await connected(pilot)
        monkeypatch.setitem(sys.modules, "livedesk.tui.screens.combo_builder", None)
        notes = []
        monkeypatch.setattr(app, "notify", lambda msg, **kw: notes.append(msg))
        await pilot.press("c")
        assert notes == ["combo builder not available"]
        monkeypatch.undo()
        await pilot.press("c")
        await until(lambda: app.screen.__class__.__name__ == "ComboBuilderScreen", 5)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_connection_failure_screen_then_retry(market, tmp_path):
    from livedesk.backend.console.session import Target
    from livedesk.tui.screens.connect_failed import ConnectFailedScreen
    from tests.console_helpers import make_gateway

    port = _free_port()
    target = Target(host="127.0.0.1", port=port, client_id=7, timeout=1.0)
    session, _ = make_session(market, tmp_path, target=target)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(lambda: isinstance(app.screen, ConnectFailedScreen), 10)
        await pilot.pause()
        texts = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert f"Tried: 127.0.0.1:{port} (client id 7)" in texts
        assert "Enable ActiveX and Socket Clients" in texts and "7497" in texts and "4002" in texts
        assert "Traceback" not in texts
        gw = make_gateway(market, port=port)
        await gw.start()
        try:
            await pilot.press("r")
            await connected(pilot)
            assert session.header().badge == "PAPER"  # DU account on a real (not sim) target
            assert not isinstance(app.screen, ConnectFailedScreen)
            await pilot.press("q")
            await until(lambda: app.return_code is not None, 5)
        finally:
            await gw.stop()


async def test_connection_failure_quit_key(market, tmp_path):
    from livedesk.backend.console.session import Target
    from livedesk.tui.screens.connect_failed import ConnectFailedScreen

    target = Target(host="127.0.0.1", port=_free_port(), timeout=1.0)
    session, _ = make_session(market, tmp_path, target=target)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(lambda: isinstance(app.screen, ConnectFailedScreen), 10)
        await pilot.pause()
        await pilot.press("q")
        await until(lambda: app.return_code is not None, 5)
    assert app.return_code == 1


async def test_live_account_needs_the_typed_id(market, tmp_path):
    from livedesk.backend.console.session import Target
    from livedesk.backend.trading.app import OrderRefused
    from tests.console_helpers import make_gateway

    gw = make_gateway(market, account="U1234567")
    await gw.start()
    try:
        target = Target(host="127.0.0.1", port=gw.port, live=True)
        session, _ = make_session(market, tmp_path, target=target, gw=gw)
        app = make_app(session, tmp_path)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(lambda: isinstance(app.screen, TypedConfirmScreen), 10)
            assert session.badge == "LIVE" and app.has_class("-live")
            with pytest.raises(OrderRefused, match="not confirmed"):
                await buy(session, "AAPL", 1)
            await pilot.press("U", "1", "enter")  # wrong id: refused, still asking
            await pilot.pause()
            assert isinstance(app.screen, TypedConfirmScreen)
            assert session.app.account_guard.check()
            app.screen.query_one("#typed", Input).value = "U1234567"
            await pilot.press("enter")
            await until(lambda: not session.app.account_guard.check())
            await pilot.pause(0.4)
            text = str(app.query_one("HeaderBar").render())
            assert " LIVE " in text and "ORDERS LOCKED" not in text
            assert app.has_class("-live")  # the distinct border stays
    finally:
        await gw.stop()


async def test_live_account_escape_keeps_orders_locked(market, tmp_path):
    from livedesk.backend.console.session import Target
    from tests.console_helpers import make_gateway

    gw = make_gateway(market, account="U1234567")
    await gw.start()
    try:
        target = Target(host="127.0.0.1", port=gw.port, live=True)
        session, _ = make_session(market, tmp_path, target=target, gw=gw)
        app = make_app(session, tmp_path)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(lambda: isinstance(app.screen, TypedConfirmScreen), 10)
            await pilot.press("escape")
            await pilot.pause(0.4)
            assert session.app.account_guard.check()
            assert "ORDERS LOCKED" in str(app.query_one("HeaderBar").render())
    finally:
        await gw.stop()


async def test_theme_switch_is_remembered_and_bad_files_fall_back(market, tmp_path):
    bad = tmp_path / "themes"
    bad.mkdir()
    (bad / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path, theme_dirs=[bad])
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        assert app.theme == "livedesk-dark"
        assert any("broken.toml" in e and "not a colour" in e for e in app.theme_errors)
        await pilot.press("t")
        assert app.theme == "livedesk-light"
        await app.run_spec("theme")
        assert app.theme == "livedesk-high-contrast"
        await pilot.pause()
        style = app.pane("positions").table.theme_style("down")
        assert style.color.triplet.hex == "#e69f00"  # orange losses in the colour-blind theme
    assert '"livedesk-high-contrast"' in (tmp_path / "console.json").read_text()
    session2, gw2 = make_session(market, tmp_path / "second")
    app2 = make_app(session2, tmp_path, auto_connect=False)
    async with app2.run_test(size=(80, 24)):
        assert app2.theme == "livedesk-high-contrast"


async def test_unknown_configured_theme_uses_the_default(market, tmp_path):
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path, theme_name="no-such-theme", auto_connect=False)
    async with app.run_test(size=(80, 24)):
        assert app.theme == "livedesk-dark"


async def test_screenshot_goes_to_the_state_dir(console, tmp_path, monkeypatch):
    app, session, gw = console
    monkeypatch.setenv("LIVEDESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path / "home-without-downloads"))
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        app.deliver_screenshot(filename="shot.svg")
        await until(lambda: (tmp_path / "state" / "screenshots" / "shot.svg").exists(), 5)
        assert "<svg" in (tmp_path / "state" / "screenshots" / "shot.svg").read_text()
