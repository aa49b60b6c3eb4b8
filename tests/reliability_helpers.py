"""Shared pieces of the fault-matrix, crash and soak tests: a fast session and the invariants."""

from __future__ import annotations

from collections import Counter

from livedesk.backend.broker.orderref import key_of
from livedesk.backend.journal import Journal
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.trading.app import TradingApp

FAST = {
    "backoff_initial": 0.02,
    "backoff_max": 0.2,
    "jitter": 0.2,
    "heartbeat_interval": 1.0,
    "heartbeat_timeout": 1.0,
    "reconcile_timeout": 3.0,
    "seed": 3,
}
"""Session settings that make a test's reconnects take tens of milliseconds."""


async def connect(gw: SimGateway, journal: Journal | None, client_id: int = 1, **kw) -> TradingApp:
    """A TradingApp on ``gw`` with fast reconnect settings."""
    kw.setdefault("session_options", FAST)
    return await TradingApp.connect("127.0.0.1", gw.port, client_id, journal=journal, **kw)


def gateway_exec_ids(gw: SimGateway) -> list[str]:
    """Every execution the gateway made, in order."""
    return [fe.execution.execId for fe in gw.broker.executions]


def assert_books(app: TradingApp, gw: SimGateway, journal: Journal, orders: int | None = None):
    """No fill lost, none doubled, no order duplicated, positions reconcile.

    * journal executions = gateway executions (same execIds, each once);
    * the gateway's positions = the journal's net fills = the app's positions;
    * every gateway order has its own idempotency key; ``orders`` = their count if given.
    """
    fills = journal.fills()
    journal_ids = [f["exec_id"] for f in fills]
    assert sorted(journal_ids) == sorted(gateway_exec_ids(gw)), "journal and gateway fills differ"
    assert len(set(journal_ids)) == len(journal_ids)
    gw_pos = {c: h.qty for c, h in gw.broker.account.holdings.items() if h.qty}
    net = {c: q for c, q in journal.net_fills().items() if abs(q) > 1e-9}
    assert net == gw_pos, f"journal net fills {net} != gateway positions {gw_pos}"
    app_pos = {c: p.position for c, p in app.positions.items()}
    assert app_pos == gw_pos, f"app positions {app_pos} != gateway {gw_pos}"
    keys = Counter(key_of(so.order.orderRef) for so in gw.broker.orders.values())
    dupes = {k: n for k, n in keys.items() if n > 1}
    assert not dupes and "" not in keys, f"orders without a key or duplicated: {keys}"
    if orders is not None:
        assert len(gw.broker.orders) == orders, f"{len(gw.broker.orders)} orders, want {orders}"
