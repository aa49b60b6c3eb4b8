"""A reconciliation that raises something unforeseen (a bug, the journal's disk) halts trading
with the reason and an alert, like a failed one, instead of ending the reconnect loop: the
session is never left connected, unreconciled and silent. A later reconciliation that works
clears the halt."""

from __future__ import annotations

import sqlite3

import pytest

from livedesk.backend.broker.session import CONNECTED, DISCONNECTED
from livedesk.backend.contracts import stock
from livedesk.backend.events import Alert
from livedesk.backend.trading.orders import market as mkt
from tests.conftest import until
from tests.reliability_helpers import connect


def raising_once(session, exc: Exception):
    """Make the session's next reconciliation raise ``exc`` (then work again)."""
    real = session.reconciler.run
    calls = []

    async def run(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise exc
        return await real(*args, **kwargs)

    session.reconciler.run = run
    return calls


async def test_a_reconciliation_that_raises_halts_with_the_reason(gw, journal) -> None:
    app = await connect(gw, journal)
    try:
        alerts: list[Alert] = []
        app.bus.subscribe(lambda ev: alerts.append(ev) if isinstance(ev, Alert) else None)
        raising_once(app.session, KeyError("conId 756733"))
        assert await app.session.reconcile() is None
        assert "KeyError" in app.session.halt_reason and "756733" in app.session.halt_reason
        assert not app.session.ready
        assert any("reconciliation failed" in a.message and "KeyError" in a.message for a in alerts)
        c = await app.resolve_contract(stock("AAPL"))
        with pytest.raises(Exception, match="halted|reconcil"):
            await app.order_target_quantity(c, mkt, 5)
        assert not gw.broker.orders  # nothing reached the gateway
        report = await app.session.reconcile()  # it works again: the halt is lifted
        assert report is not None and app.session.halt_reason == "" and app.session.ready
    finally:
        app.disconnect()


async def test_the_reconnect_loop_survives_a_reconciliation_that_raises(gw, journal) -> None:
    app = await connect(gw, journal)
    try:
        calls = raising_once(app.session, RuntimeError("journal row unreadable"))
        gw.faults.drop_all()
        await until(lambda: app.session.state == DISCONNECTED)
        await until(lambda: calls and app.session.state == CONNECTED, timeout=10)
        await until(lambda: "RuntimeError" in app.session.halt_reason, timeout=5)
        assert "journal row unreadable" in app.session.state_detail
        # the loop ended normally (the heartbeat runs): the next drop is noticed and healed
        gw.faults.drop_all()
        await until(lambda: app.session.state == DISCONNECTED)
        await until(lambda: app.session.ready, timeout=10)
        assert app.session.halt_reason == "" and len(calls) >= 2
    finally:
        app.disconnect()


async def test_a_failure_while_reporting_the_failure_still_halts_and_keeps_the_heartbeat(
    gw, journal
) -> None:
    """Even when recording the alert fails too (the journal's disk is the broken part), the
    reconnect loop ends normally — trading halted with the reason, the heartbeat running — so
    a link that then goes silent (only the heartbeat can tell) is still noticed and healed."""
    from tests.reliability_helpers import FAST

    quick = {**FAST, "heartbeat_interval": 0.1, "heartbeat_timeout": 0.3}
    app = await connect(gw, journal, session_options=quick)
    try:
        calls = raising_once(app.session, RuntimeError("disk I/O error"))
        real_alert = journal.record_alert

        def broken(level, message, *args, **kwargs):  # recording this alert fails too
            if "reconciliation failed" in message:
                raise sqlite3.OperationalError("disk I/O error")
            return real_alert(level, message, *args, **kwargs)

        journal.record_alert = broken
        gw.faults.drop_all()
        await until(lambda: app.session.state == DISCONNECTED)
        await until(lambda: calls and "RuntimeError" in app.session.halt_reason, timeout=10)
        await until(lambda: app.session.state == CONNECTED, timeout=5)
        assert not app.session.ready
        journal.record_alert = real_alert
        failures = app.session.stats.heartbeat_failures
        gw.faults.go_silent()
        await until(lambda: app.session.state == DISCONNECTED, timeout=5)
        assert app.session.stats.heartbeat_failures == failures + 1
        gw.faults.go_silent(False)
        await until(lambda: app.session.ready, timeout=10)
        assert app.session.halt_reason == ""
    finally:
        app.disconnect()
