"""The demo in the console: first-launch preparation and the ``f`` fast-forward (Pilot).

The gateways here are the console's embedded demo gateway, frozen, on their own market (a
fast-forward rolls sessions: the shared test market must not move). Expectations come from
the calendar and the strategy's documented schedule.
"""

from __future__ import annotations

import datetime as dt

import exchange_calendars as xcals
import pandas as pd
import pytest

from livedesk.backend.strategies.controller import StrategyController
from livedesk.backend.strategies.registry import create_strategy
from livedesk.tui.demo_actions import HINT
from tests.conftest import TEST_SESSION, until
from tests.console_helpers import connected, make_app, make_gateway, make_session
from tests.test_monthly_factor_live import demo_root  # noqa: F401

pytestmark = pytest.mark.slow


def crack_only(app, **kw):
    """A real controller with crack-spread alone (the fast one to back-test)."""
    kw.pop("settings", None)
    return StrategyController(app, strategies=[create_strategy("crack-spread")], **kw)


@pytest.fixture
def own_market():
    from livedesk.backend.sim.market.model import MarketModel

    return MarketModel(seed=7, session=TEST_SESSION)


async def test_first_launch_builds_the_references_once(
    demo_root,  # noqa: F811
    own_market,
    tmp_path,
    monkeypatch,  # noqa: F811
) -> None:
    monkeypatch.setenv("LIVEDESK_DATA_DIR", demo_root)  # the demo bundle is there already
    seen: list[str] = []
    for launch in (1, 2):
        session, gw = make_session(own_market, tmp_path, controller=False)
        session.controller_factory = crack_only
        app = make_app(session, tmp_path)
        app.demo_prepare = True
        report = app._prep_report

        def shown(done, total, what, app=app, report=report, launch=launch):
            report(done, total, what)
            seen.append(f"{launch}:{app.status}")  # what the header shows meanwhile

        app._prep_report = shown
        async with app.run_test(size=(160, 50)) as pilot:
            await connected(pilot)
            await until(lambda a=app: a._demo_task is not None, 10)
            await until(lambda a=app: a._demo_task.done(), 120)
            await pilot.pause()
            assert app.status == HINT
            ref = session.journal.backtest_reference("crack-spread")
            assert ref is not None
            built = session.journal.state("backtest:crack-spread")["notes"]["generated_at"]
            if launch == 1:
                first = built
                assert len(ref.returns) == create_strategy("crack-spread").backtest_days
            else:
                assert built == first  # nothing rebuilt on the second launch
        await gw.stop()
    assert any(s.startswith("1:preparing the demo: backtest crack-spread") for s in seen), seen
    assert not any(s.startswith("2:preparing") for s in seen)


async def test_f_fast_forwards_the_demo_one_session(own_market, tmp_path) -> None:
    gw = make_gateway(own_market, speed=0.0)
    start = gw.now()
    session, _ = make_session(own_market, tmp_path, gw=gw, controller=False)
    session.controller_factory = crack_only
    app = make_app(session, tmp_path)
    app.ff_sessions = 1
    app.demo_prepare = False
    statuses: list[str] = []
    report = app._ff_report

    def shown(done, total, what):  # what the header shows at each step of the progress
        report(done, total, what)
        statuses.append(app.status)

    app._ff_report = shown
    async with app.run_test(size=(160, 50)) as pilot:
        await connected(pilot)
        await until(lambda: session.controller is not None, 10)
        gw.clock.set_speed(2.0)  # the demo's own pace, restored afterwards
        await pilot.press("f")
        # a one-session fast-forward may be over before a poll sees it running
        await until(lambda: app.status.startswith("fast-forward done"), 60)
        await until(lambda: not app._ff_running, 5)
        await pilot.pause()
        assert gw.clock.speed == 2.0
        assert app.status.startswith("fast-forward done")
        cal = xcals.get_calendar("XNYS")
        day = pd.Timestamp(TEST_SESSION)
        nxt = cal.next_session(day)
        # the clock rests at the next session's open (it ran at 2x for a moment since)
        assert (
            cal.session_open(nxt).timestamp() <= gw.now() < cal.session_open(nxt).timestamp() + 60
        )
        # crack-spread decided at every minute after the start until 5 min before the close,
        # then flattened
        open_, close = cal.session_open(day).timestamp(), cal.session_close(day).timestamp()
        runs = [t for t in range(int(open_) + 60, int(close), 60) if start < t < close - 300]
        rows = [r for run in session.journal.runs() for r in session.journal.decisions(run["id"])]
        assert len(rows) == len(runs) + 1
        assert session.engine.backtest_reference("crack-spread") is not None
    assert any(
        s.startswith("fast-forward 0/1") or s.startswith("fast-forward 1/1") for s in statuses
    )
    assert dt.date.fromtimestamp(start) == TEST_SESSION
