"""The console on the persistent demo account (the real embedded gateway): the account
survives a restart, the clock never rewinds, and the speed keys and palette entries set the
gateway's clock rate, shown in the header."""

from __future__ import annotations

import asyncio
import time

import pytest

from livedesk.backend.config import Settings
from livedesk.backend.console.session import ConsoleSession, Target
from livedesk.backend.demo.account import demo_journal_path
from livedesk.backend.journal import Journal
from livedesk.tui.console import build_app, console_target
from tests.conftest import until
from tests.console_helpers import buy, connected, make_app


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    d = tmp_path / "data"
    monkeypatch.setenv("LIVEDESK_DATA_DIR", str(d))
    return d


def demo_app(tmp_path, **flags):
    settings = Settings()
    return build_app(
        settings,
        console_target(settings, **flags),
        theme_state=tmp_path / "console.json",
        theme_dirs=[],
    )


def header(app) -> str:
    return str(app.query_one("HeaderBar").render())


def spy(session) -> float:
    return sum(p.quantity for p in session.positions() if p.symbol == "SPY")


async def rate(session, seconds: float = 0.5) -> float:
    """Simulated seconds per real second of the broker clock the console reads."""
    t0, r0 = session.now(), time.monotonic()
    await asyncio.sleep(seconds)
    return (session.now() - t0) / (time.monotonic() - r0)


async def test_the_demo_account_survives_a_console_restart(data_dir, tmp_path) -> None:
    app = demo_app(tmp_path, speed=0.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await connected(pilot, 30)
        session = app.session
        assert session.demo.serving and "SIM PAUSED" in header(app)
        await buy(session, "SPY", 4)
        await until(lambda: spy(session) == 4, 10)
        stopped = session.now()
        await pilot.press("q")  # nothing runs: quits at once, the state is saved
    assert app.session.demo.gateway is None  # closed
    with Journal(demo_journal_path(Settings())) as j:
        assert sum(f["qty"] for f in j.fills()) == 4  # the console's journal is on disk now

    again = demo_app(tmp_path, speed=0.0)
    async with again.run_test(size=(120, 40)) as pilot:
        await connected(pilot, 30)
        session = again.session
        await until(lambda: spy(session) == 4, 10)  # same positions, no reconciliation halt
        assert session.now() >= stopped  # the clock resumed, never rewound
        assert session.header().trading_state == "ACTIVE"
        assert session.health.state == "CONNECTED"
        await pilot.press("q")


async def test_speed_keys_and_palette_set_the_gateway_clock(data_dir, tmp_path) -> None:
    app = demo_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await connected(pilot, 30)
        session = app.session
        assert "SIM 1×" in header(app)
        before = session.now()
        await pilot.press("greater_than_sign")
        await until(lambda: session.demo_speed == 10.0, 5)
        await pilot.pause()
        assert "SIM 10×" in header(app)
        assert session.now() >= before
        assert await rate(session) == pytest.approx(10.0, rel=0.05)
        await pilot.press("less_than_sign", "less_than_sign")
        await until(lambda: session.demo_speed == 0.0, 5)
        await pilot.pause()
        assert "SIM PAUSED" in header(app)
        assert await rate(session, 0.3) == 0.0
        await app.set_demo_speed(3600.0)  # the palette's "Demo speed: 3600×"
        await pilot.pause()
        assert "SIM 3600×" in header(app)
        assert await rate(session, 0.3) == pytest.approx(3600.0, rel=0.05)
        await app.set_demo_speed(0.0)
        await pilot.press("q")


async def test_palette_lists_the_speed_steps(data_dir, tmp_path) -> None:
    from livedesk.tui.demo_speed import _entries

    app = demo_app(tmp_path, speed=0.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await connected(pilot, 30)
        names = [name for name, _, _ in _entries(app)]
        assert names == [
            "Demo speed: pause", "Demo speed: 1×", "Demo speed: 10×", "Demo speed: 60×",
            "Demo speed: 600×", "Demo speed: 3600×",
        ]  # fmt: skip
        await pilot.press("ctrl+p")
        await pilot.press(*"Demo speed: 60×")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(lambda: app.session.demo_speed == 60.0, 5)
        await pilot.pause()
        assert "SIM 60×" in header(app)
        await pilot.press("q")


async def test_the_speed_key_does_not_apply_to_a_real_broker(gw, tmp_path) -> None:
    settings = Settings()
    session = ConsoleSession(settings, Target(host="127.0.0.1", port=gw.port, client_id=3))
    app = make_app(session, tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await connected(pilot, 15)
        await pilot.press("greater_than_sign")
        await pilot.pause()
        assert gw.clock.speed == 0.0  # untouched
        messages = [n.message for n in app._notifications]
        assert any("applies only to the simulated gateway" in m for m in messages), messages
        assert session.speed_text() == "" and " SIM" not in header(app)
        with pytest.raises(ValueError, match="not to a real broker"):
            await session.set_demo_speed(10.0)
        await pilot.press("q")


async def test_a_console_joins_the_served_demo_and_takes_over_when_its_owner_quits(
    data_dir, tmp_path
) -> None:
    from livedesk.backend.demo.host import DemoHost

    owner = await DemoHost(Settings(), speed=0.0, start_after_open=3600).open()
    try:
        app = demo_app(tmp_path)
        async with app.run_test(size=(120, 40)) as pilot:
            await connected(pilot, 30)
            session = app.session
            assert not session.demo.serving and session.gw is None  # joined the owner's
            assert session.demo.port == owner.port
            assert "SIM PAUSED" in header(app)  # the served gateway's speed
            await buy(session, "SPY", 6)
            await until(lambda: spy(session) == 6, 10)
            assert any(h.qty == 6 for h in owner.gateway.broker.account.holdings.values())
            stopped = owner.gateway.now()
            await owner.close()  # the owner quits: the console serves the saved account
            await until(lambda: session.demo.serving, 10)
            assert session.gw is session.demo.gateway and session.demo.port == owner.port
            assert session.gw.now() >= stopped
            link = session.app.session  # the broker session reconnects, reconciles, trades on
            await until(lambda: link.stats.reconnects >= 1 and not link.order_block(), 30)
            assert spy(session) == 6 and session.health.state == "CONNECTED"
            await buy(session, "SPY", 8)  # trading goes on, on the taken-over gateway
            await until(lambda: spy(session) == 8, 10)
            assert session.header().trading_state == "ACTIVE"
            await pilot.press("q")
    finally:
        await owner.close()
