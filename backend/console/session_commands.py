"""The console session's commands: cancel one order, cancel all, the kill switch, and the
questions the console asks before quitting. A mixin of :class:`ConsoleSession`."""

from __future__ import annotations

from livedesk.backend.console.views import OrderRow
from livedesk.backend.events import Alert


class SessionCommands:
    """Commands over ``self.app`` (TradingApp), ``self.controller`` and ``self.target``."""

    # ---- questions the UI asks --------------------------------------------------------
    def working_orders(self) -> list[OrderRow]:
        """Orders that can still fill."""
        return [o for o in self.orders() if o.working]

    def running_strategies(self) -> list[str]:
        """Strategies whose task is alive (waiting or running)."""
        return [i.name for i in self.strategies() if str(i.status) in ("waiting", "running")]

    def orders_locked(self) -> str:
        """Why this session cannot send orders ("" when it can): read-only, or a LIVE
        account without ``--live`` or before its typed confirmation."""
        if self.target.readonly:
            return "session is read-only (--readonly): no orders are sent"
        if self.app is None:
            return "not connected"
        refusals = self.app.account_guard.check()
        return refusals[0] if refusals else ""

    # ---- commands -------------------------------------------------------------------
    async def start_strategy(self, name: str) -> None:
        """Start ``name``; refused at once (and logged) while orders are locked."""
        if self.controller is None:
            raise RuntimeError("strategies are not available")
        reason = self.orders_locked()
        if reason:
            text = f"cannot start {name}: orders are locked — {reason}"
            self.add_log("error", "strategy", text)
            raise PermissionError(text)
        await self.controller.start(name)

    def _check_can_cancel(self) -> None:
        from livedesk.backend.trading.app import OrderRefused

        if self.app is None:
            raise OrderRefused(["not connected"])
        if self.target.readonly:
            raise OrderRefused(["session is read-only: no orders or cancels are sent"])

    async def cancel_order(self, order_id: int) -> bool:
        """Cancel one working order; False when it is no longer working."""
        self._check_can_cancel()
        for trade in self.app.ib.openTrades():
            if trade.order.orderId == order_id and not trade.isDone():
                await self.app.pacing.acquire()
                self.app.ib.cancelOrder(trade.order)
                self.add_log("info", "console", f"cancel sent for order {order_id}")
                return True
        return False

    async def cancel_all(self) -> int:
        """Cancel every working order; returns how many."""
        self._check_can_cancel()
        n = await self.app.cancel_all()
        self.add_log("warning", "console", f"cancel all: {n} order(s)")
        return n

    async def kill_switch(self, reason: str = "kill switch (console)") -> int:
        """Halt trading, cancel every working order and halt every strategy."""
        if self.app is None:
            return 0
        if self.target.readonly:  # nothing can be sent: halt the guard only
            self.app.guard.halt(reason)
            n = 0
        elif self.controller is not None:
            n = await self.controller.halt_all(reason)
        else:
            n = await self.app.kill_switch(reason)
        self.bus.publish(
            Alert(self.now(), "error", "console", f"KILL SWITCH: {reason}; {n} order(s) cancelled")
        )
        self._bump("account", "strategies", "orders")
        return n
