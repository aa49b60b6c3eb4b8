"""Snapshots of the new views: the Watchlist (7), the account figures (Equity pane) and the
Executions view of the Orders pane, at 80x24 (tabs) and 160x50 (grid).

Deterministic like the console snapshots: seed 7, the fixed session, a frozen sim clock, the
same three fills; the watchlist comes from ``[watchlist] symbols``.
"""

from __future__ import annotations

import pytest

from livedesk.backend.config import Settings, WatchlistSettings
from tests.conftest import until
from tests.console_helpers import make_app, make_session
from tests.test_console_snapshots import settled

SYMBOLS = ("AAPL", "MSFT", "XOM", "CL F27", "SPY")


@pytest.fixture
def watch_app(market, tmp_path):
    settings = Settings(watchlist=WatchlistSettings(SYMBOLS))
    session, gw = make_session(market, tmp_path, settings=settings)
    return make_app(session, tmp_path), session, gw


async def _ready(pilot, session, gw, *keys: str) -> None:
    await settled(pilot, session, gw)
    await session.watchlist.wait_ready()  # quotes and today's bars of every symbol
    await until(lambda: all(r.volume > 0 and len(r.spark) > 1 for r in session.watchlist.rows()), 5)
    for key in keys:
        await pilot.press(key)
    pilot.app.tick(force=True)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
def test_watchlist(snap_compare, watch_app, size):
    app, session, gw = watch_app

    async def run_before(pilot):
        await _ready(pilot, session, gw, "7")

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
def test_executions(snap_compare, watch_app, size):
    app, session, gw = watch_app

    async def run_before(pilot):
        await _ready(pilot, session, gw, "2", "e")

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_account_80x24(snap_compare, watch_app):
    app, session, gw = watch_app

    async def run_before(pilot):
        await _ready(pilot, session, gw, "3")

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
