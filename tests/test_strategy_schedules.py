"""Schedules as pure functions of time: holidays, early closes, DST, the close, missed runs.

Expected times come from the NYSE calendar as published (holidays, 13:00 early closes) and
the US DST rules, written out by hand — not from exchange_calendars' own tables.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from livedesk.backend.strategies.schedules import Event, Intraday, Monthly, is_open

NY = ZoneInfo("America/New_York")
UTC = dt.UTC


def ny(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NY)


# ---- Monthly -----------------------------------------------------------------------------
def test_month_end_on_a_holiday_runs_after_the_previous_session() -> None:
    # Friday 2024-03-29 was Good Friday (NYSE closed): March's last session is Thu 03-28.
    m = Monthly(offset_minutes=30)
    run = m.next_run(ny(2024, 3, 15, 12))
    assert run == ny(2024, 3, 28, 16, 30)
    assert run.utcoffset() == dt.timedelta(hours=-4)  # EDT
    assert m.next_run(run) == ny(2024, 4, 30, 16, 30)  # strictly after
    assert m.next_run(ny(2024, 3, 28, 16, 29)) == ny(2024, 3, 28, 16, 30)


def test_month_end_early_close_and_year_end() -> None:
    # 2026-12-31 is a full session; 2026-11-27 (after Thanksgiving) closes at 13:00 but is not
    # November's last session (Mon 11-30 is).
    m = Monthly(offset_minutes=15)
    assert m.next_run(ny(2026, 11, 27, 13, 30)) == ny(2026, 11, 30, 16, 15)
    assert m.next_run(ny(2026, 12, 31, 16, 15)) == ny(2027, 1, 29, 16, 15)
    assert m.next_run(ny(2026, 12, 2, 9)) == ny(2026, 12, 31, 16, 15)


def test_missed_monthly_run_is_reported_while_still_valid() -> None:
    m = Monthly(offset_minutes=30)
    due = ny(2024, 3, 28, 16, 30)
    # process down over the month end, back the next morning (Good Friday, then Mon 04-01)
    assert m.missed(ny(2024, 2, 29, 16, 30), ny(2024, 4, 1, 10)) == due
    assert m.missed(None, ny(2024, 3, 29, 12)) == due
    # already made
    assert m.missed(ny(2024, 3, 28, 16, 30), ny(2024, 4, 1, 10)) is None
    # too late: valid until the close of the next session (Mon 2024-04-01 16:00)
    assert m.valid_until(due) == ny(2024, 4, 1, 16)
    assert m.missed(None, ny(2024, 4, 1, 16, 1)) is None


# ---- Intraday ----------------------------------------------------------------------------
def test_intraday_runs_every_interval_from_the_open() -> None:
    s = Intraday(interval=60, flatten_before_close_min=5)
    assert s.next_run(ny(2026, 11, 20, 9, 0)) == ny(2026, 11, 20, 9, 31)
    assert s.next_run(ny(2026, 11, 20, 9, 31)) == ny(2026, 11, 20, 9, 32)
    assert s.next_run(ny(2026, 11, 20, 11, 15, 30)) == ny(2026, 11, 20, 11, 16)
    five = Intraday(interval=300, flatten_before_close_min=0)
    assert five.next_run(ny(2026, 11, 20, 15, 52)) == ny(2026, 11, 20, 15, 55)
    assert five.next_run(ny(2026, 11, 20, 15, 55)) == ny(2026, 11, 23, 9, 35)  # Fri -> Mon


def test_intraday_early_close_flattens_before_13_00() -> None:
    s = Intraday(interval=60, flatten_before_close_min=5)
    # 2026-11-27 closes at 13:00: the flatten run is 12:55, then Monday's first minute
    assert s.next_run(ny(2026, 11, 27, 12, 53, 30)) == ny(2026, 11, 27, 12, 54)
    assert s.next_run(ny(2026, 11, 27, 12, 54)) == ny(2026, 11, 27, 12, 55)
    assert s.next_run(ny(2026, 11, 27, 12, 55)) == ny(2026, 11, 30, 9, 31)
    assert s.phase(ny(2026, 11, 27, 12, 56)) == "flatten"
    assert s.phase(ny(2026, 11, 27, 13, 30)) == "closed"
    assert s.phase(ny(2026, 11, 27, 12, 54)) == "open"


@pytest.mark.parametrize(
    ("friday", "monday", "utc_before", "utc_after"),
    [
        # spring forward on Sun 2026-03-08: the open moves from 14:30 UTC to 13:30 UTC
        ((2026, 3, 6), (2026, 3, 9), 14, 13),
        # fall back on Sun 2026-11-01: the open moves from 13:30 UTC to 14:30 UTC
        ((2026, 10, 30), (2026, 11, 2), 13, 14),
    ],
)
def test_intraday_across_both_dst_switches(friday, monday, utc_before, utc_after) -> None:
    s = Intraday(interval=60, flatten_before_close_min=5)
    first_friday = s.next_run(ny(*friday, 8))
    assert first_friday.astimezone(UTC) == dt.datetime(*friday, utc_before, 31, tzinfo=UTC)
    after_close = s.next_run(ny(*friday, 15, 55))
    assert after_close == ny(*monday, 9, 31)
    assert after_close.astimezone(UTC) == dt.datetime(*monday, utc_after, 31, tzinfo=UTC)
    # asking in UTC gives the same instant
    assert s.next_run(ny(*friday, 15, 55).astimezone(UTC)) == after_close


def test_a_run_that_spans_the_close() -> None:
    s = Intraday(interval=60, flatten_before_close_min=5)
    # the 15:55 flatten run started on time but finished after the close
    finished = ny(2026, 11, 20, 16, 0, 10)
    assert s.phase(finished) == "closed"
    assert s.next_run(finished) == ny(2026, 11, 23, 9, 31)
    # a run scheduled just before the flatten time, finishing inside the window
    assert s.next_run(ny(2026, 11, 20, 15, 54, 59)) == ny(2026, 11, 20, 15, 55)
    assert s.phase(ny(2026, 11, 20, 15, 57)) == "flatten"
    bounds = s.session_bounds(ny(2026, 11, 20, 15, 57))
    assert bounds == (ny(2026, 11, 20, 9, 30), ny(2026, 11, 20, 16))


def test_schedules_refuse_naive_times_and_bad_intervals() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Intraday(60).next_run(dt.datetime(2026, 11, 20, 10))
    with pytest.raises(ValueError):
        Intraday(0)
    with pytest.raises(ValueError):
        Event(poll_interval=-1)


# ---- Event -------------------------------------------------------------------------------
def test_event_polls_only_in_regular_hours() -> None:
    e = Event(poll_interval=300)
    assert e.next_run(ny(2026, 11, 20, 10)) == ny(2026, 11, 20, 10, 5)
    assert e.next_run(ny(2026, 11, 20, 15, 58)) == ny(2026, 11, 23, 9, 35)
    assert e.next_run(ny(2026, 11, 26, 12)) == ny(2026, 11, 27, 9, 35)  # Thanksgiving
    anytime = Event(poll_interval=300, market_hours=False)
    assert anytime.next_run(ny(2026, 11, 26, 12)) == ny(2026, 11, 26, 12, 5)
    assert is_open(ny(2026, 11, 20, 10)) and not is_open(ny(2026, 11, 26, 10))
