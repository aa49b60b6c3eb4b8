"""The combo builder's link to the gateway: chains, leg contracts, leg quotes, what-if, BAGs.

Everything goes through :class:`~livedesk.backend.trading.app.TradingApp`: its pacing scheduler
before every request, its ``ib`` for the requests it has no wrapper for
(``reqSecDefOptParamsAsync``, ``whatIfOrderAsync``, per-leg market data that must be cancelled
again when a strike is stepped away from), and ``resolve_contract`` / ``send_order`` for the
order itself (guard, pacing, journal, orderRef).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from dataclasses import dataclass

from ib_async import Contract, LimitOrder, MarketOrder, Option, Order, Ticker

from livedesk.backend.combos.legs import Chain, ComboBuildError, ComboOrder, Leg, is_number
from livedesk.backend.combos.payoff import LegQuote
from livedesk.backend.contracts import combo_leg, spread, stock
from livedesk.backend.trading.app import TradingApp

LegKey = tuple[str, str, float, str]


def _num(x: object) -> float:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return v if math.isfinite(v) and abs(v) < 1e300 else math.nan


@dataclass(frozen=True)
class WhatIf:
    """The gateway's what-if answer for the previewed order (NaN where it sent nothing)."""

    init_margin_change: float
    maint_margin_change: float
    equity_after: float
    commission: float
    warning: str = ""


def what_if_of(state) -> WhatIf:
    """A WhatIf from an ib_async ``OrderState``."""
    return WhatIf(
        _num(state.initMarginChange),
        _num(state.maintMarginChange),
        _num(state.equityWithLoanAfter),
        _num(state.commission),
        state.warningText or "",
    )


def leg_quote(t: Ticker | None) -> LegQuote | None:
    """What a ticker holds for one leg (bid/ask and the model greeks)."""
    if t is None:
        return None
    g = t.modelGreeks
    bid, ask = _num(t.bid), _num(t.ask)
    bid = bid if is_number(bid) and bid >= 0 else math.nan
    ask = ask if is_number(ask) and ask > 0 else math.nan
    if g is None:
        return LegQuote(bid, ask)
    return LegQuote(
        bid,
        ask,
        _num(g.impliedVol),
        _num(g.delta),
        _num(g.gamma),
        _num(g.vega),
        _num(g.theta),
        _num(g.undPrice),
    )


def make_order(order: ComboOrder) -> Order:
    """The ib_async order of a ComboOrder: always a BUY of the BAG (signed limit)."""
    if order.order_type == "MKT":
        return MarketOrder("BUY", order.quantity)
    return LimitOrder("BUY", order.quantity, float(order.limit))


class ComboFeed:
    """Chains, leg contracts and live leg quotes for one builder; ``close()`` cancels them."""

    def __init__(self, trading: TradingApp) -> None:
        self.trading = trading
        self.chains: dict[str, Chain] = {}
        self.underlyings: dict[str, Contract] = {}
        self._single: dict[LegKey, Contract] = {}
        self._tickers: dict[LegKey, Ticker] = {}
        self._spot: dict[str, Ticker] = {}

    # ---- chains and contracts --------------------------------------------------------
    async def load_chain(self, symbol: str) -> Chain:
        """The option chain of ``symbol``; UnknownContract / ComboBuildError when there is none."""
        symbol = symbol.strip().upper()
        if symbol in self.chains:
            return self.chains[symbol]
        und = await self.trading.resolve_contract(stock(symbol))
        await self.trading.pacing.acquire()
        params = await self.trading.ib.reqSecDefOptParamsAsync(symbol, "", und.secType, und.conId)
        params = [p for p in params if p.expirations and p.strikes]
        if not params:
            raise ComboBuildError(f"{symbol} has no listed options")
        best = next((p for p in params if p.exchange == "SMART"), params[0])
        chain = Chain(
            symbol, tuple(best.expirations), tuple(best.strikes), _num(best.multiplier) or 100.0
        )
        self.chains[symbol], self.underlyings[symbol] = chain, und
        if symbol not in self._spot:
            self._spot[symbol] = await self.trading.ticker(und)
        return chain

    def spot(self, symbol: str) -> float:
        """The underlying's mid (else last, else close); NaN before the first quote."""
        t = self._spot.get(symbol)
        if t is None:
            return math.nan
        for x in (t.midpoint(), t.last, t.close):
            if is_number(_num(x)) and _num(x) > 0:
                return float(x)
        return math.nan

    def spot_is_mid(self, symbol: str) -> bool:
        """True once the underlying has a two-sided quote (before, the spot is last/close)."""
        t = self._spot.get(symbol)
        return t is not None and is_number(_num(t.midpoint())) and _num(t.midpoint()) > 0

    def contract(self, key: LegKey) -> Contract | None:
        """The qualified option of a leg key (None until resolved, or when not listed)."""
        return self._single.get(key)

    # ---- quotes ----------------------------------------------------------------------
    async def _resolve_one(self, key: LegKey) -> None:
        symbol, expiry, strike, right = key
        await self.trading.pacing.acquire()
        details = await self.trading.ib.reqContractDetailsAsync(
            Option(symbol, expiry, strike, right, exchange="SMART", currency="USD")
        )
        if len(details) == 1 and details[0].contract:
            self._single[key] = details[0].contract

    async def want(self, keys: Iterable[LegKey]) -> None:
        """Stream exactly ``keys`` (subscribe the new ones, cancel the others).

        New legs are resolved one by one, concurrently (a few round trips: cheaper than
        loading a whole expiry, whose ~500 contract details would hold the loop for a while).
        """
        wanted = set(keys)
        listed = {k for k in wanted if k[0] in self.chains and k[1] in self.chains[k[0]].expiries}
        missing = [k for k in listed if self.contract(k) is None]
        if missing:
            await asyncio.gather(*(self._resolve_one(k) for k in missing))
        for key in list(self._tickers):
            if key not in wanted:
                t = self._tickers.pop(key)
                if self.trading.ib.isConnected():
                    self.trading.ib.cancelMktData(t.contract)
        for key in wanted:
            if key in self._tickers:
                continue
            c = self.contract(key)
            if c is None:
                continue
            await self.trading.pacing.acquire()
            self._tickers[key] = self.trading.ib.reqMktData(c, "", False, False)

    def quote(self, key: LegKey) -> LegQuote | None:
        """The latest quote of a streamed leg (None when not streamed)."""
        return leg_quote(self._tickers.get(key))

    def streamed(self) -> set[LegKey]:
        """Keys currently streamed."""
        return set(self._tickers)

    def close(self) -> None:
        """Cancel every leg subscription of this builder."""
        for t in self._tickers.values():
            if self.trading.ib.isConnected():
                self.trading.ib.cancelMktData(t.contract)
        self._tickers.clear()

    # ---- orders ----------------------------------------------------------------------
    async def bag(self, legs: Iterable[Leg]) -> Contract:
        """The BAG of ``legs`` through ``TradingApp.resolve_contract`` (so it knows the multiplier)."""
        specs = []
        for leg in legs:
            c = self.contract(leg.key)
            if c is None:
                raise ComboBuildError(f"{leg.label()} is not a listed option")
            specs.append(combo_leg(c, leg.ratio, leg.action))
        return await self.trading.resolve_contract(spread(specs))

    async def what_if(self, bag: Contract, order: ComboOrder) -> WhatIf:
        """Margin and commission impact of the order (nothing is placed)."""
        await self.trading.pacing.acquire()
        return what_if_of(await self.trading.ib.whatIfOrderAsync(bag, make_order(order)))

    def buying_power(self) -> float:
        """BuyingPower from the account values (NaN when not reported)."""
        for v in self.trading.ib.accountValues(self.trading.account):
            if v.tag == "BuyingPower" and v.currency not in ("", "BASE"):
                return _num(v.value)
        return math.nan
