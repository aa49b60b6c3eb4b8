"""Fault hooks of the simulated gateway, for tests and rehearsals.

Python API: ``gw.faults.drop_all()``, ``go_silent()``, ``send_error(1100)``, ``restart()``,
``reject_next_order("margin")``, ``force_partial_fills(2)``,
``set_market_data_fault("delayed" | "no-permission" | None, symbols)``, and the run-time
execution-cost controls ``set_impact(bps)`` (extra slippage against the trader on every
marketable fill, on top of the model's spread and square-root impact) and
``set_latency(ms)`` (an order can fill only that much simulated time after it arrived), and
``set_speed(x)`` (simulated seconds per real second, 0 = paused; continuous across a change).
The same commands reach a running ``livedesk sim-gateway`` through ``livedesk sim-control``,
which sends them in-band as a control frame (see :data:`CONTROL_MSG_ID`).  Control frames
are served only after a completed handshake, only from a loopback peer, and not at all
when the gateway runs with ``--no-control`` (``SimGateway(control=False)``); the Python API
stays available to the embedding program.  Arguments are checked: a bad one is answered
with a clear error and changes nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
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

MAX_PARTIAL_ORDERS = 1000
MAX_TEXT = 256
MAX_SYMBOLS = 100
MAX_IMPACT_BPS = 1000.0
MAX_LATENCY_MS = 600_000.0
MAX_SPEED = 100_000.0

COMMANDS = (
    "drop", "silent", "resume", "error", "restart", "reject-next", "partial", "market-data",
    "impact", "latency", "speed", "status",
)  # fmt: skip


class FaultHooks:
    """Provoke the failures a real gateway produces."""

    def __init__(self, gateway: SimGateway, remote: bool = True) -> None:
        self.gw = gateway
        self.remote = remote
        self._data_fault: tuple[str, frozenset[str] | None] | None = None

    def refusal(self, peer: tuple | None) -> str | None:
        """Why a control frame from ``peer`` (host, port, ...) is refused, or None."""
        if not self.remote:
            return "control commands are disabled on this gateway (--no-control)"
        try:
            loopback = peer is not None and ipaddress.ip_address(peer[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return "control commands are accepted only from a loopback address"
        return None

    def set_market_data_fault(self, mode: str | None, symbols: Iterable[str] | None = None) -> None:
        """Answer new reqMktData with ``"delayed"`` data (10167 + delayed type 3) or with
        ``"no-permission"`` (354, no data), for ``symbols`` or every symbol; None clears it."""
        if mode not in (None, "delayed", "no-permission"):
            raise ValueError(
                f"unknown market data fault {mode!r}; one of delayed, no-permission, live"
            )
        symbols = list(symbols or ())
        if len(symbols) > MAX_SYMBOLS:
            raise ValueError(f"at most {MAX_SYMBOLS} symbols")
        known = {i.symbol for i in self.gw.market.registry}
        unknown = [s for s in symbols if s.upper() not in known]
        if unknown:
            raise ValueError(f"unknown symbol {unknown[0]!r}")
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
        if isinstance(code, bool) or not isinstance(code, int) or not 0 < code <= 99999:
            raise ValueError(f"error code must be an integer 1..99999, got {code!r}")
        _check_text(message or "", "message")
        text = message or DEFAULT_MESSAGES.get(code, f"Simulated error {code}")
        for s in list(self.gw.sessions.values()):
            s.send_error(req_id, code, text, force=True)

    async def restart(self, downtime: float = 0.2) -> None:
        """Drop every connection and restart the listener on the same port."""
        await self.gw.restart(downtime)

    def reject_next_order(self, reason: str = "Simulated rejection") -> None:
        """Reject the next order with error 201 and ``reason``."""
        _check_text(reason, "reason")
        if len(self.gw.broker.reject_next) >= MAX_PARTIAL_ORDERS:
            raise ValueError(f"at most {MAX_PARTIAL_ORDERS} pending rejections")
        self.gw.broker.reject_next.append(reason)

    def force_partial_fills(self, orders: int = 1) -> None:
        """Fill each of the next ``orders`` orders in three partial executions (1..1000)."""
        if isinstance(orders, bool) or not isinstance(orders, int):
            raise ValueError(f"partial: N must be an integer, got {orders!r}")
        total = self.gw.broker.partial_next + orders
        if not 1 <= orders <= MAX_PARTIAL_ORDERS or total > MAX_PARTIAL_ORDERS:
            raise ValueError(
                f"partial: N must be 1..{MAX_PARTIAL_ORDERS} "
                f"(with {self.gw.broker.partial_next} already pending), got {orders}"
            )
        self.gw.broker.partial_next = total

    def set_impact(self, bps: float) -> None:
        """Add ``bps`` (0..1000) of slippage against the trader to every marketable fill."""
        self.gw.broker.engine.extra_bps = _bounded(bps, MAX_IMPACT_BPS, "impact: BPS")

    def set_latency(self, ms: float) -> None:
        """Delay every new order's fills by ``ms`` (0..600000) simulated milliseconds."""
        self.gw.broker.latency = _bounded(ms, MAX_LATENCY_MS, "latency: MS") / 1000.0

    def set_speed(self, speed: float) -> None:
        """Run the simulated clock at ``speed`` (0..100000, 0 = paused) from now on; the
        simulated time is continuous across the change."""
        self.gw.clock.set_speed(_bounded(speed, MAX_SPEED, "speed: X"))

    @property
    def impact_bps(self) -> float:
        """The injected extra slippage, bps."""
        return self.gw.broker.engine.extra_bps

    @property
    def latency_ms(self) -> float:
        """The injected fill latency, milliseconds."""
        return self.gw.broker.latency * 1000.0

    async def control(self, command: str, args: list[str]) -> str:
        """Run one control command (the CLI's ``sim-control``); returns a status line.

        Raises ValueError with a usage message on an unknown command or a bad argument.
        """
        if command in ("drop", "silent", "resume", "restart", "status") and args:
            raise ValueError(f"usage: {command} (takes no arguments)")
        if command == "drop":
            self.drop_all()
        elif command == "silent":
            self.go_silent(True)
        elif command == "resume":
            self.go_silent(False)
        elif command == "error":
            if not args or not _is_int(args[0], 5):
                raise ValueError("usage: error CODE [MESSAGE] (CODE an integer 1..99999)")
            self.send_error(int(args[0]), " ".join(args[1:]) or None)
        elif command == "restart":
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self.restart()))
        elif command == "reject-next":
            self.reject_next_order(" ".join(args) or "Simulated rejection")
        elif command == "market-data":
            mode = args[0] if args else "live"
            if mode == "live" and args[1:]:
                raise ValueError("usage: market-data live (takes no symbols)")
            self.set_market_data_fault(None if mode == "live" else mode, args[1:] or None)
        elif command == "partial":
            if len(args) > 1 or (args and not _is_int(args[0], 4)):
                raise ValueError(f"usage: partial [N] (N an integer 1..{MAX_PARTIAL_ORDERS})")
            self.force_partial_fills(int(args[0]) if args else 1)
        elif command in ("impact", "latency"):
            unit = "BPS" if command == "impact" else "MS"
            top = MAX_IMPACT_BPS if command == "impact" else MAX_LATENCY_MS
            if len(args) != 1 or _number(args[0]) is None:
                raise ValueError(f"usage: {command} {unit} (a number 0..{top:g})")
            setter = self.set_impact if command == "impact" else self.set_latency
            setter(_number(args[0]))
        elif command == "speed":
            if len(args) != 1 or _number(args[0]) is None:
                raise ValueError(f"usage: speed X (a number 0..{MAX_SPEED:g}, 0 = paused)")
            self.set_speed(_number(args[0]))
        elif command != "status":
            raise ValueError(f"unknown command {command!r}; one of: {', '.join(COMMANDS)}")
        line = f"ok {command}: clients={len(self.gw.sessions)} silent={self.gw.silent}"
        if command in ("impact", "latency", "status"):
            line += f" impact={self.impact_bps:g}bps latency={self.latency_ms:g}ms"
        if command in ("speed", "status"):
            line += f" speed={self.gw.clock.speed:g}"
        return line


def _is_int(text: str, max_digits: int) -> bool:
    """Whether ``text`` is a plain non-negative integer of at most ``max_digits`` digits."""
    return text.isascii() and text.isdigit() and len(text) <= max_digits


def _number(text: str) -> float | None:
    """``text`` as a finite float (plain decimal notation, at most 16 characters), or None."""
    if len(text) > 16 or not text.isascii() or not text.replace(".", "", 1).isdigit():
        return None
    return float(text)


def _bounded(value: float, top: float, name: str) -> float:
    """``value`` as a float in 0..top, or ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and 0 <= value <= top):
        raise ValueError(f"{name} must be 0..{top:g}, got {value!r}")
    return float(value)


def _check_text(text: str, name: str) -> None:
    if len(text) > MAX_TEXT or "\0" in text:
        raise ValueError(f"{name} must be at most {MAX_TEXT} characters without NUL")
