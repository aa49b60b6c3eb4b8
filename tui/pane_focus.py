"""The focused pane's title: an accent on the title of the pane holding the focus.

A ``:focus-within`` rule makes Textual re-match the stylesheet over both panes' whole
subtrees on every focus change and redraw their tables; even a class rule matched on the
pane node alone costs ~0.5 ms per pane (the whole stylesheet is matched against it), twice
per pane switch. The mark is therefore the class ``-has-focus`` (for queries and tests) plus
the title's look set inline from the theme's variables (:data:`FOCUS_LOOK`): only the title
changes, so only the pane's title row is repainted (``Pane.refresh`` while
``repaint_children`` is off) and its descendants keep their drawn lines. A theme change
re-resolves the look (:func:`restyle_marks`).
"""

from __future__ import annotations

from textual.color import Color
from textual.dom import DOMNode

FOCUS_CLASS = "-has-focus"
FOCUS_LOOK = {
    "border_title_color": "$background",
    "border_title_background": "$accent",
    "border_title_style": "bold",
}
"""The focused pane's title (``$name``: a theme variable); unfocused titles keep the
``.pane`` rule of console.tcss."""


def pane_of(node: DOMNode | None) -> DOMNode | None:
    """The nearest ``.pane`` holding ``node`` (``node`` itself included), else None."""
    while node is not None:
        if node.has_class("pane"):
            return node
        node = node.parent
    return None


def _resolved(variables: dict[str, str]) -> dict[str, object]:
    look: dict[str, object] = {}
    for rule, value in FOCUS_LOOK.items():
        if value.startswith("$"):
            look[rule] = Color.parse(variables[value[1:]])
        else:
            look[rule] = value
    return look


def show_mark(pane: DOMNode, on: bool) -> None:
    """Set or clear the focus mark of ``pane``; only its title row is repainted."""
    pane.set_class(on, FOCUS_CLASS, update=False)
    styles = pane.styles
    pane.repaint_children = False
    try:
        if on:
            for rule, value in _resolved(pane.app.theme_variables).items():
                setattr(styles, rule, value)
        else:
            for rule in FOCUS_LOOK:
                styles.clear_rule(rule)
            pane.refresh()
    finally:
        pane.repaint_children = True


def mark_focused_pane(blurred: DOMNode | None, focused: DOMNode | None) -> None:
    """Move the focus mark from ``blurred``'s pane to ``focused``'s pane."""
    old, new = pane_of(blurred), pane_of(focused)
    if old is new:
        return
    for pane, on in ((old, False), (new, True)):
        if pane is not None and pane.is_attached:
            show_mark(pane, on)


def restyle_marks(panes) -> None:
    """Re-resolve the marked panes' look (after a theme change)."""
    for pane in panes:
        if pane.is_attached and pane.has_class(FOCUS_CLASS):
            show_mark(pane, True)
