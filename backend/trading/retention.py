"""Forget earlier broker days: ``ib_async`` keeps every Trade and Fill of a connection for ever.

A process that trades for weeks without a reconnect (``ib_async`` resets its wrapper only on
disconnect) would hold every order and execution it ever saw, and every pass over
``ib.trades()`` (the position ledger, reconciliation, the console) would grow slower with
them. When the broker clock's New York date changes, :class:`SessionRetention` drops from
``ib_async``'s wrapper:

* finished trades (``isDone()``) with no fill dated today whose fills every position
  message has already reflected (so the ledger's held quantity does not change);
* fills of an earlier date that no kept trade holds (``reqExecutions`` returns only today's
  fills, so reconciliation never needs them; the journal keeps every fill).

Working orders — a GTC order working for days included — and everything of today stay.
The ledger forgets its marks of the dropped trades and the order tracker its links to them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ib_async import IB, Fill, Trade

log = logging.getLogger("livedesk.retention")

NEW_YORK = ZoneInfo("America/New_York")

__all__ = ["PruneReport", "SessionRetention", "fill_date"]


@dataclass(frozen=True)
class PruneReport:
    """What one pass dropped."""

    trades: int = 0
    fills: int = 0


def _before(trade: Trade, today: dt.date) -> bool:
    """No fill of ``trade`` is dated ``today`` or later."""
    return all((d := fill_date(f)) is None or d < today for f in trade.fills)


def fill_date(fill: Fill) -> dt.date | None:
    """The New York date of an execution, by the gateway's execution time (``Fill.time`` is
    the local clock when the message arrived); None when unknown."""
    t = getattr(fill.execution, "time", None) or fill.time  # Fill.time: when it arrived
    if not isinstance(t, dt.datetime):
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(NEW_YORK).date()


class SessionRetention:
    """Drops what earlier broker days left in ``ib_async`` (see the module docstring).

    ``today`` is the broker clock's New York date; ``settled(trade)`` says whether every
    fill of a finished trade is reflected in the positions (the ledger's answer);
    ``forget(trades)`` is called with the dropped trades (ledger marks, tracker links).
    """

    def __init__(
        self,
        ib: IB,
        today: Callable[[], dt.date],
        *,
        settled: Callable[[Trade], bool] = lambda trade: True,
        forget: Iterable[Callable[[list[Trade]], None]] = (),
    ) -> None:
        self.ib = ib
        self.today = today
        self.settled = settled
        self.forget = list(forget)
        self.day: dt.date | None = None
        """The broker date of the last check (None before the first)."""
        self.dropped = PruneReport()
        """Totals dropped since the start."""

    def check(self) -> PruneReport | None:
        """Prune if the broker date changed since the last check (cheap otherwise); called
        from the heartbeat's clock reading, so a failure is logged, never raised."""
        try:
            return self._check()
        except Exception:
            log.exception("retention pass failed")
            return None

    def _check(self) -> PruneReport | None:
        day = self.today()
        if self.day is None or day <= self.day:
            self.day = day if self.day is None else max(day, self.day)
            return None
        self.day = day
        return self.prune(day)

    def prune(self, today: dt.date) -> PruneReport:
        """Drop finished, reflected trades and fills dated before ``today``."""
        w = self.ib.wrapper
        dropped = [
            t for t in w.trades.values() if t.isDone() and _before(t, today) and self._may_drop(t)
        ]
        gone = {id(t) for t in dropped}
        for key in [k for k, t in w.trades.items() if id(t) in gone]:
            del w.trades[key]
        for perm in [p for p, t in w.permId2Trade.items() if id(t) in gone]:
            del w.permId2Trade[perm]
        kept = {f.execution.execId for t in w.trades.values() for f in t.fills}
        old = [
            exec_id
            for exec_id, f in w.fills.items()
            if exec_id not in kept and (d := fill_date(f)) is not None and d < today
        ]
        for exec_id in old:
            del w.fills[exec_id]
        for fn in self.forget:
            try:
                fn(dropped)
            except Exception:
                log.exception("retention listener %r failed", fn)
        report = PruneReport(len(dropped), len(old))
        self.dropped = PruneReport(
            self.dropped.trades + report.trades, self.dropped.fills + report.fills
        )
        if dropped or old:
            log.info("new broker day %s: forgot %d finished trades, %d fills", today, *(
                report.trades, report.fills))  # fmt: skip
        return report

    def _may_drop(self, trade: Trade) -> bool:
        try:
            return bool(self.settled(trade))
        except Exception:
            log.exception("cannot tell whether %r is settled; kept", trade.order.orderRef)
            return False
