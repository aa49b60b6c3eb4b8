"""Chart axes: a sensible value range, "nice" ticks and their labels (pure, no Textual).

:func:`value_axis` widens a series' range to a floor before it picks ticks, so a tiny move
never fills a chart: the Equity pane never spans less than :data:`EQUITY_MIN_FRACTION` of the
level (0.5 %: $5,000 on $1M, where a $7 dip is a ripple) nor less than
:data:`EQUITY_MIN_DOLLARS`; the drawdown chart never less than :data:`DRAWDOWN_MIN_SPAN`
(0.5 points). A flat series gets the floor centred on it, so it is drawn flat, mid-chart.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

EQUITY_MIN_FRACTION = 0.005
"""The equity axis spans at least 0.5 % of the level."""
EQUITY_MIN_DOLLARS = 100.0
"""…and at least $100 (a small account)."""
DRAWDOWN_MIN_SPAN = 0.005
"""The drawdown axis spans at least 0.5 percentage points below zero."""

_NICE = (1.0, 2.0, 2.5, 5.0, 10.0)
_NEW_YORK = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class Axis:
    """A value range ``lo``..``hi`` (both multiples of ``step``) and its ticks, low first."""

    lo: float
    hi: float
    step: float
    ticks: tuple[float, ...]


def nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k that is at least ``raw`` (> 0)."""
    if not (raw > 0 and math.isfinite(raw)):
        raise ValueError(f"a step must be a positive number, not {raw!r}")
    power = 10.0 ** math.floor(math.log10(raw))
    for m in _NICE:
        if m * power >= raw * (1 - 1e-12):
            return m * power
    return 10.0 * power  # pragma: no cover - 10 always qualifies


def value_axis(
    lo: float, hi: float, min_span: float, intervals: int = 4, top: float | None = None
) -> Axis:
    """The axis of values ``lo``..``hi``: at least ``min_span`` wide, snapped to nice ticks.

    A range narrower than ``min_span`` is widened around its middle (or downwards from
    ``top``, e.g. 0 for a drawdown). The step is the nice step of span / ``intervals``;
    the ends are moved out to multiples of it.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ValueError(f"bad range {lo!r}..{hi!r}")
    if top is not None:
        hi = max(hi, top)
    if hi - lo < min_span:
        if top is not None:
            lo = hi - min_span
        else:
            mid = (lo + hi) / 2
            lo, hi = mid - min_span / 2, mid + min_span / 2
    span = hi - lo
    if span <= 0:  # flat and no floor: one unit around it
        span = abs(hi) * 0.01 or 1.0
        lo, hi = lo - span / 2, hi + span / 2
    step = nice_step(span / max(1, intervals))
    lo = math.floor(lo / step + 1e-9) * step
    hi = math.ceil(hi / step - 1e-9) * step
    n = round((hi - lo) / step)
    return Axis(lo, hi, step, tuple(lo + i * step for i in range(n + 1)))


def equity_axis(values: Sequence[float], intervals: int = 4) -> Axis:
    """The Equity chart's axis: the values' range, never narrower than the equity floor."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        raise ValueError("no finite value to scale")
    level = max(abs(v) for v in finite)
    floor = max(EQUITY_MIN_FRACTION * level, EQUITY_MIN_DOLLARS)
    return value_axis(min(finite), max(finite), floor, intervals)


def drawdown_axis(values: Sequence[float], intervals: int = 2) -> Axis:
    """The Drawdown chart's axis: from 0 down to the trough, at least 0.5 points deep."""
    finite = [v for v in values if math.isfinite(v)]
    low = min(finite, default=0.0)
    return value_axis(min(low, 0.0), 0.0, DRAWDOWN_MIN_SPAN, intervals, top=0.0)


def step_decimals(step: float) -> int:
    """The decimals that write every multiple of ``step`` exactly (0.25 → 2, 2000 → 0)."""
    for d in range(7):
        scaled = step * 10**d
        if abs(scaled - round(scaled)) < 1e-6 * max(1.0, abs(scaled)):
            return d
    return 6


def money_label(value: float, step: float) -> str:
    """``$1,002,000`` (cents only when the step is under a dollar)."""
    d = step_decimals(step)
    text = f"{abs(value):,.{d}f}"
    return f"-${text}" if value < 0 and float(text.replace(",", "")) != 0 else f"${text}"


def pct_label(fraction: float, step: float, sign: bool = True) -> str:
    """A fraction as percent: 2 decimals, more only for a step under 0.01 % (at most 4) —
    a dollar step is round, its percent of the level rarely is (``+2.47%``, not ``+2.46856%``)."""
    d = 2 if step * 100 >= 0.01 else min(4, max(2, step_decimals(step * 100)))
    text = f"{fraction * 100:+.{d}f}" if sign else f"{fraction * 100:.{d}f}"
    if float(text) == 0:
        text = f"{0:.{d}f}"  # never "-0.00"
    return f"{text}%"


def equity_tick_labels(axis: Axis, base: float) -> list[str]:
    """One label per tick, low first: dollars and the change from ``base`` (``$1,004,000 +0.40%``)."""
    out = []
    for t in axis.ticks:
        pct = pct_label(t / base - 1.0, axis.step / base) if base > 0 else ""
        out.append(f"{money_label(t, axis.step)} {pct}".rstrip())
    return out


def time_label(t: float, span: float) -> str:
    """A broker-clock time in New York: ``14:05`` within a day, ``12-03 14:05`` beyond."""
    when = dt.datetime.fromtimestamp(t, _NEW_YORK)
    return when.strftime("%H:%M") if span < 86_400 else when.strftime("%m-%d %H:%M")


def time_ticks(times: Sequence[float], width: int) -> list[tuple[int, str]]:
    """(column, label) for the x axis of ``width`` columns over sample ``times`` (by index).

    Labels never overlap: the first at column 0, the last ending at the right edge, and as
    many evenly spaced between as fit with two blanks apart.
    """
    n = len(times)
    if n == 0 or width < 5:
        return []
    span = times[-1] - times[0]
    first = time_label(times[0], span)
    if n == 1:
        return [(0, first)]
    size = len(first) + 2
    count = max(2, min(n, width // size))
    out = []
    for k in range(count):
        i = round(k * (n - 1) / (count - 1))
        col = round(i * (width - 1) / (n - 1))
        label = time_label(times[i], span)
        col = min(col, width - len(label)) if k else 0
        while out and col < out[-1][0] + len(out[-1][1]) + 2:
            if k < count - 1:
                break
            out.pop()  # the last label wins over a middle one it would overlap
        else:
            out.append((col, label))
    return out
