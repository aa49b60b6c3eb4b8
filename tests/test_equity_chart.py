"""The Equity chart: axis range and labels by hand, a flat line drawn flat, a $7 dip a ripple."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from livedesk.backend.console.chart_axis import (
    Axis,
    drawdown_axis,
    equity_axis,
    equity_tick_labels,
    money_label,
    nice_step,
    pct_label,
    time_ticks,
    value_axis,
)
from livedesk.tui.widgets.line_chart import Series, chart_rows, dot_row, line, plot

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("raw", "step"), [(1250, 2000), (0.3, 0.5), (7, 10), (1, 1), (2.4, 2.5), (0.0021, 0.0025)]
)
def test_nice_step(raw: float, step: float) -> None:
    assert nice_step(raw) == pytest.approx(step)


def test_a_seven_dollar_dip_on_a_million_gets_the_half_percent_floor() -> None:
    # hand: floor max(0.5 % x 1,000,000, $100) = 5,000 around the middle 999,996.5 ->
    # 997,496.5 .. 1,002,496.5; step = nice(5,000 / 4 = 1,250) = 2,000; ends snapped out
    axis = equity_axis([1_000_000.0] * 10 + [999_993.0], intervals=4)
    assert axis.step == 2000
    assert axis.ticks == (996_000, 998_000, 1_000_000, 1_002_000, 1_004_000)
    assert equity_tick_labels(axis, 1_000_000.0) == [
        "$996,000 -0.40%",
        "$998,000 -0.20%",
        "$1,000,000 0.00%",
        "$1,002,000 +0.20%",
        "$1,004,000 +0.40%",
    ]


def test_a_real_move_is_not_widened() -> None:
    # hand: span 100,000 > floor 5,500; step nice(25,000) = 25,000
    axis = equity_axis([1_000_000.0, 1_100_000.0], intervals=4)
    assert (axis.lo, axis.hi, axis.step) == (1_000_000, 1_100_000, 25_000)
    assert len(axis.ticks) == 5


def test_a_small_account_gets_the_dollar_floor() -> None:
    # hand: 0.5 % of 10,010 = 50.05 < $100 -> 100 around 10,005: 9,955 .. 10,055;
    # step nice(25) = 25; 9,955 -> 9,950 (398 x 25), 10,055 -> 10,075 (403 x 25)
    axis = equity_axis([10_000.0, 10_010.0], intervals=4)
    assert (axis.lo, axis.hi, axis.step) == (9_950, 10_075, 25)
    assert axis.ticks == (9_950, 9_975, 10_000, 10_025, 10_050, 10_075)


def test_drawdown_axis_from_zero_down() -> None:
    # hand: trough -0.1 % is shallower than 0.5 points -> 0 .. -0.5 %; step nice(0.25 %)
    axis = drawdown_axis([0.0, -0.001], intervals=2)
    assert axis.ticks == pytest.approx((-0.005, -0.0025, 0.0))
    assert [pct_label(t, axis.step, sign=False) for t in axis.ticks] == [
        "-0.50%",
        "-0.25%",
        "0.00%",
    ]
    # hand: -3 %: step nice(1.5 %) = 2 %; -3 % snaps out to -4 %
    deep = drawdown_axis([0.0, -0.03], intervals=2)
    assert deep.ticks == pytest.approx((-0.04, -0.02, 0.0))


def test_labels() -> None:
    assert money_label(1_234.5, 0.5) == "$1,234.5"
    assert money_label(-2_000, 1000) == "-$2,000"
    assert pct_label(0.0012, 0.001) == "+0.12%"
    assert pct_label(-0.00001, 0.001) == "0.00%"  # never "-0.00%"
    # a round $20,000 step on a $975,880 base is 2.0494…% a step: 2 decimals, not 6
    assert pct_label(1_000_000 / 975_880 - 1, 20_000 / 975_880) == "+2.47%"
    assert pct_label(0.00005, 0.00005) == "+0.005%"  # a step under 0.01 %: its decimals
    with pytest.raises(ValueError):
        value_axis(2.0, 1.0, 0.0)


def test_time_axis_is_the_broker_clock_in_new_york() -> None:
    t0 = dt.datetime(2026, 12, 7, 9, 30, tzinfo=NY).timestamp()
    times = [t0 + 60 * i for i in range(391)]  # 09:30 .. 16:00
    ticks = time_ticks(times, 60)
    # hand: labels "HH:MM" need 7 columns -> 60 // 7 = 8 labels; the 2nd is sample
    # round(390 / 7) = 56 (10:26) at column round(56 x 59 / 390) = 8; the last ends at 60
    assert ticks[0] == (0, "09:30")
    assert ticks[1] == (8, "10:26")
    assert ticks[-1] == (55, "16:00")
    week = time_ticks([t0, t0 + 3 * 86_400], 40)
    assert [label for _, label in week] == ["12-07 09:30", "12-10 09:30"]


def _lit(grid) -> list[list[int]]:
    """Per cell row, the columns with any dot."""
    return [[c for c, (bits, _) in enumerate(row) if bits] for row in grid]


def test_a_flat_equity_is_one_flat_line() -> None:
    axis = equity_axis([1_000_000.0] * 20)
    grid = plot([line([1_000_000.0] * 20)], axis, 30, 8)
    lit = _lit(grid)
    rows = [r for r, cols in enumerate(lit) if cols]
    assert len(rows) == 1 and lit[rows[0]] == list(range(30))  # continuous, one row
    assert {bits for bits, _ in grid[rows[0]]} == {0x01 | 0x08}  # the same dot row throughout


def test_the_seven_dollar_dip_stays_on_the_line_and_a_crash_does_not() -> None:
    dip = [1_000_000.0] * 10 + [999_993.0] + [1_000_000.0] * 9
    axis = equity_axis(dip)
    grid = plot([line(dip)], axis, 30, 8)
    assert sum(1 for cols in _lit(grid) if cols) == 1  # 7 / 8,000 of 32 dots: same dot row
    crash = [1_000_000.0] * 10 + [900_000.0] + [1_000_000.0] * 9
    axis = equity_axis(crash)
    assert dot_row(900_000.0, axis, 8) == 31 and dot_row(1_000_000.0, axis, 8) == 0
    assert sum(1 for cols in _lit(plot([line(crash)], axis, 30, 8)) if cols) == 8


def test_y_axis_labels_sit_on_their_tick_rows() -> None:
    axis = Axis(0.0, 4.0, 1.0, (0.0, 1.0, 2.0, 3.0, 4.0))
    rows = chart_rows([Series([1.0, 3.0], [1.0, 3.0])], axis, ["0", "1", "2", "3", "4"], 12, 5)
    text = ["".join(t for t, _ in runs) for runs in rows]
    # hand: 20 dots; tick v at dot round((4 - v) / 4 x 19): 4->0, 3->5 (4.75), 2->10 (9.5),
    # 1->14 (14.25), 0->19 -> text rows 0, 1, 2, 3, 4
    assert [t[:2] for t in text] == ["4┤", "3┤", "2┤", "1┤", "0┤"]
    assert all(len(t) == 12 for t in text)
