"""The whole of one Log line (``enter`` in the Log), however long."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class LogLineScreen(ModalScreen[None]):
    """One Log entry in full: time, level, source, IB code and the message, wrapped."""

    BINDINGS = [
        Binding("escape,enter,q", "close", "Close", id="log_line.close"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog log-line"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll():
                yield Static(self.text, classes="dialog-message", markup=False)
            yield Label("Esc / Enter closes", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
