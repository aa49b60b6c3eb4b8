"""The Watchlist's ``+``: ask for a symbol; the gateway must know it before it is added.

A bad or unknown symbol says what is wrong under the input and stays open (nothing added);
Esc closes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from livedesk.backend.console.watchlist import WatchlistError


class AddSymbolScreen(ModalScreen[str | None]):
    """Returns the added symbol's watchlist name, or None (Esc)."""

    BINDINGS = [Binding("escape", "close", "Cancel", id="watchlist_add.cancel")]

    def __init__(self, add: Callable[[str], Awaitable[str]]) -> None:
        super().__init__(classes="dialog-screen")
        self.add = add

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Add to the watchlist", classes="dialog-title")
            yield Input(placeholder="AAPL · CL F27 · SPY 31DEC26 528 C", id="watchlist-symbol")
            yield Static("", id="watchlist-error", classes="dialog-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#watchlist-error", Static).update("")

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        error = self.query_one("#watchlist-error", Static)
        error.update("checking…")
        try:
            added = await self.add(event.value)
        except WatchlistError as exc:
            error.update(f"{exc}: not added")
            return
        self.dismiss(added)

    def action_close(self) -> None:
        self.dismiss(None)
