"""A refresh cycle due right after a keypress waits for the key's frame (#21): the cycle's
repaint of 500 ticking rows would otherwise be drawn in the key's frame and delay it.

Pilot on the real app; the cycle's pane refresh is watched on the active pane. Expected by
hand: a cycle right after a key runs KEY_FIRST (20 ms) later, once; a key storm faster than
that defers each cycle once only, so the panes still refresh.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from textual import events

from livedesk.tui.app import KEY_FIRST
from tests.conftest import until
from tests.console_helpers import connected, make_app, make_session


@pytest.fixture
async def console(market, tmp_path):
    session, _gw = make_session(market, tmp_path)
    yield make_app(session, tmp_path)


async def key(app, name: str = "down") -> float:
    """Send a key as a terminal would and return as soon as the app has it (Pilot's press
    waits for the screen to settle: longer than KEY_FIRST)."""
    before = app.last_key_at
    app.post_message(events.Key(name, None))
    deadline = time.monotonic() + 5
    while app.last_key_at == before:
        assert time.monotonic() < deadline, "the key never reached the app"
        await asyncio.sleep(0.0005)
    return app.last_key_at


def watch_refreshes(app) -> list[float]:
    """Monotonic times at which the cycle refreshed the active pane."""
    pane = app.pane(app.active_pane)
    seen: list[float] = []
    original = pane.refresh_from

    def refresh_from(session, force: bool = False) -> None:
        seen.append(time.monotonic())
        original(session, force)

    pane.refresh_from = refresh_from
    return seen


async def test_a_cycle_right_after_a_key_waits_for_the_keys_frame(console) -> None:
    app = console
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        app._timer.pause()  # the test runs the cycles itself
        seen = watch_refreshes(app)
        app.tick()  # no key lately: the cycle runs at once
        assert len(seen) == 1
        pressed = await key(app)
        app.tick()  # right after the key: put off
        assert len(seen) == 1
        app.tick()  # due again meanwhile: still one waiting cycle, not two
        await until(lambda: len(seen) == 2, timeout=5)
        await asyncio.sleep(KEY_FIRST * 2)
        assert len(seen) == 2
        assert seen[1] >= pressed + KEY_FIRST
        app.tick()  # the key is long past: at once
        assert len(seen) == 3


async def test_a_key_storm_defers_each_cycle_once_only(console) -> None:
    app = console
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        app._timer.pause()
        seen = watch_refreshes(app)
        for _ in range(40):  # a key every 5 ms for 0.2 s, a cycle after each
            await key(app)
            app.tick()
            await asyncio.sleep(0.005)
        await asyncio.sleep(KEY_FIRST * 2)
        # each deferred cycle ran KEY_FIRST later, though keys kept arriving
        assert len(seen) >= 0.2 / (KEY_FIRST * 2), len(seen)
