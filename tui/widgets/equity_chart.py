"""`EquityChart`: the Equity pane's line chart (dollars and % axis, broker-clock time axis),
the numbers, and the drawdown chart beneath — drawn with the Line API, cached strips.

Layout (top to bottom): caption; equity chart (y labels ``$1,004,000 +0.40%``); time axis;
numbers; drawdown chart (``-0.50%``); nothing else. Rebuilt only when the data, the size or
the theme change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from livedesk.backend.console.chart_axis import (
    drawdown_axis,
    equity_axis,
    equity_tick_labels,
    pct_label,
    time_ticks,
)
from livedesk.tui.widgets.line_chart import Series, axis_row, chart_rows, line


@dataclass(frozen=True)
class EquityData:
    """What the chart draws (all lists share one length)."""

    caption: str
    times: list[float] = field(default_factory=list)
    equity_lo: list[float] = field(default_factory=list)
    equity_hi: list[float] = field(default_factory=list)
    drawdown: list[float] = field(default_factory=list)
    first: float = float("nan")
    numbers: str = ""

    def key(self) -> tuple:
        return (
            self.caption,
            tuple(self.times),
            tuple(self.equity_lo),
            tuple(self.equity_hi),
            tuple(self.drawdown),
            self.first,
            self.numbers,
        )


def split_rows(height: int) -> tuple[int, int]:
    """(equity rows, drawdown rows) of a pane ``height`` lines high (3 go to text)."""
    plot = max(2, height - 3)
    equity = max(1, round(plot * 0.65))
    return equity, max(1, plot - equity)


class EquityChart(Widget):
    """Caption, equity line chart with axes, numbers, drawdown chart."""

    COMPONENT_CLASSES = {
        "equity-chart--caption",
        "equity-chart--equity",
        "equity-chart--drawdown",
        "equity-chart--axis",
        "equity-chart--numbers",
    }
    DEFAULT_CSS = """
    EquityChart { height: 1fr; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data = EquityData("")
        self._key: tuple | None = None
        self._lines: list[Strip] = []

    @property
    def caption(self) -> str:
        """The chart's caption (subject, window, samples)."""
        return self.data.caption

    def set_data(self, data: EquityData) -> None:
        """New data; repaints only when something changed."""
        if data.key() == self.data.key():
            return
        self.data = data
        self._key = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._key = None

    def text_lines(self) -> list[str]:
        """The chart as plain text (tests)."""
        return [strip.text for strip in self._build(*self.size)]

    def _build(self, width: int, height: int) -> list[Strip]:
        base = self.rich_style

        def s(name: str) -> Style:
            return base + self.get_component_rich_style(f"equity-chart--{name}", partial=True)

        d = self.data
        lines: list[list[tuple[str, Style]]] = [[(d.caption, s("caption"))]]
        eq_rows, dd_rows = split_rows(height)
        if len(d.equity_hi) >= 2:
            eq_axis = equity_axis([*d.equity_lo, *d.equity_hi], intervals=max(1, eq_rows // 2))
            eq_labels = equity_tick_labels(eq_axis, d.first)
            dd_axis = drawdown_axis(d.drawdown, intervals=max(1, dd_rows // 2))
            dd_labels = [pct_label(t, dd_axis.step, sign=False) for t in dd_axis.ticks]
            margin = max(len(t) for t in [*eq_labels, *dd_labels])
            eq_labels = [t.rjust(margin) for t in eq_labels]
            dd_labels = [t.rjust(margin) for t in dd_labels]
            styles = {-2: s("axis"), -1: base}
            eq_style = {**styles, 0: s("equity")}
            for runs in chart_rows(
                [Series(d.equity_lo, d.equity_hi)], eq_axis, eq_labels, width, eq_rows
            ):
                lines.append([(text, eq_style[i]) for text, i in runs])
            ticks = time_ticks(d.times, max(1, width - margin - 1))
            lines.append([(axis_row(ticks, margin, width), s("axis"))])
            lines.append([(d.numbers, s("numbers"))])
            dd_style = {**styles, 0: s("drawdown")}
            for runs in chart_rows([line(d.drawdown)], dd_axis, dd_labels, width, dd_rows):
                lines.append([(text, dd_style[i]) for text, i in runs])
        else:
            lines.append([("  waiting for two equity samples…", s("axis"))])
            lines.append([(d.numbers, s("numbers"))])
        return [
            Strip([Segment(t, st) for t, st in runs]).crop_extend(0, width, base) for runs in lines
        ]

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        key = (width, height)
        if self._key != key:
            self._lines = self._build(width, height)
            self._key = key
        if y < len(self._lines):
            return self._lines[y]
        return Strip.blank(width, self.rich_style)
