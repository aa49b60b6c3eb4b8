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


async def test_the_mark_follows_a_theme_change(console) -> None:
    """The accent is set from the theme: after a theme change the focused title takes the new
    theme's $accent, the others keep none."""
    app = console
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        await pilot.press("2")
        await pilot.pause()
        before = Color.parse(app.get_css_variables()["accent"])
        other = next(n for n in app.available_themes if n != app.theme and n.startswith("livedesk"))
        app.theme = other
        await pilot.pause()
        await pilot.pause()
        after = Color.parse(app.get_css_variables()["accent"])
        assert after != before  # the check below would not notice otherwise
        assert app.pane("orders").styles.border_title_background == after
        assert app.pane("orders").styles.border_title_color == Color.parse(
            app.get_css_variables()["background"]
        )
        assert app.pane("positions").styles.border_title_background != after
        await pilot.press("1")
        await pilot.pause()
        assert app.pane("positions").styles.border_title_background == after
        assert app.pane("orders").styles.border_title_background != after
        assert not app.pane("orders").styles.border_title_style.bold


async def test_moving_the_mark_repaints_only_the_two_title_rows(console, monkeypatch) -> None:
    """A focus switch marks only the two panes' title rows and the tables' cursor rows for
    repaint, never a whole pane or table (what Textual itself is asked to repaint)."""
    from textual.widget import Widget

    app = console
    async with app.run_test(size=(160, 50)) as pilot:
        await connected(pilot)
        await pilot.press("1")
        await pilot.pause()
        await pilot.pause(0.3)
        watched = {app.pane(n): n for n in ("positions", "orders")}
        watched.update({app.pane(n).table: f"{n} table" for n in ("positions", "orders")})
        asked: list[tuple[str, tuple]] = []
        original = Widget.refresh

        def spy(self, *regions, **kw):
            if self in watched:
                asked.append((watched[self], regions))
            return original(self, *regions, **kw)

        monkeypatch.setattr(Widget, "refresh", spy)
        app.frozen = True  # no ticking repaint in the window
        await pilot.press("2")
        await pilot.pause()
        monkeypatch.undo()
        assert {n for n, _ in asked} >= {"positions", "orders"}
        for name, regions in asked:
            assert regions, f"{name}: repainted whole"
            assert all(r.height == 1 for r in regions), (name, regions)
