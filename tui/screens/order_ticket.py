"""The order ticket (``o``): one order for any contract the gateway lists, previewed.

Fields: contract (as on the command line: ``AAPL``, ``CL F27``, ``SPY 31DEC26 528 C``,
``EUR.USD``), side, size as a quantity, a $ value or a % of NLV (the resulting quantity is
shown, sized by the order primitives), type (MKT LMT STP STP LMT TRAIL MOC LOC) with its
prices, TIF (DAY GTC IOC), outside RTH and an optional bracket (take-profit and stop-loss as
prices, or offsets ``+2`` / ``-1`` from the entry). ``enter`` / *Preview* opens the order
preview (the gateway's what-if and the guard's verdict, focus on *Cancel*); ``shift+b`` there
sends exactly that order. A form that does not read says what is wrong under the fields and
sends nothing.
"""

from __future__ import annotations

import asyncio
import logging

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from livedesk.backend.manual.desk import ManualDesk
from livedesk.backend.manual.form import LIMIT_TYPES, STOP_TYPES, TicketForm, read_form
from livedesk.backend.manual.sender import PreviewNotSendable
from livedesk.backend.manual.ticket import ORDER_TYPES, TIFS, Problem
from livedesk.backend.trading.results import OrderRefused
from livedesk.tui.screens.order_preview import OrderPreviewScreen

log = logging.getLogger("livedesk.tui")

SIZE_KIND_LABELS = (("qty", "quantity"), ("$ value", "value"), ("% NLV", "percent"))


def _select(options, value: str, id: str) -> Select:
    return Select(
        [(label, v) for label, v in options], value=value, allow_blank=False, id=id, compact=True
    )


class OrderTicketScreen(ModalScreen[list | None]):
    """Dismisses with the sent orders' results, or None (escape / Cancel)."""

    CSS_PATH = "order_ticket.tcss"
    BINDINGS = [
        Binding("escape", "close", "Cancel", id="order_ticket.cancel"),
    ]

    def __init__(self, desk: ManualDesk, contract: str | None = None, action: str = "BUY") -> None:
        super().__init__(classes="dialog-screen")
        self.desk = desk
        self.initial_contract = contract or ""
        self.initial_action = action

    def compose(self) -> ComposeResult:
        def row(*children) -> Horizontal:
            return Horizontal(*children, classes="ticket-row")

        with Vertical(classes="dialog", id="order-ticket"):
            yield Label("Order ticket", classes="dialog-title")
            yield row(
                Label("Contract", classes="ticket-label"),
                Input(
                    self.initial_contract,
                    placeholder="AAPL · CL F27 · SPY 31DEC26 528 C · EUR.USD",
                    id="ticket-contract",
                    compact=True,
                ),
                _select((("BUY", "BUY"), ("SELL", "SELL")), self.initial_action, "ticket-action"),
            )
            yield row(
                Label("Size", classes="ticket-label"),
                Input(placeholder="100 · 5000 · 10", id="ticket-size", compact=True),
                _select(SIZE_KIND_LABELS, "quantity", "ticket-size-kind"),
                Static("", id="ticket-quantity"),
            )
            yield row(
                Label("Type", classes="ticket-label"),
                _select(((t, t) for t in ORDER_TYPES), "MKT", "ticket-type"),
                _select(((t, t) for t in TIFS), "DAY", "ticket-tif"),
                Checkbox("outside RTH", id="ticket-rth", compact=True),
            )
            yield row(
                Label("Prices", classes="ticket-label"),
                Input(placeholder="limit", id="ticket-limit", compact=True),
                Input(placeholder="stop", id="ticket-stop", compact=True),
                Input(placeholder="trail 0.5 / 1%", id="ticket-trail", compact=True),
            )
            yield row(
                Label("Bracket", classes="ticket-label"),
                Input(placeholder="take-profit 190 / +2", id="ticket-tp", compact=True),
                Input(placeholder="stop-loss 175 / -1", id="ticket-sl", compact=True),
            )
            yield Static("", id="ticket-problems", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Preview", id="preview", variant="warning", compact=True)

    def on_mount(self) -> None:
        self._enable_prices("MKT")
        target = "#ticket-size" if self.initial_contract else "#ticket-contract"
        self.query_one(target, Input).focus()

    # ---- the form ---------------------------------------------------------------------
    def _value(self, id: str) -> str:
        return self.query_one(f"#{id}", Input).value

    def _choice(self, id: str) -> str:
        return str(self.query_one(f"#{id}", Select).value)

    def form(self) -> TicketForm:
        """What the form holds now."""
        return TicketForm(
            contract=self._value("ticket-contract"),
            action=self._choice("ticket-action"),
            size=self._value("ticket-size"),
            size_kind=self._choice("ticket-size-kind"),
            order_type=self._choice("ticket-type"),
            limit=self._value("ticket-limit"),
            stop=self._value("ticket-stop"),
            trail=self._value("ticket-trail"),
            tif=self._choice("ticket-tif"),
            take_profit=self._value("ticket-tp"),
            stop_loss=self._value("ticket-sl"),
            outside_rth=self.query_one("#ticket-rth", Checkbox).value,
        )

    def fill(self, **fields) -> None:
        """Set fields by their TicketForm names (tests and callers prefilling a ticket)."""
        ids = {
            "contract": "ticket-contract", "size": "ticket-size", "limit": "ticket-limit",
            "stop": "ticket-stop", "trail": "ticket-trail", "take_profit": "ticket-tp",
            "stop_loss": "ticket-sl", "action": "ticket-action", "size_kind": "ticket-size-kind",
            "order_type": "ticket-type", "tif": "ticket-tif",
        }  # fmt: skip
        for name, value in fields.items():
            if name == "outside_rth":
                self.query_one("#ticket-rth", Checkbox).value = bool(value)
                continue
            widget = self.query_one(f"#{ids[name]}")
            widget.value = value
        if "order_type" in fields:
            self._enable_prices(fields["order_type"])

    def _enable_prices(self, order_type: str) -> None:
        self.query_one("#ticket-limit", Input).disabled = order_type not in LIMIT_TYPES
        self.query_one("#ticket-stop", Input).disabled = order_type not in STOP_TYPES
        self.query_one("#ticket-trail", Input).disabled = order_type != "TRAIL"

    def problems(self, problems: list[Problem] | list[str], head: str = "") -> None:
        """Show what is wrong (field: message), or clear it."""
        lines = [head] if head else []
        lines += [f"{p.field}: {p.message}" if isinstance(p, Problem) else p for p in problems]
        self.query_one("#ticket-problems", Static).update("\n".join(lines))

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "ticket-type":
            self._enable_prices(str(event.value))
        self._edited()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._edited()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self._edited()

    def _edited(self) -> None:
        if not self.is_mounted:
            return
        self.problems([])
        self.size_hint()

    @work(exclusive=True, group="ticket-size", exit_on_error=False)
    async def size_hint(self) -> None:
        """The quantity a $ or % size means (sized by the primitives at the current quote)."""
        label = self.query_one("#ticket-quantity", Static)
        form = self.form()
        if form.size_kind == "quantity":
            label.update("")
            return
        ticket, problems = read_form(form, self.desk.today())
        if ticket is None:
            label.update("")
            return
        await asyncio.sleep(0.3)  # typing: size once the keys stop
        try:
            contract = await self.desk.resolve_ticket(ticket)
            quote, mid = await self.desk.price(contract)
            nlv = self.desk.app.net_liquidation if ticket.size_kind == "percent" else None
            quantity = ticket.quantity(quote, self.desk.app.multiplier(contract), nlv)
        except Exception as exc:  # a hint only: the preview says what is wrong in full
            if self.is_attached:
                label.update(f"→ ? ({exc})")
            return
        if self.is_attached:
            label.update(f"→ {quantity:g} at {mid:g}")

    # ---- preview and send ---------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_preview()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "preview":
            self.action_preview()
        else:
            self.dismiss(None)

    def action_preview(self) -> None:
        self.preview()

    @work(exclusive=True, group="ticket-preview", exit_on_error=False)
    async def preview(self) -> None:
        """Read the form; problems stay in the form; else the preview, and send on shift+b."""
        ticket, problems = read_form(self.form(), self.desk.today())
        if ticket is None:
            self.problems(problems, "cannot preview (nothing is sent):")
            return
        self.problems([], "previewing…")
        try:
            contract = await self.desk.resolve_ticket(ticket)
            prepared = await self.desk.prepare(ticket, contract)
        except OrderRefused as exc:
            self.problems(list(exc.reasons), "cannot preview (nothing is sent):")
            return
        except Exception as exc:
            log.exception("ticket preview failed")
            self.problems([str(exc)], "preview failed (nothing is sent):")
            return
        if ticket.size_kind != "quantity":
            self.query_one("#ticket-quantity", Static).update(f"→ {prepared.quantity:g}")
        self.problems([])
        choice = await self.app.push_screen_wait(OrderPreviewScreen(prepared, self.desk.now))
        if choice != "send":
            self.problems([], "not sent: edit and preview again, or Esc")
            return
        try:
            results = await self.desk.send(prepared)
        except (OrderRefused, PreviewNotSendable) as exc:
            self.problems([str(exc)], "not sent:")
            return
        ids = ", ".join(f"#{r.order.orderId}" for r in results if r.sent)
        self.app.notify(f"sent: {prepared.words()} ({ids})")
        self.dismiss(results)

    def action_close(self) -> None:
        self.dismiss(None)
