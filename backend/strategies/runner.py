"""Headless strategy commands: ``livedesk strategies``, ``livedesk run`` and ``livedesk backtest``.

Backend only (no Textual). Output suits cron: plain text, colour only on a TTY (and never
with ``NO_COLOR``), the one-line summary last. Exit codes:

* 0 — success (a decision was taken, or nothing to do: market closed);
* 1 — the strategy failed: no data, an order refused or rejected, an exception;
* 2 — invalid settings, parameters or strategy name;
* 3 — cannot connect to the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from livedesk.backend.broker.session import fallback_ids
from livedesk.backend.config import ConfigError
from livedesk.backend.strategies.base import BENIGN_SKIPS, Decision, StrategyStatus
from livedesk.backend.strategies.schedules import NEW_YORK

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_CONNECT = 0, 1, 2, 3
__all__ = ["BENIGN_SKIPS", "EXIT_CONFIG", "EXIT_CONNECT", "EXIT_FAILED", "EXIT_OK", "run_strategy"]
DEMO_START_AFTER_OPEN = 1800.0
"""The embedded demo gateway starts this many seconds after its session's open."""


def sim_journal_path(settings=None) -> Path:
    """The journal of runs against the embedded demo gateway: the demo account's."""
    from livedesk.backend.config import Settings
    from livedesk.backend.demo.account import demo_journal_path

    return demo_journal_path(settings or Settings())


class Style:
    """ANSI styling, only on a TTY without NO_COLOR."""

    def __init__(self, stream: TextIO) -> None:
        self.on = stream.isatty() and "NO_COLOR" not in os.environ

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on else text

    def ok(self, text: str) -> str:
        return self(text, "32")

    def bad(self, text: str) -> str:
        return self(text, "31;1")

    def dim(self, text: str) -> str:
        return self(text, "2")


def fmt_time(t: dt.datetime | None) -> str:
    """Exchange (New York) time, minutes."""
    return "-" if t is None else t.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M %Z")


# ---- livedesk strategies --------------------------------------------------------------
def strategy_rows(settings, journal_path: Path | None = None, now: dt.datetime | None = None):
    """Rows (name, schedule, enabled, next run, last run, result) and load problems."""
    from livedesk.backend.strategies.registry import (
        available_strategies,
        create_strategy,
        import_errors,
        is_enabled,
        load_plugins_for,
        plugin_errors,
        strategy_settings,
    )

    load_plugins_for(settings)
    last, clock = _last_results(journal_path)
    now = now or clock or dt.datetime.now(NEW_YORK)
    rows, problems = [], []
    for name in available_strategies():
        try:
            s = create_strategy(name, strategy_settings(settings, name))
            enabled = is_enabled(settings, name)
        except ConfigError as exc:
            problems.append(f"{name}: {exc}")
            rows.append([name, "-", "?", "-", "-", "invalid settings"])
            continue
        when, result = last.get(name, (None, ""))
        rows.append(
            [
                name,
                s.schedule.describe(),
                "yes" if enabled else "no",
                fmt_time(s.schedule.next_run(now)) if enabled else "-",
                fmt_time(when),
                result or "-",
            ]
        )
    problems += [f"{m}: not loaded ({e})" for m, e in import_errors().items()]
    problems += [f"plugin not loaded: {e}" for e in plugin_errors()]
    return rows, problems


def _last_results(
    path: Path | None,
) -> tuple[dict[str, tuple[dt.datetime, str]], dt.datetime | None]:
    """Each strategy's last decision, and the broker clock now as the journal last saw it."""
    import time

    from livedesk.backend.broker.clock import from_reading
    from livedesk.backend.broker.session import CLOCK_STATE
    from livedesk.backend.journal import Journal, default_journal_path

    path = path or default_journal_path()
    if not path.exists():
        return {}, None
    out: dict[str, tuple[dt.datetime, str]] = {}
    with Journal(path) as j:
        clock = from_reading(j.state(CLOCK_STATE), time.time())
        for run in reversed(j.runs()):
            name = run["strategy"]
            if name in out:
                continue
            rows = j.decisions(run["id"])
            if rows:
                row = rows[-1]
                detail = row["detail"] or {}
                text = detail.get("summary") or detail.get("error") or row["kind"]
                out[name] = (dt.datetime.fromtimestamp(row["t"], NEW_YORK), str(text))
    return out, clock


def print_strategies(settings, out: TextIO | None = None, journal_path: Path | None = None) -> int:
    """``livedesk strategies``."""
    out = out or sys.stdout
    rows, problems = strategy_rows(settings, journal_path)
    head = ["NAME", "SCHEDULE", "ENABLED", "NEXT RUN", "LAST RUN", "LAST RESULT"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
    for r in [head, *rows]:
        cells = [c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)]
        print("  ".join([*cells, r[-1]]).rstrip(), file=out)
    for p in problems:
        print(f"warning: {p}", file=out)
    print(f"{len(rows)} strategies, {len(problems)} problems", file=out)
    return EXIT_CONFIG if any("invalid" in r[-1] for r in rows) else EXIT_OK


# ---- connection --------------------------------------------------------------------------
@dataclass
class Session:
    """A connected app (and the embedded demo gateway when one was started)."""

    app: object
    journal: object
    risk: object
    feed: object
    gateway: object | None
    where: str


@contextlib.asynccontextmanager
async def session(
    settings,
    host: str | None,
    port: int | None,
    client_id: int | None,
    journal_path: Path | None = None,
) -> AsyncIterator[Session]:
    """Connect to ``host:port`` — or start the embedded demo gateway when ``port`` is None."""
    from livedesk.backend.events import EventBus
    from livedesk.backend.journal import Journal, account_journal_path, default_journal_path
    from livedesk.backend.risk.engine import RiskEngine
    from livedesk.backend.risk.live import RiskFeed
    from livedesk.backend.trading.app import TradingApp
    from livedesk.backend.trading.guard import GuardLimits

    try:
        limits = GuardLimits.from_mapping(settings.guard)
    except ValueError as exc:
        raise ConfigError(f"[guard] {exc}") from exc
    demo = None
    if port is None:  # the persistent demo account, shared with the console and other runs
        from livedesk.backend.demo.host import DemoHost

        demo = await DemoHost(settings, start_after_open=DEMO_START_AFTER_OPEN).open()
        host, port = "127.0.0.1", demo.port
    host = host or settings.broker.host
    cid = client_id if client_id is not None else settings.broker.client_id
    if journal_path is None:  # one journal per account: demo runs never mix with live ones
        if demo is not None:
            from livedesk.backend.demo.account import demo_journal_path

            journal_path = demo_journal_path(settings)
        elif settings.broker.account:
            journal_path = account_journal_path(settings.broker.account)
        else:  # the account is known only after connecting
            journal_path = default_journal_path()
    try:
        journal = Journal(journal_path)
    except Exception:
        if demo is not None:
            await demo.close()
        raise
    try:
        app = await TradingApp.connect(
            host,
            port,
            cid,
            limits=limits,
            timeout=settings.broker.timeout,
            account=settings.broker.account,
            bus=EventBus(),
            fallback_client_ids=fallback_ids(cid, settings.broker.fallback_client_id),
            journal=journal,
        )
    except ConnectionError:
        journal.close()
        if demo is not None:
            await demo.close()
        raise
    if demo is not None and demo.gateway is not None:  # the same gateway clock, in-process
        app.clock.exact = demo.gateway.now
    risk = RiskEngine(journal)
    feed = RiskFeed(app, risk)
    feed.start()
    where = f"{host}:{port}"
    if demo is not None:
        owner = "" if demo.serving else f" of pid {demo.owner_pid}"
        where += f" (embedded demo gateway{owner})"
    try:
        yield Session(app, journal, risk, feed, demo.gateway if demo else None, where)
    finally:
        feed.stop()
        app.disconnect()
        journal.close()
        if demo is not None:
            await demo.close()


# ---- livedesk run -----------------------------------------------------------------------
def print_decision(d: Decision, name: str, out: TextIO, style: Style, dry_run: bool) -> None:
    """The decision sentence, its numbers and every planned/sent order."""
    print(f"{fmt_time(d.t)} {name}: {d.summary}", file=out)
    if d.values:
        nums = " ".join(f"{k}={v:.6g}" for k, v in d.values.items())
        print(style.dim(f"  values: {nums}"), file=out)
    if d.targets:
        print(
            style.dim("  targets: " + " ".join(f"{k}={v:+.4g}" for k, v in d.targets.items())),
            file=out,
        )
    if d.data_time is not None:
        print(style.dim(f"  data up to: {fmt_time(d.data_time)}"), file=out)
    for o in d.orders:
        verb = "PLAN" if dry_run or not o.get("sent") else "SENT"
        lmt = "" if o.get("limit") is None else f" limit {o['limit']:.2f}"
        print(
            f"  {verb} {o['action']} {o['quantity']:g} {o['contract']} {o['order_type']}{lmt}",
            file=out,
        )


async def _await_acks(app, decision: Decision, timeout: float = 5.0) -> str | None:
    """Wait for sent orders to be accepted; the refusal text of the first rejected one."""
    ids = {o["order_id"] for o in decision.orders if o.get("sent")}
    trades = [t for t in app.ib.trades() if t.order.orderId in ids]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if all(t.orderStatus.status not in ("PendingSubmit", "ApiPending", "") for t in trades):
            break
        await asyncio.sleep(0.02)
    for t in trades:
        if t.orderStatus.status in ("Cancelled", "ApiCancelled", "Inactive"):
            msg = next((e.message for e in reversed(t.log) if e.message), t.orderStatus.status)
            return f"order {t.order.orderId} {t.order.action} {t.contract.symbol} rejected: {msg}"
    return None


async def run_strategy(
    name: str,
    settings,
    *,
    once: bool = False,
    dry_run: bool = False,
    if_due: bool = False,
    host: str | None = None,
    port: int | None = None,
    client_id: int | None = None,
    journal_path: Path | None = None,
    out: TextIO | None = None,
    stop: asyncio.Event | None = None,
    max_undecided: int = 5,
) -> int:
    """``livedesk run NAME``: one strategy without the console. Returns the exit code
    (1 too when the strategy could not decide for ``max_undecided`` intervals in a row)."""
    out = out or sys.stdout
    from livedesk.backend.strategies.controller import StrategyController
    from livedesk.backend.strategies.registry import create_strategy, strategy_settings

    style = Style(out)
    try:
        strategy = create_strategy(name, strategy_settings(settings, name))
    except ConfigError as exc:
        print(f"livedesk run {name}: {style.bad('FAILED')}: {exc}", file=out)
        return EXIT_CONFIG
    try:
        async with session(settings, host, port, client_id, journal_path) as s:
            mode = "dry run, nothing is sent" if dry_run else "live orders"
            print(
                f"livedesk run {name}: connected to {s.where}, account {s.app.account}, {mode}",
                file=out,
            )
            ctl = StrategyController(
                s.app,
                bus=s.app.bus,
                journal=s.journal,
                risk=s.risk,
                strategies=[strategy],
                dry_run=dry_run,
            )
            ctl.max_undecided = max_undecided
            try:
                if once:
                    if if_due:
                        why = await _not_due(ctl, name)
                        if why:
                            print(f"{name} {style.ok('OK')}: nothing due ({why})", file=out)
                            return EXIT_OK
                    return await _run_once(ctl, s, name, out, style, dry_run)
                return await _run_loop(ctl, name, out, style, dry_run, stop)
            finally:
                await ctl.close()
    except ConnectionError as exc:
        print(f"livedesk run {name}: {style.bad('FAILED')}: connection failure: {exc}", file=out)
        return EXIT_CONNECT
    except ConfigError as exc:
        print(f"livedesk run {name}: {style.bad('FAILED')}: {exc}", file=out)
        return EXIT_CONFIG


async def _not_due(ctl, name: str) -> str | None:
    """Why a ``--once --if-due`` run has nothing to do (None when a run is due now)."""
    from livedesk.backend.strategies.schedules import Monthly, is_open

    schedule = ctl.strategy(name).schedule
    now = await ctl.clock.now()
    if isinstance(schedule, Monthly):
        due = schedule.missed(ctl.info(name).last_run, now)
        return None if due else f"next run {fmt_time(schedule.next_run(now))}"
    calendar = getattr(schedule, "calendar", "XNYS")
    return None if is_open(now, calendar) else f"{calendar} closed at {fmt_time(now)}"


async def record_snapshot(ctl, s: Session, name: str) -> None:
    """Journal NetLiquidation and the account's positions (with their marks) at the broker's
    time, so the run's window can be attributed without a streaming sampler (``--once``)."""
    from livedesk.backend.risk.attribution_snapshots import record_run_snapshot

    now = (await ctl.clock.now()).timestamp()
    positions, marks, multipliers = {}, {}, {}
    for item in s.app.ib.portfolio():
        c = item.contract
        positions[c.conId] = float(item.position)
        marks[c.conId] = float(item.marketPrice)
        multipliers[c.conId] = float(c.multiplier or 1) if c.secType != "STK" else 1.0
    for con_id, mark in s.app.marks().items():
        if con_id in positions:
            marks[con_id] = mark
    nlv = s.app.net_liquidation_or_none()  # None before the first report: positions still count
    record_run_snapshot(s.journal, name, now, nlv, positions, marks, multipliers)


async def _run_once(ctl, s: Session, name: str, out: TextIO, style: Style, dry_run: bool) -> int:
    strategy = ctl.strategy(name)
    ctx = ctl.context(name)
    try:
        if not dry_run:
            await record_snapshot(ctl, s, name)
        await strategy.on_start(ctx)
        d = await ctl.run_now(name)
    except Exception as exc:
        print(f"{name} {style.bad('FAILED')}: {_reason(exc)}", file=out)
        return EXIT_FAILED
    print_decision(d, name, out, style, dry_run)
    if d.skipped:
        benign = any(d.skipped_reason.startswith(b) for b in BENIGN_SKIPS)
        if benign:
            print(f"{name} {style.ok('OK')}: nothing to do ({d.skipped_reason})", file=out)
            return EXIT_OK
        print(f"{name} {style.bad('FAILED')}: no decision: {d.skipped_reason}", file=out)
        return EXIT_FAILED
    refused = None if dry_run else await _await_acks(s.app, d)
    if refused:
        print(f"{name} {style.bad('FAILED')}: {refused}", file=out)
        return EXIT_FAILED
    n = len(d.orders)
    what = f"{n} order{'s' * (n != 1)} {'planned, none sent' if dry_run else 'sent'}"
    print(f"{name} {style.ok('OK')}: {d.summary} ({what})", file=out)
    return EXIT_OK


async def _run_loop(ctl, name: str, out: TextIO, style: Style, dry_run: bool, stop) -> int:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    counts = {"decisions": 0, "orders": 0}

    def on_decision(strategy: str, d: Decision) -> None:
        counts["decisions"] += 1
        counts["orders"] += len(d.orders)
        print_decision(d, strategy, out, style, dry_run)
        out.flush()

    ctl.listeners.append(on_decision)
    await ctl.start(name)
    info = ctl.info(name)
    first = ctl.strategy(name).schedule.next_run(await ctl.clock.now())
    print(f"{name}: {info.schedule}; next run {fmt_time(first)}", file=out, flush=True)
    while not stop.is_set():
        status = ctl.info(name).status
        if status in (StrategyStatus.ERROR, StrategyStatus.HALTED, StrategyStatus.STOPPED):
            break
        stalled = ctl.stalled(name)
        if stalled:  # a strategy that cannot decide is a failure, not a quiet "OK"
            tally = f"{counts['decisions']} decisions"
            print(f"{name} {style.bad('FAILED')}: {stalled} ({tally})", file=out, flush=True)
            return EXIT_FAILED
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)
    info = ctl.info(name)
    tally = (
        f"{counts['decisions']} decisions, {counts['orders']} order{'s' * (counts['orders'] != 1)}"
    )
    if info.status == StrategyStatus.ERROR:
        print(f"{name} {style.bad('FAILED')}: {info.last_error} ({tally})", file=out)
        return EXIT_FAILED
    print(f"{name} {style.ok('OK')}: stopped ({tally})", file=out)
    return EXIT_OK


def _reason(exc: BaseException) -> str:
    from livedesk.backend.strategies.bars import NoData

    text = str(exc) or type(exc).__name__
    if isinstance(exc, NoData | LookupError):
        return f"no data: {text}"
    from livedesk.backend.errors import SizingError

    if isinstance(exc, SizingError):
        return f"order refused: {text}"
    return f"{type(exc).__name__}: {text}"


# ---- livedesk backtest ------------------------------------------------------------------
async def run_backtest(
    name: str,
    settings,
    *,
    days: int | None = None,
    cost_bps: float = 1.0,
    host: str | None = None,
    port: int | None = None,
    client_id: int | None = None,
    journal_path: Path | None = None,
    options: dict[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``livedesk backtest NAME``: replay and store the backtest reference.

    ``options`` (``--start``, ``--end``, ``--bundle``) reach the strategy as
    ``ctx.state["backtest_options"]``; strategies that take no span ignore them.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    from livedesk.backend.strategies.backtest import store_reference
    from livedesk.backend.strategies.context import StrategyContext
    from livedesk.backend.strategies.registry import create_strategy, strategy_settings

    style = Style(out)
    try:
        strategy = create_strategy(name, strategy_settings(settings, name))
    except ConfigError as exc:
        print(f"livedesk backtest {name}: {style.bad('FAILED')}: {exc}", file=out)
        return EXIT_CONFIG
    if days is not None and days < 1:
        print(f"livedesk backtest {name}: {style.bad('FAILED')}: --days must be >= 1", file=out)
        return EXIT_CONFIG
    if not cost_bps >= 0:
        print(f"livedesk backtest {name}: {style.bad('FAILED')}: --cost-bps must be >= 0", file=out)
        return EXIT_CONFIG
    days = days or strategy.backtest_days
    tty = err.isatty()

    def progress(done: int, total: int, what: str) -> None:
        text = f"[{done}/{total}] {what}"
        if tty:
            print(f"\r\033[K{text}", end="" if done < total else "\n", file=err, flush=True)
        else:
            print(text, file=err, flush=True)

    try:
        async with session(settings, host, port, client_id, journal_path) as s:
            print(f"livedesk backtest {name}: {days} days from {s.where}", file=out, flush=True)
            ctx = StrategyContext(s.app, name, dry_run=True, journal=s.journal, bus=s.app.bus)
            ctx.state["backtest_options"] = dict(options or {})
            s.app.today = ctx.clock.today
            await ctx.now()
            try:
                result = await strategy.backtest(ctx, days, cost_bps, progress)
            except NotImplementedError as exc:
                print(f"{name} {style.bad('FAILED')}: {exc}", file=out)
                return EXIT_CONFIG
            except Exception as exc:
                print(f"{name} {style.bad('FAILED')}: {_reason(exc)}", file=out)
                return EXIT_FAILED
            store_reference(result, journal=s.journal)
            print(
                f"{style.ok('OK')} {result.summary(settings.risk.min_sessions)}; "
                "stored as the backtest reference",
                file=out,
            )
            return EXIT_OK
    except ConnectionError as exc:
        print(
            f"livedesk backtest {name}: {style.bad('FAILED')}: connection failure: {exc}", file=out
        )
        return EXIT_CONNECT
    except ConfigError as exc:
        print(f"livedesk backtest {name}: {style.bad('FAILED')}: {exc}", file=out)
        return EXIT_CONFIG
