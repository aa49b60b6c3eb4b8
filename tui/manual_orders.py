"""Trading by hand from the panes: the order ticket (``o``), modify (``m`` in Orders), close
(``X`` in Positions), flatten a strategy (``X`` in Strategies) and the kill switch's flatten.

A mixin of :class:`~livedesk.tui.app.LiveDeskApp` (through
:class:`~livedesk.tui.manual.ManualTrading`). Every order opens the order preview (the
gateway's what-if and the guard's verdict, focus on *Cancel*); only ``shift+b`` sends.
Refusals become messages; nothing is sent.
"""

from __future__ import annotations

import logging

from livedesk.backend.manual.desk import ManualDesk, Prepared
from livedesk.backend.manual.flatten import flatten_everything
from livedesk.backend.manual.modify import PRICE_FIELD
from livedesk.backend.manual.sender import PreviewNotSendable
from livedesk.backend.trading.results import OrderRefused
from livedesk.tui.screens.modify_order import ModifyOrderScreen
from livedesk.tui.screens.order_preview import OrderPreviewScreen
from livedesk.tui.screens.order_ticket import OrderTicketScreen

log = logging.getLogger("livedesk.tui")


class ManualOrders:
    """Ticket, modify, close and flatten over ``self.session`` (a ConsoleSession)."""

    # ---- the ticket ---------------------------------------------------------------------
    def action_order_ticket(self) -> None:
        """``o``: the order ticket, on the focused pane's selected contract when it has one
        (a pane offers it by a ``ticket_contract()`` method: Positions does)."""
        offer = getattr(self.focused_pane(), "ticket_contract", None)
        self.open_order_ticket(offer() if offer is not None else None)

    def open_order_ticket(self, contract_text: str | None = None) -> None:
        """Open the order ticket, its contract field filled with ``contract_text`` (as typed
        on the command line: ``AAPL``, ``CL F27``, ``SPY 31DEC26 528 C``)."""
        desk = self.manual_desk()
        if desk is None:
            self.notify("not connected: no order can be entered", severity="warning")
            return
        self.push_screen(OrderTicketScreen(desk, contract_text), callback=self._ticket_closed)

    def _ticket_closed(self, results) -> None:
        if results:
            self.tick(force=True)

    # ---- preview and send (shared) --------------------------------------------------------
    async def show_and_send(self, desk: ManualDesk, prepared: Prepared) -> bool:
        """The preview of ``prepared``; on ``shift+b`` send exactly it. True when sent."""
        choice = await self.push_screen_wait(OrderPreviewScreen(prepared, self.session.now))
        if choice != "send":
            self.notify("not sent")
            return False
        try:
            results = await desk.send(prepared)
        except (OrderRefused, PreviewNotSendable) as exc:
            self.notify(f"not sent: {exc}", severity="error")
            return False
        ids = ", ".join(f"#{r.order.orderId}" for r in results if r.sent)
        verb = "modified" if prepared.modifies is not None else "sent"
        self.notify(f"{verb}: {prepared.words()} ({ids})")  # the Log's story records it
        self.tick(force=True)
        return True

    def _refused(self, exc: Exception) -> None:
        if isinstance(exc, OrderRefused):
            self.notify("; ".join(exc.reasons) + " (nothing sent)", severity="error")
        else:
            log.exception("preview failed")
            self.notify(f"preview failed: {exc} (nothing sent)", severity="error")

    # ---- close a position -----------------------------------------------------------------
    async def close_selected_position(self) -> None:
        """``X`` in Positions: the opposite market order for the whole position (a combo's
        header: one order for its BAG), previewed."""
        desk = self.manual_desk()
        row = self.pane("positions").table.cursor_row
        if desk is None or row is None:
            self.notify("no position selected", severity="warning")
            return
        positions = self.session.positions()
        try:
            if isinstance(row.key, tuple):  # ("combo", label): its legs are the rows below
                label = row.key[1]
                legs = [(p.con_id, p.quantity) for p in positions if p.group == label]
                ticket, contract = await desk.combo_closing_ticket(legs, label)
            else:
                found = next((p for p in positions if p.con_id == row.key), None)
                label = found.symbol if found is not None else str(row.key)
                ticket, contract = await desk.closing_ticket(row.key, label)
            prepared = await desk.prepare(ticket, contract)
        except Exception as exc:
            self._refused(exc)
            return
        await self.show_and_send(desk, prepared)

    # ---- modify an order ------------------------------------------------------------------
    async def modify_selected_order(self) -> None:
        """``m`` in Orders: new price and/or quantity, previewed, sent as the same orderId."""
        desk = self.manual_desk()
        row = self.pane("orders").table.cursor_row
        if desk is None or row is None:
            self.notify("no order selected", severity="warning")
            return
        trade = next((t for t in desk.app.ib.trades() if t.order.orderId == row.key), None)
        view = next((o for o in self.session.orders() if o.order_id == row.key), None)
        if trade is None or view is None or not view.working:
            status = view.status if view else "gone"
            self.notify(f"order {row.key} is {status}: nothing to modify", severity="warning")
            return
        o = trade.order
        field = PRICE_FIELD.get(o.orderType, "")
        price = (o.lmtPrice if field == "limit" else o.auxPrice) if field else None
        words = f"{o.action} {o.totalQuantity:g} {view.contract} {o.orderType} — {view.status}"
        answer = await self.push_screen_wait(
            ModifyOrderScreen(o.orderId, words, float(o.totalQuantity), price, field)
        )
        if answer is None:
            return
        quantity, new_price = answer
        try:
            prepared = await desk.prepare_modification(trade, view.contract, quantity, new_price)
        except Exception as exc:
            self._refused(exc)
            return
        await self.show_and_send(desk, prepared)

    # ---- the kill switch's flatten --------------------------------------------------------
    async def flatten_everything(self) -> None:
        """After the kill switch: close every position at market, then HALTED again."""
        app = self.session.app
        if app is None:
            return
        try:
            done = await flatten_everything(app, "kill switch (console): flatten everything")
        except OrderRefused as exc:
            self.notify("not flattened: " + "; ".join(exc.reasons), severity="error")
            return
        for line in done.sent:
            self.session.add_log("warning", "manual", f"kill switch flatten: {line}")
        for line in done.failed:
            self.session.add_log("error", "manual", f"kill switch flatten failed: {line}")
        text = f"flattened: {len(done.sent)} order(s) sent"
        if done.failed:
            text += f"; {len(done.failed)} not closed (see the Log)"
        self.notify(text, severity="error" if done.failed else "warning")
