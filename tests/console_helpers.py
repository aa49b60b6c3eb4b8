"""Shared pieces of the console tests: a fake StrategyController and an app factory.

The fake follows the StrategyController contract (infos / info / recent_decisions / start /
stop / run_now / halt_all / close) so pane and dialog tests do not depend on the real
strategies' market data; one test wires the real controller.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from livedesk.backend.config import Settings
from livedesk.backend.console.session import ConsoleSession, Target
from livedesk.backend.events import StrategyState
from livedesk.backend.journal import Journal
from livedesk.backend.sim.gateway import SimGateway
from livedesk.backend.strategies.clock import NEW_YORK
from tests.conftest import until


@dataclass
class FakeInfo:
    name: str
    schedule: str
    enabled: bool
    status: str
    next_run: dt.datetime | None
    last_run: dt.datetime | None
    last_decision: str
    last_error: str | None
    position: float
    pnl: float | None
    params: dict = field(default_factory=dict)


@dataclass
class FakeDecision:
    summary: str


class FakeController:
    """Two strategies, ``alpha`` and ``beta``; ``run_now('alpha')`` buys 10 AAPL at market."""

    def __init__(self, app, *, bus, journal=None, risk=None, settings=None, **_kw) -> None:
        self.app, self.bus = app, bus
        nxt = dt.datetime(2026, 11, 20, 15, 50, tzinfo=NEW_YORK)
        self._infos = {
            "alpha": FakeInfo("alpha", "every 60 s", True, "stopped", None, None, "", None, 0.0,
                              None, {"threshold": 2.0}),
            "beta": FakeInfo("beta", "monthly, month-end 15:50", True, "stopped", nxt, None,
                             "hold", None, 0.0, 0.0, {"top": 20}),
        }  # fmt: skip
        self.calls: list[tuple[str, str]] = []
        self.halted = False
        self.closed = False

    def infos(self):
        return list(self._infos.values())

    def info(self, name):
        return self._infos[name]

    def recent_decisions(self, name, limit=20):
        return [{"t": 1_795_700_000.0, "kind": "decision", "detail": {"summary": "hold", "z": 0.5}}]

    def _set(self, name, status, detail=""):
        self._infos[name] = replace(self._infos[name], status=status)
        self.bus.publish(StrategyState(0.0, name, status, detail))

    async def start(self, name):
        if self.halted:
            raise RuntimeError(f"cannot start {name}: trading is halted")
        self.calls.append(("start", name))
        self._set(name, "waiting", "started")

    async def stop(self, name, *, flatten=False):
        self.calls.append(("flatten" if flatten else "stop", name))
        self._set(name, "stopped", "stopped")

    async def run_now(self, name):
        from livedesk.backend.contracts import stock
        from livedesk.backend.trading.orders import market

        self.calls.append(("run_now", name))
        if name == "alpha":
            c = await self.app.resolve_contract(stock("AAPL"))
            await self.app.order_target_quantity(c, market, 10, strategy="alpha")
        self._infos[name] = replace(self._infos[name], last_decision="bought 10 AAPL")
        return FakeDecision("bought 10 AAPL")

    async def halt_all(self, reason="kill switch"):
        self.halted = True
        n = await self.app.kill_switch(reason)
        for name in self._infos:
            self._set(name, "halted", reason)
        return n

    async def close(self):
        self.closed = True


def make_gateway(market, **kw) -> SimGateway:
    """A frozen-clock gateway one hour after the open of the test session."""
    kw.setdefault("speed", 0.0)
    kw.setdefault("start_time", market.session_open() + 3600)
    kw.setdefault("tick_interval", 0.02)
    kw.setdefault("account_interval", 0.1)
    return SimGateway(port=kw.pop("port", 0), market=market, **kw)


def make_session(market, tmp_path: Path, *, gw=None, target=None, controller=True, **kw):
    """A ConsoleSession on a frozen sim gateway with a journal in ``tmp_path``."""
    gw = gw or make_gateway(market)
    factory = (lambda app, **k: FakeController(app, **k)) if controller else None
    settings = kw.pop("settings", None) or Settings()
    kw.setdefault("watchlist_path", tmp_path / "watchlist.json")  # never the user's list
    session = ConsoleSession(
        settings,
        target or Target(),
        gateway_factory=lambda: gw,
        journal=Journal(tmp_path / "journal.sqlite3"),
        controller_factory=factory,
        **kw,
    )
    return session, gw


def make_app(session, tmp_path: Path, **kw):
    """The console app with its remembered theme in ``tmp_path``."""
    from livedesk.tui.app import LiveDeskApp

    kw.setdefault("theme_state", tmp_path / "console.json")
    kw.setdefault("theme_dirs", [])
    return LiveDeskApp(session, **kw)


async def connected(pilot, timeout: float = 10.0) -> None:
    """Wait until the console has connected and drawn."""
    await until(lambda: pilot.app.connected, timeout)
    await pilot.pause()


async def buy(session, symbol: str, qty: float, strategy: str = "") -> None:
    """A market order through the session's TradingApp."""
    from livedesk.backend.contracts import stock
    from livedesk.backend.errors import PriceUnavailable
    from livedesk.backend.trading.orders import market

    c = await session.app.resolve_contract(stock(symbol))
    for attempt in range(5):  # a loaded test machine may need more than one quote wait
        try:
            await session.app.order_target_quantity(c, market, qty, strategy=strategy)
            return
        except PriceUnavailable:
            if attempt == 4:
                raise


def finite(x) -> bool:
    return isinstance(x, float) and math.isfinite(x)
