"""One ``reqCurrentTime`` in flight per connection, shared by every caller.

ib_async keys the request by name: a second ``reqCurrentTimeAsync`` while one is pending
replaces the first's future, which then never resolves (its caller times out). The broker
session's heartbeat and the strategies' gateway clock both ask for the time, so they share
the pending request here. A caller's timeout never cancels it for the others; when the
connection drops it fails with ConnectionError (no answer can come any more), and the next
call asks again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import weakref

from ib_async import IB

_pending: weakref.WeakKeyDictionary[IB, asyncio.Future | None] = weakref.WeakKeyDictionary()


def current_time(ib: IB) -> asyncio.Future[dt.datetime]:
    """The gateway's time: the pending request of ``ib`` if any, else a new one."""
    if ib not in _pending:
        ib.disconnectedEvent += lambda: _forget(ib)
    future = _pending.get(ib)
    if future is None or future.done():
        future = _pending[ib] = ib.reqCurrentTimeAsync()
    return asyncio.shield(future)


def _forget(ib: IB) -> None:
    """The link dropped: the pending request fails (no answer can come any more)."""
    future = _pending.get(ib)
    _pending[ib] = None
    if future is not None and not future.done():
        future.set_exception(ConnectionError("disconnected before the current time arrived"))
