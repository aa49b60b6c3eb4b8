"""`PaneTabs`: the row of pane tabs at 80x24 (tabs layout), drawn as one widget.

It looks and behaves like Textual's ``Tabs`` there (a tab per pane, the active one bright and
underlined; focused, it takes the block cursor; ``←``/``→`` and clicks pick a tab), but
Textual's ``Tabs`` is twelve widgets: a switch restyled two of them, moved the underline one
frame later and repainted them all (~4 ms of a pane switch). This draws both lines itself and
keeps them per (active tab, focus, hover, width), so a switch back to a pane costs a lookup.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

BAR = "━"
HALF_LEFT = "╺"
HALF_RIGHT = "╸"


class PaneTabs(Widget, can_focus=True):
    """Tabs with ids ``tab-<pane>`` and labels; ``active`` is the shown pane's tab id."""

    BINDINGS = [
        Binding("left", "previous_tab", "Previous tab", show=False),
        Binding("right", "next_tab", "Next tab", show=False),
    ]
    COMPONENT_CLASSES = {
        "pane-tabs--tab",
        "pane-tabs--active",
        "pane-tabs--focused",
        "pane-tabs--bar",
    }
    DEFAULT_CSS = """
    PaneTabs { width: 100%; height: 2; }
    PaneTabs > .pane-tabs--tab { color: $foreground 50%; }
    PaneTabs > .pane-tabs--active { color: $foreground; }
    PaneTabs > .pane-tabs--focused {
        text-style: $block-cursor-text-style;
        color: $block-cursor-foreground;
        background: $block-cursor-background;
    }
    PaneTabs > .pane-tabs--bar { color: $block-cursor-background; background: $foreground 10%; }
    """

    class Activated(Message):
        """The user picked tab ``tab_id`` (a click, or ``←``/``→`` on the focused tabs)."""

        def __init__(self, tabs: PaneTabs, tab_id: str) -> None:
            super().__init__()
            self.tabs = tabs
            self.tab_id = tab_id

        @property
        def control(self) -> PaneTabs:
            return self.tabs

    def __init__(self, tabs: list[tuple[str, str]], *, id: str | None = None) -> None:
        """``tabs``: (tab id, label) in order; the first is active."""
        super().__init__(id=id)
        self.tabs = list(tabs)
        self._active = self.tabs[0][0] if self.tabs else ""
        self._hover: int | None = None
        self._spans: list[tuple[int, int]] = []  # each tab's cells, padding included
        x = 0
        for _, label in self.tabs:
            self._spans.append((x, x + len(label) + 2))
            x += len(label) + 2
        self._strips: dict[tuple, Strip] = {}

    # ---- state ------------------------------------------------------------------------
    @property
    def active(self) -> str:
        """The active tab's id."""
        return self._active

    @active.setter
    def active(self, tab_id: str) -> None:
        if tab_id != self._active and any(t == tab_id for t, _ in self.tabs):
            self._active = tab_id
            self.refresh()

    def _index(self) -> int:
        return next((i for i, (t, _) in enumerate(self.tabs) if t == self._active), 0)

    def _pick(self, index: int) -> None:
        tab_id = self.tabs[index % len(self.tabs)][0]
        if tab_id != self._active:
            self.active = tab_id
            self.post_message(self.Activated(self, tab_id))

    def action_previous_tab(self) -> None:
        """``←``: the tab to the left (wraps)."""
        self._pick(self._index() - 1)

    def action_next_tab(self) -> None:
        """``→``: the tab to the right (wraps)."""
        self._pick(self._index() + 1)

    def _tab_at(self, x: int) -> int | None:
        return next((i for i, (a, b) in enumerate(self._spans) if a <= x < b), None)

    def on_click(self, event: events.Click) -> None:
        index = self._tab_at(event.x)
        if index is not None:
            event.stop()
            self.focus()
            self._pick(index)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        hover = self._tab_at(event.x) if event.y == 0 else None
        if hover != self._hover:
            self._hover = hover
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        if self._hover is not None:
            self._hover = None
            self.refresh()

    def watch_has_focus(self, _has_focus: bool) -> None:
        """Focus changes the active tab's look only: redraw, no restyle of the widget."""
        self.refresh()

    # ---- drawing ----------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        key = (y, self._active, self.has_focus, self._hover, width)
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) >= 256:
                self._strips.clear()
            strip = self._tabs_line(width) if y == 0 else self._bar_line(width)
            self._strips[key] = strip
        return strip

    def _tabs_line(self, width: int) -> Strip:
        base = Style(bgcolor=self.rich_style.bgcolor)
        tab = self.get_component_rich_style("pane-tabs--tab")
        bright = self.get_component_rich_style("pane-tabs--active")
        focused = self.get_component_rich_style("pane-tabs--focused")
        active = self._index()
        segments = []
        for i, (_, label) in enumerate(self.tabs):
            if i == active and self.has_focus:
                style = focused
            elif i == active or i == self._hover:
                style = bright
            else:
                style = tab
            pad = Style(bgcolor=style.bgcolor)
            segments += [Segment(" ", pad), Segment(label, style), Segment(" ", pad)]
        return Strip(segments).crop_extend(0, width, base)

    def _bar_line(self, width: int) -> Strip:
        """The underline: the active tab's label underlined, the rest drawn in the bar's
        background colour (like Textual's ``Underline``)."""
        base_bg = self.rich_style.bgcolor
        bar = self.get_component_rich_style("pane-tabs--bar")
        high = Style(color=bar.color, bgcolor=base_bg)
        back = Style(color=bar.bgcolor, bgcolor=base_bg)
        a, b = self._spans[self._index()] if self.tabs else (0, 0)
        start, end = min(a + 1, width), min(b - 1, width)
        segments = [Segment(BAR * max(0, start - 1), back)]
        if start > 0:
            segments.append(Segment(HALF_RIGHT, back))
        segments.append(Segment(BAR * (end - start), high))
        if end < width:
            segments.append(Segment(HALF_LEFT, back))
            segments.append(Segment(BAR * (width - end - 1), back))
        return Strip([s for s in segments if s.text]).crop_extend(0, width, Style(bgcolor=base_bg))
