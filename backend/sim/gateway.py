"""`SimGateway`: the embedded simulated IB gateway, a loopback TCP server speaking TWS API v178.

Usage::

    async with SimGateway(port=0, seed=7) as gw:
        ib = IB(); await ib.connectAsync("127.0.0.1", gw.port, clientId=1)

One asyncio task (the *pulse*) advances the simulated market: it closes and opens sessions
(:mod:`livedesk.backend.sim.rollover`), matches working orders, streams ticks, bar updates,
PnL and account values to the connected client sessions.  The clock runs on across closes,
nights, weekends and holidays.  ``start="YYYY-MM-DD[THH:MM]"`` (New York time) picks the
first simulated instant.  Tests use ``speed=0`` (a manual clock) and :meth:`SimGateway.advance`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from livedesk.backend.sim.broker.account import SimAccount
from livedesk.backend.sim.broker.book import (
    Event,
    FillEvent,
    OrderUpdate,
    PortfolioChanged,
    SimBroker,
)
from livedesk.backend.sim.broker.state import StateStore
from livedesk.backend.sim.clients.session import ClientSession
from livedesk.backend.sim.clients.transport import Connection, ConnectionLimits
from livedesk.backend.sim.control.faults import FaultHooks
from livedesk.backend.sim.market.calendar import NEW_YORK, resume_point, start_session
from livedesk.backend.sim.market.clock import SimClock
from livedesk.backend.sim.market.history import HistoryBuilder
from livedesk.backend.sim.market.model import MarketModel
from livedesk.backend.sim.rollover import SessionCycle

log = logging.getLogger("livedesk.sim")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


CLOCK_SAVE_INTERVAL = 1.0
"""Real seconds between two saves of the simulated clock to the ``--state`` file."""


class SimGateway:
    """The simulated gateway: market, broker, and the TCP server for API clients."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: int = 7,
        account: str = "DU0000001",
        speed: float = 1.0,
        state_file: str | Path | None = None,
        read_only: bool = False,
        allow_remote: bool = False,
        market: MarketModel | None = None,
        start: str | dt.datetime | dt.date | None = None,
        start_time: float | None = None,
        tick_interval: float = 0.1,
        account_interval: float = 1.0,
        initial_cash: float = 1_000_000.0,
        max_market_data_lines: int = 100,
        limits: ConnectionLimits | None = None,
        control: bool = True,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"refusing to bind to non-loopback address {host!r} without allow_remote"
            )
        self.host = host
        self._requested_port = port
        self.seed = seed
        first_session = None
        saved = StateStore.saved_clock(state_file) if state_file else None
        if start is not None:
            first_session, start_epoch = start_session(start)
            start_time = start_epoch if start_time is None else start_time
        if saved is not None and start_time is not None and start_time < saved:
            when = dt.datetime.fromtimestamp(saved, NEW_YORK)
            raise ValueError(
                f"the state file {state_file} is at {when:%Y-%m-%d %H:%M} New York; "
                "the simulated clock never goes back (start later, or use another state file)"
            )
        if saved is not None and start_time is None:
            first_session, start_time = resume_point(saved)
        self.market = market or MarketModel(seed=seed, session=first_session)
        self.clock = SimClock(
            start_time if start_time is not None else self.market.session_open(), speed
        )
        self.broker = SimBroker(
            self.market, SimAccount(account, cash=initial_cash), read_only=read_only
        )
        self.cycle = SessionCycle(self.broker)
        self.history = HistoryBuilder(self.market)
        self.state_file = Path(state_file) if state_file else None
        if self.state_file is not None and not self.state_file.parent.is_dir():
            raise ValueError(
                f"--state {self.state_file}: directory {self.state_file.parent} does not "
                "exist (it is not created for you: check the path, or mkdir it)"
            )
        self.tick_interval = tick_interval
        self.account_interval = account_interval
        self.max_market_data_lines = max_market_data_lines
        self.max_depth_books = 3  # TWS's default for an account without booster packs
        self.scan_averages: dict = {}  # scanner: session -> {conId: average daily volume}
        self.limits = limits or ConnectionLimits()
        self.sessions: dict[int, ClientSession] = {}
        self.connections: set[Connection] = set()
        self.faults = FaultHooks(self, remote=control)
        self.silent = False
        self.pacing_clock: Callable[[], float] = time.monotonic
        """The clock historical-data pacing counts on: wall time, as IB's; a fast-forward
        sets the simulated clock (hours of trading pass in seconds of wall time)."""
        self._server: asyncio.base_events.Server | None = None
        self._pulse: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._last_account_push = 0.0
        self.port = 0
        self.store = StateStore(self.state_file) if self.state_file else None
        if self.store is not None:
            self.store.load(self.broker)
        self.broker.on_change = self._persist

    # ---- lifecycle ---------------------------------------------------------------
    async def start(self) -> SimGateway:
        """Bind and start serving; ``self.port`` is the bound port."""
        self._server = await asyncio.get_running_loop().create_server(
            self._new_connection,
            self.host,
            self._requested_port or self.port,
            reuse_address=True,
            family=socket.AF_INET if ":" not in self.host else socket.AF_UNSPEC,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._pulse = asyncio.create_task(self._run_pulse(), name="sim-gateway-pulse")
        log.info("sim gateway listening on %s:%d", self.host, self.port)
        return self

    async def stop(self) -> None:
        """Close every connection, stop serving and persist the state."""
        if self._pulse:
            self._pulse.cancel()
            await asyncio.gather(self._pulse, return_exceptions=True)
            self._pulse = None
        self.drop_all()
        if self._server:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for conn in list(self.connections):
            conn.close()
        loop = asyncio.get_running_loop()
        end = loop.time() + 1.0
        while self.connections and loop.time() < end:  # let closing sockets flush
            await asyncio.sleep(0.005)
        for conn in list(self.connections):
            conn.drop("gateway stopping")
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        self._persist()
        if self.store is not None:
            self.store.close()

    async def restart(self, downtime: float = 0.2) -> None:
        """Simulate the daily restart: drop everyone, stop listening, come back on the same port."""
        port = self.port
        await self.stop()
        await asyncio.sleep(downtime)
        self._requested_port = port
        self.silent = False
        await self.start()

    async def __aenter__(self) -> SimGateway:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        """Run until cancelled."""
        if self._server is None:
            await self.start()
        await asyncio.Event().wait()

    # ---- time --------------------------------------------------------------------
    def now(self) -> float:
        """Simulated time, epoch seconds."""
        return self.clock.now()

    def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move the simulated clock forward and process everything that happens meanwhile.

        The clock moves in ``step``-second pulses while the market is open; while it is
        closed it jumps from one calendar boundary (open, close) to the next, since nothing
        fills there, so advancing over nights and weekends is cheap.
        """
        if seconds < 0 or not step > 0:
            raise ValueError("advance needs seconds >= 0 and step > 0")
        end = self.clock.now() + seconds
        while (now := self.clock.now()) < end:
            target = now + step
            if not self.broker.is_open(now):
                target = max(target, self.cycle.next_boundary(now))
            self.clock.advance(min(target, end) - now)
            self.pulse()

    # ---- the pulse ---------------------------------------------------------------
    async def _run_pulse(self) -> None:
        saved_at = time.monotonic()
        while True:
            try:
                self.pulse()
                if self.store is not None and time.monotonic() - saved_at >= CLOCK_SAVE_INTERVAL:
                    saved_at = time.monotonic()
                    self._persist()  # the clock moves on even when nothing trades
            except Exception:  # never let one bad pulse kill the gateway
                log.exception("sim gateway pulse failed")
            await asyncio.sleep(self.tick_interval)

    def pulse(self) -> None:
        """One step: match orders, then stream to every session."""
        now = self.now()
        events = self.cycle.step(now)
        self.publish(events + self.broker.step(now))
        if self.silent:
            return
        push_account = time.monotonic() - self._last_account_push >= self.account_interval
        if push_account:
            self._last_account_push = time.monotonic()
        for s in list(self.sessions.values()):
            s.stream(now, push_account)

    def publish(self, events: Iterable[Event]) -> None:
        """Route broker events to the sessions that should hear them."""
        pending: dict[int, list] = {}
        changed: set[int] = set()
        for ev in events:
            if isinstance(ev, FillEvent):
                for s in self._audience(ev.order.client_id):
                    s.send_exec(ev)
                pending.setdefault(ev.order.perm_id, []).append(ev)
            elif isinstance(ev, OrderUpdate):
                for s in self._audience(ev.order.client_id):
                    s.send_order(ev.order)
                for fe in pending.pop(ev.order.perm_id, []):
                    for s in self._audience(ev.order.client_id):
                        s.send_commission(fe)
            elif isinstance(ev, PortfolioChanged):
                changed.update(ev.con_ids)
        for s in list(self.sessions.values()):
            s.flush()  # order and fill messages leave before the slower account pushes
        if changed:
            asyncio.get_running_loop().call_soon(self._push_portfolio, changed)

    def _push_portfolio(self, con_ids: set[int]) -> None:
        now = self.now()
        for s in list(self.sessions.values()):
            s.portfolio_changed(con_ids, now)

    def _audience(self, client_id: int) -> list[ClientSession]:
        out = [s for cid, s in self.sessions.items() if cid == client_id or cid == 0]
        return out

    # ---- connections ---------------------------------------------------------------
    def _new_connection(self) -> Connection:
        return Connection(self, self.limits, lambda conn: ClientSession(self, conn))

    def register(self, session: ClientSession) -> bool:
        """Claim a client id; False when another connection holds it (error 326)."""
        if session.client_id in self.sessions:
            return False
        self.sessions[session.client_id] = session
        return True

    def unregister(self, session: ClientSession) -> None:
        """Release the client id ``session`` holds (its socket has closed)."""
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]

    def track(self, task: asyncio.Task) -> None:
        """Keep a background task (a control command) alive until it ends."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def drop_all(self) -> None:
        """Close every client connection at once (socket drop)."""
        for s in list(self.sessions.values()):
            s.close()
        self.sessions.clear()

    def next_order_id(self) -> int:
        """The next order id to hand out (above every id ever used)."""
        return max(self.broker.used_ids.values(), default=0) + 1

    def _persist(self) -> None:
        if self.store is not None:
            self.store.save(self.broker, self.clock.now())
