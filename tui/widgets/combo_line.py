"""A one-line text field of the combo builder that repaints without a re-layout.

``Label.update`` re-lays the whole screen out (its size may change); these lines have a
size fixed by CSS, so a new text only repaints the line.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class ComboLine(Widget):
    """One line of text (size from CSS)."""

    DEFAULT_CSS = "ComboLine { height: 1; }"

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self._text = text

    @property
    def text(self) -> str:
        """The text shown."""
        return self._text

    def set(self, text: str) -> None:
        """Show ``text`` (a repaint only when it changed)."""
        if text != self._text:
            self._text = text
            self.refresh()

    def render(self) -> Text:
        return Text(self._text, no_wrap=True, overflow="ellipsis")
