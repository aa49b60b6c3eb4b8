"""Option-chain data for strategies: the chain, snapshot quotes and implied volatilities.

Snapshots subscribe market data for a handful of options, wait for their quotes and
greeks, then cancel, so a strategy never leaves dozens of option lines open.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ib_async import Contract

from livedesk.backend.contracts import option
from livedesk.backend.trading.orders import is_usable_price

if TYPE_CHECKING:
    from livedesk.backend.strategies.context import StrategyContext


@dataclass(frozen=True)
class Chain:
    """Expiries (``YYYYMMDD``) and strikes of one underlying's options."""

    symbol: str
    expiries: tuple[str, ...]
    strikes: tuple[float, ...]
    multiplier: float = 100.0


@dataclass(frozen=True)
class OptionQuote:
    """One option's bid/ask/mid, its implied vol and delta (NaN when not reported)."""

    contract: Contract
    strike: float
    right: str
    bid: float
    ask: float
    iv: float
    delta: float

    @property
    def mid(self) -> float:
        """(bid + ask) / 2, NaN without both sides."""
        if is_usable_price(self.bid) and is_usable_price(self.ask):
            return (self.bid + self.ask) / 2
        return math.nan


async def option_chain(ctx: StrategyContext, underlying: Contract) -> Chain:
    """The SMART chain of ``underlying`` (resolved), cached per gateway date in ``ctx.state``."""
    key = ("chain", underlying.symbol, ctx.clock.today())
    hit = ctx.state.get(key)
    if hit is not None:
        return hit
    await ctx.app.pacing.acquire()
    params = await ctx.app.ib.reqSecDefOptParamsAsync(
        underlying.symbol, "", underlying.secType, underlying.conId
    )
    if not params:
        raise LookupError(f"no option chain for {underlying.symbol}")
    p = next((c for c in params if c.exchange == "SMART"), params[0])
    chain = Chain(
        underlying.symbol,
        tuple(sorted(p.expirations)),
        tuple(sorted(float(k) for k in p.strikes)),
        float(p.multiplier or 100),
    )
    ctx.state[key] = chain
    return chain


def _iv_delta(ticker) -> tuple[float, float]:
    ivs = [
        g.impliedVol
        for g in (ticker.bidGreeks, ticker.askGreeks)
        if g is not None and g.impliedVol is not None and math.isfinite(g.impliedVol)
    ]
    model = ticker.modelGreeks
    delta = model.delta if model is not None and model.delta is not None else math.nan
    if len(ivs) == 2:
        return sum(ivs) / 2, delta
    if model is not None and model.impliedVol is not None:
        return model.impliedVol, delta
    return math.nan, delta


async def snapshot_options(
    ctx: StrategyContext,
    symbol: str,
    expiry: str,
    legs: list[tuple[float, str]],
    timeout: float = 3.0,
    grace_period: float = 0.1,
) -> dict[tuple[float, str], OptionQuote]:
    """Quotes, implied vols and deltas of ``(strike, right)`` options of one expiry."""
    ib = ctx.app.ib
    contracts = {}
    for strike, right in legs:
        contracts[(strike, right)] = await ctx.resolve(
            option(symbol, expiry, strike, right), ("opt", symbol, expiry, strike, right)
        )
    tickers = {}
    for key, c in contracts.items():
        await ctx.app.pacing.acquire()
        tickers[key] = ib.reqMktData(c, "", False, False)

    def ready(t) -> bool:
        return is_usable_price(t.bid) and is_usable_price(t.ask) and t.modelGreeks is not None

    def complete(t) -> bool:
        return ready(t) and t.bidGreeks is not None and t.askGreeks is not None

    deadline = time.monotonic() + timeout
    try:
        while not all(ready(t) for t in tickers.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        grace = min(deadline, time.monotonic() + grace_period)  # bid/ask greeks follow
        while not all(complete(t) for t in tickers.values()) and time.monotonic() < grace:
            await asyncio.sleep(0.01)
    finally:
        for c in contracts.values():
            if ib.isConnected():
                ib.cancelMktData(c)
    out = {}
    for (strike, right), t in tickers.items():
        iv, delta = _iv_delta(t)
        out[(strike, right)] = OptionQuote(
            contracts[(strike, right)], strike, right, t.bid, t.ask, iv, delta
        )
    return out
