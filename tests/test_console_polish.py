"""#21 item 8 in the console: the Equity line chart, scrollbars, the filter and → (Pilot and
snapshots at 80×24 and 160×50).

Deterministic as the console snapshots: seed 7, a frozen sim clock, a fake controller; the
equity history is a fixed series written before the pane draws.
"""

from __future__ import annotations

import math

import pytest

from livedesk.backend.console.equity import EquitySeries
from tests.conftest import until
from tests.console_helpers import connected, make_app, make_session
from tests.test_console_snapshots import _settled

SIZES = [(80, 24), (160, 50)]


def _history(session, dip: bool = True) -> float:
    """Write 50 minutes of account equity (every 30 s, from 1,000,000) before the engine's
    last sample, inside the session (the frozen clock reads 10:30); returns its t."""
    last_t = float(session.engine.snapshot("account")["t"])
    series = EquitySeries("account")
    for i in range(100):
        t = last_t - 30.0 * (100 - i)
        wave = 1_200.0 * math.sin(i / 12.0) if dip else 0.0
        series.t.append(t)
        series.v.append(1_000_000.0 + wave - (7.0 if i == 50 else 0.0))
    session.equity.clear()
    session.equity["account"] = series
    return last_t


async def _equity(pilot, session, gw, dip: bool = True) -> None:
    await _settled(pilot, session, gw)
    _history(session, dip)
    await pilot.press("3")
    pilot.app.tick(force=True)
    await pilot.pause(0.3)


async def _log_followed(pilot) -> None:
    """The grid's Log shows its newest line (its follow scroll lands after a refresh)."""
    log = pilot.app.pane("log").table
    if not pilot.app.pane("log").display:  # a hidden tab (80x24): nothing on screen to follow
        return
    await until(lambda: log.scroll_offset.y >= log.max_scroll_y, 5)
    await pilot.pause(0.1)


@pytest.fixture
def console_app(market, tmp_path):
    session, gw = make_session(market, tmp_path)
    return make_app(session, tmp_path), session, gw


# ---- Equity ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_equity_axes_in_dollars_percent_and_broker_time(console_app, size) -> None:
    app, session, gw = console_app
    async with app.run_test(size=size) as pilot:
        await _equity(pilot, session, gw)
        chart = app.query_one("#equity-chart")
        lines = chart.text_lines()
        labels = [ln.split("┤")[0].strip() for ln in lines if "┤" in ln]
        # hand: values 998,800 .. 1,001,200 (span 2,400 < 5,000 floor around 1,000,000)
        assert "$1,000,000 0.00%" in labels  # the window starts at 1,000,000
        assert any(lb.startswith("$1,00") and lb.endswith("%") and "+" in lb for lb in labels)
        assert "0.00%" in labels and any(lb.startswith("-") for lb in labels)  # drawdown axis
        # the time axis reads the broker's (frozen sim) clock: 09:40 .. 10:30 New York
        axis = next(ln for ln in lines if "09:40" in ln)
        assert axis.strip().startswith("09:40") and axis.rstrip().endswith("10:30")


@pytest.mark.parametrize("size", SIZES)
async def test_flat_equity_is_drawn_flat(console_app, size) -> None:
    app, session, gw = console_app
    async with app.run_test(size=size) as pilot:
        await _equity(pilot, session, gw, dip=False)  # flat at 1,000,000 but one $7 dip
        lines = app.query_one("#equity-chart").text_lines()
        eq_rows = lines[1 : lines.index(next(ln for ln in lines if ln.startswith("equity $")))]
        drawn = [ln.split("┤" if "┤" in ln else "│", 1)[1] for ln in eq_rows[:-1]]
        lit = [r for r, text in enumerate(drawn) if text.strip()]
        # the flat hour and the $7 dip share one text row; the engine's last sample
        # ($999,992) ends the line a dot lower at most
        assert len(lit) == 1, "\n".join(eq_rows)


@pytest.mark.parametrize("size", SIZES)
def test_equity_snapshot(snap_compare, console_app, size) -> None:
    app, session, gw = console_app

    async def run_before(pilot) -> None:
        await _equity(pilot, session, gw)
        await _log_followed(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


# ---- scrollbars, filter, → ---------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_scrollbars_only_on_overflow_and_thin_on_the_surface(console_app, size) -> None:
    app, session, gw = console_app
    async with app.run_test(size=size) as pilot:
        await _settled(pilot, session, gw)
        table = app.pane("positions").table
        await pilot.press("1")
        await pilot.pause(0.2)
        assert not table.show_vertical_scrollbar  # 3 rows fit
        st = table.styles
        assert st.scrollbar_size_vertical == 1 and st.scrollbar_size_horizontal == 1
        assert st.scrollbar_background == st.background  # no coloured track
        assert st.scrollbar_background != st.scrollbar_color
        wide = table.virtual_size.width > table.scrollable_content_region.width
        assert table.show_horizontal_scrollbar == wide  # only the 80-column table overflows
        assert wide == (size[0] == 80)
        log = app.pane("log").table
        await pilot.press("6")
        await until(lambda: log.row_count > 0)
        await pilot.pause(0.2)
        over = log.virtual_size.height > log.scrollable_content_region.height
        assert log.show_vertical_scrollbar == over


@pytest.mark.parametrize("size", SIZES)
def test_filter_in_the_title_snapshot(snap_compare, console_app, size) -> None:
    app, session, gw = console_app

    async def run_before(pilot) -> None:
        await _settled(pilot, session, gw)
        await pilot.press("1", "slash", "a", "a", "p", "enter")
        await pilot.pause(0.3)
        assert app.pane("positions").border_title == "1 Positions (filter: aap)"
        if size[0] == 80:
            await pilot.press("right")  # a page of columns: Wt NLV and Strategy come in
            await pilot.pause(0.2)
        await _log_followed(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_right_scrolls_a_page_of_columns_and_esc_clears_the_filter(console_app) -> None:
    app, session, gw = console_app
    async with app.run_test(size=(80, 24)) as pilot:
        await _settled(pilot, session, gw)
        await pilot.press("1", "slash", "x", "o", "m", "enter")
        pane = app.pane("positions")
        table = pane.table
        assert [r.cells[0][0] for r in table.rows] == ["XOM"]
        assert pane.border_title == "1 Positions (filter: xom)"
        page = table.scrollable_content_region.width - table.columns[0].width - 1
        await pilot.press("right")
        await pilot.pause(0.1)
        assert table.scroll_offset.x == min(page, table.max_scroll_x) and page >= 8
        await pilot.press("left")
        await pilot.pause(0.1)
        assert table.scroll_offset.x == 0
        await pilot.press("escape")
        assert table.row_count == 3 and pane.border_title == "1 Positions"


async def test_screenshot_from_the_palette_action_needs_no_downloads(
    market, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("LIVEDESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path / "no-home"))
    session, gw = make_session(market, tmp_path)
    app = make_app(session, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        app.action_screenshot()  # what the palette's "Save screenshot" runs
        folder = tmp_path / "state" / "screenshots"
        await until(lambda: folder.exists() and any(folder.glob("*.svg")), 5)
        assert not (tmp_path / "no-home").exists()
