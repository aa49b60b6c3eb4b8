"""The combo builder's dialogs: the template picker (``t`` then a letter) and the preview."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from livedesk.backend.combos.feed import WhatIf
from livedesk.backend.combos.legs import PREVIEW_TTL, TEMPLATES, ComboOrder, is_number
from livedesk.tui.format import cents


class ComboTemplatePicker(ModalScreen[str | None]):
    """``t`` then a letter: s g v p i b l c (escape cancels)."""

    BINDINGS = [
        *(
            Binding(key, f"pick('{name}')", name, id=f"combo.template_{key}")
            for key, name in TEMPLATES.items()
        ),
        Binding("escape", "pick('')", "cancel"),
    ]

    def compose(self) -> ComposeResult:
        lines = "\n".join(f"  {key}  {name}" for key, name in TEMPLATES.items())
        yield Static(f"Template (escape cancels)\n{lines}", id="combo-template-menu")

    def action_pick(self, name: str) -> None:
        self.dismiss(name or None)


class ComboPreviewScreen(ModalScreen[str | None]):
    """The whole order in words, its legs, the payoff summary and the gateway's what-if.

    Focus starts on *Cancel*; *Send* (or ``shift+b``) dismisses with ``"send"`` once the
    what-if has arrived; the builder then sends the previewed order if it is still valid.
    """

    BINDINGS = [
        Binding("B,shift+b", "send", "send", id="combo.preview_send"),
        Binding("escape", "cancel", "cancel", id="combo.preview_cancel"),
    ]

    def __init__(
        self,
        order: ComboOrder,
        legs: Sequence[str],
        summary: Sequence[str],
        created: float,
        clock: Callable[[], float],
    ) -> None:
        super().__init__()
        self.order = order
        self.legs_text = list(legs)
        self.summary_text = list(summary)
        self.created = created
        self.clock = clock
        self.ready = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="combo-preview"):  # Send/Cancel docked: always in view
            yield Label("Preview", id="combo-preview-title")
            yield Label(self.order.words(), id="combo-preview-words")
            limit = "market" if self.order.limit is None else f"{self.order.limit:+.2f}"
            yield Label(
                f"BAG BUY {self.order.quantity} at {limit} · orderRef {self.order.tag}",
                id="combo-preview-bag",
            )
            yield Static("\n".join(self.legs_text), id="combo-preview-legs")
            yield Static("\n".join(self.summary_text), id="combo-preview-summary")
            yield Static("what-if: asking the gateway…", id="combo-preview-whatif")
            with Vertical(id="combo-preview-foot"):
                yield Label("", id="combo-preview-validity")
                with Horizontal(id="combo-preview-buttons"):
                    yield Button("Cancel", id="combo-preview-cancel", compact=True)
                    yield Button(
                        "Send",
                        id="combo-preview-send",
                        variant="error",
                        disabled=True,
                        compact=True,
                    )

    def on_mount(self) -> None:
        self.query_one("#combo-preview-cancel", Button).focus()
        self._tick()
        self.set_interval(0.5, self._tick)

    def remaining(self) -> float:
        """Seconds this preview stays valid."""
        return PREVIEW_TTL - (self.clock() - self.created)

    def _tick(self) -> None:
        left = self.remaining()
        label = self.query_one("#combo-preview-validity", Label)
        if left > 0:
            label.update(f"valid for {left:.0f} s · shift+b or Send sends exactly this order")
        else:
            label.update("preview expired: escape, then enter for a new one")
            self.query_one("#combo-preview-send", Button).disabled = True

    def set_what_if(self, what_if: WhatIf, buying_power: float, warnings: Sequence[str]) -> None:
        """Show the gateway's what-if answer and the warnings; enables Send."""
        share = (
            f"{what_if.init_margin_change / buying_power:.2%}"
            if is_number(what_if.init_margin_change)
            and is_number(buying_power)
            and buying_power > 0
            else "n/a"
        )
        text = Text()
        text.append(
            f"what-if: initial margin {cents(what_if.init_margin_change)} · maintenance "
            f"{cents(what_if.maint_margin_change)} · equity after {cents(what_if.equity_after)} · "
            f"commission {cents(what_if.commission)} · buying power used {share}"
        )
        for w in [*warnings, *([what_if.warning] if what_if.warning else [])]:
            text.append(f"\n⚠ {w}", "bold")
        self.query_one("#combo-preview-whatif", Static).update(text)
        self.ready = True
        if self.remaining() > 0:
            self.query_one("#combo-preview-send", Button).disabled = False

    def set_error(self, message: str) -> None:
        """The gateway could not price the order: nothing can be sent from this preview."""
        self.query_one("#combo-preview-whatif", Static).update(f"what-if failed: {message}")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "combo-preview-send":
            self.action_send()
        else:
            self.action_cancel()

    def action_send(self) -> None:
        if not self.ready:
            self.query_one("#combo-preview-validity", Label).update(
                "still waiting for the gateway's what-if: nothing sent"
            )
            return
        self.dismiss("send")

    def action_cancel(self) -> None:
        self.dismiss(None)
