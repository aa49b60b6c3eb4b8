"""What ``options-combo`` decides on and how it trades, behind one small interface.

The strategy's decision code (:mod:`.options_combo`) reads the clock, the underlying's last
trade, the option chain, the legs' bid and ask, the daily closes and NetLiquidation, and
sends, follows and cancels one BAG order at a time — only through an :class:`OptionsFeed`.
Live, that is :class:`LiveOptionsFeed` (the strategy's context: the gateway now); the
backtest replays the same code on the gateway's history through its own feed
(:mod:`.backtest_options_intraday`), so both decide with the same function on the same
inputs.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Protocol

from livedesk.backend.contracts import combo_leg, option, spread, stock
from livedesk.backend.strategies import options_math as om
from livedesk.backend.strategies.context import StrategyContext
from livedesk.backend.strategies.options_data import Chain, option_chain, snapshot_options
from livedesk.backend.trading.marketdata import contract_key
from livedesk.backend.trading.orders import is_usable_price, limit

STATE_KEY = "combo"


@dataclass(frozen=True)
class LegQuote:
    """One option's bid and ask (NaN when not quoted)."""

    strike: float
    right: str
    bid: float
    ask: float

    @property
    def mid(self) -> float:
        """(bid + ask) / 2, NaN without both sides."""
        if is_usable_price(self.bid) and is_usable_price(self.ask):
            return (self.bid + self.ask) / 2
        return math.nan


@dataclass(frozen=True)
class OrderState:
    """An order as the strategy follows it: its status, average fill price, and whether
    it is done (filled, cancelled or rejected)."""

    status: str
    avg_price: float
    done: bool


class OptionsFeed(Protocol):
    """The data and the one-BAG order desk of ``options-combo`` (module doc)."""

    cache: dict[Any, Any]
    """Scratch kept between decisions (the day's volatility fit)."""

    async def now(self) -> dt.datetime: ...

    def today(self) -> dt.date: ...

    async def spot(self) -> float: ...

    async def chain(self) -> Chain: ...

    async def quotes(
        self, expiry: str, legs: list[tuple[float, str]]
    ) -> dict[tuple[float, str], LegQuote]: ...

    async def daily_closes(self) -> list[float]: ...

    def nlv(self) -> float: ...

    def load(self) -> dict | None: ...

    def save(self, value: dict | None) -> None: ...

    async def send(self, combo: om.OpenCombo, action: str, price: float) -> int | None: ...

    def order(self, order_id: int) -> OrderState | None: ...

    async def cancel(self) -> None: ...


class LiveOptionsFeed:
    """:class:`OptionsFeed` over a strategy context (the live gateway)."""

    def __init__(self, ctx: StrategyContext, underlying: str, history: str) -> None:
        self.ctx = ctx
        self.underlying = underlying
        self.history = history
        self.cache = ctx.state

    async def _und(self):
        return await self.ctx.resolve(stock(self.underlying), "underlying")

    async def now(self) -> dt.datetime:
        return await self.ctx.now()

    def today(self) -> dt.date:
        return self.ctx.clock.today()

    async def spot(self) -> float:
        """The underlying's last trade (the price its options are quoted on), else the
        sizing quote."""
        und = await self._und()
        q = await self.ctx.quote(und)
        ticker = self.ctx.app.market_data.tickers.get(contract_key(und))
        last = getattr(ticker, "last", math.nan)
        return float(last) if is_usable_price(last) else q.price

    async def chain(self) -> Chain:
        return await option_chain(self.ctx, await self._und())

    async def quotes(self, expiry, legs):
        q = await snapshot_options(self.ctx, self.underlying, expiry, legs)
        return {key: LegQuote(v.strike, v.right, v.bid, v.ask) for key, v in q.items()}

    async def daily_closes(self) -> list[float]:
        """The daily closes over ``history`` up to now (the session in progress last). The
        request names its end (now, UTC) rather than leaving it blank: the same request a
        gateway day later is then not "identical" to IB's pacing (on a fast clock a gateway
        day may pass in under IB's 15 wall seconds)."""
        end = (await self.ctx.now()).astimezone(dt.UTC).strftime("%Y%m%d-%H:%M:%S")
        bars = await self.ctx.bars(await self._und(), self.history, "1 day", end=end)
        return [b.close for b in bars]

    def nlv(self) -> float:
        return self.ctx.app.checked_nlv()

    def load(self) -> dict | None:
        return self.ctx.load_state(STATE_KEY)

    def save(self, value: dict | None) -> None:
        self.ctx.save_state(STATE_KEY, value)

    async def send(self, combo: om.OpenCombo, action: str, price: float) -> int | None:
        spec = spread(
            [
                combo_leg(option(self.underlying, combo.expiry, k, right), 1, side)
                for k, right, side in combo.legs
            ]
        )
        bag = await self.ctx.resolve(spec, ("bag", combo.expiry, combo.legs))
        result = await self.ctx.send_order(bag, limit(action, combo.quantity, price))
        return result.order.orderId if result.sent and result.order is not None else None

    def order(self, order_id: int) -> OrderState | None:
        trade = next((t for t in self.ctx.app.ib.trades() if t.order.orderId == order_id), None)
        if trade is None:
            return None
        s = trade.orderStatus
        return OrderState(s.status, float(s.avgFillPrice or 0.0), trade.isDone())

    async def cancel(self) -> None:
        await self.ctx.cancel_working()
