"""Market-data quality: data-farm notices, delayed data and stale-until-first-tick.

IB announces a broken data farm with 2103 (market data), 2105 (historical) or 2110
(TWS ↔ server) and its return with 2104 / 2106. While any farm is broken, or a
resubscribed line has not ticked yet, or a line streams delayed data (10167 / 354),
:attr:`DataQuality.ok` is False and :attr:`DataQuality.reason` says why: strategy
runtimes check it before every decision and pause while it is False.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from livedesk.backend.trading.orders import UNSET_DOUBLE

BROKEN = {2103: "market data", 2105: "historical data", 2110: "TWS-server link"}
"""Codes that mark data stale, by the farm they concern."""
RESTORED_FARM = {2104: ("market data", "TWS-server link"), 2106: ("historical data",)}
"""Codes that clear a farm (and the TWS-server link, which comes back with its farms)."""
DELAYED = {10167, 354}


def usable(x: object) -> bool:
    """A real, positive price (not NaN, not IB's unset 1.797e308, not -1)."""
    return (
        isinstance(x, int | float)
        and not isinstance(x, bool)
        and 0 < x < UNSET_DOUBLE
        and not math.isnan(x)
    )


@dataclass
class DataQuality:
    """What is wrong with market data right now (empty = all good)."""

    broken: dict[str, str] = field(default_factory=dict)
    """Farm → the gateway's message."""
    awaiting: dict[int, str] = field(default_factory=dict)
    """conId → symbol of resubscribed lines with no tick yet."""
    delayed: dict[int, str] = field(default_factory=dict)
    """conId → symbol of lines streaming delayed (or no) data."""

    def on_code(self, code: int, message: str) -> bool:
        """Apply a farm notice; True when the state changed."""
        before = dict(self.broken)
        if code in BROKEN:
            self.broken[BROKEN[code]] = f"{message} ({code})"
        elif code in RESTORED_FARM:
            for farm in RESTORED_FARM[code]:
                self.broken.pop(farm, None)
        return before != self.broken

    def link_restored(self) -> None:
        """1101 / 1102 / a reconnect: the TWS-server link is back."""
        self.broken.pop("TWS-server link", None)

    def on_delayed(self, con_id: int, symbol: str) -> None:
        """A line answered with delayed data (10167) or none (354)."""
        self.delayed[con_id] = symbol

    def expect_tick(self, con_id: int, symbol: str) -> None:
        """A line was (re)subscribed: its prices are stale until its first tick."""
        self.awaiting[con_id] = symbol
        self.delayed.pop(con_id, None)

    def on_ticker(self, ticker) -> None:
        """A ticker update: a usable live price ends its wait; delayed type marks it."""
        con_id = ticker.contract.conId if ticker.contract else 0
        if getattr(ticker, "marketDataType", 1) in (3, 4):
            self.delayed[con_id] = ticker.contract.symbol
        if con_id in self.awaiting and any(
            usable(p) for p in (ticker.bid, ticker.ask, ticker.last, getattr(ticker, "close", None))
        ):
            del self.awaiting[con_id]

    def forget(self, con_id: int) -> None:
        """A line was cancelled: it no longer matters."""
        self.awaiting.pop(con_id, None)
        self.delayed.pop(con_id, None)

    def is_delayed(self, con_id: int) -> bool:
        """Whether ``con_id`` streams delayed data."""
        return con_id in self.delayed

    @property
    def ok(self) -> bool:
        """True when every farm is up, every line has ticked and none is delayed."""
        return not (self.broken or self.awaiting or self.delayed)

    @property
    def reason(self) -> str:
        """Why data is not OK ("" when it is)."""
        parts = [f"{farm} farm broken: {msg}" for farm, msg in self.broken.items()]
        if self.awaiting:
            parts.append(
                "prices stale until the first tick: " + ", ".join(sorted(self.awaiting.values()))
            )
        if self.delayed:
            parts.append("delayed data (not live): " + ", ".join(sorted(self.delayed.values())))
        return "; ".join(parts)
