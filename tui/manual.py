"""Trading by hand in the console: the command line (``:``) and the order preview.

A mixin of :class:`~livedesk.tui.app.LiveDeskApp`. Every order opens the preview (the
gateway's what-if and the guard's verdict, focus on *Cancel*); only ``shift+b`` there sends,
exactly the previewed order, through :class:`~livedesk.backend.manual.desk.ManualDesk`.
Refusals and bad input become messages; nothing is sent.
"""

from __future__ import annotations

import logging

from textual import work

from livedesk.backend.manual.command_line import (
    CancelCommand,
    CloseCommand,
    FlattenCommand,
    OrderCommand,
)
from livedesk.backend.manual.desk import ManualDesk
from livedesk.backend.trading.results import OrderRefused
from livedesk.tui.manual_orders import ManualOrders
from livedesk.tui.screens.command_line import CommandLineScreen
from livedesk.tui.screens.dialogs import TypedConfirmScreen

log = logging.getLogger("livedesk.tui")

FLATTEN_WORD = "FLATTEN"


class ManualTrading(ManualOrders):
    """Command line and previews over ``self.session`` (a ConsoleSession); the ticket,
    modify, close and flatten come from :class:`ManualOrders`."""

    command_history: list[str]

    def manual_desk(self) -> ManualDesk | None:
        app = self.session.app
        if app is None:
            return None
        return ManualDesk(app, now=self.session.now, today=lambda: app.today())

    def _symbols(self) -> list[str]:
        """Completion: the symbols held and those on the watchlist."""
        held = {row.symbol.split()[0] for row in self.session.positions() if row.symbol}
        watchlist = getattr(self.session, "watchlist", None)
        watched = {s.split()[0] for s in watchlist.symbols} if watchlist is not None else set()
        return sorted(held | watched)

    def _strategy_names(self) -> list[str]:
        return [i.name for i in self.session.strategies()]

    @work(group="commands", exit_on_error=False)
    async def action_command_line(self, prefill: str = "") -> None:
        """``:``: read a command; orders open the preview, the rest their confirmation.
        ``prefill`` starts the line (the Watchlist's enter: ``buy AAPL ``)."""
        desk = self.manual_desk()
        if desk is None:
            self.notify("not connected: no command can run", severity="warning")
            return
        if not hasattr(self, "command_history"):
            self.command_history = []
        answer = await self.push_screen_wait(
            CommandLineScreen(
                desk.parse, self.command_history, self._symbols, self._strategy_names, prefill
            )
        )
        if answer is None:
            return
        text, command = answer
        self.session.add_log("info", "console", f":{text}")
        if isinstance(command, OrderCommand | CloseCommand):
            await self.preview_and_send(desk, command)
        elif isinstance(command, FlattenCommand):
            await self.flatten_strategy(command.strategy)
        elif isinstance(command, CancelCommand):
            if command.order_id is None:
                await self.cancel_all_orders()
            else:
                await self.cancel_one(command.order_id)

    async def preview_and_send(
        self, desk: ManualDesk, command: OrderCommand | CloseCommand
    ) -> None:
        """Prepare the ticket, show the preview, send exactly it on ``shift+b``."""
        try:
            ticket, contract = await desk.ticket_for(command)
            prepared = await desk.prepare(ticket, contract)
        except OrderRefused as exc:
            self.notify("; ".join(exc.reasons) + " (nothing sent)", severity="error")
            return
        except Exception as exc:
            log.exception("preview failed")
            self.notify(f"preview failed: {exc} (nothing sent)", severity="error")
            return
        await self.show_and_send(desk, prepared)

    async def cancel_one(self, order_id: int) -> None:
        try:
            ok = await self.session.cancel_order(order_id)
        except OrderRefused as exc:
            self.notify("; ".join(exc.reasons), severity="error")
            return
        self.notify(
            f"cancel sent for order #{order_id}" if ok else f"order #{order_id} is not working"
        )

    async def flatten_strategy(self, name: str) -> None:
        """Typed FLATTEN, then close every position of ``name`` and stop it."""
        controller = self.session.controller
        if controller is None or name not in self._strategy_names():
            known = ", ".join(self._strategy_names()) or "none"
            self.notify(f"unknown strategy {name!r} (known: {known})", severity="error")
            return
        typed = await self.push_screen_wait(
            TypedConfirmScreen(
                f"FLATTEN {name}",
                f"Close every position of {name} at market and stop it. "
                f"Type {FLATTEN_WORD} to confirm.",
                FLATTEN_WORD,
                "Flatten",
            )
        )
        if typed != FLATTEN_WORD:
            self.notify(f"{name} not flattened")
            return
        try:
            await controller.stop(name, flatten=True)
        except Exception as exc:
            self.notify(f"flatten {name} failed: {exc}", severity="error")
            return
        self.session.add_log("warning", "manual", f"flattened and stopped {name}")
        self.notify(f"{name}: flattened and stopped")
        self.tick(force=True)
