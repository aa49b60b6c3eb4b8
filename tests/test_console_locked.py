"""Locked means locked: read-only, or a LIVE account without ``--live`` or before the typed
confirmation — starting a strategy is refused at once, with the reason, and nothing runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from livedesk.backend.console.session import Target
from livedesk.backend.events import EventBus
from livedesk.backend.strategies import Decision, Event, Strategy, StrategyController
from livedesk.backend.strategies.controller import StrategyLocked
from livedesk.backend.trading.app import TradingApp
from livedesk.tui.screens.dialogs import TypedConfirmScreen
from tests.conftest import until
from tests.console_helpers import connected, make_app, make_gateway, make_session


async def press_space_on_alpha(app, pilot, session) -> None:
    await pilot.press("5")
    await until(lambda: app.pane("strategies").table.row_count == 2)
    await pilot.press("space")
    await until(lambda: any("cannot start alpha" in e.message for e in session.logs), 5)
    await pilot.pause(0.2)


@pytest.mark.parametrize(
    ("account", "target", "why"),
    [
        ("U1234567", {"live": False}, "live account"),  # LIVE without --live
        ("U1234567", {"live": True}, "not confirmed"),  # --live, confirmation escaped
        ("DU0000001", {"readonly": True}, "read-only"),
    ],
)
async def test_space_on_a_locked_session_is_refused_at_once(market, tmp_path, account, target, why):
    gw = make_gateway(market, account=account)
    await gw.start()
    try:
        t = Target(host="127.0.0.1", port=gw.port, **target)
        session, _ = make_session(market, tmp_path, target=t, gw=gw)
        app = make_app(session, tmp_path)
        async with app.run_test(size=(120, 30)) as pilot:
            if target.get("live"):
                await until(lambda: isinstance(app.screen, TypedConfirmScreen), 10)
                await pilot.press("escape")
            await connected(pilot)
            await press_space_on_alpha(app, pilot, session)
            assert ("start", "alpha") not in session.controller.calls
            assert session.running_strategies() == []
            line = next(e for e in session.logs if "cannot start alpha" in e.message)
            assert (
                line.level == "error"
                and why in line.message
                and "orders are locked" in line.message
            )
    finally:
        await gw.stop()


@dataclass(frozen=True)
class NoParams:
    pass


class Quiet(Strategy):
    name: ClassVar[str] = "quiet"
    Params: ClassVar[type] = NoParams

    def make_schedule(self):
        return Event(poll_interval=1, market_hours=False)

    async def run_once(self, ctx) -> Decision:
        return Decision(await ctx.now(), "nothing")


async def test_the_controller_refuses_a_read_only_app_before_any_run(gw, tmp_path) -> None:
    from livedesk.backend.journal import Journal

    app = await TradingApp.connect("127.0.0.1", gw.port, 3, readonly=True)
    journal = Journal(tmp_path / "j.sqlite3")
    try:
        ctl = StrategyController(app, bus=EventBus(), journal=journal, strategies=[Quiet()])
        with pytest.raises(StrategyLocked, match="read-only"):
            await ctl.start("quiet")
        with pytest.raises(StrategyLocked, match="cannot run quiet"):
            await ctl.run_now("quiet")
        assert journal.runs("quiet") == [] and str(ctl.info("quiet").status) == "stopped"
        assert await ctl.start_enabled() == []  # refused with an alert, not an exception
        await ctl.close()
    finally:
        app.disconnect()
        journal.close()
