"""`ConsoleSession`: the console's backend — connection, trading app, risk, strategies, log.

It owns everything the console shows and every command it sends, with no Textual in it:
the UI polls :meth:`ConsoleSession.version` counters (bumped by ib_async events) on a short
timer and rebuilds only the panes whose data changed, so a burst of ticks costs one repaint.

With no broker configured (``Target.sim``) it starts the embedded :class:`SimGateway` in the
running event loop on a free loopback port and connects ``ib_async`` to it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from livedesk.backend.console.equity import EquitySeries
from livedesk.backend.console.health import (
    CONNECTED,
    DISCONNECTED,
    ConnectionHealth,
    alert_level,
)
from livedesk.backend.console.market_clock import MarketClock, MarketStatus
from livedesk.backend.console.views import OrderRow, PositionRow, clean, order_rows, position_rows
from livedesk.backend.contracts import describe
from livedesk.backend.events import (
    Alert,
    ConnectionState,
    Event,
    EventBus,
    Fill,
    OrderSent,
    StrategyState,
)

log = logging.getLogger("livedesk.console")

PAPER_PREFIX = "DU"
PANES = ("positions", "orders", "account", "strategies", "log", "risk")


@dataclass(frozen=True)
class Target:
    """Where to connect: the embedded sim gateway (``host is None``) or TWS / IB Gateway."""

    host: str | None = None
    port: int = 0
    client_id: int = 1
    readonly: bool = False
    live: bool = False
    account: str = ""
    timeout: float = 4.0

    @property
    def sim(self) -> bool:
        """True for the embedded simulated gateway."""
        return self.host is None

    def describe(self) -> str:
        """``"127.0.0.1:4002 (client id 1)"``."""
        where = "embedded sim gateway" if self.sim else f"{self.host}:{self.port}"
        return f"{where} (client id {self.client_id})"


class ConsoleConnectError(ConnectionError):
    """Connecting failed; ``tried`` says where, ``reason`` why."""

    def __init__(self, tried: str, reason: str) -> None:
        self.tried, self.reason = tried, reason
        super().__init__(f"cannot connect to {tried}: {reason}")


@dataclass(frozen=True)
class LogEntry:
    """One line of the Log pane."""

    t: float
    level: str  # info | warning | error
    source: str
    message: str
    code: int = 0


@dataclass(frozen=True)
class HeaderView:
    """Everything the header shows."""

    account: str
    badge: str  # SIM | PAPER | LIVE | ""
    readonly: bool
    nlv: float
    day_pnl: float
    day_pnl_pct: float
    gross: float
    gross_pct: float
    connection: str
    last_code: int
    farms: str
    market: MarketStatus
    trading_state: str
    trading_reason: str
    live_confirmed: bool


class _LogHandler(logging.Handler):
    """Python log records of warning level and above also reach the Log pane."""

    def __init__(self, session: ConsoleSession) -> None:
        super().__init__(level=logging.WARNING)
        self.session = session

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("ib_async"):
            return  # IB messages arrive through errorEvent with their code
        level = "error" if record.levelno >= logging.ERROR else "warning"
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        self.session.add_log(LogEntry(time.time(), level, record.name, text))


def _preload_strategies() -> None:
    """Import the strategy modules (some are heavy) so the controller builds without blocking."""
    try:
        from livedesk.backend.strategies.registry import available_strategies
    except ImportError:
        return
    available_strategies()


class ConsoleSession:
    """The console's view of one broker session (see the module docstring)."""

    def __init__(
        self,
        settings,
        target: Target,
        *,
        gateway_factory: Callable[[], object] | None = None,
        journal=None,
        controller_factory: Callable[..., object] | None = None,
        start_strategies: bool = False,
        log_limit: int = 2000,
    ) -> None:
        self.settings = settings
        self.target = target
        self.gateway_factory = gateway_factory
        self.controller_factory = controller_factory
        self.start_strategies = start_strategies
        self.bus = EventBus()
        self.health = ConnectionHealth()
        self.market_clock = MarketClock()
        self.gw = None
        self.app = None
        self.journal = journal
        self.engine = None
        self.feed = None
        self.controller = None
        self.risk_table = None
        self.connected_to = ""
        self.logs: collections.deque[LogEntry] = collections.deque(maxlen=log_limit)
        self.log_seq = 0
        self.versions = dict.fromkeys(PANES, 0)
        self.equity: dict[str, EquitySeries] = {}
        self._arrival: dict[int, float | None] = {}
        self._first_seen: dict[int, float] = {}
        self._attribution: dict[int, dict[str, float]] = {}
        self._combos: dict[int, str] = {}
        self._seen_exec: set[str] = set()
        self._closing = False
        self._reconnect_task: asyncio.Task | None = None
        self._log_handler = _LogHandler(self)
        self._unsubscribe = self.bus.subscribe(self._on_bus)
        self.toasts: collections.deque[LogEntry] = collections.deque(maxlen=50)

    # ---- lifecycle ------------------------------------------------------------------
    def now(self) -> float:
        """Exchange time: the sim gateway's clock in demo mode, else the wall clock."""
        return self.gw.now() if self.gw is not None else time.time()

    @property
    def badge(self) -> str:
        """``SIM``, ``PAPER`` (a ``DU…`` account) or ``LIVE``; empty before the account is known."""
        if self.target.sim:
            return "SIM"
        account = self.app.account if self.app is not None else ""
        if not account:
            return ""
        return "PAPER" if account.startswith(PAPER_PREFIX) else "LIVE"

    @property
    def needs_live_confirmation(self) -> bool:
        """A live account started with ``--live`` whose id has not been typed yet."""
        return (
            self.badge == "LIVE"
            and self.target.live
            and not self.target.readonly
            and (self.app.confirm_account or "").strip() != self.app.account
        )

    def confirm_live(self, typed: str) -> bool:
        """Unlock orders on the live account when ``typed`` is exactly its id."""
        if self.app is None or typed.strip() != self.app.account:
            return False
        self.app.confirm_account = typed.strip()
        self.add_log(LogEntry(time.time(), "warning", "console", f"live account {typed} confirmed"))
        return True

    async def connect(self) -> None:
        """Start the sim gateway if needed, connect, and wire risk, journal and strategies."""
        from livedesk.backend.guard import GuardLimits
        from livedesk.backend.trading import TradingApp

        t = self.target
        if t.sim and self.gw is None:
            # building the market takes a moment: off the loop, so the UI keeps painting
            self.gw = await asyncio.to_thread(self.gateway_factory or self._default_gateway)
            await self.gw.start()
        host, port = ("127.0.0.1", self.gw.port) if t.sim else (t.host, t.port)
        self.connected_to = f"{host}:{port}"
        try:
            limits = GuardLimits.from_mapping(self.settings.guard)
        except ValueError as exc:
            raise ConsoleConnectError(t.describe(), f"invalid [guard] settings: {exc}") from exc
        try:
            self.app = await TradingApp.connect(
                host,
                port,
                t.client_id,
                readonly=t.readonly,
                live=t.live,
                limits=limits,
                timeout=t.timeout,
                account=t.account,
                bus=self.bus,
            )
        except ConnectionError as exc:
            reason = str(exc.__cause__ or exc) or type(exc.__cause__ or exc).__name__
            raise ConsoleConnectError(f"{host}:{port} (client id {t.client_id})", reason) from exc
        except Exception as exc:  # an API error during the handshake (e.g. 326 client id in use)
            raise ConsoleConnectError(f"{host}:{port} (client id {t.client_id})", str(exc)) from exc
        if self.controller_factory is None:
            await asyncio.to_thread(_preload_strategies)
        self._wire()
        self.health.on_connected()
        where = "embedded sim gateway" if t.sim else self.connected_to
        self.bus.publish(ConnectionState(time.time(), CONNECTED, where))
        if self.controller is not None and self.start_strategies:
            await self.controller.start_enabled()

    def _default_gateway(self):
        from livedesk.backend.sim.gateway import SimGateway

        sim = self.settings.sim
        return SimGateway(
            port=0,
            seed=sim.seed,
            speed=sim.speed,
            account=sim.account,
            state_file=sim.state_file or None,
        )

    def _wire(self) -> None:
        from livedesk.backend.console.risk_view import RiskTable
        from livedesk.backend.journal import Journal
        from livedesk.backend.risk.engine import ACCOUNT, RiskEngine
        from livedesk.backend.risk.live import RiskFeed

        if self.journal is None:
            self.journal = Journal(self._journal_path())
        self.engine = RiskEngine(self.journal)
        self.engine.restore()
        self.risk_table = RiskTable(self.engine)
        self.feed = RiskFeed(self.app, self.engine, clock=self.now)
        self.feed.start()
        self._load_attribution()
        for key in self.engine.keys():
            self._series(key)
        self._series(ACCOUNT)
        ib = self.app.ib
        ib.errorEvent += self._on_error
        ib.disconnectedEvent += self._on_disconnected
        ib.updatePortfolioEvent += self._on_portfolio
        ib.positionEvent += self._on_portfolio
        ib.pendingTickersEvent += self._on_tickers
        ib.accountValueEvent += self._on_account
        ib.pnlEvent += self._on_account
        ib.openOrderEvent += self._on_order
        ib.orderStatusEvent += self._on_order
        ib.newOrderEvent += self._on_order
        ib.execDetailsEvent += self._on_exec
        logging.getLogger().addHandler(self._log_handler)
        for trade in ib.trades():
            self._on_order(trade)
        if self.controller_factory is not None or self.controller is None:
            self.controller = self._make_controller()

    def _journal_path(self):
        from livedesk.backend.config import data_dir

        if self.target.sim:
            if not self.settings.sim.state_file:
                return ":memory:"  # a fresh demo account: a fresh journal
            return data_dir() / "journal-sim.sqlite3"
        return data_dir() / "journal.sqlite3"

    def _make_controller(self):
        factory = self.controller_factory
        if factory is None:
            try:
                from livedesk.backend.strategies.controller import StrategyController
            except ImportError as exc:  # the strategy runtime is optional for the console
                log.warning("strategies unavailable: %s", exc)
                return None
            factory = StrategyController
        try:
            return factory(
                self.app,
                bus=self.bus,
                journal=self.journal,
                risk=self.engine,
                settings=self.settings,
            )
        except Exception as exc:
            log.error("strategy controller failed to start: %s", exc)
            return None

    def _load_attribution(self) -> None:
        for f in self.journal.fills():
            if f.get("strategy") and f.get("con_id"):
                self._attribute(f["exec_id"], f["con_id"], f["strategy"], f["side"], f["qty"])

    async def close(self) -> None:
        """Stop strategies (positions and orders untouched), disconnect, stop the sim gateway."""
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        logging.getLogger().removeHandler(self._log_handler)
        if self.controller is not None:
            try:
                await self.controller.close()
            except Exception:
                log.exception("strategy controller close failed")
        if self.feed is not None:
            try:
                self.feed.stop()
            except Exception:
                log.exception("risk feed stop failed")
        if self.app is not None:
            self.app.disconnect()
        if self.gw is not None:
            await self.gw.stop()
        if self.journal is not None and self.journal.path.name == ":memory:":
            self.journal.close()

    # ---- ib_async events ----------------------------------------------------------
    def _bump(self, *panes: str) -> None:
        for p in panes:
            self.versions[p] += 1

    def _on_error(self, req_id, code, message, contract=None) -> None:
        if self.health.on_code(code, message):
            self._bump("account")
        what = f" ({describe(contract)})" if contract is not None and contract.conId else ""
        order = f" order {req_id}" if req_id in self._first_seen else ""
        self.bus.publish(
            Alert(time.time(), alert_level(code), "ib", f"{code}{order}: {message}{what}", code)
        )

    def _on_disconnected(self) -> None:
        self.health.on_disconnected("socket closed")
        self._bump("account")
        if self._closing:
            return
        self.bus.publish(ConnectionState(time.time(), DISCONNECTED, self.connected_to))
        self.bus.publish(
            Alert(time.time(), "error", "connection", f"disconnected from {self.connected_to}")
        )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = loop.create_task(self._reconnect())

    async def _reconnect(self, first_delay: float = 1.0, max_delay: float = 30.0) -> None:
        delay = first_delay
        host, port = self.connected_to.rsplit(":", 1)
        while not self._closing:
            await asyncio.sleep(delay)
            try:
                await self.app.ib.connectAsync(
                    host,
                    int(port),
                    clientId=self.target.client_id,
                    timeout=self.target.timeout,
                    readonly=self.target.readonly,
                    account=self.target.account,
                )
            except Exception as exc:
                self.add_log(
                    LogEntry(time.time(), "warning", "connection", f"reconnect failed: {exc}")
                )
                delay = min(max_delay, delay * 2)
                continue
            self.health.on_connected()
            self._bump("account", "positions", "orders")
            self.bus.publish(ConnectionState(time.time(), CONNECTED, "reconnected"))
            self.bus.publish(
                Alert(time.time(), "warning", "connection", f"reconnected to {self.connected_to}")
            )
            return

    def _on_portfolio(self, *_args) -> None:
        self._bump("positions", "account")

    def _on_tickers(self, tickers) -> None:
        positions = self.app.positions if self.app is not None else {}
        if any(t.contract is not None and t.contract.conId in positions for t in tickers):
            self._bump("positions")

    def _on_account(self, *_args) -> None:
        self._bump("account")

    def _on_order(self, trade) -> None:
        oid = trade.order.orderId
        if oid not in self._first_seen:
            self._first_seen[oid] = self.now()
        if trade.contract.secType == "BAG":
            label = describe(trade.contract)
            for leg in trade.contract.comboLegs:
                self._combos.setdefault(leg.conId, label)
        self._bump("orders")

    def _on_exec(self, trade, fill) -> None:
        ex, c = fill.execution, fill.contract
        strategy = ex.orderRef or trade.order.orderRef or ""
        if strategy:
            self._attribute(ex.execId, c.conId, strategy, ex.side, ex.shares)
        self._bump("orders", "positions", "risk")

    def _attribute(self, exec_id: str, con_id: int, strategy: str, side: str, qty: float) -> None:
        if exec_id in self._seen_exec:
            return
        self._seen_exec.add(exec_id)
        sign = 1.0 if side.upper() in ("BOT", "BUY") else -1.0
        book = self._attribution.setdefault(con_id, {})
        book[strategy] = book.get(strategy, 0.0) + sign * float(qty)
        if abs(book[strategy]) < 1e-9:
            del book[strategy]

    def _on_bus(self, ev: Event) -> None:
        if isinstance(ev, OrderSent):
            self._arrival[ev.order_id] = ev.mid
            self._first_seen.setdefault(ev.order_id, self.now())
            self._bump("orders")
        elif isinstance(ev, Alert):
            self.add_log(LogEntry(ev.t, ev.level, ev.source, ev.message, ev.code), toast=True)
        elif isinstance(ev, StrategyState):
            level = {"error": "error", "halted": "warning"}.get(ev.status, "info")
            text = f"{ev.name}: {ev.status}" + (f" — {ev.detail}" if ev.detail else "")
            self.add_log(LogEntry(ev.t, level, "strategy", text), toast=level != "info")
            self._bump("strategies")
        elif isinstance(ev, ConnectionState):
            level = "info" if ev.state == CONNECTED else "error"
            self.add_log(LogEntry(ev.t, level, "connection", f"{ev.state} {ev.detail}".strip()))
        elif isinstance(ev, Fill):
            self._bump("orders")

    def add_log(self, entry: LogEntry, toast: bool = False) -> None:
        """Add a Log pane line (stamped with exchange time, like the header's clock);
        warnings and errors also become toasts when ``toast``."""
        entry = LogEntry(self.now(), entry.level, entry.source, entry.message, entry.code)
        self.logs.append(entry)
        self.log_seq += 1
        self._bump("log")
        if toast and entry.level in ("warning", "error"):
            self.toasts.append(entry)

    # ---- views --------------------------------------------------------------------
    def header(self) -> HeaderView:
        """The header's figures now."""
        app = self.app
        market = self.market_clock.status(self.now())
        if app is None:
            nan = math.nan
            return HeaderView(
                "", self.badge, self.target.readonly, nan, nan, nan, nan, nan,
                self.health.state, self.health.last_code, self.health.farms_label(), market,
                "", "", False,
            )  # fmt: skip
        account = app.account
        nlv = app.net_liquidation
        day = math.nan
        for p in app.ib.pnl(account):
            day = clean(p.dailyPnL)
        base = nlv - day if math.isfinite(nlv) and math.isfinite(day) else math.nan
        gross = sum(abs(clean(i.marketValue) or 0.0) for i in app.ib.portfolio(account))
        return HeaderView(
            account=account,
            badge=self.badge,
            readonly=self.target.readonly,
            nlv=nlv,
            day_pnl=day,
            day_pnl_pct=day / base if base and base > 0 else math.nan,
            gross=gross,
            gross_pct=gross / nlv if nlv and nlv > 0 else math.nan,
            connection=self.health.state,
            last_code=self.health.last_code,
            farms=self.health.farms_label(),
            market=market,
            trading_state=str(app.trading_state),
            trading_reason=app.guard.state_reason,
            live_confirmed=self.badge != "LIVE" or not app.account_guard.check(),
        )

    def positions(self) -> list[PositionRow]:
        """Positions pane rows."""
        if self.app is None:
            return []
        app = self.app
        return position_rows(
            app.ib.portfolio(app.account),
            app.net_liquidation,
            self._attribution,
            self._combos,
            app.marks(),
        )

    def orders(self) -> list[OrderRow]:
        """Orders pane rows: working orders and today's orders."""
        if self.app is None:
            return []
        return order_rows(self.app.ib.trades(), self._arrival, self._first_seen)

    def strategies(self) -> list:
        """``StrategyInfo`` rows (empty without a controller)."""
        return self.controller.infos() if self.controller is not None else []

    def _series(self, key: str) -> EquitySeries:
        s = self.equity.get(key)
        if s is None:
            s = self.equity[key] = EquitySeries(key)
            if self.journal is not None:
                s.load(self.journal)
        return s

    def equity_view(self, key: str, window: str, width: int):
        """Equity/drawdown of ``key`` ("account" or a strategy) over ``window``."""
        series = self._series(key)
        if self.engine is not None and key in self.engine.keys():
            snap = self.engine.snapshot(key)
            series.add(float(snap["t"]), float(snap["nlv"]))
        start = self.market_clock.session_start(self.now())
        return series.view(window, width, self.now(), start)

    def risk_blocks(self) -> list:
        """Risk pane blocks (empty before the connection)."""
        return self.risk_table.blocks() if self.risk_table is not None else []

    # ---- questions the UI asks --------------------------------------------------------
    def working_orders(self) -> list[OrderRow]:
        """Orders that can still fill."""
        return [o for o in self.orders() if o.working]

    def running_strategies(self) -> list[str]:
        """Strategies whose task is alive (waiting or running)."""
        return [i.name for i in self.strategies() if str(i.status) in ("waiting", "running")]

    # ---- commands -------------------------------------------------------------------
    def _check_can_cancel(self) -> None:
        from livedesk.backend.trading import OrderRefused

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
                self.add_log(
                    LogEntry(time.time(), "info", "console", f"cancel sent for order {order_id}")
                )
                return True
        return False

    async def cancel_all(self) -> int:
        """Cancel every working order; returns how many."""
        self._check_can_cancel()
        n = await self.app.cancel_all()
        self.add_log(LogEntry(time.time(), "warning", "console", f"cancel all: {n} order(s)"))
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
            Alert(time.time(), "error", "console", f"KILL SWITCH: {reason}; {n} order(s) cancelled")
        )
        self._bump("account", "strategies", "orders")
        return n
