"""The focused pane's title, marked by a class restyled on that pane alone.

A ``:focus-within`` rule makes Textual re-match the stylesheet over both panes' whole
subtrees on every focus change and redraw their tables. The class ``-has-focus`` carries
the same look (console.tcss) but is set on the one or two panes involved, restyling each
pane node only: its title row is all that changes.

Textual repaints every descendant when a pane's title colours change (a colour rule
refreshes its node's children), which threw away the drawn lines of the pane's table and
scrollbars on each switch. The title is drawn by the pane itself, so the restyle here
keeps the descendants' lines, unless it changed a rule other than the border title's
(then the pane and its descendants are repainted, as Textual would). While the title alone
is restyled, the pane marks only its title row for repaint (``Pane.refresh``).
"""

from __future__ import annotations

from textual.dom import DOMNode

FOCUS_CLASS = "-has-focus"
TITLE_RULES = ("border_title_color", "border_title_background", "border_title_style")


def pane_of(node: DOMNode | None) -> DOMNode | None:
    """The nearest ``.pane`` holding ``node`` (``node`` itself included), else None."""
    while node is not None:
        if node.has_class("pane"):
            return node
        node = node.parent
    return None


def _other_rules(pane: DOMNode) -> dict:
    rules = dict(pane.styles.get_rules())
    for name in TITLE_RULES:
        rules.pop(name, None)
    return rules


def restyle_title(pane: DOMNode) -> None:
    """Restyle ``pane`` (the node alone) after a class change that affects its title only;
    its descendants keep their drawn lines."""
    before = _other_rules(pane)
    pane.repaint_children = False
    try:
        pane.app.stylesheet.apply(pane, animate=False)
    finally:
        pane.repaint_children = True
    if _other_rules(pane) != before:  # more than the title changed: repaint it all
        pane.refresh()  # (the restyle above repainted the title's row only)
        for node in pane.walk_children():
            node.notify_style_update()
            node.refresh()


def mark_focused_pane(blurred: DOMNode | None, focused: DOMNode | None) -> None:
    """Move the focus mark from ``blurred``'s pane to ``focused``'s pane."""
    old, new = pane_of(blurred), pane_of(focused)
    if old is new:
        return
    for pane, on in ((old, False), (new, True)):
        if pane is not None and pane.is_attached:
            pane.set_class(on, FOCUS_CLASS, update=False)
            restyle_title(pane)
