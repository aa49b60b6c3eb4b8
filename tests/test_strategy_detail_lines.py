"""Strategy detail: decisions as readable rows (no encoded blobs)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from livedesk.tui.screens.strategy_detail import _decision_line

NY = ZoneInfo("America/New_York")


def test_decision_rows_are_readable() -> None:
    t = dt.datetime(2026, 11, 20, 10, 31, tzinfo=NY).timestamp()
    blob = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=" * 4
    row = {
        "t": t,
        "kind": "decision",
        "detail": {
            "summary": "short the crack: z 2.31 above 2.00",
            "values": {"z": 2.3134, "entry": 2.0},
            "orders": [{"symbol": "CL"}, {"symbol": "RB"}],
            "state": blob,
        },
    }
    text = _decision_line(row)
    first, second = text.splitlines()
    assert first == "11-20 10:31:00 decision short the crack: z 2.31 above 2.00"
    assert second.split() == ["orders=2", "items", "values.entry=2", "values.z=2.313"]
    assert blob not in text and "QUJD" not in text
