"""Fault hooks of the simulated gateway, for tests and rehearsals.

Python API: ``gw.faults.drop_all()``, ``go_silent()``, ``send_error(1100)``, ``restart()``,
``reject_next_order("margin")``, ``force_partial_fills(2)``,
``set_market_data_fault("delayed" | "no-permission" | None, symbols)``.
The same commands reach a running ``livedesk sim-gateway`` through ``livedesk sim-control``,
which sends them in-band as a control frame (see :data:`CONTROL_MSG_ID`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from livedesk.backend.sim.gateway import SimGateway

CONTROL_MSG_ID = 9001
"""A message id no TWS client uses; a frame with it carries one control command."""

DEFAULT_MESSAGES = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and TWS has been restored- data lost.",
    1102: "Connectivity between IB and TWS has been restored- data maintained.",
    2103: "Market data farm connection is broken:usfarm",
    2104: "Market data farm connection is OK:usfarm",
    2105: "HMDS data farm connection is broken:ushmds",
    2106: "HMDS data farm connection is OK:ushmds",
    2110: "Connectivity between TWS and server is broken. It will be restored automatically.",
    10167: "Requested market data is not subscribed. Displaying delayed market data.",
    354: "Requested market data is not subscribed.",
}

COMMANDS = (
    "drop", "silent", "resume", "error", "restart", "reject-next", "partial", "market-data",
    "status",
)  # fmt: skip


class FaultHooks:
    """Provoke the failures a real gateway produces."""

    def __init__(self, gateway: SimGateway) -> None:
        self.gw = gateway
        self._data_fault: tuple[str, frozenset[str] | None] | None = None

    def set_market_data_fault(self, mode: str | None, symbols: Iterable[str] | None = None) -> None:
        """Answer new reqMktData with ``"delayed"`` data (10167 + delayed type 3) or with
        ``"no-permission"`` (354, no data), for ``symbols`` or every symbol; None clears it."""
        if mode not in (None, "delayed", "no-permission"):
            raise ValueError(f"unknown market data fault {mode!r}")
        only = frozenset(s.upper() for s in symbols) if symbols else None
        self._data_fault = (mode, only) if mode else None

    def market_data_fault(self, symbol: str) -> str | None:
        """The market-data fault that applies to ``symbol`` now, if any."""
        if self._data_fault is None:
            return None
        mode, only = self._data_fault
        return mode if only is None or symbol.upper() in only else None

    def drop_all(self) -> None:
        """Close every client socket at once."""
        self.gw.drop_all()

    def go_silent(self, on: bool = True) -> None:
        """Stop answering and streaming (the socket stays open), or resume."""
        self.gw.silent = on

    def send_error(self, code: int, message: str | None = None, req_id: int = -1) -> None:
        """Send an error/notice to every connected client."""
        text = message or DEFAULT_MESSAGES.get(code, f"Simulated error {code}")
        for s in list(self.gw.sessions.values()):
            s.send_error(req_id, code, text, force=True)

    async def restart(self, downtime: float = 0.2) -> None:
        """Drop every connection and restart the listener on the same port."""
        await self.gw.restart(downtime)

    def reject_next_order(self, reason: str = "Simulated rejection") -> None:
        """Reject the next order with error 201 and ``reason``."""
        self.gw.broker.reject_next.append(reason)

    def force_partial_fills(self, orders: int = 1) -> None:
        """Fill each of the next ``orders`` orders in three partial executions."""
        self.gw.broker.partial_next += orders

    async def control(self, command: str, args: list[str]) -> str:
        """Run one control command (the CLI's ``sim-control``); returns a status line."""
        if command == "drop":
            self.drop_all()
        elif command == "silent":
            self.go_silent(True)
        elif command == "resume":
            self.go_silent(False)
        elif command == "error":
            if not args or not args[0].lstrip("-").isdigit():
                raise ValueError("usage: error CODE [MESSAGE]")
            self.send_error(int(args[0]), " ".join(args[1:]) or None)
        elif command == "restart":
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self.restart()))
        elif command == "reject-next":
            self.reject_next_order(" ".join(args) or "Simulated rejection")
        elif command == "market-data":
            mode = args[0] if args else "live"
            self.set_market_data_fault(None if mode == "live" else mode, args[1:] or None)
        elif command == "partial":
            self.force_partial_fills(int(args[0]) if args else 1)
        elif command != "status":
            raise ValueError(f"unknown command {command!r}; one of: {', '.join(COMMANDS)}")
        return f"ok {command}: clients={len(self.gw.sessions)} silent={self.gw.silent}"
