"""The kill switch dialog: type KILL to cancel every order and halt, or FLATTEN to do that and
also close every position at market. Anything else says what to type and stays open."""

from __future__ import annotations

from textual.widgets import Input, Static

from livedesk.tui.screens.dialogs import TypedConfirmScreen

KILL_WORD = "KILL"
FLATTEN_WORD = "FLATTEN"


class KillSwitchScreen(TypedConfirmScreen):
    """Returns ``"KILL"``, ``"FLATTEN"`` or None (escape / Cancel)."""

    def __init__(self) -> None:
        super().__init__(
            "KILL SWITCH",
            f"Type {KILL_WORD}: cancel every working order and halt every strategy. "
            f"Type {FLATTEN_WORD}: also close every position at market. Trading stays HALTED "
            "(only cancels) until restart.",
            KILL_WORD,
            "Kill",
        )
        self.expected = f"{KILL_WORD} or {FLATTEN_WORD}"  # the input's placeholder

    def _try(self) -> None:
        typed = self.query_one("#typed", Input).value.strip()
        if typed in (KILL_WORD, FLATTEN_WORD):
            self.dismiss(typed)
        else:
            self.query_one("#typed-error", Static).update(
                f"type {KILL_WORD} (cancel all and halt) or {FLATTEN_WORD} (also flatten "
                f"everything) exactly (got {typed!r}); Esc cancels"
            )
