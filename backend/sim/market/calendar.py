"""The XNYS calendar of the simulated gateway and ``--start`` times.

The simulation trades XNYS sessions from ``exchange_calendars`` (real holidays and early
closes).  :func:`xnys` hands out a calendar whose bounds cover the dates asked for, so a demo
can run on for years past the library's default one-year horizon.  :func:`parse_start`
turns the ``--start`` text (``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM``, New York time) into the
first simulated instant and :func:`start_session` names the session the market starts on.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import pandas as pd

NEW_YORK = ZoneInfo("America/New_York")
_START = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?$")
_AHEAD_YEARS = 5  # a calendar reaches this far past the last date asked for


@lru_cache(maxsize=4)
def _calendar(first_year: int, last_year: int) -> xcals.ExchangeCalendar:
    return xcals.get_calendar(
        "XNYS", start=pd.Timestamp(f"{first_year}-01-01"), end=pd.Timestamp(f"{last_year}-12-31")
    )


def xnys(first: dt.date, last: dt.date | None = None) -> xcals.ExchangeCalendar:
    """An XNYS calendar from the year of ``first`` through several years past ``last``
    (default: ``first``); calendars are cached by their year bounds."""
    last = max(last or first, first)
    return _calendar(first.year, last.year + _AHEAD_YEARS)


def parse_start(value: str | dt.datetime | dt.date) -> tuple[dt.datetime, bool]:
    """``--start`` as an aware New York datetime, and whether a time of day was given.

    Accepts ``YYYY-MM-DD`` and ``YYYY-MM-DDTHH:MM`` (a space also separates them), a
    ``date`` or a ``datetime`` (naive ones are New York time).  Raises ``ValueError`` with a
    message naming the expected form.
    """
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=NEW_YORK)
        return when.astimezone(NEW_YORK), True
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), NEW_YORK), False
    m = _START.match(str(value).strip())
    if not m:
        raise ValueError(f"--start must be YYYY-MM-DD or YYYY-MM-DDTHH:MM, got {value!r}")
    year, month, day, hour, minute = (int(g) if g is not None else None for g in m.groups())
    try:
        when = dt.datetime(year, month, day, hour or 0, minute or 0, tzinfo=NEW_YORK)
    except ValueError as exc:
        raise ValueError(f"--start {value!r} is not a valid date and time: {exc}") from exc
    return when, hour is not None


def start_session(value: str | dt.datetime | dt.date) -> tuple[dt.date, float]:
    """The market's first session and the clock's first instant (epoch seconds) for ``--start``.

    A date alone starts at the open of that day's session, or of the next session when the
    day is a weekend or holiday.  A date and time start at that instant, on that day's session
    when the day is one (before its open the market is in its pre-open), otherwise on the
    session before it (the market is closed overnight and opens at the next session).
    """
    when, timed = parse_start(value)
    cal = xnys(when.date() - dt.timedelta(days=31))
    day = pd.Timestamp(when.date())
    if not cal.first_session <= day <= cal.last_session:
        raise ValueError(f"--start {when:%Y-%m-%d} is outside the XNYS calendar")
    if not timed:
        session = cal.date_to_session(day, direction="next")
        return session.date(), cal.session_open(session).timestamp()
    session = cal.date_to_session(day, direction="previous")
    return session.date(), when.timestamp()


def resume_point(saved: float) -> tuple[dt.date, float]:
    """Where a restarted gateway's clock resumes after being saved at ``saved`` (epoch):
    the session the market restarts on and the clock's first instant, never before ``saved``.

    Inside a session's regular hours the clock resumes exactly where it stopped; outside them
    it resumes at the next open, on the session it stopped in, so the gateway's own session
    cycle still runs that session's close (DAY orders expire, expiries settle) and the roll.
    """
    when = dt.datetime.fromtimestamp(saved, NEW_YORK)
    cal = xnys(when.date() - dt.timedelta(days=31))
    session = cal.date_to_session(pd.Timestamp(when.date()), direction="previous")
    opens_at = cal.session_open(session).timestamp()
    closes_at = cal.session_close(session).timestamp()
    if opens_at <= saved < closes_at:
        return session.date(), saved
    if saved < opens_at:  # the pre-open of a session day
        return session.date(), opens_at
    following = cal.next_session(session)
    return session.date(), max(saved, cal.session_open(following).timestamp())


class SessionWindow:
    """The XNYS sessions a market knows: its history, the current session and sessions
    generated ahead of it, with their opens and lengths.  :meth:`advance` makes the next one
    current; :meth:`extend` generates more ahead (the calendar object widens as needed)."""

    def __init__(self, session: dt.date, history: int) -> None:
        self.calendar = xnys(session - dt.timedelta(days=history * 3 // 2 + 40), session)
        current = self.calendar.date_to_session(pd.Timestamp(session), direction="previous")
        self.index = history  # of the current session in ``all``
        self.all = self.calendar.sessions_window(current, -(history + 1))
        self._refresh()

    @property
    def sessions(self) -> pd.DatetimeIndex:
        """The history sessions and the current one (last)."""
        return self.all[: self.index + 1]

    def day_of(self, session: dt.date) -> int | None:
        """Index of ``session`` in ``all``, or None."""
        return self._day_of.get(session)

    def span(self, day: int) -> tuple[float, int]:
        """Open (epoch seconds) and number of minutes of session number ``day``."""
        return self._spans[day]

    def extend(self, count: int) -> None:
        """Know ``count`` sessions from the first history session on."""
        first = self.all[0]
        if self.calendar.sessions.get_loc(first) + count > len(self.calendar.sessions):
            self.calendar = xnys(first.date(), self.calendar.last_session.date())
        self.all = self.calendar.sessions_window(first, count)
        self._refresh()

    def advance(self) -> None:
        """Make the next session current (call :meth:`extend` first if it is the last)."""
        if self.index + 1 >= len(self.all):
            raise IndexError("no session generated after the current one")
        self.index += 1

    def _refresh(self) -> None:
        self._day_of = {ts.date(): i for i, ts in enumerate(self.all)}
        opens = self.calendar.opens.loc[self.all].values.astype("M8[s]").astype("i8")
        closes = self.calendar.closes.loc[self.all].values.astype("M8[s]").astype("i8")
        self._spans = list(
            zip(opens.astype(float).tolist(), ((closes - opens) // 60).tolist(), strict=True)
        )
