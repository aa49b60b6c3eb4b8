"""Modify a working order: its new price and/or quantity (blank or unchanged: kept).

Returns ``(quantity, price)`` (None for a field left as it is) or None on escape. Numbers
that do not read say so under the fields and the dialog stays open; the modification itself
is checked and previewed afterwards (the order preview, ``shift+b`` sends).
"""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

Answer = tuple[float | None, float | None]


def read_change(text: str, current: float | None, what: str) -> float | None:
    """The new value typed (None: blank or the current one); ValueError says what is wrong."""
    text = text.strip().replace(",", "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {text!r} is not a finite number")
    if current is not None and value == current:
        return None
    return value


class ModifyOrderScreen(ModalScreen[Answer | None]):
    """Price and quantity of order ``order_id`` (focus on the price, else the quantity)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="modify_order.cancel")]

    def __init__(
        self, order_id: int, words: str, quantity: float, price: float | None, price_name: str
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.order_id, self.words = order_id, words
        self.quantity, self.price, self.price_name = quantity, price, price_name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="modify-order"):
            yield Label(f"Modify order #{self.order_id}", classes="dialog-title")
            yield Static(self.words, classes="dialog-message")
            if self.price_name:
                yield Label(f"new {self.price_name} price (now {self.price:g})")
                yield Input(value=f"{self.price:g}", id="modify-price", compact=True)
            yield Label(f"new quantity (now {self.quantity:g})")
            yield Input(value=f"{self.quantity:g}", id="modify-quantity", compact=True)
            yield Static("", id="modify-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="primary", compact=True)
                yield Button("Preview", id="preview", variant="warning", compact=True)

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def _answer(self) -> None:
        try:
            price = None
            if self.price_name:
                text = self.query_one("#modify-price", Input).value
                price = read_change(text, self.price, f"{self.price_name} price")
            text = self.query_one("#modify-quantity", Input).value
            quantity = read_change(text, self.quantity, "quantity")
        except ValueError as exc:
            self.query_one("#modify-error", Static).update(str(exc))
            return
        if price is None and quantity is None:
            self.query_one("#modify-error", Static).update(
                "nothing changed: type a new price or quantity (Esc cancels)"
            )
            return
        self.dismiss((quantity, price))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._answer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "preview":
            self._answer()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
