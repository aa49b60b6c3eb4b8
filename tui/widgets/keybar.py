"""`KeyBar`: the footer line — the focused pane's keys and the global ones, as one widget.

Textual's ``Footer`` recomposes one widget per key on every focus change, which restyles
a few dozen widgets per pane switch (tens of milliseconds); this draws the same hints as
one line of text, rebuilt only when the active bindings change. The drawn line is kept per
set of bindings, so switching back to a pane reuses it (drawing it costs ~1 ms).
"""

from __future__ import annotations

from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget


class KeyBar(Widget):
    """``key description`` for every shown binding of the focused chain, then the palette."""

    COMPONENT_CLASSES = {"keybar--key", "keybar--description"}
    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text: Text | None = None
        self._signature: tuple = ()
        self._strips: dict[tuple, Strip] = {}

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._text = None
        self._strips.clear()

    def _bindings_changed(self, screen) -> None:
        if self.is_attached and screen is self.screen:
            signature = self._current()
            if signature != self._signature:
                self._signature = signature
                self._text = None
                self.refresh()

    def _current(self) -> tuple:
        seen = []
        for active in self.screen.active_bindings.values():
            b = active.binding
            if b.show and b.description:
                seen.append((self.app.get_key_display(b), b.description))
        return tuple(dict.fromkeys(seen))

    def render_line(self, y: int) -> Strip:
        """The line drawn for the current bindings, from the cache when they were shown before."""
        if not self._signature:
            self._signature = self._current()
        key = (self._signature, self.size, y)
        strip = self._strips.get(key)
        if strip is None:
            if len(self._strips) >= 32:
                self._strips.clear()
            strip = self._strips[key] = super().render_line(y)
        return strip

    def render(self) -> Text:
        if self._text is None:
            if not self._signature:
                self._signature = self._current()
            key = self.get_component_rich_style("keybar--key", partial=True)
            desc = self.get_component_rich_style("keybar--description", partial=True)
            text = Text(no_wrap=True, overflow="ellipsis", end="")
            for k, d in self._signature:
                text.append(f" {k} ", key)
                text.append(f"{d} ", desc)
            text.append(" ^p ", key)
            text.append("palette", desc)
            self._text = text
        return self._text
