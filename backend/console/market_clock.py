"""The exchange clock of the header: New York time and NYSE market status.

Status is ``pre-open`` (04:00 New York until the open of a session day), ``open`` (between
the session's open and close, early closes included) or ``closed``. Sessions come from
``exchange_calendars`` (XNYS, real holidays), loaded once for a window around the first
query and extended when time leaves it.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
PRE_OPEN_HOUR = 4


@dataclass(frozen=True)
class MarketStatus:
    """What the header shows: exchange time, status and the time to the next transition."""

    now: dt.datetime
    status: str  # "pre-open" | "open" | "closed"
    next_change: float | None  # seconds to the close (open) or to the open (otherwise)

    def label(self) -> str:
        """E.g. ``"10:31:07 ET open, closes in 5h29m"``."""
        clock = self.now.strftime("%H:%M:%S ET")
        if self.next_change is None:
            return f"{clock} {self.status}"
        verb = "closes" if self.status == "open" else "opens"
        return f"{clock} {self.status}, {verb} in {format_duration(self.next_change)}"


def format_duration(seconds: float) -> str:
    """``"2d03h"``, ``"5h29m"``, ``"12m05s"`` or ``"42s"``."""
    s = max(0, int(seconds))
    days, s = divmod(s, 86_400)
    hours, s = divmod(s, 3_600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{s:02d}s"
    return f"{s}s"


class MarketClock:
    """NYSE sessions around a moment, and the status at any epoch second."""

    def __init__(self, sessions: list[tuple[float, float]] | None = None) -> None:
        self._sessions: list[tuple[float, float]] = sorted(sessions) if sessions else []
        self._span: tuple[float, float] | None = (
            (self._sessions[0][0], self._sessions[-1][1]) if sessions else None
        )
        self._fixed = sessions is not None

    def _load(self, t: float) -> None:
        import exchange_calendars as xcals
        import pandas as pd

        cal = xcals.get_calendar("XNYS")
        day = pd.Timestamp(dt.datetime.fromtimestamp(t, NEW_YORK).date())
        lo = max(cal.first_session, day - pd.Timedelta(days=14))
        hi = min(cal.last_session, day + pd.Timedelta(days=14))
        sessions = cal.sessions_in_range(lo, hi)
        opens = cal.opens.loc[sessions]
        closes = cal.closes.loc[sessions]
        self._sessions = [
            (o.timestamp(), c.timestamp()) for o, c in zip(opens, closes, strict=True)
        ]
        self._span = (lo.timestamp(), hi.timestamp() + 86_400)

    def status(self, t: float) -> MarketStatus:
        """Market status at epoch ``t``."""
        if not self._fixed and (self._span is None or not self._span[0] <= t < self._span[1]):
            self._load(t)
        now = dt.datetime.fromtimestamp(t, NEW_YORK)
        opens = [o for o, _ in self._sessions]
        i = bisect.bisect_right(opens, t) - 1
        if i >= 0 and t < self._sessions[i][1]:
            return MarketStatus(now, "open", self._sessions[i][1] - t)
        nxt = self._sessions[i + 1][0] if i + 1 < len(self._sessions) else None
        if nxt is not None:
            open_day = dt.datetime.fromtimestamp(nxt, NEW_YORK)
            pre = open_day.replace(hour=PRE_OPEN_HOUR, minute=0, second=0)
            if pre.timestamp() <= t:
                return MarketStatus(now, "pre-open", nxt - t)
        return MarketStatus(now, "closed", None if nxt is None else nxt - t)

    def session_start(self, t: float) -> float:
        """Open of the session under way at ``t``, else of the last one before it."""
        self.status(t)
        opens = [o for o, _ in self._sessions if o <= t]
        return opens[-1] if opens else t
