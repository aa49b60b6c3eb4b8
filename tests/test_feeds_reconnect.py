"""Every feed comes back: a socket drop, a silent link, a gateway restart and a 1101 during
crack-spread and options-combo. Decisions resume within one interval after the reconnect
(measured on the gateway's clock); crack-spread's keepUpToDate bar feeds are requested
again with the gap backfilled (before the fix it said "stale bars" until it exited "OK");
PnL is renewed on 1101; a strategy that cannot decide raises an alert and ``livedesk run``
exits non-zero with the reason."""

from __future__ import annotations

import asyncio
import io

import pytest

from livedesk.backend.broker.session import CONNECTED, DISCONNECTED
from livedesk.backend.config import Settings
from livedesk.backend.events import Alert
from livedesk.backend.journal import Journal
from livedesk.backend.risk.engine import RiskEngine
from livedesk.backend.risk.live import RiskFeed
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.strategies import (
    GatewayClock,
    StrategyController,
    StrategyStatus,
    create_strategy,
    runner,
)
from tests.conftest import until

INTERVAL = 60


def controller(app, journal, name: str, **params) -> tuple[StrategyController, list]:
    ctl = StrategyController(
        app,
        bus=app.bus,
        journal=journal,
        strategies=[create_strategy(name, params)],
        clock=GatewayClock.of(app.ib, max_age=0, max_sleep=0.02),
    )
    ctl.pause_poll = 0.02
    decisions: list = []
    ctl.listeners.append(lambda _name, d: decisions.append(d))
    return ctl, decisions


async def minute(gw: SimGateway, decisions: list, ctl, seconds: int = INTERVAL) -> None:
    """Once the strategy sleeps until its next run, jump the gateway clock by ``seconds``
    (one pulse) and wait for the run that falls due then (a decision or a skip stamped
    with the new gateway time)."""
    (name,) = ctl.names

    def sleeping() -> bool:
        nxt = ctl.info(name).next_run
        return nxt is not None and nxt.timestamp() > gw.now()

    await until(sleeping, timeout=15)
    gw.clock.advance(seconds - 1)
    gw.advance(1)
    due = gw.now()
    await until(lambda: decisions and decisions[-1].t.timestamp() >= due - 1, timeout=15)


async def waiting(ctl: StrategyController, name: str) -> None:
    """Started: sleeping until its first run."""
    await until(lambda: ctl.info(name).next_run is not None, timeout=30)
    await until(lambda: ctl.info(name).status == StrategyStatus.WAITING, timeout=30)


async def fault(gw: SimGateway, app, kind: str) -> None:
    if kind == "drop":
        gw.faults.drop_all()
    elif kind == "silent":
        gw.faults.go_silent(True)
    elif kind == "restart":
        await gw.faults.restart(0.2)
    if kind != "1101":
        await until(lambda: app.session.state == DISCONNECTED, timeout=10)
    if kind == "silent":
        gw.faults.go_silent(False)
    if kind == "1101":
        gw.faults.send_error(1101)
        await until(lambda: app.session.restores >= 1 and app.session.state == CONNECTED)
    await until(lambda: app.session.ready, timeout=10)
    # the strategy loops notice (they poll every 0.02 s) before the gateway clock jumps:
    # real time would flow on, a jump past a run while they still sleep would skip it
    await asyncio.sleep(0.5)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["drop", "silent", "restart", "1101"])
async def test_crack_spread_decides_within_one_interval_after_a_fault(
    gw, app, journal, kind
) -> None:
    ctl, decisions = controller(
        app, journal, "crack-spread", window=5, interval=INTERVAL, stale_after=120
    )
    await ctl.start("crack-spread")
    await waiting(ctl, "crack-spread")
    for _ in range(3):
        await minute(gw, decisions, ctl)
    assert not decisions[-1].skipped, [d.summary for d in decisions]
    feeds = ctl.context("crack-spread").state["feeds"]
    await fault(gw, app, kind)
    back = gw.now()  # gateway time when the link is back
    await minute(gw, decisions, ctl)  # the first run due after the reconnect (one interval)
    first = decisions[-1]
    assert first.t.timestamp() - back <= INTERVAL and not first.skipped, first.summary
    # and the feeds stay live: past stale_after (120 s) every decision still decides, on
    # bars that end at most a minute before the decision
    before = len(decisions)
    for _ in range(4):
        await minute(gw, decisions, ctl)
    later = decisions[before:]
    assert len(later) == 4 and all(not d.skipped for d in later), [d.summary for d in later]
    assert all(d.t.timestamp() - d.data_time.timestamp() <= 2 * INTERVAL for d in later)
    assert all(f.revivals == 1 for f in feeds.values())  # every bar feed subscribed again
    assert not ctl.stalled("crack-spread")
    await ctl.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["drop", "silent", "restart"])
async def test_options_combo_decides_within_one_interval_after_a_fault(
    gw, app, journal, kind
) -> None:
    ctl, decisions = controller(app, journal, "options-combo", poll_interval=INTERVAL)
    await ctl.start("options-combo")
    await waiting(ctl, "options-combo")
    await minute(gw, decisions, ctl)
    assert not decisions[-1].skipped, [d.summary for d in decisions]
    await fault(gw, app, kind)
    back = gw.now()
    await minute(gw, decisions, ctl)
    first = decisions[-1]
    assert first.t.timestamp() - back <= INTERVAL and not first.skipped, first.summary
    await ctl.close()


async def test_pnl_is_renewed_on_1101(gw, app, journal) -> None:
    feed = RiskFeed(app, RiskEngine(journal), clock=gw.now)
    feed.start()
    key = (app.account, "")
    old_req = app.ib.wrapper.pnlKey2ReqId[key]
    errors: list[str] = []
    app.bus.subscribe(lambda ev: errors.append(ev.message) if isinstance(ev, Alert) else None)
    gw.faults.send_error(1101)
    await until(lambda: app.session.restores >= 1 and app.session.ready)
    new_req = app.ib.wrapper.pnlKey2ReqId[key]
    assert new_req != old_req  # renewed (the assertion in ib_async is not hit)
    assert old_req not in app.ib.wrapper.reqId2PnL and new_req in app.ib.wrapper.reqId2PnL
    [pnl] = app.ib.pnl()
    gw.advance(2)
    await until(lambda: pnl.dailyPnL == pnl.dailyPnL)  # values stream on the new request
    feed.stop()


async def test_run_exits_non_zero_when_the_strategy_cannot_decide(gw, tmp_path) -> None:
    """The gateway stops streaming crack-spread's bars (the link stays up): "stale bars"
    for ``max_undecided`` intervals raises an alert (journaled, on the bus for the
    console's Log) and ``livedesk run`` exits 1 with the reason instead of "OK"."""
    out = io.StringIO()
    path = tmp_path / "j.sqlite3"
    task = asyncio.ensure_future(
        runner.run_strategy(
            "crack-spread",
            Settings(strategies={"crack-spread": {"window": 5, "stale_after": 120}}),
            port=gw.port,
            journal_path=path,
            out=out,
            max_undecided=3,
        )
    )
    await until(lambda: "next run" in out.getvalue(), timeout=30)
    while "crack-spread: z" not in out.getvalue():  # a first decision: the feeds are open
        gw.clock.advance(59)
        gw.advance(1)
        await asyncio.sleep(0.4)
    for s in gw.sessions.values():
        s.bars.clear()  # no more bar updates: the feeds go stale, the link is fine
    # each stale decision first waits up to FINAL_BAR_WAIT wall seconds for the bar to complete
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    while not task.done() and loop.time() < deadline:
        gw.clock.advance(59)
        gw.advance(1)
        await asyncio.sleep(0.4)
    text = out.getvalue()
    assert task.done(), text
    rc = task.result()
    assert rc == runner.EXIT_FAILED, text
    last = text.strip().splitlines()[-1]
    assert last.startswith("crack-spread FAILED: could not decide for 3 intervals: stale bars")
    with Journal(path) as j:
        alerts = [a for a in j.alerts() if a["source"] == "strategy:crack-spread"]
    assert any("could not decide for 3 intervals" in a["message"] for a in alerts)


async def test_a_revived_feed_with_no_bar_in_the_gap_keeps_its_bars() -> None:
    """A reconnect outside regular hours: the new request has no bar yet. The feed keeps
    every bar it held (in front of the new, empty, live list) instead of failing."""
    import datetime as dt
    from types import SimpleNamespace

    from ib_async import BarData, BarDataList, Stock

    from livedesk.backend.strategies.bars import BarFeed

    t0 = dt.datetime(2026, 11, 20, 15, 58, tzinfo=dt.UTC)
    old = BarDataList()
    old += [BarData(date=t0 + dt.timedelta(minutes=i), close=100.0 + i) for i in range(3)]
    fresh = BarDataList()
    requests: list[str] = []

    async def bars(contract, duration, bar_size, *, what, keep_up_to_date):
        requests.append(duration)
        assert keep_up_to_date
        return fresh

    session = SimpleNamespace(restores=0)
    ib = SimpleNamespace(isConnected=lambda: False)
    ctx = SimpleNamespace(app=SimpleNamespace(session=session, ib=ib), bars=bars)
    feed = BarFeed(Stock("PSX", "SMART", "USD"), old, "1 min", generation=0)
    now = (t0 + dt.timedelta(hours=3)).timestamp()
    assert not await feed.revive(ctx, now)  # no restore since: nothing asked
    session.restores = 1
    assert await feed.revive(ctx, now)
    assert feed.bars is fresh and [b.close for b in feed.bars] == [100.0, 101.0, 102.0]
    assert requests == [f"{3 * 3600 - 120 + 120} S"]  # from the last bar's start, 2 bars more
    assert feed.generation == 1 and feed.revivals == 1
