"""The focused pane's title (#21): the ``-has-focus`` mark that replaced ``:focus-within``.

Pilot on the real app: exactly the pane holding the focus is marked, in tabs and in the grid,
also while the focus is inside it on its filter box; its title takes the theme's accent
(compared with the theme's $accent variable, not with anything the mark computes); a table still
reports its focus to the app (the grid's active pane follows the focus).
"""

from __future__ import annotations

import pytest
from textual.color import Color

from livedesk.backend.console.actions import PANES
from livedesk.tui.pane_focus import FOCUS_CLASS
from tests.console_helpers import connected, make_app, make_session


@pytest.fixture
async def console(market, tmp_path):
    session, _gw = make_session(market, tmp_path)
    yield make_app(session, tmp_path)


def marked(app) -> list[str]:
    return [p for p in PANES if app.pane(p).has_class(FOCUS_CLASS)]


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_only_the_pane_holding_the_focus_is_marked(console, size) -> None:
    app = console
    async with app.run_test(size=size) as pilot:
        await connected(pilot)
        accent = Color.parse(app.get_css_variables()["accent"])  # the theme's $accent
        for i, name in enumerate(PANES, 1):
            await pilot.press(str(i))
            await pilot.pause()
            assert marked(app) == [name]
            pane = app.pane(name)
            assert pane.styles.border_title_background == accent
            assert pane.styles.border_title_style.bold
            for other in PANES:
                if other != name:
                    assert app.pane(other).styles.border_title_background != accent


async def test_the_filter_box_keeps_its_pane_marked(console) -> None:
    app = console
    async with app.run_test(size=(120, 30)) as pilot:
        await connected(pilot)
        await pilot.press("1", "slash")
        assert app.pane("positions").filter_box.has_focus
        assert marked(app) == ["positions"]
        await pilot.press("escape")
        assert app.pane("positions").table.has_focus
        assert marked(app) == ["positions"]


async def test_a_focused_table_still_tells_the_app(console) -> None:
    app = console
    async with app.run_test(size=(160, 50)) as pilot:
        await connected(pilot)
        app.pane("log").table.focus()
        await pilot.pause()
        assert app.active_pane == "log"  # from the table's DescendantFocus
        assert marked(app) == ["log"]


async def test_a_mark_that_changes_more_than_the_title_restyles_the_subtree() -> None:
    """The title-only restyle keeps the descendants' lines; a focus rule that changes what
    they inherit (here the background) must still reach them."""
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    from livedesk.tui.pane_focus import restyle_title
    from livedesk.tui.widgets.pane import Pane

    class Marked(Pane):
        pane_id = "positions"

        def compose(self) -> ComposeResult:
            yield Static("x", id="inside")

    class Tiny(App):
        CSS = ".pane { background: #000000; } .pane.-has-focus { background: #ff0000; }"

        def compose(self) -> ComposeResult:
            yield Marked()

    def drawn_background(app) -> str:  # the screen cell drawn under the "x" inside the pane
        region = app.query_one("#inside").region
        strip = app.screen._compositor.render_strips()[region.y]
        x = 0
        for segment in strip:
            if x <= region.x < x + len(segment.text):
                return segment.style.bgcolor.triplet.hex
            x += len(segment.text)
        raise AssertionError("not drawn")

    app = Tiny()
    async with app.run_test(size=(20, 5)) as pilot:
        await pilot.pause()
        assert drawn_background(app) == "#000000"
        pane = app.query_one(Marked)
        pane.set_class(True, FOCUS_CLASS, update=False)
        restyle_title(pane)
        await pilot.pause()
        assert pane.styles.background == Color.parse("#ff0000")
        assert drawn_background(app) == "#ff0000"
