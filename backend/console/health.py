"""Connection health from IB's error and status codes: CONNECTED / DEGRADED / DISCONNECTED.

* 1100 (connectivity to IB lost), 2110 (TWS-server connectivity broken) → DEGRADED: the API
  socket is up but the gateway cannot reach IB; a closed socket → DISCONNECTED.
* 1101 / 1102 (restored) → CONNECTED again (1101: market data subscriptions were lost).
* Data farms: 2103/2105/2157 "broken", 2104/2106/2158 "OK", 2107/2108 "inactive" — the farm
  name is the text after the last colon. Any broken farm makes the state DEGRADED.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CONNECTED = "CONNECTED"
DEGRADED = "DEGRADED"
DISCONNECTED = "DISCONNECTED"
CONNECTING = "CONNECTING"

LOST = {1100, 2110}
RESTORED = {1101, 1102}
FARM_BROKEN = {2103, 2105, 2157}
FARM_OK = {2104, 2106, 2158}
FARM_INACTIVE = {2107, 2108}
INFO_CODES = FARM_OK | FARM_INACTIVE | {1102, 2119}
WARNING_CODES = FARM_BROKEN | {1101, 2110, 10167, 354, 399, 161, 202}
ERROR_CODES = {1100, 1300, 100, 101, 103, 110, 162, 200, 201, 203, 320, 321, 326, 434, 502, 504}


def alert_level(code: int) -> str:
    """``info``, ``warning`` or ``error`` for an IB message code."""
    if code in INFO_CODES:
        return "info"
    if code in WARNING_CODES or 2100 <= code < 3000:
        return "warning"
    return "error"


def farm_name(message: str) -> str:
    """``usfarm`` from "Market data farm connection is OK:usfarm"."""
    return message.rsplit(":", 1)[-1].strip() if ":" in message else message.strip()


@dataclass
class ConnectionHealth:
    """The header's connection cell: state, last IB code, and each data farm's health."""

    state: str = CONNECTING
    last_code: int = 0
    last_message: str = ""
    farms: dict[str, str] = field(default_factory=dict)  # name → "ok" | "broken" | "inactive"
    _lost: bool = False

    def on_connected(self) -> None:
        """The API handshake completed."""
        self._lost = False
        self._recompute()

    def on_disconnected(self, detail: str = "") -> None:
        """The socket closed."""
        self.state = DISCONNECTED
        if detail:
            self.last_message = detail

    def on_code(self, code: int, message: str) -> bool:
        """Take an IB message; True when it concerns connection health."""
        if code in LOST:
            self._lost = True
        elif code in RESTORED:
            self._lost = False
        elif code in FARM_BROKEN:
            self.farms[farm_name(message)] = "broken"
        elif code in FARM_OK:
            self.farms[farm_name(message)] = "ok"
        elif code in FARM_INACTIVE:
            self.farms[farm_name(message)] = "inactive"
        else:
            return False
        self.last_code, self.last_message = code, message
        if self.state != DISCONNECTED:
            self._recompute()
        return True

    def _recompute(self) -> None:
        broken = any(v == "broken" for v in self.farms.values())
        self.state = DEGRADED if self._lost or broken else CONNECTED

    def farms_label(self) -> str:
        """``"farms ok"``, or the broken / inactive ones by name."""
        if not self.farms:
            return "farms —"
        bad = [f"{n} {s}" for n, s in sorted(self.farms.items()) if s != "ok"]
        return "farms " + (", ".join(bad) if bad else "ok")
