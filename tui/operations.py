"""The console's trading and strategy operations, each behind its confirmation dialog.

A mixin of :class:`~livedesk.tui.app.LiveDeskApp`: the kill switch (type KILL; FLATTEN also
closes every position), quit (asks
only while strategies run or orders work), cancel one order (focus starts on *Cancel*),
cancel all (type CANCEL), and start / stop / run-now / detail of a strategy. Each calls the
session's async commands; failures become notifications, never tracebacks.
"""

from __future__ import annotations

import logging

from textual import work

from livedesk.tui.screens.dialogs import ConfirmScreen, TypedConfirmScreen
from livedesk.tui.screens.kill_switch import FLATTEN_WORD, KillSwitchScreen

log = logging.getLogger("livedesk.tui")

KILL_WORD = "KILL"
CANCEL_WORD = "CANCEL"


class ConsoleOperations:
    """Operations over ``self.session`` (a ConsoleSession)."""

    @work(group="commands", exit_on_error=False)
    async def action_kill_switch(self) -> None:
        """Typed confirmation, then cancel every order and halt every strategy."""
        if self.session.app is None:
            self.notify("not connected", severity="warning")
            return
        typed = await self.push_screen_wait(KillSwitchScreen())
        if typed not in (KILL_WORD, FLATTEN_WORD):
            self.notify("kill switch not engaged")
            return
        try:
            n = await self.session.kill_switch()
        except Exception as exc:
            self.notify(f"kill switch error: {exc}", severity="error")
            log.exception("kill switch failed")
            return
        self.notify(f"HALTED: {n} order(s) cancelled, strategies halted", severity="error")
        if typed == FLATTEN_WORD:
            await self.flatten_everything()
        self.tick(force=True)

    @work(group="commands", exit_on_error=False)
    async def action_quit_console(self) -> None:
        """Quit; asks first only while strategies run or orders work."""
        running = self.session.running_strategies() if self.connected else []
        working = self.session.working_orders() if self.connected else []
        if running or working:
            parts = []
            if running:
                parts.append(f"{len(running)} strategy(ies) running: {', '.join(running)}")
            if working:
                parts.append(f"{len(working)} working order(s) stay at the broker")
            ok = await self.push_screen_wait(
                ConfirmScreen(
                    "Quit LiveDesk?",
                    "; ".join(parts) + ". Quitting stops the strategies (positions and "
                    "orders are left as they are).",
                    "Quit",
                )
            )
            if not ok:
                return
        await self.shutdown(0)

    async def shutdown(self, code: int = 0) -> None:
        """Close the session (strategies, connection, sim gateway) and exit."""
        await self._close_session()
        self.exit(code, return_code=code)

    async def _close_session(self) -> None:
        if self._session_closed:
            return
        self._session_closed = True
        try:
            await self.session.close()
        except Exception:
            log.exception("closing the session failed")

    # ---- commands the panes ask for -----------------------------------------------------
    async def cancel_selected_order(self) -> None:
        """``x``: cancel the order under the Orders cursor after a confirmation."""
        table = self.pane("orders").table
        row = table.cursor_row
        if row is None:
            self.notify("no order selected", severity="warning")
            return
        order = next((o for o in self.session.orders() if o.order_id == row.key), None)
        if order is None or not order.working:
            status = order.status if order else "gone"
            self.notify(f"order {row.key} is {status}: nothing to cancel", severity="warning")
            return
        ok = await self.push_screen_wait(
            ConfirmScreen(
                f"Cancel order {order.order_id}?",
                f"{order.side} {order.quantity:g} {order.contract} {order.order_type}"
                f" — {order.status}, filled {order.filled:g}, remaining {order.remaining:g}"
                + (f" ({order.strategy})" if order.strategy else ""),
                "Cancel order",
            )
        )
        if not ok:
            return
        try:
            sent = await self.session.cancel_order(order.order_id)
        except Exception as exc:
            self.notify(f"cancel refused: {exc}", severity="error")
            return
        if sent:
            self.notify(f"cancel sent for order {order.order_id}")
        else:
            self.notify(f"order {order.order_id} is no longer working", severity="warning")

    async def cancel_all_orders(self) -> None:
        """``C``: cancel every working order after typing CANCEL."""
        working = self.session.working_orders()
        if not working:
            self.notify("no working orders", severity="warning")
            return
        typed = await self.push_screen_wait(
            TypedConfirmScreen(
                "Cancel ALL orders",
                f"Cancel all {len(working)} working order(s). Type {CANCEL_WORD} to confirm.",
                CANCEL_WORD,
                "Cancel all",
            )
        )
        if typed != CANCEL_WORD:
            return
        try:
            n = await self.session.cancel_all()
        except Exception as exc:
            self.notify(f"cancel all refused: {exc}", severity="error")
            return
        self.notify(f"cancel sent for {n} order(s)")

    def session_strategy_names(self) -> list[str]:
        """Names of every strategy the controller knows."""
        return [i.name for i in self.session.strategies()]

    async def toggle_strategy(self, name: str | None) -> None:
        """``space``: start a stopped strategy, stop a running one."""
        c = self.session.controller
        if c is None or name is None:
            self.notify("no strategy selected", severity="warning")
            return
        try:
            status = str(c.info(name).status)
            if status in ("waiting", "running"):
                await c.stop(name)
                self.notify(f"{name} stopped")
            else:
                await self.session.start_strategy(name)
                self.notify(f"{name} started")
        except Exception as exc:
            self.notify(f"{name}: {exc}", severity="error")
        self.tick(force=True)

    async def reload_strategy(self, name: str | None) -> None:
        """``ctrl+r``: load the selected (stopped) plugin strategy's code again."""
        c = self.session.controller
        if c is None or name is None:
            self.notify("no strategy selected", severity="warning")
            return
        try:
            await c.reload(name)
        except Exception as exc:
            self.notify(f"{name} not reloaded: {exc}", severity="error")
            return
        self.notify(f"{name}: code reloaded")
        self.tick(force=True)

    async def run_strategy_now(self, name: str | None) -> None:
        """``r``: one iteration of the selected strategy now."""
        c = self.session.controller
        if c is None or name is None:
            self.notify("no strategy selected", severity="warning")
            return
        self.notify(f"{name}: running now…")
        try:
            decision = await c.run_now(name)
        except Exception as exc:
            self.notify(f"{name} failed: {exc}", severity="error")
            return
        self.notify(f"{name}: {getattr(decision, 'summary', decision)}")
        self.tick(force=True)

    def open_attribution(self, strategy: str | None = None) -> None:
        """``a`` in the Risk pane: the Attribution view, at ``strategy`` when given."""
        journal = self.session.journal
        if journal is None:
            self.notify("no journal yet: attribution needs the recorded trades", severity="warning")
            return
        from livedesk.backend.risk.attribution_source import attribute_pages
        from livedesk.backend.risk.replay_signals import strategy_signals
        from livedesk.tui.screens.attribution import AttributionScreen

        def pages(partial=None):  # in the view's worker thread, imports included
            return attribute_pages(journal, signals=strategy_signals(), partial=partial)

        self.push_screen(AttributionScreen(pages, strategy, progressive=True))

    def open_strategy_detail(self, name: str | None) -> None:
        """``enter``: the selected strategy's detail screen."""
        if self.session.controller is None or name is None:
            self.notify("no strategy selected", severity="warning")
            return
        from livedesk.tui.screens.strategy_detail import StrategyDetailScreen

        self.push_screen(StrategyDetailScreen(self.session, name))
