"""The order preview: the order in words, the gateway's what-if and the guard's verdict.

Focus starts on *Cancel*. ``shift+b`` (or *Send*) sends exactly the previewed order, for
30 s; after that, or when there is a problem, it says why and sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from livedesk.backend.manual.desk import Prepared
from livedesk.tui.format import cents


class OrderPreviewScreen(ModalScreen[str | None]):
    """Dismisses with ``"send"`` (shift+b / Send while valid) or None."""

    CSS_PATH = "order_preview.tcss"
    BINDINGS = [
        Binding("B,shift+b", "send", "Send", id="order_preview.send"),
        Binding("escape", "cancel", "Cancel", id="order_preview.cancel"),
    ]

    def __init__(self, prepared: Prepared, clock: Callable[[], float]) -> None:
        super().__init__(classes="dialog-screen")
        self.prepared = prepared
        self.clock = clock

    def compose(self) -> ComposeResult:
        p = self.prepared
        with Vertical(classes="dialog", id="order-preview"):
            yield Label("Order preview", classes="dialog-title")
            yield Static(p.words(), id="order-preview-words")
            yield Static(self._details(), id="order-preview-details")
            yield Static(self._verdict(), id="order-preview-verdict", classes="dialog-message")
            yield Static("", id="order-preview-validity")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Send", id="send", variant="error", disabled=not p.ok)

    def _details(self) -> str:
        p = self.prepared
        lines = [f"orderRef manual#… · {p.ticket.size_kind} → {p.quantity:g} to trade"]
        if p.mid is not None:
            lines.append(f"mid {p.mid:g}")
        w = p.what_if
        if p.ok and w is None:
            lines.append("what-if: not available from the gateway")
        elif w is not None:
            lines.append(
                f"what-if: initial margin {cents(w.init_margin_change)} · maintenance "
                f"{cents(w.maint_margin_change)} · commission {cents(w.commission)} · "
                f"equity after {cents(w.equity_after)}"
            )
            if w.warning:
                lines.append(f"gateway warning: {w.warning}")
        return "\n".join(lines)

    def _verdict(self) -> str:
        p = self.prepared
        if p.ok:
            return "guard: OK"
        return "cannot send (nothing is sent):\n" + "\n".join(
            f"  {q.field}: {q.message}" for q in p.problems
        )

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()
        self._tick()
        self.set_interval(0.5, self._tick)

    def _tick(self) -> None:
        preview = self.prepared.preview
        label = self.query_one("#order-preview-validity", Static)
        if preview is None:
            label.update("")
            return
        left = preview.seconds_left(self.clock())
        if left > 0:
            label.update(f"valid for {left:.0f} s · shift+b or Send sends exactly this order")
        else:
            label.update("preview expired: escape and type the command again")
            self.query_one("#send", Button).disabled = True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "send":
            self.action_send()
        else:
            self.dismiss(None)

    def action_send(self) -> None:
        preview = self.prepared.preview
        if preview is None or not self.prepared.ok:
            self.notify("this order cannot be sent: see the problems listed", severity="warning")
            return
        why = preview.why_not_sendable(self.prepared.ticket, self.clock())
        if why is not None:
            self.notify(why, severity="warning")
            return
        self.dismiss("send")

    def action_cancel(self) -> None:
        self.dismiss(None)
