"""The Watchlist pane (7), the account figures and the Executions view, in the real console
on the embedded simulated gateway (frozen clock) over a real socket.

Expected values are read independently: a second ib_async client on the same gateway
(quotes, account values, PnL, executions and commissions), or the gateway's own state
(its market-data lines).
"""

from __future__ import annotations

import asyncio
import math
import stat

import pytest
from ib_async import IB, Stock
from textual.widgets import Input, Static

from livedesk.backend.config import Settings, WatchlistSettings
from livedesk.tui.screens.order_ticket import OrderTicketScreen
from livedesk.tui.screens.watchlist_add import AddSymbolScreen
from livedesk.tui.widgets.account import AccountLines
from tests.conftest import until
from tests.console_helpers import buy, connected, make_app, make_session


def _settings(*symbols: str) -> Settings:
    return Settings(watchlist=WatchlistSettings(tuple(symbols)))


async def _reader(gw) -> IB:
    """An independent ib_async client on the same gateway."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=9, timeout=5)
    return ib


def _cells(app, pane: str) -> dict:
    table = app.pane(pane).table
    return {row.key: [text for text, _ in row.cells] for row in table.rows}


def _streams(gw, symbol: str, client_id: int = 1) -> bool:
    """The gateway holds a market-data line of ``symbol`` for the console's client."""
    session = gw.sessions.get(client_id)
    return session is not None and any(
        sub.inst is not None and sub.inst.symbol == symbol for sub in session.mkt.values()
    )


def _money(x: float) -> str:
    return f"{x:,.2f}"


async def _quoted(pilot, symbols) -> None:
    await until(
        lambda: all(
            (cells := _cells(pilot.app, "watchlist").get(s)) is not None and cells[1] and cells[6]
            for s in symbols
        ),
        10,
    )


async def test_watchlist_from_settings_shows_the_gateways_quotes(market, tmp_path):
    session, gw = make_session(market, tmp_path, settings=_settings("AAPL", "msft"))
    app = make_app(session, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await pilot.press("7")
        await _quoted(pilot, ("AAPL", "MSFT"))
        assert list(_cells(app, "watchlist")) == ["AAPL", "MSFT"]  # the settings' order
        ib = await _reader(gw)
        try:
            for symbol in ("AAPL", "MSFT"):
                c = Stock(symbol, "SMART", "USD")
                await ib.qualifyContractsAsync(c)
                t = ib.reqMktData(c)
                await until(lambda t=t: t.bid > 0 and t.close > 0 and t.volume > 0, 5)
                change = t.last - t.close
                await pilot.pause(0.3)  # one refresh cycle
                cells = _cells(app, "watchlist")[symbol]
                assert cells[:7] == [
                    symbol,
                    _money(t.bid),
                    _money(t.ask),
                    _money(t.last),
                    f"{change:+,.2f}",
                    f"{change / t.close * 100:+.2f}%",
                    f"{t.volume:,.0f}",
                ]
                bars = await ib.reqHistoricalDataAsync(c, "", "1 D", "5 mins", "TRADES", True)
                # one point per 5-minute bucket: today's bars, then the live price's bucket
                buckets = {int(b.date.timestamp() // 300) for b in bars} | {int(gw.now() // 300)}
                assert len(cells[7]) == min(len(buckets), 14)
                assert set(cells[7]) <= set("▁▂▃▄▅▆▇█")
        finally:
            ib.disconnect()
        assert _streams(gw, "AAPL") and _streams(gw, "MSFT")


async def test_plus_adds_a_known_symbol_and_refuses_an_unknown_one(market, tmp_path):
    path = tmp_path / "wl.json"
    session, gw = make_session(market, tmp_path, settings=_settings("AAPL"), watchlist_path=path)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await pilot.press("7")
        await _quoted(pilot, ("AAPL",))
        await pilot.press("plus")
        await until(lambda: isinstance(app.screen, AddSymbolScreen), 5)
        app.screen.query_one(Input).value = "ZZZZ"
        await pilot.press("enter")
        error = app.screen.query_one("#watchlist-error", Static)
        await until(lambda: "not added" in str(error.render()), 5)
        assert str(error.render()).startswith("ZZZZ: unknown symbol")
        assert isinstance(app.screen, AddSymbolScreen)  # stays open to be corrected
        app.screen.query_one(Input).value = "AAPL 12"
        await pilot.press("enter")
        await until(lambda: "not added" in str(error.render()), 5)
        assert "unexpected '12'" in str(error.render())
        assert session.watchlist.symbols == ["AAPL"] and not path.exists()  # nothing written
        assert not _streams(gw, "ZZZZ")
        app.screen.query_one(Input).value = "nvda"
        await pilot.press("enter")
        await until(lambda: not isinstance(app.screen, AddSymbolScreen), 5)
        await _quoted(pilot, ("AAPL", "NVDA"))
        assert session.watchlist.symbols == ["AAPL", "NVDA"]
        assert app.pane("watchlist").table.cursor_key == "NVDA"
        await until(lambda: _streams(gw, "NVDA"), 5)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_d_removes_cancels_the_line_and_the_list_is_remembered(market, tmp_path):
    path = tmp_path / "wl.json"
    settings = _settings("AAPL", "MSFT")
    session, gw = make_session(market, tmp_path, settings=settings, watchlist_path=path)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await pilot.press("7")
        await _quoted(pilot, ("AAPL", "MSFT"))
        await until(lambda: _streams(gw, "MSFT"), 5)
        await pilot.press("down")  # on MSFT
        assert app.pane("watchlist").table.cursor_key == "MSFT"
        await pilot.press("d")
        await pilot.pause()
        assert list(_cells(app, "watchlist")) == ["AAPL"]
        await until(lambda: not _streams(gw, "MSFT"), 5)  # cancelled at the gateway
        assert _streams(gw, "AAPL")
        await pilot.press("plus")
        await until(lambda: isinstance(app.screen, AddSymbolScreen), 5)
        app.screen.query_one(Input).value = "XOM"
        await pilot.press("enter")
        await until(lambda: session.watchlist.symbols == ["AAPL", "XOM"], 5)
    # a restart (a new session and gateway) shows the same list, from the remembered file
    session2, gw2 = make_session(market, tmp_path, settings=settings, watchlist_path=path)
    assert session2.watchlist.symbols == ["AAPL", "XOM"]
    app2 = make_app(session2, tmp_path)
    async with app2.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await pilot.press("7")
        await _quoted(pilot, ("AAPL", "XOM"))
        assert list(_cells(app2, "watchlist")) == ["AAPL", "XOM"]
        assert _streams(gw2, "XOM") and not _streams(gw2, "MSFT")


async def test_enter_and_o_open_the_order_ticket_on_the_symbol(market, tmp_path):
    session, gw = make_session(market, tmp_path, settings=_settings("AAPL", "MSFT"))
    app = make_app(session, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await pilot.press("7")
        await _quoted(pilot, ("AAPL", "MSFT"))
        await pilot.press("down", "enter")
        await until(lambda: isinstance(app.screen, OrderTicketScreen), 5)
        assert app.screen.query_one("#ticket-contract", Input).value == "MSFT"
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, OrderTicketScreen), 5)
        await pilot.press("o")  # the ticket key on the Watchlist pane: the same symbol
        await until(lambda: isinstance(app.screen, OrderTicketScreen), 5)
        assert app.screen.query_one("#ticket-contract", Input).value == "MSFT"
        await pilot.press("escape")
        await asyncio.sleep(0.2)
        assert gw.broker.orders == {}  # nothing is sent from here


async def test_account_figures_equal_the_gateways(market, tmp_path):
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await connected(pilot)
        await buy(session, "AAPL", 100)
        gw.advance(2)
        await until(lambda: any(r.symbol == "AAPL" for r in session.positions()), 5)
        ib = await _reader(gw)
        try:
            account = ib.managedAccounts()[0]
            ib.reqPnL(account)
            await until(lambda: ib.pnl(), 5)
            await asyncio.sleep(0.5)  # both clients get the next account update
            wanted = ("TotalCashValue", "BuyingPower", "ExcessLiquidity", "InitMarginReq",
                      "MaintMarginReq", "NetLiquidation")  # fmt: skip
            values = {
                v.tag: (float(v.value), v.currency)
                for v in ib.accountValues(account)
                if v.tag in wanted and v.currency != "BASE"
            }
            [pnl] = ib.pnl(account)
            expected = [
                ("Cash", *values["TotalCashValue"]),
                ("Buying power", *values["BuyingPower"]),
                ("Excess liquidity", *values["ExcessLiquidity"]),
                ("Init. margin", *values["InitMarginReq"]),
                ("Maint. margin", *values["MaintMarginReq"]),
            ]
            assert values["InitMarginReq"][0] > 0  # a position: margins are not zero
            currency = values["NetLiquidation"][1]
        finally:
            ib.disconnect()
        app.tick(force=True)
        await pilot.pause(0.2)
        text = str(app.query_one(AccountLines).render())
        for label, value, cur in expected:
            assert f"{label} {value:,.2f} {cur}" in text, (label, text)
        for label, value in (
            ("Day realised", pnl.realizedPnL),
            ("Day unrealised", pnl.unrealizedPnL),
        ):
            shown = "0.00" if round(value, 2) == 0 else f"{value:+,.2f}"
            assert f"{label} {shown} {currency}" in text, (label, text)
        assert "stale" not in text


async def test_executions_show_the_gateways_fill_and_the_journals_after_restart(market, tmp_path):
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await connected(pilot)
        await buy(session, "AAPL", 10, "alpha")
        gw.advance(2)
        ib = await _reader(gw)
        try:
            await until(lambda: session.executions(), 5)
            await ib.reqExecutionsAsync()
            await until(lambda: ib.fills() and ib.fills()[0].commissionReport.execId, 5)
            fills = ib.fills()
        finally:
            ib.disconnect()
        [fill] = fills
        await pilot.press("2", "e")
        await until(lambda: app.pane("orders").showing_executions, 2)
        assert app.pane("orders").border_title == "2 Executions"

        def row():
            return _cells(app, "orders").get(fill.execution.execId)

        await until(lambda: row() is not None and row()[6], 5)  # the commission arrived
        cells = row()
        order = next(o for o in session.orders() if o.order_id == fill.execution.orderId)
        assert cells[1:7] == [
            "alpha",
            "AAPL",
            "BUY",
            "10",
            _money(fill.execution.price),
            f"{fill.commissionReport.commission:,.2f} {fill.commissionReport.currency}",
        ]
        # the Orders pane's slippage figure for this single-fill order
        assert math.isfinite(order.slippage.bps)
        assert cells[7] == f"{order.slippage.bps:+.1f}bp"
        exec_time = fill.time.astimezone(market_tz()).strftime("%H:%M:%S")
        assert cells[0] == exec_time
        await pilot.press("e")
        assert app.pane("orders").border_title == "2 Orders"
        assert fill.execution.orderId in _cells(app, "orders")
    # restart on a fresh gateway (it never saw the fill), the same journal file: the
    # journal's fill still shows
    session2, gw2 = make_session(market, tmp_path)
    app2 = make_app(session2, tmp_path)
    async with app2.run_test(size=(160, 50)) as pilot:
        await connected(pilot)
        await pilot.press("2", "e")
        await until(lambda: fill.execution.execId in _cells(app2, "orders"), 5)
        cells = _cells(app2, "orders")[fill.execution.execId]
        assert cells[1:6] == ["alpha", "AAPL", "BUY", "10", _money(fill.execution.price)]
        assert cells[6].startswith(f"{fill.commissionReport.commission:,.2f}")


def market_tz():
    from livedesk.backend.console.market_clock import NEW_YORK

    return NEW_YORK


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[watchlist]\nsymbols = "AAPL"\n', "[watchlist] symbols must be a list"),
        ("[watchlist]\nsymbols = [1]\n", "[watchlist] symbols must be a list"),
        ('[watchlist]\nsymbols = ["AAPL", "12X"]\n', "[watchlist] symbols: 12X"),
        ('[watchlist]\nsymbols = ["SPY 31DEC26 528"]\n', "[watchlist] symbols: SPY 31DEC26"),
        ('[watchlist]\nsymbol = ["AAPL"]\n', "unknown setting [watchlist] symbol"),
        ("watchlist = 3\n", "[watchlist] must be a table"),
    ],
)
def test_bad_watchlist_settings_exit_2_naming_the_key(text, message, tmp_path, capsys):
    from livedesk.tui.cli import main

    config = tmp_path / "config.toml"
    config.write_text(text)
    assert main(["--config", str(config), "strategies"]) == 2
    assert message in capsys.readouterr().err


async def test_disconnected_keeps_the_last_figures_marked_stale_then_streams_again(
    market, tmp_path
):
    session, gw = make_session(market, tmp_path, settings=_settings("MSFT"))
    app = make_app(session, tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await connected(pilot)
        await _quoted(pilot, ("MSFT",))
        app.tick(force=True)
        await pilot.pause(1.2)  # the Equity pane redraws its figures once a second
        before = str(app.query_one(AccountLines).render())
        assert "Cash 1,000,000.00 USD" in before and "stale" not in before
        quote = _cells(app, "watchlist")["MSFT"]
        restart = asyncio.ensure_future(gw.faults.restart(downtime=2.5))
        await until(lambda: not session.link_up, 3)
        await pilot.pause(1.2)
        stale = str(app.query_one(AccountLines).render())
        assert stale.startswith(" stale") and "Cash 1,000,000.00 USD" in stale  # kept
        for name in ("equity", "watchlist"):
            pane = app.pane(name)
            assert pane.has_class("-stale") and pane.border_subtitle.startswith("stale ")
        assert _cells(app, "watchlist")["MSFT"] == quote  # the last quote, kept
        await restart
        await until(lambda: session.link_up and session.app.session.ready, 10)
        await until(lambda: _streams(gw, "MSFT"), 5)  # the line is requested again
        await _quoted(pilot, ("MSFT",))
        await pilot.pause(1.2)
        assert "stale" not in str(app.query_one(AccountLines).render())


async def test_the_command_line_completes_watchlist_symbols(market, tmp_path):
    """Nothing held: the command line's completion offers the watched symbols."""
    from livedesk.tui.screens.command_line import CommandLineScreen

    session, gw = make_session(market, tmp_path, settings=_settings("XOM", "CL F27"))
    app = make_app(session, tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await pilot.press("colon")
        await until(lambda: isinstance(app.screen, CommandLineScreen), 5)
        app.screen.query_one(Input).value = "buy X"
        await pilot.press("tab")
        assert app.screen.query_one(Input).value == "buy XOM "
        app.screen.query_one(Input).value = "buy C"
        await pilot.press("tab")
        assert app.screen.query_one(Input).value == "buy CL "
        await pilot.press("escape")
