"""The Line API table: only changed visible rows repaint, keyed cursor, sort, groups, filter."""

from __future__ import annotations

import math

from textual.app import App, ComposeResult

from livedesk.tui.widgets.line_table import Column, LineTable, Row

COLUMNS = (Column("name", "Name", 8), Column("value", "Value", 8, "right", numeric=True))


def rows(values: dict[str, float], parent: dict | None = None) -> list[Row]:
    parent = parent or {}
    return [
        Row(k, ((k, ""), (f"{v:.2f}", "")), (k, v), parent=parent.get(k)) for k, v in values.items()
    ]


class Host(App):
    def compose(self) -> ComposeResult:
        yield LineTable(COLUMNS)


async def test_only_changed_visible_rows_are_redrawn():
    app = Host()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(LineTable)
        data = {f"r{i:03d}": float(i) for i in range(100)}
        table.set_rows(rows(data))
        await pilot.pause()
        before = table.renders
        assert before == 11  # header + 11 rows fit in 12 lines; 11 row strips drawn
        data["r003"] = 33.0  # visible
        data["r090"] = 99.0  # off screen
        table.set_rows(rows(data))
        await pilot.pause()
        assert table.renders == before + 1
        table.set_rows(rows(data))  # nothing changed: nothing drawn
        await pilot.pause()
        assert table.renders == before + 1


async def test_cursor_follows_its_key_through_sorts_and_ticks():
    app = Host()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(LineTable)
        table.focus()
        table.set_rows(rows({"b": 2.0, "a": 1.0, "c": math.nan}))
        await pilot.press("down")
        assert table.cursor_key == "a"
        await pilot.press("s")  # sort by name
        assert [r.key for r in table.rows] == ["a", "b", "c"] and table.cursor_key == "a"
        await pilot.press("s")  # by value, high first, NaN last
        assert [r.key for r in table.rows] == ["b", "a", "c"] and table.cursor_key == "a"
        table.set_rows(rows({"b": 0.5, "a": 1.0, "c": 3.0}))  # a tick reorders
        assert [r.key for r in table.rows] == ["c", "a", "b"] and table.cursor_key == "a"
        await pilot.press("s")  # back to arrival order
        assert table.sort_column is None and [r.key for r in table.rows] == ["b", "a", "c"]


async def test_children_stay_under_their_parent_and_filter():
    app = Host()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(LineTable)
        data = {"combo": 5.0, "leg1": 9.0, "leg2": 1.0, "solo": 3.0}
        table.set_rows(rows(data, {"leg1": "combo", "leg2": "combo"}))
        table.focus()
        await pilot.press("s", "s")  # by value: combo (5) before solo (3); legs under combo
        assert [r.key for r in table.rows] == ["combo", "leg1", "leg2", "solo"]
        table.set_filter("SOL")
        assert [r.key for r in table.rows] == ["solo"]
        table.set_filter("")
        table.follow = True
        data["new"] = 0.0
        table.set_rows(rows(data, {"leg1": "combo", "leg2": "combo"}))
        assert table.cursor_key == "new"


async def test_right_scrolls_by_a_page_of_columns_and_back() -> None:
    from textual.app import App

    from livedesk.tui.widgets.line_table import Column, LineTable, Row

    cols = [Column("k", "Key", 10)] + [Column(f"c{i}", f"C{i}", 12) for i in range(12)]

    class Wide(App):
        def compose(self):
            yield LineTable(cols, id="t")

    app = Wide()
    async with app.run_test(size=(80, 24)) as pilot:
        t = app.query_one(LineTable)
        t.set_rows([Row(i, tuple((f"r{i}c{j}", "") for j in range(13))) for i in range(5)])
        t.focus()
        await pilot.pause()
        page = t.scrollable_content_region.width - 10 - 1  # beside the key column
        await pilot.press("right")
        await pilot.pause()
        assert t.scroll_offset.x == page
        await pilot.press("left")
        await pilot.pause()
        assert t.scroll_offset.x == 0


async def test_the_order_is_kept_or_recomputed_as_the_rows_require():
    """Unsorted and unfiltered, a repricing tick keeps the order (it is not recomputed);
    an added, removed or re-parented row, or a row that starts matching the filter, changes it."""
    app = Host()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(LineTable)
        table.focus()
        data = {"b": 2.0, "a": 1.0, "c": 3.0}
        table.set_rows(rows(data))
        await pilot.press("down")
        assert table.cursor_key == "a"
        table.set_rows(rows({"c": 30.0, "a": 10.0, "b": 20.0}))  # repriced, listed in another order
        assert [r.key for r in table.rows] == ["b", "a", "c"] and table.cursor_key == "a"
        assert [r.cells[1][0] for r in table.rows] == ["20.00", "10.00", "30.00"]
        table.set_rows(rows({"b": 20.0, "a": 10.0, "c": 30.0}, {"c": "b"}))  # c under b
        assert [r.key for r in table.rows] == ["b", "c", "a"] and table.cursor_key == "a"
        table.set_rows(rows({"b": 20.0, "c": 30.0}))  # a gone: the cursor stays in range
        assert [r.key for r in table.rows] == ["b", "c"] and table.cursor_key == "c"
        table.set_rows(rows({"b": 20.0, "c": 30.0, "d": 4.0}))
        assert [r.key for r in table.rows] == ["b", "c", "d"]
        table.set_filter("7")
        assert table.rows == []
        table.set_rows(rows({"b": 20.0, "c": 37.0, "d": 4.0}))  # c's cell now holds a 7
        assert [r.key for r in table.rows] == ["c"]
