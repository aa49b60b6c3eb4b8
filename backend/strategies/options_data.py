"""Option-chain data for strategies: the chain, snapshot quotes and implied volatilities.

A snapshot reads the quotes and greeks of a handful of options through the app's shared
market data. The lines a strategy opened stay open between its decisions (a held combo's
legs are read at every poll: subscribing and cancelling them each time would cost two
messages per leg per poll against IB's 50 per second), at most :data:`MAX_LINES` per
strategy, least recently used cancelled first, all of them when the strategy stops
(:func:`release_option_lines`). A line someone else opened is read, never cancelled.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ib_async import Contract, Ticker

from livedesk.backend.contracts import option
from livedesk.backend.trading.marketdata import contract_key
from livedesk.backend.trading.orders import is_usable_price

if TYPE_CHECKING:
    from livedesk.backend.strategies.context import StrategyContext

MAX_LINES = 12
"""Option market-data lines one strategy keeps open between decisions (IB's default
allowance is 100 lines per account)."""
LINES_KEY = "option_lines"
"""Where a strategy's :class:`OptionLines` live in its ``ctx.state``."""


class OptionLines:
    """The option lines one strategy opened, least recently used first."""

    def __init__(self, limit: int = MAX_LINES) -> None:
        self.limit = limit
        self.owned: OrderedDict[Hashable, Contract] = OrderedDict()

    async def ticker(self, ctx: StrategyContext, contract: Contract) -> Ticker:
        """The streaming ticker of ``contract`` (shared, resubscribed after a reconnect)."""
        md = ctx.app.market_data
        key = contract_key(contract)
        if key in self.owned:
            self.owned.move_to_end(key)
            return await md.ticker(contract)
        if key in md.tickers:  # someone else's line: read it, never cancel it
            return await md.ticker(contract)
        self.owned[key] = contract  # we open this line, so we close it
        # ib_async hands back the Ticker of an earlier, cancelled line of this contract with
        # the prices it had then: they must not pass for the quote the snapshot waits for
        return await md.ticker(contract, fresh=True)

    def trim(self, ctx: StrategyContext, reading: set[Hashable]) -> None:
        """Cancel the least recently used lines beyond the limit (never one in ``reading``)."""
        for key in list(self.owned):
            if len(self.owned) <= self.limit:
                return
            if key not in reading:
                ctx.app.market_data.cancel(self.owned.pop(key))

    def forget(self, ctx: StrategyContext, contracts) -> None:
        """Cancel the lines of ``contracts`` this strategy opened."""
        for contract in contracts:
            if self.owned.pop(contract_key(contract), None) is not None:
                ctx.app.market_data.cancel(contract)

    def release(self, ctx: StrategyContext) -> None:
        """Cancel every line this strategy opened."""
        for contract in self.owned.values():
            ctx.app.market_data.cancel(contract)
        self.owned.clear()


def option_lines(ctx: StrategyContext) -> OptionLines:
    """The strategy's open option lines (created on first use)."""
    lines = ctx.state.get(LINES_KEY)
    if lines is None:
        lines = ctx.state[LINES_KEY] = OptionLines()
    return lines


def release_option_lines(ctx: StrategyContext) -> None:
    """Cancel the option lines the strategy holds (its ``on_stop``)."""
    lines = ctx.state.pop(LINES_KEY, None)
    if lines is not None:
        lines.release(ctx)


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
    keep: bool = True,
) -> dict[tuple[float, str], OptionQuote]:
    """Quotes, implied vols and deltas of ``(strike, right)`` options of one expiry; the
    lines stay open for the next decision unless ``keep`` is False (a one-off read)."""
    contracts = {}
    for strike, right in legs:
        contracts[(strike, right)] = await ctx.resolve(
            option(symbol, expiry, strike, right), ("opt", symbol, expiry, strike, right)
        )
    lines = option_lines(ctx)
    tickers = {}
    for key, c in contracts.items():
        tickers[key] = await lines.ticker(ctx, c)

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
        if keep:
            lines.trim(ctx, {contract_key(c) for c in contracts.values()})
        else:
            lines.forget(ctx, contracts.values())
    out = {}
    for (strike, right), t in tickers.items():
        iv, delta = _iv_delta(t)
        out[(strike, right)] = OptionQuote(
            contracts[(strike, right)], strike, right, t.bid, t.ask, iv, delta
        )
    return out
