"""Exchange-calendar schedules: pure functions of time, tz- and DST-correct.

Every schedule answers ``next_run(after)`` — the first run strictly after ``after`` — for a
tz-aware datetime, from the exchange's session table (``exchange_calendars``: holidays,
early closes and DST are the calendar's, never hard-coded hours). The controller feeds it
the **gateway's** clock, not the wall clock. Returned times are in New York time.

* :class:`Monthly` — ``offset_minutes`` after the close of the last session of each month.
* :class:`Intraday` — every ``interval`` seconds from the open during regular hours, plus
  one last run ``flatten_before_close_min`` minutes before the close (the flatten run).
* :class:`Event` — a trigger polled every ``poll_interval`` seconds (during regular hours
  unless ``market_hours=False``).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import numpy as np

NEW_YORK = ZoneInfo("America/New_York")


@runtime_checkable
class Schedule(Protocol):
    """When a strategy runs."""

    def describe(self) -> str:
        """A short human description (for tables)."""
        ...

    def next_run(self, after: dt.datetime) -> dt.datetime | None:
        """The first run strictly after ``after`` (tz-aware), or None when there is none."""
        ...


class Sessions:
    """One exchange calendar's sessions as epoch-second arrays (fast ``searchsorted``)."""

    def __init__(self, name: str) -> None:
        import exchange_calendars as xcals

        cal = xcals.get_calendar(name)
        self.name = name
        self.dates = [d.date() for d in cal.schedule.index]
        self.opens = _epochs(cal.schedule["open"])
        self.closes = _epochs(cal.schedule["close"])

    def index_at_or_after(self, t: float) -> int:
        """Index of the session in progress at ``t`` or, if none, the next one."""
        return int(np.searchsorted(self.closes, t, side="right"))

    def session_at(self, t: float) -> int | None:
        """Index of the session whose regular hours contain ``t`` (open <= t < close)."""
        i = self.index_at_or_after(t)
        if i < len(self.opens) and self.opens[i] <= t < self.closes[i]:
            return i
        return None

    def last_of_month(self, year: int, month: int) -> int:
        """Index of the last session of a calendar month."""
        nxt = dt.date(year + month // 12, month % 12 + 1, 1)
        i = int(np.searchsorted(self._date_ordinals, nxt.toordinal(), side="left")) - 1
        if i < 0 or (self.dates[i].year, self.dates[i].month) != (year, month):
            raise ValueError(f"{self.name} has no session in {year}-{month:02d}")
        return i

    @functools.cached_property
    def _date_ordinals(self) -> np.ndarray:
        return np.array([d.toordinal() for d in self.dates], dtype=np.int64)

    def open_dt(self, i: int) -> dt.datetime:
        """Open of session ``i`` in New York time."""
        return dt.datetime.fromtimestamp(int(self.opens[i]), NEW_YORK)

    def close_dt(self, i: int) -> dt.datetime:
        """Close of session ``i`` in New York time."""
        return dt.datetime.fromtimestamp(int(self.closes[i]), NEW_YORK)


def _epochs(column) -> np.ndarray:
    naive = column.dt.tz_convert("UTC").dt.tz_localize(None)
    return naive.to_numpy().astype("datetime64[s]").astype(np.int64)


@functools.lru_cache(maxsize=8)
def sessions(calendar: str = "XNYS") -> Sessions:
    """The (cached) session table of ``calendar``."""
    return Sessions(calendar)


def _epoch(t: dt.datetime) -> float:
    if t.tzinfo is None:
        raise ValueError(f"schedule times must be timezone-aware, got {t!r}")
    return t.timestamp()


def _ny(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, NEW_YORK)


def is_open(at: dt.datetime, calendar: str = "XNYS") -> bool:
    """Whether ``at`` falls in the regular hours of a ``calendar`` session."""
    return sessions(calendar).session_at(_epoch(at)) is not None


@dataclass(frozen=True)
class Monthly:
    """``offset_minutes`` after the close of the last session of every month.

    A run missed while the process was down stays valid until the close of the next
    session (``valid_sessions`` after the month end); :meth:`missed` reports it.
    """

    offset_minutes: float = 30.0
    calendar: str = "XNYS"
    valid_sessions: int = 1

    def describe(self) -> str:
        return f"monthly, month-end close +{self.offset_minutes:g} min ({self.calendar})"

    def run_in(self, year: int, month: int) -> dt.datetime:
        """The run of one calendar month."""
        s = sessions(self.calendar)
        i = s.last_of_month(year, month)
        return _ny(float(s.closes[i]) + self.offset_minutes * 60)

    def next_run(self, after: dt.datetime) -> dt.datetime | None:
        t = _epoch(after)
        local = after.astimezone(NEW_YORK)
        y, m = local.year, local.month
        for _ in range(3):  # this month, else the next (an offset can spill a month over)
            try:
                run = self.run_in(y, m)
            except (ValueError, IndexError):
                return None
            if run.timestamp() > t:
                return run
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return None

    def previous_run(self, at: dt.datetime) -> dt.datetime | None:
        """The latest run at or before ``at``."""
        t = _epoch(at)
        local = at.astimezone(NEW_YORK)
        y, m = local.year, local.month
        for _ in range(3):
            try:
                run = self.run_in(y, m)
            except (ValueError, IndexError):
                return None
            if run.timestamp() <= t:
                return run
            y, m = (y - 1, 12) if m == 1 else (y, m - 1)
        return None

    def valid_until(self, run: dt.datetime) -> dt.datetime:
        """Until when a (missed) run may still be made: the close of the next session(s)."""
        s = sessions(self.calendar)
        i = s.index_at_or_after(run.timestamp()) + self.valid_sessions - 1
        return s.close_dt(min(i, len(s.closes) - 1))

    def missed(self, last_run: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
        """The due run that has not been made (``last_run`` before it) and is still valid."""
        due = self.previous_run(now)
        if due is None or (last_run is not None and last_run >= due):
            return None
        return due if now < self.valid_until(due) else None


@dataclass(frozen=True)
class Intraday:
    """Every ``interval`` seconds from the open, during regular hours only.

    Runs fall at ``open + k * interval`` (k >= 1) strictly before the flatten time
    ``close - flatten_before_close_min``; when that is > 0 one more run is made at the
    flatten time itself (the strategy goes flat then). Early closes and DST come from the
    calendar.
    """

    interval: float = 60.0
    calendar: str = "XNYS"
    flatten_before_close_min: float = 5.0

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise ValueError(f"interval must be > 0 seconds, got {self.interval}")
        if self.flatten_before_close_min < 0:
            raise ValueError("flatten_before_close_min must be >= 0")

    def describe(self) -> str:
        flat = (
            f", flat {self.flatten_before_close_min:g} min before close"
            if self.flatten_before_close_min
            else ""
        )
        return f"every {self.interval:g} s in regular hours ({self.calendar}){flat}"

    def flatten_time(self, session_close: float) -> float:
        """Epoch of the flatten run of a session closing at ``session_close``."""
        return session_close - self.flatten_before_close_min * 60

    def next_run(self, after: dt.datetime) -> dt.datetime | None:
        s = sessions(self.calendar)
        t = _epoch(after)
        i = s.index_at_or_after(t)
        while i < len(s.opens):
            open_, close = float(s.opens[i]), float(s.closes[i])
            flat = self.flatten_time(close)
            k = max(1, int((t - open_) // self.interval) + 1)
            run = open_ + k * self.interval
            if run < flat and run > t:
                return _ny(run)
            if self.flatten_before_close_min and flat > t and flat > open_:
                return _ny(flat)
            i += 1
        return None

    def phase(self, at: dt.datetime) -> str:
        """``"open"`` (trading), ``"flatten"`` (from the flatten time to the close) or ``"closed"``."""
        s = sessions(self.calendar)
        t = _epoch(at)
        i = s.session_at(t)
        if i is None:
            return "closed"
        return "flatten" if t >= self.flatten_time(float(s.closes[i])) else "open"

    def session_bounds(self, at: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
        """(open, close) of the session containing ``at``, or None when closed."""
        s = sessions(self.calendar)
        i = s.session_at(_epoch(at))
        return None if i is None else (s.open_dt(i), s.close_dt(i))


Trigger = Callable[[Any], Awaitable[bool]]


@dataclass(frozen=True)
class Event:
    """A trigger polled every ``poll_interval`` seconds; the strategy runs when it fires.

    ``trigger(ctx)`` is awaited by the controller at each poll (None: always run); with
    ``market_hours`` (default) polls fall only in regular hours, the first one
    ``poll_interval`` after the open.
    """

    poll_interval: float = 300.0
    trigger: Trigger | None = None
    calendar: str = "XNYS"
    market_hours: bool = True

    def __post_init__(self) -> None:
        if not self.poll_interval > 0:
            raise ValueError(f"poll_interval must be > 0 seconds, got {self.poll_interval}")

    def describe(self) -> str:
        hours = f" in regular hours ({self.calendar})" if self.market_hours else ""
        return f"event, polled every {self.poll_interval:g} s{hours}"

    def next_run(self, after: dt.datetime) -> dt.datetime | None:
        t = _epoch(after) + self.poll_interval
        if not self.market_hours:
            return _ny(t)
        s = sessions(self.calendar)
        i = s.index_at_or_after(t)
        while i < len(s.opens):
            if s.opens[i] <= t < s.closes[i]:
                return _ny(t)
            first = float(s.opens[i]) + self.poll_interval
            if first < s.closes[i]:
                return _ny(max(first, t))
            i += 1
        return None
