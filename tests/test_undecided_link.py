"""The could-not-decide alert (#23) does not count time while the broker link is down.

A probe strategy decides, fails to decide ("no data", with the link up), or has its
decision cut by a drop of the simulated gateway (the fault hooks: ``restart`` with a
downtime, during which the gateway clock moves on by more than ``max_undecided``
intervals). Expectations, by hand, with ``max_undecided = 3``: a decision cut by the drop
and the time paused while the link is down neither count nor reset the streak; a failure
with the link up counts as before (the third in a row raises the alert).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from livedesk.backend.broker.session import DISCONNECTED
from livedesk.backend.events import Alert
from livedesk.backend.strategies import GatewayClock, StrategyController
from livedesk.backend.strategies.base import Decision, Strategy
from livedesk.backend.strategies.schedules import Event
from tests.conftest import until
from tests.test_feeds_reconnect import INTERVAL, minute

N = 3


@dataclass(frozen=True)
class ProbeParams:
    poll_interval: float = INTERVAL


class Probe(Strategy):
    """Decides ("ok"), cannot decide ("fail"), or waits for the test to cut the link ("cut")."""

    name = "probe"
    Params = ProbeParams

    def __init__(self) -> None:
        super().__init__()
        self.mode = "ok"
        self.entered = asyncio.Event()
        self.go = asyncio.Event()

    def make_schedule(self) -> Event:
        return Event(self.params.poll_interval, calendar="XNYS", market_hours=True)

    async def run_once(self, ctx) -> Decision:
        now = await ctx.now()
        if self.mode == "fail":
            return Decision(now, "no decision", skipped_reason="no data for the probe")
        if self.mode == "cut":
            self.entered.set()
            await self.go.wait()  # the test drops the link meanwhile
            await ctx.app.ib.reqCurrentTimeAsync()  # the link is gone: ConnectionError
        return Decision(now, "decided", {})


async def started(app, journal):
    probe = Probe()
    ctl = StrategyController(
        app,
        bus=app.bus,
        journal=journal,
        strategies=[probe],
        clock=GatewayClock.of(app.ib, max_age=0, max_sleep=0.02),
    )
    ctl.pause_poll = 0.02
    ctl.max_undecided = N
    decisions: list[Decision] = []
    alerts: list[str] = []
    ctl.listeners.append(lambda _name, d: decisions.append(d))
    app.bus.subscribe(lambda ev: alerts.append(ev.message) if isinstance(ev, Alert) else None)
    await ctl.start("probe")
    await until(lambda: ctl.info("probe").next_run is not None, timeout=30)
    return ctl, probe, decisions, alerts


async def long_drop(gw, app, ctl, probe, decisions) -> None:
    """A decision starts, the gateway goes away for 5 intervals of its clock, comes back."""
    probe.mode = "cut"
    probe.entered.clear()
    probe.go.clear()
    before = len(decisions)

    def sleeping() -> bool:  # the loop has planned its next run (after the last decision)
        nxt = ctl.info("probe").next_run
        return nxt is not None and nxt.timestamp() > gw.now()

    await until(sleeping, timeout=15)
    nxt = ctl.info("probe").next_run.timestamp()
    gw.clock.advance(max(0.0, nxt - gw.now() - 1))
    gw.advance(1)
    await until(probe.entered.is_set, timeout=15)
    restart = asyncio.ensure_future(gw.faults.restart(1.5))
    await until(lambda: app.session.state == DISCONNECTED, timeout=10)
    probe.go.set()
    await until(lambda: len(decisions) > before, timeout=10)  # the cut decision is recorded
    for _ in range(N + 2):  # the link stays down for more than N intervals
        gw.clock.advance(INTERVAL)
        await asyncio.sleep(0.05)
    await restart
    await until(lambda: app.session.ready, timeout=20)
    await asyncio.sleep(0.3)  # the loop notices before the clock jumps again


def stalled_alerts(alerts: list[str]) -> list[str]:
    return [a for a in alerts if "could not decide" in a]


async def test_a_drop_longer_than_n_intervals_raises_no_alert(gw, app, journal) -> None:
    ctl, probe, decisions, alerts = await started(app, journal)
    await minute(gw, decisions, ctl)
    assert decisions[-1].summary == "decided"
    probe.mode = "fail"
    for _ in range(N - 1):
        await minute(gw, decisions, ctl)
    assert [d.skipped_reason for d in decisions[-2:]] == ["no data for the probe"] * 2
    await long_drop(gw, app, ctl, probe, decisions)
    cut = decisions[-1]
    assert cut.skipped and "broker link lost" in cut.skipped_reason, cut.skipped_reason
    assert ctl.stalled("probe") == ""  # 2 failures + the drop: no alert
    probe.mode = "ok"
    await minute(gw, decisions, ctl)
    assert decisions[-1].summary == "decided"
    assert ctl.stalled("probe") == "" and stalled_alerts(alerts) == []
    # a decision failure with the link up raises the alert as before: the third in a row
    probe.mode = "fail"
    for i in range(N):
        assert ctl.stalled("probe") == "", i
        await minute(gw, decisions, ctl)
    assert ctl.stalled("probe") == "could not decide for 3 intervals: no data for the probe"
    assert stalled_alerts(alerts) == [
        "probe could not decide for 3 intervals: no data for the probe"
    ]
    assert any("could not decide for 3" in a["message"] for a in journal.alerts())
    await ctl.close()


async def test_counting_resumes_after_the_reconnect(gw, app, journal) -> None:
    """Paused, not reset: two failures before the drop and one after make three."""
    ctl, probe, decisions, alerts = await started(app, journal)
    probe.mode = "fail"
    for _ in range(N - 1):
        await minute(gw, decisions, ctl)
    await long_drop(gw, app, ctl, probe, decisions)
    assert ctl.stalled("probe") == ""
    probe.mode = "fail"
    await minute(gw, decisions, ctl)
    assert ctl.stalled("probe") == "could not decide for 3 intervals: no data for the probe"
    assert len(stalled_alerts(alerts)) == 1
    await ctl.close()
