"""`ConsoleSession`: the console's backend — connection, trading app, risk, strategies, log.

It owns everything the console shows and every command it sends, with no Textual in it:
the UI polls :meth:`ConsoleSession.version` counters (bumped by ib_async events) on a short
timer and rebuilds only the panes whose data changed, so a burst of ticks costs one repaint.

With no broker configured (``Target.sim``) it starts the embedded :class:`SimGateway` in the
running event loop on a free loopback port and connects ``ib_async`` to it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from livedesk.backend.broker.orderref import strategy_of
from livedesk.backend.broker.session import fallback_ids
from livedesk.backend.console.demo_speed import DemoSpeed
from livedesk.backend.console.equity import EquitySeries
from livedesk.backend.console.health import (
    CONNECTED,
    DISCONNECTED,
    ConnectionHealth,
    alert_level,
)
from livedesk.backend.console.logbook import Logbook
from livedesk.backend.console.market_clock import MarketClock
from livedesk.backend.console.session_commands import SessionCommands
from livedesk.backend.console.session_views import SessionViews
from livedesk.backend.console.story import TradeStory
from livedesk.backend.console.tracker import OrderTracker
from livedesk.backend.console.watchlist import WATCHLIST_FILE, Watchlist
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
    speed: float | None = None
    """``--speed``: the demo's simulated seconds per real second (None: as it runs)."""

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


def _data_dir():
    from livedesk.backend.config import data_dir

    return data_dir()


def _preload_strategies() -> None:
    """Import the strategy modules (some are heavy) so the controller builds without blocking."""
    try:
        from livedesk.backend.strategies.registry import available_strategies
    except ImportError:
        return
    available_strategies()


class ConsoleSession(SessionViews, SessionCommands, DemoSpeed):
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
        watchlist_path=None,
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
        self.demo = None
        """The shared persistent demo gateway (:class:`DemoHost`), when on the demo."""
        self.demo_speed: float | None = None
        self.app = None
        self.journal = journal
        self.engine = None
        self.feed = None
        self.controller = None
        self.risk_table = None
        self.connected_to = ""
        self.logbook = Logbook(self.now, log_limit)
        self.tracker = OrderTracker()
        self.story = TradeStory(self._story_log, self.tracker, self.contract_label)
        self.versions = dict.fromkeys(PANES, 0)
        self.equity: dict[str, EquitySeries] = {}
        self._closing = False
        self._reconnect_task: asyncio.Task | None = None
        self._controller_task: asyncio.Task | None = None
        self._flagged: set[tuple[str, str]] = set()
        self._unsubscribe = self.bus.subscribe(self._on_bus)
        self.watchlist = Watchlist(
            settings.watchlist.symbols,
            watchlist_path or _data_dir() / WATCHLIST_FILE,
            now=self.now,
            today=self.today,
        )

    @property
    def logs(self):
        """The Log pane's lines (oldest first)."""
        return self.logbook.lines

    @property
    def log_seq(self) -> int:
        """How many lines were ever added (the newest line's number)."""
        return self.logbook.seq

    @property
    def toasts(self):
        """Lines waiting to be shown as toasts."""
        return self.logbook.toasts

    # ---- lifecycle ------------------------------------------------------------------
    def now(self) -> float:
        """The broker's clock (IB server time, ``TradingApp.clock``): every time shown.

        Before the connection: the embedded sim gateway's clock, else the wall clock.
        """
        if self.app is not None:
            return self.app.clock.time()
        return self.gw.now() if self.gw is not None else time.time()

    def today(self):
        """The broker's date (New York)."""
        from livedesk.backend.console.market_clock import NEW_YORK

        return dt.datetime.fromtimestamp(self.now(), NEW_YORK).date()

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
        self.add_log("warning", "console", f"live account {typed} confirmed")
        return True

    async def connect(self) -> None:
        """Start the sim gateway if needed, connect, and wire risk, journal and strategies."""
        from livedesk.backend.trading.app import TradingApp
        from livedesk.backend.trading.guard import GuardLimits

        t = self.target
        # strategy modules import in parallel with building the market (both off the loop)
        preload = (
            asyncio.ensure_future(asyncio.to_thread(_preload_strategies))
            if self.controller_factory is None
            else None
        )
        if t.sim and self.gw is None and self.demo is None:
            if self.gateway_factory is None:  # the persistent demo account, shared by processes
                await self._open_demo()
            else:  # building the market takes a moment: off the loop, so the UI keeps painting
                self.gw = await asyncio.to_thread(self.gateway_factory)
                await self.gw.start()
        if t.sim:
            host, port = "127.0.0.1", self.gw.port if self.gw is not None else self.demo.port
        else:
            host, port = t.host, t.port
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
                fallback_client_ids=fallback_ids(
                    t.client_id, self.settings.broker.fallback_client_id
                ),
            )
        except ConnectionError as exc:
            reason = str(exc.__cause__ or exc) or type(exc.__cause__ or exc).__name__
            raise ConsoleConnectError(f"{host}:{port} (client id {t.client_id})", reason) from exc
        except Exception as exc:  # an API error during the handshake (e.g. 326 client id in use)
            raise ConsoleConnectError(f"{host}:{port} (client id {t.client_id})", str(exc)) from exc
        if t.sim and self.gw is not None:  # the gateway clock in-process: exact between requests
            self.app.clock.exact = self.gw.now
        self._wire()
        session = getattr(self.app, "session", None)
        for code, message in getattr(session, "connect_notices", ()):
            self.health.on_code(code, message)  # farm notices of the handshake
        self.health.last_code, self.health.last_message = 0, ""  # farms, not a problem
        self.health.on_connected()
        where = "embedded sim gateway" if t.sim else self.connected_to
        self.bus.publish(ConnectionState(self.now(), CONNECTED, where))
        self._bump("positions", "orders", "account")
        if preload is None:
            self.controller = self._make_controller()
            await self._controller_ready()
        else:  # account and positions show now; the strategies once their modules loaded
            self._controller_task = asyncio.ensure_future(self._attach_controller(preload))

    @property
    def strategies_loading(self) -> bool:
        """True while the strategy modules are still loading after the connection."""
        return self._controller_task is not None and not self._controller_task.done()

    async def _attach_controller(self, preload) -> None:
        try:
            await preload
        except Exception as exc:
            log.error("strategy modules failed to load: %s", exc)
        if self._closing:
            return
        self.controller = self._make_controller()
        await self._controller_ready()

    async def _controller_ready(self) -> None:
        listeners = getattr(self.controller, "listeners", None)
        if isinstance(listeners, list):
            listeners.append(self.story.decision)  # decisions that placed orders, folded others
        self._bump("strategies")
        if self.controller is not None and self.start_strategies:
            await self.controller.start_enabled()

    async def _open_demo(self) -> None:
        """Serve the persistent demo gateway, or join the process that serves it."""
        from livedesk.backend.demo.host import DemoHost

        self.demo = DemoHost(self.settings, speed=self.target.speed, on_takeover=self._took_over)
        await self.demo.open()
        self.gw = self.demo.gateway  # None while another process serves it
        self.demo_speed = await self.demo.speed()

    def _took_over(self, gateway) -> None:
        """The demo gateway's owner left and this process serves it now (same port)."""
        self.gw = gateway
        if self.app is not None:
            self.app.clock.exact = gateway.now
        self.add_log("info", "demo", "the demo gateway's owner quit: serving it here")

    def _wire(self) -> None:
        from livedesk.backend.console.risk_view import RiskTable
        from livedesk.backend.journal import Journal
        from livedesk.backend.risk.engine import ACCOUNT, RiskEngine
        from livedesk.backend.risk.live import RiskFeed

        if self.journal is None:
            self.journal = Journal(self._journal_path())
            if self.journal.path.name == ":memory:":
                self._import_demo_references()
        if getattr(self.app, "session", None) is not None:
            self.app.session.attach_journal(self.journal)
        self.engine = RiskEngine(self.journal, min_sessions=self.settings.risk.min_sessions)
        self.engine.restore()
        self.risk_table = RiskTable(
            self.engine, params=self.strategy_params, risk=self.settings.risk
        )
        self.feed = RiskFeed(self.app, self.engine, clock=self.now)
        self.feed.start()
        self.tracker.load_fills(self.journal.fills())
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
        ib.commissionReportEvent += self._on_commission
        self.logbook.attach()
        self.watchlist.attach(self.app)
        for trade in ib.trades():
            self._on_order(trade)

    def _journal_path(self):
        from livedesk.backend.journal import account_journal_path, default_journal_path

        if self.demo is not None:
            from livedesk.backend.demo.account import demo_journal_path

            return demo_journal_path(self.settings)
        if self.target.sim:
            if not self.settings.sim.state_file:
                return ":memory:"  # a fresh demo account: a fresh journal (references copied)
            return account_journal_path()
        if self.settings.broker.account:
            return account_journal_path(self.settings.broker.account)
        return default_journal_path()

    def _import_demo_references(self) -> None:
        """A fresh demo journal shows the backtest references ``livedesk backtest`` stored in
        the demo account's journal on disk."""
        from livedesk.backend.journal import Journal, account_journal_path

        path = account_journal_path()
        if not path.is_file():
            return
        try:
            with Journal(path) as disk:
                self.journal.import_references(disk)
        except Exception as exc:  # a damaged file must not stop the console
            log.warning("backtest references of %s not read: %s", path, exc)

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
            controller = factory(
                self.app,
                bus=self.bus,
                journal=self.journal,
                risk=self.engine,
                settings=self.settings,
            )
        except Exception as exc:
            log.error("strategy controller failed to start: %s", exc)
            return None
        for error in getattr(controller, "plugin_errors", ()):
            self.add_log("error", "strategies", f"plugin not loaded: {error}")
        for name, message in getattr(controller, "config_errors", {}).items():
            self.add_log("error", "strategies", f"{name} not loaded: {message}")
        return controller

    async def close(self) -> None:
        """Stop strategies (positions and orders untouched), disconnect, stop the sim gateway."""
        self._closing = True
        for task in (self._reconnect_task, self._controller_task):
            if task is not None and not task.done():
                task.cancel()
        self.logbook.detach()
        self.watchlist.detach()
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
        if self.demo is not None:
            await self.demo.close()  # saves the account and its clock; another may take over
        elif self.gw is not None:
            await self.gw.stop()
        in_memory = self.journal is not None and self.journal.path.name == ":memory:"
        if self.journal is not None and (self.demo is not None or in_memory):
            self.journal.close()

    # ---- ib_async events ----------------------------------------------------------
    def _bump(self, *panes: str) -> None:
        for p in panes:
            self.versions[p] += 1

    def _on_error(self, req_id, code, message, contract=None) -> None:
        if self.health.on_code(code, message):
            self._bump("account")
        what = f" ({describe(contract)})" if contract is not None and contract.conId else ""
        known = self.tracker.knows_order(req_id)
        refused = self.story.rejected(req_id, code, message) if known else None
        if refused is not None:
            self.bus.publish(Alert(self.now(), "error", "order", f"{refused}{what}", code))
            return
        order = f" order {req_id}" if known else ""
        self.bus.publish(
            Alert(self.now(), alert_level(code), "ib", f"{code}{order}: {message}{what}", code)
        )

    def _on_disconnected(self) -> None:
        self.health.on_disconnected("socket closed")
        self._bump("account")
        if self._closing:
            return
        if getattr(self.app, "session", None) is not None:
            return  # the broker session reconnects, reconciles and publishes the states
        self.bus.publish(ConnectionState(self.now(), DISCONNECTED, self.connected_to))
        self.bus.publish(
            Alert(self.now(), "error", "connection", f"disconnected from {self.connected_to}")
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
                self.add_log("warning", "connection", f"reconnect failed: {exc}")
                delay = min(max_delay, delay * 2)
                continue
            self.health.on_connected()
            self._bump("account", "positions", "orders")
            self.bus.publish(ConnectionState(self.now(), CONNECTED, "reconnected"))
            self.bus.publish(
                Alert(self.now(), "warning", "connection", f"reconnected to {self.connected_to}")
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
        self.tracker.seen(trade, self.now())
        self.story.changed(trade)
        self._bump("orders")

    def _on_exec(self, trade, fill) -> None:
        ex, c = fill.execution, fill.contract
        strategy = strategy_of(ex.orderRef or trade.order.orderRef)
        self.tracker.attribute(ex.execId, c.conId, strategy, ex.side, ex.shares)
        self._bump("orders", "positions", "risk")

    def _on_commission(self, trade, fill, report) -> None:
        self.story.fill(trade, fill, report.commission)
        self._bump("orders")  # the Executions view shows the commission

    def _on_bus(self, ev: Event) -> None:
        if isinstance(ev, OrderSent):
            self.tracker.sent(ev.order_id, ev.mid, self.now())
            trade = self._trade(ev.order_id)
            if trade is not None:
                self.story.sent(trade)
            self._bump("orders")
        elif isinstance(ev, Alert):
            self.add_log(ev.level, ev.source, ev.message, ev.code, toast=True)
        elif isinstance(ev, StrategyState):
            if ev.status in ("waiting", "running") and ev.detail != "started":
                self._bump("strategies")  # each decision has its own line (the story)
                return
            level = {"error": "error", "halted": "warning"}.get(ev.status, "info")
            text = f"{ev.name}: {ev.status}" + (f" — {ev.detail}" if ev.detail else "")
            self.add_log(level, "strategy", text, toast=level != "info")
            self._bump("strategies")
        elif isinstance(ev, ConnectionState):
            if self.app is None:
                return  # the first connect is logged once it is done
            if ev.state == "CONNECTING":  # attempts show in the header, not the log
                self._follow_session(ev)
                return
            level = {CONNECTED: "info", "RESTORED": "warning", "DEGRADED": "warning"}.get(
                ev.state, "error"
            )
            self.add_log(level, "connection", f"{ev.state} {ev.detail}".strip())
            self._follow_session(ev)
        elif isinstance(ev, Fill):
            self._bump("orders")

    def _follow_session(self, ev: ConnectionState) -> None:
        """The header follows the broker session: reconnects, reconciliation, halts."""
        session = getattr(self.app, "session", None)
        if session is None:
            return
        if ev.state == CONNECTED:
            self.health.on_connected()
            if session.halt_reason:
                self.health.state = "HALTED"
                self.health.last_message = session.halt_reason
            self._bump("account", "positions", "orders")
        elif ev.state in ("DISCONNECTED", "CONNECTING"):
            self.health.on_disconnected(ev.detail)
            self.health.state = ev.state
        self._bump("account")

    def add_log(
        self,
        level: str,
        source: str,
        message: str,
        code: int = 0,
        toast: bool = False,
        fold: bool = False,
    ) -> None:
        """Add a Log pane line (broker time); warnings and errors may also toast; ``fold``
        counts a repeat of the newest line instead of adding one."""
        self.logbook.add(level, source, message, code, toast, fold)
        self._bump("log")

    def _story_log(self, level: str, source: str, message: str, fold: bool = False) -> None:
        self.add_log(level, source, message, fold=fold)

    def _trade(self, order_id: int):
        if self.app is None:
            return None
        for trade in reversed(self.app.ib.trades()):
            if trade.order.orderId == order_id:
                return trade
        return None
