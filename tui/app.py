"""`LiveDeskApp`: the console. It only adapts: the session's data becomes widgets on a
4 Hz timer (one repaint per pane per cycle, only the panes whose data changed), keys become
calls of the session's async commands. No IB or risk logic lives here.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from textual import events, work
from textual.app import App, ComposeResult
from textual.containers import Container
from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget

from livedesk.backend.console.actions import ACTIONS, PANE_TITLES, PANES
from livedesk.backend.console.session import ConsoleConnectError, ConsoleSession
from livedesk.tui.bindings import bindings
from livedesk.tui.commands import ConsoleCommands
from livedesk.tui.demo_actions import DemoActions
from livedesk.tui.demo_speed import DemoSpeedActions, DemoSpeedCommands
from livedesk.tui.manual import ManualTrading
from livedesk.tui.operations import ConsoleOperations
from livedesk.tui.pane_focus import mark_focused_pane, restyle_marks
from livedesk.tui.screens.connect_failed import ConnectFailedScreen
from livedesk.tui.screens.dialogs import TypedConfirmScreen
from livedesk.tui.screens.help import HelpScreen
from livedesk.tui.themes import (
    DEFAULT_THEME,
    LIVEDESK_THEMES,
    VARIABLES,
    load_themes,
    remember_theme,
    remembered_theme,
)
from livedesk.tui.widgets.equity import EquityPane
from livedesk.tui.widgets.executions import OrdersExecutionsPane
from livedesk.tui.widgets.header import HeaderBar
from livedesk.tui.widgets.keybar import KeyBar
from livedesk.tui.widgets.line_table import LineTable
from livedesk.tui.widgets.log import LogPane
from livedesk.tui.widgets.pane import Pane, TablePane
from livedesk.tui.widgets.pane_tabs import PaneTabs
from livedesk.tui.widgets.positions import PositionsPane
from livedesk.tui.widgets.risk import RiskPane
from livedesk.tui.widgets.strategies import StrategiesPane
from livedesk.tui.widgets.watchlist import WatchlistPane

log = logging.getLogger("livedesk.tui")

GRID_MIN_WIDTH = 140
GRID_MIN_HEIGHT = 40
KEY_FIRST = 0.02
"""Seconds a refresh cycle due right after a keypress waits: the key's frame comes first."""
HIDDEN_QUIET = 1.0
"""Seconds without a keypress before every refresh cycle also keeps the hidden tabs current;
while keys arrive, a hidden tab is refreshed once a second (a keypress landing in a longer
cycle waited for it and then for its frame)."""
SPEC = {a.id: a for a in ACTIONS}


class MainScreen(Screen):
    """The console's screen. A focus change repaints only what its styles change (the two
    panes' titles, the table cursors, the key bar) instead of the whole screen — Textual's
    default, which made every pane jump a full 160x50 repaint."""

    focused: Reactive[Widget | None] = Reactive(None, repaint=False)

    def watch_focused(self, blurred: Widget | None, focused: Widget | None) -> None:
        mark_focused_pane(blurred, focused)


class LiveDeskApp(DemoActions, ManualTrading, ConsoleOperations, DemoSpeedActions, App[int]):
    """The LiveDesk console."""

    CSS_PATH = str(Path(__file__).with_name("console.tcss"))  # absolute: subclasses elsewhere
    TITLE = "LiveDesk"
    BINDINGS = bindings("app")
    COMMANDS = App.COMMANDS | {ConsoleCommands, DemoSpeedCommands}

    def __init__(
        self,
        session: ConsoleSession,
        *,
        keymap: dict[str, str] | None = None,
        theme_name: str | None = None,
        theme_state: Path | None = None,
        theme_dirs: list[Path] | None = None,
        refresh_interval: float = 0.25,
        auto_connect: bool = True,
    ) -> None:
        super().__init__()
        self.animation_level = "none"
        self.session = session
        self.keymap_overrides = dict(keymap or {})
        self.theme_state = theme_state
        self.theme_dirs = theme_dirs or []
        self.configured_theme = theme_name or DEFAULT_THEME
        self.refresh_interval = refresh_interval
        self.auto_connect = auto_connect
        self.frozen = False
        self.connected = False
        self.status = f"connecting to {session.target.describe()}…"
        self.active_pane = PANES[0]
        self.grid = False
        self.theme_errors: list[str] = []
        self.exit_code = 0
        self._session_closed = False
        self._risk_checked = 0.0
        self._stale = False
        self._stale_subtitle = ""
        self._timer = None
        self.last_key_at = -1.0
        """When the last key reached the app (monotonic seconds)."""
        self._hidden_refreshed: dict[str, float] = {}  # monotonic time, per hidden tab
        self._tick_deferred = ""
        self.main_screen = None
        self.header = HeaderBar(id="header")
        self.panes: dict[str, Pane] = {
            p.pane_id: p
            for p in (
                PositionsPane(),
                OrdersExecutionsPane(),  # OrdersPane + its Executions view (e)
                EquityPane(),
                RiskPane(),
                StrategiesPane(),
                LogPane(),
                WatchlistPane(),
            )
        }
        self.set_keymap(self.keymap_overrides)

    # ---- layout ---------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        return MainScreen(id="_default")

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLES)

    def compose(self) -> ComposeResult:
        yield self.header
        yield PaneTabs(
            [(f"tab-{p}", f"{i} {PANE_TITLES[p]}") for i, p in enumerate(PANES, 1)],
            id="pane-tabs",
        )
        with Container(id="panes"):
            # DOM order is the grid's order at 160x50 (see console.tcss)
            for name in ("positions", "equity", "risk", "strategies", "watchlist", "orders", "log"):
                yield self.panes[name]
        yield KeyBar(id="keys")

    def pane(self, name: str) -> Pane:
        """The pane called ``name``."""
        return self.panes[name]

    def on_mount(self) -> None:
        self.main_screen = self.screen
        self._load_themes()
        self._apply_layout(self.size.width, self.size.height)
        self.header.show(None, status=self.status)
        self._timer = self.set_interval(self.refresh_interval, self.tick)
        self.theme_changed_signal.subscribe(self, self._on_theme_changed)
        self.pane(self.active_pane).focus_target().focus()
        if self.auto_connect:
            self.connect_session()

    def on_resize(self, event) -> None:
        self._apply_layout(event.size.width, event.size.height)

    def _apply_layout(self, width: int, height: int) -> None:
        grid = width >= GRID_MIN_WIDTH and height >= GRID_MIN_HEIGHT
        if self.grid and not grid:
            self.query_one(PaneTabs).active = f"tab-{self.active_pane}"
        self.grid = grid
        (self.main_screen or self.screen).set_class(grid, "-grid")
        for name in PANES:
            self._show(name, grid or name == self.active_pane)

    def _show(self, name: str, shown: bool) -> None:
        """Show or hide pane ``name`` by its inline ``display`` (a class change would
        re-match the stylesheet over the pane's subtree: ~5 ms per tab switch)."""
        pane = self.pane(name)
        if pane.display != shown:
            pane.keep_lines = True  # its own lines are drawn as before: keep them (~2 ms)
            try:
                pane.display = shown
            finally:
                pane.keep_lines = False

    # ---- themes ---------------------------------------------------------------------
    def _load_themes(self) -> None:
        themes, errors = load_themes(self.theme_dirs)
        for theme in themes:
            self.register_theme(theme)
        self.theme_errors = errors
        for e in errors:
            log.warning("theme not loaded: %s", e)
            self.notify(f"theme not loaded: {e}", severity="warning", timeout=10)
        wanted = (remembered_theme(self.theme_state) if self.theme_state else None) or (
            self.configured_theme
        )
        if wanted not in self.available_themes:
            if wanted != DEFAULT_THEME:
                message = f"unknown theme {wanted!r}: using {DEFAULT_THEME}"
                log.warning(message)
                self.notify(message, severity="warning", timeout=10)
            wanted = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else "textual-dark"
        self.theme = wanted

    def _on_theme_changed(self, theme) -> None:
        restyle_marks(self.panes.values())  # the focus mark is set from the theme's colours
        if self.theme_state is not None:
            try:
                remember_theme(self.theme_state, theme.name)
            except OSError as exc:
                log.warning("cannot remember the theme: %s", exc)

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """Save a screenshot (SVG) — by default in the state directory, which always exists
        (``~/Downloads`` may not)."""
        if path is None:
            from livedesk.backend.config import state_dir
            from livedesk.backend.files import private_dir

            folder = state_dir() / "screenshots"
            try:
                private_dir(folder)
            except OSError as exc:
                self.notify(f"cannot save the screenshot: {exc}", severity="error")
                return None
            path = str(folder)
        return super().deliver_screenshot(filename, path, time_format)

    def use_theme(self, name: str) -> None:
        """Switch to theme ``name`` (remembered for the next start)."""
        if name in self.available_themes:
            self.theme = name
        else:
            self.notify(f"theme {name!r} is not available", severity="error")

    def action_next_theme(self) -> None:
        """Cycle the LiveDesk themes."""
        names = [n for n in LIVEDESK_THEMES if n in self.available_themes]
        if names:
            i = names.index(self.theme) if self.theme in names else -1
            self.use_theme(names[(i + 1) % len(names)])

    # ---- connection -----------------------------------------------------------------
    @work(exclusive=True, group="connect", exit_on_error=False)
    async def connect_session(self) -> None:
        """Connect (first frame is already on screen); on failure show the failure screen."""
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.session.connect()
                break
            except ConsoleConnectError as exc:
                log.warning("connection failed: %s", exc)
                self.status = "connection failed"
                retry = await self.push_screen_wait(
                    ConnectFailedScreen(exc.tried, exc.reason, attempt)
                )
                if not retry:
                    await self.shutdown(1)
                    return
                self.status = f"connecting to {self.session.target.describe()}…"
                self.tick(force=True)
        self.connected = True
        self.status = ""
        self.set_class(self.session.badge == "LIVE", "-live")
        self.start_demo_prepare()
        self.tick(force=True)
        if self.session.needs_live_confirmation:
            account = self.session.app.account
            typed = await self.push_screen_wait(
                TypedConfirmScreen(
                    "LIVE account",
                    f"Account {account} is a LIVE account (paper ids start with DU). "
                    "No order can be sent until you type the account id. "
                    "Esc keeps the console read-only for orders.",
                    account,
                    "Unlock orders",
                )
            )
            if typed and self.session.confirm_live(typed):
                self.notify(f"LIVE account {account} unlocked for orders", severity="warning")
            else:
                self.notify("LIVE account locked: orders are refused", severity="warning")
        elif self.session.badge == "LIVE":
            self.notify("LIVE account without --live: every order is refused", severity="warning")

    # ---- the refresh cycle ------------------------------------------------------------
    def _mark_stale(self, stale: bool, age: float) -> None:
        """Panes keep their last data while disconnected: dimmed, subtitled with its age."""
        from livedesk.tui.widgets.header import format_age

        subtitle = f"stale {format_age(age)}: disconnected" if stale else ""
        if stale == self._stale and subtitle == self._stale_subtitle:
            return
        self._stale, self._stale_subtitle = stale, subtitle
        for name in PANES:
            pane = self.pane(name)
            pane.set_class(stale, "-stale")
            pane.border_subtitle = subtitle

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.last_key_at = time.monotonic()
        await super().on_event(event)

    def _key_first(self) -> bool:
        """Put this refresh cycle off for a keypress that has just arrived: its frame is
        drawn first, without the cycle's repaint in it (#21). A cycle waits at most once."""
        if self._tick_deferred == "due":
            self._tick_deferred = ""
            return False
        wait = self.last_key_at + KEY_FIRST - time.monotonic()
        if wait <= 0:
            return False
        if not self._tick_deferred:
            self._tick_deferred = "waiting"
            self.set_timer(wait, self._deferred_tick)
        return True

    def _deferred_tick(self) -> None:
        self._tick_deferred = "due"
        self.tick()

    def tick(self, force: bool = False) -> None:
        """One refresh cycle: header always; panes unless frozen; toasts."""
        if not force and self._key_first():
            return
        s = self.session
        header = self.header
        if self._session_closed or not header.is_attached:
            return
        try:
            view = s.header()
        except Exception:  # never let a view error stop the refresh cycle
            log.exception("header view failed")
            view = None
        header.show(view, self.frozen, self.status)
        self._mark_stale(view is not None and view.stale, view.stale_age if view else 0.0)
        while s.toasts:
            e = s.toasts.popleft()
            self.notify(
                e.message,
                title=e.source,
                severity="error" if e.level == "error" else "warning",
                timeout=8,
            )
        if not self.connected:
            return
        now = time.monotonic()
        if now - self._risk_checked >= 5.0:  # divergence flags reach the Log even unseen
            self._risk_checked = now
            try:
                s.risk_blocks()
            except Exception:
                log.exception("risk check failed")
        if self.frozen and not force:
            return
        now = time.monotonic()
        quiet = now - self.last_key_at >= HIDDEN_QUIET
        for name in PANES:  # hidden tabs too (at least once a second while keys arrive)
            hidden = not self.grid and name != self.active_pane
            if hidden and not quiet and now - self._hidden_refreshed.get(name, 0.0) < 1.0:
                continue
            if hidden:
                self._hidden_refreshed[name] = now
            try:
                self.pane(name).refresh_from(s, force)
            except Exception:
                log.exception("pane %s refresh failed", name)

    # ---- panes and focus --------------------------------------------------------------
    def focused_pane(self) -> Pane:
        """The pane holding the focus (else the active one)."""
        node = self.focused
        while node is not None:
            if isinstance(node, Pane):
                return node
            node = node.parent
        return self.pane(self.active_pane)

    def action_show_pane(self, name: str) -> None:
        """Jump to pane ``name`` (tabs: switch; grid: focus)."""
        if name not in PANES:
            return
        self._activate(name)
        if not self.grid:  # hidden in the grid: synced when the tabs come back
            self.query_one(PaneTabs).active = f"tab-{name}"
        self.pane(name).focus_target().focus()

    def _activate(self, name: str) -> None:
        if name == self.active_pane:
            return
        previous, self.active_pane = self.active_pane, name
        if not self.grid:  # the grid shows every pane: nothing to restyle
            self._show(previous, False)
            self._show(name, True)
        if self.grid:
            return  # the grid shows every pane: nothing to catch up
        # what changed since the last cycle that reached it (nothing, when keys were quiet),
        # right after the key's own frame: the switch is drawn first (~1.5 ms for 500 rows)
        self.call_after_refresh(self._catch_up, name)

    def _catch_up(self, name: str) -> None:
        if name != self.active_pane or self.grid:
            return
        if self.connected and not self.frozen and not self._session_closed and self.is_running:
            try:
                self.pane(name).refresh_from(self.session)
            except Exception:  # e.g. a pane already torn down while quitting
                log.exception("pane %s refresh failed", name)

    def on_pane_tabs_activated(self, event: PaneTabs.Activated) -> None:
        if not self.is_running:
            return
        name = event.tab_id.removeprefix("tab-")
        self._activate(name)
        if self.focused is event.tabs or self.focused is None:
            return
        focused = self.focused_pane()
        if focused.pane_id != name and not self.grid:
            self.pane(name).focus_target().focus()

    def on_descendant_focus(self, event) -> None:
        if not self.is_running:
            return
        pane = self.focused_pane()
        if pane.pane_id != self.active_pane and self.grid:
            self.active_pane = pane.pane_id

    # ---- global actions ---------------------------------------------------------------
    def effective_keymap(self) -> dict[str, str]:
        """Binding id → key(s), after the ``[keys]`` overrides."""
        return {a.id: self.keymap_overrides.get(a.id, a.key) for a in ACTIONS}

    def action_help(self) -> None:
        """Help for the focused pane."""
        pane = self.focused_pane()
        self.push_screen(HelpScreen(pane.pane_id, pane.HELP, self.effective_keymap()))

    def action_freeze(self) -> None:
        """Freeze or resume screen updates (the header keeps its clock)."""
        self.frozen = not self.frozen
        self.notify("updates frozen: Z resumes" if self.frozen else "updates resumed")
        if not self.frozen:
            self.tick(force=True)
        else:
            self.tick()

    def action_follow(self) -> None:
        """Keep the focused table's cursor on its newest row (toggles)."""
        pane = self.focused_pane()
        if isinstance(pane, TablePane):
            pane.table.follow = not pane.table.follow
            self.notify(f"{pane.title}: follow {'on' if pane.table.follow else 'off'}")

    def action_combo_builder(self) -> None:
        """Open the option combo builder."""
        try:
            from livedesk.tui.screens.combo_builder import ComboBuilderScreen
        except ImportError:
            self.notify("combo builder not available", severity="warning")
            return
        if self.session.app is None:
            self.notify("not connected yet", severity="warning")
            return
        self.push_screen(ComboBuilderScreen(self.session.app))

    async def on_unmount(self) -> None:
        await self._close_session()

    # ---- the palette --------------------------------------------------------------------
    async def run_spec(self, action_id: str) -> None:
        """Run the action ``action_id`` from the command palette, in its pane."""
        spec = SPEC[action_id]
        if spec.scope == "app":
            await self.run_action(spec.action)
            return
        if spec.scope == "table":
            pane = self.focused_pane()
            if not isinstance(pane, TablePane):
                pane = self.pane("positions")
            self.action_show_pane(pane.pane_id)
            await self.run_action(spec.action, pane.table)
            return
        self.action_show_pane(spec.scope)
        await self.run_action(spec.action, self.pane(spec.scope))


__all__ = ["LineTable", "LiveDeskApp"]
