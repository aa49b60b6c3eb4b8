"""The combo builder's payoff chart: plotext built off screen, painted as cached strips.

plotext draws monochrome (no ANSI colour decoding on the hot path); the expiry curve uses
braille dots and the "today" curve a middle dot, and each line is cut into runs styled from
the widget's component classes (theme colours). A curve is built once per change of the
curve or of the widget's size; frames only copy the cached strips.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from livedesk.backend.combos.legs import Leg
from livedesk.backend.combos.payoff import (
    LegQuote,
    chart_range,
    payoff_summary,
    pnl_at_expiry,
    pnl_today,
)

TODAY_MARK = "·"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PLOTEXT = threading.Lock()  # plotext keeps one global figure


@dataclass(frozen=True, eq=False)
class Curve:
    """What the chart draws: P/L at expiry and today over ``xs``, the spot and breakevens."""

    xs: np.ndarray
    expiry: np.ndarray
    today: np.ndarray
    spot: float
    breakevens: Sequence[float]
    title: str
    key: tuple = ()


def make_curve(
    legs: Sequence[Leg],
    quotes: Sequence[LegQuote | None],
    price: float,
    today: dt.date,
    quantity: int,
    multiplier: float,
    spot: float,
    spot_source: str = "",
) -> Curve | None:
    """The chart data of ``legs`` bought at ``price``; its key is at the chart's resolution
    (IV to 0.1 point, spot to 0.05 %), so a tick that moves nothing redraws nothing."""
    lo, hi = chart_range(legs, spot)
    xs = np.linspace(lo, hi, 121)
    y_exp = pnl_at_expiry(legs, quotes, price, xs, today, quantity, multiplier)
    y_now = pnl_today(legs, quotes, price, xs, today, quantity, multiplier)
    if not np.any(np.isfinite(y_exp)):
        return None
    y_exp = np.where(np.isfinite(y_exp), y_exp, 0.0)
    finite = isinstance(spot, float) and np.isfinite(spot)
    bucket = max(abs(spot) * 5e-4, 0.01) if finite else 1.0
    key = (
        tuple(legs),
        round(price, 2),
        quantity,
        tuple(round(q.iv, 3) if q and np.isfinite(q.iv) else None for q in quotes),
        round(spot / bucket) if finite else None,
        spot_source,  # a close-based spot is redrawn once the live mid arrives
    )
    calendar = len({leg.expiry for leg in legs}) > 1
    title = "P/L at expiry and today" + (" (at the earliest expiry)" if calendar else "")
    breakevens = payoff_summary(legs, quotes, price, today, quantity, multiplier).breakevens
    return Curve(xs, y_exp, y_now, spot, breakevens, title, key)


def axis_ticks(curve: Curve, lo: float, hi: float, width: int) -> list[float]:
    """Breakevens, then the spot, as x ticks at least 9 columns apart (labels never touch,
    so plotext never has to drop one)."""
    columns = max(width - 8, 10)  # less the y labels

    def column(x: float) -> float:
        return (x - lo) / (hi - lo) * columns if hi > lo else 0.0

    kept: list[float] = []
    spot = [float(curve.spot)] if np.isfinite(curve.spot) else []
    for x in [*curve.breakevens, *spot]:
        if lo <= x <= hi and all(abs(column(x) - column(k)) >= 9 for k in kept):
            kept.append(x)
    return sorted(kept)


def chart_lines(curve: Curve, width: int, height: int) -> list[str]:
    """The chart as plain text lines (plotext, monochrome)."""
    import plotext as plt

    with _PLOTEXT:
        return _build(plt, curve, width, height)


def _build(plt, curve: Curve, width: int, height: int) -> list[str]:
    plt.clear_figure()
    plt.plotsize(max(width, 20), max(height, 6))
    plt.theme("clear")
    plt.frame(False)
    xs = curve.xs.tolist()
    if np.all(np.isfinite(curve.today)):
        plt.plot(xs, curve.today.tolist(), marker=TODAY_MARK, label="today")
    plt.plot(xs, curve.expiry.tolist(), marker="braille", label="expiry")
    plt.hline(0)
    if np.isfinite(curve.spot):
        plt.vline(float(curve.spot))
    ticks = axis_ticks(curve, xs[0], xs[-1], width)
    if ticks:  # the x axis labels the breakevens, and the spot when there is room
        plt.xticks(ticks, [f"{t:.2f}" for t in ticks])
    plt.title(curve.title)
    text = _ANSI.sub("", plt.build())
    return text.split("\n")[:height]


def _kind(ch: str) -> str:
    if "\u2800" <= ch <= "\u28ff":
        return "expiry"
    if ch == TODAY_MARK:
        return "today"
    if ch in "─│┌┐└┘├┤┬┴┼":
        return "axis"
    return "text"


def line_segments(line: str, styles: dict[str, Style]) -> list[Segment]:
    """A chart line cut into runs of one kind (expiry, today, axis, text), each styled."""
    out: list[Segment] = []
    start, kind = 0, None
    for i, ch in enumerate(line):
        k = _kind(ch) if ch != " " else kind
        if kind is None:
            kind = k
        if k != kind:
            out.append(Segment(line[start:i], styles.get(kind or "text")))
            start, kind = i, k
    if start < len(line):
        out.append(Segment(line[start:], styles.get(kind or "text")))
    return out


class ComboPayoffChart(Widget):
    """P/L at expiry and today; rebuilt only when the curve or the size changes.

    The plotext build runs in a thread worker (the legs table and net price repaint first);
    a stale build (the curve changed meanwhile) is dropped.
    """

    class Built(Message):
        """A chart build finished in the worker thread."""

        def __init__(self, key: tuple, lines: list[str]) -> None:
            super().__init__()
            self.key, self.lines = key, lines

    COMPONENT_CLASSES = {
        "combo-chart--expiry",
        "combo-chart--today",
        "combo-chart--axis",
        "combo-chart--text",
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._curve: Curve | None = None
        self._drawn: tuple | None = None
        self._lines: list[str] = []
        self._strips: list[Strip] | None = None
        self._cache: dict[tuple, list[str]] = {}
        self._pending: set[tuple] = set()
        self.renders = 0

    @property
    def current(self) -> bool:
        """True when the chart shown is the one of the latest curve (no build pending)."""
        return self._drawn is not None and self._lines is self._cache.get(self._drawn)

    @property
    def text(self) -> str:
        """The chart's plain text (tests)."""
        return "\n".join(self._lines)

    def set_curve(self, curve: Curve | None) -> None:
        """Show ``curve`` (None: a hint instead of a chart)."""
        self._curve = curve
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips = None

    def _draw(self) -> None:
        w, h = self.content_size.width, self.content_size.height
        c = self._curve
        key = (c.key if c else None, w, h)
        if key == self._drawn or w <= 0 or h <= 0:
            return
        self._drawn = key
        if c is None:
            self._show(["payoff: add legs (and quotes) to see the P/L chart"])
            return
        if key in self._cache:  # built ahead (the strike step just taken)
            self.renders += 1
            self._show(self._cache[key])
            return
        if key in self._pending:  # being built ahead: it shows when done
            return
        self._build(c, key, exclusive=True)

    def prebuild(self, curves: Sequence[Curve]) -> None:
        """Build the first of these charts not built yet, ahead, in a thread (one at a time:
        the strike steps the trader may take next, most likely first)."""
        w, h = self.content_size.width, self.content_size.height
        if w <= 0 or h <= 0 or self._pending:
            return
        for c in curves:
            key = (c.key, w, h)
            if key not in self._cache:
                self._build(c, key, exclusive=False)
                return

    def _build(self, c: Curve, key: tuple, exclusive: bool) -> None:
        w, h = key[1], key[2]
        self._pending.add(key)
        self.run_worker(
            lambda: self.post_message(self.Built(key, chart_lines(c, w, h))),
            thread=True,
            exclusive=exclusive,
            group="combo-chart" if exclusive else "combo-chart-ahead",
        )

    def on_combo_payoff_chart_built(self, message: Built) -> None:
        self._pending.discard(message.key)
        self._cache[message.key] = message.lines
        while len(self._cache) > 24:
            self._cache.pop(next(iter(self._cache)))
        if message.key == self._drawn:  # else a newer build is on its way, or built ahead
            self.renders += 1
            self._show(message.lines)

    def _show(self, lines: list[str]) -> None:
        self._lines = lines
        self._strips = None
        self.refresh()

    def render_line(self, y: int) -> Strip:
        if self._strips is None:
            styles = {
                k: self.get_component_rich_style(f"combo-chart--{k}")
                for k in ("expiry", "today", "axis", "text")
            }
            width = self.content_size.width
            base = self.rich_style  # the padding too: never the terminal's default background
            self._strips = [
                Strip(line_segments(line, styles)).crop_extend(0, width, base)
                for line in self._lines
            ]
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.content_size.width, self.rich_style)
