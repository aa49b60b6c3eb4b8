"""`CachedScrollBar`: a vertical scrollbar whose drawn lines are kept per bar state.

Textual draws a scrollbar through a Rich renderable on every repaint of it (~1 ms for a
pane-high bar), which a pane switch pays for the shown table's bar although it is drawn
exactly as when the pane was last shown. This keeps the lines per (size, position, window,
hover/grab) state; a style change (theme switch) clears them. A line drawn before the bar is
mounted is not kept: Textual has not rendered it yet (a blank placeholder), and keeping it
drew a table's horizontal bar without its thumb when a layout pass created the bar.
"""

from __future__ import annotations

from textual.scrollbar import ScrollBar
from textual.strip import Strip


class CachedScrollBar(ScrollBar):
    """A :class:`ScrollBar` that reuses its lines while its state is unchanged."""

    def __init__(self, vertical: bool = True, name: str | None = None, *, thickness: int = 1):
        super().__init__(vertical, name, thickness=thickness)
        self._strips: dict[tuple, Strip] = {}

    def clear_lines(self) -> None:
        """Forget the drawn lines (styles changed)."""
        self._strips.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        state = (
            self.size,
            self.window_virtual_size,
            self.window_size,
            self.position,
            self.mouse_over,
            self.grabbed,
        )
        key = (state, y)
        strip = self._strips.get(key)
        if strip is None:
            strip = super().render_line(y)
            if not self.is_mounted:  # drawn before its mount (a layout pass): Textual's line
                return strip  # is a blank placeholder until the mount repaints the bar
            if len(self._strips) >= 512:
                self._strips.clear()
            self._strips[key] = strip
        return strip
