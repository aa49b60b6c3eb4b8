"""``?`` / ``f1`` in the Combo builder: the builder's own keys (not the console's help).

Built from the bindings themselves (the screen's, the legs table's, the order panel's, the
template picker's and the preview's), so it lists the keys as the builder really has them.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

_NAMES = {
    "question_mark": "?",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "left_curly_bracket": "{",
    "right_curly_bracket": "}",
    "plus": "+",
    "minus": "-",
}

INTRO = (
    "Build a multi-leg option order (a BAG), preview it with the gateway's what-if and send "
    "exactly what was previewed. Focus starts in the legs table: t then a letter fills a "
    "template around the money; u moves to the underlying field (type a symbol, enter loads "
    "its chain). The BAG is always a BUY of the legs as listed at a signed limit: -3.15 is a "
    "3.15 credit."
)


def key_name(key: str) -> str:
    """``left_square_bracket,k`` → ``[ k``."""
    return " ".join(_NAMES.get(k.strip(), k.strip()) for k in key.split(","))


def key_lines(bindings: Iterable[Binding | tuple]) -> str:
    """``  key          description`` for each binding (digits folded into ``1…9``)."""
    lines, digits = [], False
    for b in bindings:
        if not isinstance(b, Binding):
            continue
        if b.key.isdigit():
            if not digits:
                lines.append(f"  {'1…9':<14} leg N")
                digits = True
            continue
        lines.append(f"  {key_name(b.key):<14} {b.description}")
    return "\n".join(lines)


class ComboHelpScreen(ModalScreen[None]):
    """The builder's keys, by where they work."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "close", id="combo.help_close")]

    def __init__(self, sections: list[tuple[str, Iterable]]) -> None:
        super().__init__(classes="dialog-screen")
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help", id="combo-help"):
            yield Static("Help — Combo builder", classes="dialog-title")
            yield Static(INTRO, classes="help-text", markup=False)
            for title, bindings in self.sections:
                yield Static(f"{title}:\n{key_lines(bindings)}", markup=False)
            yield Static("Esc closes this help.", classes="help-text", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
