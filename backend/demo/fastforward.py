"""Fast-forward: run strategies over whole simulated sessions at top speed.

The gateway's clock is frozen (speed 0) and moved by hand from one scheduled decision to the
next: each move is a jump with a single pulse just before the decision's bar ends and one just
after (so the bar is final), then every due strategy decides through its controller
(``run_now``: the same code path as a live run, journaled), and working orders are stepped a
second at a time until they are done. Between two decisions nothing is simulated second by
second, which is what makes a session take seconds. The pulses a second after each open and
a second before each close push account values and PnL, so the risk feed samples each
session's close (other pulses push them at the gateway's own pace, once a wall second).

:func:`step_sessions` drives a gateway the caller owns (the headless ``livedesk demo
--fast-forward`` and the console's action share it); :func:`store_references` then stores
each strategy's backtest over the same sessions as its reference.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field

log = logging.getLogger("livedesk.demo")

BUILTINS = ("monthly-factor", "options-combo", "crack-spread")
"""The strategies a fast-forward runs unless told otherwise."""
BAR_SETTLE = 7.0
"""Seconds before a decision time at which the clock first stops (the bar's last pulse)."""
AFTER_BAR = 5.0
"""Seconds after the bar's end at which the decision is taken (the bar is then final)."""
SETTLE_SECONDS = 120
"""At most this many one-second steps for the orders of one decision to finish."""

ACK_PATIENCE = 10.0
"""Wall seconds an order sent on the frozen clock may take to be acknowledged."""
UNACKNOWLEDGED = ("PendingSubmit", "ApiPending")
"""ib_async statuses of an order the gateway has not answered yet."""

Report = Callable[[int, int, str], None]


@dataclass
class FastForwardResult:
    """What a fast-forward did."""

    sessions: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    orders: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    first_session: dt.date | None = None
    last_session: dt.date | None = None

    def summary(self) -> str:
        """One line: sessions, span, decisions and orders per strategy."""
        span = (
            f" ({self.first_session:%Y-%m-%d} .. {self.last_session:%Y-%m-%d})"
            if self.first_session
            else ""
        )
        per = ", ".join(
            f"{n}: {self.decisions.get(n, 0)} decisions, {self.orders.get(n, 0)} orders"
            for n in sorted(self.decisions)
        )
        return f"{self.sessions} sessions{span}; {per}"


def session_index(t: float) -> int:
    """Index (XNYS) of the session in progress at ``t`` or, if none, the next one."""
    from livedesk.backend.strategies.schedules import sessions

    return sessions("XNYS").index_at_or_after(t)


def session_date(i: int) -> dt.date:
    """The date of XNYS session ``i``."""
    from livedesk.backend.strategies.schedules import sessions

    return sessions("XNYS").dates[i]


def session_span(i: int) -> tuple[float, float]:
    """Open and close (epoch seconds) of XNYS session ``i``."""
    from livedesk.backend.strategies.schedules import sessions

    s = sessions("XNYS")
    return float(s.opens[i]), float(s.closes[i])


def checkpoint(t: float) -> float:
    """The next instant after ``t`` at which the clock stops even without a decision: a
    second after each session's open (orders sent after the close fill then) and a second
    before its close (its closing NetLiquidation is sampled)."""
    open_, close = session_span(session_index(t))
    for at in (open_ + 1.0, close - 1.0):
        if at > t:
            return at
    return checkpoint(close)


async def _yield(times: int = 3) -> None:
    """Let the loopback messages of a pulse reach the client (same event loop)."""
    for _ in range(times):
        await asyncio.sleep(0)


async def jump(gw, to: float, push_account: bool = False) -> None:
    """Move the frozen clock to ``to`` with a single pulse there (closes and opens in
    between are still run in turn by the gateway's session cycle); ``push_account``: that
    pulse pushes account values and PnL whenever the last push was."""
    if push_account:
        interval, gw.account_interval = gw.account_interval, 0.0
        try:
            await jump(gw, to)
        finally:
            gw.account_interval = interval
        return
    now = gw.now()
    if to - 1 > now:
        gw.clock.advance(to - 1 - now)
    rest = to - gw.now()
    if rest > 0:
        gw.advance(rest)
    else:
        gw.pulse()
    await _yield()


async def acknowledged(trades, patience: float = ACK_PATIENCE) -> bool:
    """Wait (wall time, the clock frozen) until the gateway has acknowledged every order
    of ``trades``: a frame the client wrote is served in turn after the frames before it,
    so on a frozen clock an order would otherwise reach the gateway while the clock is
    stepped on, seconds of simulated time after its decision. False when ``patience``
    wall seconds were not enough."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while any(t.orderStatus.status in UNACKNOWLEDGED for t in trades):
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0)
    return True


async def settle(gw, app, order_ids: set[int], limit: int = SETTLE_SECONDS) -> set[int]:
    """Step a second at a time (market open) until the orders ``order_ids`` are done; the
    ones still working after ``limit`` seconds (a resting limit order) are returned.
    The clock does not move before the gateway has acknowledged them."""
    trades = [t for t in app.ib.trades() if t.order.orderId in order_ids]
    if not await acknowledged(trades):
        log.warning("fast-forward: orders %s not acknowledged in %.0f s", order_ids, ACK_PATIENCE)
    for _ in range(limit):
        if all(t.isDone() for t in trades):
            break
        gw.advance(1)
        await _yield()
    return {t.order.orderId for t in trades if not t.isDone()}


def is_open(t: float) -> bool:
    """Whether XNYS regular hours hold ``t``."""
    open_, close = session_span(session_index(t))
    return open_ <= t < close


async def decide(ctl, name: str, patience: float = 20.0):
    """``run_now`` of ``name``; a link marked down under load is waited for (the clock is
    frozen, so the decision is the same a moment later)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        try:
            return await ctl.run_now(name)
        except RuntimeError as exc:
            if "broker link" not in str(exc) or loop.time() > deadline:
                raise
            await asyncio.sleep(0.05)


async def step_sessions(
    gw,
    ctl,
    names: list[str],
    sessions: int,
    report: Report | None = None,
    stop: asyncio.Event | None = None,
) -> FastForwardResult:
    """Run ``names`` (strategies of ``ctl``) over the next ``sessions`` XNYS sessions of the
    frozen gateway ``gw``, from its clock on; the clock ends at the next session's open.

    A strategy whose decision raises is left out of the rest of the run (its error kept in
    the result); the others go on.
    """
    if sessions < 1:
        raise ValueError("sessions must be >= 1")
    if gw.clock.speed != 0:
        raise ValueError("fast-forward needs the gateway's clock frozen (speed 0)")
    result = FastForwardResult(decisions=dict.fromkeys(names, 0), orders=dict.fromkeys(names, 0))
    first = session_index(gw.now())
    last = first + sessions - 1
    result.first_session, result.last_session = session_date(first), session_date(last)
    journal = getattr(ctl, "journal", None)
    with ctl.one_run(names), journal.relaxed() if journal is not None else nullcontext():
        await _step_all(gw, ctl, names, sessions, result, report, stop)
    result.sessions = min(sessions, max(0, session_index(gw.now()) - first))
    if report is not None:
        report(result.sessions, sessions, "done")
    return result


async def _step_all(
    gw,
    ctl,
    names: list[str],
    sessions: int,
    result: FastForwardResult,
    report: Report | None,
    stop: asyncio.Event | None,
) -> None:
    """The loop of :func:`step_sessions`: decisions, opens and closes in time order."""
    app = ctl.app
    first = session_index(gw.now())
    end_open, _ = session_span(first + sessions)
    live = list(names)
    schedules = {n: ctl.strategy(n).schedule for n in names}
    reported = 0
    due: dict[str, dt.datetime | None] = {}
    pending: set[int] = set()  # orders sent and not done yet
    while live and not (stop is not None and stop.is_set()):
        now = gw.now()
        passed = session_index(now) - first  # sessions whose close the clock has passed
        if passed > reported and report is not None:
            reported = passed
            report(min(passed, sessions), sessions, f"session {session_date(first + passed - 1)}")
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        for n in live:  # a due time stays put until its strategy ran (polls slide otherwise)
            if n not in due:
                due[n] = schedules[n].next_run(at)
        nxt = min((d.timestamp() for n, d in due.items() if d is not None), default=end_open)
        stop_at = checkpoint(now)
        if stop_at < min(nxt, end_open):  # an open or a close before the next decision
            await jump(gw, stop_at, push_account=True)
            if pending and is_open(gw.now()):
                pending = await settle(gw, app, pending)
            continue
        if nxt >= end_open:
            break
        if nxt - BAR_SETTLE > gw.now():
            await jump(gw, nxt - BAR_SETTLE)
        await jump(gw, nxt + AFTER_BAR)
        for name in [n for n, d in due.items() if d is not None and d.timestamp() == nxt]:
            del due[name]
            try:
                decision = await decide(ctl, name)
            except Exception as exc:  # one failing strategy does not stop the others
                log.warning("fast-forward: %s failed: %s", name, exc)
                result.errors[name] = str(exc) or type(exc).__name__
                live.remove(name)
                continue
            result.decisions[name] += 1
            result.orders[name] += sum(1 for o in decision.orders if o.get("sent"))
            pending |= {o["order_id"] for o in decision.orders if o.get("sent")}
        if pending and is_open(gw.now()):
            pending = await settle(gw, app, pending)
    if not (stop is not None and stop.is_set()):
        # the last session's close runs; the clock rests at the next open, where orders
        # sent after that close fill
        await jump(gw, end_open, push_account=True)
        if pending:
            await settle(gw, app, pending)


async def store_references(
    ctl,
    names: list[str],
    days: int | None,
    *,
    journal=None,
    risk=None,
    cost_bps: float = 1.0,
    report: Report | None = None,
    stop: asyncio.Event | None = None,
) -> dict[str, str]:
    """Backtest each strategy of ``names`` over the last ``days`` sessions (None: each
    strategy's own ``backtest_days``) of the gateway's history and store it as its
    reference (``stop`` set: no further one); returns the errors by strategy."""
    from livedesk.backend.strategies.backtest import store_reference
    from livedesk.backend.strategies.context import StrategyContext

    errors: dict[str, str] = {}
    for k, name in enumerate(names):
        if stop is not None and stop.is_set():  # the rest is not wanted any more
            break
        if report is not None:
            report(k, len(names), f"backtest {name}")
        strategy = ctl.strategy(name)
        ctx = StrategyContext(ctl.app, name, dry_run=True, journal=journal, bus=ctl.app.bus)
        await ctx.now()
        try:
            # the clock rests at the open of the session after them: it counts as one day
            span = days + 1 if days else strategy.backtest_days
            result = await strategy.backtest(ctx, span, cost_bps, None)
        except Exception as exc:
            log.warning("backtest reference of %s failed: %s", name, exc)
            errors[name] = str(exc) or type(exc).__name__
            continue
        store_reference(result, journal=journal, risk=risk)
    if report is not None:
        report(len(names), len(names), "references stored")
    return errors
