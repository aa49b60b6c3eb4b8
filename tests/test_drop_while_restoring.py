"""A drop that strikes after a reconnect but before the session is restored and reconciled
must not leave the session down for good (#23).

The 20-day soak lost the link for its last two simulated days: "socket closed; 24 order(s)
in flight now UNKNOWN", no reconnect after it. The reconnect loop connected, then restored
the feeds and reconciled; a second drop in that window found the loop still running (so no
new one was started), and the loop then ended. Here the gateway drops every connection from
inside a restore hook (right after the reconnect, before the reconciliation), once, and
then during the reconciliation, once: the session must end up connected and reconciled.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import until
from tests.reliability_helpers import connect


@pytest.mark.parametrize("where", ["restore", "reconcile"])
async def test_a_drop_while_restoring_is_reconnected(gw, journal, where) -> None:
    app = await connect(gw, journal)
    try:
        session = app.session
        armed = {"on": False}

        def drop_once() -> None:
            if armed["on"]:
                armed["on"] = False
                gw.faults.drop_all()

        if where == "restore":
            session.add_restore_hook(drop_once)
        else:
            run = session.reconciler.run

            async def dropping_run(*args, **kwargs):
                drop_once()
                await asyncio.sleep(0.05)  # the drop reaches the client mid-reconciliation
                return await run(*args, **kwargs)

            session.reconciler.run = dropping_run
        before = session.stats.reconnects
        armed["on"] = True
        gw.faults.drop_all()
        await until(lambda: not armed["on"], timeout=10)  # the second drop struck
        await until(lambda: session.ready, timeout=15)
        assert app.ib.isConnected() and session.reconciled
        assert session.stats.reconnects >= before + 2
    finally:
        app.disconnect()
