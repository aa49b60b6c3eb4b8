"""When an algorithm's functions are due, by zipline's own ``EventRule`` objects.

``schedule_function(f, date_rule, time_rule)`` builds the same rule zipline builds
(``zipline.utils.events.make_eventrule`` on the XNYS calendar). A rule is evaluated on
minutes (UTC) of the session the **broker's clock** is in: in minute mode a function is
due when one of the session's minutes from the open up to now triggers it and it has not
run this session; in daily mode time rules are ignored, as in zipline, and a function is
due on the sessions its date rule picks (evaluated on the session's last minute).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

BEFORE_OPEN = pd.Timedelta(minutes=45)
"""``before_trading_start`` is due from 45 minutes before the open (zipline: 8:45 ET)."""


def calendar():
    """The XNYS calendar zipline's rules are evaluated on."""
    from zipline.utils.calendar_utils import get_calendar

    return get_calendar("XNYS")


@dataclass
class Scheduled:
    """One ``schedule_function`` registration."""

    func: Any
    rule: Any
    """A fresh zipline ``OncePerDay`` rule per evaluation is built by ``make``."""
    make: Any
    name: str


@dataclass
class SessionClock:
    """The session the broker's clock is in and its minutes (UTC)."""

    session: pd.Timestamp
    open: pd.Timestamp
    close: pd.Timestamp
    now: pd.Timestamp
    minutes: pd.DatetimeIndex = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.session:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.open <= self.now < self.close

    @property
    def after_close(self) -> bool:
        return self.now >= self.close


@functools.lru_cache(maxsize=8)
def _session_table(day: pd.Timestamp):
    cal = calendar()
    if not cal.is_session(day):
        return None
    open_, close = cal.session_first_minute(day), cal.session_last_minute(day)
    return open_, close + pd.Timedelta(minutes=1), cal.session_minutes(day)


def session_clock(now: dt.datetime) -> SessionClock | None:
    """The session of ``now`` (its New York date); None on a day with none."""
    t = pd.Timestamp(now).tz_convert("UTC")
    day = pd.Timestamp(t.tz_convert("America/New_York").date())
    table = _session_table(day)
    if table is None:
        return None
    open_, close, minutes = table
    return SessionClock(day, open_, close, t, minutes)


def due_scheduled(
    items: list[Scheduled],
    clock: SessionClock,
    done: set[str],
    daily: bool,
    since: pd.Timestamp | None = None,
) -> list[Scheduled]:
    """The scheduled functions due now that have not run this session, in registration order.

    ``since``: the minutes up to it were already evaluated this session (minute mode).
    """
    out = []
    if daily:
        last = clock.minutes[-1]
        for item in items:
            if item.name not in done and item.make().should_trigger(last):
                out.append(item)
        return out
    upto = clock.minutes[clock.minutes <= clock.now]
    if since is not None:
        upto = upto[upto > since]
    for item in items:
        if item.name in done:
            continue
        rule = item.make()
        if any(rule.should_trigger(m) for m in upto):
            out.append(item)
    return out


def bts_due(clock: SessionClock, last_session: str | None) -> bool:
    """Whether ``before_trading_start`` is due: not run this session and past 8:45 ET."""
    return last_session != clock.label and clock.now >= clock.open - BEFORE_OPEN
