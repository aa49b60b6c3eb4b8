"""The combo builder's payoff chart: plotext rendered to text once per change of the curve."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.text import Text
from textual.widgets import Static


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


def _rgb(hex_colour: str | None, default: tuple[int, int, int]) -> tuple[int, int, int]:
    try:
        h = (hex_colour or "").lstrip("#")
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))
    except (ValueError, IndexError):
        return default


def render_chart(curve: Curve, width: int, height: int, colours: dict[str, str]) -> Text:
    """The chart as styled text (plotext's figure built off screen)."""
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(max(width, 20), max(height, 6))
    plt.theme("clear")
    plt.frame(False)
    xs = curve.xs.tolist()
    expiry_colour = _rgb(colours.get("accent"), (255, 165, 0))
    today_colour = _rgb(colours.get("primary"), (0, 135, 255))
    muted = _rgb(colours.get("foreground-muted") or colours.get("secondary"), (128, 128, 128))
    if np.all(np.isfinite(curve.today)):
        plt.plot(xs, curve.today.tolist(), marker="braille", color=today_colour, label="today")
    plt.plot(xs, curve.expiry.tolist(), marker="braille", color=expiry_colour, label="expiry")
    plt.hline(0, muted)
    if np.isfinite(curve.spot):
        plt.vline(float(curve.spot), muted)
    for b in curve.breakevens:
        if xs[0] <= b <= xs[-1]:
            plt.vline(float(b), expiry_colour)
    plt.title(curve.title)
    return Text.from_ansi(plt.build(), no_wrap=True)


class ComboPayoffChart(Static):
    """P/L at expiry and today; re-rendered only when the curve or the size changes."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self._curve: Curve | None = None
        self._drawn: tuple | None = None
        self.renders = 0

    def set_curve(self, curve: Curve | None) -> None:
        """Show ``curve`` (None: an empty chart with a hint)."""
        self._curve = curve
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        w, h = self.content_size.width, self.content_size.height
        c = self._curve
        key = (c.key if c else None, w, h)
        if key == self._drawn or w <= 0 or h <= 0:
            return
        self._drawn = key
        if c is None:
            self.update("payoff: add legs to see the P/L chart")
            return
        self.renders += 1
        self.update(render_chart(c, w, h, self.app.theme_variables))
