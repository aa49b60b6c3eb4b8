"""Historical bars for ``reqHistoricalData``, built from the market model's own path.

Bars of one minute up to one hour are aggregated from the 1-minute path of each session;
daily, weekly and monthly bars from the daily history, with the current session's bar built
from the intraday path up to "now" — so history, ticks and fills always agree.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from livedesk.backend.sim.market import microstructure
from livedesk.backend.sim.market.model import MarketModel

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC

_BAR_SIZES = {
    **microstructure.SECOND_BAR_SIZES,
    "1 min": 60,
    "2 mins": 120,
    "3 mins": 180,
    "5 mins": 300,
    "10 mins": 600,
    "15 mins": 900,
    "20 mins": 1200,
    "30 mins": 1800,
    "1 hour": 3600,
    "2 hours": 7200,
    "3 hours": 10800,
    "4 hours": 14400,
    "8 hours": 28800,
    "1 day": 86400,
    "1 week": 7 * 86400,
    "1 month": 30 * 86400,
}
_DURATION = re.compile(r"^\s*(\d+)\s+([SDWMY])\s*$")
WHAT_TO_SHOW = frozenset({"TRADES", "MIDPOINT"})
_MAX_CACHED_SESSIONS = 256
"""(instrument, session) minute caches kept before the past sessions' ones are dropped."""


class HistoryError(ValueError):
    """A historical-data request the gateway answers with IB error 162/321."""


@dataclass(frozen=True)
class Bar:
    """One OHLCV bar; ``start`` is epoch seconds (daily bars: the session's date at 00:00 UTC)."""

    start: float
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    count: int
    daily: bool = False

    def date_text(self, format_date: int) -> str:
        """The bar's date as TWS formats it (1: text in New York time, 2: epoch seconds)."""
        if self.daily:
            return dt.datetime.fromtimestamp(self.start, UTC).strftime("%Y%m%d")
        if format_date == 2:
            return str(int(self.start))
        return dt.datetime.fromtimestamp(self.start, NEW_YORK).strftime(
            "%Y%m%d %H:%M:%S America/New_York"
        )

    def fields(self, format_date: int, midpoint: bool) -> tuple:
        """The bar as the eight historicalData fields."""
        if midpoint:
            return (
                self.date_text(format_date),
                self.open,
                self.high,
                self.low,
                self.close,
                -1,
                -1,
                -1,
            )
        return (
            self.date_text(format_date),
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
            self.wap,
            self.count,
        )


def bar_seconds(bar_size: str) -> int:
    """Seconds in an IB bar-size string such as ``"5 mins"``."""
    key = " ".join(bar_size.split())
    if key not in _BAR_SIZES:
        raise HistoryError(f"Invalid bar size: {bar_size!r}")
    return _BAR_SIZES[key]


def duration_seconds(duration: str) -> tuple[int, str]:
    """Parse ``"N S|D|W|M|Y"`` into (N, unit)."""
    m = _DURATION.match(duration or "")
    if not m or int(m.group(1)) <= 0:
        raise HistoryError(f"Invalid duration: {duration!r}")
    return int(m.group(1)), m.group(2)


def parse_end(end: str, now: float) -> float:
    """Parse ``endDateTime`` ('' = now; 'YYYYmmdd HH:MM:SS [tz]' or 'YYYYmmdd-HH:MM:SS' UTC)."""
    end = (end or "").strip()
    if not end:
        return now
    try:
        if "-" in end[:9] and len(end) >= 17:
            t = dt.datetime.strptime(end[:17], "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
        else:
            parts = end.split(" ")
            tz = ZoneInfo(parts[2]) if len(parts) > 2 else NEW_YORK
            t = dt.datetime.strptime(" ".join(parts[:2]), "%Y%m%d %H:%M:%S").replace(tzinfo=tz)
    except (ValueError, KeyError) as exc:
        raise HistoryError(f"Invalid endDateTime: {end!r}") from exc
    return t.timestamp()


class HistoryBuilder:
    """Builds bar lists over the market model."""

    def __init__(self, market: MarketModel) -> None:
        self.market = market
        self._range_cache: dict[tuple[int, int], tuple[float, float, float]] = {}
        self._range_session = 0.0  # the open of the session the cached ranges belong to
        # per instrument, its session's first open and running high / low by minute
        self._range_runs: dict[int, tuple[list[float], list[float], list[float]]] = {}
        self._minutes: dict[tuple[int, dt.date], _Minutes] = {}
        self._daily_rows: dict[int, list[tuple]] = {}
        self._quote_minutes: dict[tuple[int, dt.date], np.ndarray] = {}
        self._token: tuple[float, int] = (math.nan, -1)  # (session open, sessions generated)

    def bars(
        self,
        con_id: int,
        end: float,
        duration: str,
        bar_size: str,
        now: float,
        what: str = "TRADES",
    ) -> list[Bar]:
        """Bars ending at or before ``end`` and covering ``duration`` (``what``: TRADES and
        MIDPOINT share the path's bars; BID_ASK: :meth:`quote_bars`)."""
        step = bar_seconds(bar_size)
        n, unit = duration_seconds(duration)
        end = min(end, now)
        if what == "BID_ASK":
            if step != 60:
                raise HistoryError("BID_ASK history is served in 1 min bars only")
            return self.quote_bars(con_id, end, n, unit)
        if step < 60:
            return self._seconds(con_id, end - n if unit == "S" else -math.inf, end, step, now)
        if step >= 86400:
            return self._daily(con_id, end, n, unit, step, now)
        sessions = self._sessions_back(end, n, unit)
        start = end - n if unit == "S" else -math.inf
        out: list[Bar] = []
        for day in sessions:
            out += self._intraday(con_id, day, step, start, end)
        return out

    def quote_bars(self, con_id: int, end: float, n: int, unit: str) -> list[Bar]:
        """BID_ASK 1-minute bars of an option (:meth:`OptionPricer.quote_minutes`: open = the
        bid and close = the ask at each bar's start), completed bars up to ``end``."""
        pricer = self.market.options_pricer
        inst = self.market.registry.by_con_id(con_id)
        if pricer is None or inst is None or inst.sec_type != "OPT":
            raise HistoryError("BID_ASK history is served for options only")
        self._check_session()
        start = end - n if unit == "S" else -math.inf
        out: list[Bar] = []
        for day in self._sessions_back(end, n, unit):
            key = (con_id, day)
            rows = self._quote_minutes.get(key)
            if rows is None:
                if len(self._quote_minutes) >= _MAX_CACHED_SESSIONS:
                    self._quote_minutes.clear()
                rows = self._quote_minutes[key] = pricer.quote_minutes(inst, day)
            for r in rows:
                t = float(r["time"])
                if t >= start and t + 60 <= end:
                    o, h, lo, c = (float(r[k]) for k in ("open", "high", "low", "close"))
                    out.append(Bar(t, o, h, lo, c, -1, -1, -1))
        return out

    def day_range(
        self, con_id: int, now: float, last: float | None = None
    ) -> tuple[float, float, float]:
        """Open, high and low of the current session up to ``now`` (cached per minute);
        ``last``: the last price at ``now`` when the caller has it (the quote's)."""
        start = self.market.session_open()
        minute = int((now - start) // 60)
        key = (con_id, minute)
        if self._range_session != start:  # a new session: the old ranges are dropped
            self._range_session = start
            self._range_cache.clear()
            self._range_runs.clear()
        hit = self._range_cache.get(key)
        if hit is None:
            runs = self._range_runs.get(con_id)
            if runs is None:  # the session's minutes once, not once a minute
                mb = self.market.minute_bars(con_id, self.market.session)
                runs = self._range_runs[con_id] = (
                    mb["open"][:1].tolist(),
                    np.maximum.accumulate(mb["high"]).tolist(),
                    np.minimum.accumulate(mb["low"]).tolist(),
                )
            n = min(max(minute, 0), len(runs[1]))  # the minutes finished by now
            if n:
                hit = (runs[0][0], runs[1][n - 1], runs[2][n - 1])
            else:
                hit = (math.nan, -math.inf, math.inf)
            if len(self._range_cache) > 100_000:
                self._range_cache.clear()
            self._range_cache[key] = hit
        if last is None:
            last = self.market.last_price(con_id, now)
        o = hit[0] if not math.isnan(hit[0]) else last
        return o, max(hit[1], last), min(hit[2], last)

    @property
    def cached_sessions(self) -> int:
        """(instrument, session) pairs whose minutes are cached."""
        return len(self._minutes)

    def current_bar(self, con_id: int, bar_size: str, now: float) -> Bar | None:
        """The bar containing ``now`` (for keepUpToDate), built up to now."""
        step = bar_seconds(bar_size)
        if step < 60:
            bars = self._seconds(con_id, now - now % step, now, step, now)
            return bars[-1] if bars else None
        if step >= 86400:
            bars = self._daily(con_id, now, 1, "D", 86400, now)
            return bars[-1] if bars else None
        bars = self._intraday(con_id, self.market.session, step, -math.inf, now, tail_only=True)
        return bars[-1] if bars else None

    # ---- helpers -----------------------------------------------------------------
    def _seconds(self, con_id: int, start: float, end: float, step: int, now: float) -> list[Bar]:
        """Bars under a minute: sampled each second of the current session."""
        return [
            Bar(float(b.start), b.open, b.high, b.low, b.close, b.volume, b.wap, b.count)
            for b in microstructure.second_bars(self.market, con_id, start, end, step, now)
        ]

    def _sessions_back(self, end: float, n: int, unit: str) -> list[dt.date]:
        days = [d.date() for d in self.market.sessions]
        end_day = dt.datetime.fromtimestamp(end, NEW_YORK).date()
        days = [d for d in days if d <= end_day]
        count = {"S": max(1, math.ceil(n / 23400)), "D": n, "W": 5 * n, "M": 21 * n, "Y": 252 * n}[
            unit
        ]
        return days[-count:]

    def _check_session(self) -> None:
        """Drop the cached minutes and daily rows when the session has rolled."""
        token = (self.market.session_open(), self.market.generated)
        if token != self._token:
            self._token = token
            self._minutes.clear()
            self._daily_rows.clear()
            self._quote_minutes.clear()

    def _session_minutes(self, con_id: int, day: dt.date) -> _Minutes:
        """The 1-minute bars of one session as float columns, cached until the session rolls
        (or the market generates new sessions: paths may regenerate)."""
        self._check_session()
        key = (con_id, day)
        hit = self._minutes.get(key)
        if hit is None:
            if len(self._minutes) >= _MAX_CACHED_SESSIONS:  # bound the memory (~150 kB each)
                today = self.market.session
                for k in [k for k in self._minutes if k[1] != today]:
                    del self._minutes[k]
            hit = self._minutes[key] = _Minutes(self.market.minute_bars(con_id, day), day)
        return hit

    def _history_rows(self, con_id: int) -> list[tuple]:
        """The daily history as (date, open, high, low, close, volume) rows, cached like
        the minutes (the history changes only when the session rolls)."""
        self._check_session()
        rows = self._daily_rows.get(con_id)
        if rows is None:
            db = self.market.daily_bars(con_id)
            dates = np.asarray(db["date"]).astype("datetime64[D]")
            rows = self._daily_rows[con_id] = [
                (
                    dates[i],
                    float(db["open"][i]),
                    float(db["high"][i]),
                    float(db["low"][i]),
                    float(db["close"][i]),
                    float(db["volume"][i]),
                )
                for i in range(len(dates))
            ]
        return rows

    def _intraday(
        self,
        con_id: int,
        day: dt.date,
        step: int,
        start: float,
        end: float,
        tail_only: bool = False,
    ) -> list[Bar]:
        """Bars of one session over minutes starting before ``end`` (and ending after
        ``start``).  With no ``start`` the completed bars come from the session's cached
        bars and only the last bar (it may hold the minute in progress) is aggregated;
        ``tail_only`` returns just that last bar."""
        mins = self._session_minutes(con_id, day)
        if start == -math.inf:
            last = int(np.searchsorted(mins.t, end, side="left")) - 1  # last minute before end
            if last < 0:
                return []
            bucket = mins.buckets(step)
            first = int(np.searchsorted(bucket, bucket[last], side="left"))
            if tail_only and last - first < _SCALAR_TAIL:
                return [self._tail_bar(con_id, mins, first, last, end, step)]
            cols = [a[first : last + 1] for a in (mins.t, mins.o, mins.h, mins.lo, mins.c, mins.v)]
            tail = self._aggregate(con_id, cols, end, mins.midnight, step)
            if tail_only:
                return tail
            return self._completed(con_id, mins, step, first) + tail
        keep = (mins.t + 60 > start) & (mins.t < end)
        if not keep.any():
            return []
        cols = [a[keep] for a in (mins.t, mins.o, mins.h, mins.lo, mins.c, mins.v)]
        return self._aggregate(con_id, cols, end, mins.midnight, step)

    def _completed(self, con_id: int, mins: _Minutes, step: int, first: int) -> list[Bar]:
        """The session's bars made only of minutes before index ``first`` (a bucket start)."""
        hit = mins.full.get(step)
        if hit is None:
            cols = [mins.t, mins.o, mins.h, mins.lo, mins.c, mins.v]
            bars = self._aggregate(con_id, cols, math.inf, mins.midnight, step)
            starts = np.unique(mins.buckets(step), return_index=True)[1]
            hit = mins.full[step] = (bars, starts)
        bars, starts = hit
        return bars[: int(np.searchsorted(starts, first, side="left"))]

    def _tail_bar(
        self, con_id: int, mins: _Minutes, first: int, last: int, end: float, step: int
    ) -> Bar:
        """The bar of minutes ``first..last`` (one bucket, fewer than ``_SCALAR_TAIL``),
        the last minute cut at ``end``: :meth:`_aggregate`'s arithmetic on Python floats
        (numpy sums fewer than 8 values left to right too, so the values are identical),
        without its array overhead — keepUpToDate asks for this bar on every pulse."""
        sl = slice(first, last + 1)
        t, o, h, lo, c, v = (
            a[sl].tolist() for a in (mins.t, mins.o, mins.h, mins.lo, mins.c, mins.v)
        )
        if t[-1] + 60 > end:  # the minute in progress: cut it at "now"
            price = self.market.last_price(con_id, end)
            c[-1] = price
            h[-1] = max(o[-1], price)
            lo[-1] = min(o[-1], price)
            v[-1] = v[-1] * max(0.0, min(1.0, (end - t[-1]) / 60))
        vol = 0.0
        weighted = 0.0
        for hi, low, close, size in zip(h, lo, c, v, strict=True):
            vol += size
            weighted += (hi + low + close) / 3 * size
        bucket = int(mins.buckets(step)[last])
        return Bar(
            start=float(max(mins.midnight + bucket * step, t[0])),
            open=float(o[0]),
            high=float(max(h)),
            low=float(min(lo)),
            close=float(c[-1]),
            volume=round(vol),
            wap=round(weighted / vol if vol > 0 else c[-1], 4),
            count=len(t) * 20,
        )

    def _aggregate(
        self, con_id: int, cols: list[np.ndarray], end: float, midnight: float, step: int
    ) -> list[Bar]:
        """Bars of ``step`` seconds from consecutive minutes (``t, o, h, lo, c, v``), the
        last minute cut at ``end`` when it is still in progress."""
        t, o, h, lo, c, v = cols
        if t[-1] + 60 > end:  # the minute in progress: cut it at "now"
            last = self.market.last_price(con_id, end)
            c = c.copy()
            c[-1] = last
            h = h.copy()
            lo = lo.copy()
            h[-1] = max(o[-1], last)
            lo[-1] = min(o[-1], last)
            v = v.copy()
            v[-1] = v[-1] * max(0.0, min(1.0, (end - t[-1]) / 60))
        bucket = ((t - midnight) // step).astype(np.int64)
        keys, firsts = np.unique(bucket, return_index=True)  # buckets are contiguous runs
        ends = [*firsts[1:].tolist(), len(t)]
        bars = []
        for b, i, j in zip(keys.tolist(), firsts.tolist(), ends, strict=True):
            vol = float(v[i:j].sum())
            typical = (h[i:j] + lo[i:j] + c[i:j]) / 3
            wap = float((typical * v[i:j]).sum() / vol) if vol > 0 else float(c[j - 1])
            bars.append(
                Bar(
                    start=float(max(midnight + b * step, t[i])),
                    open=float(o[i]),
                    high=float(h[i:j].max()),
                    low=float(lo[i:j].min()),
                    close=float(c[j - 1]),
                    volume=round(vol),
                    wap=round(wap, 4),
                    count=(j - i) * 20,
                )
            )
        return bars

    def _daily(
        self, con_id: int, end: float, n: int, unit: str, step: int, now: float
    ) -> list[Bar]:
        rows = list(self._history_rows(con_id))
        today = self.market.session
        end_day = np.datetime64(dt.datetime.fromtimestamp(end, NEW_YORK).date())
        if end_day >= np.datetime64(today) and now >= self.market.session_open():
            intr = self._intraday(con_id, today, 86400, -math.inf, now)
            if intr:
                b = intr[0]
                rows.append((np.datetime64(today), b.open, b.high, b.low, b.close, b.volume))
        rows = rows[: bisect.bisect_right(rows, end_day, key=lambda r: r[0])]  # dates ascend
        span_days = {"S": max(1, n // 86400), "D": n, "W": 7 * n, "M": 31 * n, "Y": 366 * n}[unit]
        if unit == "D":
            rows = rows[-n:]
        else:
            first = end_day - np.timedelta64(span_days, "D")
            rows = [r for r in rows if r[0] > first]
        bars = [
            Bar(
                float(
                    (r[0] - np.datetime64("1970-01-01")).astype("timedelta64[s]").astype(np.int64)
                ),
                r[1],
                r[2],
                r[3],
                r[4],
                round(r[5]),
                round((r[2] + r[3] + r[4]) / 3, 4),
                1000,
                daily=True,
            )
            for r in rows
        ]
        if step > 86400:
            bars = _group(bars, step)
        return bars


_SCALAR_TAIL = 8
"""A bar in progress of fewer minutes than this is built with scalar arithmetic."""


class _Minutes:
    """One session's 1-minute bars as float columns, with bucket indices per bar size."""

    def __init__(self, mb: np.ndarray, day: dt.date) -> None:
        self.t, self.o, self.h, self.lo, self.c, self.v = (
            np.asarray(mb[k], dtype=float)
            for k in ("time", "open", "high", "low", "close", "volume")
        )
        self.midnight = dt.datetime.combine(day, dt.time(), NEW_YORK).timestamp()
        self._buckets: dict[int, np.ndarray] = {}
        self.full: dict[int, tuple[list[Bar], np.ndarray]] = {}  # per step: bars, bucket starts

    def buckets(self, step: int) -> np.ndarray:
        """Bucket number of each minute for bars of ``step`` seconds (non-decreasing)."""
        hit = self._buckets.get(step)
        if hit is None:
            hit = self._buckets[step] = ((self.t - self.midnight) // step).astype(np.int64)
        return hit


def _group(bars: list[Bar], step: int) -> list[Bar]:
    """Weekly or monthly bars from daily ones."""
    out: list[Bar] = []
    key_of = (
        (lambda b: dt.date.fromtimestamp(b.start).isocalendar()[:2])
        if step == 7 * 86400
        else (lambda b: dt.datetime.fromtimestamp(b.start, UTC).strftime("%Y%m"))
    )
    groups: dict = {}
    for b in bars:
        groups.setdefault(key_of(b), []).append(b)
    for grp in groups.values():
        vol = sum(b.volume for b in grp)
        out.append(
            Bar(
                grp[0].start,
                grp[0].open,
                max(b.high for b in grp),
                min(b.low for b in grp),
                grp[-1].close,
                vol,
                round(sum(b.wap * b.volume for b in grp) / vol, 4) if vol else grp[-1].close,
                sum(b.count for b in grp),
                daily=True,
            )
        )
    return out
