"""`Pane`: a titled, numbered console pane; `TablePane`: a pane around a `LineTable` with a filter box."""

from __future__ import annotations

from typing import Self

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Input

from livedesk.backend.console.actions import PANE_TITLES, PANES
from livedesk.tui.widgets.line_table import Column, FilterRequested, LineTable


class Pane(Vertical):
    """A pane: border title ``"N Title"``; ``HELP`` is what ``?`` shows for it."""

    pane_id = ""
    HELP = ""
    repaint_children = True
    """False while only the pane's own title is restyled (``livedesk.tui.pane_focus``): a
    style change then does not repaint its descendants."""
    keep_lines = False
    """True while the pane is only shown or hidden (a tab switch): its drawn lines (border,
    title, background) stay valid, so the layout it needs does not also throw them away."""
    DEFAULT_CSS = """
    Pane { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__(id=self.pane_id, classes="pane")
        number = PANES.index(self.pane_id) + 1
        self.border_title = f"{number} {PANE_TITLES[self.pane_id]}"
        self.versions: dict[str, int] = {}

    def walk_children(self, *args, **kwargs):
        """Textual's walk, except while ``repaint_children`` is off: a style change of the
        pane then reaches the pane alone (Textual's style refresh walks the children)."""
        if not self.repaint_children:
            return [self] if kwargs.get("with_self") else []
        return super().walk_children(*args, **kwargs)

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> Self:
        """Textual's refresh, except while ``repaint_children`` is off: only the pane's title
        changed then, so only its row (the top border) is marked for repaint. A whole-pane
        refresh made the next frame recompose every line of the pane from its children's
        cached lines: most of a focus switch's frame (two panes) at 160x50."""
        if not self.repaint_children and not regions and not (layout or recompose):
            left, top = self.content_offset
            regions = (Region(-left, -top, self.outer_size.width, 1),)
        if self.keep_lines and layout and not regions and not recompose:
            repaint = False  # shown again as drawn: a resize, if any, marks it dirty itself
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    @property
    def title(self) -> str:
        """The pane's title without its number."""
        return PANE_TITLES[self.pane_id]

    def focus_target(self) -> Widget:
        """The widget that takes focus when the pane is jumped to."""
        return self

    def watch_has_focus(self, _has_focus: bool) -> None:
        """No restyle of the pane's subtree on focus (Textual's default): its focused look
        is the ``-has-focus`` class, set by ``livedesk.tui.pane_focus`` on the pane alone."""

    def refresh_from(self, session, force: bool = False) -> None:
        """Redraw from ``session`` if the data it depends on changed (or ``force``)."""


class TablePane(Pane):
    """A pane whose body is a :class:`LineTable`."""

    COLUMNS: tuple[Column, ...] = ()
    SORT: int | None = None
    EMPTY = ""
    FORMATTER = None

    def __init__(self) -> None:
        super().__init__()
        self.table = LineTable(
            self.COLUMNS,
            sort_column=self.SORT,
            empty_text=self.EMPTY,
            formatter=self.FORMATTER,
            id=f"{self.pane_id}-table",
        )
        self.filter_box = Input(placeholder="filter (enter keeps, esc clears)", classes="filter")
        self.filter_box.display = False

    def compose(self) -> ComposeResult:
        yield self.table  # the filter box is mounted on first use (a smaller tree to restyle)

    def focus_target(self) -> Widget:
        return self.table

    def on_filter_requested(self, message: FilterRequested) -> None:
        message.stop()
        if not self.filter_box.is_attached:
            self.mount(self.filter_box)
        self.filter_box.display = True
        self.filter_box.value = self.table.filter_text
        self.filter_box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is self.filter_box:
            self._filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is self.filter_box:
            event.stop()
            self._filter(event.value)
            self.filter_box.display = bool(event.value)
            self.table.focus()

    def key_escape(self) -> None:
        """Esc clears the filter — from the filter box or from the table."""
        if self.filter_box.has_focus or self.table.filter_text:
            self.filter_box.value = ""
            self._filter("")
            self.filter_box.display = False
            self.table.focus()

    def _filter(self, text: str) -> None:
        """Filter the table; the pane title shows the filter while it is active."""
        self.table.set_filter(text)
        number = PANES.index(self.pane_id) + 1
        title = f"{number} {PANE_TITLES[self.pane_id]}"
        text = self.table.filter_text
        self.border_title = f"{title} (filter: {text})" if text else title
