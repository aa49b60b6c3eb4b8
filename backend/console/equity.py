"""Equity and drawdown series of the Equity pane: full journal history, window, downsampled.

:class:`EquitySeries` loads a key's NetLiquidation samples from the journal once, then
appends the risk engine's latest sample whenever it changes. :meth:`EquitySeries.view`
cuts the window (session / week / all) and min/max-downsamples it to the pane width with
:func:`livedesk.backend.risk.downsample.downsample_minmax`: equity keeps each bucket's low and
high (and its first sample's time), drawdown each bucket's low, so the trough always shows.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from livedesk.backend.risk.downsample import downsample_minmax
from livedesk.backend.risk.engine import series_name

WINDOWS = ("session", "week", "all")
WEEK = 7 * 86_400.0


@dataclass(frozen=True)
class EquityView:
    """What the pane draws: points and the numbers beside them."""

    key: str
    window: str
    equity: list[float]
    drawdown: list[float]
    last: float
    peak: float
    current_dd: float
    max_dd: float
    samples: int
    times: list[float] = field(default_factory=list)
    """Broker-clock time of each point (its bucket's first sample)."""
    equity_lo: list[float] = field(default_factory=list)
    """Each bucket's low (``equity`` holds its high): a line chart draws low..high."""
    first: float = math.nan
    """The window's first equity: the chart's percent axis is measured from it."""


class EquitySeries:
    """One key's (time, equity) samples in memory."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.t: list[float] = []
        self.v: list[float] = []

    def load(self, journal) -> None:
        """Read the key's full history from the journal."""
        s = journal.samples(series_name(self.key))
        ok = np.isfinite(s.nlv) & (s.nlv > 0)
        self.t = s.t[ok].tolist()
        self.v = s.nlv[ok].tolist()

    def add(self, t: float, value: float) -> bool:
        """Append a sample newer than the last one; False when it is not new or not usable."""
        if not (math.isfinite(t) and math.isfinite(value) and value > 0):
            return False
        if self.t and t <= self.t[-1]:
            return False
        self.t.append(float(t))
        self.v.append(float(value))
        return True

    def view(self, window: str, width: int, now: float, session_start: float) -> EquityView:
        """The window's equity and drawdown, ``width`` points at most."""
        if window not in WINDOWS:
            raise ValueError(f"unknown window {window!r}; one of {', '.join(WINDOWS)}")
        start = {"session": session_start, "week": now - WEEK, "all": -math.inf}[window]
        i = bisect.bisect_left(self.t, start)
        values = np.asarray(self.v[i:], dtype=np.float64)
        if not values.size:
            nan = math.nan
            return EquityView(self.key, window, [], [], nan, nan, nan, nan, 0)
        peaks = np.maximum.accumulate(values)
        dd = values / peaks - 1.0
        width = max(1, width)
        eq_lo, eq_hi = downsample_minmax(values, width)
        dd_lo, _ = downsample_minmax(dd, width)
        times = np.asarray(self.t[i:], dtype=np.float64)
        if times.size > width:
            times = times[(np.arange(width, dtype=np.int64) * times.size) // width]
        return EquityView(
            key=self.key,
            window=window,
            equity=eq_hi.tolist(),
            drawdown=dd_lo.tolist(),
            last=float(values[-1]),
            peak=float(peaks[-1]),
            current_dd=float(dd[-1]),
            max_dd=float(dd.min()),
            samples=int(values.size),
            times=times.tolist(),
            equity_lo=eq_lo.tolist(),
            first=float(values[0]),
        )
