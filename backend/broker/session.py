"""`BrokerSession`: the one place LiveDesk connects to IB — and stays connected.

One ``ib_async.IB`` object lives as long as the session; everything that holds it (the
``TradingApp``, the risk feed, the strategy controller, the console) keeps working across
reconnects, because the session reconnects that same object in place. What a reconnect
loses, the session restores:

* **Reconnect** after a socket drop or a gateway restart, with exponential backoff and
  jitter (``backoff_initial`` · ``backoff_factor``ⁿ, capped at ``backoff_max``, ± ``jitter``).
* **Heartbeat**: a ``reqCurrentTime`` every ``heartbeat_interval`` seconds; no answer within
  ``heartbeat_timeout`` declares the link dead (so a silent link is detected within
  interval + timeout seconds) and the session reconnects.
* **Client id in use (326)**: the next configured fallback id, with an alert; never id 0.
* **Link states**, published as :class:`ConnectionState` events (journaled as alerts):
  ``CONNECTING`` → ``CONNECTED``; ``DEGRADED`` on 1100 (new orders blocked, working
  orders untouched, one alert however often 1100 repeats); ``RESTORED`` on 1101 (every
  subscription restored, prices stale until their first tick) and 1102 (reconcile), then
  ``CONNECTED`` once reconciled; ``DISCONNECTED`` while the socket is down.
* **Reconciliation** (:mod:`reconcile`) on start and after every reconnect, 1101 and 1102,
  before any new order: fills missed while disconnected are recorded, orders in flight at
  the drop are UNKNOWN until settled (never re-sent), and if reconciliation fails trading
  stays halted with the reason in :attr:`BrokerSession.halt_reason`. It covers the whole
  account (every client id): our orders working under another client id (a crashed
  process's, the id before a 326 fallback) are adopted and polled every
  ``adopted_poll_interval`` seconds until they finish.
* **Data quality** (:mod:`dataquality`): :attr:`data_ok` / :attr:`data_stale_reason`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Callable

from ib_async import IB

from livedesk.backend.broker.clock import GatewayClock
from livedesk.backend.broker.dataquality import BROKEN, DELAYED, RESTORED_FARM, DataQuality
from livedesk.backend.broker.reconcile import (
    FillSink,
    ReconcileFailed,
    Reconciler,
    ReconcileReport,
)
from livedesk.backend.broker.session_config import (
    ClientIdInUse,
    RestoreHook,
    SessionConfig,
    SessionStats,
    fallback_ids,
)
from livedesk.backend.broker.session_orders import SessionOrders
from livedesk.backend.broker.tracking import OrderTracker
from livedesk.backend.events import Alert, ConnectionState, EventBus

__all__ = ["BrokerSession", "ClientIdInUse", "SessionConfig", "SessionStats", "fallback_ids"]

log = logging.getLogger("livedesk.session")

CONNECTING = "CONNECTING"
CONNECTED = "CONNECTED"
DEGRADED = "DEGRADED"
RESTORED = "RESTORED"
DISCONNECTED = "DISCONNECTED"
CLOSED = "CLOSED"
CLIENT_ID_IN_USE = 326
CLOCK_STATE = "broker_clock"
DUPLICATE_ORDER_ID = 103


class BrokerSession(SessionOrders):
    """Owns the ``IB`` connection: reconnects, heartbeats, reconciles, tracks our orders."""

    def __init__(
        self,
        config: SessionConfig,
        *,
        ib: IB | None = None,
        bus: EventBus | None = None,
        journal=None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        self.ib = ib or IB()
        self.bus = bus or EventBus()
        self.gateway_clock = GatewayClock.of(self.ib)
        """The broker's one clock (IB server time); refreshed on connect and by the heartbeat."""
        self.clock: Callable[[], float] = clock or self.gateway_clock.time
        self.journal = journal
        if journal is not None:
            journal.clock = self.clock  # the journal stamps with the broker clock too
        self._clock_saved = -math.inf
        self.gateway_clock.listeners.append(self._save_clock)
        self.rng = random.Random(config.seed)
        self.state = DISCONNECTED
        self.state_detail = ""
        self.client_id: int | None = None
        self.data = DataQuality()
        self.tracker = OrderTracker()
        self.reconciler = Reconciler(
            self.ib,
            self.tracker,
            journal=journal,
            known=self._known_exec,
            account=lambda: self.account,
            timeout=config.reconcile_timeout,
        )
        self.reconciled = False
        self.restores = 0
        """How often subscriptions were restored (reconnects, 1101): feeds that hold their
        own subscription compare it with the count they were made at and subscribe again."""
        self.halt_reason = ""
        self.last_report: ReconcileReport | None = None
        self.stats = SessionStats()
        self.fill_sink: FillSink = self.journal_fill
        """Where every execution goes once (live and missed): the risk feed replaces it."""
        self._restore_hooks: list[RestoreHook] = []
        self._closing = False
        self._connecting = False
        self._reconnect_task: asyncio.Task | None = None
        self._heartbeat_task: asyncio.Task | None = None
        self._clock_task: asyncio.Task | None = None
        self.next_attempt_at: float | None = None
        """Monotonic time of the next reconnect attempt (None when none is scheduled)."""
        self.connect_notices: list[tuple[int, str]] = []
        """IB notices received during the handshakes (e.g. 2104/2106/2158 farms OK)."""
        self._reconcile_task: asyncio.Task | None = None
        self._adopted_task: asyncio.Task | None = None
        self._down_since: float | None = None
        self._seen_execs: set[str] = set()
        self._state_listeners: list[Callable[[str, str], None]] = []
        self.adopted_listeners: list[Callable[[list], None]] = []
        """Called with the Trades of adopted orders after each reconcile and poll: their
        status and fills arrive out of band, after the positions that hold them."""
        self.ib.disconnectedEvent += self._on_disconnected
        self.ib.errorEvent += self._on_error
        self.ib.execDetailsEvent += self._on_exec
        self.ib.orderStatusEvent += self._on_status
        self.ib.pendingTickersEvent += self._on_tickers

    # ---- public state ----------------------------------------------------------------
    @property
    def account(self) -> str:
        """The managed account ("" before the first sync)."""
        if self.config.account:
            return self.config.account
        accounts = self.ib.managedAccounts()
        return accounts[0] if accounts else ""

    @property
    def data_ok(self) -> bool:
        """Market data is live and fresh (farms up, every line ticked, none delayed)."""
        self._forget_dead_lines()
        return self.data.ok and self.state in (CONNECTED, RESTORED)

    def _forget_dead_lines(self) -> None:
        """A line awaiting its first tick that no longer has a subscription (cancelled since,
        e.g. by a snapshot of the same contract) will never tick: it must not pause every
        decision for ever (found by the soak)."""
        if not self.data.awaiting or not self.ib.isConnected():
            return
        live = {t.contract.conId for t in self.ib.wrapper.reqId2Ticker.values() if t.contract}
        for con_id in [c for c in self.data.awaiting if c not in live]:
            self.data.forget(con_id)

    @property
    def data_stale_reason(self) -> str:
        """Why strategy decisions must pause ("" when :attr:`data_ok`)."""
        if self.state not in (CONNECTED, RESTORED):
            return f"link {self.state}" + (f": {self.state_detail}" if self.state_detail else "")
        self._forget_dead_lines()
        return self.data.reason

    def order_block(self) -> list[str]:
        """Reasons no new order may be sent now (empty when trading may proceed)."""
        if self.state == DEGRADED:
            return ["connectivity lost (1100): new orders blocked until IB restores the link"]
        if self.state != CONNECTED:
            return [f"broker link {self.state}: new orders wait for reconnection"]
        if self.halt_reason:
            return [f"trading halted until reconciliation succeeds: {self.halt_reason}"]
        if not self.reconciled:
            return ["reconciliation with the gateway has not completed yet"]
        unknown = self.tracker.unknown()
        if unknown:
            keys = ", ".join(t.order_ref for t in unknown)
            return [f"orders in flight at the drop not settled yet: {keys}"]
        return []

    @property
    def ready(self) -> bool:
        """Connected, reconciled, nothing unknown: strategies may decide and trade."""
        return not self.order_block()

    def on_state(self, fn: Callable[[str, str], None]) -> Callable[[], None]:
        """Call ``fn(state, detail)`` on every state change; returns an unsubscribe function."""
        self._state_listeners.append(fn)
        return lambda: self._state_listeners.remove(fn) if fn in self._state_listeners else None

    def attach_journal(self, journal) -> None:
        """Use ``journal`` from now on (orders written ahead, fills, reconciliation)."""
        self.journal = journal
        self.reconciler.journal = journal
        if journal is not None:
            journal.clock = self.clock

    def add_restore_hook(self, hook: RestoreHook) -> None:
        """Run ``hook`` after every reconnect and on 1101, before reconciliation (resubscribe)."""
        self._restore_hooks.append(hook)

    # ---- lifecycle ---------------------------------------------------------------------
    async def start(self) -> BrokerSession:
        """Connect (trying the fallback ids on 326) and reconcile; raises ConnectionError.

        A failed reconciliation does not raise: the session stays connected with trading
        halted and :attr:`halt_reason` set.
        """
        self._closing = False
        await self._connect()
        await self.sync_clock()
        if self.journal is None:  # nothing to compare with: what the gateway has is known
            self._seen_execs.update(f.execution.execId for f in self.ib.fills())
        await self.reconcile()
        self._start_heartbeat()
        return self

    async def close(self) -> None:
        """Disconnect for good (no reconnect)."""
        self._closing = True
        for task in self._tasks():
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._disconnect_ib()
        self._set_state(CLOSED, "closed by the user")

    def disconnect(self) -> None:
        """Synchronous :meth:`close` for callers without a loop at hand."""
        self._closing = True
        for task in self._tasks():
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self._disconnect_ib()
        self._set_state(CLOSED, "closed by the user")

    def _tasks(self) -> tuple[asyncio.Task | None, ...]:
        return (
            self._reconnect_task,
            self._heartbeat_task,
            self._reconcile_task,
            self._adopted_task,
            self._clock_task,
        )

    def _disconnect_ib(self) -> None:
        try:
            self.ib.disconnect()
        except OSError:  # the socket is already gone
            self.ib.wrapper.reset()

    async def wait_ready(self, timeout: float) -> bool:
        """Wait until :attr:`ready` (connected and reconciled); False on timeout."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not self.ready:
            if loop.time() > end:
                return False
            await asyncio.sleep(0.01)
        return True

    async def _connect(self) -> None:
        cfg = self.config
        ids = [cfg.client_id, *[c for c in cfg.fallback_client_ids if c != cfg.client_id]]
        self._set_state(CONNECTING, f"{cfg.host}:{cfg.port}")
        last: Exception | None = None
        for i, cid in enumerate(ids):
            codes: list[int] = []

            def collect(req_id, code, msg, contract, codes=codes) -> None:
                codes.append(code)
                self.connect_notices.append((code, msg))

            self.ib.errorEvent += collect
            self._connecting = True
            try:
                await self.ib.connectAsync(
                    cfg.host,
                    cfg.port,
                    clientId=cid,
                    timeout=cfg.timeout,
                    readonly=cfg.readonly,
                    account=cfg.account,
                    raiseSyncErrors=True,
                )
                self.client_id = cid
                return
            except (ConnectionError, OSError, TimeoutError) as exc:
                last = exc
                if CLIENT_ID_IN_USE not in codes:
                    raise ConnectionError(
                        f"cannot connect to the IB API at {cfg.host}:{cfg.port} "
                        f"(client id {cid}): {exc or type(exc).__name__}"
                    ) from exc
                nxt = f"; trying fallback client id {ids[i + 1]}" if i + 1 < len(ids) else ""
                self._alert("error", f"client id {cid} is already in use (326){nxt}", 326)
            finally:
                self._connecting = False
                self.ib.errorEvent -= collect
        raise ClientIdInUse(
            f"every configured client id is in use at {cfg.host}:{cfg.port} (326): "
            f"{', '.join(map(str, ids))}; configure broker.fallback_client_id"
        ) from last

    # ---- reconnect -------------------------------------------------------------------
    def _on_disconnected(self) -> None:
        if self._connecting or self._closing:
            return
        self.stats.drops += 1
        self.reconciled = False
        self._down_since = time.monotonic()
        unknown = self.tracker.mark_unknown()
        self._mark_journal_unknown(unknown)
        detail = "socket closed"
        if unknown:
            detail += f"; {len(unknown)} order(s) in flight now UNKNOWN"
        self._set_state(DISCONNECTED, detail)
        self._alert("warning", f"broker link lost ({detail}); reconnecting")
        hb = self._heartbeat_task
        if hb is not None and hb is not asyncio.current_task():
            hb.cancel()
        if self._reconnect_task is None or self._reconnect_task.done():
            self._reconnect_task = asyncio.get_event_loop().create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        attempt = 0
        while not self._closing:
            delay = self.config.backoff(attempt, self.rng)
            self.next_attempt_at = time.monotonic() + delay  # "reconnecting in N s"
            await asyncio.sleep(delay)
            self.next_attempt_at = None
            attempt += 1
            try:
                await self._connect()
            except ClientIdInUse as exc:
                self._set_state(DISCONNECTED, str(exc))
                continue
            except ConnectionError as exc:
                self._set_state(DISCONNECTED, f"reconnect attempt {attempt} failed: {exc}")
                continue
            except Exception as exc:  # never end the only reconnect loop on a surprise
                log.exception("reconnect attempt %d failed", attempt)
                self._set_state(DISCONNECTED, f"reconnect attempt {attempt} failed: {exc}")
                continue
            self.stats.reconnects += 1
            self.gateway_clock.reset()  # the gateway may have restarted on another clock
            try:
                await self.sync_clock()
                await self._restore()
                await self.reconcile()
            except (ConnectionError, OSError) as exc:  # the link went again meanwhile
                log.warning("link lost while restoring after a reconnect: %s", exc)
            except Exception as exc:  # never end the only reconnect loop on a surprise:
                log.exception("restoring the session after a reconnect failed")  # halted
                self.halt_reason = self.halt_reason or f"unexpected {type(exc).__name__}: {exc}"
            if not self.ib.isConnected():
                # dropped again before the session was restored: this loop is still the
                # one reconnecting (the drop found it running and started no other)
                self._set_state(DISCONNECTED, "link lost again while restoring; reconnecting")
                continue
            if self._down_since is not None:
                self.stats.reconnect_seconds.append(time.monotonic() - self._down_since)
                self._down_since = None
            if not self.reconciled and not self.halt_reason:  # cut short without a verdict
                await self.reconcile()
            self._start_heartbeat()
            return

    async def _restore(self) -> None:
        self.restores += 1
        for hook in list(self._restore_hooks):
            try:
                result = hook()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("restore hook %r failed", hook)

    async def sync_clock(self) -> None:
        """Read IB's server time now (the broker clock's offset); a failure is logged only.

        Then, in the background, a few more readings a second apart until the gateway's rate
        is known (a simulated gateway may run at ``--speed 60``); the heartbeat keeps it fresh.
        """
        if await self._read_clock() and self.gateway_clock.rate is None:
            task = self._clock_task
            if task is None or task.done():
                self._clock_task = asyncio.get_event_loop().create_task(self._calibrate_clock())

    async def _read_clock(self) -> bool:
        try:
            await asyncio.wait_for(self.gateway_clock.refresh(), self.config.timeout)
        except (TimeoutError, ConnectionError, OSError, asyncio.CancelledError) as exc:
            if asyncio.current_task() is not None and asyncio.current_task().cancelling():
                raise
            log.warning("cannot read the gateway's clock: %s", exc or type(exc).__name__)
            return False
        return True

    async def _calibrate_clock(self, tries: int = 10) -> None:
        for _ in range(tries):
            await asyncio.sleep(1.0)
            if self._closing or not self.ib.isConnected() or self.gateway_clock.rate is not None:
                return
            await self._read_clock()

    def _save_clock(self, every: float = 30.0) -> None:
        """Journal the broker clock's reading (``livedesk strategies`` follows it offline)."""
        if self.journal is None or time.monotonic() - self._clock_saved < every:
            return
        self._clock_saved = time.monotonic()
        try:
            self.journal.save_state(CLOCK_STATE, self.gateway_clock.reading())
        except Exception:  # a journal failure must not break the heartbeat
            log.exception("cannot journal the broker clock")

    # ---- heartbeat -------------------------------------------------------------------
    def _start_heartbeat(self) -> None:
        if self._heartbeat_task is None or self._heartbeat_task.done():
            self._heartbeat_task = asyncio.get_event_loop().create_task(self._heartbeat())

    async def _heartbeat(self) -> None:
        cfg = self.config
        while self.ib.isConnected() and not self._closing:
            await asyncio.sleep(cfg.heartbeat_interval)
            if not self.ib.isConnected():
                return
            try:
                # the heartbeat is a clock reading: it keeps the broker clock's offset fresh
                await asyncio.wait_for(self.gateway_clock.refresh(), cfg.heartbeat_timeout)
            except TimeoutError:
                self.gateway_clock.reset()  # its request is lost with the link
                self.stats.heartbeat_failures += 1
                self._alert(
                    "error",
                    f"no heartbeat answer in {cfg.heartbeat_timeout:g} s: link declared dead",
                )
                self._disconnect_ib()  # → _on_disconnected → reconnect loop
                return
            except ConnectionError:
                return

    # ---- reconciliation --------------------------------------------------------------
    async def reconcile(self) -> ReconcileReport | None:
        """Reconcile now; on failure trading stays halted with the reason (returns None)."""
        self.reconciled = False
        self.stats.reconciliations += 1
        try:
            self._load_journal_orders()
            report = await self.reconciler.run(self.fill_sink, self.client_id)
            self.stats.missed_fills += len(report.missed_fills)
            self._seen_execs.update(f.execution.execId for f in self.ib.fills())
            for t in report.settled:
                self._journal_status(t)
        except ReconcileFailed as exc:
            return self._reconcile_failed(str(exc))
        except (ConnectionError, OSError):
            raise  # the link went meanwhile: the reconnect loop tries again
        except Exception as exc:  # a bug, or the journal's disk: halted with the reason, and
            log.exception("reconciliation raised")  # the reconnect loop and heartbeat go on
            return self._reconcile_failed(f"unexpected {type(exc).__name__}: {exc}")
        if report.adopted:
            owners = sorted({t.client_id for t in report.adopted})
            self._alert(
                "warning",
                f"adopted {len(report.adopted)} working order(s) of ours placed under client "
                f"id {', '.join(map(str, owners))} (this session is client id {self.client_id}): "
                + ", ".join(t.order_ref for t in report.adopted),
            )
            self._start_adopted_poll()
            self._notify_adopted(report.adopted)
        self.last_report = report
        self.halt_reason = ""
        self.reconciled = True
        self.data.link_restored()
        if self.ib.isConnected():
            self._set_state(CONNECTED, f"reconciled: {report.summary()}")
        return report

    def _reconcile_failed(self, reason: str) -> None:
        self.stats.reconcile_failures += 1
        self.halt_reason = reason
        if self.ib.isConnected():
            self._set_state(CONNECTED, f"HALTED: {reason}")
        self._alert("error", f"reconciliation failed, trading halted: {reason}")  # may raise

    def _start_adopted_poll(self) -> None:
        if self._adopted_task is None or self._adopted_task.done():
            self._adopted_task = asyncio.get_event_loop().create_task(self._poll_adopted())

    async def _poll_adopted(self) -> None:
        """Follow adopted orders until none is working (their updates go to their owner)."""
        while not self._closing and self.tracker.adopted(self.client_id):
            await asyncio.sleep(self.config.adopted_poll_interval)
            if not self.ib.isConnected() or not self.reconciled:
                continue
            adopted = self.tracker.adopted(self.client_id)
            try:
                finished = await self.reconciler.refresh_adopted(self.client_id, self.fill_sink)
            except ReconcileFailed as exc:
                log.warning("adopted orders not refreshed: %s", exc)
                continue
            self._seen_execs.update(f.execution.execId for f in self.ib.fills())
            for t in finished:
                self._journal_status(t)
            self._notify_adopted(adopted)

    def _notify_adopted(self, adopted: list) -> None:
        trades = [t.trade for t in adopted if t.trade is not None]
        for fn in list(self.adopted_listeners):
            try:
                fn(trades)
            except Exception:
                log.exception("adopted-orders listener %r failed", fn)

    async def accept_positions(self) -> ReconcileReport | None:
        """The trader accepts the gateway's positions as they are; reconcile again."""
        positions = await self.reconciler.fetch("positions", self.ib.reqPositionsAsync())
        account = self.account
        self.reconciler.rebaseline(
            {
                p.contract.conId: float(p.position)
                for p in positions
                if not account or p.account == account
            }
        )
        self._alert("warning", "positions accepted as reported by the gateway (new baseline)")
        return await self.reconcile()

    def _schedule_reconcile(self, restore: bool) -> None:
        async def run() -> None:
            if restore:
                await self._restore()
            await self.reconcile()

        if self._reconcile_task is not None and not self._reconcile_task.done():
            self._reconcile_task.cancel()
        self.reconciled = False
        self._reconcile_task = asyncio.get_event_loop().create_task(run())

    # ---- errors and notices ------------------------------------------------------------
    def _on_error(self, req_id: int, code: int, message: str, contract) -> None:
        if code == 1100:
            if self.state != DEGRADED:
                self._set_state(DEGRADED, message)
                self._alert("error", f"{message} (1100): new orders blocked", code)
        elif code in (1101, 1102):
            lost = code == 1101
            self.data.link_restored()
            self._set_state(RESTORED, "data lost: resubscribing" if lost else "data maintained")
            self._alert("info", f"{message} ({code}); reconciling", code)
            self._schedule_reconcile(restore=lost)
        elif code in BROKEN or code in RESTORED_FARM:
            if self.data.on_code(code, message):
                level = "warning" if code in BROKEN else "info"
                self._alert(level, f"{message} ({code})", code)
                self._publish_state()
        elif code in DELAYED:
            if contract is not None and contract.conId:
                self.data.on_delayed(contract.conId, contract.symbol)
            else:
                self.data.on_delayed(req_id, f"request {req_id}")
            self._alert("warning", f"delayed / no live data: {message} ({code})", code)
        elif code == DUPLICATE_ORDER_ID:
            self._alert("error", f"duplicate order id (103): {message}; reconciling", code)
            self.halt_reason = f"duplicate order id (103): {message}"
            self._schedule_reconcile(restore=False)

    def _on_tickers(self, tickers) -> None:
        if self.data.awaiting or self.data.delayed:
            for t in tickers:
                self.data.on_ticker(t)

    # ---- events ------------------------------------------------------------------------
    def _set_state(self, state: str, detail: str = "") -> None:
        if state == self.state and detail == self.state_detail:
            return
        self.state, self.state_detail = state, detail
        log.info("broker link %s: %s", state, detail)
        self._publish_state()
        for fn in list(self._state_listeners):
            try:
                fn(state, detail)
            except Exception:
                log.exception("state listener %r failed", fn)

    def _publish_state(self) -> None:
        detail = self.state_detail
        if not self.data.ok:
            detail = (
                f"{detail}; data: {self.data.reason}" if detail else f"data: {self.data.reason}"
            )
        self.bus.publish(ConnectionState(self.clock(), self.state, detail))
        if self.journal is not None:
            self.journal.record_alert("info", f"{self.state}: {detail}", source="connection")

    def _alert(self, level: str, message: str, code: int = 0) -> None:
        log.log(logging.ERROR if level == "error" else logging.WARNING, "%s", message)
        self.bus.publish(Alert(self.clock(), level, "broker", message, code))
        if self.journal is not None:
            self.journal.record_alert(level, message, code=code or None, source="broker")
