"""``crack-spread``: intraday relative value between the refiner PSX and the 3-2-1 crack.

Data: 1-minute TRADES bars of PSX and the front-month NYMEX CL, HO and RB futures — a week
of history at start (one ``1 W`` request per contract, within IB's pacing rules), then only
new bars, streamed by the gateway (``keepUpToDate=True``): an iteration makes no data
request. Signal (pure, :mod:`.crack_signal`): the crack in consistent units
``(2*RB*42 + HO*42 - 3*CL) / 3`` $/bbl, rolling 60-bar percentile ranks of crack and PSX,
the z-score of ``rank(PSX) - rank(crack)`` over 60 bars; from flat only, long PSX at
z <= -threshold, short at z >= +threshold; out when z crosses 0 (never flipped in one step). Sized with ``order_target_percent``
(± ``weight`` of NetLiquidation); flat ``flatten_before_close_min`` before the close.

A bar is used once the gateway completed it (its final update, then the next bar's first;
:mod:`.bars`): a decision waits up to ``FINAL_BAR_WAIT`` seconds for the bars ending at its
time, so live decides on the same closes as the gateway's history.

Minutes one feed missed but the others have (a slow stream, a reconnect, the gap between
the warm-up and the first update) are fetched once with an incremental request and merged.
No decision (reason recorded) when a bar is stale, missing or NaN, when the four series
do not end on the same minute, or when a future rolls (its front month expired, or the
front month changed): the feeds are rebuilt on the new contract and the window refilled.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from ib_async import Contract

from livedesk.backend.contracts import describe, future, stock
from livedesk.backend.errors import PriceUnavailable
from livedesk.backend.risk.attribution_source import replay_record
from livedesk.backend.risk.replay_signals import (
    crack_spread_flatten_inputs,
    crack_spread_inputs,
)
from livedesk.backend.strategies import crack_signal as sig
from livedesk.backend.strategies.bars import BarFeed
from livedesk.backend.strategies.base import Decision, Strategy, require
from livedesk.backend.strategies.context import StrategyContext
from livedesk.backend.strategies.registry import register
from livedesk.backend.strategies.schedules import Intraday
from livedesk.backend.trading.orders import percent_to_value, value_to_quantity, working_quantity

FUTURES = ("CL", "HO", "RB")
HISTORY = ("2 D", "3 D", "4 D", "1 W")
GAP_REASONS = ("missing bars", "NaN or missing")
"""Skip reasons an incremental request for the missed minutes may cure."""
BACKFILL_EVERY = 60.0
FINAL_BAR_WAIT = 5.0
"""Wall seconds a decision waits for the gateway to complete the bars ending at its time."""
"""Real seconds between two backfills of one feed (IB: at most 60 history requests in 10 min)."""


@dataclass(frozen=True)
class CrackSpreadParams:
    """Parameters of ``crack-spread`` (``[strategies.crack-spread]``)."""

    threshold: float = 2.0
    """|z| of rank(PSX) − rank(crack) needed to enter (from flat only)."""
    weight: float = 0.10
    """Position size as a fraction of NetLiquidation (long or short)."""
    interval: float = 60.0
    """Seconds between decisions in regular hours."""
    window: int = 60
    """Bars in the rolling percentile ranks and the z-score."""
    flatten_before_close_min: float = 5.0
    """Minutes before the close at which the strategy goes flat."""
    stale_after: float = 180.0
    """Seconds after which a bar feed counts as stale (no decision)."""
    history: str = "1 W"
    """History requested at start per contract (an IB duration, e.g. `1 W`)."""
    symbol: str = "PSX"
    """The refiner traded against the crack."""

    def __post_init__(self) -> None:
        require(self.threshold > 0, "threshold", f"must be > 0, got {self.threshold}")
        require(0 < self.weight <= 1, "weight", f"must be in (0, 1], got {self.weight}")
        require(self.interval >= 1, "interval", f"must be >= 1 second, got {self.interval}")
        require(5 <= self.window <= 1000, "window", f"must be 5..1000 bars, got {self.window}")
        require(
            0 <= self.flatten_before_close_min <= 120,
            "flatten_before_close_min",
            f"must be 0..120 minutes, got {self.flatten_before_close_min}",
        )
        require(self.stale_after > 0, "stale_after", f"must be > 0 s, got {self.stale_after}")
        require(
            self.history in HISTORY, "history", f"must be one of {HISTORY}, got {self.history!r}"
        )
        require(bool(self.symbol.strip()), "symbol", "must not be empty")


def front_month_expired(contract: Contract, today: dt.date) -> bool:
    text = contract.lastTradeDateOrContractMonth
    if len(text) < 8:
        return False
    return dt.datetime.strptime(text[:8], "%Y%m%d").date() < today


@register
class CrackSpread(Strategy):
    """PSX against the 3-2-1 crack: z-scored rank difference, flat before the close."""

    name: ClassVar[str] = "crack-spread"
    Params: ClassVar[type] = CrackSpreadParams
    description: ClassVar[str] = (
        "intraday relative value: PSX vs the NYMEX 3-2-1 crack (CL/HO/RB), 1-min bars"
    )
    backtest_days: ClassVar[int] = 5
    params: CrackSpreadParams

    def make_schedule(self) -> Intraday:
        return Intraday(
            self.params.interval,
            "XNYS",
            flatten_before_close_min=self.params.flatten_before_close_min,
        )

    # ---- data ------------------------------------------------------------------------
    def _keep(self) -> int:
        """Bars a feed must be able to hold: two windows (one decision needs
        ``2 * window - 1``), so trimming never starves a decision."""
        return 2 * sig.min_bars(self.params.window)

    async def _feeds(self, ctx: StrategyContext) -> dict[str, BarFeed]:
        feeds = ctx.state.get("feeds")
        if feeds is not None:  # after a reconnect or 1101: subscribe again, gap backfilled
            now = (await ctx.now()).timestamp()
            for feed in feeds.values():
                await feed.revive(ctx, now)
        if feeds is None:
            contracts = {"psx": await ctx.resolve(stock(self.params.symbol), "psx")}
            for sym in FUTURES:
                contracts[sym.lower()] = await ctx.resolve(future(sym), sym.lower())
            feeds = {}
            try:
                for key, c in contracts.items():
                    feeds[key] = await BarFeed.open(ctx, c, self.params.history, keep=self._keep())
            except Exception:
                for f in feeds.values():
                    f.close(ctx)
                raise
            await ctx.app.ticker(contracts["psx"])  # the sizing quote streams before any order
            ctx.state["feeds"] = feeds
        return feeds

    async def on_start(self, ctx: StrategyContext) -> None:
        await self._feeds(ctx)

    async def on_stop(self, ctx: StrategyContext) -> None:
        for f in (ctx.state.pop("feeds", None) or {}).values():
            f.close(ctx)

    async def roll_feeds(self, ctx: StrategyContext, now: dt.datetime) -> str | None:
        """Rebuild the feed of any future whose front month expired; the reason, or None."""
        feeds = ctx.state["feeds"]
        rolled = []
        for sym in FUTURES:
            key = sym.lower()
            feed = feeds[key]
            if not front_month_expired(feed.contract, now.date()):
                continue
            ctx.forget(key)
            new = await ctx.resolve(future(sym), key)
            if new.conId == feed.contract.conId:
                continue
            feed.close(ctx)
            feeds[key] = await BarFeed.open(ctx, new, self.params.history, keep=self._keep())
            rolled.append(f"{sym} {describe(feed.contract)} -> {describe(new)}")
        return f"futures roll inside the window: {', '.join(rolled)}" if rolled else None

    def frame(self, feeds: dict[str, BarFeed], now: float) -> tuple[pd.DataFrame, str | None]:
        """Aligned closes of completed bars, and why they cannot be used (None if usable)."""
        need = sig.min_bars(self.params.window)
        tails = {k: f.tail(now, need + 5) for k, f in feeds.items()}
        for k, (times, _) in tails.items():
            if not len(times):
                return pd.DataFrame(), f"no completed bars for {k.upper()}"
            age = now - (times[-1] + 60)
            if age > self.params.stale_after:
                return pd.DataFrame(), (
                    f"stale bars: {k.upper()} last bar ended {age:.0f} s ago "
                    f"(limit {self.params.stale_after:g} s)"
                )
        lasts = {k: t[-1] for k, (t, _) in tails.items()}
        if len(set(lasts.values())) > 1:
            detail = ", ".join(
                f"{k.upper()} {pd.Timestamp(t, unit='s', tz='UTC'):%H:%M}" for k, t in lasts.items()
            )
            return pd.DataFrame(), f"missing bars: series end on different minutes ({detail})"
        first = next(iter(tails.values()))[0]
        if all(np.array_equal(t, first) for t, _ in tails.values()):  # the usual case: aligned
            index = pd.to_datetime(first[-need:], unit="s", utc=True)
            frame = pd.DataFrame({k: c[-need:] for k, (_, c) in tails.items()}, index=index)
        else:  # a gap in one series: align on the union, the gap shows as NaN
            series = {
                k: pd.Series(c, index=pd.to_datetime(t, unit="s", utc=True))
                for k, (t, c) in tails.items()
            }
            frame = pd.concat(series, axis=1, join="outer").iloc[-need:]
        return frame, sig.check_window(frame, self.params.window)

    async def backfill_gaps(
        self, ctx: StrategyContext, feeds: dict[str, BarFeed], now: float
    ) -> int:
        """Fill minutes some feeds have and others missed, with incremental requests."""
        need = sig.min_bars(self.params.window) + 5
        tails = {k: f.tail(now, need)[0] for k, f in feeds.items()}
        union = np.unique(np.concatenate(list(tails.values())))[-need:]
        last = ctx.state.setdefault("backfilled", {})
        added = 0
        for k, times in tails.items():
            missing = np.setdiff1d(union, times)
            if not len(missing) or time.monotonic() - last.get(k, -math.inf) < BACKFILL_EVERY:
                continue
            last[k] = time.monotonic()
            added += await feeds[k].backfill(ctx, float(missing[0]), now)
        return added

    # ---- the iteration ---------------------------------------------------------------
    def _position_sign(self, ctx: StrategyContext, contract: Contract) -> int:
        if ctx.dry_run:  # nothing is sent: follow the position the plan would have
            return int(ctx.state.get("dry_run_sign", 0))
        held = ctx.app.positions.get(contract.conId)
        qty = (held.position if held else 0.0) + working_quantity(ctx.app.ib.openTrades(), contract)
        return (qty > 0) - (qty < 0)

    async def flatten(self, ctx: StrategyContext) -> list[dict]:
        """Target 0 % in PSX (the only instrument traded)."""
        before = len(ctx.orders)
        psx = await ctx.resolve(stock(self.params.symbol), "psx")
        if self._position_sign(ctx, psx) != 0:
            await ctx.order_target_percent(psx, 0.0)
        ctx.state["dry_run_sign"] = 0
        return ctx.orders[before:]

    async def run_once(self, ctx: StrategyContext) -> Decision:
        p = self.params
        now = await ctx.now()
        phase = self.schedule.phase(now)
        if phase == "closed":
            return Decision(now, "market closed: no decision", skipped_reason="market closed")
        feeds = await self._feeds(ctx)
        psx = feeds["psx"].contract
        position = self._position_sign(ctx, psx)
        if phase == "flatten":
            values = {"position_sign": float(position)}
            if position == 0:
                return Decision(
                    now, "flat before the close (nothing held)", values, {p.symbol: 0.0}
                )
            replay = await self._replay(ctx, psx, crack_spread_flatten_inputs(psx.conId), 0.0)
            await ctx.order_target_percent(psx, 0.0)
            ctx.state["dry_run_sign"] = 0
            return Decision(
                now,
                f"flat before the close: {p.symbol} to 0",
                values,
                {p.symbol: 0.0},
                replay=replay,
            )
        reason = await self.roll_feeds(ctx, now)
        if reason:
            return Decision(now, f"no decision: {reason}", skipped_reason=reason)
        await asyncio.gather(
            *(f.wait_complete(now.timestamp(), FINAL_BAR_WAIT) for f in feeds.values())
        )
        frame, reason = self.frame(feeds, now.timestamp())
        if reason and reason.startswith(GAP_REASONS):
            if await self.backfill_gaps(ctx, feeds, now.timestamp()):
                frame, reason = self.frame(feeds, now.timestamp())
        data_time = frame.index[-1].to_pydatetime() if len(frame) else None
        if reason:
            return Decision(
                now, f"no decision: {reason}", skipped_reason=reason, data_time=data_time
            )
        s = sig.evaluate(frame, position, p.threshold, p.window)
        values = s.values() | {
            "position_sign": float(position),
            "psx": float(frame["psx"].iloc[-1]),
            "cl": float(frame["cl"].iloc[-1]),
            "ho": float(frame["ho"].iloc[-1]),
            "rb": float(frame["rb"].iloc[-1]),
        }
        target = s.target * p.weight
        targets = {p.symbol: target}
        replay = await self._signal_replay(ctx, psx, frame, position, s.target, target)
        side = {1: "long", -1: "short", 0: "flat"}
        text = f"z {s.z:+.2f} (crack ${s.crack:.2f}/bbl)"
        if s.target == position:
            summary = f"{text}: hold {side[position]} {p.symbol}"
        else:
            await ctx.order_target_percent(psx, target)
            ctx.state["dry_run_sign"] = s.target
            summary = f"{text}: go {side[s.target]} {p.symbol} ({target:+.0%} of NLV)"
        return Decision(now, summary, values, targets, data_time=data_time, replay=replay)

    # ---- the attribution's replay record -------------------------------------------------
    async def _signal_replay(
        self, ctx: StrategyContext, psx: Contract, frame, position: int, sign: int, target: float
    ) -> dict | None:
        """The replay record of a signal decision: its inputs and the PSX quantity it targets
        (a hold keeps the quantity held; a new side is ``target`` of NLV at the quote)."""
        nlv = ctx.app.net_liquidation_or_none()
        if nlv is None:
            return None  # nothing to size by yet: this decision is not replayable
        p = self.params
        held_pos = ctx.app.positions.get(psx.conId)
        held = float(held_pos.position) if held_pos else 0.0
        try:
            price = (await ctx.quote(psx)).price
        except PriceUnavailable:
            return None  # no price to size by: this decision is not replayable
        inputs = crack_spread_inputs(
            frame, position, p.threshold, p.window, p.weight, nlv, price, psx.conId, held
        )
        if sign == position:
            qty = held
        else:
            qty = float(value_to_quantity(percent_to_value(target, nlv), price))
        return replay_record(inputs, {psx.conId: qty}, {psx.conId: price}, bars=self._bars_ref())

    async def _replay(
        self, ctx: StrategyContext, psx: Contract, inputs: dict, qty: float
    ) -> dict | None:
        """The replay record of a decision whose target is known (a flatten)."""
        try:
            price = (await ctx.quote(psx)).price
        except PriceUnavailable:
            return None
        return replay_record(inputs, {psx.conId: qty}, {psx.conId: price}, bars=self._bars_ref())

    def _bars_ref(self) -> dict:
        """Which bars the signal read, to re-request them."""
        return {
            "symbols": [self.params.symbol, *FUTURES],
            "bar_size": "1 min",
            "what": "TRADES",
            "count": 2 * self.params.window - 1,
        }

    async def backtest(self, ctx: StrategyContext, days: int, cost_bps: float, progress=None):
        """Bar-by-bar replay of the minute history (:mod:`.backtest_crack`)."""
        from livedesk.backend.strategies.backtest_crack import backtest_crack

        return await backtest_crack(self, ctx, days, cost_bps, progress)
