"""Bar feeds: a history warm-up, then only new bars (``keepUpToDate``), and chunked history.

:class:`BarFeed` holds one ``keepUpToDate`` subscription: the initial request returns the
history, then the gateway streams the bar in progress and appends new ones, so an
iteration reads the last bars from memory with **no** request.

A bar counts as **complete when the gateway says so**: the gateway sends a finished bar's
final update and then the next bar's first, so a bar is complete once a later bar follows it
in the list — never because the clock passed its end (its last updates may still be on the
way). The newest bar of the list is always in progress. :meth:`BarFeed.wait_complete` waits
(bounded) for the bar ending at a decision time to be followed by the next one. :func:`fetch_history`
downloads a longer span in chunks that respect IB's historical-data pacing (at most
``1 W`` of 1-minute bars per request, requests spaced so no six hit one contract in 2 s).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from ib_async import Contract

from livedesk.backend.contracts import describe

if TYPE_CHECKING:
    from livedesk.backend.strategies.context import StrategyContext

BAR_SECONDS = {"1 min": 60, "5 mins": 300, "15 mins": 900, "1 hour": 3600, "1 day": 86400}
MAX_MINUTE_DAYS = 5
"""IB serves at most one week (five sessions) of 1-minute bars per request."""
MIN_KEEP = 1000
"""A feed keeps at least this many bars, however short its warm-up history was."""


class NoData(RuntimeError):
    """The gateway returned no bars for a request."""


def link_generation(ctx: StrategyContext) -> int:
    """How often the broker session restored its subscriptions (reconnects and 1101s)."""
    session = getattr(ctx.app, "session", None)
    return int(getattr(session, "restores", 0) or 0)


def _epoch(d) -> float:
    if isinstance(d, dt.datetime):
        if d.tzinfo is None:
            d = d.replace(tzinfo=dt.UTC)
        return d.timestamp()
    return dt.datetime.combine(d, dt.time(), dt.UTC).timestamp()


def tail_arrays(bars, now: float, step: int, tail: int) -> tuple[np.ndarray, np.ndarray]:
    """(start epochs, closes) of the last ``tail`` completed bars (no pandas: the hot path):
    every bar but the newest (in progress until the gateway starts the next), ended by
    ``now``."""
    items = bars[-(tail + 1) :]
    times = np.fromiter((_epoch(b.date) for b in items), dtype=float, count=len(items))
    closes = np.fromiter((b.close for b in items), dtype=float, count=len(items))
    times, closes = times[:-1], closes[:-1]
    done = times + step <= now
    return times[done][-tail:], closes[done][-tail:]


class BarFeed:
    """One contract's bars: a history request kept up to date by the gateway."""

    def __init__(
        self,
        contract: Contract,
        bars,
        bar_size: str,
        what: str = "TRADES",
        generation: int = 0,
        keep: int = 0,
    ) -> None:
        self.contract = contract
        self.bars = bars
        self.bar_size = bar_size
        self.what = what
        self.step = BAR_SECONDS[bar_size]
        self.generation = generation
        """The broker session's restore count when the subscription was made."""
        self.revivals = 0
        self._backfills = 0
        self.max_bars = max(len(bars), MIN_KEEP, keep)
        """The most bars held: as many as the warm-up brought (at least :data:`MIN_KEEP` and
        the owner's ``keep``); the oldest are dropped as new ones stream in, so weeks of
        streaming stay bounded."""

    @classmethod
    async def open(
        cls,
        ctx: StrategyContext,
        contract: Contract,
        duration: str = "1 W",
        bar_size: str = "1 min",
        what: str = "TRADES",
        keep: int = 0,
    ) -> BarFeed:
        """Request ``duration`` of history with ``keepUpToDate=True``; ``keep``: the fewest
        bars the feed must be able to hold (the owner's window)."""
        generation = link_generation(ctx)
        bars = await ctx.bars(contract, duration, bar_size, what=what, keep_up_to_date=True)
        if bars is None or len(bars) == 0:
            raise NoData(f"no {bar_size} bars for {describe(contract)}")
        return cls(contract, bars, bar_size, what, generation, keep)

    async def revive(self, ctx: StrategyContext, now: float) -> bool:
        """Subscribe again if the link was restored since the subscription was made.

        A reconnect or a 1101 (data lost) ends every ``keepUpToDate`` stream without a
        word: the bars would just go stale. The new request spans the gap since the last
        bar (backfilling it) and keeps up to date again; the older bars are kept in front.
        Returns True when it subscribed again.
        """
        generation = link_generation(ctx)
        if generation == self.generation:
            return False
        seconds = int(max(now - self.last_start(), 0.0)) + 2 * self.step if self.bars else 86400
        duration = f"{seconds} S" if seconds <= 86400 else f"{math.ceil(seconds / 86400) + 1} D"
        fresh = await ctx.bars(
            self.contract, duration, self.bar_size, what=self.what, keep_up_to_date=True
        )
        if fresh is None:
            return False  # no answer: asked again at the next decision
        # no bar in the gap (e.g. a reconnect outside regular hours): the new stream is
        # empty for now and every bar held is kept in front of it (found by the soak)
        first = _epoch(fresh[0].date) if len(fresh) else math.inf
        old = self.bars
        fresh[0:0] = [b for b in old if _epoch(b.date) < first]
        self.bars = fresh
        self.trim()
        self.generation = generation
        self.revivals += 1
        ib = ctx.app.ib
        if ib.isConnected() and getattr(old, "reqId", None) in ib.wrapper.reqId2Subscriber:
            ib.cancelHistoricalData(old)  # 1101: the old stream is on this same connection
        return True

    def tail(self, now: float, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(start epochs, closes) of the last ``n`` completed bars (no request)."""
        self.trim()
        return tail_arrays(self.bars, now, self.step, n)

    def trim(self) -> int:
        """Drop the oldest bars beyond :attr:`max_bars` (in batches of a tenth, so a
        streaming list is not shifted at every bar); returns how many were dropped. The
        live list is trimmed in place: ``ib_async`` keeps appending to it."""
        excess = len(self.bars) - self.max_bars
        if excess <= max(1, self.max_bars // 10):
            return 0
        del self.bars[:excess]
        return excess

    def complete_through(self, now: float) -> bool:
        """Whether the bar ending at or before ``now`` is complete (a later bar follows it)."""
        boundary = math.floor(now / self.step) * self.step
        return self.last_start() >= boundary

    async def wait_complete(self, now: float, timeout: float, poll: float = 0.01) -> bool:
        """Wait up to ``timeout`` wall seconds for the gateway to complete the bar ending at or
        before ``now`` (:meth:`complete_through`); False when it did not in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.complete_through(now):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(poll)
        return True

    async def backfill(self, ctx: StrategyContext, since: float, now: float) -> int:
        """Fetch the bars from ``since`` to now (one incremental request) and insert the ones
        the live feed missed (a gap after the warm-up, a reconnect, a slow stream); returns how
        many were added."""
        span = int(max(60.0, now - since + 60.0))
        span += (-span) % 60 + self._backfills % 60  # never an identical request within 15 s
        self._backfills += 1
        fresh = await ctx.bars(self.contract, f"{span} S", self.bar_size)
        have = {_epoch(b.date) for b in self.bars}
        newest = self.last_start()
        extra = [b for b in fresh or [] if _epoch(b.date) not in have and _epoch(b.date) < newest]
        if extra:
            merged = sorted([*self.bars[:-1], *extra], key=lambda b: _epoch(b.date))
            self.bars[:-1] = merged  # the in-progress bar stays last for the live updates
            self.trim()
        return len(extra)

    def last_start(self) -> float:
        """Start epoch of the newest bar (possibly still in progress)."""
        return _epoch(self.bars[-1].date) if len(self.bars) else -math.inf

    def close(self, ctx: StrategyContext) -> None:
        """Cancel the live updates."""
        if ctx.app.ib.isConnected():
            ctx.app.ib.cancelHistoricalData(self.bars)


async def fetch_history(
    ctx: StrategyContext,
    contract: Contract,
    days: int,
    bar_size: str = "1 min",
    what: str = "TRADES",
    spacing: float = 0.4,
    progress=None,
) -> pd.DataFrame:
    """``days`` sessions of bars in ``1 W`` chunks going back from now (OHLCV, UTC index)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    chunk = MAX_MINUTE_DAYS if BAR_SECONDS[bar_size] < 86400 else 365
    frames: list[pd.DataFrame] = []
    end = ""
    left = days
    while left > 0:
        n = min(left, chunk)
        bars = await ctx.bars(contract, f"{n} D", bar_size, what=what, end=end)
        if not bars:
            break
        frames.append(_frame(bars))
        left -= n
        if progress is not None:
            progress(days - left, days)
        first = _epoch(bars[0].date)
        end = dt.datetime.fromtimestamp(first - 1, dt.UTC).strftime("%Y%m%d-%H:%M:%S")
        if left > 0:
            await asyncio.sleep(spacing)
    if not frames:
        raise NoData(f"no {bar_size} history for {describe(contract)}")
    out = pd.concat(frames[::-1]).sort_index()
    return out[~out.index.duplicated(keep="last")]


def _frame(bars) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "open": [b.open for b in bars],
            "high": [b.high for b in bars],
            "low": [b.low for b in bars],
            "close": [b.close for b in bars],
            "volume": [float(b.volume) for b in bars],
        },
        index=pd.to_datetime([_epoch(b.date) for b in bars], unit="s", utc=True),
    )
