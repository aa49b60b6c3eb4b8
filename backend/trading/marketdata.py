"""Market-data subscriptions shared by every caller of one ``TradingApp``.

One ``reqMktData`` per contract, however many callers ask at once: the first caller's
request runs as its own task and concurrent callers await that same task (so a caller
cancelled while the pacing scheduler makes it wait never leaves the others without a
ticker, nor a second request behind). Subscriptions opened only for one operation (the
quotes of a rebalance) are cancelled when it ends; a sizing quote that never got a usable
price cancels the subscription it opened. Cancels go out in the background, paced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Hashable, Iterator

from ib_async import IB, Contract, Ticker

from livedesk.backend.broker.pacing import PacingScheduler
from livedesk.backend.contracts import describe
from livedesk.backend.errors import PriceUnavailable
from livedesk.backend.trading import orders as sizing
from livedesk.backend.trading.orders import Quote

log = logging.getLogger("livedesk.marketdata")

__all__ = ["MarketData", "clear_quote", "contract_key", "finite"]


def contract_key(contract: Contract) -> Hashable:
    """conId, or for a BAG (IB gives every BAG one conId) its legs."""
    if contract.secType == "BAG":
        return ("BAG", *sorted((leg.conId, leg.ratio, leg.action) for leg in contract.comboLegs))
    return contract.conId


def finite(x: object) -> bool:
    """A set, finite number (a combo's price may be zero or negative)."""
    return (
        isinstance(x, int | float)
        and not isinstance(x, bool)
        and abs(x) < sizing.UNSET_DOUBLE
        and x == x
        and abs(x) != float("inf")
    )


QUOTE_FIELDS = ("bid", "ask", "last", "bidSize", "askSize", "lastSize")
"""Cleared on a new line (the previous close is kept: it names a past session, not now)."""
GREEK_FIELDS = ("bidGreeks", "askGreeks", "lastGreeks", "modelGreeks")


def clear_quote(ticker: Ticker) -> None:
    """Forget a ticker's prices and greeks until its next tick. ib_async keeps one Ticker per
    contract for the whole connection: a contract subscribed again after a cancel gets the
    same object back, still holding the prices of when it was cancelled — which a caller
    waiting for "a usable bid and ask" would take for the fresh quote."""
    for name in QUOTE_FIELDS:
        setattr(ticker, name, math.nan)
    for name in GREEK_FIELDS:
        setattr(ticker, name, None)


class MarketData:
    """Streaming tickers by contract, subscribed once and cancelled when no longer needed."""

    def __init__(self, ib: IB, pacing: PacingScheduler, price_timeout: float = 2.0) -> None:
        self.ib = ib
        self.pacing = pacing
        self.price_timeout = price_timeout
        self.tickers: dict[Hashable, Ticker] = {}
        """Live subscriptions by :func:`contract_key`."""
        self._pending: dict[Hashable, asyncio.Task[Ticker]] = {}
        self._scopes: list[set[Hashable]] = []
        self._pinned: set[Hashable] = set()
        self._doomed: dict[Hashable, Ticker] = {}
        self._cancel_worker: asyncio.Task[None] | None = None
        self.cancel_spacing = 0.05
        """Seconds between two background cancels."""

    async def ticker(self, contract: Contract, *, pin: bool = True, fresh: bool = False) -> Ticker:
        """The streaming ticker of ``contract``: one ``reqMktData`` however many callers.

        ``pin`` keeps the subscription past any :meth:`transient` block (a caller that
        will read the ticker later); internal sizing quotes pass ``pin=False``. ``fresh``:
        a new line starts with no prices (:func:`clear_quote`) rather than those ib_async
        kept from an earlier, cancelled line of the contract.
        """
        key = contract_key(contract)
        if pin:
            self._pinned.add(key)
        t = self.tickers.get(key)
        if t is None and key in self._doomed:  # its cancel has not gone out: keep the line
            t = self.tickers[key] = self._doomed.pop(key)
        if t is not None:
            return t
        task = self._pending.get(key)
        if task is None:
            task = asyncio.ensure_future(self._subscribe(key, contract, fresh))
            self._pending[key] = task
            task.add_done_callback(lambda _t, k=key: self._pending.pop(k, None))
            for scope in self._scopes:
                scope.add(key)
        return await asyncio.shield(task)

    async def _subscribe(self, key: Hashable, contract: Contract, fresh: bool = False) -> Ticker:
        await self.pacing.acquire()
        t = self.ib.reqMktData(contract, "", False, False)
        if fresh:  # before any answer can arrive: nothing of the new line is lost
            clear_quote(t)
        self.tickers[key] = t
        return t

    async def resubscribe(self, on_line: Callable[[Contract], None] | None = None) -> int:
        """Request every subscription again (after a reconnect or 1101: the lines are gone).

        Prices seen before are cleared (they are stale until the next tick); ``on_line``
        is told about each line. Cancels still queued for lost lines are dropped.
        Returns the number of lines requested.
        """
        self._doomed.clear()
        for key, old in list(self.tickers.items()):
            contract = old.contract
            if self.ib.isConnected() and self.ib.ticker(contract) is not None:
                self.ib.cancelMktData(contract)  # 1101: the gateway forgot it; we forget it too
            clear_quote(old)
            await self.pacing.acquire()
            if self.tickers.get(key) is not old:
                continue  # cancelled meanwhile
            self.tickers[key] = self.ib.reqMktData(contract, "", False, False)
            clear_quote(self.tickers[key])
            if on_line is not None:
                on_line(contract)
        return len(self.tickers)

    def cancel(self, contract: Contract) -> bool:
        """Cancel the subscription of ``contract``; False if there was none.

        Cancels are sent in the background, paced (``cancel_spacing`` apart and through the
        pacing scheduler), so the end of a large rebalance does not burst; a contract asked
        for again before its cancel went out keeps its line.
        """
        return self._cancel_key(contract_key(contract))

    def _cancel_key(self, key: Hashable) -> bool:
        self._pinned.discard(key)
        t = self.tickers.pop(key, None)
        if t is None:
            return False
        self._doomed[key] = t
        if self._cancel_worker is None or self._cancel_worker.done():
            self._cancel_worker = asyncio.ensure_future(self._send_cancels())
        return True

    async def _send_cancels(self) -> None:
        while self._doomed:
            await asyncio.sleep(self.cancel_spacing)
            await self.pacing.acquire()
            if not self._doomed:
                return
            key = next(iter(self._doomed))
            t = self._doomed.pop(key)
            if self.ib.isConnected():
                self.ib.cancelMktData(t.contract)

    async def drain(self) -> None:
        """Wait until every cancel requested so far has been sent."""
        if self._cancel_worker is not None:
            await asyncio.shield(self._cancel_worker)

    def cancel_all(self) -> None:
        """Cancel every subscription now, unpaced (on disconnect)."""
        if self._cancel_worker is not None:
            self._cancel_worker.cancel()
        for table in (self.tickers, self._doomed):
            for t in table.values():
                if self.ib.isConnected():
                    self.ib.cancelMktData(t.contract)
            table.clear()
        self._pinned.clear()

    @contextlib.contextmanager
    def transient(self) -> Iterator[set[Hashable]]:
        """Subscriptions opened inside this block are cancelled when it ends."""
        opened: set[Hashable] = set()
        self._scopes.append(opened)
        try:
            yield opened
        finally:
            self._scopes.remove(opened)
            for key in opened:
                if key not in self._pinned and not any(key in s for s in self._scopes):
                    self._cancel_key(key)

    async def quote(self, contract: Contract, *, pin: bool = True) -> Quote:
        """The sizing price: mid, else last, else previous close (waits up to ``price_timeout``)."""
        key = contract_key(contract)
        new = key not in self.tickers and key not in self._pending
        t = await self.ticker(contract, pin=pin)
        deadline = time.monotonic() + self.price_timeout
        while True:
            try:
                return sizing.usable_price(t.bid, t.ask, t.last, t.close, label=describe(contract))
            except PriceUnavailable:
                if time.monotonic() >= deadline:
                    if new and self.tickers.get(key) is t:
                        self._cancel_key(key)  # never leave a dead line subscribed
                    raise
            await asyncio.sleep(0.01)

    async def combo_quote(
        self, contract: Contract, *, pin: bool = True
    ) -> tuple[float, float, float]:
        """(mid, bid, ask) of a BAG; its prices may be zero or negative (a credit)."""
        t = await self.ticker(contract, pin=pin)
        deadline = time.monotonic() + self.price_timeout
        while not (finite(t.bid) and finite(t.ask)):
            if time.monotonic() >= deadline:
                raise PriceUnavailable(
                    f"no usable combo quote for {describe(contract)}: bid {t.bid}, ask {t.ask}"
                )
            await asyncio.sleep(0.01)
        return (t.bid + t.ask) / 2, t.bid, t.ask

    def marks(self) -> dict[int, float]:
        """Current mid (else last) of every streaming ticker, by conId; unusable prices left out."""
        out = {}
        for key, t in self.tickers.items():
            if not isinstance(key, int):
                continue
            price = t.midpoint()
            if not sizing.is_usable_price(price):
                price = t.last
            if sizing.is_usable_price(price):
                out[key] = price
        return out
