"""``monthly-factor``: the zipline momentum Pipeline, rebalanced once a month on the whole book.

After the close of the last XNYS session of each month (+ ``offset_minutes``) the
strategy runs the Pipeline of :mod:`livedesk.backend.momentum.pipeline` on a bundle for the
session after that month-end (its row ranks on the month-end close), picks the top-N
longs and bottom-N shorts at ``1/N/2`` each (:func:`livedesk.backend.momentum.factor.pick`)
and moves the account there with **one** ``TradingApp.rebalance`` plan: every delta
planned first, sells before buys, and every held name that is not picked goes to zero —
the strategy owns the account's stock book. ``--dry-run`` previews each planned order.

Nothing is traded when the data cannot support a decision: a missing or stale bundle, too
little history, an empty pipeline or fewer than 2N scores abort the run with the reason
(never an empty target list that would flatten the book). A run date is rebalanced once:
a second run for the same month-end sends nothing.

With the demo bundle (``bundle = "demo"``), a bundle built for another session than the
gateway's is rebuilt first (``refresh_demo``), so the Pipeline sees exactly the prices the
simulated gateway trades. zipline is imported only when the strategy runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pandas as pd

from livedesk.backend.bundles.calendar import xnys_calendar
from livedesk.backend.bundles.paths import DEMO_BUNDLE, BundleError, check_name
from livedesk.backend.contracts import describe, stock
from livedesk.backend.momentum.factor import (
    DEFAULT_N,
    DEFAULT_TOP_K,
    FactorDataError,
    latest_month_end,
    run_date_after,
)
from livedesk.backend.risk.replay_signals import rebalance_replay
from livedesk.backend.strategies.base import Decision, Strategy, require
from livedesk.backend.strategies.context import StrategyContext, order_record
from livedesk.backend.strategies.registry import register
from livedesk.backend.strategies.schedules import Monthly
from livedesk.backend.trading.orders import market

NEW_YORK = ZoneInfo("America/New_York")
STATE_KEY = "last_rebalance"
_engines: dict[tuple[str, str], Any] = {}
_engine_lock = threading.Lock()
_zipline_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livedesk-zipline")
"""zipline's readers hold SQLite connections bound to the thread that opened them: every
pipeline run and demo refresh happens on this one worker thread, off the event loop."""


async def in_zipline_thread(fn, *args):
    """Run ``fn(*args)`` on the zipline worker thread and await the result."""
    return await asyncio.get_running_loop().run_in_executor(_zipline_thread, fn, *args)


@dataclass(frozen=True)
class MonthlyFactorParams:
    """Parameters of ``monthly-factor`` (``[strategies.monthly-factor]``)."""

    bundle: str = DEMO_BUNDLE
    """The zipline bundle the Pipeline reads."""
    top_k: int = DEFAULT_TOP_K
    """Universe: the assets with the highest 30-session average dollar volume."""
    n: int = DEFAULT_N
    """Names held long and short."""
    offset_minutes: float = 30.0
    """Minutes after the month's last close at which the month-end run happens."""
    refresh_demo: bool = True
    """Rebuild the demo bundle from the gateway's history before each run."""

    def __post_init__(self) -> None:
        try:
            check_name(self.bundle)
        except BundleError as exc:
            require(False, "bundle", str(exc))
        require(1 <= self.n <= 250, "n", f"must be 1..250, got {self.n}")
        require(
            2 * self.n <= self.top_k <= 100_000,
            "top_k",
            f"must be at least 2n ({2 * self.n}) and at most 100000, got {self.top_k}",
        )
        require(
            0 <= self.offset_minutes <= 960,
            "offset_minutes",
            f"must be 0..960 minutes, got {self.offset_minutes}",
        )


def factor_engine(bundle: str):
    """The (cached) FactorEngine of the newest ingestion of ``bundle`` (imports zipline)."""
    from livedesk.backend.bundles.store import bundle_info
    from livedesk.backend.momentum.pipeline import FactorEngine

    key = (bundle, bundle_info(bundle).latest)
    with _engine_lock:
        engine = _engines.get(key)
        if engine is None:
            for old in [k for k in _engines if k[0] == bundle]:
                del _engines[old]
            engine = _engines[key] = FactorEngine(bundle)
    return engine


def gateway_session(now: dt.datetime) -> dt.date:
    """The XNYS session the simulated gateway trades at ``now`` (latest on or before today)."""
    day = pd.Timestamp(now.astimezone(dt.UTC)).tz_convert("America/New_York").date()
    return xnys_calendar().date_to_session(pd.Timestamp(day), direction="previous").date()


def refresh_demo_bundle(bundle: str, session: dt.date, after_close: bool = False) -> str | None:
    """Rebuild the demo bundle to match the gateway's market; returns a note when rebuilt.

    The demo history is regenerated for each session, so a bundle built for another
    session is rebuilt (with the seed it was built with). ``after_close``: the gateway's
    clock is past ``session``'s close, so its bar is final and must be in the bundle (the
    scheduled run after the month-end close ranks on it).
    """
    from livedesk.backend.bundles.ingest import ingest_demo
    from livedesk.backend.bundles.store import bundle_info

    try:
        meta = bundle_info(bundle).meta
    except BundleError:
        return None
    extra = meta.get("extra") or {}
    if meta.get("kind") != "demo":
        return None
    same_session = extra.get("session") == f"{session:%Y-%m-%d}"
    if same_session and (extra.get("current_included") or not after_close):
        return None
    seed = int(extra.get("seed", 7))
    ingest_demo(seed, session, name=bundle, include_current=after_close)
    with_today = " with its closed bar" if after_close else ""
    return f"demo bundle rebuilt for session {session:%Y-%m-%d}{with_today} (seed {seed})"


def book_signs(app) -> dict[int, float]:
    """Sign of each conId's position plus working orders in the account (0 when flat)."""
    qty: dict[int, float] = {cid: p.position for cid, p in app.positions.items()}
    for t in app.ib.openTrades():
        if t.isDone() or not t.contract.conId:
            continue
        side = 1.0 if t.order.action == "BUY" else -1.0
        qty[t.contract.conId] = qty.get(t.contract.conId, 0.0) + side * t.remaining()
    return {cid: math.copysign(1.0, q) if q else 0.0 for cid, q in qty.items()}


def owned_con_ids(ctx: StrategyContext, state: dict | None) -> set[int]:
    """The contracts this strategy may flatten or cancel on: its last picks on this account
    and whatever its own journalled fills still hold. Other strategies' positions on the same
    account are never in it."""
    owned: set[int] = set()
    if state and state.get("account") == ctx.app.account:
        owned |= {int(k) for k in state.get("signs", {})}
    if ctx.journal is not None:
        net: dict[int, float] = {}
        for f in ctx.journal.fills(strategy=ctx.name):
            if f["con_id"]:
                sign = 1.0 if f["side"] in ("BOT", "BUY") else -1.0
                net[f["con_id"]] = net.get(f["con_id"], 0.0) + sign * f["qty"]
        owned |= {c for c, q in net.items() if abs(q) > 1e-9}
    return owned


def rebalance_done(
    state: dict | None, run_date: str, account: str, signs: dict[int, float]
) -> bool:
    """Whether ``run_date`` was rebalanced on ``account`` and the book still holds it.

    The journal records the run date, account and each pick's side after a complete
    rebalance; a new run for the same date is skipped only when the account still holds
    (or is working) every pick on its side — a fresh demo gateway, another account or a
    book flattened by hand is rebalanced again.
    """
    if not state or state.get("run_date") != run_date or state.get("account") != account:
        return False
    wanted = state.get("signs") or {}
    return bool(wanted) and all(signs.get(int(c), 0.0) == w for c, w in wanted.items())


def compute_picks(bundle: str, run_date: pd.Timestamp, top_k: int, n: int):
    """Run the Pipeline for ``run_date`` (CPU work: call it in a thread)."""
    return factor_engine(bundle).run(run_date, top_k, n)


@register
class MonthlyFactor(Strategy):
    """Momentum (12-1 minus 1 month, over daily-return vol): top-N long, bottom-N short, monthly."""

    name: ClassVar[str] = "monthly-factor"
    Params: ClassVar[type] = MonthlyFactorParams
    description: ClassVar[str] = (
        "zipline Pipeline momentum factor, top/bottom N of the K most liquid, monthly rebalance"
    )

    backtest_days: ClassVar[int] = 252
    """Default backtest span in sessions (the demo history allows one year of full windows)."""

    def make_schedule(self) -> Monthly:
        return Monthly(offset_minutes=self.params.offset_minutes)

    async def run_once(self, ctx: StrategyContext) -> Decision:
        p = self.params
        now = await ctx.now()
        month_end = latest_month_end(now)
        run_date = run_date_after(month_end)
        day = f"{run_date:%Y-%m-%d}"
        notes: list[str] = []
        done = ctx.load_state(STATE_KEY)
        if not ctx.dry_run and rebalance_done(done, day, ctx.app.account, book_signs(ctx.app)):
            reason = f"already rebalanced for run date {day} (month-end {month_end:%Y-%m-%d})"
            return Decision(now, f"no decision: {reason}", skipped_reason=reason)
        try:
            if p.refresh_demo and p.bundle == DEMO_BUNDLE:
                session = gateway_session(now)
                closed = xnys_calendar().session_close(pd.Timestamp(session)) <= pd.Timestamp(now)
                note = await in_zipline_thread(refresh_demo_bundle, p.bundle, session, closed)
                if note:
                    notes.append(note)
            result = await in_zipline_thread(compute_picks, p.bundle, run_date, p.top_k, p.n)
        except (FactorDataError, BundleError) as exc:
            reason = f"nothing traded: {exc}"
            return Decision(now, reason, skipped_reason=str(exc))
        picks = result.picks
        try:
            contracts = await asyncio.gather(
                *(ctx.resolve(stock(ib_symbol(s)), ("stk", s)) for s in picks.weights)
            )
        except Exception as exc:
            reason = f"cannot resolve every pick, nothing traded: {exc}"
            return Decision(now, reason, skipped_reason=reason)
        targets = dict(zip(contracts, picks.weights.values(), strict=True))
        scope = owned_con_ids(ctx, done) | {c.conId for c in targets}
        rebalance = await ctx.app.rebalance(
            targets, market, dry_run=ctx.dry_run, strategy=ctx.name, scope=scope
        )
        for contract_key, r in zip(
            (leg.key for leg in rebalance.plan.orders), rebalance.results, strict=True
        ):
            if r.order is not None:
                ctx.orders.append(order_record(rebalance.contracts[contract_key], r.order, r))
        sent_all = all(r.sent for r in rebalance.results)
        if not ctx.dry_run and sent_all:
            ctx.save_state(
                STATE_KEY,
                {
                    "run_date": day,
                    "t": now.isoformat(),
                    "account": ctx.app.account,
                    "orders": len(rebalance.results),
                    "signs": {str(c.conId): math.copysign(1.0, w) for c, w in targets.items()},
                },
            )
        mode = "planned (dry run)" if ctx.dry_run else "sent"
        closing = sum(1 for leg in rebalance.plan.orders if leg.weight == 0.0)
        summary = (
            f"run date {day} (month-end {month_end:%Y-%m-%d} close): "
            f"long {', '.join(picks.longs)}; short {', '.join(picks.shorts)}; "
            f"{len(rebalance.plan.orders)} orders {mode}, {closing} closing names no longer picked"
        )
        if notes:
            summary += "; " + "; ".join(notes)
        values = {
            "universe": float(picks.universe),
            "scored": float(picks.scored),
            "pipeline_seconds": round(result.seconds, 3),
            "orders": float(len(rebalance.plan.orders)),
            "notional": float(rebalance.plan.total_notional),
            "est_commission": float(rebalance.plan.estimated_commission),
        }
        values |= {f"score {s}": v for s, v in picks.scores.items()}
        return Decision(
            now,
            summary,
            values,
            {describe(c): w for c, w in targets.items()},
            data_time=xnys_calendar().session_close(month_end).tz_convert(NEW_YORK).to_pydatetime(),
            replay=rebalance_replay(
                rebalance.plan,
                {
                    "scores": {str(k): float(v) for k, v in picks.scores.items()},
                    "weights": {str(c.conId): float(w) for c, w in targets.items()},
                },
            ),
        )

    # ---- backtest (``livedesk backtest monthly-factor [--start --end --bundle]``) -----------
    async def backtest(self, ctx: StrategyContext, days: int, cost_bps: float, progress=None):
        """zipline ``run_algorithm`` on the bundle (:mod:`livedesk.backend.momentum.backtest`).

        ``ctx.state["backtest_options"]`` may hold ``start`` / ``end`` (YYYY-MM-DD) and
        ``bundle``; without ``start`` the span is the last ``days`` sessions (at most from the
        first date with a full factor window). ``cost_bps`` is the slippage per fill;
        commission is IB's per-share schedule. Raises FactorDataError/BundleError/ValueError
        with the reason when the span or the bundle do not allow it.
        """
        from livedesk.backend.momentum.backtest import as_reference, run_backtest

        options = ctx.state.get("backtest_options") or {}
        bundle = options.get("bundle") or self.params.bundle
        start = _date_arg(options.get("start"), "--start")
        end = _date_arg(options.get("end"), "--end")
        if progress is not None:
            progress(0, 1, f"zipline run_algorithm on bundle {bundle!r}")
        result = await in_zipline_thread(
            lambda: run_backtest(
                bundle,
                start,
                end,
                top_k=self.params.top_k,
                n=self.params.n,
                days=days,
                slippage_bps=cost_bps,
            )
        )
        if progress is not None:
            progress(1, 1, f"{len(result.rebalances)} rebalances in {result.seconds:.1f} s")
        return as_reference(result, self.name, self.param_values(), cost_bps)


def _date_arg(text: str | None, flag: str) -> pd.Timestamp | None:
    if not text:
        return None
    try:
        return pd.Timestamp(dt.date.fromisoformat(str(text)))
    except ValueError as exc:
        raise ValueError(f"{flag} {text!r} is not a date (YYYY-MM-DD)") from exc


def ib_symbol(symbol: str) -> str:
    """A bundle symbol as IB spells it (share classes with a space: ``BRK.B`` → ``BRK B``)."""
    return symbol.replace(".", " ").replace("-", " ").replace("/", " ")
