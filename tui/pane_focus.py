"""The focused pane's title, marked by a class restyled on that pane alone.

A ``:focus-within`` rule makes Textual re-match the stylesheet over both panes' whole
subtrees on every focus change and redraw their tables. The class ``-has-focus`` carries
the same look (console.tcss) but is set on the one or two panes involved, restyling each
pane node only: its title row is all that changes.
"""

from __future__ import annotations

from textual.dom import DOMNode

FOCUS_CLASS = "-has-focus"


def pane_of(node: DOMNode | None) -> DOMNode | None:
    """The nearest ``.pane`` holding ``node`` (``node`` itself included), else None."""
    while node is not None:
        if node.has_class("pane"):
            return node
        node = node.parent
    return None


def mark_focused_pane(blurred: DOMNode | None, focused: DOMNode | None) -> None:
    """Move the focus mark from ``blurred``'s pane to ``focused``'s pane."""
    old, new = pane_of(blurred), pane_of(focused)
    if old is new:
        return
    for pane, on in ((old, False), (new, True)):
        if pane is not None and pane.is_attached:
            pane.set_class(on, FOCUS_CLASS, update=False)
            pane.app.stylesheet.apply(pane, animate=False)  # the pane node, not its subtree
