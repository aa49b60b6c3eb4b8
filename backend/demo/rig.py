"""The demo account opened for a headless run (fast-forward, scenarios): its gateway with
the clock frozen, under the account's lock, an API client, the journal, risk and strategies."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

FF_CLIENT_ID = 31
"""The API client id of a headless run."""


def fresh_start(sessions: int, today: dt.date | None = None) -> dt.date:
    """Where a new demo account starts so that ``sessions`` sessions end at the latest one:
    the session ``sessions`` before the latest XNYS session on or before ``today``."""
    import numpy as np

    from livedesk.backend.strategies.schedules import sessions as calendar

    cal = calendar("XNYS")
    today = today or dt.datetime.now(dt.UTC).date()
    ords = np.array([d.toordinal() for d in cal.dates])
    latest = int(np.searchsorted(ords, today.toordinal(), side="right")) - 1
    return cal.dates[max(0, latest - sessions)]


@dataclass
class DemoRig:
    """The demo account opened for a headless run: gateway, app, journal, risk, controller."""

    gateway: object
    app: object
    journal: object
    engine: object
    controller: object


@contextlib.asynccontextmanager
async def open_demo(
    settings, names: list[str], sessions: int, start: dt.date | None = None
) -> AsyncIterator[DemoRig]:
    """The demo account under its lock, its clock frozen; saved and closed on exit. A new
    account starts at ``start`` (default: ``sessions`` sessions before the latest one)."""
    from livedesk.backend.demo.account import demo_journal_path, demo_state_path
    from livedesk.backend.demo.lock import demo_lock
    from livedesk.backend.events import EventBus
    from livedesk.backend.journal import Journal
    from livedesk.backend.risk.engine import RiskEngine
    from livedesk.backend.risk.live import RiskFeed
    from livedesk.backend.sim.gateway import SimGateway
    from livedesk.backend.strategies.controller import StrategyController
    from livedesk.backend.strategies.registry import create_strategy, strategy_settings
    from livedesk.backend.trading.app import TradingApp
    from livedesk.backend.trading.guard import GuardLimits

    with demo_lock(settings):
        state = demo_state_path(settings)
        state.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        first = None if state.exists() else (start or fresh_start(sessions)).isoformat()
        gw = await asyncio.to_thread(
            SimGateway,
            port=0,
            seed=settings.sim.seed,
            account=settings.sim.account,
            speed=0.0,
            state_file=state,
            start=first,
        )
        await gw.start()
        # NORMAL: a crash of this process loses nothing (WAL); a power cut may lose the last
        # simulated minutes, not worth an fsync per PnL sample at top speed
        journal = Journal(demo_journal_path(settings), synchronous="NORMAL")
        try:
            app = await TradingApp.connect(
                "127.0.0.1",
                gw.port,
                FF_CLIENT_ID,
                limits=GuardLimits.from_mapping(settings.guard),
                bus=EventBus(),
                journal=journal,
            )
        except BaseException:
            journal.close()
            await gw.stop()
            raise
        app.clock.exact = gw.now
        app.guard.use_clock(gw.now)  # the order rate on the simulated clock it runs at
        gw.pacing_clock = gw.now  # and the historical-data pacing
        engine = RiskEngine(journal, min_sessions=settings.risk.min_sessions)
        engine.restore()
        feed = RiskFeed(app, engine, clock=gw.now)
        feed.start()
        ctl = StrategyController(
            app,
            bus=app.bus,
            journal=journal,
            risk=engine,
            strategies=[create_strategy(n, strategy_settings(settings, n)) for n in names],
        )
        try:
            yield DemoRig(gw, app, journal, engine, ctl)
        finally:
            await ctl.close()
            feed.stop()
            app.disconnect()
            journal.close()
            await gw.stop()
