"""`LineTable`: a keyed table drawn with the Line API (one cached ``Strip`` per row).

A ``DataTable`` re-renders every visible cell on any ``update_cell`` (measured 55–86 ms a
frame at 500 ticking rows); this widget rebuilds only the rows whose cells changed and
repaints only those lines, so a tick costs well under a millisecond. Rows are keyed (the
cursor stays on its row while others tick, move or sort), sortable (``s`` cycles the sort
column), filterable (``/``) and can follow the newest row (``F``). A row may name a
``parent``: it is then listed right under it (a combo's legs under the combo).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.cache import LRUCache
from textual.color import Color, ColorParseError
from textual.dom import NoScreen
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from livedesk.tui.bindings import bindings
from livedesk.tui.widgets.cached_scrollbar import CachedScrollBar

CELL_STYLES: dict[str, tuple[str | None, bool]] = {
    "up": ("pnl-up", False),
    "down": ("pnl-down", False),
    "dim": ("foreground-muted", False),
    "warn": ("warning", False),
    "bad": ("risk-breach", True),
    "good": ("success", False),
    "group": ("secondary", True),
    "bold": (None, True),
}
"""Cell style name → (theme variable, bold)."""
STYLES = tuple(CELL_STYLES)


@dataclass(frozen=True)
class Column:
    """A column: key, header label, width in cells, alignment; numeric columns sort high first."""

    key: str
    label: str
    width: int
    align: str = "left"
    numeric: bool = False
    flex: bool = False
    """Takes the width left over when the table is narrower than the pane."""


Cells = tuple[tuple[str, str], ...]


class Row(NamedTuple):
    """One row: per-column ``(text, style)`` cells, per-column sort values, optional parent.

    A row may give raw ``values`` instead of ``cells``: the table's ``formatter`` turns them
    into cells only when the row is drawn (or filtered), so a tick that reprices 500 rows
    formats only the visible ones. ``values`` then also serve as the sort values. (A named
    tuple: a pane builds hundreds of rows per refresh, twice as fast as a frozen dataclass.)
    """

    key: Hashable
    cells: Cells = ()
    sort: tuple = ()
    parent: Hashable | None = None
    values: tuple | None = None


def _sort_value(value, numeric: bool):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (1, 0)
    return (0, -value if numeric and isinstance(value, int | float) else value)


class LineTable(ScrollView, can_focus=True):
    """The fast keyed table (see the module docstring)."""

    BINDINGS = bindings("table")
    COMPONENT_CLASSES = {"line-table--header", "line-table--cursor"}
    # Cell styles come straight from theme variables: every component class costs a virtual
    # node each time the table is restyled (on every focus change).
    DEFAULT_CSS = """
    LineTable { height: 1fr; }
    """

    follow: reactive[bool] = reactive(False)
    followable = False
    """End resumes following (the Log), like ``tail -f``."""

    class CursorMoved(Message):
        """The cursor is on another row."""

        def __init__(self, table: LineTable, key: Hashable | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LineTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        sort_column: int | None = None,
        empty_text: str = "",
        formatter: Callable[[tuple], Cells] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self.formatter = formatter
        self._formatted: dict[Hashable, tuple[int, Cells]] = {}
        self.sort_column = sort_column
        self.sort_reverse = False
        self.empty_text = empty_text
        self.filter_text = ""
        self._rows: dict[Hashable, Row] = {}
        self._versions: dict[Hashable, int] = {}
        self._born: dict[Hashable, int] = {}
        self._seq = 0
        self._order: list[Hashable] = []
        self._index: dict[Hashable, int] = {}
        self._cursor_key: Hashable | None = None
        self.cursor = 0
        self._cache: LRUCache[tuple, Strip] = LRUCache(1024)
        self._styles: dict[str, Style] = {}
        self._style_signature: tuple = ()
        self._css_variables: dict[str, str] | None = None
        self.width_total = sum(c.width for c in self.columns) + len(self.columns)
        self.renders = 0

    # ---- data ---------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        """Rows shown (after the filter)."""
        return len(self._order)

    @property
    def rows(self) -> list[Row]:
        """Rows shown, in display order, with their cells."""
        return [self._with_cells(self._rows[k]) for k in self._order]

    def _with_cells(self, row: Row) -> Row:
        if row.values is None:
            return row
        return Row(row.key, self.cells(row.key), row.sort, row.parent, row.values)

    def cells(self, key: Hashable) -> Cells:
        """The ``(text, style)`` cells of row ``key`` (formatted once per row version)."""
        row = self._rows[key]
        if row.values is None or self.formatter is None:
            return row.cells
        version = self._versions[key]
        cached = self._formatted.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        cells = self.formatter(row.values)
        self._formatted[key] = (version, cells)
        return cells

    def _matches(self, row: Row, needle: str) -> bool:
        return any(needle in text.lower() for text, _ in self.cells(row.key))

    def _sort_values(self, row: Row) -> tuple:
        return row.sort or (row.values or ())

    @property
    def cursor_key(self) -> Hashable | None:
        """Key of the row under the cursor (None when empty)."""
        return self._order[self.cursor] if self._order else None

    @property
    def cursor_row(self) -> Row | None:
        """The row under the cursor."""
        key = self.cursor_key
        return None if key is None else self._rows[key]

    def set_rows(self, rows: Sequence[Row]) -> None:
        """Replace the table's content; only rows whose cells changed are repainted.

        The display order is recomputed only when it can change: rows added, removed or
        re-parented, a filter or a sort column in force (a tick that reprices every row of
        an unsorted table keeps the order as it was)."""
        new: dict[Hashable, Row] = {}
        changed: list[Hashable] = []
        rows_before = self._rows
        structural = False
        for r in rows:
            new[r.key] = r
            old = rows_before.get(r.key)
            if old is None:
                self._seq += 1
                self._born[r.key] = self._seq
                self._versions[r.key] = 0
                structural = True
            elif old.values != r.values or old.cells != r.cells or old.parent != r.parent:
                self._versions[r.key] += 1
                changed.append(r.key)
                structural = structural or old.parent != r.parent
            elif old.sort != r.sort:
                changed.append(r.key)
        if len(new) != len(rows_before) or structural:
            structural = True
            for gone in rows_before.keys() - new.keys():
                self._versions.pop(gone, None)
                self._born.pop(gone, None)
                self._formatted.pop(gone, None)
        self._rows = new
        if structural or self.filter_text or self.sort_column is not None:
            reordered = self._reorder()
        else:
            reordered = False
        if not reordered and self.is_attached and changed:
            self._refresh_rows(changed)

    def _refresh_rows(self, keys: list[Hashable]) -> None:
        """Repaint the visible lines among ``keys`` (one region covering them)."""
        top = int(self.scroll_offset.y)
        bottom = top + max(1, self.scrollable_content_region.height - 1)
        index = self._index
        visible = [i for i in (index.get(k) for k in keys) if i is not None and top <= i < bottom]
        if visible:
            lo, hi = min(visible), max(visible)
            self.refresh_lines(lo + 1, hi - lo + 1)

    def _reorder(self, force: bool = False) -> bool:
        """Recompute the display order; True when it changed (everything was repainted)."""
        needle = self.filter_text.lower()
        rows = [r for r in self._rows.values() if not needle or self._matches(r, needle)]
        col = self.sort_column
        if col is not None:
            numeric = self.columns[col].numeric

            def key(r: Row):
                values = self._sort_values(r)
                return _sort_value(values[col] if col < len(values) else None, numeric)

            rows.sort(key=key, reverse=self.sort_reverse)
        else:
            rows.sort(key=lambda r: self._born[r.key])
        children: dict[Hashable, list[Row]] = {}
        top = []
        keys = {r.key for r in rows}
        for r in rows:
            if r.parent is not None and r.parent in keys:
                children.setdefault(r.parent, []).append(r)
            else:
                top.append(r)
        order: list[Hashable] = []
        for r in top:
            order.append(r.key)
            order.extend(c.key for c in children.get(r.key, ()))
        before = self.cursor_key
        if order == self._order and not force:
            self._place_cursor(before)
            return False
        self._order = order
        self._index = {k: i for i, k in enumerate(order)}
        self.virtual_size = Size(self.width_total, len(order) + 1)
        if self.follow and order:
            self._place_cursor(self.newest_key())
            self._scroll_to_cursor()  # follow really scrolls (like tail -f)
            self.call_after_refresh(self._follow_scroll)  # once the new size is laid out
        else:
            self._place_cursor(self._cursor_key if self._cursor_key in self._index else before)
        self.refresh()
        return True

    def set_column_width(self, index: int, width: int) -> None:
        """Size column ``index`` to ``width`` cells (e.g. to its content); repaints on change."""
        col = self.columns[index]
        if col.width == width:
            return
        self.columns[index] = replace(col, width=width)
        self.width_total = sum(c.width for c in self.columns) + len(self.columns)
        self.virtual_size = Size(self.width_total, len(self._order) + 1)
        self._cache.clear()
        self.refresh()

    def newest_key(self) -> Hashable | None:
        """The row added last (among those shown)."""
        if not self._order:
            return None
        return max(self._order, key=lambda k: self._born.get(k, 0))

    def _place_cursor(self, key: Hashable | None) -> None:
        if key is not None and key in self._index:
            self.cursor = self._index[key]
        self.cursor = max(0, min(self.cursor, len(self._order) - 1)) if self._order else 0
        self._cursor_key = self.cursor_key

    # ---- cursor, sort, filter -------------------------------------------------------
    def move_cursor(self, row: int) -> None:
        """Put the cursor on display row ``row`` and scroll it into view."""
        if not self._order:
            return
        old = self.cursor
        self.cursor = max(0, min(row, len(self._order) - 1))
        self._cursor_key = self.cursor_key
        if old != self.cursor:
            self.refresh_line(old + 1)
            self.refresh_line(self.cursor + 1)
            self.post_message(self.CursorMoved(self, self._cursor_key))
        self._scroll_to_cursor()

    def select_key(self, key: Hashable) -> bool:
        """Put the cursor on the row ``key``; False when it is not shown."""
        i = self._index.get(key)
        if i is None:
            return False
        self.move_cursor(i)
        return True

    def _scroll_to_cursor(self) -> None:
        height = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def action_cursor(self, delta: int) -> None:
        """Move the cursor ``delta`` rows; turns follow off when moving away from the newest."""
        self.move_cursor(self.cursor + delta)
        if self.follow and self.cursor_key != self.newest_key():
            self.follow = False

    def action_page(self, direction: int) -> None:
        """Move a page up or down."""
        height = max(1, self.scrollable_content_region.height - 1)
        self.action_cursor(direction * height)

    def action_edge(self, end: int) -> None:
        """First (0) or last (1) row; End resumes following on a followable table."""
        self.move_cursor(len(self._order) - 1 if end else 0)
        if self.followable:
            self.follow = bool(end)

    def _column_page(self) -> int:
        """A page of columns: the visible width beside the first (key) column."""
        return max(8, self.scrollable_content_region.width - self.columns[0].width - 1)

    def action_scroll_right(self) -> None:
        """``→``: scroll by a page of columns (a wide table at 80 columns)."""
        self.scroll_to(x=self.scroll_offset.x + self._column_page(), animate=False)

    def action_scroll_left(self) -> None:
        """``←``: back by a page of columns."""
        self.scroll_to(x=max(0, self.scroll_offset.x - self._column_page()), animate=False)

    def _follow_scroll(self) -> None:
        if self.follow and self._order:
            self._scroll_to_cursor()

    def on_resize(self) -> None:
        """A followed table keeps its newest row in view when its size changes."""
        self._follow_scroll()

    def on_show(self) -> None:
        """A followed table shown again (a tab switch) scrolls to its newest row once laid
        out: rows set while it was hidden could not scroll it."""
        if self.follow:
            self.call_after_refresh(self._follow_scroll)

    def on_mouse_scroll_up(self, event) -> None:
        """Scrolling back stops following (the view stays where the user scrolled)."""
        if self.follow:
            self.follow = False

    def action_sort(self) -> None:
        """Cycle the sort column: none → each column in turn → none."""
        n = len(self.columns)
        self.sort_column = 0 if self.sort_column is None else self.sort_column + 1
        if self.sort_column >= n:
            self.sort_column = None
        self.sort_reverse = False
        self._cache.clear()
        self._reorder(force=True)

    def action_filter(self) -> None:
        """Ask the enclosing pane to show its filter box."""
        self.post_message(FilterRequested(self))

    def set_filter(self, text: str) -> None:
        """Show only rows containing ``text`` (case-insensitive) in any cell."""
        self.filter_text = text.strip()
        self._reorder(force=True)

    def watch_follow(self, follow: bool) -> None:
        if follow and self._order:
            self.move_cursor(self._index[self.newest_key()])

    # ---- rendering ------------------------------------------------------------------
    @property
    def vertical_scrollbar(self) -> CachedScrollBar:
        """The vertical scrollbar (created on first use): one that keeps its drawn lines, so
        showing the pane again does not redraw an unchanged bar."""
        if self._vertical_scrollbar is None:
            self._vertical_scrollbar = self._new_scrollbar(True)
        return self._vertical_scrollbar

    @property
    def horizontal_scrollbar(self) -> CachedScrollBar:
        """The horizontal scrollbar (a wide table at 80 columns), kept like the vertical one."""
        if self._horizontal_scrollbar is None:
            self._horizontal_scrollbar = self._new_scrollbar(False)
        return self._horizontal_scrollbar

    def _new_scrollbar(self, vertical: bool) -> CachedScrollBar:
        size = self.scrollbar_size_vertical if vertical else self.scrollbar_size_horizontal
        bar = CachedScrollBar(
            vertical=vertical, name="vertical" if vertical else "horizontal", thickness=size
        )
        bar.display = False
        self.app._start_widget(self, bar)
        return bar

    def notify_style_update(self) -> None:
        """Drop the cached styles and strips only when what they are built from changed.

        Textual calls this on every focus change of the table or its pane (pseudo-classes),
        which leaves the theme, the table's own style and the cursor style as they were:
        keeping the strips then saves re-rendering every visible row (and regenerating the
        theme's variables) on each tab switch.
        """
        super().notify_style_update()
        signature = self._current_style_signature()
        if signature != self._style_signature:
            self._style_signature = signature
            self._styles.clear()
            self._css_variables = None
            self._cache.clear()

    def _current_style_signature(self) -> tuple:
        try:
            return (
                self.app.theme,
                self.rich_style,
                self.get_component_rich_style("line-table--header", partial=True),
                self.get_component_rich_style("line-table--cursor"),
            )
        except Exception:  # not mounted yet: no app, no styles to compare
            return ()

    def _base_style(self) -> Style:
        style = self._styles.get("__base__")
        if style is None:
            style = self._styles["__base__"] = self.rich_style
        return style

    def _cursor_style(self) -> Style:
        style = self._styles.get("__cursor__")
        if style is None:
            cursor = self.get_component_rich_style("line-table--cursor")
            style = self._styles["__cursor__"] = self._base_style() + cursor
        return style

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            if name == "header":
                style = self.get_component_rich_style("line-table--header", partial=True)
            else:
                style = self.theme_style(name)
            self._styles[name] = style
        return style

    def theme_style(self, name: str) -> Style:
        """The style of cell style ``name`` from the current theme's variables."""
        variable, bold = CELL_STYLES.get(name, (None, False))
        style = Style(bold=True) if bold else Style()
        if variable is None:
            return style
        if self._css_variables is None:
            self._css_variables = self.app.get_css_variables()
        value = self._css_variables.get(variable)
        if value is None:
            return style
        try:
            colour = self.background_colors[1] + Color.parse(value)
        except ColorParseError:
            return style
        return style + Style(color=colour.rich_color)

    def _widths(self, width: int) -> list[int]:
        widths = [c.width for c in self.columns]
        extra = width - self.width_total
        if extra > 0:
            for i, c in enumerate(self.columns):
                if c.flex:
                    widths[i] += extra
                    break
        return widths

    def _header_strip(self, width: int, scroll_x: int) -> Strip:
        key = ("header", self.sort_column, self.sort_reverse, width, scroll_x)
        strip = self._cache.get(key)
        if strip is None:
            base = self._base_style() + self._style("header")
            segments = []
            widths = self._widths(width)
            for i, col in enumerate(self.columns):
                label = col.label
                if i == self.sort_column:
                    label = ("▲" if self.sort_reverse else "▼") + label
                segments.append(Segment(_fit(label, widths[i], col.align) + " ", base))
            total = sum(widths) + len(widths)
            strip = Strip(segments, total).crop_extend(scroll_x, scroll_x + width, base)
            self._cache[key] = strip
        return strip

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:
            return self._header_strip(width, scroll_x)
        i = scroll_y + y - 1
        base = self._base_style()
        if i >= len(self._order):
            if i == 0 and self.empty_text:
                dim = base + self._style("dim")
                return Strip([Segment(self.empty_text, dim)]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        key = self._order[i]
        is_cursor = i == self.cursor and self.has_focus
        is_cursor_dim = i == self.cursor
        cache_key = (key, self._versions[key], is_cursor, is_cursor_dim, width, scroll_x)
        strip = self._cache.get(cache_key)
        if strip is None:
            self.renders += 1
            if is_cursor:
                row_style = self._cursor_style()
            elif is_cursor_dim:  # unfocused: marked, not underlined like a link
                row_style = base + Style(bold=True)
            else:
                row_style = base
            segments = []
            widths = self._widths(width)
            for col, w, (text, style) in zip(self.columns, widths, self.cells(key), strict=False):
                cell = _fit(text, w, col.align) + " "
                segments.append(
                    Segment(cell, row_style + self._style(style) if style else row_style)
                )
            strip = Strip(segments, sum(widths) + len(widths)).crop_extend(
                scroll_x, scroll_x + width, row_style
            )
            self._cache[cache_key] = strip
        return strip

    def focus(self, scroll_visible: bool = True) -> LineTable:
        """Give the table the focus, like Textual's ``Widget.focus`` but without its repaint of
        the whole table: the cursor row, all that focus changes, is redrawn on the Focus event."""

        def set_focus(table: LineTable) -> None:
            try:
                table.screen.set_focus(table, scroll_visible=scroll_visible)
            except NoScreen:
                pass

        self.app.call_later(set_focus, self)
        return self

    def watch_has_focus(self, _has_focus: bool) -> None:
        """No restyle on focus: no rule styles a LineTable by ``:focus``; the cursor row,
        the only thing focus changes, is redrawn by ``on_focus``/``on_blur``. (Textual's
        default restyles the table and its scrollbars: ~2 ms per pane switch.)"""

    def _on_focus(self, event: events.Focus) -> None:
        self._focus_changed(event, True)

    def _on_blur(self, event: events.Blur) -> None:
        self._focus_changed(event, False)

    def _focus_changed(self, event: events.Focus | events.Blur, focused: bool) -> None:
        """What Textual's default does on focus and blur, but redraw the cursor row only
        (the default repaints the whole table: ~2 ms per pane switch at 160x50)."""
        event.prevent_default()  # instead of Widget's handler, which refreshes everything
        self.has_focus = focused
        self.refresh_line(self.cursor + 1)
        if self.parent is not None:
            message = events.DescendantFocus(self) if focused else events.DescendantBlur(self)
            self.parent.post_message(message)


class FilterRequested(Message):
    """A table asks for its filter box."""

    def __init__(self, table: LineTable) -> None:
        super().__init__()
        self.table = table


def _fit(text: str, width: int, align: str) -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + "…" if width > 1 else text[:width]
    return text.rjust(width) if align == "right" else text.ljust(width)
