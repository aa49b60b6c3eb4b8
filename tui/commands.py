"""The command palette: every console action (themes: Textual's one "Theme" entry)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from livedesk.backend.console.actions import ACTIONS, PANE_TITLES

SCOPE_LABEL = {"table": "table", **{k: v for k, v in PANE_TITLES.items()}}


def _entries(app) -> list[tuple[str, str, object]]:
    out = []
    for a in ACTIONS:
        if a.id == "theme":
            continue  # one "Theme" entry: Textual's picker (remembered); `t` still cycles
        where = "" if a.scope == "app" else f" ({SCOPE_LABEL.get(a.scope, a.scope)})"
        out.append(
            (f"{a.description}{where}", a.help or a.description, partial(app.run_spec, a.id))
        )
    return out


class EntriesProvider(Provider):
    """A palette provider over a list of (display, help, command) entries."""

    def entries(self) -> list:
        """The provider's entries (subclasses say which)."""
        raise NotImplementedError

    async def discover(self) -> Hits:
        for display, help_text, command in self.entries():
            yield DiscoveryHit(display, command, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for display, help_text, command in self.entries():
            score = matcher.match(display)
            if score > 0:
                yield Hit(score, matcher.highlight(display), command, help=help_text)


class ConsoleCommands(EntriesProvider):
    """Palette entries for the console's actions and themes."""

    def entries(self) -> list:
        return _entries(self.app)
