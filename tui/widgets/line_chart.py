"""Braille line charts with a labelled value axis and a time axis (text rows, cached by callers).

:func:`plot` rasterises one or more series onto a grid of braille cells (2 × 4 dots each):
every x dot column holds a value range (a downsampled bucket's low and high), joined to the
previous column so the line is continuous; a flat series is one dot row, drawn flat.
:func:`chart_rows` adds the y axis (tick labels, ``┤``) on the left and returns text runs
tagged with the series index, so a widget can colour each series with its own style.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from livedesk.backend.console.chart_axis import Axis

_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [dot row][dot column]


@dataclass(frozen=True)
class Series:
    """Values to draw: per point a low and a high (equal for a plain line)."""

    lo: Sequence[float]
    hi: Sequence[float]


def line(values: Sequence[float]) -> Series:
    return Series(values, values)


def dot_row(value: float, axis: Axis, rows: int) -> int:
    """The dot row (0 = top) of ``value`` on a chart of ``rows`` text rows."""
    dots = rows * 4
    frac = (axis.hi - value) / (axis.hi - axis.lo) if axis.hi > axis.lo else 0.5
    return min(dots - 1, max(0, round(frac * (dots - 1))))


def plot(series: Sequence[Series], axis: Axis, cols: int, rows: int) -> list[list[tuple[int, int]]]:
    """``rows`` × ``cols`` cells of (braille bits, index of the last series drawn there, -1)."""
    grid = [[(0, -1) for _ in range(cols)] for _ in range(rows)]
    width = cols * 2
    for index, s in enumerate(series):
        n = len(s.lo)
        prev: tuple[int, int, int] | None = None  # x, top, bottom of the last point
        for i in range(n):
            lo, hi = s.lo[i], s.hi[i]
            if not (math.isfinite(lo) and math.isfinite(hi)):
                prev = None
                continue
            x = 0 if n == 1 else round(i * (width - 1) / (n - 1))
            cur = (dot_row(hi, axis, rows), dot_row(lo, axis, rows))
            if prev is not None:  # the dot columns between two points: the line between
                px, _, last = prev
                start = last
                for xi in range(px + 1, x):
                    y = round(start + (xi - px) / (x - px) * (cur[1] - start))
                    _set(grid, xi, min(y, last), max(y, last), index)  # steep: a column
                    last = y
                top, bottom = min(cur[0], last), max(cur[1], last)  # joined: no gaps
            else:
                top, bottom = cur
            _set(grid, x, top, bottom, index)
            prev = (x, *cur)
    return grid


def _set(grid: list[list[tuple[int, int]]], x: int, top: int, bottom: int, index: int) -> None:
    """Light dot column ``x`` from dot row ``top`` to ``bottom`` for series ``index``."""
    for y in range(top, bottom + 1):
        r, c = y // 4, x // 2
        bits, _ = grid[r][c]
        grid[r][c] = (bits | _DOTS[y % 4][x % 2], index)


def chart_rows(
    series: Sequence[Series], axis: Axis, labels: Sequence[str], cols: int, rows: int
) -> list[list[tuple[str, int]]]:
    """Text rows (top first) as runs of (text, style index): -2 = axis, -1 = blank, else series.

    The left margin holds the tick labels (right-aligned, ``labels[k]`` for
    ``axis.ticks[k]``) on the row nearest each tick, then ``┤`` there and ``│`` elsewhere.
    """
    margin = max((len(t) for t in labels), default=0)
    plot_cols = max(1, cols - margin - 1)
    grid = plot(series, axis, plot_cols, rows)
    at: dict[int, str] = {}
    for tick, label in zip(axis.ticks, labels, strict=False):
        r = dot_row(tick, axis, rows) // 4
        if r not in at:
            at[r] = label
    out = []
    for r in range(rows):
        label = at.get(r)
        runs: list[tuple[str, int]] = [((label or "").rjust(margin) + ("┤" if label else "│"), -2)]
        for bits, index in grid[r]:
            ch = chr(0x2800 + bits) if bits else " "
            style = index if bits else -1
            if runs[-1][1] == style:
                runs[-1] = (runs[-1][0] + ch, style)
            else:
                runs.append((ch, style))
        out.append(runs)
    return out


def axis_row(ticks: Sequence[tuple[int, str]], margin: int, cols: int) -> str:
    """The time axis under a chart: labels at their columns after the y axis's margin."""
    cells = [" "] * max(0, cols)
    for col, label in ticks:
        start = margin + 1 + col
        for k, ch in enumerate(label):
            if 0 <= start + k < len(cells):
                cells[start + k] = ch
    return "".join(cells)
