"""A tab switch keeps the shown pane's own drawn lines (border, title, background: #21, ~2 ms
of an 80x24 switch) — but never stale ones: what changed while the pane was hidden (its
stale mark and subtitle, its focus mark, the terminal's size) is on screen once it is shown.
The screen is read from the compositor's own rendering of every widget's kept lines."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import until
from tests.console_helpers import buy, connected, make_app, make_session


def screen_lines(app) -> list[str]:
    return [strip.text for strip in app.screen._compositor.render_strips()]


@pytest.fixture
def console(market, tmp_path):
    """(app, session, gateway) at 80x24 (tabs)."""
    session, gw = make_session(market, tmp_path)
    return make_app(session, tmp_path), session, gw


async def tab(pilot, *keys: str, pause: float = 0.3) -> None:
    """Switch tabs with ``keys``, one refresh cycle after each."""
    for key in keys:
        await pilot.press(key)
        await pilot.pause(pause)


async def test_a_pane_shown_again_shows_what_changed_while_it_was_hidden(console):
    app, session, gw = console
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        await buy(session, "AAPL", 100, "alpha")
        gw.advance(2)
        await until(lambda: len(session.positions()) == 1, 5)
        await tab(pilot, "1", pause=0.4)
        before = screen_lines(app)
        assert "1 Positions" in "".join(before) and "stale" not in "".join(before)
        await tab(pilot, "2")
        restart = asyncio.ensure_future(gw.faults.restart(downtime=2.0))
        await until(lambda: not session.link_up, 3)
        await pilot.pause(1.2)  # the hidden Positions pane is marked stale meanwhile
        await tab(pilot, "1")
        shown = screen_lines(app)
        bottom = next(line for line in reversed(shown) if line.startswith("╰"))
        assert "stale" in bottom and "disconnected" in bottom, bottom
        assert any("AAPL" in line for line in shown)
        await restart
        await until(lambda: session.link_up and session.app.session.ready, 10)
        await tab(pilot, "2", pause=1.2)  # fresh again while hidden
        await tab(pilot, "1")
        assert "stale" not in "".join(screen_lines(app))


async def test_a_pane_shown_again_after_a_resize_fits_the_new_size(console):
    app, _session, _gw = console
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        await tab(pilot, "1", "2")
        await pilot.resize_terminal(100, 30)
        await pilot.pause(0.3)
        await tab(pilot, "1")
        lines = screen_lines(app)
        top = next(line for line in lines if line.startswith("╭") and "Positions" in line)
        assert top.startswith("╭") and top.endswith("╮") and len(top) == 100, top
        assert sum(line.startswith("╰") and line.endswith("╯") for line in lines) == 1
        title_row = lines.index(top)
        for line in lines[title_row + 1 : title_row + 5]:  # the pane's sides at the new width
            assert line.startswith("│") and line.endswith("│") and len(line) == 100, line


async def test_hidden_tabs_refresh_every_cycle_when_quiet_and_once_a_second_while_keys_come(
    console,
):
    """Input first: while keys arrive a refresh cycle does what is on screen (and a hidden tab
    once a second); when the keys stop, every cycle keeps the hidden tabs current too."""
    app, _session, _gw = console
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        await tab(pilot, "2", pause=1.2)
        calls: list[float] = []
        pane = app.pane("positions")
        original = pane.refresh_from
        pane.refresh_from = lambda s, force=False: (calls.append(1), original(s, force))
        loop = asyncio.get_running_loop()
        end = loop.time() + 2.0
        while loop.time() < end:  # a key every 50 ms (the cycle runs at 4 Hz)
            app.last_key_at = time.monotonic()
            await asyncio.sleep(0.05)
        busy = len(calls)
        calls.clear()
        await asyncio.sleep(3.5)  # no key (the first second still counts as busy)
        quiet = len(calls)
        assert 1 <= busy <= 3, busy  # about once a second
        assert quiet >= 2 * busy and quiet >= 6, (quiet, busy)  # every cycle (4 Hz)
