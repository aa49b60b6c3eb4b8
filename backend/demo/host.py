"""One embedded demo gateway per data directory, shared by every LiveDesk process.

The first process that needs the demo account (the console, ``livedesk run``, ``livedesk
backtest``) *serves* it: it takes an exclusive ``flock`` on ``<state>.lock``, starts the
:class:`~livedesk.backend.sim.gateway.SimGateway` on the persistent state file
(:func:`~livedesk.backend.demo.account.demo_state_path`) on a free loopback port, and
records ``{"pid": ..., "port": ...}`` in ``<state>.port``. Any other process finds the lock
taken and connects to that port. When the owner closes, the gateway saves its state (with
the clock) and the lock is released; a waiting client then takes over and serves the same
state on the same port, so its broker session simply reconnects. A port file left by a
process that died is ignored: the lock, which the kernel releases with the process, is what
counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path

from livedesk.backend.demo.account import demo_state_path
from livedesk.backend.demo.journal import fresh_journal
from livedesk.backend.files import private_dir

log = logging.getLogger("livedesk.demo")

HOST = "127.0.0.1"
WATCH_INTERVAL = 0.25
"""Real seconds between two looks at the lock while another process serves the gateway."""


def lock_path(settings) -> Path:
    """The lock held by the process serving the demo gateway."""
    state = demo_state_path(settings)
    return state.with_name(state.name + ".lock")


def port_path(settings) -> Path:
    """The small file naming the serving process and its loopback port."""
    state = demo_state_path(settings)
    return state.with_name(state.name + ".port")


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def port_free(port: int) -> bool:
    """Whether the loopback ``port`` can be bound now (0: any port, always True)."""
    if not port:
        return True
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def read_port_file(path: Path) -> dict | None:
    """``{"pid", "port"}`` from a port file, or None (missing, unreadable, malformed)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid, port = data.get("pid"), data.get("port")
    if not (isinstance(pid, int) and isinstance(port, int) and 0 < port < 65536):
        return None
    return data


class DemoLock:
    """The exclusive, non-blocking ``flock`` on the demo's lock file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; True when held now."""
        if self._fd is not None:
            return True
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock back."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def served_by(settings) -> int | None:
    """The pid of the process serving the demo gateway now (0 when unknown), or None."""
    lock = DemoLock(lock_path(settings))
    if not lock.path.exists():
        return None
    if lock.acquire():
        lock.release()
        return None
    info = read_port_file(port_path(settings))
    return info["pid"] if info and pid_alive(info["pid"]) else 0


class DemoHost:
    """This process's handle on the shared demo gateway: it serves it or connects to it.

    ``speed`` (``--speed``) is applied to the gateway whoever serves it; None keeps the
    serving gateway's speed (``[sim] speed`` when this process starts it).
    ``start_after_open``: on a brand-new account, the clock starts that many seconds after
    the latest session's open. ``on_takeover(gateway)`` is called when this process starts
    serving after the previous owner left.
    """

    def __init__(
        self,
        settings,
        *,
        speed: float | None = None,
        start_after_open: float = 0.0,
        on_takeover: Callable[[object], None] | None = None,
        tick_interval: float = 0.1,
    ) -> None:
        self.settings = settings
        self.speed_request = speed
        self.start_after_open = start_after_open
        self.on_takeover = on_takeover
        self.tick_interval = tick_interval
        self.state_path = demo_state_path(settings)
        self.port_path = port_path(settings)
        self.lock = DemoLock(lock_path(settings))
        self.gateway = None
        self.port = 0
        self.owner_pid = 0
        self.last_speed: float | None = None
        """The speed last read or set (a takeover keeps it)."""
        self._watch: asyncio.Task | None = None
        self._closing = False

    @property
    def serving(self) -> bool:
        """True when this process serves the demo gateway."""
        return self.gateway is not None

    # ---- open / close -----------------------------------------------------------------
    async def open(self, timeout: float = 15.0) -> DemoHost:
        """Serve the demo gateway, or find the process serving it (ConnectionError after
        ``timeout`` seconds when the lock is held but no live process names its port)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            if self.lock.acquire():
                await self._serve()
                return self
            info = read_port_file(self.port_path)
            if info is not None and pid_alive(info["pid"]):
                self.port, self.owner_pid = info["port"], info["pid"]
                if self.speed_request is not None:
                    await self.set_speed(self.speed_request)
                self._watch = asyncio.ensure_future(self._watch_owner())
                return self
            if loop.time() > end:
                raise ConnectionError(
                    f"the demo gateway is locked ({self.lock.path}) but no running process "
                    f"names its port in {self.port_path}"
                )
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Stop serving (the state and its clock are saved) or stop watching the owner."""
        self._closing = True
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None
        gw, self.gateway = self.gateway, None
        if gw is not None:
            try:
                await gw.stop()
            finally:
                info = read_port_file(self.port_path)
                if info is not None and info["pid"] == os.getpid():
                    with contextlib.suppress(OSError):
                        self.port_path.unlink()
                self.lock.release()

    async def __aenter__(self) -> DemoHost:
        return await self.open()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # ---- serving --------------------------------------------------------------------------
    async def _serve(self, port: int = 0) -> None:
        """Start the gateway on the saved state (the lock is held)."""
        try:
            fresh = not self.state_path.exists()
            market = await asyncio.to_thread(self._market)
            gw = self._gateway(port if port_free(port) else 0, market)
            await gw.start()
            if fresh:
                await asyncio.to_thread(fresh_journal, self.settings)
        except BaseException:
            self.lock.release()
            raise
        self.gateway, self.port, self.owner_pid = gw, gw.port, os.getpid()
        tmp = self.port_path.with_name(self.port_path.name + ".tmp")
        tmp.write_text(json.dumps({"pid": os.getpid(), "port": gw.port}))
        os.replace(tmp, self.port_path)
        log.info("serving the demo gateway on %s:%d (%s)", HOST, gw.port, self.state_path)

    def _market(self) -> dict:
        """The market the saved clock resumes in (or the latest session's, for a new account).

        Built off the event loop (it takes a moment); the gateway itself is made on the loop's
        thread, since its state store's SQLite connection belongs to the thread that opened it.
        """
        from livedesk.backend.sim.broker.state import StateStore
        from livedesk.backend.sim.market.calendar import resume_point
        from livedesk.backend.sim.market.model import MarketModel

        seed = self.settings.sim.seed
        saved = StateStore.saved_clock(self.state_path)
        if saved is None:  # a new account: the latest session
            market = MarketModel(seed=seed)
            return {"market": market, "start_time": market.session_open() + self.start_after_open}
        return {"market": MarketModel(seed=seed, session=resume_point(saved)[0])}

    def _gateway(self, port: int, market: dict):
        from livedesk.backend.sim.gateway import SimGateway

        sim = self.settings.sim
        speed = next(s for s in (self.last_speed, self.speed_request, sim.speed) if s is not None)
        return SimGateway(
            HOST,
            port,
            seed=sim.seed,
            account=sim.account,
            speed=speed,
            state_file=self.state_path,
            tick_interval=self.tick_interval,
            **market,
        )

    async def _watch_owner(self) -> None:
        """Take over when the owner leaves: serve the saved state on the same port."""
        while not self._closing:
            await asyncio.sleep(WATCH_INTERVAL)
            if self.lock.acquire():
                log.info("the demo gateway's owner (pid %d) left: serving it here", self.owner_pid)
                await self._serve(self.port)
                if self.on_takeover is not None:
                    self.on_takeover(self.gateway)
                return

    # ---- speed ------------------------------------------------------------------------------
    async def speed(self) -> float:
        """The demo gateway's speed now (simulated seconds per real second, 0 = paused)."""
        if self.gateway is not None:
            self.last_speed = self.gateway.clock.speed
            return self.last_speed
        from livedesk.backend.sim.control.client import send_control

        ok, text = await send_control(HOST, self.port, "status", [])
        if not ok:
            raise ConnectionError(text)
        self.last_speed = _speed_of(text)
        return self.last_speed

    async def set_speed(self, speed: float) -> float:
        """Run the demo gateway's clock at ``speed`` from now on; returns the speed set."""
        if self.gateway is not None:
            self.gateway.faults.set_speed(speed)
            self.last_speed = self.gateway.clock.speed
            return self.last_speed
        from livedesk.backend.sim.control.client import send_control

        ok, text = await send_control(HOST, self.port, "speed", [repr(float(speed))])
        if not ok:
            raise ValueError(text)
        self.last_speed = _speed_of(text)
        return self.last_speed


def _speed_of(status: str) -> float:
    """The ``speed=X`` of a control status line."""
    for word in status.split():
        if word.startswith("speed="):
            return float(word[len("speed=") :])
    raise ValueError(f"no speed in the gateway's answer: {status!r}")
