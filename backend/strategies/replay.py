"""Pure backtest replay cores: positions in, bar and daily returns out (no I/O).

Fill rule: a position decided at the close of bar ``i`` is filled at the **open of bar
i + 1** and held until the open of the bar after the next decision that changes it, so the
return of bar ``j`` is the open-to-open move ``open[j+1] / open[j] - 1`` times the position
held over it (the last bar uses its close). Each change of position costs
``cost_bps * |change| * weight`` of equity at the fill.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

NEW_YORK = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class Replay:
    """Bar returns and the daily returns they compound into."""

    bar_returns: np.ndarray
    held: np.ndarray
    trades: int
    dates: list[dt.date]
    daily: np.ndarray


def replay_positions(
    opens: Sequence[float],
    closes: Sequence[float],
    times: Sequence[float] | pd.DatetimeIndex,
    decided: Sequence[float],
    weight: float = 1.0,
    cost_bps: float = 0.0,
) -> Replay:
    """Returns of holding ``decided[i]`` (a signed fraction of ``weight``) from bar i+1's open."""
    o = np.asarray(opens, dtype=float)
    c = np.asarray(closes, dtype=float)
    d = np.asarray(decided, dtype=float)
    n = len(o)
    if not (len(c) == len(d) == n):
        raise ValueError("opens, closes and decisions differ in length")
    held = np.zeros(n)
    if n > 1:
        held[1:] = d[:-1]  # filled at the next bar's open
    nxt = np.empty(n)
    nxt[:-1] = o[1:]
    if n:
        nxt[-1] = c[-1]
    move = nxt / o - 1.0
    change = np.abs(np.diff(np.concatenate(([0.0], held))))
    bar = held * weight * move - change * weight * cost_bps / 1e4
    dates = _session_dates(times)
    days, daily = daily_compound(dates, bar)
    return Replay(bar, held, int(np.count_nonzero(change)), days, daily)


def _session_dates(times) -> list[dt.date]:
    if isinstance(times, pd.DatetimeIndex):
        idx = times if times.tz is not None else times.tz_localize("UTC")
        return list(idx.tz_convert(NEW_YORK).date)
    return [dt.datetime.fromtimestamp(float(t), NEW_YORK).date() for t in times]


def daily_compound(dates: Sequence[dt.date], bar_returns: np.ndarray) -> tuple[list, np.ndarray]:
    """Compound bar returns into one return per date (dates in order of first appearance)."""
    out_days: list[dt.date] = []
    out: list[float] = []
    growth = 1.0
    current = None
    for day, r in zip(dates, bar_returns, strict=True):
        if day != current:
            if current is not None:
                out.append(growth - 1.0)
            out_days.append(day)
            current, growth = day, 1.0
        growth *= 1.0 + r
    if current is not None:
        out.append(growth - 1.0)
    return out_days, np.asarray(out, dtype=float)


def summary_metrics(daily: np.ndarray) -> dict[str, float]:
    """The risk engine's metric names over daily returns (252 a year), plus totals."""
    from livedesk.backend.risk.metrics import StreamingRiskMetrics

    m = StreamingRiskMetrics(252)
    m.extend(np.asarray(daily, dtype=float))
    out = {k: float(v) for k, v in m.snapshot().items() if k != "n"}
    out["days"] = float(len(daily))
    out["total_return"] = float(np.prod(1.0 + np.asarray(daily)) - 1.0) if len(daily) else 0.0
    return out
