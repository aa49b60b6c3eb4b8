"""The strategy detail's signal chart from journaled decisions: crack-spread z with its
thresholds, options-combo forecast vs implied, monthly-factor scores of the picks.

Unit tests by hand of :mod:`livedesk.backend.console.signals`; Pilot and snapshots of the
detail view at 80×24 and 160×50.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from livedesk.backend.console.signals import latest_scores, signal_chart
from livedesk.tui.screens.strategy_detail import StrategyDetailScreen
from livedesk.tui.widgets.signal_chart import SignalChartView, tick_label
from tests.console_helpers import connected, make_app, make_session
from tests.test_console_polish import _log_followed
from tests.test_console_snapshots import _settled as console_settled

NY = ZoneInfo("America/New_York")
T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=NY).timestamp()
BLOB = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=" * 4


def row(i: int, values: dict, kind: str = "decision", summary: str = "hold") -> dict:
    return {
        "t": T0 + 60.0 * i,
        "kind": kind,
        "detail": {"summary": summary, "values": values, "state": BLOB},
    }


CRACK = [
    row(0, {"z": 0.5, "crack": 21.0}),
    row(1, {"z": 1.8, "crack": 22.0}),
    {"t": T0 + 90, "kind": "error", "detail": {"error": "missing bars"}},
    row(2, {"z": 2.3, "crack": 23.5}, summary="z +2.30 (crack $23.50/bbl): go short PSX"),
    row(3, {"z": 1.0, "crack": 22.5}),
    row(4, {"z": -0.2, "crack": 21.5}, summary="z -0.20: go flat PSX"),
    row(5, {"z": None, "crack": 21.0}),  # a NaN journaled as null
]
OPTIONS = [
    row(0, {"forecast": 0.18, "implied": 0.15, "edge": 0.03}),
    row(1, {"forecast": 0.17, "implied": 0.16, "edge": 0.01}),
    row(2, {"forecast": 0.14, "implied": 0.19, "edge": -0.05}),
]
MONTHLY = [
    row(0, {"universe": 500.0, "score AAPL": 1.2, "score MSFT": 0.8, "score XOM": -0.9,
            "score CVX": -1.4}),
    row(30, {"universe": 500.0, "score NVDA": 2.1, "score AAPL": 0.6, "score PFE": -0.3,
             "score XOM": -1.1}),
]  # fmt: skip


def test_crack_z_with_its_thresholds() -> None:
    c = signal_chart(CRACK, {"threshold": 2.5})
    assert c is not None and c.unit == "z"
    assert c.times == tuple(T0 + 60.0 * i for i in range(6))  # the error row is not a decision
    (z,) = c.lines
    assert z.name == "z" and z.lo[:5] == (0.5, 1.8, 2.3, 1.0, -0.2) and math.isnan(z.lo[5])
    assert c.levels == (("short entry +2.5", 2.5), ("exit 0", 0.0), ("long entry -2.5", -2.5))
    assert c.span() == (-2.5, 2.5)  # the thresholds stay in view


def test_options_forecast_vs_implied() -> None:
    c = signal_chart(OPTIONS, {})
    assert c is not None and c.unit == "vol" and c.levels == ()
    assert [ln.name for ln in c.lines] == ["forecast", "implied"]
    assert c.lines[0].hi == (0.18, 0.17, 0.14) and c.lines[1].hi == (0.15, 0.16, 0.19)
    assert c.span() == (0.14, 0.19)


def test_monthly_scores_of_the_picks() -> None:
    c = signal_chart(MONTHLY, {})
    assert c is not None and c.unit == "score"
    longs, shorts = c.lines
    # hand: month 1 longs 0.8..1.2, shorts -1.4..-0.9; month 2 longs 0.6..2.1, shorts -1.1..-0.3
    assert (longs.lo, longs.hi) == ((0.8, 0.6), (1.2, 2.1))
    assert (shorts.lo, shorts.hi) == ((-1.4, -1.1), (-0.9, -0.3))
    assert latest_scores(MONTHLY) == [("NVDA", 2.1), ("AAPL", 0.6), ("PFE", -0.3), ("XOM", -1.1)]


def test_no_signal_no_chart() -> None:
    assert signal_chart([], {}) is None
    assert signal_chart([row(0, {"orders": 2.0})], {}) is None
    assert signal_chart([{"t": T0, "kind": "error", "detail": {"values": {"z": 1.0}}}]) is None


def test_tick_labels() -> None:
    assert tick_label(2.0, 1.0, "z") == "+2.0" and tick_label(0.0, 1.0, "z") == "0.0"
    assert tick_label(-0.25, 0.25, "z") == "-0.25"
    assert tick_label(0.18, 0.01, "vol") == "18.00%"


# ---- Pilot and snapshots ---------------------------------------------------------------------

CASES = {
    "crack": (CRACK, {"threshold": 2.0, "window": 60}),
    "options": (OPTIONS, {"threshold": 0.02}),
    "monthly": (MONTHLY, {"n": 2}),
}


def _detail_app(market, tmp_path, case: str, settled: bool = False):
    """The console and a coroutine that opens alpha's detail on ``case``'s decisions
    (``settled``: after the console snapshots' fills, so the panes behind are the same on
    every run)."""
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    rows, params = CASES[case]

    async def open_detail(pilot) -> None:
        if settled:
            await console_settled(pilot, session, gw)
            await _log_followed(pilot)
        else:
            await connected(pilot)
        c = session.controller
        c._infos["alpha"] = replace(c._infos["alpha"], params=params)
        c.recent_decisions = lambda name, limit=20: rows[-limit:]
        await pilot.app.push_screen(StrategyDetailScreen(session, "alpha"))
        await pilot.pause(0.3)

    return app, open_detail


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
@pytest.mark.parametrize("case", ["crack", "options", "monthly"])
async def test_detail_shows_the_signal_and_readable_rows(market, tmp_path, size, case) -> None:
    app, open_detail = _detail_app(market, tmp_path, case)
    async with app.run_test(size=size) as pilot:
        await open_detail(pilot)
        view = app.screen.query_one(SignalChartView)
        lines = view.text_lines(view.size.width)
        assert view.size.width >= 40 and view.region.height == view.rows + 3
        labels = [ln.split("┤")[0].strip() for ln in lines if "┤" in ln]
        text = "\n".join(str(w.render()) for w in app.screen.query("Static"))
        assert BLOB not in text and "QUJD" not in text  # no base64 anywhere
        assert "10:00" in lines[-2]  # the time axis (New York, the decisions' clock)
        if case == "crack":
            assert lines[0] == "crack-spread z" and "+2.0" in labels and "-2.0" in labels
            assert "short entry +2" in lines[-1] and "long entry -2" in lines[-1]
            assert "go short PSX" in text and "values.z=2.3" in text
        elif case == "options":
            assert "forecast" in lines[-1] and "implied" in lines[-1]
            assert all(lb.endswith("%") for lb in labels)
        else:
            assert "long picks" in lines[-1] and "NVDA +2.10" in text


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
@pytest.mark.parametrize("case", ["crack", "options", "monthly"])
def test_detail_snapshot(snap_compare, market, tmp_path, size, case) -> None:
    app, open_detail = _detail_app(market, tmp_path, case, settled=True)
    assert snap_compare(app, terminal_size=size, run_before=open_detail)
