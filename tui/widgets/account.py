"""`AccountLines`: the account figures at the top of the Equity pane, packed to its width.

Cash, buying power, excess liquidity, initial and maintenance margin, realised and
unrealised day PnL, each with its currency; dimmed and marked ``stale`` while disconnected
(the last known figures stay).
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from livedesk.tui import format as fmt

GAP = 3


def figure_text(figure) -> tuple[str, str, str]:
    """(label, value with its currency, style): ``Cash``, ``1,000,000.00 USD``, ``""``."""
    if not fmt.ok(figure.value):
        return figure.label, "—", "dim"
    if figure.signed:
        text, style = fmt.signed(figure.value, 2)
    else:
        text, style = fmt.num(figure.value), ""
    currency = f" {figure.currency}" if figure.currency else ""
    return figure.label, f"{text}{currency}", style


class AccountLines(Widget):
    """The figures, as many per line as fit (see the module docstring)."""

    COMPONENT_CLASSES = {"account--label", "account--stale", "account--up", "account--down"}
    DEFAULT_CSS = """
    AccountLines { height: auto; }
    AccountLines > .account--label { color: $foreground-muted; }
    AccountLines > .account--stale { color: $warning; text-style: bold; }
    AccountLines > .account--up { color: $pnl-up; }
    AccountLines > .account--down { color: $pnl-down; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.figures: list = []
        self.stale = False

    def show(self, figures: list, stale: bool) -> None:
        """New figures (the last ones are kept when ``stale`` brings none)."""
        figures = figures or self.figures
        if (figures, stale) == (self.figures, self.stale):
            return
        lines_before = len(self._lines(self.size.width or 80))
        self.figures, self.stale = figures, stale
        self.refresh(layout=len(self._lines(self.size.width or 80)) != lines_before)

    def _items(self) -> list[tuple[str, str, str]]:
        items = [figure_text(f) for f in self.figures]
        if self.stale and items:
            items.insert(0, ("", "stale", "stale"))
        return items

    def _lines(self, width: int) -> list[list[tuple[str, str, str]]]:
        lines: list[list[tuple[str, str, str]]] = [[]]
        used = 0
        for item in self._items():
            size = len(item[0]) + 1 + len(item[1]) + (GAP if lines[-1] else 1)
            if lines[-1] and used + size > width:
                lines.append([])
                used = 0
                size -= GAP - 1
            lines[-1].append(item)
            used += size
        return lines if lines[0] else []

    def get_content_height(self, container, viewport, width: int) -> int:
        return max(1, len(self._lines(width)))

    def render(self) -> Text:
        label = self.get_component_rich_style("account--label", partial=True)
        stale = self.get_component_rich_style("account--stale", partial=True)
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        for n, line in enumerate(self._lines(self.size.width)):
            if n:
                text.append("\n")
            text.append(" ")
            for i, (name, value, style) in enumerate(line):
                if i:
                    text.append(" " * GAP)
                if style == "stale":
                    text.append(value, stale)
                    continue
                text.append(f"{name} ", label)
                text.append(value, self._value_style(style, label))
        return text

    def _value_style(self, style: str, dim):
        if self.stale or style == "dim":
            return dim
        if style in ("up", "down"):
            return self.get_component_rich_style(f"account--{style}", partial=True)
        return ""
