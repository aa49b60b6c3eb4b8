"""The monthly momentum factor as pure numpy/pandas: scores, picks and run dates.

Shared by the zipline Pipeline (:mod:`livedesk.backend.momentum.pipeline`), the live
strategy and the ``run_algorithm`` backtest, so all three rank and pick the same way.

**The factor.** For an asset with the window ``p[0] .. p[252]`` of its last 253 daily closes
(``p[-1]`` is the close of the session before the run date — the month-end close)::

    r_12_1   = p[-22] / p[0] - 1        # 12 months back to 1 month back (252 -> 21 sessions)
    r_1      = p[-1] / p[-22] - 1       # the most recent month (21 sessions)
    sigma    = std(p[1:] / p[:-1] - 1, ddof=1) * sqrt(252)   # annualised daily-return vol
    momentum = (r_12_1 - r_1) / sigma

**Which volatility, and why.** ``sigma`` is the *textbook realised volatility*: the
standard deviation of the 252 daily simple returns inside the same 12-month window,
annualised (the scaling does not change ranks; it makes the value a return per unit of
annual risk). The common Pipeline recipe divides by the dispersion of overlapping 126-day
returns instead; we do not, because (a) overlapping 126-day returns are strongly
autocorrelated, so their standard deviation is a noisy estimate dominated by a handful of
independent observations; (b) it grows with the *trend* itself — a stock rising steadily
has widely spread 126-day returns — so it penalises exactly the persistent winners the
factor looks for; and (c) it needs 377 sessions of history (252 + 126 - 1) instead of 253,
which costs half a year of run dates on a fresh listing or a short data set.

An asset with any missing close in the window (listed less than 253 sessions before the
run date) or a zero volatility has no score (NaN) and is not picked.

**Universe and picks.** The K assets (default 500) with the highest 30-session average
dollar volume (``mean(close * volume)``, zipline's ``AverageDollarVolume``) on the run
date; among those with a score, the N highest (default 10) are bought and the N lowest
sold short, each at weight ``1 / N / 2`` (longs +, shorts -): gross 1, net 0. Ties are
broken by symbol so the picks are deterministic.

**Run date.** A pipeline row for session D sees bars through D-1, so the factor is
computed for the session *after* the last session of the month: it ranks on the month-end
close.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from livedesk.backend.bundles.calendar import xnys_calendar

YEAR = 252
MONTH = 21
WINDOW = YEAR + 1
"""Closes in the factor's window: 252 sessions back from the last close, inclusive."""
ADV_WINDOW = 30
DEFAULT_TOP_K = 500
DEFAULT_N = 10


class FactorDataError(RuntimeError):
    """The factor cannot be computed on the data: the run aborts, nothing is traded."""


def momentum_scores(close: np.ndarray) -> np.ndarray:
    """The factor for a ``(WINDOW, assets)`` array of closes (oldest first); NaN when undefined."""
    close = np.asarray(close, dtype=float)
    if close.shape[0] != WINDOW:
        raise ValueError(f"expected {WINDOW} closes per asset, got {close.shape[0]}")
    with np.errstate(divide="ignore", invalid="ignore"):
        r_12_1 = close[-MONTH - 1] / close[0] - 1.0
        r_1 = close[-1] / close[-MONTH - 1] - 1.0
        daily = close[1:] / close[:-1] - 1.0
        sigma = np.std(daily, axis=0, ddof=1) * np.sqrt(YEAR)
        score = (r_12_1 - r_1) / sigma
    complete = np.isfinite(close).all(axis=0) & (sigma > 0)
    return np.where(complete & np.isfinite(score), score, np.nan)


@dataclass(frozen=True)
class Picks:
    """The longs, shorts and target weights of one run date."""

    run_date: pd.Timestamp
    longs: tuple[Hashable, ...]
    shorts: tuple[Hashable, ...]
    weights: dict[Hashable, float]
    scores: dict[Hashable, float]
    universe: int
    scored: int

    def describe(self, label=str) -> str:
        """One line: the run date, the universe and the names picked."""
        return (
            f"{self.run_date:%Y-%m-%d}: {self.scored}/{self.universe} scored; "
            f"long {', '.join(label(x) for x in self.longs)}; "
            f"short {', '.join(label(x) for x in self.shorts)}"
        )


def pick(frame: pd.DataFrame, run_date: pd.Timestamp, n: int = DEFAULT_N, label=str) -> Picks:
    """Top-``n`` longs and bottom-``n`` shorts by ``frame["momentum"]``, weight ``1/n/2`` each.

    ``frame`` is one run date's pipeline output (one row per asset of the universe).
    Raises FactorDataError when the universe is empty or fewer than ``2n`` assets have a
    score — never an empty or one-sided book.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    day = f"{pd.Timestamp(run_date):%Y-%m-%d}"
    if frame.empty:
        raise FactorDataError(
            f"the pipeline returned no asset for {day}: no asset of the bundle is alive on "
            "that date (bundle ends too early, or every asset's end date is before it)"
        )
    scores = frame["momentum"].astype(float)
    scored = scores[np.isfinite(scores)]
    if len(scored) < 2 * n:
        raise FactorDataError(
            f"only {len(scored)} of {len(frame)} assets have a momentum score for {day} "
            f"(need {2 * n}): the factor needs {WINDOW} sessions of closes before the run date"
        )
    ordered = sorted(scored.items(), key=lambda kv: (-kv[1], label(kv[0])))
    longs = tuple(k for k, _ in ordered[:n])
    shorts = tuple(k for k, _ in ordered[::-1][:n])
    w = 1.0 / n / 2.0
    weights = {k: w for k in longs} | {k: -w for k in shorts}
    return Picks(
        pd.Timestamp(run_date),
        longs,
        shorts,
        weights,
        {k: float(scored[k]) for k in (*longs, *shorts)},
        len(frame),
        len(scored),
    )


# ---- run dates ----------------------------------------------------------------------------
def month_end_sessions(sessions: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The sessions that are the last of their calendar month (within ``sessions``)."""
    s = pd.DatetimeIndex(sessions)
    if len(s) == 0:
        return s
    month = s.year * 12 + s.month
    last = np.append(month[1:] != month[:-1], True)
    return s[last]


def latest_month_end(now: dt.datetime) -> pd.Timestamp:
    """The last session of a month whose close is at or before ``now`` (tz-aware)."""
    cal = xnys_calendar()
    t = pd.Timestamp(now)
    if t.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = t.tz_convert("America/New_York")
    year, month = local.year, local.month
    for _ in range(3):
        month_end = pd.Timestamp(year, month, 1) + pd.offsets.MonthEnd(0)
        if month_end <= cal.last_session:
            session = cal.date_to_session(month_end, direction="previous")
            if cal.session_close(session) <= t:
                return session
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    raise ValueError(f"no completed month-end session before {now}")


def run_date_after(month_end: pd.Timestamp) -> pd.Timestamp:
    """The session after ``month_end``: the pipeline row that sees the month-end close."""
    return xnys_calendar().next_session(pd.Timestamp(month_end))
