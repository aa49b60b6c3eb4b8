"""Validation of journaled times for attribution: one clock, no missing or zero time."""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from livedesk.backend.risk.attribution import DecisionRecord

DAY = 86400.0


def valid_time(t: Any) -> bool:
    """A usable epoch time: a finite number > 0."""
    return isinstance(t, int | float) and math.isfinite(t) and t > 0


def check_times(
    strategy: str,
    orders: Sequence[Mapping[str, Any]],
    fills: Sequence[Mapping[str, Any]],
    decisions: Sequence[DecisionRecord],
) -> None:
    """ValueError naming the first record without a time, or orders and decisions on two
    clocks (see the module doc)."""
    for o in orders:
        if not valid_time(o["submitted_at"]):
            raise ValueError(
                f"{strategy}: order {o['order_id']} has no submission time "
                f"({o['submitted_at']!r}); its window cannot be measured"
            )
    for f in fills:
        if not valid_time(f["t"]):
            raise ValueError(f"{strategy}: fill {f['exec_id']} has no time ({f['t']!r})")
    for d in decisions:
        if not valid_time(d.t):
            raise ValueError(f"{strategy}: a decision has no time ({d.t!r})")
    if orders and decisions:
        times = sorted(d.t for d in decisions)
        near = 0
        for o in orders:
            i = bisect.bisect_right(times, o["submitted_at"] + 1.0)
            near += i > 0 and o["submitted_at"] - times[i - 1] <= DAY
        if not near:
            raise ValueError(
                f"{strategy}: no order follows one of its decisions within a day (decisions "
                f"{utc_text(times[0])}…, orders {utc_text(orders[0]['submitted_at'])}…): the decisions "
                "and the orders carry times of different clocks"
            )


def utc_text(t: float) -> str:
    """``t`` as ``YYYY-MM-DD HH:MM:SS UTC``."""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
