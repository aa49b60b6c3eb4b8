"""The XNYS calendar as zipline uses it (sessions from 1990), built once per process."""

from __future__ import annotations

import functools

import pandas as pd


@functools.lru_cache(maxsize=1)
def xnys_calendar():
    """The XNYS ``exchange_calendars`` calendar from 1990-01-01 (building one costs ~0.3 s).

    Asked for with exactly the arguments zipline's ``get_calendar`` passes, so the
    calendar cache of ``exchange_calendars`` serves zipline's own calls too.
    """
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS", start=pd.Timestamp("1990-01-01"), side="right")
