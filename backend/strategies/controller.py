"""`StrategyController`: each enabled strategy as its own asyncio task, on the gateway clock.

States: ``stopped`` (not running), ``waiting`` (task alive, sleeping until the next run),
``running`` (inside ``run_once``), ``error`` (``run_once`` raised: caught, journaled, an
``Alert`` published; the other strategies and the host go on), ``halted`` (kill switch).
Every state change is a :class:`~livedesk.backend.events.StrategyState` on the bus.

Each start opens a journal *run* (its parameters) and every decision is a row of it
(``kind`` ``decision``, ``skip`` or ``error``) holding the signal values, the last bar's
time, the targets and the orders, so a live trade can be explained afterwards.

``stop(name)`` ends new decisions and cancels the strategy's working orders (``orderRef``
== name); positions stay unless ``flatten=True``. A :class:`Monthly` run missed while the
process was down is reported (an ``Alert``) and made once at start while still valid.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import math
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from livedesk.backend.config import ConfigError
from livedesk.backend.errors import AccountValueUnavailable, PriceUnavailable
from livedesk.backend.events import Alert, EventBus, StrategyState
from livedesk.backend.strategies.base import BENIGN_SKIPS, Decision, Strategy, StrategyStatus
from livedesk.backend.strategies.clock import NEW_YORK, GatewayClock
from livedesk.backend.strategies.context import StrategyContext
from livedesk.backend.strategies.registry import (
    available_strategies,
    create_strategy,
    is_enabled,
    load_plugins_for,
    reload_plugin,
    strategy_settings,
)
from livedesk.backend.strategies.schedules import Event, Monthly
from livedesk.backend.trading.guard import TradingState

if TYPE_CHECKING:
    from livedesk.backend.journal import Journal
    from livedesk.backend.risk.engine import RiskEngine
    from livedesk.backend.trading.app import TradingApp

log = logging.getLogger("livedesk.strategies")


@dataclass(frozen=True)
class StrategyInfo:
    """One row of the Strategies pane / ``livedesk strategies``."""

    name: str
    schedule: str
    enabled: bool
    status: StrategyStatus
    next_run: dt.datetime | None
    last_run: dt.datetime | None
    last_decision: str
    last_error: str | None
    position: float
    pnl: float | None
    params: Mapping[str, object]
    last_values: Mapping[str, float] = field(default_factory=dict)
    """The numbers behind the last decision (signal values, forecast vs implied...)."""
    last_orders: tuple[dict, ...] = ()
    """The orders planned or sent by the last decision."""


@dataclass
class _Slot:
    strategy: Strategy
    enabled: bool
    ctx: StrategyContext
    status: StrategyStatus = StrategyStatus.STOPPED
    task: asyncio.Task | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    run_id: int | None = None
    next_run: dt.datetime | None = None
    last_run: dt.datetime | None = None
    last_decision: Decision | None = None
    attempted: dt.datetime | None = None
    """When a decision last ran to its end (made or skipped; not one the link cut)."""
    last_error: str | None = None
    undecided: int = 0
    """Consecutive intervals without a decision (skips other than BENIGN_SKIPS), the link up."""
    stalled: str = ""
    """The could-not-decide alert while it stands ("" once a decision is made)."""
    decisions: collections.deque = field(default_factory=lambda: collections.deque(maxlen=200))


class StrategyLocked(RuntimeError):
    """A strategy was not started: this session cannot send orders (the reason says why)."""


class StrategyController:
    """Starts, stops and supervises strategies; the console and the headless runner drive it."""

    def __init__(
        self,
        app: TradingApp,
        *,
        bus: EventBus,
        journal: Journal | None = None,
        risk: RiskEngine | None = None,
        strategies: list[Strategy] | None = None,
        settings: Any = None,
        dry_run: bool = False,
        clock: GatewayClock | None = None,
    ) -> None:
        self.app = app
        self.bus = bus
        self.journal = journal
        self.risk = risk
        self.settings = settings
        self.dry_run = dry_run
        own = getattr(app, "clock", None)
        self.clock = clock or (own if isinstance(own, GatewayClock) else GatewayClock.of(app.ib))
        if app.today == dt.date.today or (
            own is not None and app.today == own.today
        ):  # trade on the gateway's date (front months, expiries)
            app.today = self.clock.today
        self.pause_poll = 0.25
        """Seconds between two checks of a paused strategy (link, reconciliation, data)."""
        self.max_undecided = 5
        """Intervals in a row without a decision (not counting benign skips such as
        "market closed") after which an error alert is raised (:meth:`stalled`)."""
        self.listeners: list[Callable[[str, Decision], object]] = []
        """Called with (name, decision) after each decision is journaled."""
        self.config_errors: dict[str, str] = {}
        """Strategies left out because their ``[strategies.NAME]`` settings are invalid."""
        self.plugin_errors: list = []
        """Strategy plugins that failed to load or validate (``file:line: message``)."""
        if strategies is None:
            strategies = []
            if settings is not None:
                self.plugin_errors = load_plugins_for(settings)
            for name in available_strategies():
                try:
                    strategies.append(create_strategy(name, strategy_settings(settings, name)))
                except ConfigError as exc:
                    self.config_errors[name] = str(exc)
                    log.error("strategy %s not loaded: %s", name, exc)
        self._slots: dict[str, _Slot] = {}
        for s in strategies:
            if s.name in self._slots:
                raise ValueError(f"strategy {s.name!r} given twice")
            enabled = True if settings is None else is_enabled(settings, s.name)
            ctx = StrategyContext(
                app, s.name, dry_run=dry_run, journal=journal, bus=bus, clock=self.clock
            )
            self._slots[s.name] = _Slot(s, enabled, ctx)
            self._restore_last(self._slots[s.name])

    # ---- queries -------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Strategy names in registration order."""
        return list(self._slots)

    def strategy(self, name: str) -> Strategy:
        """The strategy object called ``name``."""
        return self._slot(name).strategy

    def context(self, name: str) -> StrategyContext:
        """The context ``name`` runs with."""
        return self._slot(name).ctx

    def _slot(self, name: str) -> _Slot:
        slot = self._slots.get(name)
        if slot is None:
            raise KeyError(f"unknown strategy {name!r}; known: {', '.join(self._slots)}")
        return slot

    def infos(self) -> list[StrategyInfo]:
        """One :class:`StrategyInfo` per strategy."""
        return [self.info(n) for n in self._slots]

    def info(self, name: str) -> StrategyInfo:
        """The current state of ``name``."""
        slot = self._slot(name)
        d = slot.last_decision
        position, pnl = self._book(name)
        return StrategyInfo(
            name=name,
            schedule=slot.strategy.schedule.describe(),
            enabled=slot.enabled,
            status=slot.status,
            next_run=slot.next_run,
            last_run=slot.last_run,
            last_decision=_decision_text(d),
            last_error=slot.last_error,
            position=position,
            pnl=pnl,
            params=slot.strategy.param_values(),
            last_values=dict(d.values) if d is not None else {},
            last_orders=tuple(d.orders) if d is not None else (),
        )

    def _book(self, name: str) -> tuple[float, float | None]:
        """Net position and PnL of ``name`` from the risk engine's per-strategy book."""
        if self.risk is None:
            return 0.0, None
        position = 0.0
        for f in self.risk.fills(name):
            position += f.qty if f.side.upper() in ("BOT", "BUY") else -f.qty
        pnl = None
        if name in self.risk.keys():
            try:
                value = self.risk.snapshot(name).get("total_pnl")
                pnl = float(value) if value is not None and math.isfinite(value) else None
            except KeyError:
                pnl = None
        return position, pnl

    def recent_decisions(self, name: str, limit: int = 20) -> list[dict]:
        """The latest decisions of ``name`` (newest last) as journal-style dicts."""
        slot = self._slot(name)
        return list(slot.decisions)[-limit:]

    def _restore_last(self, slot: _Slot) -> None:
        """Last run / decision from the journal (so a restart shows them and finds missed runs)."""
        if self.journal is None:
            return
        for run in reversed(self.journal.runs(slot.strategy.name)[-5:]):
            rows = self.journal.decisions(run["id"])
            for row in rows[-50:]:
                slot.decisions.append(row)
            taken = [r for r in rows if r["kind"] == "decision"]
            if taken:
                slot.last_run = dt.datetime.fromtimestamp(taken[-1]["t"], NEW_YORK)
                detail = taken[-1]["detail"] or {}
                slot.last_decision = Decision(
                    slot.last_run, str(detail.get("summary", "")), skipped_reason=None
                )
                break

    # ---- state -----------------------------------------------------------------------
    def _set(self, slot: _Slot, status: StrategyStatus, detail: str = "") -> None:
        slot.status = status
        self.bus.publish(StrategyState(self.clock.time(), slot.strategy.name, str(status), detail))

    def _alert(self, level: str, name: str, message: str) -> None:
        self.bus.publish(Alert(self.clock.time(), level, f"strategy:{name}", message))

    # ---- control -----------------------------------------------------------------------
    async def start(self, name: str) -> None:
        """Start ``name``'s task (no-op when it already runs)."""
        slot = self._slot(name)
        if slot.task is not None and not slot.task.done():
            return
        if self.app.trading_state == TradingState.HALTED:
            raise RuntimeError(
                f"cannot start {name}: trading is halted ({self.app.guard.state_reason})"
            )
        self._check_unlocked(name)
        slot.stop = asyncio.Event()
        slot.last_error = None
        self._open_run(slot)
        self._set(slot, StrategyStatus.WAITING, "started")
        slot.task = asyncio.create_task(self._loop(slot), name=f"strategy:{name}")

    async def reload(self, name: str) -> None:
        """Load a stopped plugin strategy's code again (the ``reload`` action).

        ConfigError, with nothing changed, when ``name`` runs, is not a plugin file, or its new
        code fails to load or validate (the message says ``file:line: what``)."""
        slot = self._slot(name)
        if slot.task is not None and not slot.task.done():
            raise ConfigError(f"stop {name} before reloading its code")
        errors = reload_plugin(name)
        if errors:
            raise ConfigError("; ".join(str(e) for e in errors))
        overrides = {} if self.settings is None else strategy_settings(self.settings, name)
        slot.strategy = create_strategy(name, overrides)
        slot.ctx.state.clear()
        slot.run_id = None
        slot.next_run = None
        self._set(slot, slot.status, "code reloaded")

    def _check_unlocked(self, name: str, verb: str = "start") -> None:
        """Locked means locked: read-only, or a live account without ``--live`` or before
        its typed confirmation, refuses a strategy at once (not its orders one by one)."""
        if self.dry_run:
            return
        guard = getattr(self.app, "account_guard", None)
        refusals = guard.check() if guard is not None else []
        if refusals:
            raise StrategyLocked(f"cannot {verb} {name}: orders are locked — {refusals[0]}")

    async def start_enabled(self) -> list[str]:
        """Start every enabled strategy; returns their names."""
        started = []
        for name, slot in self._slots.items():
            if slot.enabled:
                try:
                    await self.start(name)
                except StrategyLocked as exc:
                    self._alert("error", name, str(exc))
                    continue
                started.append(name)
        return started

    def _open_run(self, slot: _Slot) -> None:
        if self.journal is not None and slot.run_id is None:
            params = dict(slot.strategy.param_values())
            params["dry_run"] = self.dry_run
            slot.run_id = self.journal.start_run(slot.strategy.name, _jsonable(params))

    @contextmanager
    def one_run(self, names: Iterable[str]) -> Iterator[None]:
        """Journal the :meth:`run_now` decisions of ``names`` inside the block as one run
        each (a fast-forward's thousands of decisions are one run, not one per decision)."""
        opened = []
        for name in names:
            slot = self._slot(name)
            if slot.run_id is None:
                self._open_run(slot)
                opened.append(slot)
        try:
            yield
        finally:
            for slot in opened:
                if slot.task is None or slot.task.done():
                    self._close_run(slot, str(slot.status))

    def _close_run(self, slot: _Slot, status: str) -> None:
        if self.journal is not None and slot.run_id is not None:
            self.journal.end_run(slot.run_id, status)
            slot.run_id = None

    async def stop(self, name: str, *, flatten: bool = False) -> None:
        """No new decisions; cancel the strategy's working orders; flatten when asked."""
        slot = self._slot(name)
        await self._end_task(slot)
        await slot.ctx.cancel_working()
        if flatten:
            slot.ctx.orders = []
            await slot.strategy.flatten(slot.ctx)
        try:
            await slot.strategy.on_stop(slot.ctx)
        except Exception:
            log.exception("on_stop of %s failed", name)
        if slot.status != StrategyStatus.ERROR:
            self._set(slot, StrategyStatus.STOPPED, "flattened" if flatten else "stopped")
        self._close_run(slot, str(slot.status))
        slot.next_run = None

    async def _end_task(self, slot: _Slot) -> None:
        slot.stop.set()
        task, slot.task = slot.task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def run_now(self, name: str) -> Decision:
        """Run one iteration of ``name`` now (also when stopped); returns its decision."""
        slot = self._slot(name)
        if self.app.trading_state == TradingState.HALTED:
            raise RuntimeError(f"cannot run {name}: trading is halted")
        if reason := self.paused_reason():
            raise RuntimeError(f"cannot run {name} now: {reason}")
        self._check_unlocked(name, "run")
        opened = slot.run_id is None
        self._open_run(slot)
        try:
            return await self._iterate(slot, raise_errors=True)
        finally:
            if opened and (slot.task is None or slot.task.done()):
                self._close_run(slot, str(slot.status))

    async def halt_all(self, reason: str = "kill switch") -> int:
        """Kill switch: halt the guard, cancel every working order, halt every strategy."""
        for slot in self._slots.values():
            slot.stop.set()
        cancelled = await self.app.kill_switch(reason)
        for slot in self._slots.values():
            await self._end_task(slot)
            self._set(slot, StrategyStatus.HALTED, reason)
            self._close_run(slot, "halted")
            slot.next_run = None
        self._alert("error", "all", f"all strategies halted: {reason} ({cancelled} cancelled)")
        return cancelled

    async def close(self) -> None:
        """Stop every task (positions and orders untouched) and close the runs."""
        for slot in self._slots.values():
            await self._end_task(slot)
            if slot.status not in (StrategyStatus.ERROR, StrategyStatus.HALTED):
                self._set(slot, StrategyStatus.STOPPED, "closed")
            self._close_run(slot, str(slot.status))
            try:
                await slot.strategy.on_stop(slot.ctx)
            except Exception:
                log.exception("on_stop of %s failed", slot.strategy.name)

    # ---- the broker link ----------------------------------------------------------------
    def paused_reason(self) -> str:
        """Why strategies may not decide now ("" when they may).

        Decisions wait while the broker session is not connected and reconciled (after a
        reconnect they resume only once reconciliation succeeded), while trading is
        halted by a failed reconciliation, and while market data is stale or delayed.
        """
        session = getattr(self.app, "session", None)
        if session is None:
            return ""
        block = session.order_block()
        if block:
            return block[0]
        if not session.data_ok:
            return f"market data not usable: {session.data_stale_reason}"
        return ""

    def _link_lost(self, exc: BaseException) -> bool:
        """A decision failed because the broker link went away or went silent (a request —
        the gateway clock, bars, a quote — timed out), not because of a strategy bug: the
        decision is skipped with the reason and the strategy goes on at its next run."""
        session = getattr(self.app, "session", None)
        return session is not None and (
            isinstance(exc, ConnectionError | TimeoutError) or not session.ready
        )

    async def _wait_until_clear(self, slot: _Slot, force: bool = False) -> bool:
        """Pause ``slot`` until :meth:`paused_reason` clears; False when it is stopped."""
        reason = self.paused_reason()
        if not reason and force and getattr(self.app, "session", None) is not None:
            reason = "broker link lost"
            await asyncio.sleep(self.pause_poll)  # the session has not noticed the drop yet
            reason = self.paused_reason()
        if not reason:
            return True
        self._set(slot, StrategyStatus.WAITING, f"paused: {reason}")
        if self.journal is not None and slot.run_id is not None:
            self.journal.record_decision(slot.run_id, "skip", {"paused": reason})
        while reason:
            try:
                await asyncio.wait_for(slot.stop.wait(), self.pause_poll)
                return False
            except TimeoutError:
                pass
            reason = self.paused_reason()
        self._set(slot, StrategyStatus.WAITING, "resumed: broker reconciled, data OK")
        return True

    # ---- the loop ------------------------------------------------------------------------
    async def _loop(self, slot: _Slot) -> None:
        strategy = slot.strategy
        try:
            await strategy.on_start(slot.ctx)
            await self._catch_up(slot)
            while not slot.stop.is_set() and slot.status != StrategyStatus.ERROR:
                try:
                    now = await self.clock.refresh()
                except (ConnectionError, TimeoutError):  # the link dropped: wait for the session
                    if not self._link_lost(ConnectionError()):
                        raise
                    if not await self._wait_until_clear(slot, force=True):
                        return
                    await self._catch_up(slot, "the broker link was down")
                    continue
                slot.next_run = strategy.schedule.next_run(now)
                if slot.next_run is None:
                    self._set(slot, StrategyStatus.STOPPED, "schedule has no further runs")
                    return
                if slot.status != StrategyStatus.WAITING:
                    self._set(slot, StrategyStatus.WAITING, f"next run {slot.next_run:%F %T %Z}")
                try:
                    if not await self.clock.sleep_until(slot.next_run, slot.stop):
                        return
                except (ConnectionError, TimeoutError):
                    if not self._link_lost(ConnectionError()):
                        raise
                    if not await self._wait_until_clear(slot, force=True):
                        return
                    await self._catch_up(slot, "the broker link was down")
                    continue
                if self.app.trading_state == TradingState.HALTED:  # kill switch pressed elsewhere
                    self._set(slot, StrategyStatus.HALTED, self.app.guard.state_reason)
                    self._close_run(slot, "halted")
                    slot.next_run = None
                    return
                if not await self._wait_until_clear(slot):
                    return
                schedule = strategy.schedule
                if isinstance(schedule, Event) and schedule.trigger is not None:
                    if not await schedule.trigger(slot.ctx):
                        continue
                await self._iterate(slot)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # on_start or the clock failed
            self._fail(slot, exc)

    async def _catch_up(self, slot: _Slot, why: str = "") -> None:
        """Make a monthly run that is due, still valid, and not made: at start (``why`` is
        empty: the process was down over it) and after the link comes back (the due time
        passed while the loop waited out the drop; the schedule alone would skip a month).
        A link lost again here is left to the loop, which calls this again."""
        schedule = slot.strategy.schedule
        if not isinstance(schedule, Monthly):
            return
        try:
            now = await self.clock.refresh()
        except (ConnectionError, TimeoutError):
            if not why:
                raise
            return
        due = schedule.missed(slot.last_run, now)
        if due is None or (why and slot.attempted is not None and slot.attempted >= due):
            return  # (after a drop: a run that was made and skipped is not made again)
        self._alert(
            "warning",
            slot.strategy.name,
            f"missed the {due:%F %H:%M %Z} run ({why or 'process was down'}); running it now",
        )
        if await self._wait_until_clear(slot):
            await self._iterate(slot)

    async def _iterate(self, slot: _Slot, raise_errors: bool = False) -> Decision:
        async with slot.lock:
            name = slot.strategy.name
            previous = slot.status
            self._set(slot, StrategyStatus.RUNNING)
            slot.ctx.orders = []
            slot.ctx.recorded = {}
            try:
                decision = await slot.strategy.run_once(slot.ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not raise_errors and self._link_lost(exc):
                    what = (
                        "a request timed out"
                        if isinstance(exc, TimeoutError)
                        else "broker link lost"
                    )
                    reason = f"{what} during the decision: {exc}".rstrip(": ")
                    decision = Decision(self.clock.datetime(), "paused", skipped_reason=reason)
                    self._record(slot, decision, link_down=True)
                    self._set(slot, StrategyStatus.WAITING, reason)
                    return decision
                if isinstance(exc, PriceUnavailable | AccountValueUnavailable):
                    return self._no_data(slot, exc)
                self._fail(slot, exc)
                if raise_errors:
                    raise
                return Decision(await self.clock.now(), f"error: {exc}", skipped_reason=str(exc))
            if slot.ctx.orders and not decision.orders:
                decision = _with_orders(decision, slot.ctx.orders)
            if slot.ctx.recorded:
                decision = _with_values(decision, slot.ctx.recorded)
            self._record(slot, decision)
            running = slot.task is not None and not slot.task.done()
            after = StrategyStatus.WAITING if running else StrategyStatus.STOPPED
            if previous == StrategyStatus.ERROR and not running:
                after = StrategyStatus.STOPPED
            self._set(slot, after, decision.summary)
            log.info("%s: %s", name, decision.summary)
            return decision

    def _no_data(self, slot: _Slot, exc: Exception) -> Decision:
        """A decision that found no usable price or NetLiquidation (a quote not in yet, a
        data farm down) is skipped with the reason, not a strategy failure: the strategy
        decides again at its next run, and the could-not-decide alert counts it."""
        reason = f"no usable market data: {exc}"
        decision = Decision(self.clock.datetime(), f"no decision: {reason}", skipped_reason=reason)
        if slot.ctx.orders:  # orders already sent by this decision stay on its record
            decision = _with_orders(decision, slot.ctx.orders)
        log.warning("strategy %s: %s", slot.strategy.name, reason)
        self._record(slot, decision)
        running = slot.task is not None and not slot.task.done()
        self._set(slot, StrategyStatus.WAITING if running else StrategyStatus.STOPPED, reason)
        return decision

    def _record(self, slot: _Slot, decision: Decision, link_down: bool = False) -> None:
        kind = "skip" if decision.skipped else "decision"
        detail = decision.record()
        row = {"t": decision.t.timestamp(), "kind": kind, "detail": detail}
        if self.journal is not None and slot.run_id is not None:
            row["id"] = self.journal.record_decision(
                slot.run_id, kind, detail, t=decision.t.timestamp()
            )
        slot.decisions.append(row)
        slot.last_decision = decision
        if not decision.skipped:
            slot.last_run = decision.t
        if not link_down:
            slot.attempted = decision.t
        self._count_undecided(slot, decision, link_down)
        for fn in list(self.listeners):
            try:
                fn(slot.strategy.name, decision)
            except Exception:
                log.exception("decision listener %r failed", fn)

    def stalled(self, name: str) -> str:
        """Why ``name`` could not decide for :attr:`max_undecided` intervals ("" when not)."""
        return self._slot(name).stalled

    def _count_undecided(self, slot: _Slot, decision: Decision, link_down: bool = False) -> None:
        """Count a skip toward the could-not-decide alert. Time with the link down does not
        count: a decision cut by the link, or skipped while decisions are paused (not
        connected, not reconciled), neither counts nor resets; counting resumes after the
        reconnect."""
        if not decision.skipped:
            if slot.stalled:
                self._alert("info", slot.strategy.name, f"{slot.strategy.name} decides again")
            slot.undecided, slot.stalled = 0, ""
            return
        if any(decision.skipped_reason.startswith(b) for b in BENIGN_SKIPS):
            return
        if link_down or self.paused_reason():
            return
        slot.undecided += 1
        if slot.undecided == self.max_undecided:
            name = slot.strategy.name
            slot.stalled = (
                f"could not decide for {slot.undecided} intervals: {decision.skipped_reason}"
            )
            log.error("strategy %s %s", name, slot.stalled)
            if self.journal is not None:
                self.journal.record_alert("error", slot.stalled, source=f"strategy:{name}")
            self._alert("error", name, f"{name} {slot.stalled}")

    def _fail(self, slot: _Slot, exc: BaseException) -> None:
        name = slot.strategy.name
        text = f"{type(exc).__name__}: {exc}"
        slot.last_error = text
        log.error("strategy %s failed: %s", name, text, exc_info=exc)
        detail = {"error": text, "traceback": "".join(traceback.format_exception(exc))[-4000:]}
        t = self.clock.time()
        if self.journal is not None:
            if slot.run_id is None:
                self._open_run(slot)
            self.journal.record_decision(slot.run_id, "error", detail, t=t)
            self.journal.record_alert("error", text, source=f"strategy:{name}", t=t)
        slot.decisions.append({"t": t, "kind": "error", "detail": detail})
        slot.stop.set()
        self._set(slot, StrategyStatus.ERROR, text)
        self._alert("error", name, f"{name} stopped on an error: {text}")


def _with_orders(decision: Decision, orders: list[dict]) -> Decision:
    return replace(decision, orders=list(orders))


def _with_values(decision: Decision, recorded: dict[str, float]) -> Decision:
    """The decision's values with the context's recorded ones (the decision's own win)."""
    return replace(decision, values={**recorded, **decision.values})


def _decision_text(d: Decision | None) -> str:
    if d is None:
        return ""
    if d.skipped:
        return f"no decision: {d.skipped_reason}"
    return d.summary


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in values.items():
        if isinstance(v, tuple):
            v = list(v)
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out
