"""``?`` / ``f1``: help for the focused pane and every key (as currently mapped)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from livedesk.backend.console.actions import ACTIONS, PANE_TITLES


def key_table(keymap: dict[str, str], scopes: tuple[str, ...]) -> str:
    """``key  description`` lines for the actions in ``scopes``."""
    lines = []
    for a in ACTIONS:
        if a.scope not in scopes:
            continue
        keys = keymap.get(a.id, a.key)
        for name, shown in (
            ("question_mark", "?"),
            ("slash", "/"),
            ("colon", ":"),
            ("greater_than_sign", ">"),
            ("less_than_sign", "<"),
        ):
            keys = keys.replace(name, shown)
        lines.append(f"  {keys:<18} {a.help or a.description}  [{a.id}]")
    return "\n".join(lines)


class HelpScreen(ModalScreen[None]):
    """Help for one pane (its description and keys) and the global keys."""

    BINDINGS = [
        Binding("escape,q,question_mark,f1", "close", "Close", id="help.close"),
    ]

    def __init__(self, pane_id: str, pane_help: str, keymap: dict[str, str]) -> None:
        super().__init__(classes="dialog-screen")
        self.pane_id, self.pane_help, self.keymap = pane_id, pane_help, keymap

    def compose(self) -> ComposeResult:
        title = PANE_TITLES.get(self.pane_id, "LiveDesk")
        scopes = {"positions": ("table",), "log": ("table",), "risk": ("table",)}.get(
            self.pane_id, (self.pane_id, "table") if self.pane_id != "equity" else ("equity",)
        )
        with VerticalScroll(classes="dialog help"):
            yield Static(f"Help — {title}", classes="dialog-title")
            yield Static(self.pane_help or "", classes="help-text", markup=False)
            yield Static(f"Keys in {title}:\n" + key_table(self.keymap, scopes), markup=False)
            yield Static("Everywhere:\n" + key_table(self.keymap, ("app",)), markup=False)
            yield Static(
                "ctrl+p opens the command palette (every action and the themes). "
                'Keys can be changed in [keys] of config.toml (binding id = "key"). '
                "Esc closes this help.",
                classes="help-text",
                markup=False,
            )

    def action_close(self) -> None:
        self.dismiss(None)
