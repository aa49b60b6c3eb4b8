"""One decision of a live algorithm: what is due by the broker's clock, run on its thread.

``step`` runs, in zipline's order: ``before_trading_start`` once per session (from 45
minutes before the open), then ``handle_data`` and every scheduled function whose rule
fired between the open and now and that has not run this session. Progress (the session,
what ran) and the ``context`` attributes are saved in the journal after each decision, so
the next process — a cron ``--once`` tomorrow — continues where this one stopped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from livedesk.backend.algo import state as algo_state
from livedesk.backend.strategies.base import Decision

if TYPE_CHECKING:
    from livedesk.backend.strategies.context import StrategyContext


class AlgoRuntime:
    """An algorithm file bound to one strategy context and its worker thread."""

    def __init__(self, path: Path, bundle: str, frequency: str, refresh_demo: bool) -> None:
        self.path = path
        self.bundle = bundle
        self.frequency = frequency
        self.refresh_demo = refresh_demo
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livedesk-algo")
        self.ctx: StrategyContext | None = None
        self.algo = None
        self.data = None
        self.progress: dict[str, Any] = {}
        self.dropped: list[str] = []
        self._saved: tuple[str, str] | None = None

    # ---- the worker thread -----------------------------------------------------------
    async def on_thread(self, fn, *args):
        """Run ``fn(*args)`` on the worker thread with this algorithm as zipline's instance."""

        def call():
            from zipline.utils.algo_instance import set_algo_instance

            set_algo_instance(self.algo)
            return fn(*args)

        return await asyncio.get_running_loop().run_in_executor(self.pool, call)

    # ---- start -------------------------------------------------------------------------
    async def start(self, ctx: StrategyContext, now: dt.datetime) -> None:
        """Load the file and the bundle, run ``initialize`` and restore the saved context."""
        from livedesk.backend.algo.loader import load_algorithm

        self.ctx = ctx
        note = await self.on_thread(self._refresh, now) if self.refresh_demo else None
        module = load_algorithm(self.path)
        await self.on_thread(self._build, module, asyncio.get_running_loop())
        if note:
            self.algo.notes.append(note)
        await self.on_thread(self._initialize)
        saved = ctx.load_state(algo_state.STATE_KEY) or {}
        self.progress = dict(saved.get("progress") or {})
        attrs = saved.get("context") or {}
        if attrs:
            await self.on_thread(self._restore, attrs)

    def _refresh(self, now: dt.datetime) -> str | None:
        from livedesk.backend.algo.bundle import refresh_demo
        from livedesk.backend.algo.scheduling import session_clock

        clock = session_clock(now)
        if clock is None:
            return None
        return refresh_demo(self.bundle, clock.session.date(), after_close=clock.after_close)

    def _build(self, module, loop) -> None:
        from livedesk.backend.algo.adapter import LiveAlgorithm
        from livedesk.backend.algo.data import LiveBarData
        from livedesk.backend.algo.feed import AlgoFeed
        from livedesk.backend.bundles.store import bundle_info, load_bundle

        info = bundle_info(self.bundle)
        data = load_bundle(self.bundle)
        demo = info.meta.get("kind") == "demo"
        feed = AlgoFeed(self.ctx, loop, data.asset_finder, demo)
        capital = self.ctx.app.net_liquidation_or_none() or 0.0
        self.algo = LiveAlgorithm(module, feed, self.frequency, capital)
        if getattr(module, "initialize", None) is not None:
            from livedesk.backend.algo.pipeline import LivePipelines

            self.algo.pipeline_engine = _LazyPipelines(self.bundle, data, LivePipelines)
        self.data = LiveBarData(feed, self.frequency)

    def _initialize(self) -> None:
        self.algo.module.initialize(self.algo)
        self.algo.initialized = True

    def _restore(self, attrs: dict[str, Any]) -> None:
        finder = self.algo.feed.finder
        for name, value in attrs.items():
            setattr(self.algo, name, algo_state.decode(value, finder.retrieve_asset))

    # ---- a decision ----------------------------------------------------------------------
    async def step(self, ctx: StrategyContext) -> Decision:
        from livedesk.backend.algo.scheduling import bts_due, due_scheduled, session_clock

        now = await ctx.now()
        clock = session_clock(now)
        if clock is None:
            return Decision(
                now,
                "market closed",
                skipped_reason=f"market closed: no XNYS session on {now:%Y-%m-%d}",
            )
        if self.algo is None or self.ctx is not ctx:
            await self.start(ctx, now)
        feed = self.algo.feed
        feed.ctx = ctx
        feed.now = clock.now
        feed.session = clock.session
        feed.token += 1
        if self.progress.get("session") != clock.label:
            if self.progress.get("session") and self.refresh_demo:  # a new session: new closes
                note = await self.on_thread(self._refresh, now)
                if note and self.algo.pipeline_engine is not None:
                    self.algo.pipeline_engine.reset()
            self.progress = {"session": clock.label, "done": [], "bts": self.progress.get("bts")}
        ran: list[str] = []
        module = self.algo.module
        bts = getattr(module, "before_trading_start", None)
        if bts is not None and bts_due(clock, self.progress.get("bts")):
            await self.on_thread(self._bts, bts)
            self.progress["bts"] = clock.label
            ran.append("before_trading_start")
        if clock.now < clock.open:
            self.save(ctx)
            return Decision(
                now,
                f"before the open: {', '.join(ran) or 'nothing due'}",
                skipped_reason=None if ran else "market closed: before the open",
            )
        handle = getattr(module, "handle_data", None)
        if handle is not None:
            await self.on_thread(handle, self.algo, self.data)
            ran.append("handle_data")
        since = self.progress.get("scanned")
        due = due_scheduled(
            self.algo.scheduled,
            clock,
            set(self.progress.get("done", [])),
            self.frequency == "daily",
            pd.Timestamp(since) if since else None,
        )
        for item in due:
            await self.on_thread(item.func, self.algo, self.data)
            self.progress.setdefault("done", []).append(item.name)
            ran.append(item.name.split("#")[0])
        self.progress["scanned"] = str(min(clock.now, clock.minutes[-1]))
        self.save(ctx)
        n = len(ctx.orders)
        summary = f"{clock.label}: ran {', '.join(ran)}; {n} order{'s' * (n != 1)}"
        if self.algo.backtest_only:
            summary += (
                f"; {', '.join(self.algo.backtest_only)}: backtest-only "
                "(live costs and benchmark are the broker's)"
            )
        if self.algo.notes:  # once (e.g. the demo bundle rebuilt)
            summary += "; " + "; ".join(self.algo.notes)
            self.algo.notes.clear()
        return Decision(now, summary, values=dict(ctx.recorded), orders=list(ctx.orders))

    def _bts(self, fn) -> None:
        self.algo.in_before_trading_start = True
        try:
            fn(self.algo, self.data)
        finally:
            self.algo.in_before_trading_start = False

    def save(self, ctx: StrategyContext) -> None:
        """Journal the progress and the context attributes when they changed (not in dry runs).

        The minutes already scanned for scheduled functions are not saved: a new process scans
        the session from the open again, and runs every function whose time has passed and
        that has not run (``done``)."""
        kept, self.dropped = algo_state.snapshot(self.algo.user_attributes())
        progress = {k: v for k, v in self.progress.items() if k != "scanned"}
        key = (repr(progress), repr(kept))
        if key == self._saved:
            return
        self._saved = key
        ctx.save_state(
            algo_state.STATE_KEY,
            {"progress": progress, "context": kept, "not_kept": self.dropped},
        )

    def close(self) -> None:
        """Stop the minute feeds and the worker thread."""
        if self.algo is not None:
            self.algo.feed.close()
        self.pool.shutdown(wait=False, cancel_futures=True)


class _LazyPipelines:
    """The pipeline engine, built on the worker thread the first time a pipeline runs."""

    def __init__(self, bundle: str, data, factory) -> None:
        self.bundle, self.data, self.factory = bundle, data, factory
        self.engine = None

    def reset(self) -> None:
        """The bundle was rebuilt: read its new ingestion next time."""
        self.engine = self.data = None

    def output(self, name, pipeline, session):
        if self.engine is None:
            self.engine = self.factory(self.bundle, self.data)
        return self.engine.output(name, pipeline, session)
