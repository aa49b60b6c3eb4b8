"""The command palette: every console action and every LiveDesk theme."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from livedesk.backend.console.actions import ACTIONS, PANE_TITLES
from livedesk.tui.themes import LIVEDESK_THEMES

SCOPE_LABEL = {"table": "table", **{k: v for k, v in PANE_TITLES.items()}}


def _entries(app) -> list[tuple[str, str, object]]:
    out = []
    for a in ACTIONS:
        where = "" if a.scope == "app" else f" ({SCOPE_LABEL.get(a.scope, a.scope)})"
        out.append(
            (f"{a.description}{where}", a.help or a.description, partial(app.run_spec, a.id))
        )
    for name in LIVEDESK_THEMES:
        out.append(
            (f"Theme: {name}", "switch to this theme (remembered)", partial(app.use_theme, name))
        )
    return out


class ConsoleCommands(Provider):
    """Palette entries for the console's actions and themes."""

    async def discover(self) -> Hits:
        for display, help_text, command in _entries(self.app):
            yield DiscoveryHit(display, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for display, help_text, command in _entries(self.app):
            score = matcher.match(display)
            if score > 0:
                yield Hit(score, matcher.highlight(display), command, help=help_text)
