"""`SignalChartView`: a strategy's signal over time (braille lines, level lines, axes, legend).

Draws a :class:`~livedesk.backend.console.signals.SignalChart` for the strategy detail view;
a modal that does not tick, so it renders a ``rich.text.Text`` for its width.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.widget import Widget

from livedesk.backend.console.chart_axis import pct_label, step_decimals, time_ticks, value_axis
from livedesk.backend.console.signals import SignalChart
from livedesk.tui.widgets.line_chart import Series, axis_row, chart_rows, line

MIN_SPAN = {"z": 1.0, "vol": 0.01, "score": 0.1}
LINE_VARS = ("accent", "warning", "success", "secondary")


def tick_label(value: float, step: float, unit: str) -> str:
    """A y label: ``+2.0`` (z, score) or ``18.00%`` (volatility)."""
    if unit == "vol":
        return pct_label(value, step, sign=False)
    decimals = max(1, step_decimals(step))
    text = f"{value:+.{decimals}f}"
    return text.replace("+", "") if float(text) == 0 else text


class SignalChartView(Widget):
    """The chart, ``rows`` high, plus its time axis and legend."""

    DEFAULT_CSS = """
    SignalChartView { height: auto; }
    """

    def __init__(self, chart: SignalChart, rows: int = 7, id: str | None = None) -> None:
        super().__init__(id=id)
        self.chart, self.rows = chart, rows

    def get_content_height(self, container, viewport, width: int) -> int:
        return self.rows + 3  # title, chart, time axis, legend

    def _colour(self, name: str) -> str:
        value = self.app.get_css_variables().get(name)
        return value or ""

    def text_lines(self, width: int) -> list[str]:
        """The chart as plain text (tests)."""
        return self.build(width).plain.splitlines()

    def build(self, width: int) -> Text:
        c = self.chart
        lo, hi = c.span()
        out = Text(no_wrap=True, overflow="crop")
        out.append(c.title + "\n", style="bold")
        if not (math.isfinite(lo) and math.isfinite(hi)):
            out.append("  no values recorded yet")
            return out
        axis = value_axis(lo, hi, MIN_SPAN.get(c.unit, 0.0), intervals=max(1, self.rows // 2))
        labels = [tick_label(t, axis.step, c.unit) for t in axis.ticks]
        margin = max(len(s) for s in labels)
        labels = [s.rjust(margin) for s in labels]
        levels = len(c.levels)  # drawn first: a signal line crossing one keeps its colour
        series = [line([v] * max(len(c.times), 2)) for _, v in c.levels]
        series += [Series(ln.lo, ln.hi) for ln in c.lines]
        colours = [self._colour(LINE_VARS[i % len(LINE_VARS)]) for i in range(len(c.lines))]
        styles = {-2: "dim", -1: "", **dict.fromkeys(range(levels), "dim")}
        styles |= {levels + i: colour for i, colour in enumerate(colours)}
        for runs in chart_rows(series, axis, labels, width, self.rows):
            for text, index in runs:
                out.append(text, style=styles.get(index, ""))
            out.append("\n")
        out.append(axis_row(time_ticks(c.times, max(1, width - margin - 1)), margin, width), "dim")
        out.append("\n")
        for i, ln in enumerate(c.lines):
            out.append("━━ ", style=colours[i])
            out.append(ln.name + "   ")
        if c.levels:
            out.append("┄ " + " / ".join(name for name, _ in c.levels), style="dim")
        return out

    def render(self) -> Text:
        return self.build(max(20, self.size.width))
