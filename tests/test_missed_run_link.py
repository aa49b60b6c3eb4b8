"""A month-end run whose time passes while the broker link is down is made when it returns.

The controller sleeps toward the run on the gateway's clock; a drop makes the clock's
request fail, the loop waits the link out, and used to plan from the clock's new time: the
run of 31 Dec 2026 16:30 (close + 30 min) was skipped and the next one planned for January,
a whole month without the strategy (the 20-day soak's monthly factor never decided). The
clock here is a stand-in source the test moves and cuts; the broker session is real.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from livedesk.backend.events import Alert
from livedesk.backend.strategies import Decision, GatewayClock, StrategyController
from tests.conftest import until
from tests.test_strategy_controller import MonthEnd

NY = ZoneInfo("America/New_York")


class Source:
    """The broker's time as the test sets it; a ConnectionError while ``down``."""

    def __init__(self, t: dt.datetime) -> None:
        self.t, self.down = t, False

    async def __call__(self) -> dt.datetime:
        if self.down:
            raise ConnectionError("the link is down")
        return self.t


@pytest.mark.parametrize(
    ("back_at", "runs"),
    [
        # Mon 4 Jan 2027 10:00: before the close of the next session, the run is still valid
        (dt.datetime(2027, 1, 4, 10, 0, tzinfo=NY), True),
        # Tue 5 Jan 10:00: past it (valid_sessions = 1), the run is not made late
        (dt.datetime(2027, 1, 5, 10, 0, tzinfo=NY), False),
    ],
)
async def test_a_month_end_run_passed_during_a_drop_is_made_after_it(
    app, journal, back_at, runs
) -> None:
    prior = journal.start_run("month-end", {})  # November's run was made
    journal.record_decision(
        prior,
        "decision",
        {"summary": "November"},
        t=dt.datetime(2026, 11, 30, 16, 30, tzinfo=NY).timestamp(),
    )
    journal.end_run(prior)
    source = Source(dt.datetime(2026, 12, 31, 16, 20, tzinfo=NY))
    clock = GatewayClock(source, max_age=0, max_sleep=0.02)
    alerts: list[str] = []
    app.bus.subscribe(lambda ev: alerts.append(ev.message) if isinstance(ev, Alert) else None)
    ctl = StrategyController(
        app, bus=app.bus, journal=journal, strategies=[MonthEnd()], clock=clock
    )
    ctl.pause_poll = 0.02
    await ctl.start("month-end")
    due = dt.datetime(2026, 12, 31, 16, 30, tzinfo=NY)
    await until(lambda: ctl.info("month-end").next_run == due, timeout=10)

    source.down = True  # the link drops ten minutes before the run ...
    await asyncio.sleep(0.3)
    source.t = back_at  # ... and comes back after its time
    source.down = False
    await until(
        lambda: ctl.info("month-end").next_run == dt.datetime(2027, 1, 29, 16, 30, tzinfo=NY),
        timeout=10,
    )  # Fri 29 Jan: January's last session
    await asyncio.sleep(0.1)
    made = [
        d
        for d in ctl.recent_decisions("month-end")
        if d["kind"] == "decision" and d["t"] > due.timestamp()  # not November's
    ]
    missed = [m for m in alerts if "missed the 2026-12-31 16:30" in m]
    if runs:
        assert [d["t"] for d in made] == [back_at.timestamp()]
        assert len(missed) == 1 and "the broker link was down" in missed[0]
    else:
        assert made == [] and missed == []
    await ctl.close()


class SkippingMonthEnd(MonthEnd):
    """Its month-end run is made but decides nothing (e.g. no data)."""

    name = "month-end"
    runs = 0

    async def run_once(self, ctx) -> Decision:
        SkippingMonthEnd.runs += 1
        return Decision(await ctx.now(), "no decision", skipped_reason="no data for the run")


async def test_a_month_end_run_made_and_skipped_is_not_made_again_after_a_drop(
    app, journal
) -> None:
    source = Source(dt.datetime(2026, 12, 31, 16, 20, tzinfo=NY))
    clock = GatewayClock(source, max_age=0, max_sleep=0.02)
    alerts: list[str] = []
    app.bus.subscribe(lambda ev: alerts.append(ev.message) if isinstance(ev, Alert) else None)
    SkippingMonthEnd.runs = 0
    ctl = StrategyController(
        app, bus=app.bus, journal=journal, strategies=[SkippingMonthEnd()], clock=clock
    )
    ctl.pause_poll = 0.02
    await ctl.start("month-end")
    await until(lambda: ctl.info("month-end").next_run is not None, timeout=10)
    source.t = dt.datetime(2026, 12, 31, 16, 31, tzinfo=NY)  # the run's time, the link up
    await until(lambda: SkippingMonthEnd.runs == 1, timeout=10)
    source.down = True  # then a drop over the weekend
    await asyncio.sleep(0.3)
    source.t = dt.datetime(2027, 1, 4, 10, 0, tzinfo=NY)  # the run would still be valid
    source.down = False
    await asyncio.sleep(0.5)  # many loop turns at pause_poll 0.02 s
    assert SkippingMonthEnd.runs == 1
    assert not [m for m in alerts if "missed" in m]
    assert ctl.info("month-end").next_run == dt.datetime(2027, 1, 29, 16, 30, tzinfo=NY)
    await ctl.close()
