"""The command line (``:``): type an order or a command, ``↑``/``↓`` for history, ``tab`` to
complete. A command that does not parse says what is wrong, points at the word, and stays
open; nothing is ever sent from here (orders open the preview)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from livedesk.backend.manual.command_line import Command, CommandError, complete

HINT = "buy AAPL 100 lmt 180.5 · sell AAPL 10% mkt · close AAPL · cancel all · tab"


class CommandLineScreen(ModalScreen[tuple[str, Command] | None]):
    """Returns (text, parsed command), or None on escape."""

    CSS_PATH = "command_line.tcss"
    BINDINGS = [
        Binding("escape", "close", "Cancel", id="command_line.cancel"),
        Binding("up", "history(-1)", "Previous", id="command_line.previous", show=False),
        Binding("down", "history(1)", "Next", id="command_line.next", show=False),
        Binding("tab", "complete", "Complete", id="command_line.complete", show=False),
    ]

    def __init__(
        self,
        parse: Callable[[str], Command],
        history: list[str],
        symbols: Callable[[], Sequence[str]] = tuple,
        strategies: Callable[[], Sequence[str]] = tuple,
        prefill: str = "",
    ) -> None:
        super().__init__(classes="command-line-screen")
        self.parse = parse
        self.history = history
        self.symbols = symbols
        self.strategies = strategies
        self.position = len(history)
        self.prefill = prefill

    def compose(self) -> ComposeResult:
        with Vertical(id="command-line"):
            yield Static(HINT, id="command-line-hint")
            yield Input(placeholder=":", id="command-line-input")
            yield Static("", id="command-line-error")

    def on_mount(self) -> None:
        field = self.query_one(Input)
        if self.prefill:
            field.value = self.prefill
            field.cursor_position = len(self.prefill)
        field.focus()

    @property
    def input(self) -> Input:
        return self.query_one("#command-line-input", Input)

    def error(self, message: str, column: int | None = None) -> None:
        """Show what is wrong under the input (a caret under the word at fault)."""
        text = message
        if column is not None:
            text = f"{' ' * column}^ {message}"
        self.query_one("#command-line-error", Static).update(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#command-line-error", Static).update("")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        try:
            command = self.parse(text)
        except CommandError as exc:
            self.error(str(exc), exc.column + (len(event.value) - len(event.value.lstrip())))
            return
        if not self.history or self.history[-1] != text:
            self.history.append(text)
        self.dismiss((text, command))

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        self.position = min(max(self.position + step, 0), len(self.history))
        value = self.history[self.position] if self.position < len(self.history) else ""
        self.input.value = value
        self.input.cursor_position = len(value)

    def action_complete(self) -> None:
        value = self.input.value
        options = complete(value, self.symbols(), self.strategies())
        if not options:
            self.error("no completion")
            return
        typing_word = bool(value) and not value[-1].isspace()
        head = value[: len(value) - len(value.split()[-1])] if typing_word else value
        if len(options) == 1:
            self.input.value = f"{head}{options[0]} "
        else:
            prefix = _common_prefix(options)
            if prefix and not value.endswith(prefix):
                self.input.value = f"{head}{prefix}"
            self.error("  ".join(options[:12]))
        self.input.cursor_position = len(self.input.value)

    def action_close(self) -> None:
        self.dismiss(None)


def _common_prefix(options: Sequence[str]) -> str:
    first, last = min(options), max(options)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]
