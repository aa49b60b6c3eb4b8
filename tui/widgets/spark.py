"""`SparkLines`: the Equity pane's two charts and their numbers, drawn with the Line API.

One widget instead of six labels and two ``Sparkline`` widgets: every line is a cached
``Strip`` rebuilt only when the data, the size or the theme change, so the full-screen
repaint that every focus change causes costs next to nothing here.
"""

from __future__ import annotations

import math

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

BARS = " ▁▂▃▄▅▆▇█"


EQUITY_MIN_SPAN = 0.005
"""The equity chart spans at least 0.5 % of the level: a $7 dip on $1M stays a ripple."""
DRAWDOWN_MIN_SPAN = 0.005
"""The drawdown chart spans at least 0.5 percentage points."""


def bar_rows(
    values: list[float], height: int, low_first: bool = False, min_span: float = 0.0
) -> list[str]:
    """Rows (top first) of a bar chart of ``values`` scaled between their min and max.

    Each value fills ``height * 8`` eighth-cells; with ``low_first`` the bars hang from the
    top (a drawdown line: the trough is the longest bar). The scale spans at least
    ``min_span`` (centred on the values; anchored at the top for ``low_first``), so a tiny
    move does not fill the chart; a flat line is drawn flat.
    """
    if not values or height < 1:
        return [""] * max(height, 0)
    lo, hi = min(values), max(values)
    if hi - lo < min_span:
        if low_first:
            lo = hi - min_span
        else:
            mid = (lo + hi) / 2
            lo, hi = mid - min_span / 2, mid + min_span / 2
    span = hi - lo
    levels = []
    for v in values:
        frac = 0.5 if span <= 0 or not math.isfinite(v) else (v - lo) / span
        if low_first:
            frac = 1.0 - frac
        levels.append(max(1, round(frac * height * 8)))
    rows = []
    for r in range(height):
        floor = (height - 1 - r) * 8 if not low_first else r * 8
        line = []
        for lv in levels:
            fill = min(8, max(0, lv - floor))
            line.append(BARS[fill] if not low_first else (BARS[8] if fill >= 8 else _hang(fill)))
        rows.append("".join(line))
    return rows


def _hang(fill: int) -> str:
    """The end of a bar hanging from the top (only upper half and eighth blocks exist)."""
    return "▀" if fill >= 4 else ("▔" if fill >= 1 else " ")


class SparkLines(Widget):
    """Caption, equity chart, numbers, "Drawdown", drawdown chart, numbers."""

    COMPONENT_CLASSES = {"spark--caption", "spark--equity", "spark--drawdown", "spark--numbers"}
    DEFAULT_CSS = """
    SparkLines { height: 1fr; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.caption = ""
        self.equity: list[float] = []
        self.drawdown: list[float] = []
        self.equity_text = ""
        self.drawdown_text = ""
        self._key: tuple | None = None
        self._lines: list[Strip] = []

    def set_data(self, caption, equity, drawdown, equity_text, drawdown_text) -> None:
        """New data; repaints only when something changed."""
        data = (caption, tuple(equity), tuple(drawdown), equity_text, drawdown_text)
        if data == (self.caption, tuple(self.equity), tuple(self.drawdown),
                    self.equity_text, self.drawdown_text):  # fmt: skip
            return
        self.caption, self.equity, self.drawdown = caption, list(equity), list(drawdown)
        self.equity_text, self.drawdown_text = equity_text, drawdown_text
        self._key = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._key = None

    def _build(self, width: int, height: int) -> list[Strip]:
        style = self.rich_style

        def s(name: str) -> Style:
            return style + self.get_component_rich_style(f"spark--{name}", partial=True)

        chart = max(1, (height - 4) // 2)
        lines: list[tuple[str, Style]] = [(self.caption, s("caption"))]
        level = max((abs(v) for v in self.equity if math.isfinite(v)), default=0.0)
        lines += [
            (row, s("equity"))
            for row in bar_rows(self.equity, chart, min_span=EQUITY_MIN_SPAN * level)
        ]
        lines.append((self.equity_text, s("numbers")))
        lines.append(("Drawdown", s("caption")))
        lines += [
            (row, s("drawdown"))
            for row in bar_rows(self.drawdown, chart, low_first=True, min_span=DRAWDOWN_MIN_SPAN)
        ]
        lines.append((self.drawdown_text, s("numbers")))
        return [Strip([Segment(t, st)]).crop_extend(0, width, style) for t, st in lines]

    def render_line(self, y: int) -> Strip:
        width, height = self.size
        key = (width, height)
        if self._key != key:
            self._lines = self._build(width, height)
            self._key = key
        if y < len(self._lines):
            return self._lines[y]
        return Strip.blank(width, self.rich_style)
