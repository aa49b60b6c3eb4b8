"""Confirmation dialogs: a yes/no one (focus starts on *Cancel*) and a typed one."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Ask before acting; Enter on the focused *Cancel* button (or Esc) answers no."""

    BINDINGS = [Binding("escape", "dismiss_no", "Cancel", id="dialog.cancel")]

    def __init__(self, title: str, message: str, confirm: str = "Confirm") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text, self.message, self.confirm = title, message, confirm

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.message, classes="dialog-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button(self.confirm, id="confirm", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_dismiss_no(self) -> None:
        self.dismiss(False)


class TypedConfirmScreen(ModalScreen[str | None]):
    """Act only when the user types ``expected`` exactly; returns what was typed, or None."""

    BINDINGS = [Binding("escape", "dismiss_no", "Cancel", id="dialog.cancel")]

    def __init__(self, title: str, message: str, expected: str, confirm: str = "Confirm") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text, self.message, self.expected, self.confirm = (
            title,
            message,
            expected,
            confirm,
        )

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.message, classes="dialog-message")
            yield Input(placeholder=f"type {self.expected}", id="typed")
            yield Static("", id="typed-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button(self.confirm, id="confirm", variant="error")

    def on_mount(self) -> None:
        self.query_one("#typed", Input).focus()

    def _try(self) -> None:
        typed = self.query_one("#typed", Input).value
        if typed.strip() == self.expected:
            self.dismiss(typed.strip())
        else:
            self.query_one("#typed-error", Static).update(
                f"type {self.expected} exactly to confirm (got {typed!r}); Esc cancels"
            )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._try()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "confirm":
            self._try()
        else:
            self.dismiss(None)

    def action_dismiss_no(self) -> None:
        self.dismiss(None)
