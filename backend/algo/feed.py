"""The algorithm's link to the broker: assets -> contracts, bars, and the thread bridge.

The algorithm's code runs on one worker thread (zipline's ``get_algo_instance`` is
thread-local, and the bundle's SQLite readers are bound to the thread that opened them);
every broker call it makes is a coroutine submitted to the event loop with
``asyncio.run_coroutine_threadsafe`` and waited for, so the loop keeps serving the gateway
while the algorithm waits.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import pandas as pd

from livedesk.backend.algo.data import DAILY, MINUTE, bar_frame
from livedesk.backend.contracts import stock

if TYPE_CHECKING:
    from ib_async import Contract

    from livedesk.backend.strategies.context import StrategyContext

CALL_TIMEOUT = 120.0
MINUTE_WARMUP = "2 D"
"""History requested when a minute feed opens (then kept up to date by the gateway)."""
MINUTE_FRAME = 60
"""Minute bars framed per asset and decision (``current`` and ``history`` share them)."""


class AssetError(LookupError):
    """An asset that cannot be traded at the broker."""


class AlgoFeed:
    """Contracts and bars of the bundle's assets, for one algorithm and one context."""

    def __init__(self, ctx: StrategyContext, loop: asyncio.AbstractEventLoop, finder, demo: bool):
        self.ctx = ctx
        self.loop = loop
        self.finder = finder
        self.demo = demo
        """Demo bundle: sids are the gateway's conIds (checked on resolution)."""
        self.token = 0
        """Decision counter: daily bars are fetched again for each decision."""
        self.now: pd.Timestamp = pd.Timestamp.now(tz="UTC")
        self.session: pd.Timestamp | None = None
        self._contracts: dict[int, Contract] = {}
        self._by_con_id: dict[int, Any] = {}
        self._daily: dict[int, tuple[int, pd.DataFrame]] = {}
        self._minute: dict[int, Any] = {}
        self._minute_frames: dict[int, tuple[int, pd.DataFrame]] = {}

    # ---- bridge --------------------------------------------------------------------
    def call(self, coro: Coroutine) -> Any:
        """Run ``coro`` on the event loop from the worker thread and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(CALL_TIMEOUT)

    # ---- assets --------------------------------------------------------------------
    async def contract(self, asset) -> Contract:
        """The qualified IB contract of a bundle asset (by its symbol), cached."""
        hit = self._contracts.get(asset.sid)
        if hit is not None:
            return hit
        c = await self.ctx.resolve(stock(asset.symbol), key=("algo-asset", asset.sid))
        if self.demo and c.conId != asset.sid:
            raise AssetError(
                f"{asset.symbol}: the demo bundle's sid {asset.sid} is not the gateway's conId "
                f"{c.conId}; rebuild it (`livedesk bundle ingest --demo`)"
            )
        self._contracts[asset.sid] = c
        self._by_con_id[c.conId] = asset
        return c

    def asset_of(self, con_id: int, symbol: str = "") -> Any | None:
        """The bundle asset of a broker contract (None when the bundle has none)."""
        hit = self._by_con_id.get(con_id)
        if hit is not None:
            return hit
        try:
            asset = self.finder.retrieve_asset(con_id) if self.demo else None
            if asset is None and symbol:
                asset = self.finder.lookup_symbol(symbol, as_of_date=None)
        except Exception:
            return None
        if asset is not None:
            self._by_con_id[con_id] = asset
        return asset

    def alive(self, asset) -> bool:
        """The asset trades on the current session by the bundle's dates."""
        day = self.session
        if day is None:
            return True
        start = pd.Timestamp(asset.start_date).tz_localize(None)
        end = pd.Timestamp(asset.end_date).tz_localize(None)
        return start <= day <= end  # live assets end in the future (see the bundle writer)

    # ---- bars ----------------------------------------------------------------------
    def history_frame(self, asset, frequency: str, count: int) -> pd.DataFrame:
        """The last ``count`` bars of ``asset`` (OHLCV, UTC index); called from the worker."""
        if frequency == DAILY:
            cached = self._daily.get(asset.sid)
            if cached is not None and cached[0] == self.token and len(cached[1]) >= count:
                return cached[1].iloc[-count:]
            frame = self.call(self._daily_bars(asset, count))
            self._daily[asset.sid] = (self.token, frame)
            return frame.iloc[-count:]
        hit = self._minute_frames.get(asset.sid)
        if hit is not None and hit[0] == self.token and len(hit[1]) >= count:
            return hit[1].iloc[-count:]
        feed = self._minute.get(asset.sid)
        if feed is None or len(feed.bars) < count + 1:
            feed = self._minute[asset.sid] = self.call(self._minute_feed(asset, count))
        want = max(count, MINUTE_FRAME)
        frame = bar_frame(feed.bars[-(want + 2) :], drop_after=self.now.timestamp() - 60)
        self._minute_frames[asset.sid] = (self.token, frame)
        return frame.iloc[-count:]

    async def _daily_bars(self, asset, count: int) -> pd.DataFrame:
        contract = await self.contract(asset)
        days = math.ceil(count * 1.5) + 5
        duration = f"{days} D" if days <= 365 else f"{math.ceil(days / 252)} Y"
        bars = await self.ctx.bars(contract, duration, "1 day")
        return bar_frame(bars or [])

    async def _minute_feed(self, asset, count: int):
        from livedesk.backend.strategies.bars import BarFeed

        contract = await self.contract(asset)
        old = self._minute.pop(asset.sid, None)
        if old is not None:
            old.close(self.ctx)
        days = max(2, math.ceil(count / 390) + 1)
        return await BarFeed.open(self.ctx, contract, f"{days} D" if days > 2 else MINUTE_WARMUP)

    def bar_age(self, when: pd.Timestamp, frequency: str) -> float:
        """How many bar periods ``when`` (a bar's start) is behind now."""
        step = 86400.0 if frequency == DAILY else 60.0
        if frequency == DAILY and self.session is not None:
            return 0.0 if when.tz_localize(None).normalize() >= self.session else 2.0
        return (self.now.timestamp() - when.timestamp()) / step - 1.0

    def close(self) -> None:
        """Cancel the minute feeds."""
        for feed in self._minute.values():
            feed.close(self.ctx)
        self._minute.clear()

    @property
    def frequencies(self) -> tuple[str, str]:
        return DAILY, MINUTE
