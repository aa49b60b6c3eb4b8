"""`CachedScrollBar` on a wide table: the horizontal bar is drawn with its thumb and its line
is kept once the bar is mounted. (A line drawn before the mount, a blank placeholder, is not
kept: the frame that reproduces that, a layout pass creating the bar and drawing it at once,
is the 80x24 Positions snapshot in tests/test_console_snapshots.py.)"""

from __future__ import annotations

from textual.app import App, ComposeResult

from livedesk.tui.widgets.line_table import Column, LineTable, Row

COLUMNS = tuple(Column(f"c{i}", f"C{i}", 12) for i in range(8))  # 8 x 13 cells: > 40


class Tiny(App):
    def compose(self) -> ComposeResult:
        yield LineTable(COLUMNS, id="shown")
        hidden = LineTable(COLUMNS, id="hidden")  # another tab's table, kept current
        hidden.display = False
        yield hidden


def has_thumb(strip) -> bool:
    """The thumb is drawn in the bar's colour, reversed (Textual's ScrollBarRender)."""
    return any(seg.style is not None and seg.style.reverse for seg in strip)


async def test_a_horizontal_bar_created_by_a_layout_pass_is_drawn_with_its_thumb() -> None:
    app = Tiny()
    async with app.run_test(size=(40, 8)) as pilot:
        await pilot.pause()
        table, hidden = app.query_one("#shown"), app.query_one("#hidden")
        rows = [Row(k, tuple((f"r{k}c{i}", "") for i in range(8))) for k in range(3)]
        table.set_rows(rows)
        hidden.set_rows(rows)
        await pilot.pause()
        await pilot.pause(0.1)
        assert table.show_horizontal_scrollbar
        bar = table.horizontal_scrollbar
        y = bar.region.y
        assert has_thumb(app.screen._compositor.render_strips()[y])  # what the screen shows
        assert has_thumb(bar.render_line(0))
        assert bar.render_line(0) is bar.render_line(0)  # mounted: the line is kept
