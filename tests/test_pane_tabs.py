"""`PaneTabs` (#21, pane switch cost): the console's one-widget tab bar.

Its look is compared cell for cell with what Textual's own ``Tabs`` draws for the same labels
and the same underline rule (the widget it replaced), in every state a user sees: each tab
active, the bar focused, a tab hovered, a light theme. Its behaviour in the console: a
click picks a pane and focuses the bar, ``←``/``→`` walk the panes (wrapping), number keys
move the underline with the pane.
"""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Tab, Tabs

from livedesk.backend.console.actions import PANE_TITLES, PANES
from livedesk.tui.widgets.pane_tabs import PaneTabs
from tests.console_helpers import connected, make_app, make_session

LABELS = [(f"tab-{p}", f"{i} {PANE_TITLES[p]}") for i, p in enumerate(PANES, 1)]


class TextualTabsApp(App):
    CSS = "Tabs Underline > .underline--bar { background: $background; }"

    def compose(self) -> ComposeResult:
        yield Tabs(*(Tab(label, id=tab_id) for tab_id, label in LABELS))


class PaneTabsApp(App):
    CSS = "PaneTabs > .pane-tabs--bar { background: $background; }"

    def compose(self) -> ComposeResult:
        yield PaneTabs(LABELS)


def cells(app: App) -> list[list[tuple[str, str]]]:
    """The two tab rows as (character, style) cells."""
    strips = app.screen._compositor.render_strips()
    return [[(ch, str(seg.style)) for seg in strips[y] for ch in seg.text] for y in (0, 1)]


async def drawn(app_class: type[App], steps) -> list:
    app = app_class()
    app.animation_level = "none"  # as the console runs (the underline jumps)
    frames = []
    async with app.run_test(size=(80, 4)) as pilot:
        await pilot.pause()
        for step in steps:
            await step(app, pilot)
            await pilot.pause(0.05)
            await pilot.pause()
            frames.append(cells(app))
    return frames


def activate(i: int):
    async def step(app, pilot):
        (
            app.query_one(Tabs) if isinstance(app, TextualTabsApp) else app.query_one(PaneTabs)
        ).active = LABELS[i][0]

    return step


async def focus(app, pilot):
    app.set_focus(app.query_one(Tabs if isinstance(app, TextualTabsApp) else PaneTabs))


async def blur(app, pilot):
    app.set_focus(None)


async def hover_fifth(app, pilot):
    await pilot.hover(Tabs if isinstance(app, TextualTabsApp) else PaneTabs, offset=(45, 0))


async def light(app, pilot):
    app.theme = "textual-light"


async def test_drawn_like_textual_tabs_in_every_state() -> None:
    steps = [blur, *(activate(i) for i in range(len(LABELS))), focus, activate(2), blur]
    steps += [hover_fifth, light]
    ours = await drawn(PaneTabsApp, steps)
    theirs = await drawn(TextualTabsApp, steps)
    assert len(ours) == len(theirs) == len(steps)
    for n, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a == b, f"step {n} differs"
    # the oracle really changes between the states compared (the comparison is not vacuous)
    assert theirs[1] != theirs[2] and theirs[-3] != theirs[-4] and theirs[-1] != theirs[-2]


@pytest.fixture
async def console(market, tmp_path):
    session, _gw = make_session(market, tmp_path)
    yield make_app(session, tmp_path)


async def test_click_and_arrows_pick_panes(console) -> None:
    app = console
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        bar = app.query_one(PaneTabs)
        # "1 Positions" takes cells 0-12, "2 Orders" 13-22, "3 Equity" 23-32
        await pilot.click(PaneTabs, offset=(27, 0))
        await pilot.pause()
        assert app.active_pane == "equity" and bar.active == "tab-equity"
        assert app.focused is bar
        assert app.pane("equity").region.height > 0 and app.pane("positions").region.height == 0
        await pilot.press("right")
        await pilot.pause()
        assert app.active_pane == "risk" and app.pane("risk").region.height > 0
        await pilot.press("left", "left", "left")
        await pilot.pause()
        assert app.active_pane == "positions"
        await pilot.press("left")  # wraps to the last tab
        await pilot.pause()
        assert app.active_pane == "watchlist" and bar.active == "tab-watchlist"
        await pilot.press("tab")  # focus leaves the bar; the number keys still switch
        await pilot.press("2")
        await pilot.pause()
        assert bar.active == "tab-orders" and app.focused_pane().pane_id == "orders"
