"""A disconnection you cannot miss: the header keeps badge, account and the last NLV (stale,
with its age) and says DISCONNECTED / reconnecting in N s in the error colour; the panes keep
their last data, dimmed and marked stale; the farms come from the notices of the handshake."""

from __future__ import annotations

import asyncio
import re

from tests.conftest import until
from tests.console_helpers import buy, connected, make_app, make_session


async def test_first_connect_shows_the_farms_of_the_handshake(market, tmp_path) -> None:
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        await pilot.pause(0.3)
        header = str(app.query_one("HeaderBar").render())
        assert "farms ok" in header and "farms —" not in header
        assert session.health.farms  # 2104/2106/2158 arrived during the handshake
        assert "(IB 2" not in header  # an OK farm notice is not shown as a problem


async def test_gateway_down_keeps_the_last_figures_marked_stale(market, tmp_path) -> None:
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await connected(pilot)
        await buy(session, "AAPL", 100, "alpha")
        gw.advance(2)
        await until(lambda: len(session.positions()) == 1, 5)
        await pilot.pause(0.6)
        restart = asyncio.ensure_future(gw.faults.restart(downtime=2.5))
        await until(lambda: not session.link_up, 3)
        await pilot.pause(1.2)
        header = str(app.query_one("HeaderBar").render())
        assert " SIM " in header and "DU0000001" in header
        assert re.search(r"NLV \$\d{3},\d{3} \(stale \d+s\)", header), header
        assert "DISCONNECTED" in header or "CONNECTING" in header, header
        assert re.search(r"reconnecting( in \d+ s|…)", header), header
        assert [p.symbol for p in session.positions()] == ["AAPL"]  # the last data, kept
        pane = app.pane("positions")
        assert pane.has_class("-stale") and pane.border_subtitle.startswith("stale ")
        assert "AAPL" in "".join(
            str(pane.table.render_line(y).text) for y in range(pane.table.size.height)
        )
        await restart
        await until(lambda: session.link_up and session.app.session.ready, 10)
        await pilot.pause(1.2)
        header = str(app.query_one("HeaderBar").render())
        assert "CONNECTED" in header and "stale" not in header and "DISCONNECTED" not in header
        assert not pane.has_class("-stale") and not pane.border_subtitle
        assert [p.symbol for p in session.positions()] == ["AAPL"]
